import { createHash } from 'node:crypto';
import type { Knex } from 'knex';

/**
 * A stage's unlogged work tables of one run: `schema.<kind>_<sha256(run id)[:12]>_<name>` (run ids are not
 * identifiers). A stage drops them on its way in (what a crashed or retried attempt left) and on its way out.
 */
export function runWorkTables(schema: string, kind: string, runId: string) {
  const prefix = `${kind}_${createHash('sha256').update(runId).digest('hex').slice(0, 12)}_`;
  return {
    /** The qualified name of the work table `name`. */
    table: (name: string) => `${schema}.${prefix}${name}`,
    /** Drops every work table of the run, whoever left it. */
    async drop(db: Knex): Promise<void> {
      const { rows } = await db.raw(`select tablename from pg_tables where schemaname = ? and left(tablename, ?) = ?`, [schema, prefix.length, prefix]);
      for (const { tablename } of rows as { tablename: string }[]) await db.raw(`drop table if exists ${schema}."${tablename}"`);
    },
  };
}
