import path from 'node:path';
import { main } from '../../cli/portrait';
import { generateSourceExtracts } from '../../generator/generate';
import { QUERY_PROGRESS, STAGES, type DailyRunResult, type RunProgress } from '../../shared';
import { createTestContext, type TestContext } from '../helpers/testContext';

/** `portrait runs`, `run --wait`, `cancel` and `rerun` through the real CLI, against real Temporal + PostgreSQL. */
const AS_OF = '2026-11-20';
let ctx: TestContext;
let inputDir: string;
let savedEnv: NodeJS.ProcessEnv;
let first: DailyRunResult;

/** Runs the CLI in-process and returns its exit code and what it printed on stdout. */
async function cli(args: string[]): Promise<{ code: number; stdout: string }> {
  const write = process.stdout.write;
  let stdout = '';
  process.stdout.write = ((chunk: string) => {
    stdout += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    return { code: await main(args), stdout };
  } finally {
    process.stdout.write = write;
  }
}

async function progressOf(runId: string): Promise<RunProgress> {
  return ctx.client.workflow.getHandle(`dailyRun-${runId}`).query<RunProgress>(QUERY_PROGRESS);
}

/** Backends of the test database running a statement, other than the one asking. */
async function activeSessions(): Promise<number> {
  const { rows } = await ctx.db.raw(`select count(*)::int as n from pg_stat_activity where datname = current_database() and state <> 'idle' and pid <> pg_backend_pid()`);
  return rows[0].n;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  ctx = await createTestContext('runops');
  inputDir = path.join(ctx.workDir, 'extracts');
  await generateSourceExtracts({ customers: 1500, seed: 11, outDir: inputDir, asOf: AS_OF });
  savedEnv = { ...process.env };
  Object.assign(process.env, { DATABASE_URL: ctx.databaseUrl, TEMPORAL_ADDRESS: process.env.PORTRAIT_TEST_TEMPORAL_ADDRESS, PORTRAIT_TASK_QUEUE: ctx.taskQueue, PORTRAIT_HOME: ctx.env.home, PORTRAIT_SNAPSHOT_DIR: ctx.env.snapshotDir, LOG_LEVEL: 'warn' });
  await ctx.startWorker();
  const run = await cli(['run', '--as-of', AS_OF, '--input', inputDir, '--wait', '--json']);
  expect(run.code).toBe(0);
  // Not a terminal and --json: the whole of stdout is the result, no progress drawing.
  first = JSON.parse(run.stdout);
});

afterAll(async () => {
  process.env = savedEnv;
  await ctx?.close();
});

test('run --wait --json prints only the result; runs --json matches the audit tables', async () => {
  expect(first.asOf).toBe(AS_OF);
  const { code, stdout } = await cli(['runs', '--json']);
  expect(code).toBe(0);
  const listed = JSON.parse(stdout);
  const audit = await ctx.db('audit.runs').orderBy(['as_of', 'started_at']);
  expect(listed.map((r: { run_id: string }) => r.run_id)).toEqual(audit.map((r) => r.run_id));
  const entry = listed.find((r: { run_id: string }) => r.run_id === first.runId);
  const row = audit.find((r) => r.run_id === first.runId);
  expect(Object.keys(entry).sort()).toEqual(['as_of', 'duration_s', 'finished_at', 'run_id', 'stages', 'started_at', 'status']);
  expect(entry).toMatchObject({ as_of: AS_OF, status: 'succeeded', started_at: row.started_at.toISOString(), finished_at: row.finished_at.toISOString() });
  expect(entry.duration_s).toBeCloseTo((row.finished_at.getTime() - row.started_at.getTime()) / 1000, 3);
  const stageRows = await ctx.db('audit.stage_runs').where({ run_id: first.runId });
  expect(entry.stages.map((s: { stage: string }) => s.stage)).toEqual(STAGES.filter((s) => stageRows.some((r) => r.stage === s)));
  for (const s of entry.stages) {
    const r = stageRows.find((x) => x.stage === s.stage)!;
    expect(s).toEqual({ stage: r.stage, rows: Number(r.rows), seconds: r.duration_ms / 1000 });
  }
  // Filters: a range before the date, another status, and the date itself.
  expect(JSON.parse((await cli(['runs', '--to', '2026-11-19', '--json'])).stdout)).toEqual([]);
  expect(JSON.parse((await cli(['runs', '--status', 'failed', '--json'])).stdout)).toEqual([]);
  expect(JSON.parse((await cli(['runs', '--from', AS_OF, '--to', AS_OF, '--status', 'succeeded', '--json'])).stdout).map((r: { run_id: string }) => r.run_id)).toContain(first.runId);
  const table = await cli(['runs']);
  expect(table.stdout.split('\n')[0]).toMatch(/^run_id\s+as_of\s+status\s+started \(UTC\)\s+duration\s+ingest\s+clean\s+tags\s+segment\s+score\s+dispatch\s+outcomes$/);
  expect(table.stdout).toContain(first.runId);
});

test('the progress query of a finished run gives every stage its rows and seconds, and every source its rows', async () => {
  const progress = await progressOf(first.runId);
  expect(progress.currentStage).toBe('done');
  const stageRows = await ctx.db('audit.stage_runs').where({ run_id: first.runId });
  expect(progress.stages!.map((s) => s.stage)).toEqual(first.stages.map((s) => s.stage));
  for (const s of progress.stages!) {
    const r = stageRows.find((x) => x.stage === s.stage)!;
    expect(s).toEqual({ stage: s.stage, rows: Number(r.rows), seconds: r.duration_ms / 1000 });
  }
  const loads = await ctx.db('audit.source_loads').where({ run_id: first.runId });
  const bySource = (a: { source: string }, b: { source: string }) => a.source.localeCompare(b.source);
  expect([...progress.sources!].sort(bySource)).toEqual(loads.map((l) => ({ source: l.source, loaded: Number(l.loaded), quarantined: Number(l.quarantined) })).sort(bySource));
});

test('cancel stops a running run: recorded as cancelled, its activity cancelled, no database session left working', async () => {
  const started = await cli(['run', '--as-of', AS_OF, '--input', inputDir, '--json']);
  const { run_id: runId, workflow_id: workflowId } = JSON.parse(started.stdout);
  await until('the run to reach clean', 120_000, async () => {
    const p = await progressOf(runId).catch(() => undefined);
    return p && STAGES.indexOf(p.currentStage as never) >= STAGES.indexOf('clean') ? p : undefined;
  });
  const cancelled = await cli(['cancel', runId, '--json']);
  expect(cancelled.code).toBe(0);
  expect(JSON.parse(cancelled.stdout)).toMatchObject({ run_id: runId, workflow_id: workflowId, status: 'cancelled' });
  const run = await ctx.db('audit.runs').where({ run_id: runId }).first();
  expect(run.status).toBe('cancelled');
  expect(run.error).toMatch(new RegExp(`^cancelled during (clean|tags|segment|score|dispatch); portrait rerun ${runId} runs ${AS_OF} again$`));
  expect(run.finished_at).not.toBeNull();
  const handle = ctx.client.workflow.getHandle(workflowId);
  expect((await handle.describe()).status.name).toBe('CANCELLED');
  expect((await progressOf(runId)).currentStage).toBe('cancelled');
  // The stage's activity was in flight and its cancellation was requested, not left to run on.
  const { events } = await handle.fetchHistory();
  expect(events!.some((e) => e.activityTaskCancelRequestedEventAttributes)).toBe(true);
  await until('no active session on the test database', 90_000, async () => ((await activeSessions()) === 0 ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, 3000));
  expect(await activeSessions()).toBe(0);
  expect((await ctx.db('audit.runs').where({ run_id: runId }).first()).status).toBe('cancelled');
  // An ended run cannot be cancelled: one line, exit 1 (a plain error, not a usage error).
  await expect(cli(['cancel', runId])).rejects.toThrow(`run ${runId} already cancelled`);
  await expect(cli(['cancel', first.runId])).rejects.toThrow(new RegExp(`^run ${first.runId} already succeeded \\(finished .*\\); nothing to cancel$`));
  await expect(cli(['cancel', 'no-such-run'])).rejects.toThrow('no run with id no-such-run');

  // Rerun: a new run id for the same date, input folder, config and seed, which succeeds.
  await expect(cli(['rerun', first.runId])).rejects.toThrow(`run ${first.runId} already succeeded; --force runs ${AS_OF} again anyway`);
  const rerun = await cli(['rerun', runId, '--wait', '--json']);
  expect(rerun.code).toBe(0);
  const result = JSON.parse(rerun.stdout);
  expect(result).toMatchObject({ asOf: AS_OF, rerunOf: runId });
  expect(result.runId).not.toBe(runId);
  expect(result.runId).toMatch(/^20261120-[0-9a-f]{8}$/);
  const [before, after] = await Promise.all([ctx.db('audit.runs').where({ run_id: runId }).first(), ctx.db('audit.runs').where({ run_id: result.runId }).first()]);
  expect(after).toMatchObject({ status: 'succeeded', as_of: AS_OF, input_dir: before.input_dir, config_sha256: before.config_sha256, seed: before.seed });
  expect(after.config).toEqual(before.config);
  const listed = JSON.parse((await cli(['runs', '--json'])).stdout) as { run_id: string; status: string }[];
  expect(listed.map((r) => [r.run_id, r.status])).toEqual([
    [first.runId, 'succeeded'],
    [runId, 'cancelled'],
    [result.runId, 'succeeded'],
  ]);
  // --limit keeps the latest matching runs, each with its own stages.
  const latest = JSON.parse((await cli(['runs', '--limit', '1', '--json'])).stdout);
  expect(latest).toEqual([listed.at(-1)]);
  // The workflow's stages, then outcomes: a finished run records its report and pending outcome files at the end.
  expect(latest[0].stages.map((s: { stage: string }) => s.stage)).toEqual([...result.stages.map((s: { stage: string }) => s.stage), 'outcomes']);
});
