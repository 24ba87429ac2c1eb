import type { ActivityDeps } from './deps';
import { tagSelectSql } from '../sql/tagSql';
import { bulkSessionSql } from './pg';
import { previousSuccessfulRun } from '../db/previousRun';
import { materialize } from '../relations/materialize';
import { tags, triggers } from '../relations/snapshots';
import { TAGS, TAG_CATALOGUE_VERSION } from '../transforms/tagCatalogue';
import { TRIGGER_EVENTS } from '../transforms/triggerCatalogue';
import type { StageResult } from '../shared';

export { TRIGGER_EVENTS } from '../transforms/triggerCatalogue';

const TAG_COLUMNS = TAGS.map((tag) => tag.id);

export function createTagActivities(deps: ActivityDeps) {
  const { db, log } = deps;
  return {
    /**
     * Computes the tag catalogue for every golden customer of the run as of the run date (one set-based query),
     * then the trigger events against the latest successful run of an earlier date.
     */
    async computeTags({ runId, asOf, timezone }: { runId: string; asOf: string; timezone: string }): Promise<StageResult> {
      const startedAt = new Date();
      const points = 'select golden_id as point_id, golden_id, cast(:asOf as date) as as_of from core.customers where run_id = :runId';
      const previousRunId = await previousSuccessfulRun(db, runId, asOf, 'mart.tags');
      return materialize(deps, {
        runId,
        stage: 'tags',
        startedAt,
        tables: ['mart.tags', 'mart.trigger_events'],
        build: async (trx) => {
          await trx.raw(bulkSessionSql(deps.env.workMem));
          await trx.raw(
            `insert into mart.tags (run_id, golden_id, ${TAG_COLUMNS.join(', ')})
             select :runId, golden_id, ${TAG_COLUMNS.join(', ')} from (${tagSelectSql(points)}) x`,
            { runId, asOf, tz: timezone },
          );
          if (!previousRunId) return;
          for (const event of TRIGGER_EVENTS) {
            await trx.raw(
              `insert into mart.trigger_events (run_id, golden_id, event, previous_run_id, previous_value, current_value)
               select cur.run_id, cur.golden_id, ?, prev.run_id, prev.${event.value}::float8, cur.${event.value}::float8
               from mart.tags cur join mart.tags prev on prev.golden_id = cur.golden_id and prev.run_id = ?
               where cur.run_id = ? and (${event.condition})`,
              [event.id, previousRunId, runId],
            );
          }
        },
        snapshots: [tags, triggers],
        details: async (files) => {
          const lifecycle = await db('mart.tags').where({ run_id: runId }).select('lifecycle').count('* as n').groupBy('lifecycle').orderBy('lifecycle');
          const triggerCounts = await db('mart.trigger_events').where({ run_id: runId }).select('event').count('* as n').groupBy('event').orderBy('event');
          log.info({ run_id: runId, stage: 'tags', rows: files[0]!.rows, previous_run_id: previousRunId, triggers: files[1]!.rows }, 'tags computed');
          return {
            catalogue_version: TAG_CATALOGUE_VERSION,
            tags: TAGS.length,
            previous_run_id: previousRunId,
            lifecycle: Object.fromEntries(lifecycle.map((r) => [r.lifecycle, Number(r.n)])),
            trigger_events: Object.fromEntries(triggerCounts.map((r) => [r.event, Number(r.n)])),
          };
        },
      });
    },
  };
}
