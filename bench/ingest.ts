/**
 * Benchmark of the ingest stage: `npm run bench:ingest -- [--customers N] [--seed S]` (default 1,000,000 customers).
 * Prints one JSON object. In the same run and on the same transactions.csv it times (1) `psql \copy` into a plain
 * table with the same column types and no index or checks, and (2) the ingestSource activity (decode, split,
 * validate every row against the contract, COPY into landing, quarantine, duplicate-key pass, audit row), and
 * reports rows/s of both, their ratio and the activity's peak RSS. Extracts are generated once and cached under
 * PORTRAIT_HOME/bench at the generator's default dirt rates.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { readEnv } from '../config/env';
import { SOURCES, sourcePath } from '../config/sources';
import { createDb, migrate } from '../db/knex';
import { generateSourceExtracts } from '../generator/generate';
import { createActivities } from '../activities';
import type { SourceLoadResult } from '../activities/ingest';
import { ingestWorkerCount } from '../sourceReader/csvParallel';
import { createLogger } from '../services/logger';
import { dropDatabase, ensureDatabase, ensurePostgres, withDatabase } from '../services/postgres';

const RUN_ID = 'bench-ingest';
const AS_OF = '2026-11-20';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { customers: { type: 'string', default: '1000000' }, seed: { type: 'string', default: '1' } } });
  const loadAvgStart = os.loadavg()[0]!;
  const customers = Number(values.customers);
  const seed = Number(values.seed);
  const env = readEnv();
  const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const pg = await ensurePostgres(env, log);
  const database = 'portrait_bench_ingest';
  const admin = withDatabase(pg.url, 'postgres');
  await dropDatabase(admin, database);
  await ensureDatabase(admin, database);
  const url = withDatabase(pg.url, database);
  const db = createDb(url, 4);
  await migrate(db);

  const dir = path.join(env.home, 'bench', `ingest-n${customers}-s${seed}`);
  const t0 = now();
  if (!existsSync(path.join(dir, 'generate-summary.json'))) await generateSourceExtracts({ customers, seed, outDir: dir, asOf: AS_OF });
  const generateSeconds = now() - t0;
  const file = path.join(dir, sourcePath(SOURCES.transactions, AS_OF));

  // psql \copy: the same file into a plain table with landing's column types, no index, no validation.
  await db.raw(`create table public.psql_transactions (txn_id text not null, account_id text not null, customer_key text not null, txn_ts timestamptz not null,
    amount numeric(18,2) not null, direction text not null, channel text not null, category text not null)`);
  const t1 = now();
  execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-q', '-c', `\\copy public.psql_transactions from '${file.replace(/'/g, "''")}' with (format csv, header true)`], { stdio: ['ignore', 'ignore', 'inherit'] });
  const psqlSeconds = now() - t1;
  const psqlRows = Number((await db.raw('select count(*)::bigint as n from public.psql_transactions')).rows[0].n);
  await db.raw('drop table public.psql_transactions');
  await db.raw('checkpoint');

  await db('audit.runs').insert({ run_id: RUN_ID, as_of: AS_OF, input_dir: dir, config_sha256: 'bench', config: '{}', code_version: 'bench', seed, status: 'running', snapshot_dir: path.join(env.snapshotDir, RUN_ID), started_at: new Date() });
  const activities = createActivities({ db, databaseUrl: url, log, env, codeVersion: 'bench' });
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const t2 = now();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const load = (await new MockActivityEnvironment().run(activities.ingestSource, { runId: RUN_ID, inputDir: dir, source: 'transactions' as const, asOf: AS_OF, timezone: 'Asia/Shanghai' })) as SourceLoadResult;
  const ingestSeconds = now() - t2;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  clearInterval(sampler);

  const psqlRate = psqlRows / psqlSeconds;
  const ingestRate = load.rowsIn / ingestSeconds;
  const result = {
    bench: 'ingest',
    customers,
    transactions_csv_mb: Math.round(statSync(file).size / 1e6),
    generate_seconds: round(generateSeconds),
    psql_copy: { rows: psqlRows, seconds: round(psqlSeconds), rows_per_s: Math.round(psqlRate) },
    ingest_source: { rows_in: load.rowsIn, loaded: load.loaded, quarantined: load.quarantined, reasons: load.reasons, seconds: round(ingestSeconds), rows_per_s: Math.round(ingestRate) },
    ratio_to_psql: round(ingestRate / psqlRate),
    // CPU of this process (activity thread and ingest workers) and how busy the activity thread's event loop was.
    ingest_node_cpu_seconds: round((cpu.user + cpu.system) / 1e6),
    ingest_main_thread_utilization: round(elu.utilization),
    ingest_workers: ingestWorkerCount(env.ingestWorkers),
    ingest_peak_rss_mb: Math.round(peakRss / 1e6),
    node: process.version,
    postgres: (await db.raw('show server_version')).rows[0].server_version,
    load_avg_start: round(loadAvgStart),
  };
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  await db.destroy();
  await dropDatabase(admin, database);
  await pg.stop();
}

const now = () => performance.now() / 1000;
const round = (x: number) => Number(x.toFixed(3));

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:ingest: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
