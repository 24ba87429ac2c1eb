import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { loadConfig, configSha256 } from '../../config/load';
import type { PortraitConfig } from '../../config/schema';
import { generateSourceExtracts } from '../../generator/generate';
import { assignControl } from '../../transforms/policies';
import { SOURCE_NAMES } from '../../config/sources';
import { STAGES, WORKFLOW_DAILY_RUN, type DailyRunInput, type DailyRunResult } from '../../shared';
import { createTestContext, type TestContext } from '../helpers/testContext';
import { duckQuery } from '../helpers/duck';

const AS_OF = '2026-11-20';
let ctx: TestContext;
let inputDir: string;
let config: PortraitConfig;
let first: DailyRunResult;

function runInput(runId: string, overrides: Partial<DailyRunInput> = {}, cfg: PortraitConfig = config): DailyRunInput {
  return { runId, asOf: AS_OF, inputDir, config: cfg, configSha256: configSha256(cfg), awaitOutcomes: true, ...overrides };
}

async function startRun(input: DailyRunInput) {
  return ctx.client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue: ctx.taskQueue, workflowId: `dailyRun-${input.runId}`, args: [input] });
}

function csvDataRows(file: string): number {
  // The generator writes no embedded newlines, so lines − header = data rows.
  const text = readFileSync(file, 'utf8');
  return text.split('\n').filter((l) => l.length > 0).length - 1;
}

beforeAll(async () => {
  ctx = await createTestContext('dailyrun');
  inputDir = path.join(ctx.workDir, 'extracts');
  await generateSourceExtracts({ customers: 1500, seed: 11, outDir: inputDir, asOf: AS_OF });
  const base = loadConfig();
  config = { ...base, outcomes: { attributionWindow: '1s' } } as PortraitConfig;
  await ctx.startWorker();
  first = await (await startRun(runInput('it-first'))).result();
});

afterAll(async () => {
  await ctx?.close();
});

test('a daily run completes all seven stages and records them in the audit tables', async () => {
  expect(first.stages.map((s) => s.stage)).toEqual(STAGES.filter((s) => s !== 'outcomes'));
  const run = await ctx.db('audit.runs').where({ run_id: 'it-first' }).first();
  expect(run.status).toBe('succeeded');
  expect(run.as_of).toBe(AS_OF);
  expect(run.config_sha256).toBe(configSha256(config));
  expect(run.code_version).toMatch(/^\d+\.\d+\.\d+/);
  expect(Object.keys(run.model_versions).sort()).toEqual([...config.model.products].sort());
  const stages = await ctx.db('audit.stage_runs').where({ run_id: 'it-first' }).orderBy('stage');
  expect(stages.map((s) => s.stage).sort()).toEqual([...STAGES].sort());
  for (const s of stages) expect(Number(s.rows)).toBeGreaterThan(0);
});

/** Activity type and workflow task of every scheduled activity, and the event id each one closed at. */
async function activityEvents(workflowId: string) {
  const history = await ctx.client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<number, { type: string; task: number; closedAt: number | null; cancelRequested: boolean }>();
  for (const e of history.events!) {
    const id = Number(e.eventId);
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(id, { type: s.activityType!.name!, task: Number(s.workflowTaskCompletedEventId), closedAt: null, cancelRequested: false });
    const closed = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskCanceledEventAttributes;
    if (closed) scheduled.get(Number(closed.scheduledEventId))!.closedAt = id;
    if (e.activityTaskCancelRequestedEventAttributes) scheduled.get(Number(e.activityTaskCancelRequestedEventAttributes.scheduledEventId))!.cancelRequested = true;
  }
  return [...scheduled.entries()].map(([id, a]) => ({ id, ...a }));
}

test('tag partials are computed beside clean, models trained beside tags and scoring runs beside segment', async () => {
  const events = await activityEvents('dailyRun-it-first');
  const of = (type: string) => events.filter((e) => e.type === type);
  const [tags] = of('computeTags');
  const [segment] = of('assignSegments');
  // Every product's training (one activity, one training query) was scheduled with the tags stage, before tags finished.
  expect(of('ensureModels')).toHaveLength(1);
  for (const model of of('ensureModels')) {
    expect(model.task).toBe(tags!.task);
    expect(model.id).toBeLessThan(tags!.closedAt!);
  }
  // The tags' partials were scheduled with clean and had closed before the tags stage's activity was scheduled.
  const [clean] = of('cleanCustomers');
  const [partials] = of('computeTagPartials');
  expect(partials!.task).toBe(clean!.task);
  expect(partials!.closedAt!).toBeLessThan(tags!.id);
  // The score stage began in the same workflow task as segment, as soon as tags finished.
  const scoreBegins = of('beginStage').filter((b) => b.id > tags!.closedAt!);
  expect(scoreBegins).toHaveLength(1);
  expect(scoreBegins[0]!.task).toBe(segment!.task);
  expect(segment!.id).toBeGreaterThan(tags!.closedAt!);
});

test('every input row is loaded or quarantined, and the quarantine says why', async () => {
  const loads = await ctx.db('audit.source_loads').where({ run_id: 'it-first' });
  expect(loads.map((l) => l.source).sort()).toEqual([...SOURCE_NAMES].sort());
  for (const load of loads) {
    expect(Number(load.rows_in)).toBe(csvDataRows(load.file));
    expect(Number(load.loaded) + Number(load.quarantined)).toBe(Number(load.rows_in));
    const landed = await ctx.db(`landing.${load.source}`).where({ run_id: 'it-first' }).count<{ n: string }[]>('* as n');
    expect(Number(landed[0]!.n)).toBe(Number(load.loaded));
  }
  const reasons = await ctx.db('audit.quarantine').where({ run_id: 'it-first' }).distinct('reason_code').pluck('reason_code');
  // The generator injects negative amounts and duplicated rows at its default rates.
  expect(reasons).toEqual(expect.arrayContaining(['negative_amount', 'duplicate_key']));
  // The manifest carries the same accounting per source.
  const manifest = JSON.parse(readFileSync(path.join(first.snapshotDir, 'manifest.json'), 'utf8'));
  for (const load of loads) {
    const m = manifest.sources[load.source];
    expect(m).toMatchObject({ rows_in: Number(load.rows_in), loaded: Number(load.loaded), quarantined: Number(load.quarantined), file_sha256: load.file_sha256 });
    expect(Object.values(m.reasons as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(m.quarantined);
  }
});

test('the manifest lists every snapshot file with its true row count and sha256, readable by DuckDB', async () => {
  const manifest = JSON.parse(readFileSync(path.join(first.snapshotDir, 'manifest.json'), 'utf8'));
  expect(manifest.run_id).toBe('it-first');
  expect(manifest.seed).toBe(config.seed);
  expect(manifest.stages.map((s: { stage: string }) => s.stage)).toEqual([...STAGES]);
  const manifestBytes = readFileSync(path.join(first.snapshotDir, 'manifest.json'));
  expect(createHash('sha256').update(manifestBytes).digest('hex')).toBe(first.manifestSha256);
  for (const stage of manifest.stages) {
    for (const file of stage.files as { path: string; rows: number; sha256: string }[]) {
      const full = path.join(first.snapshotDir, file.path);
      expect(createHash('sha256').update(readFileSync(full)).digest('hex')).toBe(file.sha256);
      if (file.path.endsWith('.parquet')) {
        const [row] = await duckQuery(`select count(*)::int as n from read_parquet('${full}')`);
        expect(row!.n).toBe(file.rows);
      }
    }
  }
  const [tags] = await duckQuery(`select count(distinct golden_id)::int as n, count(*)::int as total from read_parquet('${path.join(first.snapshotDir, 'tags.parquet')}')`);
  expect(tags!.n).toBe(tags!.total);
});

test('snapshots carry no raw PII from the source extracts', async () => {
  const customers = readFileSync(path.join(inputDir, 'customers.csv'), 'utf8').split('\n').slice(1, 300).filter(Boolean).map((l) => l.split(','));
  const needles = customers.flatMap((c) => [c[2], c[3], c[4]]).filter((v): v is string => !!v && v.length >= 2);
  const files = readdirSync(first.snapshotDir, { recursive: true }) as string[];
  for (const f of files.filter((p) => p.endsWith('.parquet') || p.endsWith('.csv') || p.endsWith('.json'))) {
    const rows = f.endsWith('.parquet') ? JSON.stringify(await duckQuery(`select * from read_parquet('${path.join(first.snapshotDir, f)}')`), (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) : readFileSync(path.join(first.snapshotDir, f), 'utf8');
    for (const needle of needles) expect(rows.includes(needle) ? `${f} contains raw PII` : 'clean').toBe('clean');
  }
});

test('every customer has exactly one primary segment', async () => {
  const [counts] = await duckQuery(`select count(*)::int as total, count(distinct golden_id)::int as customers, count(segment)::int as with_segment from read_parquet('${path.join(first.snapshotDir, 'segments.parquet')}')`);
  const golden = await ctx.db('core.customers').where({ run_id: 'it-first' }).count<{ n: string }[]>('* as n');
  expect(counts!.total).toBe(Number(golden[0]!.n));
  expect(counts!.customers).toBe(counts!.total);
  expect(counts!.with_segment).toBe(counts!.total);
});

test('dispatch honours consent, risk exclusion, arbitration and budgets; arms follow the stable holdout hash', async () => {
  const dispatched = await ctx.db('campaign.dispatch').where({ run_id: 'it-first' });
  expect(dispatched.length).toBeGreaterThan(0);
  const perCustomer = new Map<string, number>();
  for (const d of dispatched) {
    perCustomer.set(d.golden_id, (perCustomer.get(d.golden_id) ?? 0) + 1);
    const campaign = config.campaigns.find((c) => c.id === d.campaign_id)!;
    expect(d.arm).toBe(assignControl(campaign.id, d.golden_id, campaign.holdoutShare, config.policies.globalHoldoutShare).arm);
    expect(d.consent_id).not.toBeNull();
  }
  expect(Math.max(...perCustomer.values())).toBe(1);
  const violations = await ctx.db.raw(
    `select d.campaign_id, d.golden_id from campaign.dispatch d
     join core.customer_sources s on s.run_id = d.run_id and s.golden_id = d.golden_id
     join lateral (select c.granted from landing.consent c where c.run_id = d.run_id and c.customer_key = s.customer_key and c.channel = d.channel
                   and c.recorded_at < ('2026-11-21'::timestamp at time zone 'Asia/Shanghai') order by c.recorded_at desc, c.consent_id desc limit 1) latest on true
     where d.run_id = 'it-first' and latest.granted = false`,
  );
  expect(violations.rows).toEqual([]);
  const risky = await ctx.db('campaign.dispatch as d').join('mart.tags as t', function () {
    this.on('t.golden_id', '=', 'd.golden_id').andOn('t.run_id', '=', 'd.run_id');
  }).where('d.run_id', 'it-first').where('t.max_overdue_days', '>', config.policies.maxOverdueDaysForLoanOffer);
  expect(risky).toEqual([]);
  for (const campaign of config.campaigns) expect(dispatched.filter((d) => d.campaign_id === campaign.id).length).toBeLessThanOrEqual(campaign.budget);
  const [ledger] = await duckQuery(`select count(*)::int as n, count(distinct campaign_id || golden_id)::int as distinct_n from read_parquet('${path.join(first.snapshotDir, 'eligibility.parquet')}') where eligible`);
  expect(ledger!.n).toBe(dispatched.length);
  const csv = readFileSync(path.join(first.snapshotDir, 'deliveries', 'cl_q4_sms', 'cl_q4_sms_sms.csv'));
  expect(csv.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
  expect(csv.toString('utf8')).toContain('消费贷');
});

test('outcome workflows wait out the window and store treatment/control results', async () => {
  const results = await ctx.db('campaign.outcome_results').where({ run_id: 'it-first' }).orderBy('campaign_id');
  expect(results.map((r) => r.campaign_id)).toEqual(config.campaigns.map((c) => c.id).sort());
  const outcomeRows = await ctx.db('campaign.outcomes').where({ run_id: 'it-first' }).count<{ n: string }[]>('* as n');
  const dispatchRows = await ctx.db('campaign.dispatch').where({ run_id: 'it-first' }).count<{ n: string }[]>('* as n');
  expect(Number(outcomeRows[0]!.n)).toBe(Number(dispatchRows[0]!.n));
  for (const id of first.outcomeWorkflowIds) {
    const description = await ctx.client.workflow.getHandle(id).describe();
    expect(description.status.name).toBe('COMPLETED');
  }
});

test('a second run of the same inputs, config and seed gives byte-identical stage files', async () => {
  const second = await (await startRun(runInput('it-second'))).result();
  const manifest = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const files = (m: { stages: { files: { path: string; sha256: string }[] }[] }) => Object.fromEntries(m.stages.flatMap((s) => s.files.map((f) => [f.path, f.sha256])));
  const a = manifest(first.snapshotDir);
  const b = manifest(second.snapshotDir);
  // report.html names its run (id, history of runs), so it is the one file that differs between two run ids.
  const { 'report.html': reportA, ...stageFilesA } = files(a);
  const { 'report.html': reportB, ...stageFilesB } = files(b);
  expect(stageFilesB).toEqual(stageFilesA);
  expect([reportA, reportB].every((sha) => typeof sha === 'string')).toBe(true);
  expect(b.model_version).toEqual(a.model_version);
  expect(b.run_id).not.toBe(a.run_id);
});

test('a stage that fails beside another cancels it: the run fails and none of its activities is left running', async () => {
  // Every customer matches no rule: segment fails (non-retryable) while the models and scoring run beside it.
  const noCatchAll = { ...config, segments: [{ id: 'nobody', name: 'Nobody', when: 'age < 0' }] } as PortraitConfig;
  const handle = await startRun(runInput('it-segment-fails', {}, noCatchAll));
  await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
  const run = await ctx.db('audit.runs').where({ run_id: 'it-segment-fails' }).first();
  expect(run.status).toBe('failed');
  expect(run.error).toMatch(/customers matched no segment/);
  const events = await activityEvents('dailyRun-it-segment-fails');
  expect(events.filter((e) => e.type === 'ensureModels').length).toBe(1);
  // Whatever was still running when segment failed (training or scoring) was asked to stop.
  expect(events.filter((e) => e.closedAt === null && !e.cancelRequested)).toEqual([]);
});

test('a missing source file fails the run with a non-retryable, actionable error', async () => {
  const handle = await startRun(runInput('it-missing', { inputDir: path.join(ctx.workDir, 'nowhere') }));
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const run = await ctx.db('audit.runs').where({ run_id: 'it-missing' }).first();
  expect(run.status).toBe('failed');
  expect(run.error).toMatch(/source file for "\w+" not found: .*nowhere/);
  const history = await handle.fetchHistory();
  const attempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
  expect(Math.max(...attempts.map((a) => a ?? 0))).toBe(1);
});

test('a failed quality gate lists every failing source', async () => {
  const strict = { ...config, quality: { maxRejectRate: 0 } } as PortraitConfig;
  const handle = await startRun(runInput('it-gate', {}, strict));
  await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
  const run = await ctx.db('audit.runs').where({ run_id: 'it-gate' }).first();
  expect(run.status).toBe('failed');
  expect(run.error).toMatch(/^quality gates failed: /);
  expect(run.error).toContain('transactions: reject rate');
});
