import { Context } from '@temporalio/activity';
import type { Knex } from 'knex';
import type { ActivityDeps } from './deps';
import { runPartialSql, runRestOfBaseSql, runTagBaseSql, runTransactionsSql, tagScoredSql, type PartialSource } from '../sql/tagSql';
import { bulkSessionSql } from './pg';
import { currentAttemptSessions } from './attempt';
import { previousSuccessfulRun } from '../db/previousRun';
import { materialize } from '../relations/materialize';
import { tags, triggers } from '../relations/snapshots';
import { TAGS, TAG_CATALOGUE_VERSION } from '../transforms/tagCatalogue';
import { TRIGGER_EVENTS } from '../transforms/triggerCatalogue';
import type { StageResult } from '../shared';
import { phaseTimer } from './phaseTimer';
import { dropWorkTablesOfFinishedRuns, runWorkTables } from './workTables';

export { TRIGGER_EVENTS } from '../transforms/triggerCatalogue';

const TAG_COLUMNS = TAGS.map((tag) => tag.id);

/** The tag base's work tables of a run. */
const baseTables = (runId: string) => runWorkTables('mart', 'tags_base', runId);

/**
 * Runs each chain of steps on a session of its own, all chains at once, each chain in one transaction with the bulk
 * settings. Every session is waited for before failing, so no step creates a table after the caller has dropped them.
 */
async function inSessions(deps: ActivityDeps, chains: { name: string; run: (trx: Knex.Transaction) => Promise<void> }[][], log: ActivityDeps['log']): Promise<void> {
  const sessions = currentAttemptSessions()?.db() ?? deps.db;
  const heartbeat = heartbeater();
  const results = await Promise.allSettled(
    chains.map((steps) =>
      sessions.transaction(async (trx) => {
        await trx.raw(bulkSessionSql(deps.env.workMem));
        // The sessions are the parallelism: the server's parallel workers beside them only oversubscribe the cores.
        await trx.raw('set local max_parallel_workers_per_gather = 0');
        for (const step of steps) {
          const started = performance.now();
          await step.run(trx);
          heartbeat({ stage: 'tags', step: step.name });
          log.info({ phase: step.name, seconds: seconds(started) }, 'tags phase');
        }
      }),
    ),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** The per-key partial aggregates of a run's landing rows (runPartialSql), kept from computeTagPartials to computeTags. */
const partialTables = (runId: string) => runWorkTables('mart', 'tag_partials', runId);

type Step = { name: string; run: (trx: Knex.Transaction) => Promise<void> };

/** The step that aggregates one source of the run per customer key (per account) into its partial table. */
function partialStep(opts: { runId: string; asOf: string; timezone: string }, source: PartialSource): Step {
  const table = partialTables(opts.runId).table(source);
  return {
    name: `base_partial_${source}`,
    run: async (trx) => {
      const { rowCount } = await trx.raw(`create unlogged table ${table} as ${runPartialSql(source)}`, { runId: opts.runId, asOf: opts.asOf, tz: opts.timezone });
      // The count in the catalogue (WAL-logged): crash recovery empties an unlogged table but keeps its comment.
      await trx.raw(`comment on table ${table} is '${PARTIAL_ROWS}${Number(rowCount)}'`);
      await trx.raw(`analyze ${table}`);
    },
  };
}

const PARTIAL_ROWS = 'rows=';

/**
 * Which of the run's partial tables exist whole (computeTagPartials made them, or an attempt of computeTags did).
 * They outlive the activity that made them, and they are unlogged: a PostgreSQL crash in between leaves each one
 * empty. A table that is empty but was written with rows is dropped here, to be computed again, not read as a source
 * without rows.
 */
async function existingPartials(db: Knex, runId: string, log: ActivityDeps['log']): Promise<Set<PartialSource>> {
  const present = new Set<PartialSource>();
  for (const source of PARTIAL_SOURCES) {
    const table = partialTables(runId).table(source);
    const { rows } = await db.raw(`select obj_description(to_regclass(?), 'pg_class') as note, to_regclass(?) is not null as present`, [table, table]);
    const { note, present: exists } = rows[0] as { note: string | null; present: boolean };
    if (!exists) continue;
    const written = note?.startsWith(PARTIAL_ROWS) ? Number(note.slice(PARTIAL_ROWS.length)) : NaN;
    const empty = !(await db.raw(`select exists (select 1 from ${table}) as any`)).rows[0].any;
    if (Number.isNaN(written) || (written > 0 && empty)) {
      log.warn({ table, rows_written: Number.isNaN(written) ? null : written }, 'tag partial table lost its rows (unlogged, after a server crash) or has no row count: computed again');
      await db.raw(`drop table ${table}`);
      continue;
    }
    present.add(source);
  }
  return present;
}

const PARTIAL_SOURCES: readonly PartialSource[] = ['transactions', 'balances', 'app_events'];

/**
 * Computes the run's tag base but its last join (sql/tagSql.ts) in unlogged work tables, on two sessions: each of
 * transactions, balances and app events aggregated per customer key (per account) straight from the landing rows —
 * every landing row is read once; the daily run computes them beside clean (computeTagPartials), and what is
 * missing is computed here — then, on one session, the transactions rolled up per customer, and on the other, while
 * it does, every other base column. Returns the tables runTagBaseSql joins.
 */
async function computeTagBase(deps: ActivityDeps, opts: { runId: string; asOf: string; timezone: string; log: ActivityDeps['log'] }): Promise<{ rest: string; txn: string }> {
  const work = baseTables(opts.runId);
  const partials = partialTables(opts.runId);
  const bindings = { runId: opts.runId, asOf: opts.asOf, tz: opts.timezone };
  const present = await existingPartials(deps.db, opts.runId, opts.log);
  const missing = (...sources: PartialSource[]) => sources.filter((s) => !present.has(s)).map((s) => partialStep(opts, s));
  opts.log.info({ partials_present: [...present] }, 'tags partials');
  const tables = { txn: work.table('txn'), rest: work.table('rest') };
  await inSessions(
    deps,
    [
      [...missing('transactions'), { name: 'base_txn', run: async (trx) => void (await trx.raw(`create unlogged table ${tables.txn} as ${runTransactionsSql(partials.table('transactions'))}`, bindings)) }],
      [
        ...missing('balances', 'app_events'),
        {
          name: 'base_rest',
          run: async (trx) => {
            await trx.raw(`create unlogged table ${tables.rest} as ${runRestOfBaseSql({ balances: partials.table('balances'), app_events: partials.table('app_events') })}`, bindings);
          },
        },
      ],
    ],
    opts.log,
  );
  for (const table of Object.values(tables)) await deps.db.raw(`analyze ${table}`);
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
        await partialTables(runId).drop(db);
      }
    },

    /**
     * The per-key partial aggregates of the run's transactions, balances and app events (computeTags' first step),
     * computed from the landing rows alone while clean runs: clean leaves a core idle for half its time (its
     * assign and write phases are one session each). On one session, so clean's own threads keep the other core.
     * computeTags uses them and drops them; the leftovers of runs that ended before their tags stage are dropped
     * here.
     */
    async computeTagPartials({ runId, asOf, timezone }: { runId: string; asOf: string; timezone: string }): Promise<{ seconds: Record<string, number> }> {
      const stageLog = log.child({ run_id: runId, stage: 'tags' });
      const swept = [...(await dropWorkTablesOfFinishedRuns(db, 'mart', 'tag_partials')), ...(await dropWorkTablesOfFinishedRuns(db, 'mart', 'tags_base'))];
      if (swept.length) stageLog.info({ tables: swept.length }, 'dropped the tag work tables of runs that are not running');
      await partialTables(runId).drop(db);
      const lap = phaseTimer();
      try {
        await inSessions(deps, [PARTIAL_SOURCES.map((source) => partialStep({ runId, asOf, timezone }, source))], stageLog);
      } catch (err) {
        await partialTables(runId).drop(db);
        throw err;
      }
      lap('partials');
      return { seconds: lap.phases };
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
