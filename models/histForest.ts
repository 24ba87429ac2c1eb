/**
 * Histogram random forest for binary classification (replacement for the quadratic ml-random-forest).
 *
 * Training: a string column becomes one feature coding its level, levels ordered by target rate (optionally split by
 * subsets of levels, or one-hot for columns with ≤ oneHotMaxLevels levels),
 * every feature is quantile-binned to ≤ 255 bins plus a missing bin, and each tree is grown on a seeded bootstrap
 * from per-node class histograms (Gini or entropy), drawing maxFeatures features per node (constant ones count, as
 * in scikit-learn) and learning a direction for missing values at every split. Tree i depends only on (data, params, seed, i), so the
 * serialized model is byte-identical whatever the number of worker threads.
 */
import * as os from 'os';
import type { Worker } from 'worker_threads';
import { spawnModuleWorker } from '../services/moduleWorker';
import { binColumn, binMatrix, EdgeFitter } from './binning';
import {
  columnsFromNumericBatch,
  codeBins,
  columnsFromRows,
  detectType,
  encodeColumns,
  encodeFeature,
  fitEncodings,
  toRawColumn,
  type ColumnarInput,
  type ColumnType,
  type Encoding,
  type FeatureSchemaEntry,
  type NumericBatch,
  type RawColumn,
  type Row,
} from './encoding';
import { buildTree, CAT_WORDS, MISSING_BIN, catGoesLeft, catSlots, type BinnedMatrix, type BuiltTree, type FlatTree, type TreeParams } from './histTree';
import { rocAuc } from './metrics';
import { createUniform, shuffleInPlace } from './prng';
import type { TreeWorkerReply, TreeWorkerRequest } from './forestWorker';

export type { ColumnarInput, ColumnType, FeatureSchemaEntry, NumericBatch, Row } from './encoding';

export interface HistForestParams {
  /** Number of trees (default 100). */
  nEstimators?: number;
  /** Maximum depth, root = 0; null = unlimited (default). */
  maxDepth?: number | null;
  /** Minimum in-bag rows per leaf (default 1). */
  minSamplesLeaf?: number;
  /** Minimum in-bag rows to split a node (default 2). */
  minSamplesSplit?: number;
  /** Features examined per node: 'sqrt' (default), 'log2', 'all', a fraction in (0, 1) or an integer count ≥ 1. */
  maxFeatures?: 'sqrt' | 'log2' | 'all' | number;
  /** Value bins per feature, 2..255 (default 255); missing values get a bin of their own. */
  maxBins?: number;
  criterion?: 'gini' | 'entropy';
  bootstrap?: boolean;
  /** 'balanced' = n / (2 · n_class) from the training labels, or explicit weights of class 0 and 1. */
  classWeight?: 'balanced' | { 0: number; 1: number } | null;
  /** String columns with at most this many levels are one-hot encoded (default 0: none). */
  oneHotMaxLevels?: number;
  /**
   * Other string columns: false (default) = an ordinal code ordered by smoothed target rate, split by thresholds;
   * true = the same code split by subsets of levels (ordered by the node's class-1 rate). On the UCI bank file the
   * subsets scored no better and cost more time, so they are opt-in.
   */
  nativeCategories?: boolean;
}

export interface TrainOptions extends HistForestParams {
  seed: number;
  /** Input columns to use, in order (default: keys of the first row / all columns). */
  features?: readonly string[];
  /** Override the detected type of some columns. */
  featureTypes?: Readonly<Record<string, ColumnType>>;
  /** Worker threads building trees (default min(2, CPUs)); 1 builds in the calling thread. Not part of the model. */
  threads?: number;
  /** Compute the out-of-bag AUC (default true; it walks every out-of-bag row down its tree: 10–20 % of the fit time). */
  oobScore?: boolean;
}

/** Resolved hyperparameters, stored in the model in a fixed key order. */
export interface ResolvedParams {
  nEstimators: number;
  maxDepth: number | null;
  minSamplesLeaf: number;
  minSamplesSplit: number;
  maxFeatures: 'sqrt' | 'log2' | 'all' | number;
  mtry: number;
  maxBins: number;
  criterion: 'gini' | 'entropy';
  bootstrap: boolean;
  classWeight: 'balanced' | { 0: number; 1: number } | null;
  classWeights: [number, number];
  oneHotMaxLevels: number;
  /** Absent in version 1 models (which split categories as ordinal codes). */
  nativeCategories?: boolean;
}

export interface SerializedTree {
  nodes: number;
  /** base64 of little-endian typed arrays. */
  feature: string;
  threshold: string;
  missingLeft: string;
  right: string;
  value: string;
  /** Bin sets of the categorical splits (version 2; absent in version 1). */
  catBits?: string;
}

export interface HistForestJson {
  format: 'portrait-histforest';
  formatVersion: 1 | 2;
  featureSchema: FeatureSchemaEntry[];
  encodings: Encoding[];
  /** Derived (encoded) feature names; trees and binEdges index them. */
  features: string[];
  binEdges: number[][];
  params: ResolvedParams;
  seed: number;
  trainingRows: number;
  oobAuc: number | null;
  /** Mean impurity decrease per derived feature, normalised to sum 1. */
  featureImportance: number[];
  trees: SerializedTree[];
}

export interface Reason {
  /** Input column. */
  feature: string;
  /** Change in predicted probability attributed to the column (Saabas, averaged over trees). */
  contribution: number;
}

export interface RowExplanation {
  prediction: number;
  bias: number;
  reasons: Reason[];
}

export interface PermutationImportance {
  feature: string;
  /** Mean drop in ROC AUC when the column is shuffled (positive = the model relies on it). */
  importanceMean: number;
  importanceSd: number;
}

export type ScoringInput = readonly Row[] | ColumnarInput;

const FORMAT = 'portrait-histforest';

/** Trains a forest on row objects (or columns) and 0/1 labels (booleans accepted). */
export async function trainHistForest(data: ScoringInput, labels: ArrayLike<number | boolean>, options: TrainOptions): Promise<HistForest> {
  const threads = Math.max(1, Math.min(options.threads ?? Math.min(2, availableCpus()), options.nEstimators ?? 100));
  // Take workers first: a new one starts up (and warms its JIT) while this thread encodes and bins, then this thread
  // builds trees too (threads − 1 workers).
  const workers = acquireTreeWorkers(threads - 1);
  let reusable = false;
  try {
    const prepared = prepareTraining(data, labels, options);
    const built = threads === 1 ? buildInThread(prepared) : await buildInWorkers(prepared, workers);
    // Only workers with no request in flight go back to the pool (every tree was answered).
    reusable = true;
    return assemble(prepared, built);
  } finally {
    await releaseTreeWorkers(workers, reusable);
  }
}

/** A pooled tree worker; `failure` is set by its first error or exit. */
interface PooledWorker {
  worker: Worker;
  failure: Error | null;
}

/**
 * Idle tree workers kept between fits: a worker's start-up and cold JIT cost more than a short fit, and k-fold
 * evaluation or a benchmark fits several forests in a row. Idle workers are unref'd (they never keep a process
 * alive) and stopped after IDLE_WORKER_MS without a fit.
 */
const idleWorkers: PooledWorker[] = [];
let idleTimer: NodeJS.Timeout | null = null;
const IDLE_WORKER_MS = 5000;

function acquireTreeWorkers(k: number): PooledWorker[] {
  if (idleTimer) {
    clearTimeout(idleTimer);
    idleTimer = null;
  }
  const out = idleWorkers.splice(0, k);
  while (out.length < k) {
    const pw: PooledWorker = { worker: spawnTreeWorker(), failure: null };
    // Listen at once: a worker failing while this thread is still binning must not crash the process.
    pw.worker.on('error', (err) => (pw.failure ??= err));
    pw.worker.on('exit', (code) => (pw.failure ??= new Error(`tree worker exited early with code ${code}`)));
    out.push(pw);
  }
  for (const pw of out) pw.worker.ref();
  return out;
}

async function releaseTreeWorkers(workers: PooledWorker[], reusable: boolean): Promise<void> {
  const drop: PooledWorker[] = [];
  for (const pw of workers) {
    if (!reusable || pw.failure) {
      drop.push(pw);
      continue;
    }
    pw.worker.unref();
    idleWorkers.push(pw);
  }
  if (idleWorkers.length > 0 && !idleTimer) {
    idleTimer = setTimeout(() => void closeTreeWorkers(), IDLE_WORKER_MS);
    idleTimer.unref();
  }
  await Promise.all(drop.map((pw) => pw.worker.terminate()));
}

/** Stops the idle tree workers now (they also stop by themselves after a few idle seconds). */
export async function closeTreeWorkers(): Promise<void> {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = null;
  await Promise.all(idleWorkers.splice(0).map((pw) => pw.worker.terminate()));
}

function availableCpus(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

interface Prepared {
  schema: FeatureSchemaEntry[];
  encodings: Encoding[];
  featureNames: string[];
  binEdges: number[][];
  matrix: BinnedMatrix;
  params: ResolvedParams;
  treeParams: TreeParams;
  seed: number;
}

function toLabels(labels: ArrayLike<number | boolean>, n: number): Uint8Array {
  if (labels.length !== n) throw new Error(`labels has ${labels.length} entries but the data has ${n} rows`);
  const y = new Uint8Array(new SharedArrayBuffer(n));
  for (let i = 0; i < n; i++) {
    const v = labels[i];
    if (v === 1 || v === true) y[i] = 1;
    else if (v === 0 || v === false) y[i] = 0;
    else throw new Error(`label at row ${i} is ${String(v)}; labels must be 0/1 or booleans`);
  }
  return y;
}

function rowCount(data: ScoringInput): number {
  return Array.isArray(data) ? data.length : (data as ColumnarInput).rows;
}

function rawColumnsForTraining(data: ScoringInput, options: TrainOptions): RawColumn[] {
  const isRows = Array.isArray(data);
  const names = options.features
    ? [...options.features]
    : isRows
      ? Object.keys((data as readonly Row[])[0] ?? {})
      : Object.keys((data as ColumnarInput).columns);
  if (names.length === 0) throw new Error('no feature columns: pass options.features or rows with at least one key');
  const values = isRows ? columnsFromRows(data as readonly Row[], names) : null;
  return names.map((name) => {
    let vals: ArrayLike<unknown>;
    if (values) vals = values.get(name)!;
    else {
      const c = (data as ColumnarInput).columns[name];
      if (!c) throw new Error(`input column '${name}' is missing from the training columns`);
      if (c.length !== (data as ColumnarInput).rows) throw new Error(`column '${name}' has ${c.length} values, expected ${(data as ColumnarInput).rows}`);
      vals = c;
    }
    const given = options.featureTypes?.[name];
    const type = given ?? detectType(name, vals);
    // A detected type has checked every value, and training only reads its columns: no checked copy needed.
    if (given === undefined && type === 'category') return { name, type, cat: vals as readonly (string | null)[] as (string | null)[] };
    if (given === undefined && type === 'number' && vals instanceof Float64Array) return { name, type, num: vals };
    return toRawColumn(name, type, vals);
  });
}

function resolveParams(p: HistForestParams, nFeatures: number, y: Uint8Array): ResolvedParams {
  const nEstimators = p.nEstimators ?? 100;
  if (!(Number.isInteger(nEstimators) && nEstimators >= 1)) throw new Error(`nEstimators must be a positive integer, got ${nEstimators}`);
  const maxFeatures = p.maxFeatures ?? 'sqrt';
  let mtry: number;
  if (maxFeatures === 'sqrt') mtry = Math.floor(Math.sqrt(nFeatures));
  else if (maxFeatures === 'log2') mtry = Math.floor(Math.log2(nFeatures));
  else if (maxFeatures === 'all') mtry = nFeatures;
  else if (maxFeatures > 0 && maxFeatures < 1) mtry = Math.floor(maxFeatures * nFeatures);
  else if (Number.isInteger(maxFeatures) && maxFeatures >= 1) mtry = maxFeatures;
  else throw new Error(`maxFeatures must be 'sqrt', 'log2', 'all', a fraction in (0, 1) or an integer >= 1; got ${maxFeatures}`);
  mtry = Math.max(1, Math.min(nFeatures, mtry));
  const criterion = p.criterion ?? 'gini';
  if (criterion !== 'gini' && criterion !== 'entropy') throw new Error(`criterion must be 'gini' or 'entropy', got ${String(criterion)}`);
  const maxBins = p.maxBins ?? 255;
  if (!(Number.isInteger(maxBins) && maxBins >= 2 && maxBins <= 255)) throw new Error(`maxBins must be an integer in [2, 255], got ${maxBins}`);
  let pos = 0;
  for (let i = 0; i < y.length; i++) pos += y[i]!;
  const neg = y.length - pos;
  if (pos === 0 || neg === 0) throw new Error(`training labels have a single class (${pos} positives of ${y.length}); need both classes`);
  const cw = p.classWeight ?? null;
  const classWeights: [number, number] = cw === 'balanced' ? [y.length / (2 * neg), y.length / (2 * pos)] : cw ? [cw[0], cw[1]] : [1, 1];
  if (!(classWeights[0] > 0 && classWeights[1] > 0)) throw new Error(`class weights must be positive, got ${classWeights.join(', ')}`);
  const maxDepth = p.maxDepth ?? null;
  if (maxDepth !== null && !(Number.isInteger(maxDepth) && maxDepth >= 0)) throw new Error(`maxDepth must be null or an integer >= 0, got ${maxDepth}`);
  return {
    nEstimators,
    maxDepth,
    minSamplesLeaf: p.minSamplesLeaf ?? 1,
    minSamplesSplit: p.minSamplesSplit ?? 2,
    maxFeatures,
    mtry,
    maxBins,
    criterion,
    bootstrap: p.bootstrap ?? true,
    classWeight: cw === null || cw === 'balanced' ? cw : { 0: cw[0], 1: cw[1] },
    classWeights,
    oneHotMaxLevels: p.oneHotMaxLevels ?? 0,
    nativeCategories: p.nativeCategories ?? false,
  };
}

function prepareTraining(data: ScoringInput, labels: ArrayLike<number | boolean>, options: TrainOptions): Prepared {
  if (!Number.isInteger(options.seed)) throw new Error(`seed must be an integer, got ${options.seed}`);
  const n = rowCount(data);
  if (n === 0) throw new Error('no training rows');
  const y = toLabels(labels, n);
  const columns = rawColumnsForTraining(data, options);
  const { schema, encodings, featureNames } = fitEncodings(columns, y, options.oneHotMaxLevels ?? 0, options.nativeCategories ?? false);
  const p = featureNames.length;
  const params = resolveParams(options, p, y);
  const { binEdges, binned } = binTrainingColumns(new Map(columns.map((c) => [c.name, c])), encodings, p, n, params.maxBins);
  const treeParams: TreeParams = {
    maxDepth: params.maxDepth === null ? -1 : params.maxDepth,
    minSamplesLeaf: params.minSamplesLeaf,
    minSamplesSplit: params.minSamplesSplit,
    mtry: params.mtry,
    criterion: params.criterion,
    bootstrap: params.bootstrap,
    classWeight: params.classWeights,
    categorical: categoricalFlags(encodings, p),
    oob: params.bootstrap && options.oobScore !== false,
  };
  return { schema, encodings, featureNames, binEdges, matrix: { binned, y, n, p }, params, treeParams, seed: options.seed };
}

/**
 * Bin edges and bins (shared memory, for the tree workers) of the training features: the same as fitBinEdges and
 * binMatrix over encodeColumns, one feature at a time (no p × n matrix of doubles), and level-coded columns straight
 * from their level ids.
 */
export function binTrainingColumns(columns: ReadonlyMap<string, RawColumn>, encodings: readonly Encoding[], p: number, n: number, maxBins: number): { binEdges: number[][]; binned: Uint8Array } {
  const binned = new Uint8Array(new SharedArrayBuffer(n * p));
  const binEdges: number[][] = new Array(p);
  const fitter = new EdgeFitter(n, maxBins);
  let values: Float64Array | null = null;
  for (const enc of encodings) {
    const col = columns.get(enc.column)!;
    const f0 = enc.features[0]!;
    const coded = codeBins(col, enc, maxBins, n, binned, f0 * n);
    if (coded) {
      binEdges[f0] = coded;
      continue;
    }
    for (let k = 0; k < enc.features.length; k++) {
      const f = enc.features[k]!;
      let v: Float64Array;
      if (col.type !== 'category') v = col.num;
      else {
        values ??= new Float64Array(n);
        encodeFeature(col, enc, k, n, values, 0);
        v = values;
      }
      binEdges[f] = fitter.fit(v, 0);
      binColumn(v, 0, n, binEdges[f]!, binned, f * n);
    }
  }
  return { binEdges, binned };
}

/** 1 for derived features split by subsets of levels. */
function categoricalFlags(encodings: readonly Encoding[], p: number): Uint8Array {
  const flags = new Uint8Array(p);
  for (const enc of encodings) if (enc.kind === 'category') flags[enc.features[0]!] = 1;
  return flags;
}

function buildInThread(pr: Prepared): BuiltTree[] {
  const out: BuiltTree[] = [];
  for (let i = 0; i < pr.params.nEstimators; i++) out.push(buildTree(pr.matrix, pr.treeParams, pr.seed, i));
  return out;
}

/** Starts a tree worker (forestWorker.js, or forestWorker.ts under ts-jest). */
export function spawnTreeWorker(): Worker {
  return spawnModuleWorker(__dirname, 'forestWorker', __filename);
}

async function buildInWorkers(pr: Prepared, workers: readonly PooledWorker[]): Promise<BuiltTree[]> {
  const nTrees = pr.params.nEstimators;
  const results: (BuiltTree | undefined)[] = new Array(nTrees);
  // Every thread takes the next tree index from one shared counter, so no thread waits for another to hand out
  // work; tree i is the same whoever builds it.
  const next = new Int32Array(new SharedArrayBuffer(4));
  const job: TreeWorkerRequest = { build: { binned: pr.matrix.binned, y: pr.matrix.y, n: pr.matrix.n, p: pr.matrix.p, params: pr.treeParams, seed: pr.seed, trees: nTrees, next } };
  const cleanups: (() => void)[] = [];
  const remote = workers.map(
    (pw) =>
      new Promise<void>((resolve, reject) => {
        if (pw.failure) {
          reject(pw.failure);
          return;
        }
        const w = pw.worker;
        const onMessage = (msg: TreeWorkerReply): void => {
          if ('done' in msg) resolve();
          else results[msg.tree] = msg.built;
        };
        const onExit = (code: number): void => reject(new Error(`tree worker exited early with code ${code}`));
        w.on('message', onMessage);
        w.on('error', reject);
        w.on('exit', onExit);
        cleanups.push(() => {
          w.off('message', onMessage);
          w.off('error', reject);
          w.off('exit', onExit);
        });
        w.postMessage(job);
      }),
  );
  const local = (async () => {
    for (let i = Atomics.add(next, 0, 1); i < nTrees; i = Atomics.add(next, 0, 1)) {
      results[i] = buildTree(pr.matrix, pr.treeParams, pr.seed, i);
      // Let replies, heartbeats and timers through between trees.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  })();
  try {
    await Promise.all([local, ...remote]);
  } catch (err) {
    // Stop handing out trees; the workers are not reused after a failure.
    Atomics.store(next, 0, nTrees);
    throw err;
  } finally {
    for (const c of cleanups) c();
  }
  return results.map((t, i) => {
    if (!t) throw new Error(`tree ${i} was not built`);
    return t;
  });
}

function assemble(pr: Prepared, built: BuiltTree[]): HistForest {
  const { n, p, y } = pr.matrix;
  // OOB sums in tree order, so the result does not depend on which worker built which tree.
  const oobSum = new Float64Array(n);
  const oobCount = new Int32Array(n);
  const importance = new Float64Array(p);
  for (const t of built) {
    for (let k = 0; k < t.oobRows.length; k++) {
      oobSum[t.oobRows[k]!] += t.oobValues[k]!;
      oobCount[t.oobRows[k]!]!++;
    }
    let total = 0;
    for (let f = 0; f < p; f++) total += t.importance[f]!;
    if (total > 0) for (let f = 0; f < p; f++) importance[f] += t.importance[f]! / total;
  }
  let oobAuc: number | null = null;
  if (pr.treeParams.oob) {
    const s: number[] = [];
    const l: number[] = [];
    for (let r = 0; r < n; r++) if (oobCount[r]! > 0) { s.push(oobSum[r]! / oobCount[r]!); l.push(y[r]!); }
    const auc = rocAuc(s, l);
    oobAuc = Number.isNaN(auc) ? null : auc;
  }
  let impTotal = 0;
  for (let f = 0; f < p; f++) impTotal += importance[f]!;
  const featureImportance = Array.from(importance, (v) => (impTotal > 0 ? v / impTotal : 0));
  const trees: FlatTree[] = built.map((t) => ({ feature: t.feature, threshold: t.threshold, missingLeft: t.missingLeft, right: t.right, value: t.value, catBits: t.catBits, catSlot: t.catSlot }));
  return new HistForest({
    schema: pr.schema,
    encodings: pr.encodings,
    featureNames: pr.featureNames,
    binEdges: pr.binEdges,
    params: pr.params,
    seed: pr.seed,
    trainingRows: n,
    oobAuc,
    featureImportance,
    trees,
  });
}

interface ForestParts {
  schema: FeatureSchemaEntry[];
  encodings: Encoding[];
  featureNames: string[];
  binEdges: number[][];
  params: ResolvedParams;
  seed: number;
  trainingRows: number;
  oobAuc: number | null;
  featureImportance: number[];
  trees: FlatTree[];
}

export class HistForest {
  readonly schema: readonly FeatureSchemaEntry[];
  readonly featureNames: readonly string[];
  readonly params: Readonly<ResolvedParams>;
  readonly seed: number;
  /** ROC AUC of out-of-bag predictions on the training rows (null without bootstrap or with oobScore false). */
  readonly oobAuc: number | null;
  private readonly parts: ForestParts;
  /** Raw-value threshold per node of each tree (edge of the split bin). */
  /** Input column index of each derived feature. */
  private readonly featureColumn: Int32Array;
  /** For features split by subsets of levels: bin of each level code (the encoded value); null otherwise. */
  private readonly scoreNodes: Int32Array[];

  constructor(parts: ForestParts) {
    this.parts = parts;
    this.schema = parts.schema;
    this.featureNames = parts.featureNames;
    this.params = parts.params;
    this.seed = parts.seed;
    this.oobAuc = parts.oobAuc;
    this.featureColumn = new Int32Array(parts.featureNames.length);
    parts.encodings.forEach((enc, j) => {
      for (const f of enc.features) this.featureColumn[f] = j;
    });
    if (parts.featureNames.length >= 1 << 21) throw new Error(`${parts.featureNames.length} features: at most 2^21 - 1 are supported`);
    this.scoreNodes = parts.trees.map((t) => {
      const nodes = new Int32Array(2 * t.feature.length);
      for (let i = 0; i < t.feature.length; i++) {
        const f = t.feature[i]!;
        nodes[2 * i] = f < 0 ? -1 : (f << 10) | (t.missingLeft[i]! << 9) | (t.catSlot[i]! >= 0 ? 256 : 0) | t.threshold[i]!;
        nodes[2 * i + 1] = t.right[i]!;
      }
      return nodes;
    });
  }

  get nTrees(): number {
    return this.parts.trees.length;
  }

  /** Encodes input rows/columns after validating them against the schema; returns the p × n matrix. */
  encode(input: ScoringInput): { X: Float64Array; n: number } {
    const n = rowCount(input);
    const names = this.schema.map((s) => s.name);
    let raw: Map<string, RawColumn>;
    if (Array.isArray(input)) {
      const values = columnsFromRows(input as readonly Row[], names);
      raw = new Map(this.schema.map((s) => [s.name, toRawColumn(s.name, s.type, values.get(s.name)!)]));
    } else {
      const ci = input as ColumnarInput;
      raw = new Map(
        this.schema.map((s) => {
          const c = ci.columns[s.name];
          if (!c) throw new Error(`input column '${s.name}' is missing (columns given: ${Object.keys(ci.columns).join(', ')})`);
          if (c.length !== n) throw new Error(`column '${s.name}' has ${c.length} values, expected ${n}`);
          return [s.name, toRawColumn(s.name, s.type, c)];
        }),
      );
    }
    return { X: encodeColumns(raw, this.parts.encodings, this.featureNames.length, n), n };
  }

  /** Probability of class 1 per row (mean over trees of the leaf's weighted class-1 fraction). */
  predictProba(input: ScoringInput): Float64Array {
    const { X, n } = this.encode(input);
    return this.predictEncoded(X, n);
  }

  /** Scores a column-major numeric batch (categories as indices into schema categories, NaN = missing). */
  predictProbaBatch(batch: NumericBatch): Float64Array {
    const raw = columnsFromNumericBatch(this.schema, batch);
    return this.predictEncoded(encodeColumns(raw, this.parts.encodings, this.featureNames.length, batch.rows), batch.rows);
  }

  /**
   * Scores an already encoded p × n matrix. The matrix is binned with the training bin edges first (a split
   * "bin <= t" is "x <= edges[t]", so the leaves are the same as on raw values: 8× less memory to walk than
   * doubles), then every row goes through one tree before the next, whose packed nodes stay in cache.
   */
  predictEncoded(X: Float64Array, n: number): Float64Array {
    const p = this.featureNames.length;
    const binned = binMatrix(X, n, p, this.parts.binEdges);
    const out = new Float64Array(n);
    const trees = this.parts.trees;
    for (let t = 0; t < trees.length; t++) {
      const tree = trees[t]!;
      const nodes = this.scoreNodes[t]!;
      const value = tree.value;
      for (let r = 0; r < n; r++) {
        let node = 0;
        let w = nodes[0]!;
        while (w >= 0) {
          const b = binned[(w >>> 10) * n + r]!;
          const left = b === MISSING_BIN ? (w & 512) !== 0 : (w & 256) !== 0 ? catGoesLeft(tree, node, b) : b <= (w & 255);
          node = left ? node + 1 : nodes[2 * node + 1]!;
          w = nodes[2 * node]!;
        }
        out[r] += value[node]!;
      }
    }
    const k = trees.length;
    for (let r = 0; r < n; r++) out[r] /= k;
    return out;
  }

  /**
   * Saabas contributions per input column: along each tree's decision path, the change in the node's class-1 rate
   * is attributed to the split's column; averaged over trees. bias + Σ contributions = prediction (up to rounding).
   * `contributions` is row-major n × columns (schema order).
   */
  contributions(input: ScoringInput): { bias: number; prediction: Float64Array; contributions: Float64Array; columns: string[] } {
    const { X, n } = this.encode(input);
    const binned = binMatrix(X, n, this.featureNames.length, this.parts.binEdges);
    const nc = this.schema.length;
    const contrib = new Float64Array(n * nc);
    const prediction = new Float64Array(n);
    const trees = this.parts.trees;
    const column = this.featureColumn;
    let bias = 0;
    // The walk of predictEncoded (bins, packed nodes, tree by tree), crediting each step to its column.
    for (let t = 0; t < trees.length; t++) {
      const tree = trees[t]!;
      const nodes = this.scoreNodes[t]!;
      const value = tree.value;
      bias += value[0]!;
      for (let r = 0; r < n; r++) {
        let node = 0;
        let w = nodes[0]!;
        while (w >= 0) {
          const f = w >>> 10;
          const b = binned[f * n + r]!;
          const left = b === MISSING_BIN ? (w & 512) !== 0 : (w & 256) !== 0 ? catGoesLeft(tree, node, b) : b <= (w & 255);
          const child = left ? node + 1 : nodes[2 * node + 1]!;
          contrib[r * nc + column[f]!] += value[child]! - value[node]!;
          node = child;
          w = nodes[2 * node]!;
        }
        prediction[r] += value[node]!;
      }
    }
    const k = trees.length;
    for (let i = 0; i < contrib.length; i++) contrib[i] /= k;
    for (let r = 0; r < n; r++) prediction[r] /= k;
    return { bias: bias / k, prediction, contributions: contrib, columns: this.schema.map((s) => s.name) };
  }

  /** Top-k reason codes per row: columns with the largest |contribution| (ties by schema order). */
  reasonCodes(input: ScoringInput, k = 3, direction: 'abs' | 'positive' = 'abs'): RowExplanation[] {
    const { bias, prediction, contributions, columns } = this.contributions(input);
    const nc = columns.length;
    const out: RowExplanation[] = [];
    for (let r = 0; r < prediction.length; r++) {
      const items: Reason[] = [];
      for (let j = 0; j < nc; j++) {
        const c = contributions[r * nc + j]!;
        if (direction === 'positive' && c <= 0) continue;
        items.push({ feature: columns[j]!, contribution: c });
      }
      items.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
      out.push({ prediction: prediction[r]!, bias, reasons: items.slice(0, k) });
    }
    return out;
  }

  /** Impurity (mean decrease in Gini/entropy) importance per derived feature, normalised to sum 1. */
  featureImportance(): { feature: string; importance: number }[] {
    return this.featureNames.map((f, i) => ({ feature: f, importance: this.parts.featureImportance[i]! }));
  }

  /** Impurity importance summed per input column (one-hot parts added up). */
  columnImportance(): { feature: string; importance: number }[] {
    const sums = new Array<number>(this.schema.length).fill(0);
    this.parts.featureImportance.forEach((v, f) => (sums[this.featureColumn[f]!] += v));
    return this.schema.map((s, j) => ({ feature: s.name, importance: sums[j]! }));
  }

  /** Permutation importance on a validation set: mean/sd drop of ROC AUC over `repeats` seeded shuffles of each input column. */
  permutationImportance(input: ScoringInput, labels: ArrayLike<number | boolean>, opts: { repeats?: number; seed?: number } = {}): { baselineAuc: number; importances: PermutationImportance[] } {
    const repeats = opts.repeats ?? 3;
    const seed = opts.seed ?? this.seed;
    const { X, n } = this.encode(input);
    const y = Array.from(toLabels(labels, n));
    const baselineAuc = rocAuc(this.predictEncoded(X, n), y);
    const importances = this.parts.encodings.map((enc, j) => {
      const drops: number[] = [];
      for (let rep = 0; rep < repeats; rep++) {
        const perm = new Int32Array(n);
        for (let i = 0; i < n; i++) perm[i] = i;
        shuffleInPlace(perm, createUniform(seed, j * 1009 + rep + 1));
        const Xp = X.slice();
        for (const f of enc.features) for (let r = 0; r < n; r++) Xp[f * n + r] = X[f * n + perm[r]!]!;
        drops.push(baselineAuc - rocAuc(this.predictEncoded(Xp, n), y));
      }
      const mean = drops.reduce((a, b) => a + b, 0) / repeats;
      const sd = Math.sqrt(drops.reduce((a, b) => a + (b - mean) ** 2, 0) / repeats);
      return { feature: enc.column, importanceMean: mean, importanceSd: sd };
    });
    return { baselineAuc, importances };
  }

  toJSON(): HistForestJson {
    const pt = this.parts;
    return {
      format: FORMAT,
      formatVersion: 2,
      featureSchema: pt.schema,
      encodings: pt.encodings,
      features: pt.featureNames,
      binEdges: pt.binEdges,
      params: pt.params,
      seed: pt.seed,
      trainingRows: pt.trainingRows,
      oobAuc: pt.oobAuc,
      featureImportance: pt.featureImportance,
      trees: pt.trees.map((t) => ({
        nodes: t.feature.length,
        feature: b64(t.feature),
        threshold: b64(t.threshold),
        missingLeft: b64(t.missingLeft),
        right: b64(t.right),
        value: b64(t.value),
        catBits: b64(t.catBits),
      })),
    };
  }

  /** Canonical JSON text of the model. */
  serialize(): string {
    return JSON.stringify(this.toJSON());
  }
}

function b64(a: Int32Array | Uint8Array | Uint32Array | Float64Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function fromB64<T>(s: string, nodes: number, bytesPer: number, make: (buf: ArrayBuffer) => T, what: string): T {
  const buf = Buffer.from(s, 'base64');
  if (buf.length !== nodes * bytesPer) throw new Error(`corrupt model: tree ${what} has ${buf.length} bytes, expected ${nodes * bytesPer}`);
  const copy = new ArrayBuffer(buf.length);
  new Uint8Array(copy).set(buf);
  return make(copy);
}

/** Loads a model from its JSON text or parsed object; rejects other formats and versions. */
export function loadHistForest(json: string | HistForestJson): HistForest {
  const m = (typeof json === 'string' ? JSON.parse(json) : json) as HistForestJson;
  if (!m || m.format !== FORMAT) throw new Error(`not a histogram forest model: format is ${String(m?.format)}, expected ${FORMAT}`);
  if (m.formatVersion !== 1 && m.formatVersion !== 2) {
    throw new Error(`unsupported ${FORMAT} formatVersion ${String(m.formatVersion)}; this code reads versions 1 and 2`);
  }
  const p = m.features.length;
  if (m.formatVersion === 1 && m.encodings.some((e) => e.kind === 'category')) throw new Error(`corrupt model: formatVersion 1 has no 'category' encodings`);
  const kinds = ['number', 'boolean', 'onehot', 'ordinal', 'category'];
  for (const e of m.encodings) if (!kinds.includes(e.kind)) throw new Error(`corrupt model: encoding of column '${e.column}' has unknown kind '${String(e.kind)}'`);
  const categorical = categoricalFlags(m.encodings, p);
  const trees = m.trees.map((t, i) => {
    const feature = fromB64(t.feature, t.nodes, 4, (b) => new Int32Array(b), `${i} feature`);
    const catSlot = catSlots(feature, categorical);
    let catSplits = 0;
    for (let k = 0; k < t.nodes; k++) if (catSlot[k]! >= 0) catSplits++;
    if (m.formatVersion === 2 && typeof t.catBits !== 'string') throw new Error(`corrupt model: tree ${i} has no catBits (formatVersion 2)`);
    const tree: FlatTree = {
      feature,
      catBits: fromB64(t.catBits ?? '', catSplits, 4 * CAT_WORDS, (b) => new Uint32Array(b), `${i} catBits`),
      catSlot,
      threshold: fromB64(t.threshold, t.nodes, 1, (b) => new Uint8Array(b), `${i} threshold`),
      missingLeft: fromB64(t.missingLeft, t.nodes, 1, (b) => new Uint8Array(b), `${i} missingLeft`),
      right: fromB64(t.right, t.nodes, 4, (b) => new Int32Array(b), `${i} right`),
      value: fromB64(t.value, t.nodes, 8, (b) => new Float64Array(b), `${i} value`),
    };
    for (let k = 0; k < t.nodes; k++) {
      const f = tree.feature[k]!;
      if (f >= p || (f >= 0 && !(tree.right[k]! > k + 1 && tree.right[k]! < t.nodes))) throw new Error(`corrupt model: tree ${i} node ${k}`);
    }
    return tree;
  });
  return new HistForest({
    schema: m.featureSchema,
    encodings: m.encodings,
    featureNames: m.features,
    binEdges: m.binEdges,
    params: m.params,
    seed: m.seed,
    trainingRows: m.trainingRows,
    oobAuc: m.oobAuc,
    featureImportance: m.featureImportance,
    trees,
  });
}
