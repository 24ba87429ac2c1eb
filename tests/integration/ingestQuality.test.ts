import { readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { createLogger } from '../../services/logger';
import { loadConfig, configSha256 } from '../../config/load';
import type { PortraitConfig } from '../../config/schema';
import { generateSourceExtracts } from '../../generator/generate';
import { SOURCES, SOURCE_NAMES } from '../../config/sources';
import { validateSourceFile } from '../../sourceReader/validateFile';
import { WORKFLOW_DAILY_RUN, type DailyRunInput } from '../../shared';
import { createTestContext, type TestContext } from '../helpers/testContext';
import { duckQuery } from '../helpers/duck';

const DATA_AS_OF = '2026-11-20';
// Ten days after the extracts: transactions and balances are stale for their 3-day freshness gates.
const RUN_AS_OF = '2026-11-30';
let ctx: TestContext;
let inputDir: string;
let config: PortraitConfig;
const injected = { badAmounts: 0, duplicateLoans: 0, blankPhones: 0 };

const lines = (file: string) => readFileSync(path.join(inputDir, file), 'utf8').split('\n').filter((l) => l.length > 0);

beforeAll(async () => {
  ctx = await createTestContext('quality');
  inputDir = path.join(ctx.workDir, 'extracts');
  await generateSourceExtracts({ customers: 300, seed: 5, outDir: inputDir, asOf: DATA_AS_OF });
  // app_events: the extract arrived empty (header only).
  writeFileSync(path.join(inputDir, 'app_events.csv'), lines('app_events.csv')[0] + '\n');
  // transactions: one row in five has an amount that is not a number.
  const txns = lines('transactions.csv');
  const bad = txns.slice(1, 1 + Math.ceil((txns.length - 1) / 5)).map((l, i) => l.replace(/^T\d+/, `TBAD${i}`).split(',').map((v, j) => (j === 4 ? 'twelve' : v)).join(','));
  appendFileSync(path.join(inputDir, 'transactions.csv'), bad.join('\n') + '\n');
  injected.badAmounts = bad.length;
  // loans: the first tenth of the rows delivered twice.
  const loans = lines('loans.csv');
  const dups = loans.slice(1, 1 + Math.ceil((loans.length - 1) / 10));
  appendFileSync(path.join(inputDir, 'loans.csv'), dups.join('\n') + '\n');
  injected.duplicateLoans = dups.length;
  // customers: a third of the phones missing (a warning, not a failure).
  const customers = lines('customers.csv');
  const phone = customers[0]!.split(',').indexOf('phone');
  const blanked = customers.map((l, i) => {
    if (i === 0 || i % 3 !== 0) return l;
    injected.blankPhones++;
    return l.split(',').map((v, j) => (j === phone ? '' : v)).join(',');
  });
  writeFileSync(path.join(inputDir, 'customers.csv'), blanked.join('\n') + '\n');
  config = loadConfig();
  await ctx.startWorker();
});

afterAll(async () => {
  await ctx?.close();
});

test('failed gates fail the run once, non-retryably, listing every failed check; every check is kept', async () => {
  // Earlier runs as the volume-drop gate sees them: only the latest succeeded run of an earlier date counts.
  const txRows = lines('transactions.csv').length - 1;
  const priorRun = (runId: string, asOf: string, status: string, rowsIn: number) => ({
    run: { run_id: runId, as_of: asOf, input_dir: inputDir, config_sha256: 'x', config: '{}', code_version: 'x', seed: 1, status, snapshot_dir: ctx.workDir, started_at: new Date(), finished_at: new Date() },
    load: { run_id: runId, source: 'transactions', file: 'transactions.csv', file_sha256: 'x', rows_in: rowsIn, loaded: rowsIn, quarantined: 0 },
  });
  const priors = [
    priorRun('it-prior-ok', '2026-11-28', 'succeeded', txRows * 3),
    priorRun('it-prior-older', '2026-11-27', 'succeeded', txRows),
    priorRun('it-prior-failed', '2026-11-29', 'failed', txRows),
    priorRun('it-prior-later', '2026-12-01', 'succeeded', txRows),
  ];
  await ctx.db('audit.runs').insert(priors.map((p) => p.run));
  await ctx.db('audit.source_loads').insert(priors.map((p) => p.load));

  const input: DailyRunInput = { runId: 'it-quality', asOf: RUN_AS_OF, inputDir, config, configSha256: configSha256(config), awaitOutcomes: false };
  const handle = await ctx.client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue: ctx.taskQueue, workflowId: 'dailyRun-it-quality', args: [input] });
  await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);

  const run = await ctx.db('audit.runs').where({ run_id: 'it-quality' }).first();
  expect(run.status).toBe('failed');
  expect(run.error).toMatch(/^quality gates failed: /);
  const listed = (run.error as string).replace(/^quality gates failed: /, '').split('; ').map((part) => {
    const m = /^(\w+): .*\[([\w:]+)\]$/.exec(part);
    return m ? `${m[1]}.${m[2]}` : `unparsed: ${part}`;
  }).sort();

  const checks = await ctx.db('audit.quality_checks').where({ run_id: 'it-quality' }).orderBy(['source', 'check_name']);
  const failed = checks.filter((c) => c.status === 'fail').map((c) => `${c.source}.${c.check_name}`).sort();
  // Exactly the injected problems fail, and the error lists every one of them.
  expect(failed).toEqual(['app_events.min_rows', 'balances.freshness', 'loans.duplicate_keys', 'loans.reject_rate', 'transactions.freshness', 'transactions.reject_rate', 'transactions.volume_drop']);
  const volume = checks.find((c) => c.source === 'transactions' && c.check_name === 'volume_drop')!;
  expect(volume.measured).toBeCloseTo((txRows) / (txRows * 3), 6);
  expect(checks.find((c) => c.source === 'loans' && c.check_name === 'volume_drop')).toMatchObject({ status: 'pass', measured: null });
  expect(listed).toEqual(failed);
  const warned = checks.filter((c) => c.status === 'warn').map((c) => `${c.source}.${c.check_name}`);
  expect(warned).toEqual(['app_events.freshness', 'customers.null_rate:phone']);
  // One row per check per source, each with what it measured against which threshold.
  expect(new Set(checks.map((c) => c.source))).toEqual(new Set(SOURCE_NAMES));
  const txReject = checks.find((c) => c.source === 'transactions' && c.check_name === 'reject_rate')!;
  const txLoad = await ctx.db('audit.source_loads').where({ run_id: 'it-quality', source: 'transactions' }).first();
  expect(txReject.measured).toBeCloseTo(Number(txLoad.quarantined) / Number(txLoad.rows_in), 6);
  expect(txReject.threshold).toBe(config.quality.maxRejectRate);
  expect(checks.every((c) => c.as_of === RUN_AS_OF && c.contracts_version)).toBe(true);

  // Rows in = loaded + quarantined for every source, with the injected rows quarantined for their reason.
  for (const load of await ctx.db('audit.source_loads').where({ run_id: 'it-quality' })) {
    expect(Number(load.loaded) + Number(load.quarantined)).toBe(Number(load.rows_in));
  }
  const byReason = async (source: string, reason: string) =>
    Number((await ctx.db('audit.quarantine').where({ run_id: 'it-quality', source, reason_code: reason }).count<{ n: string }[]>('* as n'))[0]!.n);
  expect(await byReason('transactions', 'bad_number')).toBe(injected.badAmounts);
  expect(await byReason('loans', 'duplicate_key')).toBeGreaterThanOrEqual(injected.duplicateLoans);

  // The same checks are in the run's quality.parquet.
  const parquet = await duckQuery(`select source, "check", status from read_parquet('${path.join(ctx.env.snapshotDir, 'it-quality', 'quality.parquet')}') order by source, "check"`);
  expect(parquet.map((r) => `${r.source}.${r.check}.${r.status}`)).toEqual(checks.map((c) => `${c.source}.${c.check_name}.${c.status}`));

  // Bad data is not retried: every activity ran once.
  const history = await handle.fetchHistory();
  const attempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 1);
  expect(Math.max(...attempts)).toBe(1);

  // Each load measured its rows for the gates as it ended; loads recorded by older runs carry no measures, and
  // completeIngest then measures the landing rows itself: the same checks either way.
  const profiles = history.events!.flatMap((e) => e.activityTaskCompletedEventAttributes?.result?.payloads ?? []).map((p) => (defaultPayloadConverter.fromPayload(p) ?? {}) as { source?: string; profile?: unknown });
  expect(profiles.filter((r) => r.source && r.profile).map((r) => r.source).sort()).toEqual([...SOURCE_NAMES].sort());
  const activities = createActivities({ db: ctx.db, databaseUrl: ctx.databaseUrl, log: createLogger('warn'), env: ctx.env, codeVersion: 'test' });
  const loads = (await ctx.db('audit.source_loads').where({ run_id: 'it-quality' })).map((l) => ({ source: l.source, rowsIn: Number(l.rows_in), loaded: Number(l.loaded), quarantined: Number(l.quarantined), reasons: l.reasons }));
  const completeWithoutProfiles = new MockActivityEnvironment().run(activities.completeIngest, { runId: 'it-quality', loads, maxRejectRate: config.quality.maxRejectRate, startedAt: new Date().toISOString(), asOf: RUN_AS_OF, timezone: config.timezone });
  await expect(completeWithoutProfiles).rejects.toThrow(/quality gates failed/);
  const remeasured = await ctx.db('audit.quality_checks').where({ run_id: 'it-quality' }).orderBy(['source', 'check_name']);
  const shown = (rows: typeof checks) => rows.map((c) => `${c.source}.${c.check_name} ${c.status} ${c.measured}`);
  expect(shown(remeasured)).toEqual(shown(checks));
});

test('a sql source streams its query (with :as_of bound) through the same row checks', async () => {
  await ctx.db.raw(`create table public.core_loans (loan_id text, customer_key text, product text, principal numeric, outstanding numeric, overdue_days int, opened_at date, extract_day date)`);
  await ctx.db('public.core_loans').insert([
    { loan_id: 'L1', customer_key: 'C1', product: 'mortgage', principal: 500000, outstanding: 420000.5, overdue_days: 0, opened_at: '2019-07-15', extract_day: DATA_AS_OF },
    { loan_id: 'L2', customer_key: 'C2', product: 'yacht', principal: 1000, outstanding: 10, overdue_days: 0, opened_at: '2020-01-01', extract_day: DATA_AS_OF },
    { loan_id: 'L3', customer_key: 'C3', product: 'mortgage', principal: 1000, outstanding: 10, overdue_days: null, opened_at: '2020-01-01', extract_day: DATA_AS_OF },
    { loan_id: 'L4', customer_key: 'C4', product: 'mortgage', principal: 1000, outstanding: 10, overdue_days: 0, opened_at: '2020-01-01', extract_day: '2026-11-19' },
  ]);
  process.env.PORTRAIT_TEST_CORE_DB = ctx.databaseUrl;
  const contract = { ...SOURCES.loans, format: 'sql' as const, sql: { connectionEnv: 'PORTRAIT_TEST_CORE_DB', query: 'select * from public.core_loans where extract_day = :as_of order by loan_id' } };
  const report = await validateSourceFile({ contract, file: '', asOf: DATA_AS_OF, timezone: 'Asia/Shanghai' });
  expect(report).toMatchObject({ rows_in: 3, valid: 1, quarantined: 2, reasons: { bad_enum: 1, missing_required: 1 } });
});
