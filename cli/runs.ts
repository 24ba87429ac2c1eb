import { existsSync } from 'node:fs';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import type { Knex } from 'knex';
import { readEnv, type PortraitEnv } from '../config/env';
import type { PortraitConfig } from '../config/schema';
import { createDb } from '../db/knex';
import { createLogger } from '../services/logger';
import { startStack } from '../services/stack';
import { QUERY_BACKFILL_PROGRESS, RUN_STATUSES, STAGES, WORKFLOW_BACKFILL, WORKFLOW_DAILY_RUN, type BackfillResult, type DailyRunInput, type RunStatus } from '../shared';
import { parseFlags, requireDate, requireInt, UsageError } from './args';
import { interruptedLine, waitForRun } from './progress';
import { EXIT_INTERRUPTED } from './interrupt';
import { newRunId } from '../activities/operations';

/** How long `cancel` waits for the run to record its cancellation before it leaves it to the workers. */
const CANCEL_WAIT_MS = 60_000;

export const WAIT_HELP = `--wait blocks until the run ends: exit 0 when it succeeded, 1 with one line when it failed or was
cancelled. On a terminal it draws the run's progress (stages done, current stage, elapsed time, rows; a line per
finished stage with its rows and seconds); with --json, or when stdout is not a terminal, it prints only the
final result. Ctrl-C stops the waiting, not the run: the run keeps going on the workers (exit 130; portrait cancel
RUN_ID stops it).`;

export const RUNS_HELP = `Usage: portrait runs [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--status running|succeeded|failed|cancelled] [--limit N] [--json]

Lists runs from the audit tables, oldest as-of date first: run id, as-of date, status, start (UTC), duration, and
per stage its seconds and rows. --from/--to bound the as-of date (both inclusive). --limit keeps the N latest
runs that match (default 50). --json prints
[{run_id, as_of, status, started_at, finished_at, duration_s, stages: [{stage, rows, seconds}]}],
sorted by as_of then started_at; duration_s is null while a run is running.`;

export const CANCEL_HELP = `Usage: portrait cancel RUN_ID|BACKFILL_ID [--json]

Cancels a running run: its workflow is cancelled, its in-flight activities are cancelled, and the run is recorded
as cancelled (audit.runs.status) with the stage it was in. Waits up to 60 s for that record. Cancelling a run that
already ended is refused (exit 1). portrait rerun RUN_ID runs the date again.

A backfill's workflow id (backfill-…, as portrait backfill prints it) cancels the backfill: the date running now
is cancelled like a run, the dates after it are not started. --json prints {workflow_id, status, dates} with each
date as backfill --json lists it.`;

export const RERUN_HELP = `Usage: portrait rerun RUN_ID [--force] [--wait] [--json]

Starts a new run (new run id) for the same as-of date with what the run recorded: the same input folder, the
stored configuration and the same seed. Refused when the run is still running or already succeeded, or when
another run of that date is running, unless --force.
${WAIT_HELP}`;

export interface RunListEntry {
  run_id: string;
  as_of: string;
  status: string;
  started_at: string;
  finished_at: string | null;
  duration_s: number | null;
  stages: { stage: string; rows: number; seconds: number }[];
}

export { newRunId } from '../activities/operations';

/** Flags of `portrait runs`, checked before any service is touched. */
export function parseRunsFlags(argv: string[]) {
  const { values } = parseFlags(argv, { from: { type: 'string' }, to: { type: 'string' }, status: { type: 'string' }, limit: { type: 'string' } });
  const from = values.from === undefined ? undefined : requireDate(values.from, '--from');
  const to = values.to === undefined ? undefined : requireDate(values.to, '--to');
  if (from && to && from > to) throw new UsageError(`--from ${from} is after --to ${to}`);
  if (values.status !== undefined && !(RUN_STATUSES as readonly string[]).includes(values.status)) throw new UsageError(`--status must be one of ${RUN_STATUSES.join(', ')}, got "${values.status}"`);
  return { from, to, status: values.status as RunStatus | undefined, limit: requireInt(values.limit, '--limit', 1, 50), json: !!values.json };
}

/** Runs matching the filters, the `limit` latest of them, oldest first; with the number that matched. */
export async function listRuns(db: Knex, filter: { from?: string; to?: string; status?: RunStatus; limit: number }): Promise<{ runs: RunListEntry[]; matched: number }> {
  const matching = () => {
    const q = db('audit.runs');
    if (filter.from) q.where('as_of', '>=', filter.from);
    if (filter.to) q.where('as_of', '<=', filter.to);
    if (filter.status) q.where('status', filter.status);
    return q;
  };
  const latest = matching()
    .select('run_id', 'as_of', 'status', 'started_at', 'finished_at')
    .orderBy([{ column: 'as_of', order: 'desc' }, { column: 'started_at', order: 'desc' }, { column: 'run_id', order: 'desc' }])
    .limit(filter.limit);
  const rows = (await latest).reverse();
  const [{ n }] = await matching().count<{ n: string }[]>('* as n');
  const stageRows = await db('audit.stage_runs').whereIn('run_id', latest.clone().clearSelect().select('run_id')).select('run_id', 'stage', 'rows', 'duration_ms');
  const byRun = new Map<string, RunListEntry['stages']>();
  for (const s of stageRows) (byRun.get(s.run_id) ?? byRun.set(s.run_id, []).get(s.run_id)!).push({ stage: s.stage, rows: Number(s.rows), seconds: Number(s.duration_ms) / 1000 });
  const runs = rows.map((r) => {
    const started = new Date(r.started_at);
    const finished = r.finished_at ? new Date(r.finished_at) : null;
    const stages = (byRun.get(r.run_id) ?? []).sort((a, b) => STAGES.indexOf(a.stage as never) - STAGES.indexOf(b.stage as never));
    return {
      run_id: r.run_id,
      as_of: r.as_of,
      status: r.status,
      started_at: started.toISOString(),
      finished_at: finished?.toISOString() ?? null,
      duration_s: finished ? (finished.getTime() - started.getTime()) / 1000 : null,
      stages,
    };
  });
  return { runs, matched: Number(n) };
}

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

/** A fixed-width table: one line per run, a "seconds rows" cell per stage. */
export function runsTable(runs: RunListEntry[]): string[] {
  const header = ['run_id', 'as_of', 'status', 'started (UTC)', 'duration', ...STAGES];
  const rows = runs.map((r) => {
    const cells = new Map(r.stages.map((s) => [s.stage, `${s.seconds.toFixed(1)}s ${compact.format(s.rows)}`]));
    return [r.run_id, r.as_of, r.status, r.started_at.slice(0, 19).replace('T', ' '), r.duration_s === null ? '-' : `${r.duration_s.toFixed(1)} s`, ...STAGES.map((s) => cells.get(s) ?? '-')];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((cells) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

export async function runsCommand(argv: string[]): Promise<number> {
  const flags = parseRunsFlags(argv);
  return withServices({ temporal: false }, async ({ db }) => {
    const { runs, matched } = await listRuns(db, flags);
    if (flags.json) out(runs);
    else if (!runs.length) process.stdout.write('no runs match\n');
    else {
      process.stdout.write(runsTable(runs).join('\n') + '\n');
      if (matched > runs.length) process.stdout.write(`(the latest ${runs.length} of ${matched} matching runs; --limit N shows more)\n`);
    }
    return 0;
  });
}

export async function cancelCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {}, 1);
  const runId = requireRunId(positionals[0]);
  if (runId.startsWith('backfill-')) return cancelBackfill(runId, !!values.json);
  return withServices({ temporal: true }, async ({ db, client }) => {
    const run = await findRun(db, runId);
    if (run.status !== 'running') throw new Error(`run ${runId} already ${run.status}${run.finished_at ? ` (finished ${new Date(run.finished_at).toISOString()})` : ''}; nothing to cancel`);
    const handle = client!.workflow.getHandle(run.workflow_id);
    if (!(await workflowRunning(client!, run.workflow_id))) throw new Error(`run ${runId} is recorded as running but its workflow ${run.workflow_id} is no longer running; nothing to cancel`);
    await handle.cancel();
    // The run records its own cancellation; give it a moment so the answer is the recorded status.
    const closed = handle.result().then(() => true, () => true);
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, CANCEL_WAIT_MS).unref())]);
    const after = await findRun(db, runId);
    if (values.json) out({ run_id: runId, workflow_id: run.workflow_id, status: after.status, message: after.error ?? null });
    else if (after.status === 'cancelled') process.stdout.write(`run ${runId} cancelled: ${after.error}\n`);
    else process.stdout.write(`cancellation of run ${runId} requested; it is still ${after.status} (it stops when a worker next picks it up)\n`);
    return 0;
  });
}

/** Cancels a backfill workflow (and with it the date it is running) and reports its dates as they ended. */
async function cancelBackfill(workflowId: string, json: boolean): Promise<number> {
  return withServices({ temporal: true }, async ({ client }) => {
    const handle = client!.workflow.getHandle(workflowId);
    let description;
    try {
      description = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new Error(`no backfill ${workflowId}; portrait backfill prints the id of the one it starts`);
      throw err;
    }
    if (description.type !== WORKFLOW_BACKFILL) throw new Error(`${workflowId} is a ${description.type} workflow, not a backfill`);
    if (description.status.name !== 'RUNNING') throw new Error(`backfill ${workflowId} already ${description.status.name.toLowerCase()}; nothing to cancel`);
    await handle.cancel();
    const closed = handle.result().then(() => true, () => true);
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, CANCEL_WAIT_MS).unref())]);
    const status = (await handle.describe()).status.name.toLowerCase();
    // A closed workflow still answers queries (a worker replays it): the dates as they stood at the end.
    const progress = await handle.query<BackfillResult>(QUERY_BACKFILL_PROGRESS).catch(() => undefined);
    const dates = progress?.dates ?? [];
    if (json) out({ workflow_id: workflowId, status, dates });
    else {
      const done = dates.filter((d) => d.status === 'succeeded' || d.status === 'skipped').length;
      process.stdout.write(status === 'running' ? `cancellation of backfill ${workflowId} requested; it stops when a worker next picks it up\n` : `backfill ${workflowId} ${status}: ${done} of ${dates.length} date(s) done before it\n`);
    }
    return 0;
  });
}

export async function rerunCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { force: { type: 'boolean' }, wait: { type: 'boolean' } }, 1);
  const runId = requireRunId(positionals[0]);
  return withServices({ temporal: true }, async ({ db, client, env }) => {
    const run = await findRun(db, runId);
    if (!values.force) {
      if (run.status === 'succeeded') throw new Error(`run ${runId} already succeeded; --force runs ${run.as_of} again anyway`);
      if (run.status === 'running' && (await workflowRunning(client!, run.workflow_id))) throw new Error(`run ${runId} is still running; portrait cancel ${runId} first, or --force`);
      const others = await db('audit.runs').where({ as_of: run.as_of, status: 'running' }).whereNot({ run_id: runId }).pluck('run_id');
      for (const other of others) {
        const { workflow_id } = await findRun(db, other);
        if (await workflowRunning(client!, workflow_id)) throw new Error(`run ${other} of ${run.as_of} is running; wait for it, portrait cancel ${other}, or --force`);
      }
    }
    if (!existsSync(run.input_dir)) throw new Error(`input folder ${run.input_dir} of run ${runId} no longer exists; start a run with portrait run --as-of ${run.as_of} --input DIR`);
    const input: DailyRunInput = { runId: newRunId(run.as_of), asOf: run.as_of, inputDir: run.input_dir, config: run.config as PortraitConfig, configSha256: run.config_sha256, seed: Number(run.seed) };
    return startDailyRun(client!, env, input, { wait: !!values.wait, json: !!values.json, rerunOf: runId });
  });
}

/** Starts dailyRun for the input; with `wait`, follows it to the end (live progress on a terminal). */
export async function startDailyRun(client: Client, env: PortraitEnv, input: DailyRunInput, opts: { wait: boolean; json: boolean; rerunOf?: string }): Promise<number> {
  const handle = await client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue: env.taskQueue, workflowId: `dailyRun-${input.runId}`, args: [input] });
  const what = opts.rerunOf ? `run ${input.runId} (rerun of ${opts.rerunOf}, as of ${input.asOf})` : `run ${input.runId}`;
  if (!opts.wait) {
    const started = { run_id: input.runId, as_of: input.asOf, workflow_id: handle.workflowId, status: 'started', ...(opts.rerunOf ? { rerun_of: opts.rerunOf } : {}) };
    if (opts.json) out(started);
    else process.stdout.write(`started ${what} (workflow ${handle.workflowId}); portrait status ${input.runId}\n`);
    return 0;
  }
  const live = !opts.json && !!process.stdout.isTTY && !!process.stderr.isTTY;
  const outcome = await waitForRun(client, handle, input.runId, { live });
  if (outcome.interrupted) {
    process.stderr.write(interruptedLine(input.runId) + '\n');
    return EXIT_INTERRUPTED;
  }
  if (opts.json) out(opts.rerunOf ? { ...outcome.result, rerunOf: opts.rerunOf } : outcome.result);
  else process.stdout.write(`${what} succeeded; snapshots in ${outcome.result.snapshotDir}\n`);
  return 0;
}

interface RunRow {
  run_id: string;
  as_of: string;
  status: string;
  workflow_id: string;
  input_dir: string;
  config: unknown;
  config_sha256: string;
  seed: string | number;
  error: string | null;
  finished_at: Date | null;
}

async function findRun(db: Knex, runId: string): Promise<RunRow> {
  const run = await db('audit.runs').where({ run_id: runId }).first();
  if (!run) throw new UsageError(`no run with id ${runId} (portrait runs lists them)`);
  return run;
}

function requireRunId(value: string | undefined): string {
  if (!value) throw new UsageError('RUN_ID is required');
  return value;
}

/** Whether the run's workflow is open: the audit row says "running" also after a workflow was terminated. */
async function workflowRunning(client: Client, workflowId: string): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** Runs `fn` with the database (and a Temporal client when asked), started or found, and stops them after. */
export async function withServices<T>(opts: { temporal: boolean }, fn: (s: { db: Knex; client?: Client; env: PortraitEnv }) => Promise<T>): Promise<T> {
  const env = readEnv();
  const stack = await startStack(env, createLogger(env.logLevel), { temporal: opts.temporal });
  const db = createDb(stack.databaseUrl, 2);
  let connection: Connection | undefined;
  try {
    connection = opts.temporal ? await Connection.connect({ address: stack.temporalAddress }) : undefined;
    const client = connection && new Client({ connection, namespace: env.temporalNamespace });
    return await fn({ db, client, env });
  } finally {
    await connection?.close().catch(() => undefined);
    await db.destroy();
    await stack.stop();
  }
}

export function out(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
