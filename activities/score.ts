import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { ActivityDeps } from './deps';
import { recordStage } from './runs';
import { runSnapshotDir, writeParquetSnapshot } from './snapshots';
import { featureVector, loadScorer, rocAuc, trainForest, type ForestModel, type ForestParams, type Scorer } from '../models/forest';
import { FEATURE_TAGS } from '../transforms/tagCatalogue';
import { csvLine } from './ingest';
import { buildTrainingSet } from './trainingSet';
import { ErrorType, type ShardRef, type StageResult } from '../shared';

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
    const scorer = loadScorer(JSON.parse(body.toString('utf8')) as ForestModel);
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
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      let rows = 0;
      try {
        await client.query('begin');
        await client.query('delete from mart.scores where run_id = $1 and product = $2 and shard = $3', [runId, model.product, shard]);
        const copy = client.query(copyFrom('copy mart.scores (run_id, golden_id, product, model_version, score, shard) from stdin with (format csv)'));
        const done = new Promise<void>((resolve, reject) => {
          copy.on('finish', resolve);
          copy.on('error', reject);
        });
        const stream = db('mart.tags').select('golden_id', ...scorer.features).where({ run_id: runId }).whereRaw(`${SHARD_SQL} = ?`, [shards, shard]).orderBy('golden_id').stream();
        let ids: string[] = [];
        let X: number[][] = [];
        const flush = async () => {
          const scores = scorer.score(X);
          let chunk = '';
          for (let i = 0; i < ids.length; i++) chunk += csvLine([runId, ids[i]!, model.product, model.modelVersion, String(scores[i]), String(shard)]);
          if (!copy.write(chunk)) await new Promise((r) => copy.once('drain', r));
          rows += ids.length;
          ids = [];
          X = [];
          heartbeat({ rows });
        };
        for await (const row of stream as AsyncIterable<Record<string, unknown>>) {
          ids.push(String(row.golden_id));
          X.push(featureVector(row, scorer.features));
          if (ids.length >= SCORE_BATCH) await flush();
        }
        if (ids.length) await flush();
        copy.end();
        await done;
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => undefined);
        throw err;
      } finally {
        await client.end().catch(() => undefined);
      }
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
    const X = rows.map((r) => featureVector(r, features));
    const y = rows.map((r) => r.label);
    // Every fifth row (by contact order) is held out to report an honest AUC; the model is fitted once, on the rest,
    // because the reference forest's fit time grows with the square of the rows.
    const trainIdx = rows.map((_, i) => i).filter((i) => i % 5 !== 0);
    const testIdx = rows.map((_, i) => i).filter((i) => i % 5 === 0);
    const t0 = process.hrtime.bigint();
    const model = trainForest(product, features, trainIdx.map((i) => X[i]!), trainIdx.map((i) => y[i]!), params, seed);
    const fitSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const holdoutAuc = rocAuc(loadScorer(model).score(testIdx.map((i) => X[i]!)), testIdx.map((i) => y[i]!));
    const body = JSON.stringify(model);
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
        algorithm: model.algorithm,
        params: JSON.stringify(params),
        seed,
        features: JSON.stringify(features),
        training_rows: rows.length,
        training_sha256: trainingSha,
        metrics: JSON.stringify({ holdout_auc: Number(holdoutAuc.toFixed(4)), positives: positives.length, negatives: negatives.length, fit_seconds: Number(fitSeconds.toFixed(2)) }),
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
