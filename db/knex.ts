import knex, { type Knex } from 'knex';
import pg from 'pg';
import { migrationSource } from './migrations';

// Dates stay 'YYYY-MM-DD' strings: a JS Date would shift them by the machine's time zone.
pg.types.setTypeParser(pg.types.builtins.DATE, (v: string) => v);

/** One pool per process (plus one small pool per activity attempt, see activities/attempt.ts). */
export function createDb(connection: string | Knex.PgConnectionConfig, poolMax = 10): Knex {
  return knex({ client: 'pg', connection, pool: { min: 0, max: poolMax } });
}

/** Applies pending migrations (each in its own transaction); safe to call on every start. */
export async function migrate(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource, tableName: 'knex_migrations', schemaName: 'public' })) as [number, string[]];
  return applied;
}
