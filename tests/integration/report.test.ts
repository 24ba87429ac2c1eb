import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { chromium, type Browser } from 'playwright-core';
import { loadConfig, configSha256 } from '../../config/load';
import type { PortraitConfig } from '../../config/schema';
import { generateSourceExtracts } from '../../generator/generate';
import { treatmentContacts } from '../../cli/followUp';
import { outcomeReport } from '../../cli/report';
import { runSummary } from '../../cli/summary';
import { buildReportHtml } from '../../report';
import { CHANNEL_FIELDS } from '../../transforms/deliveryFields';
import { SIGNAL_COLLECT_NOW, WORKFLOW_DAILY_RUN, type DailyRunInput, type DailyRunResult } from '../../shared';
import { createTestContext, type TestContext } from '../helpers/testContext';
import { duckQuery } from '../helpers/duck';
import { captureCli } from '../helpers/cliOutput';

// A run on synthetic extracts, its report while the outcomes are pending, then the run 30 days later and the
// collected outcomes, and the report again. The browser is Debian's chromium (.ci/run installs it).
const D0 = '2026-11-20';
const D1 = '2026-12-20';
const CUSTOMERS = Number(process.env.PORTRAIT_REPORT_TEST_CUSTOMERS ?? 3000);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUT = path.join(__dirname, '..', '..', 'out', 'test', 'report');
const CJK = /[\u3400-\u9fff\uff00-\uffef]/;

let ctx: TestContext;
let config: PortraitConfig;
let day0: DailyRunResult;
let pendingHtml: string;
let pendingResults: Record<string, unknown>[];
let pendingManifest: { stages: { stage: string; files: { path: string; sha256: string }[] }[] };
let browser: Browser;

async function runDay(runId: string, asOf: string, inputDir: string): Promise<DailyRunResult> {
  const input: DailyRunInput = { runId, asOf, inputDir, config, configSha256: configSha256(config), awaitOutcomes: false };
  return (await ctx.client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue: ctx.taskQueue, workflowId: `dailyRun-${runId}`, args: [input] })).result();
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)`);
  mkdirSync(OUT, { recursive: true });
  ctx = await createTestContext('report');
  const base = loadConfig();
  config = { ...base, campaigns: base.campaigns.map((c) => ({ ...c, holdoutShare: 0.2 })), outcomes: { attributionWindow: '30d', collectAfter: '1h' } } as PortraitConfig;
  const day0Dir = path.join(ctx.workDir, 'extracts', D0);
  await generateSourceExtracts({ customers: CUSTOMERS, seed: 7, outDir: day0Dir, asOf: D0 });
  await ctx.startWorker();
  day0 = await runDay('rep-day0', D0, day0Dir);
  pendingHtml = readFileSync(path.join(day0.snapshotDir, 'report.html'), 'utf8');
  pendingResults = await duckQuery(`select * replace (final_on::varchar as final_on, observed_through::varchar as observed_through) from read_parquet('${path.join(day0.snapshotDir, 'results.parquet')}') order by campaign_id`);
  pendingManifest = JSON.parse(readFileSync(path.join(day0.snapshotDir, 'manifest.json'), 'utf8'));

  const contacts = await treatmentContacts(ctx.db, 'rep-day0', config.campaigns);
  const day30Dir = path.join(ctx.workDir, 'extracts', D1);
  await generateSourceExtracts({ customers: CUSTOMERS, seed: 7, outDir: day30Dir, asOf: D1, followUp: { baseAsOf: D0, contacts } });
  await runDay('rep-day30', D1, day30Dir);
  for (const id of day0.outcomeWorkflowIds) await ctx.client.workflow.getHandle(id).signal(SIGNAL_COLLECT_NOW);
  for (const id of day0.outcomeWorkflowIds) await ctx.client.workflow.getHandle(id).result();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
  await ctx?.close();
});

test('before collection every campaign is pending until contact date + window, with no conversions, lift or ROI', async () => {
  expect(pendingResults.map((r) => r.campaign_id)).toEqual(config.campaigns.map((c) => c.id).sort());
  for (const r of pendingResults) {
    expect(r).toMatchObject({ dimension: 'campaign', status: 'pending', final_on: D1, observed_through: null, treatment_conversions: null, control_conversions: null, absolute_lift: null, roi: null, value: null });
    expect(Number(r.treatment_contacts)).toBeGreaterThan(0);
  }
  expect(pendingHtml.split(`data-pending-until="${D1}"`).length - 1).toBe(config.campaigns.length);
  // The day-30 run's own campaigns are pending now, in the outcome table and in the run summary.
  const report = await outcomeReport(ctx.db, 'rep-day30');
  expect(report!.campaigns.length).toBe(config.campaigns.length);
  for (const c of report!.campaigns) expect({ status: c.status, finalOn: c.finalOn }).toEqual({ status: 'pending', finalOn: '2027-01-19' });
  const summary = await runSummary(ctx.db, 'rep-day30');
  for (const c of config.campaigns) expect(summary!.outcome_status[c.id]).toEqual({ status: 'pending', final_on: '2027-01-19', observed_through: null });
});

test('report.html is listed in the manifest, rewritten when outcomes arrive, and rebuilt byte-identically from the database', async () => {
  const listed = (m: typeof pendingManifest) => m.stages.flatMap((s) => s.files).find((f) => f.path === 'report.html');
  const before = listed(pendingManifest)!;
  expect(before.sha256).toBe(createHash('sha256').update(pendingHtml).digest('hex'));
  const file = path.join(day0.snapshotDir, 'report.html');
  const html = readFileSync(file, 'utf8');
  const manifest = JSON.parse(readFileSync(path.join(day0.snapshotDir, 'manifest.json'), 'utf8'));
  const after = listed(manifest)!;
  expect(after.sha256).toBe(createHash('sha256').update(html).digest('hex'));
  expect(after.sha256).not.toBe(before.sha256);
  expect(html).not.toContain('data-pending-until');
  expect(await buildReportHtml(ctx.db, 'rep-day0', 'zh')).toBe(html);
  // No script, no URL to fetch (url(#…) points inside the SVG itself): the page is the file.
  expect(html).not.toMatch(/<script|<link|<img|@import|url\((?!#)|https?:\/\/(?!www\.w3\.org\/)/i);
  console.log(`report.html: ${Buffer.byteLength(html)} bytes, ${(html.match(/<figure class="chart"/g) ?? []).length} charts`);
});

test('the report is built inside its transaction one query at a time (pg 9 refuses a query on a busy connection)', async () => {
  // writeRunReport reads inside the transaction that commits the report: count its queries in flight at once.
  let inFlight = 0;
  let most = 0;
  // BEGIN is reported as a query with no response event: only the report's own statements are counted.
  const counted = (q: { __knexTxId?: string; sql?: string }) => Boolean(q.__knexTxId) && !/^(begin|commit|rollback)\b/i.test(q.sql ?? '');
  const started = (q: { __knexTxId?: string; sql?: string }) => counted(q) && (most = Math.max(most, ++inFlight));
  const ended = (_: unknown, q: { __knexTxId?: string; sql?: string }) => counted(q) && inFlight--;
  ctx.db.on('query', started).on('query-response', ended).on('query-error', ended);
  try {
    const html = await ctx.db.transaction((trx) => buildReportHtml(trx, 'rep-day0', 'zh'));
    expect(html).toBe(readFileSync(path.join(day0.snapshotDir, 'report.html'), 'utf8'));
  } finally {
    ctx.db.removeListener('query', started).removeListener('query-response', ended).removeListener('query-error', ended);
  }
  expect(most).toBe(1);
});

test('final outcomes in results.parquet carry lift and ROI', async () => {
  const rows = await duckQuery(`select campaign_id, status, final_on::varchar as final_on, observed_through::varchar as observed_through, absolute_lift, roi from read_parquet('${path.join(day0.snapshotDir, 'results.parquet')}') where dimension = 'campaign' order by campaign_id`);
  for (const r of rows) {
    expect(r).toMatchObject({ status: 'final', final_on: D1, observed_through: D1 });
    expect(typeof r.absolute_lift).toBe('number');
    expect(typeof r.roi).toBe('number');
  }
});

/** Every chart the data calls for: one per section topic, per profiled segment, per model product, per campaign. */
async function expectedCharts(): Promise<string[]> {
  const ids = ['overview-contacts', 'quality-sources', 'quality-reasons', 'segments-sizes', 'base-aum', 'base-rfm', 'base-lifecycle', 'base-age'];
  const profiled = await ctx.db('mart.segment_profiles').where({ run_id: 'rep-day0' }).whereRaw('jsonb_array_length(distinguishing) > 0').orderBy('priority').pluck('segment');
  expect(profiled.length).toBeGreaterThan(0);
  for (const segment of profiled) ids.push(`segment-profile-${segment}`);
  for (const p of config.model.products) ids.push(`model-roc-${p}`, `model-gains-${p}`, `model-calibration-${p}`, `model-importance-${p}`);
  for (const c of config.campaigns) {
    ids.push(`campaign-funnel-${c.id}`, `campaign-waterfall-${c.id}`, `outcome-rates-${c.id}`, `outcome-deciles-${c.id}`, `outcome-qini-${c.id}`, `outcome-segment-${c.id}`, `outcome-channel-${c.id}`, `history-${c.id}`);
  }
  return ids;
}

for (const lang of ['zh', 'en'] as const) {
  test(`${lang}: opens from file:// with no request leaving the page, no console error, every chart drawn, A4 pages`, async () => {
    const file = lang === 'zh' ? path.join(day0.snapshotDir, 'report.html') : path.join(OUT, 'report.en.html');
    if (lang === 'en') writeFileSync(file, (await buildReportHtml(ctx.db, 'rep-day0', 'en'))!);
    const context = await browser.newContext({ viewport: { width: 794, height: 1123 } });
    const page = await context.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    const url = `file://${file}`;
    await page.goto(url, { waitUntil: 'load' });
    expect(requests).toEqual([url]);
    expect(errors).toEqual([]);
    expect(await page.getAttribute('html', 'lang')).toBe(lang === 'zh' ? 'zh-CN' : 'en');

    const charts = await page.$$eval('figure.chart', (figs) => figs.map((f) => {
      const svg = f.querySelector('svg');
      const box = svg?.getBoundingClientRect();
      return { id: f.getAttribute('data-chart'), shapes: svg ? svg.querySelectorAll('path, rect, text').length : 0, width: box?.width ?? 0, height: box?.height ?? 0 };
    }));
    const byId = new Map(charts.map((c) => [c.id, c]));
    for (const id of await expectedCharts()) {
      const chart = byId.get(id);
      expect({ id, present: !!chart }).toEqual({ id, present: true });
      expect(chart!.shapes).toBeGreaterThan(3);
      expect(chart!.width).toBeGreaterThan(100);
      expect(chart!.height).toBeGreaterThan(100);
    }
    // One language per page: the English page has no Chinese anywhere (names are split "中文 / English").
    const text = await page.innerText('body');
    if (lang === 'en') expect(text.match(CJK)).toBeNull();
    else expect(text).toContain('营销效果');

    await page.screenshot({ path: path.join(OUT, `report-page1.${lang}.png`) });
    const pdf = await page.pdf({ format: 'A4', printBackground: true });
    const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length;
    // A page break before every section: at least one page each, plus the cover.
    expect(pages).toBeGreaterThanOrEqual(9);
    await context.close();
  });
}

test('readable without JavaScript: the charts are in the page itself', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`file://${path.join(day0.snapshotDir, 'report.html')}`);
  expect(await page.$$eval('figure.chart svg', (s) => s.length)).toBe((await expectedCharts()).length);
  await context.close();
});

test('target lists: xlsx beside each CSV with Chinese headers, text tokens, local send times, the CSV\'s rows; both in the delivery manifest', async () => {
  for (const c of config.campaigns) {
    const dir = path.join(day0.snapshotDir, 'deliveries', c.id);
    const base = `${c.id}_${c.channel}`;
    const csvLines = readFileSync(path.join(dir, `${base}.csv`), 'utf8').replace(/^\uFEFF/, '').split('\r\n').filter(Boolean);
    const fields = csvLines[0]!.split(',');
    expect(fields).toEqual([...CHANNEL_FIELDS[c.channel]]);
    const csvRows = csvLines.slice(1).map((l) => l.split(','));
    const sendAt = csvRows[0]![fields.indexOf('send_at')]!;
    expect(sendAt).toBe(`2026-11-21T${c.sendTime}:00+08:00`);

    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(path.join(dir, `${base}.xlsx`));
    const sheet = workbook.worksheets[0]!;
    const header = (sheet.getRow(1).values as unknown[]).slice(1);
    expect(header[0]).toBe('幂等键');
    expect(header[fields.indexOf('send_at')]).toBe('发送时间（Asia/Shanghai）');
    for (const h of header) expect(String(h)).toMatch(CJK);
    expect(sheet.rowCount - 1).toBe(csvRows.length);
    expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(sheet.autoFilter).toBeTruthy();
    for (const [i, csvRow] of csvRows.entries()) {
      const row = sheet.getRow(i + 2);
      fields.forEach((f, j) => {
        const cell = row.getCell(j + 1);
        if (f === 'send_at') {
          expect(cell.type).toBe(ExcelJS.ValueType.Date);
          // The cell shows the wall clock of the CSV's local time.
          expect((cell.value as Date).toISOString().slice(0, 19)).toBe(csvRow[j]!.slice(0, 19));
        } else if (csvRow[j] !== '') {
          expect(typeof cell.value).toBe('string');
          expect(cell.value).toBe(csvRow[j]);
        }
      });
    }
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.send_at).toBe(sendAt);
    const listed = new Map(manifest.files.map((f: { path: string; rows: number; sha256: string }) => [path.basename(f.path), f]));
    for (const ext of ['csv', 'xlsx']) {
      const f = listed.get(`${base}.${ext}`) as { rows: number; sha256: string };
      expect(f.rows).toBe(csvRows.length);
      expect(f.sha256).toBe(createHash('sha256').update(readFileSync(path.join(dir, `${base}.${ext}`))).digest('hex'));
    }
  }
});

test('portrait report RUN_ID --html [FILE] [--lang en] writes the report; bad use is one usage line', async () => {
  const { main } = await import('../../cli/portrait');
  const { UsageError } = await import('../../cli/args');
  const cli = captureCli(ctx.databaseUrl);
  try {
    const file = path.join(OUT, 'cli-report.en.html');
    await expect(main(['report', 'rep-day0', '--html', file, '--lang', 'en', '--json'])).resolves.toBe(0);
    const result = JSON.parse(cli.printed());
    expect(result).toMatchObject({ run_id: 'rep-day0', lang: 'en', file });
    expect(readFileSync(file, 'utf8')).toBe(await buildReportHtml(ctx.db, 'rep-day0', 'en'));
    await expect(main(['report', 'rep-day0', '--html', '--lang', 'fr'])).rejects.toThrow(new UsageError('--lang must be one of zh, en, got "fr"'));
    await expect(main(['report', 'rep-day0', 'x.html'])).rejects.toThrow(UsageError);
    await expect(main(['report', 'no-such-run', '--html', path.join(OUT, 'none.html')])).rejects.toThrow('no run with id no-such-run');
    cli.clear();
    await expect(main(['report', 'rep-day30'])).resolves.toBe(0);
    for (const c of config.campaigns) expect(cli.printed()).toContain(`${c.id}: PENDING until 2027-01-19`);
  } finally {
    cli.restore();
  }
});
