import type { ActivityDeps } from './deps';
import { recordStage } from './runs';
import { runSnapshotDir, writeParquetSnapshot, type SnapshotSchema } from './snapshots';
import { tagSelectSql } from './tagSql';
import { bulkSessionSql } from './pg';
import { TAGS, TAG_CATALOGUE_VERSION } from '../transforms/tagCatalogue';
import type { SnapshotFile, StageResult } from '../shared';

/**
 * Trigger events (行为触发营销): tag changes between a customer's previous run and this one that campaigns can
 * target. Conditions read `cur` (this run) and `prev` (the latest successful run of an earlier date).
 */
export const TRIGGER_EVENTS: readonly { id: string; nameZh: string; condition: string; value: string }[] = [
  { id: 'large_inflow', nameZh: '大额资金流入', condition: 'cur.total_deposits - prev.total_deposits >= 50000', value: 'total_deposits' },
  { id: 'balance_dropped_half', nameZh: '余额减半', condition: 'prev.total_deposits >= 10000 and cur.total_deposits < 0.5 * prev.total_deposits', value: 'total_deposits' },
  { id: 'loan_calculator_used', nameZh: '使用贷款计算器', condition: 'cur.calculator_uses_7d > 0 and coalesce(prev.calculator_uses_7d, 0) = 0', value: 'calculator_uses_7d' },
  { id: 'application_started', nameZh: '发起贷款申请', condition: 'cur.application_starts_7d > 0 and coalesce(prev.application_starts_7d, 0) = 0', value: 'application_starts_7d' },
  { id: 'time_deposit_maturing', nameZh: '定期即将到期', condition: 'cur.time_deposit_maturing_30d and not prev.time_deposit_maturing_30d', value: 'time_deposit_balance' },
  { id: 'became_silent', nameZh: '转为沉默', condition: "cur.lifecycle = 'silent' and prev.lifecycle <> 'silent'", value: 'txn_count_90d' },
];

const TAG_COLUMNS = TAGS.map((tag) => tag.id);

const PARQUET_TYPE: SnapshotSchema = {};
for (const tag of TAGS) {
  PARQUET_TYPE[tag.id] = tag.type === 'boolean' ? { type: 'BOOLEAN', optional: true } : tag.type === 'number' ? { type: 'DOUBLE', optional: true } : { type: 'UTF8', optional: true };
}

export function createTagActivities(deps: ActivityDeps) {
  const { db, env, log } = deps;
  return {
    /**
     * Computes the tag catalogue for every golden customer of the run as of the run date (one set-based query),
     * then the trigger events against the latest successful run of an earlier date.
     */
    async computeTags({ runId, asOf, timezone }: { runId: string; asOf: string; timezone: string }): Promise<StageResult> {
      const startedAt = new Date();
      const points = 'select golden_id as point_id, golden_id, cast(:asOf as date) as as_of from core.customers where run_id = :runId';
      const previous = await db('audit.runs as r')
        .where('r.as_of', '<', asOf)
        .where('r.status', 'succeeded')
        .whereExists(db('mart.tags as t').whereRaw('t.run_id = r.run_id'))
        .orderBy([{ column: 'r.as_of', order: 'desc' }, { column: 'r.finished_at', order: 'desc' }])
        .first('r.run_id');
      const previousRunId: string | null = previous?.run_id ?? null;
      await db.transaction(async (trx) => {
        await trx.raw(bulkSessionSql(env.workMem));
        await trx('mart.tags').where({ run_id: runId }).delete();
        await trx('mart.trigger_events').where({ run_id: runId }).delete();
        await trx.raw(
          `insert into mart.tags (run_id, golden_id, ${TAG_COLUMNS.join(', ')})
           select :runId, golden_id, ${TAG_COLUMNS.join(', ')} from (${tagSelectSql(points)}) x`,
          { runId, asOf, tz: timezone },
        );
        if (previousRunId) {
          for (const event of TRIGGER_EVENTS) {
            await trx.raw(
              `insert into mart.trigger_events (run_id, golden_id, event, previous_run_id, previous_value, current_value)
               select cur.run_id, cur.golden_id, ?, prev.run_id, prev.${event.value}::float8, cur.${event.value}::float8
               from mart.tags cur join mart.tags prev on prev.golden_id = cur.golden_id and prev.run_id = ?
               where cur.run_id = ? and (${event.condition})`,
              [event.id, previousRunId, runId],
            );
          }
        }
      });
      await db.raw('analyze mart.tags; analyze mart.trigger_events');
      const runDir = runSnapshotDir(env.snapshotDir, runId);
      const files: SnapshotFile[] = [
        await writeParquetSnapshot(runDir, 'tags.parquet', { golden_id: { type: 'UTF8' }, ...PARQUET_TYPE }, db('mart.tags').select('golden_id', ...TAG_COLUMNS).where({ run_id: runId }).orderBy('golden_id').stream()),
        await writeParquetSnapshot(
          runDir,
          'triggers.parquet',
          { golden_id: { type: 'UTF8' }, event: { type: 'UTF8' }, previous_run_id: { type: 'UTF8' }, previous_value: { type: 'DOUBLE', optional: true }, current_value: { type: 'DOUBLE', optional: true } },
          db('mart.trigger_events').select('golden_id', 'event', 'previous_run_id', 'previous_value', 'current_value').where({ run_id: runId }).orderBy(['golden_id', 'event']).stream(),
        ),
      ];
      const lifecycle = await db('mart.tags').where({ run_id: runId }).select('lifecycle').count('* as n').groupBy('lifecycle').orderBy('lifecycle');
      const triggers = await db('mart.trigger_events').where({ run_id: runId }).select('event').count('* as n').groupBy('event').orderBy('event');
      log.info({ run_id: runId, stage: 'tags', rows: files[0]!.rows, previous_run_id: previousRunId, triggers: files[1]!.rows }, 'tags computed');
      return recordStage(
        db,
        runId,
        {
          stage: 'tags',
          rows: files[0]!.rows,
          files,
          details: {
            catalogue_version: TAG_CATALOGUE_VERSION,
            tags: TAGS.length,
            previous_run_id: previousRunId,
            lifecycle: Object.fromEntries(lifecycle.map((r) => [r.lifecycle, Number(r.n)])),
            trigger_events: Object.fromEntries(triggers.map((r) => [r.event, Number(r.n)])),
          },
        },
        startedAt,
      );
    },
  };
}
