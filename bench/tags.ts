/**
 * Benchmark of the tags and segment stages: `npm run bench:tags -- [--customers N] [--seed S] [--database NAME]`
 * (default 1,000,000). Prints one JSON object. The extracts are generated once (cached under PORTRAIT_HOME/bench) and
 * bulk-loaded straight into the landing tables of a dedicated database (the ingest stage has its own benchmark), the
 * clean stage builds the golden customers, then computeTags and assignSegments are timed as the daily run calls them.
 * With `--database NAME`, a database that an earlier run of the same size and seed loaded and cleaned is reused as
 * it is (a 1M load and clean take longer than the stages measured); otherwise it is made afresh under that name.
 * Tags are reported per phase (the `tags phase` log lines of computeTags).
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import os from 'node:os';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Knex } from 'knex';
import pino from 'pino';
import { SOURCE_NAMES } from '../config/sources';
import { loadConfig } from '../config/load';
import { generateSourceExtracts } from '../generator/generate';
import { createActivities } from '../activities';
import type { StageResult } from '../shared';
import { bulkLoadExtracts, openBenchDatabase, printBenchResult } from './benchDatabase';

const RUN_ID = 'bench-tags';
const AS_OF = '2026-11-20';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { customers: { type: 'string', default: '1000000' }, seed: { type: 'string', default: '1' }, database: { type: 'string' } },
  });
  const customers = Number(values.customers);
  const seed = Number(values.seed);
  const { env, log, pg, url, db, reused } = await openBenchDatabase(values.database ?? 'portrait_bench_tags', 6, {
    reuseIf: values.database ? (d) => loadedBefore(d, customers, seed) : undefined,
  });

  const dir = path.join(env.home, 'bench', `tags-n${customers}-s${seed}`);
  const t0 = now();
  if (!reused && !existsSync(path.join(dir, 'generate-summary.json'))) {
    // Dates stay well-formed so the files can be bulk-loaded without the ingest stage's validation.
    await generateSourceExtracts({ customers, seed, outDir: dir, asOf: AS_OF, dirt: { malformedDate: 0, duplicateRow: 0, negativeAmount: 0 } });
  }
  const generateSeconds = now() - t0;

  const t1 = now();
  const loaded = reused ? await landedRows(db) : await bulkLoadExtracts(db, url, dir, RUN_ID, AS_OF);
  const loadSeconds = now() - t1;

  const config = loadConfig();
  // The phase lines of computeTags (info level) are collected here; everything else logs at the bench's level.
  const phases: Record<string, number> = {};
  const phaseLog = pino({ level: 'info', base: undefined }, { write: (line: string) => collectPhase(phases, line) });
  if (!reused) {
    await db('audit.runs').insert({ run_id: RUN_ID, as_of: AS_OF, input_dir: dir, config_sha256: `bench n${customers} s${seed}`, config: JSON.stringify(config), code_version: 'bench', seed, status: 'running', snapshot_dir: path.join(env.snapshotDir, RUN_ID), started_at: new Date() });
  }
  const activities = createActivities({ db, databaseUrl: url, log, env, codeVersion: 'bench' });
  const tagActivities = createActivities({ db, databaseUrl: url, log: phaseLog, env, codeVersion: 'bench' });
  const act = new MockActivityEnvironment();

  const t2 = now();
  if (!reused) await act.run(activities.cleanCustomers, { runId: RUN_ID });
  const cleanSeconds = now() - t2;

  // SQL time: every statement knex runs (snapshot streams excluded), to split database work from TypeScript work.
  let sqlMs = 0;
  const started = new Map<string, number>();
  db.on('query', (q: { __knexQueryUid: string }) => started.set(q.__knexQueryUid, performance.now()));
  db.on('query-response', (_r: unknown, q: { __knexQueryUid: string }) => {
    const s = started.get(q.__knexQueryUid);
    if (s !== undefined) sqlMs += performance.now() - s;
  });
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);

  const t3 = now();
  const tags = (await act.run(tagActivities.computeTags, { runId: RUN_ID, asOf: AS_OF, timezone: config.timezone })) as StageResult;
  const tagsSeconds = now() - t3;
  const sqlTags = sqlMs / 1000;
  sqlMs = 0;
  const t4 = now();
  const segments = (await act.run(activities.assignSegments, { runId: RUN_ID, rules: [...config.segments], clustering: config.clustering, seed })) as StageResult;
  const segmentSeconds = now() - t4;
  const sqlSegments = sqlMs / 1000;
  clearInterval(sampler);

  const txBytes = statSync(path.join(dir, 'transactions.csv')).size;
  const result = {
    bench: 'tags',
    customers,
    golden_customers: tags.rows,
    transactions: loaded.transactions,
    transactions_csv_mb: Math.round(txBytes / 1e6),
    source_rows: loaded,
    database: { name: values.database ?? 'portrait_bench_tags', reused },
    generate_seconds: round(generateSeconds),
    bulk_load_seconds: round(loadSeconds),
    clean_seconds: round(cleanSeconds),
    tags: { seconds: round(tagsSeconds), phases, sql_seconds: round(sqlTags), sql_share: round(sqlTags / tagsSeconds), tags: TAG_COUNT(tags.details) },
    segments: { seconds: round(segmentSeconds), sql_seconds: round(sqlSegments), sql_share: round(sqlSegments / segmentSeconds), sizes: (segments.details as { segments: Record<string, number> }).segments },
    tags_plus_segments_seconds: round(tagsSeconds + segmentSeconds),
    worker_peak_rss_mb: Math.round(peakRss / 1e6),
    load_average: os.loadavg().map((x) => round(x)),
  };
  await printBenchResult({ db, pg }, result);
}

/** A database this benchmark loaded and cleaned before for the same size and seed (its run row says which). */
async function loadedBefore(db: Knex, customers: number, seed: number): Promise<boolean> {
  const found = await db.raw(`select 1 from information_schema.tables where table_schema = 'audit' and table_name = 'stage_runs'`);
  if (found.rows.length === 0) return false;
  const runs = await db('audit.runs').where({ run_id: RUN_ID, config_sha256: `bench n${customers} s${seed}` }).select('run_id');
  const cleaned = await db('audit.stage_runs').where({ run_id: RUN_ID, stage: 'clean' }).select('stage');
  return runs.length === 1 && cleaned.length === 1;
}

async function landedRows(db: Knex): Promise<Record<string, number>> {
  const loaded: Record<string, number> = {};
  for (const source of SOURCE_NAMES) loaded[source] = Number((await db.raw(`select count(*)::bigint as n from landing.${source} where run_id = ?`, [RUN_ID])).rows[0].n);
  return loaded;
}

function collectPhase(phases: Record<string, number>, line: string): void {
  const entry = JSON.parse(line) as { phase?: string; seconds?: number };
  if (entry.phase !== undefined && entry.seconds !== undefined) phases[entry.phase] = entry.seconds;
}

const TAG_COUNT = (details: unknown) => (details as { tags: number }).tags;
const now = () => performance.now() / 1000;
const round = (x: number) => Number(x.toFixed(3));

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:tags: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
