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

/**
 * Drops the `schema.<kind>_*` work tables of every run that is not running (audit.runs): what a run that failed,
 * was cancelled or was terminated between the stage that made them and the one that drops them left behind. Runs
 * still running keep theirs, so concurrent runs (a backfill's dates) do not disturb each other.
 */
export async function dropWorkTablesOfFinishedRuns(db: Knex, schema: string, kind: string): Promise<string[]> {
  const running = (await db('audit.runs').where({ status: 'running' }).select('run_id')) as { run_id: string }[];
  const kept = new Set(running.map((r) => `${kind}_${createHash('sha256').update(r.run_id).digest('hex').slice(0, 12)}_`));
  const { rows } = await db.raw(`select tablename from pg_tables where schemaname = ? and tablename like ?`, [schema, `${kind}\\_%`]);
  const dropped: string[] = [];
  for (const { tablename } of rows as { tablename: string }[]) {
    if (kept.has(tablename.slice(0, kind.length + 14))) continue;
    await db.raw(`drop table if exists ${schema}."${tablename}"`);
    dropped.push(`${schema}.${tablename}`);
  }
  return dropped;
}
