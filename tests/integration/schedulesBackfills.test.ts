import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { main } from '../../cli/portrait';
import { scheduledRunId } from '../../activities/operations';
import { generateSourceExtracts } from '../../generator/generate';
import { QUERY_BACKFILL_PROGRESS, WORKFLOW_BACKFILL, type BackfillInput, type BackfillResult, type ScheduledRunResult } from '../../shared';
import { inputDirFor, scheduledAsOf } from '../../transforms/scheduleDate';
import { createTestContext, type TestContext } from '../helpers/testContext';

/** `portrait schedule` and `portrait backfill` through the real CLI, against real Temporal + PostgreSQL. */
const [A, B, C, D] = ['2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23'];
const ZONE = 'Asia/Shanghai';
let ctx: TestContext;
let pattern: string;
let savedEnv: NodeJS.ProcessEnv;

/** Runs the CLI in-process: exit code (or the error it threw) and stdout. */
async function cli(args: string[]): Promise<{ code?: number; error?: Error; stdout: string }> {
  const write = process.stdout.write;
  let stdout = '';
  process.stdout.write = ((chunk: string) => {
    stdout += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    return { code: await main(args), stdout };
  } catch (error) {
    return { error: error as Error, stdout };
  } finally {
    process.stdout.write = write;
  }
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** The scheduledRun workflow a schedule started for a nominal time, once it is there. */
async function scheduledWorkflow(scheduleId: string, nominal: Date): Promise<string> {
  return until(`schedule ${scheduleId} to start its ${nominal.toISOString()} action`, 60_000, async () => {
    const d = await ctx.client.schedule.getHandle(scheduleId).describe();
    return d.info.recentActions.find((a) => a.scheduledAt.getTime() === nominal.getTime())?.action.workflow.workflowId;
  });
}

/** Schedules (through Temporal's own schedule backfill) the action at one nominal time, as if it had been due then. */
async function runAt(scheduleId: string, nominal: Date): Promise<ScheduledRunResult> {
  await ctx.client.schedule.getHandle(scheduleId).backfill({ start: new Date(nominal.getTime() - 1000), end: new Date(nominal.getTime() + 1000) });
  return ctx.client.workflow.getHandle(await scheduledWorkflow(scheduleId, nominal)).result();
}

beforeAll(async () => {
  ctx = await createTestContext('schedbf');
  pattern = path.join(ctx.workDir, 'data', '{as_of}');
  // C has no input folder on purpose.
  for (const asOf of [A, B, D]) await generateSourceExtracts({ customers: 300, seed: 11, outDir: inputDirFor(pattern, asOf), asOf });
  savedEnv = { ...process.env };
  Object.assign(process.env, { DATABASE_URL: ctx.databaseUrl, TEMPORAL_ADDRESS: process.env.PORTRAIT_TEST_TEMPORAL_ADDRESS, PORTRAIT_TASK_QUEUE: ctx.taskQueue, PORTRAIT_HOME: ctx.env.home, PORTRAIT_SNAPSHOT_DIR: ctx.env.snapshotDir, LOG_LEVEL: 'warn' });
  await ctx.startWorker();
});

afterAll(async () => {
  process.env = savedEnv;
  await ctx?.close();
});

test('a schedule created from the CLI runs the day before its nominal time, whenever it starts; offset and trigger too', async () => {
  const id = `daily-${randomBytes(3).toString('hex')}`;
  const created = await cli(['schedule', 'create', '--id', id, '--at', '02:00', '--timezone', ZONE, '--input', pattern, '--catchup-window', '3d', '--json']);
  expect(created.error).toBeUndefined();
  const entry = JSON.parse(created.stdout);
  expect(entry).toMatchObject({ id, paused: false, at: '02:00', timezone: ZONE, input: pattern, as_of_offset_days: 1, catchup_window: '3d' });
  expect(entry.next_runs.length).toBeGreaterThan(0);
  // Every next run is at 02:00 in Shanghai and processes the day before.
  for (const [i, t] of (entry.next_runs as string[]).entries()) {
    expect(new Intl.DateTimeFormat('en-GB', { timeZone: ZONE, hour: '2-digit', minute: '2-digit' }).format(new Date(t))).toBe('02:00');
    expect(entry.next_as_of[i]).toBe(scheduledAsOf(new Date(t), ZONE, 1));
  }

  // Nominal 02:00 on 21 Nov in Shanghai (18:00 UTC on 20 Nov), started today: the run is as of 20 Nov.
  const nominal = new Date('2026-11-20T18:00:00Z');
  const result = await runAt(id, nominal);
  expect(result).toEqual({ scheduleId: id, nominalTime: nominal.toISOString(), asOf: A, runId: scheduledRunId(id, A), status: 'succeeded' });
  const run = await ctx.db('audit.runs').where({ run_id: result.runId }).first();
  expect(run).toMatchObject({ status: 'succeeded', input_dir: inputDirFor(pattern, A), workflow_id: `dailyRun-${result.runId}` });

  // trigger: as-of from the trigger's nominal time (now); that date has no input folder, so the run fails saying so.
  const before = new Date();
  const triggered = await cli(['schedule', 'trigger', id, '--json']);
  expect(triggered.error).toBeUndefined();
  const t = JSON.parse(triggered.stdout);
  expect(t.as_of).toBe(scheduledAsOf(new Date(t.triggered_at), ZONE, 1));
  const triggeredWf = await until('the triggered run', 60_000, async () => {
    const d = await ctx.client.schedule.getHandle(id).describe();
    return d.info.recentActions.find((a) => a.scheduledAt.getTime() >= before.getTime() - 1000)?.action.workflow.workflowId;
  });
  const failure = await ctx.client.workflow.getHandle(triggeredWf).result().then(() => undefined, (e: Error) => e);
  expect(String((failure as { cause?: Error })?.cause?.message)).toBe(`input folder ${inputDirFor(pattern, t.as_of)} for as-of ${t.as_of} does not exist`);

  // A second schedule with an offset of 3 days, at 00:05 (just after midnight in Shanghai, the previous UTC day).
  const id3 = `${id}-offset3`;
  expect((await cli(['schedule', 'create', '--id', id3, '--at', '00:05', '--timezone', ZONE, '--input', pattern, '--as-of-offset-days', '3', '--json'])).error).toBeUndefined();
  // 00:05 on 23 Nov in Shanghai is 16:05 UTC on 22 Nov: as of 20 Nov, which already succeeded: skipped, naming that run.
  expect(await runAt(id3, new Date('2026-11-22T16:05:00Z'))).toMatchObject({ asOf: A, status: 'skipped', runId: result.runId, reason: `${A} already has a successful run ${result.runId}` });
  const offset = await runAt(id3, new Date('2026-11-23T16:05:00Z'));
  expect(offset).toMatchObject({ asOf: B, runId: scheduledRunId(id3, B), status: 'succeeded' });
  expect((await cli(['schedule', 'delete', id3])).error).toBeUndefined();

  // pause / unpause with notes, list, describe, delete.
  const paused = JSON.parse((await cli(['schedule', 'pause', id, '--note', 'bank holiday freeze', '--json'])).stdout);
  expect(paused).toMatchObject({ id, paused: true, note: 'bank holiday freeze' });
  const listed = JSON.parse((await until('the schedule in the list', 30_000, async () => {
    const r = await cli(['schedule', 'list', '--json']);
    return JSON.parse(r.stdout).some((s: { id: string }) => s.id === id) ? r : undefined;
  })).stdout);
  const mine = listed.find((s: { id: string }) => s.id === id);
  expect(Object.keys(mine).sort()).toEqual(['at', 'id', 'next_runs', 'paused', 'timezone']);
  expect(mine).toMatchObject({ id, paused: true, at: '02:00', timezone: ZONE });
  const unpaused = JSON.parse((await cli(['schedule', 'unpause', id, '--json'])).stdout);
  expect(unpaused).toMatchObject({ paused: false });
  const described = JSON.parse((await cli(['schedule', 'describe', id, '--json'])).stdout);
  expect(described).toMatchObject({ id, paused: false, overlap: 'BUFFER_ALL', catchup_window: '3d' });
  expect(described.recent_runs.map((r: { scheduled_at: string }) => r.scheduled_at)).toContain(nominal.toISOString());
  const text = await cli(['schedule', 'describe', id]);
  expect(text.stdout).toContain(`${id}: active`);

  // Duplicate id, unknown id: one line each.
  const dup = await cli(['schedule', 'create', '--id', id, '--at', '03:00', '--input', pattern]);
  expect(dup.error?.message).toBe(`schedule ${id} already exists; portrait schedule delete ${id} first, or pick another --id`);
  expect((await cli(['schedule', 'delete', id, '--json'])).stdout).toContain('"deleted": true');
  for (const sub of ['describe', 'trigger', 'pause', 'delete']) {
    const gone = await cli(['schedule', sub, id]);
    expect(gone.error?.name).toBe('UsageError');
    expect(gone.error?.message).toBe(`no schedule with id ${id} (portrait schedule list lists them)`);
  }
});

test('backfill runs dates in order, skips a successful date, continues past a missing folder; overlap refused', async () => {
  // A and B succeeded in the schedule test; --rerun runs B again, C has no folder, D runs after it.
  const noWait = await cli(['backfill', '--from', B, '--to', D, '--input', pattern, '--rerun', '--on-failure', 'continue', '--json']);
  expect(noWait.error).toBeUndefined();
  const { workflow_id: workflowId, dates } = JSON.parse(noWait.stdout);
  expect(dates).toBe(3);
  const handle = ctx.client.workflow.getHandle(workflowId);

  // While it runs, a backfill over a range sharing a date with it is refused and starts nothing.
  await until('the backfill in the visibility list', 30_000, async () => {
    for await (const wf of ctx.client.workflow.list({ query: `WorkflowId = '${workflowId}' AND ExecutionStatus = 'Running'` })) return wf;
    return undefined;
  });
  const overlapping = await cli(['backfill', '--from', D, '--to', '2026-11-25', '--input', pattern, '--on-failure', 'continue']);
  expect(overlapping.error?.message).toBe(`backfill ${workflowId} over ${B}..${D} is running and overlaps ${D}..2026-11-25; wait for it to finish or pick dates outside it`);
  const progress = await handle.query<BackfillResult>(QUERY_BACKFILL_PROGRESS);
  expect(progress.dates.map((d) => d.as_of)).toEqual([B, C, D]);

  const result: BackfillResult = await handle.result();
  expect(result.dates.map((d) => [d.as_of, d.status])).toEqual([[B, 'succeeded'], [C, 'failed'], [D, 'succeeded']]);
  expect(result.dates[1]).toMatchObject({ run_id: null, duration_s: null, error: `input folder ${inputDirFor(pattern, C)} for as-of ${C} does not exist` });
  const runs = await ctx.db('audit.runs').whereIn('run_id', [result.dates[0]!.run_id, result.dates[2]!.run_id]).orderBy('started_at');
  expect(runs.map((r) => r.run_id)).toEqual([result.dates[0]!.run_id, result.dates[2]!.run_id]);
  // One at a time, in date order: D started after B finished.
  expect(runs[1].started_at.getTime()).toBeGreaterThanOrEqual(runs[0].finished_at.getTime());
  for (const [i, r] of [result.dates[0]!, result.dates[2]!].entries()) {
    expect(r.duration_s).toBeCloseTo((runs[i].finished_at.getTime() - runs[i].started_at.getTime()) / 1000, 2);
  }
  const overlappingRuns = await ctx.client.workflow.list({ query: `WorkflowType = '${WORKFLOW_BACKFILL}'` });
  const all = [];
  for await (const wf of overlappingRuns) all.push(wf.workflowId);
  expect(all).toEqual([workflowId]);

  // --wait --json over dates that all succeeded: every date skipped with the run that has it, exit 0.
  const waited = await cli(['backfill', '--from', A, '--to', B, '--input', pattern, '--wait', '--json']);
  expect(waited.code).toBe(0);
  const report = JSON.parse(waited.stdout);
  expect(report.dates.map((d: { as_of: string; status: string }) => [d.as_of, d.status])).toEqual([[A, 'skipped'], [B, 'skipped']]);
  expect(Object.keys(report.dates[0]).sort()).toEqual(['as_of', 'duration_s', 'error', 'run_id', 'status']);
  expect(report.dates[1].run_id).toBe(result.dates[0]!.run_id);
});

test('--on-failure stop: refused up front by the CLI; the workflow itself stops at a date without its folder (e.g. removed after the check), across continue-as-new', async () => {
  const refused = await cli(['backfill', '--from', B, '--to', D, '--input', pattern, '--wait']);
  expect(refused.error?.message).toBe(`input folder ${inputDirFor(pattern, C)} for as-of ${C} does not exist; add it, or --on-failure continue to run the other dates`);
  expect(refused.stdout).toBe('');

  // Started directly (as if C's folder vanished after the CLI checked): C fails, stop leaves D not run.
  // One date per history forces a continue-as-new between dates; the handle follows the chain.
  const input: BackfillInput & { datesPerHistory: number } = { from: A, to: D, inputPattern: pattern, configFile: path.resolve('config/portrait.yaml'), rerun: false, onFailure: 'stop', datesPerHistory: 1 };
  const handle = await ctx.client.workflow.start(WORKFLOW_BACKFILL, { taskQueue: ctx.taskQueue, workflowId: `backfill-stop-${randomBytes(3).toString('hex')}`, args: [input], memo: { from: A, to: D } });
  const result: BackfillResult = await handle.result();
  expect(result.dates.map((d) => [d.as_of, d.status])).toEqual([[A, 'skipped'], [B, 'skipped'], [C, 'failed'], [D, 'not_run']]);
  expect(result.dates[3]!.error).toBe(`not run: ${C} failed and --on-failure is stop`);
  // One date per history: A, B and C each ran in an execution of their own (D was marked without one).
  await until('the continue-as-new chain in visibility', 30_000, async () => ((await chainLength(handle.workflowId)) === 3 ? true : undefined));
});

test('portrait cancel BACKFILL_ID cancels the date running now and starts no later date', async () => {
  const started = await cli(['backfill', '--from', B, '--to', D, '--input', pattern, '--rerun', '--on-failure', 'continue', '--json']);
  const { workflow_id: workflowId } = JSON.parse(started.stdout);
  const handle = ctx.client.workflow.getHandle(workflowId);
  const runId = await until('the first date to be running', 60_000, async () => {
    const progress = await handle.query<BackfillResult>(QUERY_BACKFILL_PROGRESS).catch(() => undefined);
    const first = progress?.dates[0];
    if (!first?.run_id) return undefined;
    const row = await ctx.db('audit.runs').where({ run_id: first.run_id, status: 'running' }).first();
    return row ? first.run_id : undefined;
  });
  const cancelled = await cli(['cancel', workflowId, '--json']);
  expect(cancelled.error).toBeUndefined();
  const report = JSON.parse(cancelled.stdout);
  expect(report.status).toBe('cancelled');
  expect(report.dates.map((d: { as_of: string; status: string }) => [d.as_of, d.status])).toEqual([[B, 'cancelled'], [C, 'not_run'], [D, 'not_run']]);
  expect((await ctx.db('audit.runs').where({ run_id: runId }).first()).status).toBe('cancelled');
  // D was never started.
  expect(await ctx.db('audit.runs').where({ as_of: D }).whereNot({ status: 'succeeded' }).first()).toBeUndefined();
  const again = await cli(['cancel', workflowId]);
  expect(again.error?.message).toBe(`backfill ${workflowId} already cancelled; nothing to cancel`);
});

test('bad backfill and schedule arguments: one line each, nothing started', async () => {
  const cases: [string[], string][] = [
    [['backfill', '--from', B, '--to', A], `--from ${B} is after --to ${A}`],
    [['backfill', '--from', '2026-01-01', '--to', '2027-01-02'], '2026-01-01..2027-01-02 is 367 dates, more than the 366 one backfill may run (PORTRAIT_BACKFILL_MAX_DAYS); split the range'],
    [['schedule', 'trigger', 'no-such-schedule'], 'no schedule with id no-such-schedule (portrait schedule list lists them)'],
  ];
  for (const [args, message] of cases) {
    const r = await cli(args);
    expect(r.error?.name).toBe('UsageError');
    expect(r.error?.message).toBe(message);
  }
});

/** Number of executions (continue-as-new links) of a workflow id. */
async function chainLength(workflowId: string): Promise<number> {
  let n = 0;
  for await (const _ of ctx.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) n++;
  return n;
}
