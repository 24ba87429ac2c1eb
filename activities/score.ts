import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import path from 'node:path';
import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { ActivityDeps } from './deps';
import { recordStage } from './runs';
import { runSnapshotDir, writeParquetSnapshot } from './snapshots';
import { loadHistForest, trainHistForest, type HistForest } from '../models/histForest';
import { rocAuc } from '../models/metrics';
import { FEATURE_TAGS } from '../transforms/tagCatalogue';
import { csvLine } from './ingest';
import { buildTrainingSet } from './trainingSet';
import { copyWriter, withTransaction } from './pg';
import { ErrorType, type ShardRef, type StageResult } from '../shared';

export interface ForestParams {
  trees: number;
  maxDepth: number;
  minSamplesLeaf: number;
}

interface Scorer {
  /** Input columns (tag ids) the model was trained on; scoring checks each row against them. */
  features: readonly string[];
  score(rows: readonly Record<string, unknown>[]): Float64Array;
}

export interface ModelRef {
  product: string;
  modelVersion: string;
  path: string;
  sha256: string;
}

/** Stable shard of a golden customer: md5 is the same on every PostgreSQL version and platform. */
export const SHARD_SQL = `(('x' || substr(md5(golden_id), 1, 8))::bit(32)::bigint % ?)`;

const SCORE_BATCH = 2000;
/** Days after a contact in which a conversion counts as its label. */
const TRAINING_ATTRIBUTION_DAYS = 30;
/** Tags scored relative to the population they are computed with (quintiles): not comparable between training and scoring. */
const RELATIVE_TAGS = new Set(['rfm_recency_score', 'rfm_frequency_score', 'rfm_monetary_score']);

export function createScoreActivities(deps: ActivityDeps) {
  const { db, env, log, databaseUrl } = deps;
  const scorers = new Map<string, Scorer>();

  async function loadModel(ref: ModelRef): Promise<Scorer> {
    const cached = scorers.get(ref.modelVersion);
    if (cached) return cached;
    const body = await readFile(ref.path);
    const sha = createHash('sha256').update(body).digest('hex');
    if (sha !== ref.sha256) throw ApplicationFailure.nonRetryable(`model file ${ref.path} does not match registered sha256 of ${ref.modelVersion}`, ErrorType.InvalidInput);
    const forest: HistForest = loadHistForest(body.toString('utf8'));
    const scorer: Scorer = { features: forest.schema.map((c) => c.name), score: (rows) => forest.predictProba(rows) };
    scorers.set(ref.modelVersion, scorer);
    return scorer;
  }

  return {
    /**
     * Returns the champion model for a product, training and registering one when the product has none yet.
     * Training rows: past campaign contacts for the product (label = converted) with the run's tags as features.
     */
    async ensureModel({ runId, asOf, timezone, product, params, seed }: { runId: string; asOf: string; timezone: string; product: string; params: ForestParams & { maxTrainingRows: number }; seed: number }): Promise<ModelRef> {
      const champion = await db('audit.models').where({ product, status: 'champion' }).first();
      let ref: ModelRef;
      if (champion) {
        ref = { product, modelVersion: champion.model_version, path: champion.path, sha256: champion.sha256 };
      } else {
        ref = await trainAndRegister(runId, product, params, seed, { asOf, timezone });
      }
      await db.raw(`update audit.runs set model_versions = model_versions || jsonb_build_object(?::text, ?::text) where run_id = ?`, [product, ref.modelVersion, runId]);
      return ref;
    },

    /** Scores one shard of the run's customers for one product; a retry replaces the shard's rows. */
    async scoreShard({ runId, shard, shards, model }: ShardRef & { model: ModelRef }): Promise<{ rows: number }> {
      const scorer = await loadModel(model);
      let rows = 0;
      await withTransaction(databaseUrl, async (client) => {
        await client.query('delete from mart.scores where run_id = $1 and product = $2 and shard = $3', [runId, model.product, shard]);
        const copy = copyWriter(client, 'copy mart.scores (run_id, golden_id, product, model_version, score, shard) from stdin with (format csv)');
        const stream = db('mart.tags').select('golden_id', ...scorer.features).where({ run_id: runId }).whereRaw(`${SHARD_SQL} = ?`, [shards, shard]).orderBy('golden_id').stream();
        let ids: string[] = [];
        let batch: Record<string, unknown>[] = [];
        const flush = async () => {
          let scores: Float64Array;
          try {
            scores = scorer.score(batch);
          } catch (err) {
            // A missing or re-typed column: the model and the tags disagree; retrying cannot help.
            throw ApplicationFailure.nonRetryable(`model ${model.modelVersion} cannot score run ${runId}: ${(err as Error).message}`, ErrorType.InvalidInput);
          }
          let chunk = '';
          for (let i = 0; i < ids.length; i++) chunk += csvLine([runId, ids[i]!, model.product, model.modelVersion, scores[i]!.toFixed(6), String(shard)]);
          await copy.write(chunk);
          rows += ids.length;
          ids = [];
          batch = [];
          heartbeat({ rows });
        };
        for await (const row of stream as AsyncIterable<Record<string, unknown>>) {
          ids.push(String(row.golden_id));
          batch.push(row);
          if (ids.length >= SCORE_BATCH) await flush();
        }
        if (ids.length) await flush();
        await copy.end();
      });
      log.debug({ run_id: runId, stage: 'score', product: model.product, shard, rows }, 'shard scored');
      return { rows };
    },

    /** Deciles per product (1 = highest scores) and scores.parquet, once every shard is in. */
    async completeScoring({ runId, models, startedAt }: { runId: string; models: ModelRef[]; startedAt: string }): Promise<StageResult> {
      const file = await writeParquetSnapshot(
        runSnapshotDir(env.snapshotDir, runId),
        'scores.parquet',
        { golden_id: { type: 'UTF8' }, product: { type: 'UTF8' }, model_version: { type: 'UTF8' }, score: { type: 'DOUBLE' }, decile: { type: 'INT32' } },
        db
          .select('golden_id', 'product', 'model_version', 'score', db.raw('ntile(10) over (partition by product order by score desc, golden_id) as decile'))
          .from('mart.scores')
          .where({ run_id: runId })
          .orderBy(['product', 'golden_id'])
          .stream(),
      );
      const perProduct = await db('mart.scores').where({ run_id: runId }).select('product').count('* as n').avg('score as mean').groupBy('product').orderBy('product');
      return recordStage(
        db,
        runId,
        {
          stage: 'score',
          rows: file.rows,
          files: [file],
          details: { models: Object.fromEntries(models.map((m) => [m.product, m.modelVersion])), products: Object.fromEntries(perProduct.map((r) => [r.product, { rows: Number(r.n), mean_score: Number(Number(r.mean).toFixed(4)) }])) },
        },
        new Date(startedAt),
      );
    },
  };

  async function trainAndRegister(runId: string, product: string, params: ForestParams & { maxTrainingRows: number }, seed: number, context: { asOf: string; timezone: string }): Promise<ModelRef> {
    const features = FEATURE_TAGS.filter((f) => !RELATIVE_TAGS.has(f));
    const rows = await buildTrainingSet(db, { runId, asOf: context.asOf, timezone: context.timezone, product, features, attributionDays: TRAINING_ATTRIBUTION_DAYS, maxRows: params.maxTrainingRows, seed });
    const positives = rows.filter((r) => r.label === 1);
    const negatives = rows.filter((r) => r.label === 0);
    if (positives.length < 10 || negatives.length < 10) {
      throw ApplicationFailure.nonRetryable(`not enough labelled contacts to train a ${product} model (${positives.length} converted, ${negatives.length} not, with closed attribution windows); load campaign history first`, ErrorType.InvalidInput);
    }
    const y = rows.map((r) => r.label);
    const forestOptions = {
      seed,
      features,
      nEstimators: params.trees,
      maxDepth: params.maxDepth,
      minSamplesLeaf: params.minSamplesLeaf,
      maxFeatures: 'sqrt' as const,
      classWeight: 'balanced' as const,
      threads: Math.max(1, Math.min(2, cpus().length)),
    };
    // Every fifth row (by contact id) is held out for an honest AUC; the registered model is fitted on all rows.
    const trainIdx = rows.map((_, i) => i).filter((i) => i % 5 !== 0);
    const testIdx = rows.map((_, i) => i).filter((i) => i % 5 === 0);
    const t0 = process.hrtime.bigint();
    const probe = await trainHistForest(trainIdx.map((i) => rows[i]!), trainIdx.map((i) => y[i]!), forestOptions);
    const holdoutAuc = rocAuc(probe.predictProba(testIdx.map((i) => rows[i]!)), testIdx.map((i) => y[i]!));
    const model = await trainHistForest(rows, y, forestOptions);
    const fitSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const body = model.serialize();
    const sha256 = createHash('sha256').update(body).digest('hex');
    const modelVersion = `${product}-${sha256.slice(0, 12)}`;
    const dir = path.join(env.home, 'models');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `${modelVersion}.json`);
    await writeFile(`${file}.partial`, body);
    await rename(`${file}.partial`, file);
    const trainingSha = createHash('sha256').update(rows.map((r) => `${r.contact_id}:${r.as_of}:${r.label}`).join('\n')).digest('hex');
    await db('audit.models')
      .insert({
        model_version: modelVersion,
        product,
        algorithm: 'portrait-histforest@1',
        params: JSON.stringify(params),
        seed,
        features: JSON.stringify(features),
        training_rows: rows.length,
        training_sha256: trainingSha,
        metrics: JSON.stringify({ holdout_auc: Number(holdoutAuc.toFixed(4)), oob_auc: model.oobAuc === null ? null : Number(model.oobAuc.toFixed(4)), positives: positives.length, negatives: negatives.length, fit_seconds: Number(fitSeconds.toFixed(2)) }),
        path: file,
        sha256,
        status: 'champion',
        trained_by_run: runId,
      })
      .onConflict('model_version')
      .ignore();
    log.info({ run_id: runId, stage: 'score', product, model_version: modelVersion, holdout_auc: holdoutAuc, training_rows: rows.length }, 'model trained and registered as champion');
    const registered = await db('audit.models').where({ product, status: 'champion' }).first();
    return { product, modelVersion: registered.model_version, path: registered.path, sha256: registered.sha256 };
  }
}
