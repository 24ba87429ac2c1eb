import { RandomForestClassifier } from 'ml-random-forest';

/**
 * The conversion model. ml-random-forest is the reference forest named by the design; it is quadratic in the
 * rows of a node, so training is capped (config model.maxTrainingRows). A faster histogram forest replaces it later.
 */
export interface ForestParams {
  trees: number;
  maxDepth: number;
  minSamplesLeaf: number;
}

export interface ForestModel {
  format: 'portrait-forest';
  formatVersion: 1;
  algorithm: 'ml-random-forest@2';
  product: string;
  /** Feature order of every input row; scoring checks its input against it. */
  features: string[];
  params: ForestParams;
  seed: number;
  forest: unknown;
}

/** Numeric view of a tag row: booleans as 0/1, missing values as -1 (the trees learn a split for them). */
export function featureVector(row: Record<string, unknown>, features: readonly string[]): number[] {
  return features.map((f) => {
    const v = row[f];
    if (v === null || v === undefined) return -1;
    if (typeof v === 'boolean') return v ? 1 : 0;
    const n = Number(v);
    return Number.isFinite(n) ? n : -1;
  });
}

/** Trains a seeded forest; same rows (in the same order), params and seed give the same model. */
export function trainForest(product: string, features: string[], X: number[][], y: number[], params: ForestParams, seed: number): ForestModel {
  if (X.length === 0) throw new Error(`no training rows for product ${product}`);
  if (new Set(y).size < 2) throw new Error(`training labels for product ${product} have a single class; need converted and not converted contacts`);
  const rf = new RandomForestClassifier({
    nEstimators: params.trees,
    maxFeatures: 0.5,
    replacement: true,
    useSampleBagging: true,
    noOOB: true,
    seed,
    treeOptions: { maxDepth: params.maxDepth, minNumSamples: params.minSamplesLeaf },
  });
  rf.train(X, y);
  return { format: 'portrait-forest', formatVersion: 1, algorithm: 'ml-random-forest@2', product, features, params, seed, forest: rf.toJSON() };
}

export interface Scorer {
  features: readonly string[];
  /** Probability of conversion per row, rounded to 6 decimals by the forest. */
  score(X: number[][]): number[];
}

export function loadScorer(model: ForestModel): Scorer {
  if (model.format !== 'portrait-forest' || model.formatVersion !== 1) throw new Error(`unsupported model format ${model.format}/${model.formatVersion}`);
  const rf = RandomForestClassifier.load(model.forest as Parameters<typeof RandomForestClassifier.load>[0]);
  return {
    features: model.features,
    score: (X) => (X.length === 0 ? [] : (rf.predictProbability(X, 1) as number[])),
  };
}

/** Area under the ROC curve (one implementation for the project: models/metrics.ts). */
export { rocAuc } from './metrics';
