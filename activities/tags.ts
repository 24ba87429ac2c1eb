import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { Knex } from 'knex';
import type { ActivityDeps } from './deps';
import { tagBaseSql, tagScoredSql } from '../sql/tagSql';
import { bulkSessionSql } from './pg';
import { currentAttemptSessions } from './attempt';
import { previousSuccessfulRun } from '../db/previousRun';
import { materialize } from '../relations/materialize';
import { tags, triggers } from '../relations/snapshots';
import { TAGS, TAG_CATALOGUE_VERSION } from '../transforms/tagCatalogue';
import { TRIGGER_EVENTS } from '../transforms/triggerCatalogue';
import type { StageResult } from '../shared';
import { phaseTimer } from './phaseTimer';

export { TRIGGER_EVENTS } from '../transforms/triggerCatalogue';

const TAG_COLUMNS = TAGS.map((tag) => tag.id);

/**
 * Shards of the tag base, computed at once: one PostgreSQL session per core of the 2-core machine this is sized for.
 * Every shard scans every landing partition, so the shards are as few as the sessions: more shards made the base
 * grow faster than the customers (1M: 6 shards sized to keep each hash aggregate in work_mem took 125.7 s, 2 shards
 * 90.6 s with the transaction aggregate spilling 41 MB to disk). PostgreSQL's hash aggregates and joins spill past
 * work_mem × hash_mem_multiplier, which costs in proportion to the rows spilled.
 */
export const TAG_BASE_SHARDS = 2;

/** The work tables of a run's tag base are named after a hash of its run id (run ids are not identifiers). */
function baseTablePrefix(runId: string): string {
  return `tags_base_${createHash('sha256').update(runId).digest('hex').slice(0, 12)}_`;
}

/** Drops every work table of the run's tag base, whoever left it (this attempt, or one that crashed or was retried). */
async function dropBaseTables(db: Knex, runId: string): Promise<void> {
  const prefix = baseTablePrefix(runId);
  const { rows } = await db.raw(`select tablename from pg_tables where schemaname = 'mart' and left(tablename, ?) = ?`, [prefix.length, prefix]);
  for (const { tablename } of rows as { tablename: string }[]) await db.raw(`drop table if exists mart."${tablename}"`);
}

/**
 * Computes the tag base (sql/tagSql.ts tagBaseSql) of the run's customers as of `asOf` in `shards` shards,
 * hash(golden_id) mod shards, each into an unlogged work table of its own, {@link TAG_BASE_SHARDS} at a time on
 * sessions of their own. A shard's points go through an analyzed temp table, so the planner knows their number.
 * Returns the work tables. Every row depends on its customer alone, so the union does not depend on `shards`.
 */
async function computeTagBase(deps: ActivityDeps, opts: { runId: string; asOf: string; timezone: string; shards: number }): Promise<string[]> {
  const sessions = currentAttemptSessions()?.db() ?? deps.db;
  const prefix = baseTablePrefix(opts.runId);
  const tables = Array.from({ length: opts.shards }, (_, k) => `mart.${prefix}${k}`);
  const heartbeat = heartbeater();
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && next < opts.shards) {
      const shard = next++;
      try {
        await sessions.transaction(async (trx) => {
          await trx.raw(bulkSessionSql(deps.env.workMem));
          await trx.raw(
            `create temp table tag_points on commit drop as
             select golden_id as point_id, golden_id, cast(:asOf as date) as as_of from core.customers
             where run_id = :runId and (hashtext(golden_id) & 2147483647) % :shards = :shard`,
            { runId: opts.runId, asOf: opts.asOf, shards: opts.shards, shard },
          );
          await trx.raw('analyze tag_points');
          await trx.raw(`create unlogged table ${tables[shard]} as ${tagBaseSql('select point_id, golden_id, as_of from tag_points')}`, { runId: opts.runId, tz: opts.timezone });
        });
        heartbeat({ stage: 'tags', shard, shards: opts.shards });
      } catch (err) {
        failure ??= err;
      }
    }
  };
  // Every session is waited for before failing, so no shard creates a table after the caller has dropped them.
  await Promise.all(Array.from({ length: Math.min(TAG_BASE_SHARDS, opts.shards) }, worker));
  if (failure !== undefined) throw failure;
  return tables;
}

/** Heartbeats when inside an activity (benchmarks and scripts run the activity without one). */
function heartbeater(): (details: unknown) => void {
  let activity: Context | undefined;
  try {
    activity = Context.current();
  } catch {
    activity = undefined;
  }
  return (details) => activity?.heartbeat(details);
}

const seconds = (since: number) => Number(((performance.now() - since) / 1000).toFixed(3));

export function createTagActivities(deps: ActivityDeps) {
  const { db, log } = deps;
  return {
    /**
     * Computes the tag catalogue for every golden customer of the run as of the run date — the per-customer base in
     * shards of customers (`shards`: {@link TAG_BASE_SHARDS} unless given; the result does not depend on it),
     * then the tags over all shards at once (RFM ranks compare every customer) — and the trigger events against the
     * latest successful run of an earlier date. The shards' work tables are dropped on the way out, and leftovers
     * of an earlier attempt on the way in.
     */
    async computeTags({ runId, asOf, timezone, shards }: { runId: string; asOf: string; timezone: string; shards?: number }): Promise<StageResult> {
      const startedAt = new Date();
      const stageLog = log.child({ run_id: runId, stage: 'tags' });
      const previousRunId = await previousSuccessfulRun(db, runId, asOf, 'mart.tags');
      await dropBaseTables(db, runId);
      try {
        const shardCount = shards ?? TAG_BASE_SHARDS;
        const lap = phaseTimer();
        const baseTables = await computeTagBase(deps, { runId, asOf, timezone, shards: shardCount });
        lap('base');
        stageLog.info({ phase: 'base', seconds: lap.phases.base, shards: shardCount }, 'tags phase');
        const t1 = performance.now();
        const result = await materialize(deps, {
          runId,
          stage: 'tags',
          startedAt,
          tables: ['mart.tags', 'mart.trigger_events'],
          build: async (trx) => {
            await trx.raw(bulkSessionSql(deps.env.workMem));
            await trx.raw(
              `insert into mart.tags (run_id, golden_id, ${TAG_COLUMNS.join(', ')})
               select :runId, golden_id, ${TAG_COLUMNS.join(', ')} from (${tagScoredSql(baseTables.map((t) => `select * from ${t}`).join('\n union all '))}) x`,
              { runId },
            );
            lap('insert');
            stageLog.info({ phase: 'insert', seconds: lap.phases.insert }, 'tags phase');
            if (previousRunId) await insertTriggerEvents(trx, runId, previousRunId);
            lap('triggers');
          },
          snapshots: [tags, triggers],
          details: async (files) => {
            // The commit, analyze and the two snapshot files.
            lap('snapshots');
            const lifecycle = await db('mart.tags').where({ run_id: runId }).select('lifecycle').count('* as n').groupBy('lifecycle').orderBy('lifecycle');
            const triggerCounts = await db('mart.trigger_events').where({ run_id: runId }).select('event').count('* as n').groupBy('event').orderBy('event');
            log.info({ run_id: runId, stage: 'tags', rows: files[0]!.rows, previous_run_id: previousRunId, triggers: files[1]!.rows }, 'tags computed');
            return {
              catalogue_version: TAG_CATALOGUE_VERSION,
              tags: TAGS.length,
              previous_run_id: previousRunId,
              lifecycle: Object.fromEntries(lifecycle.map((r) => [r.lifecycle, Number(r.n)])),
              trigger_events: Object.fromEntries(triggerCounts.map((r) => [r.event, Number(r.n)])),
              phase_seconds: lap.phases,
            };
          },
        });
        stageLog.info({ phase: 'materialize', seconds: seconds(t1) }, 'tags phase');
        return result;
      } finally {
        await dropBaseTables(db, runId);
      }
    },
  };
}

/** Tag changes against the previous run's tags, one insert per trigger event. */
async function insertTriggerEvents(trx: Knex.Transaction, runId: string, previousRunId: string): Promise<void> {
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
