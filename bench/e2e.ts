/**
 * End-to-end benchmark: `npm run -s bench:e2e -- --customers N --days K [--seed S] [--start YYYY-MM-DD] [--check]`.
 * Generates the bank's extracts for K consecutive dates (day 1 as generated; every later day is the same bank with
 * the products opened since, more among the customers Portrait contacted), runs them in date order through the real
 * dailyRun workflow on a `portrait worker` child process, and prints per day and stage seconds and rows (from the
 * audit tables, as `portrait runs --json` reports them) with the worker's peak RSS during each stage, the worker's and
 * PostgreSQL's peak memory, and each day's ratio to day 1. Generation is not timed; outcome collection is left out (awaitOutcomes false). --check then asserts
 * the month invariants (bench/monthCheck.ts) and exits 1 with one line per violation. JSON on stdout, progress on
 * stderr (--no-anchors skips the anchors). Services are found or started as `portrait demo` does; the runs go to a fresh database (--database, default
 * portrait_bench_e2e). Each day also lists its activities' run times from the workflow history. After the runs, the
 * anchors on day 1's files (bench/anchors.ts): `psql \copy` of the largest source, beside ingest's time for that
 * source, and DuckDB computing the per-customer transaction aggregates from the CSV.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Knex } from 'knex';
import { readEnv } from '../config/env';
import { loadConfig } from '../config/load';
import { createDb, migrate } from '../db/knex';
import { createLogger } from '../services/logger';
import { dropDatabase, ensureDatabase, withDatabase } from '../services/postgres';
import { startStack, type Stack } from '../services/stack';
import { parseFlags, requireDate, requireInt, UsageError } from '../cli/args';
import { listRuns } from '../cli/runs';
import { addDays, runConsecutiveDays } from './consecutiveDays';
import { checkMonth, readMonthFacts, timeTrend } from './monthCheck';
import { postgresSampler, resetPeak, statusMb } from './processMemory';
import { activityTimings, duckdbTransactionAnchor, largestSource, psqlCopyAnchor, type ActivityTiming } from './anchors';

const DEFAULT_DATABASE = 'portrait_bench_e2e';
const SAMPLE_MS = 500;
const MAX_DAYS = 366;

interface DayResult {
  as_of: string;
  run_id: string;
  total_seconds: number;
  ratio_to_day1: number;
  /** worker_peak_rss_mb: the largest worker RSS sampled while the stage ran (samples every SAMPLE_MS). */
  stages: { stage: string; seconds: number; rows: number; worker_peak_rss_mb: number | null }[];
  worker_peak_rss_mb: number | null;
  postgres_peak_rss_mb: number | null;
  activities: ActivityTiming[];
}

function parse(argv: string[]) {
  const { values } = parseFlags(argv, { customers: { type: 'string' }, days: { type: 'string' }, seed: { type: 'string' }, start: { type: 'string' }, check: { type: 'boolean' }, database: { type: 'string' }, 'no-anchors': { type: 'boolean' } });
  if (values.database !== undefined && !/^[a-z_][a-z0-9_]*$/.test(values.database)) throw new UsageError(`--database must be a lower-case identifier, got "${values.database}"`);
  const days = requireInt(values.days, '--days', 1);
  if (days > MAX_DAYS) throw new UsageError(`--days must be at most ${MAX_DAYS}, got ${days}`);
  return {
    customers: requireInt(values.customers, '--customers', 100),
    days,
    seed: requireInt(values.seed, '--seed', 0, 7),
    start: values.start === undefined ? '2026-11-20' : requireDate(values.start, '--start'),
    check: !!values.check,
    database: values.database ?? DEFAULT_DATABASE,
    anchors: !values['no-anchors'],
  };
}

const progress = (line: string) => process.stderr.write(`bench:e2e ${line}\n`);

async function main(argv: string[]): Promise<number> {
  const opts = parse(argv);
  const env = readEnv();
  const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const config = loadConfig();
  const stack: Stack = await startStack(env, log);
  let worker: ChildProcess | undefined;
  let db: Knex | undefined;
  let connection: Connection | undefined;
  const outcomeWorkflows: string[] = [];
  try {
    const admin = withDatabase(stack.databaseUrl, 'postgres');
    await dropDatabase(admin, opts.database);
    await ensureDatabase(admin, opts.database);
    const databaseUrl = withDatabase(stack.databaseUrl, opts.database);
    db = createDb(databaseUrl, 2);
    await migrate(db);
    // A private task queue, so no other worker (other code) takes the benchmark's tasks.
    const taskQueue = `${env.taskQueue}-bench-e2e-${process.pid}`;
    worker = spawnWorker({ databaseUrl, temporalAddress: stack.temporalAddress, taskQueue });
    const workerExit = new Promise<never>((_, reject) => worker!.once('exit', (code, signal) => reject(new Error(`the worker process exited (${signal ?? code}) during the benchmark; its stderr is above`))));
    workerExit.catch(() => undefined);
    connection = await Connection.connect({ address: stack.temporalAddress });
    const client = new Client({ connection, namespace: env.temporalNamespace });
    const pgMemory = await postgresSampler(databaseUrl);

    const dataDir = path.join(env.home, 'bench', `e2e-n${opts.customers}-s${opts.seed}-${opts.start}`);
    const dates = Array.from({ length: opts.days }, (_, k) => addDays(opts.start, k));
    const days: DayResult[] = [];
    const runIds: string[] = [];
    let workerPeak: number | null = null;
    let pgPeak: number | null = null;
    let sampling = Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    // The worker's RSS over time, to attribute its peak to stages (VmHWM alone says only how high, not when).
    let rssSamples: { at: number; mb: number }[] = [];
    const sample = async () => {
      const rss = statusMb(worker!.pid!, 'VmRSS');
      if (rss !== null) rssSamples.push({ at: Date.now(), mb: rss });
      const hwm = statusMb(worker!.pid!, 'VmHWM');
      if (hwm !== null) workerPeak = Math.max(workerPeak ?? 0, hwm);
      if (pgMemory) pgPeak = Math.max(pgPeak ?? 0, await pgMemory.sampleMb().catch(() => 0));
    };
    await runConsecutiveDays({
      db, client, taskQueue, config, customers: opts.customers, seed: opts.seed, dates, dataDir, until: workerExit,
      beforeRun(asOf, k) {
        progress(`day ${k + 1}/${opts.days} ${asOf}: extracts ready, running`);
        workerPeak = resetPeak(worker!.pid!) ? 0 : null;
        pgPeak = pgMemory ? 0 : null;
        rssSamples = [];
        timer = setInterval(() => (sampling = sampling.then(sample)), SAMPLE_MS);
      },
      async afterRun(result, k) {
        clearInterval(timer);
        await sampling;
        await sample();
        if (!result) return;
        outcomeWorkflows.push(...result.outcomeWorkflowIds);
        runIds.push(result.runId);
        const { runs } = await listRuns(db!, { from: result.asOf, to: result.asOf, limit: 50 });
        const run = runs.find((r) => r.run_id === result.runId)!;
        const total = run.duration_s ?? 0;
        days.push({
          as_of: result.asOf,
          run_id: result.runId,
          total_seconds: round(total),
          ratio_to_day1: days.length && days[0]!.total_seconds > 0 ? round(total / days[0]!.total_seconds, 3) : 1,
          stages: await stagePeaks(db!, result.runId, run.stages, rssSamples),
          worker_peak_rss_mb: workerPeak === null ? null : round(workerPeak, 1),
          postgres_peak_rss_mb: pgPeak === null ? null : round(pgPeak, 1),
          activities: await activityTimings(client.workflow.getHandle(`dailyRun-${result.runId}`)),
        });
        progress(`day ${k + 1}/${opts.days} ${result.asOf}: ${round(total)} s (${days.at(-1)!.ratio_to_day1} × day 1)`);
      },
    });
    await pgMemory?.close();

    const report: Record<string, unknown> = { customers: opts.customers, days };
    if (opts.anchors && days.length) {
      // Same files as day 1, after the runs, so they neither compete with nor warm the cache for the timed stages.
      progress('anchors: psql \\copy and DuckDB on day 1 files');
      const inputDir = path.join(dataDir, dates[0]!);
      const largest = largestSource(inputDir, dates[0]!);
      const copy = await psqlCopyAnchor(db, databaseUrl, largest.source, largest.file);
      const ingest = days[0]!.activities.find((a) => a.activity === `ingestSource:${largest.source}`);
      report.anchors = {
        psql_copy: { ...copy, bytes: largest.bytes },
        ingest_source_seconds: ingest?.seconds ?? null,
        ingest_to_psql_copy_rate: ingest && 'seconds' in copy && ingest.seconds > 0 ? round(copy.seconds / ingest.seconds, 3) : null,
        duckdb_transaction_aggregates: await duckdbTransactionAnchor(inputDir, dates[0]!, config.timezone),
      };
    }
    let violations: string[] = [];
    if (opts.check) {
      violations = checkMonth(await readMonthFacts(db, runIds, dates), config.policies, { timeTrend: true });
      report.check = { violations, time_trend: timeTrend(days.map((d) => d.total_seconds)) };
    }
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    for (const v of violations) process.stderr.write(`bench:e2e check failed: ${v}\n`);
    return violations.length ? 1 : 0;
  } finally {
    // The outcome workflows wait out their attribution window; the benchmark does not, and leaves none behind.
    if (connection) {
      const client = new Client({ connection, namespace: env.temporalNamespace });
      await Promise.all(outcomeWorkflows.map((id) => client.workflow.getHandle(id).terminate('bench:e2e finished').catch(() => undefined)));
      await connection.close().catch(() => undefined);
    }
    await stopWorker(worker);
    await db?.destroy();
    await stack.stop();
  }
}

/** Each stage with the largest worker RSS sampled between its start and end (audit.stage_runs). */
async function stagePeaks(db: Knex, runId: string, stages: { stage: string; seconds: number; rows: number }[], samples: { at: number; mb: number }[]): Promise<DayResult['stages']> {
  const windows = await db('audit.stage_runs').where({ run_id: runId }).select('stage', 'started_at', 'finished_at');
  return stages.map((s) => {
    const w = windows.find((x) => x.stage === s.stage);
    const from = w ? new Date(w.started_at).getTime() : Infinity;
    const to = w?.finished_at ? new Date(w.finished_at).getTime() : -Infinity;
    const inStage = samples.filter((x) => x.at >= from && x.at <= to).map((x) => x.mb);
    return { stage: s.stage, seconds: round(s.seconds), rows: s.rows, worker_peak_rss_mb: inStage.length ? round(Math.max(...inStage), 1) : null };
  });
}

/**
 * `portrait worker` in its own process, so its peak memory is its own (the compiled CLI next to this file), with the
 * malloc arena limit the image sets (Dockerfile) unless the caller sets another.
 */
function spawnWorker(opts: { databaseUrl: string; temporalAddress: string; taskQueue: string }): ChildProcess {
  const cli = path.join(__dirname, '..', 'cli', 'portrait.js');
  return spawn(process.execPath, [cli, 'worker'], {
    env: { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', ...process.env, DATABASE_URL: opts.databaseUrl, TEMPORAL_ADDRESS: opts.temporalAddress, PORTRAIT_TASK_QUEUE: opts.taskQueue, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function stopWorker(worker: ChildProcess | undefined): Promise<void> {
  if (!worker || worker.exitCode !== null || worker.signalCode !== null) return;
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  worker.kill('SIGTERM');
  const timer = setTimeout(() => worker.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench:e2e: ${(err as Error).message.split('\n')[0]}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
