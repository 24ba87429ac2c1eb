import { Context } from '@temporalio/activity';
import type { Knex } from 'knex';
import type { ActivityDeps } from './deps';
import { PARTIAL_OF_RELATION, RUN_POINT_RELATIONS, runPartialSql, runPointRelationSql, runTagBaseSql, tagScoredSql, type RunPointRelation } from '../sql/tagSql';
import { bulkSessionSql } from './pg';
import { currentAttemptSessions } from './attempt';
import { previousSuccessfulRun } from '../db/previousRun';
import { materialize } from '../relations/materialize';
import { tags, triggers } from '../relations/snapshots';
import { TAGS, TAG_CATALOGUE_VERSION } from '../transforms/tagCatalogue';
import { TRIGGER_EVENTS } from '../transforms/triggerCatalogue';
import type { StageResult } from '../shared';
import { phaseTimer } from './phaseTimer';
import { runWorkTables } from './workTables';

export { TRIGGER_EVENTS } from '../transforms/triggerCatalogue';

const TAG_COLUMNS = TAGS.map((tag) => tag.id);

/** Sessions computing the tag base's per-point relations at once: the cores of the 2-core machine this is sized for. */
const TAG_BASE_SESSIONS = 2;

/** The tag base's work tables of a run. */
const baseTables = (runId: string) => runWorkTables('mart', 'tags_base', runId);

/**
 * Runs the jobs on {@link TAG_BASE_SESSIONS} sessions at once, each job in its own transaction with the bulk settings,
 * in the order given. Every session is waited for before failing, so no job creates a table after the caller has
 * dropped them.
 */
async function inSessions(deps: ActivityDeps, jobs: { name: string; run: (trx: Knex.Transaction) => Promise<void> }[], log: ActivityDeps['log']): Promise<void> {
  const sessions = currentAttemptSessions()?.db() ?? deps.db;
  const heartbeat = heartbeater();
  const queue = [...jobs];
  let failure: unknown;
  const worker = async () => {
    for (let job = queue.shift(); job && failure === undefined; job = queue.shift()) {
      const started = performance.now();
      try {
        await sessions.transaction(async (trx) => {
          await trx.raw(bulkSessionSql(deps.env.workMem));
          // The sessions are the parallelism: the server's parallel workers beside them only oversubscribe the cores.
          await trx.raw('set local max_parallel_workers_per_gather = 0');
          await job.run(trx);
        });
        heartbeat({ stage: 'tags', job: job.name });
        log.info({ phase: job.name, seconds: seconds(started) }, 'tags phase');
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: TAG_BASE_SESSIONS }, worker));
  if (failure !== undefined) throw failure;
}

/**
 * Computes the per-customer relations the run's tag base joins (sql/tagSql.ts) in unlogged work tables, on
 * sessions of their own: for each of transactions, balances and app events (the largest first, so the other session
 * takes the smaller ones meanwhile), its partial aggregates per customer key (per account) straight from the landing
 * rows, then those rolled up per customer. Every landing row is read once. Returns the work tables.
 */
async function computeTagBase(deps: ActivityDeps, opts: { runId: string; asOf: string; timezone: string; log: ActivityDeps['log'] }): Promise<Record<RunPointRelation, string>> {
  const work = baseTables(opts.runId);
  const tables = Object.fromEntries(RUN_POINT_RELATIONS.map((r) => [r, work.table(r)])) as Record<RunPointRelation, string>;
  const bindings = { runId: opts.runId, asOf: opts.asOf, tz: opts.timezone };
  const order: RunPointRelation[] = ['txn', 'dep', 'ev'];
  await inSessions(
    deps,
    order.map((relation) => ({
      name: `base_${relation}`,
      run: async (trx) => {
        const partial = work.table(`partial_${PARTIAL_OF_RELATION[relation]}`);
        await trx.raw(`create unlogged table ${partial} as ${runPartialSql(PARTIAL_OF_RELATION[relation])}`, bindings);
        await trx.raw(`analyze ${partial}`);
        await trx.raw(`create unlogged table ${tables[relation]} as ${runPointRelationSql(relation, partial)}`, bindings);
        await trx.raw(`analyze ${tables[relation]}`);
        await trx.raw(`drop table ${partial}`);
      },
    })),
    opts.log,
  );
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
     * Computes the tag catalogue for every golden customer of the run as of the run date — the per-customer
     * aggregates of each source in work tables ({@link computeTagBase}), then the tags over all customers at once
     * (RFM ranks compare every customer) — and the trigger events against the latest successful run of an earlier
     * date. The work tables are dropped on the way out, and leftovers of an earlier attempt on the way in.
     */
    async computeTags({ runId, asOf, timezone }: { runId: string; asOf: string; timezone: string }): Promise<StageResult> {
      const startedAt = new Date();
      const stageLog = log.child({ run_id: runId, stage: 'tags' });
      const previousRunId = await previousSuccessfulRun(db, runId, asOf, 'mart.tags');
      await baseTables(runId).drop(db);
      try {
        const lap = phaseTimer();
        const relations = await computeTagBase(deps, { runId, asOf, timezone, log: stageLog });
        lap('base');
        stageLog.info({ phase: 'base', seconds: lap.phases.base }, 'tags phase');
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
               select :runId, golden_id, ${TAG_COLUMNS.join(', ')} from (${tagScoredSql(runTagBaseSql(relations))}) x`,
              { runId, asOf, tz: timezone },
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
        await baseTables(runId).drop(db);
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
