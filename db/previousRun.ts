import type { Knex } from 'knex';

/**
 * The latest successful run of an earlier as-of date that has rows in `table` (optionally matching `where`): what a
 * run compares itself with (golden-id lineage, trigger events, volume drops). Ties on the date go to the run that
 * finished last. Null on the first day.
 */
export async function previousSuccessfulRun(db: Knex, asOf: string | Date, table: string, where: Record<string, unknown> = {}): Promise<string | null> {
  const row = await db('audit.runs as r')
    .where('r.as_of', '<', asOf)
    .where('r.status', 'succeeded')
    .whereExists(db(`${table} as x`).whereRaw('x.run_id = r.run_id').where(Object.fromEntries(Object.entries(where).map(([k, v]) => [`x.${k}`, v]))))
    .orderBy([{ column: 'r.as_of', order: 'desc' }, { column: 'r.finished_at', order: 'desc' }])
    .first('r.run_id');
  return row?.run_id ?? null;
}
