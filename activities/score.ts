import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { ActivityDeps } from './deps';
import { materialize } from '../relations/materialize';
import { scores } from '../relations/snapshots';
import * as os from 'os';
import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { RowExplanation } from '../models/histForest';
import { ScorePool, type ScoredBatch, type ScoreModel } from '../models/scorePool';
import { copyColumnKind, ScoreInputError, type CopyColumn, type ScoreLineContext } from '../models/scoreText';
import { pinnedModel, readModelText, refreshChampion, refreshChampions, type ModelParams, type ModelRef } from './modelRegistry';
import { copyWriter, withTransaction } from './pg';
import { ErrorType, type ShardRef, type StageResult } from '../shared';

export type { ModelRef } from './modelRegistry';

interface Scorer {
  /** Input columns (tag ids) the model was trained on; scoring checks each row against them. */
  features: readonly string[];
  model: ScoreModel;
}

/** Stable shard of a golden customer: md5 is the same on every PostgreSQL version and platform. */
export const SHARD_SQL = `(('x' || substr(md5(golden_id), 1, 8))::bit(32)::bigint % ?)`;

/** COPY text per scoring batch (about 3,000 customers): large enough to amortise a message to a worker thread. */
const SCORE_BATCH_BYTES = 1 << 20;
/** Batches of one shard read ahead of the one being written: bounds a shard's memory to a few megabytes. */
const BATCHES_IN_FLIGHT = 4;
/** Reason codes kept per score. */
const REASONS_PER_SCORE = 3;

let pool: ScorePool | null = null;

/** The process's scoring threads: one per core, at most two (the daily run's machines have 2 cores); stopped when idle. */
function scorePool(): ScorePool {
  pool ??= new ScorePool(Math.min(2, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length), POOL_IDLE_MS);
  return pool;
}

/** Scoring threads stop after this long without a batch (a daily run scores once; dispatch comes next). */
const POOL_IDLE_MS = 10_000;
/** Models kept parsed: today's for each product and the one before (a model a day would otherwise pile up). */
const MODELS_KEPT = 4;

export function createScoreActivities(deps: ActivityDeps) {
  const { db, env, log, databaseUrl } = deps;
  const scorers = new Map<string, Scorer>();

  async function loadModel(ref: ModelRef): Promise<Scorer> {
    const cached = scorers.get(ref.modelVersion);
    if (cached) return cached;
    const { forest, json } = await readModelText(ref);
    const scorer: Scorer = { features: forest.schema.map((c) => c.name), model: { version: ref.modelVersion, json, forest } };
    scorers.set(ref.modelVersion, scorer);
    // Oldest first in a Map: the least recently loaded go.
    for (const version of scorers.keys()) if (scorers.size > MODELS_KEPT) scorers.delete(version);
    return scorer;
  }

  /** The model's input columns with how their COPY text is read; a column missing from mart.tags or of a type scoring cannot read is an input error. */
  async function tagColumns(features: readonly string[], model: ModelRef, runId: string): Promise<CopyColumn[]> {
    const rows: { column_name: string; data_type: string }[] = await db('information_schema.columns').where({ table_schema: 'mart', table_name: 'tags' }).select('column_name', 'data_type');
    const types = new Map(rows.map((r) => [r.column_name, r.data_type]));
    return features.map((name) => {
      const type = types.get(name);
      const kind = type === undefined ? null : copyColumnKind(type);
      if (kind === null) throw ApplicationFailure.nonRetryable(`model ${model.modelVersion} cannot score run ${runId}: input column '${name}' is ${type === undefined ? 'missing from mart.tags' : `of type ${type}, which scoring does not read`}`, ErrorType.InvalidInput);
      return { name, kind };
    });
  }

  return {
    /**
     * The champion model for a product after this run's lifecycle step: a candidate is trained and judged against the
     * champion when the labelled contacts (features as of the day before each contact) hold anything new.
     */
    async ensureModel({ runId, asOf, timezone, product, params, seed, pinned }: { runId: string; asOf: string; timezone: string; product: string; params: ModelParams; seed: number; pinned?: string }): Promise<ModelRef> {
      const ref = pinned ? await pinnedModel(db, product, pinned) : await refreshChampion({ db, env, log }, { runId, asOf, timezone, product, params, seed });
      await db.raw(`update audit.runs set model_versions = model_versions || jsonb_build_object(?::text, ?::text) where run_id = ?`, [product, ref.modelVersion, runId]);
      return ref;
    },

    /**
     * ensureModel of every product at once: the products' training sets come from one query, which reads and joins
     * the sources once (one query per product read them once each). Pinned products take their pinned model.
     */
    async ensureModels({ runId, asOf, timezone, products, params, seed, pinned }: { runId: string; asOf: string; timezone: string; products: string[]; params: ModelParams; seed: number; pinned?: Record<string, string> }): Promise<ModelRef[]> {
      const trained = products.filter((p) => !pinned?.[p]);
      const champions = await refreshChampions({ db, env, log }, { runId, asOf, timezone, products: trained, params, seed });
      const refs = await Promise.all(products.map(async (p) => (pinned?.[p] ? pinnedModel(db, p, pinned[p]!) : champions[trained.indexOf(p)]!)));
      const versions = Object.fromEntries(refs.map((r) => [r.product, r.modelVersion]));
      await db.raw(`update audit.runs set model_versions = model_versions || ?::jsonb where run_id = ?`, [JSON.stringify(versions), runId]);
      return refs;
    },

    /**
     * Scores one shard of the run's customers for one product; a retry replaces the shard's rows. The shard's tags are
     * read as COPY text and scored in batches on the worker-thread pool (models/scorePool.ts); the scores are written
     * in golden_id order, as they are read.
     */
    async scoreShard({ runId, shard, shards, model }: ShardRef & { model: ModelRef }): Promise<{ rows: number }> {
      const scorer = await loadModel(model);
      const columns = await tagColumns(scorer.features, model, runId);
      if (!(Number.isInteger(shard) && Number.isInteger(shards) && shard >= 0 && shard < shards)) throw ApplicationFailure.nonRetryable(`shard ${shard} of ${shards} is not a shard`, ErrorType.InvalidInput);
      const context: ScoreLineContext = { runId, product: model.product, modelVersion: model.modelVersion, shard, positiveRate: model.positiveRate, reasons: REASONS_PER_SCORE };
      const pool = scorePool();
      let rows = 0;
      await withTransaction(databaseUrl, async (client) => {
        await client.query('delete from mart.scores where run_id = $1 and product = $2 and shard = $3', [runId, model.product, shard]);
        const copy = copyWriter(client, 'copy mart.scores (run_id, golden_id, product, model_version, score, shard, reasons) from stdin with (format csv)');
        const reader = new Client({ connectionString: databaseUrl });
        await reader.connect();
        try {
          const select = `select golden_id, ${columns.map((c) => client.escapeIdentifier(c.name)).join(', ')} from mart.tags where run_id = ${client.escapeLiteral(runId)} and ${SHARD_SQL.replace('?', String(shards))} = ${shard} order by golden_id`;
          const source = reader.query(copyTo(`copy (${select}) to stdout`));
          // Batches in flight, oldest first: written in this order, so the scores go in as they were read.
          const pending: Promise<ScoredBatch>[] = [];
          const writeOldest = async () => {
            const { csv, rows: scored } = await pending.shift()!;
            await copy.write(Buffer.from(csv.buffer, csv.byteOffset, csv.byteLength));
            rows += scored;
            heartbeat({ rows });
          };
          const submit = (text: Uint8Array) => {
            const p = pool.score(scorer.model, { columns, text, context });
            // Observed when written; this guard keeps a failure meanwhile from being an unhandled rejection.
            p.catch(() => undefined);
            pending.push(p);
          };
          let chunks: Buffer[] = [];
          let size = 0;
          for await (const chunk of source as AsyncIterable<Buffer>) {
            chunks.push(chunk);
            size += chunk.length;
            if (size < SCORE_BATCH_BYTES) continue;
            const text = Buffer.concat(chunks, size);
            const cut = text.lastIndexOf(0x0a) + 1;
            submit(new Uint8Array(text.buffer, text.byteOffset, cut));
            chunks = cut < size ? [text.subarray(cut)] : [];
            size -= cut;
            while (pending.length >= BATCHES_IN_FLIGHT) await writeOldest();
          }
          if (size > 0) submit(Buffer.concat(chunks, size));
          while (pending.length > 0) await writeOldest();
        } catch (err) {
          // A missing or re-typed column: the model and the tags disagree; retrying cannot help.
          if (err instanceof ScoreInputError) throw ApplicationFailure.nonRetryable(`model ${model.modelVersion} cannot score run ${runId}: ${err.message}`, ErrorType.InvalidInput);
          throw err;
        } finally {
          await reader.end();
        }
        await copy.end();
      }, { lockKey: `score:${runId}:${model.product}:${shard}` });
      log.debug({ run_id: runId, stage: 'score', product: model.product, shard, rows }, 'shard scored');
      return { rows };
    },

    /** Deciles per product (1 = highest scores) and scores.parquet, once every shard is in. */
    async completeScoring({ runId, models, startedAt }: { runId: string; models: ModelRef[]; startedAt: string }): Promise<StageResult> {
      // Analyzed once after all shards: dispatch plans its candidate join on these statistics (51 s instead of 0.85 s without).
      return materialize(deps, {
        runId,
        stage: 'score',
        startedAt: new Date(startedAt),
        tables: ['mart.scores'],
        snapshots: [scores],
        details: async () => {
          const perProduct = await db('mart.scores').where({ run_id: runId }).select('product').count('* as n').avg('score as mean').groupBy('product').orderBy('product');
          return { models: Object.fromEntries(models.map((m) => [m.product, m.modelVersion])), products: Object.fromEntries(perProduct.map((r) => [r.product, { rows: Number(r.n), mean_score: Number(Number(r.mean).toFixed(4)) }])) };
        },
      });
    },
  };
}

/** "feature:+0.0812;feature:-0.0121": the columns that moved this customer's score most (Saabas, model scale). */
export function formatReasons(e: RowExplanation): string {
  return e.reasons.map((r) => `${r.feature}:${r.contribution >= 0 ? '+' : ''}${r.contribution.toFixed(4)}`).join(';');
}
