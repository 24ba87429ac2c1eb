import type { Knex } from 'knex';
import { readEnv, type PortraitEnv } from '../config/env';
import { createDb, migrate } from '../db/knex';
import { createLogger } from '../services/logger';
import { dropDatabase, ensureDatabase, ensurePostgres, withDatabase } from '../services/postgres';

/** A benchmark's own database, dropped and migrated afresh on PostgreSQL (DATABASE_URL or the embedded one). */
export async function openBenchDatabase(database: string, poolSize: number) {
  const env: PortraitEnv = readEnv();
  const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const pg = await ensurePostgres(env, log);
  const admin = withDatabase(pg.url, 'postgres');
  await dropDatabase(admin, database);
  await ensureDatabase(admin, database);
  const url = withDatabase(pg.url, database);
  const db: Knex = createDb(url, poolSize);
  await migrate(db);
  return { env, log, pg, url, db };
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
