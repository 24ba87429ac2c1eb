/**
 * Benchmark of the snapshot writer: `npm run -s bench:snapshot -- [--customers N] [--seed S] [--v1] [--database NAME]` (default 1,000,000).
 * Builds a run's golden customers, tags and segments in a dedicated database (extracts generated once and bulk-loaded,
 * as bench:tags does), then writes the largest snapshot files (tags, customers, segments) three ways from the same
 * rows and prints one JSON object (`reused: true` when the database already held that run from an earlier call with
 * the same customers and seed, so only the writing is repeated):
 * - `portrait`: relations/parquet.ts as the stages call it (PostgreSQL COPY → spool → DuckDB → typed zstd Parquet);
 * - `duckdb_copy`: DuckDB's own `COPY tbl TO … (FORMAT parquet)` with its defaults, from the same rows already in a
 *   DuckDB table (loading them is not timed), i.e. the writer alone;
 * - `duckdb_from_postgres`: DuckDB (defaults, 2 threads) running the relation's same select on PostgreSQL through its
 *   postgres extension (binary COPY) and writing with its own COPY: the same job from the same source, when the
 *   extension is available (bench/duckdbPostgres.ts); composite columns stay JSON text there;
 * - `v1` (with --v1): the contract-v1 writer (parquetjs row by row, untyped text and doubles, 8,192-row groups).
 * Seconds (Portrait's split into the PostgreSQL COPY to the spool and the Parquet step), bytes, ratios
 * portrait/duckdb_copy, and the worker's peak RSS while Portrait writes.
 */
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ParquetSchema, ParquetWriter } from '@dsnp/parquetjs';
import { DuckDBInstance } from '@duckdb/node-api';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../activities';
import { readEnv } from '../config/env';
import { loadConfig } from '../config/load';
import { generateSourceExtracts } from '../generator/generate';
import { selectSql, writeSnapshot } from '../relations/parquet';
import { customers as customersRel, segments as segmentsRel, tags as tagsRel } from '../relations/snapshots';
import type { RelationDef } from '../relations/types';
import { attachPostgres, postgresExtension } from './duckdbPostgres';
import { bulkLoadExtracts, openBenchDatabase, printBenchResult } from './benchDatabase';

const RUN_ID = 'bench-snapshot';
const AS_OF = '2026-11-20';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { customers: { type: 'string', default: '1000000' }, seed: { type: 'string', default: '1' }, v1: { type: 'boolean', default: false }, 'duckdb-postgres-extension': { type: 'string' }, database: { type: 'string', default: 'portrait_bench_snapshot' } } });
  if (!/^[a-z_][a-z0-9_]*$/.test(values.database)) throw new Error(`--database must be a lower-case identifier, got "${values.database}"`);
  const customers = Number(values.customers);
  const seed = Number(values.seed);
  const env0 = readEnv();
  const dirFor = (home: string) => path.join(home, 'bench', `tags-n${customers}-s${seed}`);
  // The run's clean/tags/segments are kept from an earlier call on the same database, customers and seed.
  const reuseIf = async (db: import('knex').Knex) => {
    const done = await db('audit.runs').where({ run_id: RUN_ID, seed, input_dir: dirFor(env0.home) }).first('run_id').catch(() => undefined);
    return !!done && Number((await db('mart.segments').where({ run_id: RUN_ID }).count<{ n: string }[]>('* as n'))[0]!.n) === customers;
  };
  const { env, log, pg, url, db, reused } = await openBenchDatabase(values.database, 6, { reuseIf });

  const dir = dirFor(env.home);
  if (!reused) {
    if (!existsSync(path.join(dir, 'generate-summary.json'))) {
      await generateSourceExtracts({ customers, seed, outDir: dir, asOf: AS_OF, dirt: { malformedDate: 0, duplicateRow: 0, negativeAmount: 0 } });
    }
    await bulkLoadExtracts(db, url, dir, RUN_ID, AS_OF);
    const config = loadConfig();
    const runDir = path.join(env.snapshotDir, RUN_ID);
    await db('audit.runs').insert({ run_id: RUN_ID, as_of: AS_OF, input_dir: dir, config_sha256: 'bench', config: JSON.stringify(config), code_version: 'bench', seed, status: 'running', snapshot_dir: runDir, started_at: new Date() });
    const activities = createActivities({ db, databaseUrl: url, log, env, codeVersion: 'bench' });
    const act = new MockActivityEnvironment();
    await act.run(activities.cleanCustomers, { runId: RUN_ID });
    await act.run(activities.computeTags, { runId: RUN_ID, asOf: AS_OF, timezone: config.timezone });
    await act.run(activities.assignSegments, { runId: RUN_ID, rules: [...config.segments], clustering: { ...config.clustering, enabled: false }, seed });
  }

  const out = path.join(env.home, 'bench', 'snapshot-out');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const duck = await DuckDBInstance.create(':memory:');
  const version = String((await (await duck.connect()).runAndReadAll('select version()')).getRows()[0]![0]);
  const extension = postgresExtension(path.join(env.home, 'bench'), version, values['duckdb-postgres-extension']);
  const files: Record<string, unknown>[] = [];
  for (const def of [tagsRel, customersRel, segmentsRel] as RelationDef[]) {
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
    const timing = { spoolSeconds: 0, parquetSeconds: 0 };
    const t0 = now();
    const written = await writeSnapshot(out, def, { db, databaseUrl: url, params: { runId: RUN_ID } }, { timing });
    const portraitSeconds = now() - t0;
    clearInterval(sampler);
    const portraitBytes = statSync(path.join(out, def.file)).size;
    const again = await writeSnapshot(out, def, { db, databaseUrl: url, params: { runId: RUN_ID } }, { file: `again-${def.file}` });

    const c = await duck.connect();
    await c.run(`create or replace table rows as select * from read_parquet('${path.join(out, def.file)}')`);
    const baseline = path.join(out, `duckdb-${def.file}`);
    const t1 = now();
    await c.run(`copy rows to '${baseline}' (format parquet)`);
    const duckSeconds = now() - t1;
    c.closeSync();
    const duckBytes = statSync(baseline).size;

    const fromPostgres = 'file' in extension ? await duckdbFromPostgres(extension.file, url, db, def, path.join(out, `duckdb-pg-${def.file}`)) : { skipped: extension.unavailable };
    const v1 = values.v1 ? await writeV1(db, def, RUN_ID, path.join(out, `v1-${def.file}`)) : null;
    files.push({
      file: def.file,
      rows: written.rows,
      columns: def.columns.length,
      portrait: { seconds: round(portraitSeconds), postgres_copy_seconds: round(timing.spoolSeconds), parquet_seconds: round(timing.parquetSeconds), bytes: portraitBytes, peak_rss_mb: Math.round(peakRss / 1e6), byte_identical_rewrite: again.sha256 === written.sha256 },
      duckdb_copy: { seconds: round(duckSeconds), bytes: duckBytes },
      duckdb_from_postgres: fromPostgres,
      // seconds: the whole path from PostgreSQL; writer_seconds: Portrait's DuckDB step (typed read + zstd write) alone.
      ratio: {
        seconds: round(portraitSeconds / duckSeconds), writer_seconds: round(timing.parquetSeconds / duckSeconds), bytes: round(portraitBytes / duckBytes),
        ...('seconds' in fromPostgres ? { seconds_vs_duckdb_from_postgres: round(portraitSeconds / fromPostgres.seconds), bytes_vs_duckdb_from_postgres: round(portraitBytes / fromPostgres.bytes) } : {}),
      },
      ...(v1 ? { v1 } : {}),
    });
  }
  const total = (k: 'portrait' | 'duckdb_copy' | 'duckdb_from_postgres', f: 'seconds' | 'bytes') => files.reduce((n, x) => n + ((x[k] as Record<string, number>)[f] ?? 0), 0);
  await printBenchResult({ db, pg }, {
    bench: 'snapshot',
    customers,
    reused,
    files,
    total: {
      portrait_seconds: round(total('portrait', 'seconds')), duckdb_copy_seconds: round(total('duckdb_copy', 'seconds')),
      portrait_bytes: total('portrait', 'bytes'), duckdb_copy_bytes: total('duckdb_copy', 'bytes'),
      ratio_seconds: round(total('portrait', 'seconds') / total('duckdb_copy', 'seconds')), ratio_bytes: round(total('portrait', 'bytes') / total('duckdb_copy', 'bytes')),
      ...('file' in extension
        ? {
            duckdb_from_postgres_seconds: round(total('duckdb_from_postgres', 'seconds')), duckdb_from_postgres_bytes: total('duckdb_from_postgres', 'bytes'),
            ratio_seconds_vs_duckdb_from_postgres: round(total('portrait', 'seconds') / total('duckdb_from_postgres', 'seconds')),
            ratio_bytes_vs_duckdb_from_postgres: round(total('portrait', 'bytes') / total('duckdb_from_postgres', 'bytes')),
          }
        : { duckdb_from_postgres: { skipped: extension.unavailable } }),
    },
  });
}

/** DuckDB with its defaults reading the relation's select from PostgreSQL (its postgres extension) and writing it. */
async function duckdbFromPostgres(extensionFile: string, url: string, db: import('knex').Knex, def: RelationDef, file: string) {
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  try {
    const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
    const t0 = now();
    await attachPostgres(c, extensionFile, url);
    await c.run(`copy (select * from postgres_query('pg', ${lit(db.raw(selectSql(def), { runId: RUN_ID }).toQuery())})) to ${lit(file)} (format parquet)`);
    return { seconds: round(now() - t0), bytes: statSync(file).size };
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

/** The contract-v1 writer, for comparison: every value as UTF8 text, DOUBLE or BOOLEAN, uncompressed, row by row. */
async function writeV1(db: import('knex').Knex, def: RelationDef, runId: string, file: string) {
  const schema: Record<string, { type: 'UTF8' | 'DOUBLE' | 'BOOLEAN'; optional: true }> = {};
  for (const c of def.columns) schema[c.name] = { type: c.type === 'BOOLEAN' ? 'BOOLEAN' : c.type === 'INT32' || c.type === 'INT64' || c.type === 'DOUBLE' || c.type === 'DECIMAL(18,2)' ? 'DOUBLE' : 'UTF8', optional: true };
  const t0 = now();
  const writer = await ParquetWriter.openFile(new ParquetSchema(schema), file, { rowGroupSize: 8192 });
  for await (const row of db.raw(selectSql(def), { runId }).stream() as AsyncIterable<Record<string, unknown>>) {
    const out: Record<string, unknown> = {};
    for (const c of def.columns) {
      const v = row[c.name];
      // v1 wrote dates and instants as text; the select's typed values come back as Dates.
      out[c.name] = v === null ? null : schema[c.name]!.type === 'DOUBLE' ? Number(v) : schema[c.name]!.type === 'BOOLEAN' ? Boolean(v) : typeof v === 'string' ? v : v instanceof Date ? (c.type === 'DATE' ? v.toISOString().slice(0, 10) : v.toISOString()) : JSON.stringify(v);
    }
    await writer.appendRow(out);
  }
  await writer.close();
  return { seconds: round(now() - t0), bytes: statSync(file).size };
}

const now = () => performance.now() / 1000;
const round = (x: number) => Number(x.toFixed(3));

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:snapshot: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
