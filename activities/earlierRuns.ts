import type { Knex } from 'knex';

/**
 * Restricts a query over `audit.runs as r` to the earlier runs whose state the run `runId` may read: no replays, and
 * only runs finished before the run was first registered (audit.runs.suppressions_as_of; a replay carries its
 * original's), so a replay reads the lineage, previous tags and contacts its original read, whatever ran since.
 */
export function stateVisibleTo(db: Knex, runId: string) {
  return (q: Knex.QueryBuilder) => q.whereNull('r.replay_of').where('r.finished_at', '<', db('audit.runs').where({ run_id: runId }).select('suppressions_as_of'));
}
