import { createReadStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Knex } from 'knex';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { knexRunner } from '../activities/pg';
import { SOURCES, SOURCE_NAMES, sourcePath } from '../config/sources';
import { ensureLandingPartition } from '../db/landing';
import { readEnv, type PortraitEnv } from '../config/env';
import { createDb, migrate } from '../db/knex';
import { createLogger } from '../services/logger';
import { dropDatabase, ensureDatabase, ensurePostgres, withDatabase } from '../services/postgres';

/**
 * A benchmark's own database, dropped and migrated afresh on PostgreSQL (DATABASE_URL or the embedded one) — or, when
 * `reuseIf` says the existing one already holds what the benchmark loads, kept as it is (`reused`).
 */
export async function openBenchDatabase(database: string, poolSize: number, opts: { reuseIf?: (db: Knex) => Promise<boolean> } = {}) {
  const env: PortraitEnv = readEnv();
  const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const pg = await ensurePostgres(env, log);
  const admin = withDatabase(pg.url, 'postgres');
  const url = withDatabase(pg.url, database);
  await ensureDatabase(admin, database);
  let db: Knex = createDb(url, poolSize);
  if (opts.reuseIf && (await opts.reuseIf(db))) {
    await migrate(db);
    return { env, log, pg, url, db, reused: true };
  }
  await db.destroy();
  await dropDatabase(admin, database);
  await ensureDatabase(admin, database);
  db = createDb(url, poolSize);
  await migrate(db);
  return { env, log, pg, url, db, reused: false };
}

/** Prints a benchmark's JSON (with the Node and PostgreSQL versions) and closes its database and server. */
export async function printBenchResult(
  { db, pg }: { db: Knex; pg: { stop(): Promise<void> } },
  result: Record<string, unknown>,
): Promise<void> {
  const postgres = (await db.raw('show server_version')).rows[0].server_version as string;
  process.stdout.write(JSON.stringify({ ...result, node: process.version, postgres }, null, 2) + '\n');
  await db.destroy();
  await pg.stop();
}

/**
 * Bulk-loads generated extracts (well-formed: no dirt) straight into a run's landing partitions, bypassing the ingest
 * stage (it has its own benchmark). Returns the rows loaded per source.
 */
export async function bulkLoadExtracts(db: Knex, url: string, dir: string, runId: string, asOf: string): Promise<Record<string, number>> {
  const loaded: Record<string, number> = {};
  for (const source of SOURCE_NAMES) {
    const contract = SOURCES[source];
    await ensureLandingPartition(knexRunner(db), source, runId);
    await db.raw(`alter table landing.${source} alter column run_id set default '${runId}'`);
    await db.raw(`create sequence if not exists landing.${source}_bench_seq; alter table landing.${source} alter column row_number set default nextval('landing.${source}_bench_seq')`);
    const client = new Client({ connectionString: url });
    await client.connect();
    await pipeline(createReadStream(path.join(dir, sourcePath(contract, asOf))), client.query(copyFrom(`copy landing.${source} (${contract.columns.map((c) => c.name).join(', ')}) from stdin with (format csv, header true)`)));
    await client.end();
    const [{ n }] = (await db.raw(`select count(*)::bigint as n from landing.${source}`)).rows;
    loaded[source] = Number(n);
  }
  await db.raw('analyze');
  return loaded;
}
