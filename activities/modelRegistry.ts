import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { PortraitEnv } from '../config/env';
import type { PortraitConfig } from '../config/schema';
import { loadHistForest, trainHistForest, type HistForest } from '../models/histForest';
import { assertPointInTimeFeatures, decidePromotion, holdoutMetrics, LeakageError, priorCorrectAll, timeSplit, type PromotionDecision } from '../models/lifecycle';
import { FEATURE_TAGS } from '../transforms/tagCatalogue';
import { canonicalJson } from '../transforms/canonicalJson';
import { writeSnapshot } from '../relations/parquet';
import type { RowOf } from '../relations/types';
import { trainingSet } from '../relations/snapshots';
import { buildTrainingSets, countLabelledContacts, type TrainingRow } from './trainingSet';
import { ErrorType } from '../shared';

export type ModelParams = Pick<PortraitConfig['model'], 'trees' | 'maxDepth' | 'minSamplesLeaf' | 'maxTrainingRows' | 'trainingWindowDays' | 'holdoutShare' | 'minHoldoutPositives' | 'excludeFeatures' | 'excludeFeaturesByProduct'>;

export interface ModelRef {
  product: string;
  modelVersion: string;
  path: string;
  sha256: string;
  /** Population share of positives the scores are prior-corrected to; null for models registered without one. */
  positiveRate: number | null;
}

/** Days after a contact in which a conversion counts as its label. */
export const TRAINING_ATTRIBUTION_DAYS = 30;
/** Tags scored relative to the population they are computed with (quintiles): not comparable between training and scoring. */
const RELATIVE_TAGS = new Set(['rfm_recency_score', 'rfm_frequency_score', 'rfm_monetary_score']);
const ALGORITHM = 'portrait-histforest@1';
/** Tags the training-set builder computes as of each contact's eve (sql/tagSql.ts over a points relation). */
const POINT_IN_TIME_FEATURES: ReadonlySet<string> = new Set(FEATURE_TAGS);

interface ModelRow {
  model_version: string;
  product: string;
  path: string;
  sha256: string;
  features: string[];
  training_until: string | null;
  positive_rate: number | null;
  training_key: string | null;
}

/** Feature columns of a product's models: numeric and boolean tags minus relative tags and protected attributes. */
export function modelFeatures(product: string, params: Pick<ModelParams, 'excludeFeatures' | 'excludeFeaturesByProduct'>): { features: string[]; excluded: string[] } {
  const excluded = [...new Set([...params.excludeFeatures, ...(params.excludeFeaturesByProduct[product] ?? [])])].sort();
  return { features: FEATURE_TAGS.filter((f) => !RELATIVE_TAGS.has(f) && !excluded.includes(f)), excluded };
}

export function refOf(row: ModelRow): ModelRef {
  return { product: row.product, modelVersion: row.model_version, path: row.path, sha256: row.sha256, positiveRate: row.positive_rate === null ? null : Number(row.positive_rate) };
}

/** A registered model by version (a replay scores with its original's models, whatever the champion is now). */
export async function pinnedModel(db: Knex, product: string, modelVersion: string): Promise<ModelRef> {
  const row: ModelRow | undefined = await db('audit.models').where({ product, model_version: modelVersion }).first();
  if (!row) throw ApplicationFailure.nonRetryable(`model ${modelVersion} for ${product} is not in the registry (audit.models)`, ErrorType.InvalidInput);
  return refOf(row);
}

/** Reads a registered model file and checks it against the registry's sha256. */
export async function readModelFile(ref: Pick<ModelRef, 'path' | 'sha256' | 'modelVersion'>): Promise<HistForest> {
  return (await readModelText(ref)).forest;
}

/** The model file's text (checked against its registered sha256) and the model loaded from it. */
export async function readModelText(ref: Pick<ModelRef, 'path' | 'sha256' | 'modelVersion'>): Promise<{ json: string; forest: HistForest }> {
  const body = await readFile(ref.path);
  const sha = createHash('sha256').update(body).digest('hex');
  if (sha !== ref.sha256) throw ApplicationFailure.nonRetryable(`model file ${ref.path} does not match the registered sha256 of ${ref.modelVersion}`, ErrorType.InvalidInput);
  const json = body.toString('utf8');
  return { json, forest: loadHistForest(json) };
}

/**
 * The model lifecycle of one product at one run: build the point-in-time training set; when it holds something the
 * champion has not learnt from (new labelled contacts, other features or parameters), train a candidate on all but
 * the latest days, judge candidate and champion on those same held-out days, register the candidate with its metrics
 * and training-set snapshot, and promote it only if it is at least as good. Returns the champion after the decision.
 * Idempotent: a retry finds the candidate by its training key and decides nothing twice.
 */
export async function refreshChampion(
  deps: { db: Knex; env: PortraitEnv; log: Logger },
  opts: { runId: string; asOf: string; timezone: string; product: string; params: ModelParams; seed: number },
): Promise<ModelRef> {
  const { product, ...rest } = opts;
  return (await refreshChampions(deps, { ...rest, products: [product] }))[0]!;
}

/**
 * {@link refreshChampion} of several products, their training sets built by one query (buildTrainingSets), then each
 * product's lifecycle step in turn. Returns the champions in the order of `products`.
 */
export async function refreshChampions(
  deps: { db: Knex; env: PortraitEnv; log: Logger },
  opts: { runId: string; asOf: string; timezone: string; products: readonly string[]; params: ModelParams; seed: number },
): Promise<ModelRef[]> {
  const { db, env } = deps;
  // Runs started before these settings existed carry configs without them.
  const params: ModelParams = { holdoutShare: 0.2, minHoldoutPositives: 20, trainingWindowDays: 365, excludeFeatures: [], excludeFeaturesByProduct: {}, ...(opts.params as Partial<ModelParams>) } as ModelParams;
  const plans: ProductPlan[] = [];
  for (const product of opts.products) {
    const champion: ModelRow | undefined = await db('audit.models').where({ product, status: 'champion' }).first();
    const { features, excluded } = modelFeatures(product, params);
    const championFeatures = champion ? (champion.features as string[]) : [];
    // The champion is judged on the same rows, so the set carries its columns too (in catalogue order).
    const columns = FEATURE_TAGS.filter((f) => features.includes(f) || championFeatures.includes(f));
    try {
      assertPointInTimeFeatures([...features, ...championFeatures], POINT_IN_TIME_FEATURES);
    } catch (err) {
      if (err instanceof LeakageError) throw ApplicationFailure.nonRetryable(`${product}: ${err.message}`, ErrorType.InvalidConfig);
      throw err;
    }
    plans.push({ product, champion, features, excluded, columns });
  }
  const sets = await buildTrainingSets(db, {
    runId: opts.runId,
    asOf: opts.asOf,
    timezone: opts.timezone,
    products: plans.map((p) => ({ product: p.product, features: p.columns })),
    attributionDays: TRAINING_ATTRIBUTION_DAYS,
    windowDays: params.trainingWindowDays,
    maxRows: params.maxTrainingRows,
    seed: opts.seed,
    workMem: env.workMem,
  });
  const refs: ModelRef[] = [];
  for (const plan of plans) refs.push(await decideCandidate(deps, { ...opts, params }, plan, sets.get(plan.product)!));
  return refs;
}

/** A product's lifecycle inputs before its training set: the champion now, the candidate's features, the set's columns. */
interface ProductPlan {
  product: string;
  champion: ModelRow | undefined;
  features: string[];
  excluded: string[];
  columns: string[];
}

/** Trains, judges and registers a candidate on a product's training set (see {@link refreshChampion}). */
async function decideCandidate(
  deps: { db: Knex; env: PortraitEnv; log: Logger },
  opts: { runId: string; asOf: string; timezone: string; params: ModelParams; seed: number },
  plan: ProductPlan,
  rows: TrainingRow[],
): Promise<ModelRef> {
  const { db, env, log } = deps;
  const { runId, seed, params } = opts;
  const { product, champion, features, excluded, columns } = plan;
  const forestParams = { trees: params.trees, maxDepth: params.maxDepth, minSamplesLeaf: params.minSamplesLeaf, maxTrainingRows: params.maxTrainingRows, holdoutShare: params.holdoutShare };
  const trainingKey = createHash('sha256')
    .update(canonicalJson({ algorithm: ALGORITHM, features, params: forestParams, seed, rows: rows.map((r) => `${r.contact_id}:${r.as_of}:${r.label}`) }))
    .digest('hex');
  const known: ModelRow | undefined = await db('audit.models').where({ product, training_key: trainingKey }).first();
  if (known) {
    // Already trained on exactly this (by an earlier run of these inputs, or this activity before a retry).
    const current: ModelRow | undefined = await db('audit.models').where({ product, status: 'champion' }).first();
    if (!current) throw new Error(`registry inconsistent: ${known.model_version} exists but ${product} has no champion`);
    return refOf(current);
  }
  const positives = rows.filter((r) => r.label === 1).length;
  const negatives = rows.length - positives;
  if (positives < 10 || negatives < 10) {
    if (champion) {
      log.warn({ run_id: runId, stage: 'score', product, positives, negatives }, 'too few labelled contacts to train a candidate; champion kept');
      return refOf(champion);
    }
    throw ApplicationFailure.nonRetryable(
      `not enough labelled contacts to train a ${product} model (${positives} converted, ${negatives} not, with closed attribution windows); load campaign history first`,
      ErrorType.InvalidInput,
    );
  }

  const split = timeSplit(rows, params.holdoutShare);
  const trainRows = split.train.map((i) => rows[i]!);
  const holdRows = split.holdout.map((i) => rows[i]!);
  const trainPositiveRate = trainRows.filter((r) => r.label === 1).length / trainRows.length;
  const t0 = process.hrtime.bigint();
  const candidate = await trainHistForest(trainRows, trainRows.map((r) => r.label), {
    seed,
    features,
    nEstimators: params.trees,
    maxDepth: params.maxDepth,
    minSamplesLeaf: params.minSamplesLeaf,
    maxFeatures: 'sqrt',
    classWeight: 'balanced',
    threads: Math.max(1, Math.min(2, cpus().length)),
  });
  const fitSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const trainingUntil = trainRows.reduce((m, r) => (r.as_of > m ? r.as_of : m), '');

  // Judge on the holdout, restricted to days the champion never trained on so neither side has seen them.
  const judged = champion?.training_until ? holdRows.filter((r) => r.as_of > isoDate(champion.training_until!)) : holdRows;
  const labels = judged.map((r) => r.label);
  const candidateProbs = judged.length ? candidate.predictProba(judged) : new Float64Array(0);
  const candidateMetrics = judged.length ? holdoutMetrics(priorCorrectAll(candidateProbs, trainPositiveRate), labels) : null;
  let championAuc: number | null = null;
  if (champion) {
    const championForest = await readModelFile(refOf(champion));
    championAuc = judged.length ? holdoutMetrics(championForest.predictProba(judged), labels).auc : NaN;
  }
  const decision: PromotionDecision = decidePromotion({
    candidateAuc: candidateMetrics?.auc ?? NaN,
    championAuc,
    holdoutRows: judged.length,
    holdoutPositives: labels.filter((l) => l === 1).length,
    minHoldoutPositives: params.minHoldoutPositives,
  });

  const body = candidate.serialize();
  const sha256 = createHash('sha256').update(body).digest('hex');
  const modelVersion = `${product}-${sha256.slice(0, 12)}`;
  const dir = path.join(env.home, 'models');
  await mkdir(path.join(dir, 'training'), { recursive: true });
  const file = path.join(dir, `${modelVersion}.json`);
  await writeFile(`${file}.partial`, body);
  await rename(`${file}.partial`, file);
  const snapshot = await writeTrainingSnapshot(path.join(dir, 'training'), `${modelVersion}.parquet`, rows, columns, split.holdoutFrom);
  const population = await countLabelledContacts(db, { runId, asOf: opts.asOf, timezone: opts.timezone, product, attributionDays: TRAINING_ATTRIBUTION_DAYS, windowDays: params.trainingWindowDays });
  const positiveRate = population.contacts ? clampRate(population.positives / population.contacts) : null;
  const metrics = {
    holdout_auc: candidateMetrics?.auc ?? null,
    holdout: candidateMetrics,
    champion_holdout_auc: championAuc,
    oob_auc: candidate.oobAuc === null ? null : Number(candidate.oobAuc.toFixed(4)),
    training_positives: trainRows.filter((r) => r.label === 1).length,
    training_negatives: trainRows.filter((r) => r.label === 0).length,
    population_contacts: population.contacts,
    population_positives: population.positives,
    fit_seconds: Number(fitSeconds.toFixed(2)),
    feature_importance: candidate.columnImportance().map((f) => ({ feature: f.feature, importance: Number(f.importance.toFixed(5)) })),
  };

  await db.transaction(async (trx) => {
    await trx('audit.models')
      .insert({
        model_version: modelVersion,
        product,
        algorithm: ALGORITHM,
        params: JSON.stringify(forestParams),
        seed,
        features: JSON.stringify(features),
        excluded_features: JSON.stringify(excluded),
        training_rows: trainRows.length,
        training_sha256: createHash('sha256').update(rows.map((r) => `${r.contact_id}:${r.as_of}:${r.label}`).join('\n')).digest('hex'),
        training_key: trainingKey,
        training_snapshot_path: path.join(dir, 'training', snapshot.path),
        training_snapshot_sha256: snapshot.sha256,
        training_until: trainingUntil,
        holdout_from: split.holdoutFrom,
        positive_rate: positiveRate,
        metrics: JSON.stringify(metrics),
        path: file,
        sha256,
        status: 'candidate',
        trained_by_run: runId,
      })
      .onConflict('model_version')
      .ignore();
    const event = (model: string, kind: string, reason: string, detail: string) =>
      trx('audit.model_events')
        .insert({ model_version: model, product, event: kind, reason, detail, run_id: runId, champion_version: champion?.model_version ?? null, candidate_auc: finite(candidateMetrics?.auc), champion_auc: finite(championAuc), holdout_rows: judged.length })
        .onConflict(['model_version', 'event', 'run_id'])
        .ignore();
    await event(modelVersion, 'registered', 'candidate', `trained on ${trainRows.length} contacts up to ${trainingUntil}, held out ${holdRows.length} from ${split.holdoutFrom ?? '-'}`);
    if (decision.promote) {
      if (champion) {
        await trx('audit.models').where({ model_version: champion.model_version }).update({ status: 'retired' });
        await event(champion.model_version, 'retired', decision.reason, `replaced by ${modelVersion}`);
      }
      await trx('audit.models').where({ model_version: modelVersion }).update({ status: 'champion', promoted_at: trx.fn.now() });
      await event(modelVersion, 'promoted', decision.reason, decision.detail);
    } else {
      await event(champion!.model_version, 'kept_champion', decision.reason, decision.detail);
    }
  });
  log.info({ run_id: runId, stage: 'score', product, model_version: modelVersion, holdout_auc: candidateMetrics?.auc, champion_auc: championAuc, promoted: decision.promote, reason: decision.reason }, 'candidate model registered');
  const current: ModelRow = await db('audit.models').where({ product, status: 'champion' }).first();
  return refOf(current);
}

/** The training set as the candidate saw it (contact id, feature date, label, split, features), sorted by contact id. */
async function writeTrainingSnapshot(dir: string, file: string, rows: readonly TrainingRow[], columns: readonly string[], holdoutFrom: string | null) {
  const def = trainingSet(columns);
  function* stream(): Generator<RowOf<typeof def>> {
    for (const r of rows) {
      const out: RowOf<typeof def> = { contact_id: r.contact_id, as_of: r.as_of, label: r.label, split: holdoutFrom !== null && r.as_of >= holdoutFrom ? 'holdout' : 'train' };
      for (const c of columns) out[c] = r[c] === null || r[c] === undefined ? null : typeof r[c] === 'boolean' ? (r[c] ? 1 : 0) : Number(r[c]);
      yield out;
    }
  }
  return writeSnapshot(dir, def, { rows: stream() }, { file });
}

function isoDate(d: string | Date): string {
  return typeof d === 'string' ? d.slice(0, 10) : d.toISOString().slice(0, 10);
}

function finite(x: number | null | undefined): number | null {
  return x === null || x === undefined || !Number.isFinite(x) ? null : x;
}

/** Rates of exactly 0 or 1 cannot be prior-corrected to; keep them strictly inside. */
function clampRate(r: number): number {
  return Math.min(1 - 1e-6, Math.max(1e-6, r));
}

export class PromotionRefused extends Error {
  override readonly name = 'PromotionRefused';
}

/**
 * Manual promotion (`portrait model promote`): allowed when the candidate was judged at least as good as the model
 * that is champion now, on the same holdout; otherwise only with `force` and a reason, which the decision log keeps.
 */
export async function promoteModel(db: Knex, modelVersion: string, opts: { force?: boolean; reason?: string; actor: string }): Promise<{ product: string; previous: string | null }> {
  return db.transaction(async (trx) => {
    const model = await trx('audit.models').where({ model_version: modelVersion }).forUpdate().first();
    if (!model) throw new PromotionRefused(`no model ${modelVersion}; see portrait model list`);
    if (model.status === 'champion') throw new PromotionRefused(`${modelVersion} is already the ${model.product} champion`);
    const champion = await trx('audit.models').where({ product: model.product, status: 'champion' }).forUpdate().first();
    const registered = await trx('audit.model_events').where({ model_version: modelVersion, event: 'registered' }).orderBy('event_id', 'desc').first();
    let reason = 'manual';
    if (champion) {
      const sameChampion = registered?.champion_version === champion.model_version;
      const atLeastAsGood = sameChampion && registered.candidate_auc !== null && registered.champion_auc !== null && registered.candidate_auc >= registered.champion_auc;
      if (!atLeastAsGood) {
        const why = !sameChampion
          ? `${modelVersion} was judged against ${registered?.champion_version ?? 'no champion'}, but the champion is now ${champion.model_version}`
          : `${modelVersion} scored AUC ${registered.candidate_auc ?? 'n/a'} against the champion's ${registered.champion_auc ?? 'n/a'} on the same holdout`;
        if (!opts.force) throw new PromotionRefused(`${why}; use --force --reason TEXT to promote anyway`);
        if (!opts.reason) throw new PromotionRefused('--force needs --reason TEXT (kept in the decision log)');
        reason = 'manual_override';
      }
      await trx('audit.models').where({ model_version: champion.model_version }).update({ status: 'retired' });
    }
    await trx('audit.models').where({ model_version: modelVersion }).update({ status: 'champion', promoted_at: trx.fn.now() });
    const runId = `manual:${opts.actor}:${new Date().toISOString()}`;
    const detail = opts.reason ?? 'promoted by hand';
    await trx('audit.model_events').insert({ model_version: modelVersion, product: model.product, event: 'promoted', reason, detail, run_id: runId, champion_version: champion?.model_version ?? null });
    if (champion) await trx('audit.model_events').insert({ model_version: champion.model_version, product: model.product, event: 'retired', reason, detail: `replaced by ${modelVersion}`, run_id: runId, champion_version: champion.model_version });
    return { product: model.product, previous: champion?.model_version ?? null };
  });
}
