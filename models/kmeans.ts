import { createRng, deriveSeed } from '../transforms/random';

/**
 * Exploratory k-means clustering of customers for the segmentation stage.
 *
 * Deterministic given a seed: k-means++ draws from the seeded PRNG, every scan runs in index order and every tie
 * goes to the lowest index. Results therefore depend on the order of the input points (which point is "first",
 * and floating-point summation order), but never on the clock or on Math.random.
 *
 * Hot loops work on one flat Float64Array (row-major, n × d) so they allocate nothing per point.
 */

export interface KMeansOptions {
  /** Number of clusters, an integer in [1, number of points]. */
  k: number;
  /** Seed of the k-means++ draws. */
  seed: number | string;
  /** Upper bound on Lloyd iterations (default 100). */
  maxIterations?: number;
  /** Converged when no centroid moves further than this (Euclidean, standardised units; default 1e-6). */
  tolerance?: number;
}

export interface KMeansResult {
  k: number;
  /** k centroids in standardised space. A cluster left empty (k above the number of distinct points) keeps its last centroid. */
  centroids: number[][];
  /** Cluster of each input point, in input order. */
  assignments: Int32Array;
  /** Sum of squared Euclidean distances from each point to its centroid. */
  inertia: number;
  /** Lloyd iterations run (assign + update), at least 1. */
  iterations: number;
}

export interface Standardiser {
  features: string[];
  mean: number[];
  /** Population standard deviation; 1 for a constant or all-null feature so it standardises to 0. */
  sd: number[];
}

type Row = readonly (number | null)[];

const DEFAULT_MAX_ITERATIONS = 100;
const DEFAULT_TOLERANCE = 1e-6;
const DEFAULT_SILHOUETTE_SAMPLE = 2000;

function checkRow(row: Row, r: number, features: readonly string[]): void {
  if (row.length !== features.length) {
    throw new RangeError(`row ${r} has ${row.length} values but the feature list has ${features.length} (${features.join(', ')}); build rows in feature order`);
  }
  for (let j = 0; j < row.length; j++) {
    const v = row[j];
    if (v !== null && !Number.isFinite(v)) {
      throw new RangeError(`row ${r}, feature ${features[j]}: ${String(v)} is not a finite number; use null for a missing value`);
    }
  }
}

/**
 * Mean and population standard deviation of each feature (column j of every row is feature j).
 * Nulls are left out of the statistics; a feature with no values gets mean 0, and sd 0 becomes 1.
 */
export function fitStandardiser(rows: readonly Row[], features: string[]): Standardiser {
  const d = features.length;
  const count = new Float64Array(d);
  const sum = new Float64Array(d);
  const min = new Float64Array(d).fill(Infinity);
  const max = new Float64Array(d).fill(-Infinity);
  rows.forEach((row, r) => {
    checkRow(row, r, features);
    for (let j = 0; j < d; j++) {
      const v = row[j];
      if (v === null || v === undefined) continue;
      count[j]!++;
      sum[j]! += v;
      if (v < min[j]!) min[j] = v;
      if (v > max[j]!) max[j] = v;
    }
  });
  const mean = new Array<number>(d);
  for (let j = 0; j < d; j++) {
    // A constant column takes its value exactly: sum / n can be off by an ulp, and a tiny sd would blow that up.
    mean[j] = count[j] === 0 ? 0 : min[j] === max[j] ? min[j]! : sum[j]! / count[j]!;
  }
  const ss = new Float64Array(d); // second pass: stabler than sum of squares minus squared sum
  for (const row of rows) {
    for (let j = 0; j < d; j++) {
      const v = row[j];
      if (v === null || v === undefined) continue;
      const t = v - mean[j]!;
      ss[j]! += t * t;
    }
  }
  const sd = new Array<number>(d);
  for (let j = 0; j < d; j++) {
    const s = count[j] === 0 || min[j] === max[j] ? 0 : Math.sqrt(ss[j]! / count[j]!);
    sd[j] = s > 0 ? s : 1;
  }
  return { features: [...features], mean, sd };
}

/** (value − mean) / sd per feature; null becomes 0, i.e. the mean. Rows must follow the standardiser's feature order. */
export function standardise(rows: readonly Row[], s: Standardiser): Float64Array[] {
  const d = s.features.length;
  return rows.map((row, r) => {
    checkRow(row, r, s.features);
    const out = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      const v = row[j];
      out[j] = v === null || v === undefined ? 0 : (v - s.mean[j]!) / s.sd[j]!;
    }
    return out;
  });
}

/** Copies the points into one row-major n × d array, checking shape and finiteness. */
function flatten(points: readonly Float64Array[], what: string): { X: Float64Array; n: number; d: number } {
  const n = points.length;
  if (n === 0) throw new RangeError(`${what}: no points to cluster`);
  const d = points[0]!.length;
  if (d === 0) throw new RangeError(`${what}: points have no features`);
  const X = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const p = points[i]!;
    if (p.length !== d) throw new RangeError(`${what}: point ${i} has ${p.length} dimensions, point 0 has ${d}`);
    for (let j = 0; j < d; j++) {
      const v = p[j]!;
      if (!Number.isFinite(v)) throw new RangeError(`${what}: point ${i}, dimension ${j} is ${v}; standardise() maps nulls to 0`);
      X[i * d + j] = v;
    }
  }
  return { X, n, d };
}

function sqDist(A: Float64Array, a: number, B: Float64Array, b: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) {
    const t = A[a + j]! - B[b + j]!;
    s += t * t;
  }
  return s;
}

/** k-means++: first centre uniform, then each next centre with probability proportional to D², all from one seeded stream. */
function seedCentroids(X: Float64Array, n: number, d: number, k: number, seed: number | string): Float64Array {
  const rng = createRng(seed);
  const C = new Float64Array(k * d);
  const D = new Float64Array(n); // squared distance to the nearest centre chosen so far
  const chosen = new Uint8Array(n);
  let pick = Math.min(n - 1, Math.floor(rng.next() * n));
  for (let c = 0; c < k; c++) {
    if (c > 0) {
      let total = 0;
      for (let i = 0; i < n; i++) total += D[i]!;
      pick = -1;
      if (total > 0) {
        const r = rng.next() * total;
        let acc = 0;
        for (let i = 0; i < n; i++) {
          const w = D[i]!;
          if (w <= 0) continue;
          acc += w;
          pick = i; // rounding can leave acc a hair under r: the last positive-weight point then wins
          if (r < acc) break;
        }
      } else {
        // Fewer distinct points than k: every point sits on a centre already, so duplicate the lowest unused index.
        for (let i = 0; i < n && pick < 0; i++) if (!chosen[i]) pick = i;
        if (pick < 0) pick = 0;
      }
    }
    chosen[pick] = 1;
    C.set(X.subarray(pick * d, pick * d + d), c * d);
    const off = c * d;
    for (let i = 0; i < n; i++) {
      const dist = sqDist(X, i * d, C, off, d);
      if (c === 0 || dist < D[i]!) D[i] = dist;
    }
  }
  return C;
}

/** Nearest centroid of every point (ties → lowest cluster index) into labels/dist; returns how many labels changed. */
function assign(X: Float64Array, n: number, d: number, C: Float64Array, k: number, labels: Int32Array, dist: Float64Array): number {
  let changed = 0;
  for (let i = 0; i < n; i++) {
    const off = i * d;
    let best = 0;
    let bestD = Infinity;
    for (let c = 0; c < k; c++) {
      const coff = c * d;
      let s = 0;
      for (let j = 0; j < d; j++) {
        const t = X[off + j]! - C[coff + j]!;
        s += t * t;
      }
      if (s < bestD) {
        bestD = s;
        best = c;
      }
    }
    if (labels[i] !== best) changed++;
    labels[i] = best;
    dist[i] = bestD;
  }
  return changed;
}

/**
 * Gives each empty cluster (lowest index first) the point farthest from its own centroid (ties → lowest point index),
 * taken only from clusters that keep at least one member. A cluster stays empty when every spare point sits on its centroid.
 */
function reseedEmpty(n: number, k: number, labels: Int32Array, dist: Float64Array, counts: Int32Array): void {
  for (let c = 0; c < k; c++) {
    if (counts[c] !== 0) continue;
    let far = -1;
    let farD = 0;
    for (let i = 0; i < n; i++) {
      if (dist[i]! > farD && counts[labels[i]!]! > 1) {
        farD = dist[i]!;
        far = i;
      }
    }
    if (far < 0) continue;
    counts[labels[far]!]!--;
    labels[far] = c;
    counts[c] = 1;
    dist[far] = 0;
  }
}

/** Lloyd iterations from the given centroids (modified in place). */
function lloyd(X: Float64Array, n: number, d: number, C: Float64Array, k: number, maxIterations: number, tolerance: number): KMeansResult {
  const labels = new Int32Array(n).fill(-1);
  const dist = new Float64Array(n);
  const counts = new Int32Array(k);
  const sums = new Float64Array(k * d);
  const tol2 = tolerance * tolerance;
  let iterations = 0;
  while (iterations < maxIterations) {
    iterations++;
    assign(X, n, d, C, k, labels, dist);
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[labels[i]!]!++;
    reseedEmpty(n, k, labels, dist, counts);
    sums.fill(0);
    for (let i = 0; i < n; i++) {
      const off = i * d;
      const coff = labels[i]! * d;
      for (let j = 0; j < d; j++) sums[coff + j]! += X[off + j]!;
    }
    let maxShift2 = 0;
    for (let c = 0; c < k; c++) {
      const m = counts[c]!;
      if (m === 0) continue; // still empty: keep the old centroid rather than divide by zero
      const coff = c * d;
      let shift2 = 0;
      for (let j = 0; j < d; j++) {
        const v = sums[coff + j]! / m;
        const t = v - C[coff + j]!;
        shift2 += t * t;
        C[coff + j] = v;
      }
      if (shift2 > maxShift2) maxShift2 = shift2;
    }
    if (maxShift2 <= tol2) break;
  }
  // Final assignment against the final centroids, so labels and inertia describe the centroids returned.
  assign(X, n, d, C, k, labels, dist);
  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += dist[i]!;
  const centroids: number[][] = [];
  for (let c = 0; c < k; c++) centroids.push(Array.from(C.subarray(c * d, c * d + d)));
  return { k, centroids, assignments: labels, inertia, iterations };
}

function checkOptions(opts: KMeansOptions, n: number): { maxIterations: number; tolerance: number } {
  const { k } = opts;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`kMeans: k must be a positive integer, got ${k}`);
  if (k > n) throw new RangeError(`kMeans: k = ${k} but there are only ${n} points; lower k`);
  const maxIterations = opts.maxIterations ?? DEFAULT_MAX_ITERATIONS;
  if (!Number.isInteger(maxIterations) || maxIterations < 1) throw new RangeError(`kMeans: maxIterations must be a positive integer, got ${maxIterations}`);
  const tolerance = opts.tolerance ?? DEFAULT_TOLERANCE;
  if (!(tolerance >= 0)) throw new RangeError(`kMeans: tolerance must be >= 0, got ${tolerance}`);
  return { maxIterations, tolerance };
}

/**
 * k-means (k-means++ seeding, Lloyd iterations) on standardised points. Same points in the same order with the same
 * options give an identical result. Empty clusters are re-seeded with the point farthest from its centroid.
 */
export function kMeans(points: readonly Float64Array[], opts: KMeansOptions): KMeansResult {
  const { X, n, d } = flatten(points, 'kMeans');
  const { maxIterations, tolerance } = checkOptions(opts, n);
  const C = seedCentroids(X, n, d, opts.k, opts.seed);
  return lloyd(X, n, d, C, opts.k, maxIterations, tolerance);
}

/**
 * Lloyd iterations from caller-chosen starting centroids (a warm start, e.g. yesterday's segments); same rules as
 * kMeans after its seeding. opts.seed is not used.
 */
export function kMeansFrom(points: readonly Float64Array[], initialCentroids: readonly (readonly number[])[], opts: Omit<KMeansOptions, 'k' | 'seed'> = {}): KMeansResult {
  const { X, n, d } = flatten(points, 'kMeansFrom');
  const k = initialCentroids.length;
  const { maxIterations, tolerance } = checkOptions({ ...opts, k, seed: 0 }, n);
  const C = new Float64Array(k * d);
  initialCentroids.forEach((c, i) => {
    if (c.length !== d) throw new RangeError(`kMeansFrom: centroid ${i} has ${c.length} dimensions, points have ${d}`);
    C.set(c, i * d);
  });
  return lloyd(X, n, d, C, k, maxIterations, tolerance);
}

/**
 * Mean silhouette coefficient in [-1, 1] (Euclidean distance). With more than sampleSize points (default 2,000) it is
 * computed on a seeded uniform sample without replacement, as scikit-learn does; points in a singleton cluster, or
 * with no other non-empty cluster in the sample, score 0.
 */
export function silhouette(points: readonly Float64Array[], assignments: Int32Array, k: number, sampleSize: number = DEFAULT_SILHOUETTE_SAMPLE, seed: number | string = 'silhouette'): number {
  const { X, n, d } = flatten(points, 'silhouette');
  if (assignments.length !== n) throw new RangeError(`silhouette: ${assignments.length} assignments for ${n} points`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`silhouette: k must be a positive integer, got ${k}`);
  for (let i = 0; i < n; i++) {
    const a = assignments[i]!;
    if (a < 0 || a >= k) throw new RangeError(`silhouette: point ${i} is in cluster ${a}, outside [0, ${k})`);
  }
  if (!Number.isInteger(sampleSize) || sampleSize < 2) throw new RangeError(`silhouette: sampleSize must be an integer >= 2, got ${sampleSize}`);

  let idx: Int32Array;
  if (n <= sampleSize) {
    idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
  } else {
    // Partial Fisher–Yates, then sorted so the sample is a set and is scanned in input order.
    const rng = createRng(seed);
    const perm = new Int32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    for (let i = 0; i < sampleSize; i++) {
      const j = i + Math.min(n - i - 1, Math.floor(rng.next() * (n - i)));
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    idx = perm.slice(0, sampleSize).sort();
  }

  const m = idx.length;
  const counts = new Int32Array(k);
  for (let s = 0; s < m; s++) counts[assignments[idx[s]!]!]!++;
  const sums = new Float64Array(k);
  let total = 0;
  for (let s = 0; s < m; s++) {
    const i = idx[s]!;
    const own = assignments[i]!;
    if (counts[own]! < 2) continue;
    sums.fill(0);
    for (let t = 0; t < m; t++) {
      if (t === s) continue;
      const p = idx[t]!;
      sums[assignments[p]!]! += Math.sqrt(sqDist(X, i * d, X, p * d, d));
    }
    const a = sums[own]! / (counts[own]! - 1);
    let b = Infinity;
    for (let c = 0; c < k; c++) {
      if (c === own || counts[c] === 0) continue;
      const mean = sums[c]! / counts[c]!;
      if (mean < b) b = mean;
    }
    if (b === Infinity) continue;
    const denom = Math.max(a, b);
    if (denom > 0) total += (b - a) / denom;
  }
  return total / m;
}

/**
 * Runs kMeans for each k (seed derived per k, so a score does not depend on which other ks are tried) and keeps the
 * highest mean silhouette, ties → smaller k. Every k is scored on the same silhouette sample. Labels of `best` are
 * as kMeans left them; pass it to relabelBySize for readable labels.
 */
export function chooseK(points: readonly Float64Array[], ks: readonly number[], seed: number | string): { best: KMeansResult; scores: { k: number; silhouette: number; inertia: number }[] } {
  if (ks.length === 0) throw new RangeError('chooseK: no candidate k given; pass e.g. [2, 3, 4, 5, 6, 7, 8]');
  const sorted = [...new Set(ks)].sort((a, b) => a - b);
  for (const k of sorted) {
    if (!Number.isInteger(k) || k < 2) throw new RangeError(`chooseK: every k must be an integer >= 2 (silhouette needs two clusters), got ${k}`);
  }
  const silhouetteSeed = deriveSeed(seed, 'silhouette');
  const scores: { k: number; silhouette: number; inertia: number }[] = [];
  let best: KMeansResult | null = null;
  let bestScore = -Infinity;
  for (const k of sorted) {
    const result = kMeans(points, { k, seed: deriveSeed(seed, 'kmeans', k) });
    const score = silhouette(points, result.assignments, k, DEFAULT_SILHOUETTE_SAMPLE, silhouetteSeed);
    scores.push({ k, silhouette: score, inertia: result.inertia });
    if (best === null || score > bestScore) {
      best = result;
      bestScore = score;
    }
  }
  return { best: best!, scores };
}

/**
 * Renumbers clusters by size, largest first (ties: lexicographically smaller centroid first, then old label), so
 * label 0 is always the biggest segment whatever order k-means++ found them in. Centroids follow their clusters.
 */
export function relabelBySize(result: KMeansResult): KMeansResult {
  const { k, centroids, assignments } = result;
  const size = new Array<number>(k).fill(0);
  for (let i = 0; i < assignments.length; i++) size[assignments[i]!]!++;
  const order = Array.from({ length: k }, (_, c) => c).sort((a, b) => {
    if (size[a] !== size[b]) return size[b]! - size[a]!;
    const ca = centroids[a]!;
    const cb = centroids[b]!;
    for (let j = 0; j < ca.length; j++) if (ca[j] !== cb[j]) return ca[j]! - cb[j]!;
    return a - b;
  });
  const newLabel = new Int32Array(k);
  order.forEach((old, i) => (newLabel[old] = i));
  const relabelled = new Int32Array(assignments.length);
  for (let i = 0; i < assignments.length; i++) relabelled[i] = newLabel[assignments[i]!]!;
  return { ...result, centroids: order.map((old) => [...centroids[old]!]), assignments: relabelled };
}
