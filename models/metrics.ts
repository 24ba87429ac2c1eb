/**
 * Evaluation metrics for binary scores (labels 0/1) and a seeded stratified k-fold split. Pure functions.
 */
import { createUniform, shuffleInPlace } from './prng';

type Nums = ArrayLike<number>;

function checkLengths(scores: Nums, labels: Nums): void {
  if (scores.length !== labels.length) throw new Error(`scores (${scores.length}) and labels (${labels.length}) differ in length`);
}

/** Row indices sorted by score ascending (stable by index). */
function orderBy(scores: Nums, descending: boolean): Int32Array {
  const idx = new Int32Array(scores.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  const sign = descending ? -1 : 1;
  return idx.sort((a, b) => sign * (scores[a]! - scores[b]!) || a - b);
}

/** Area under the ROC curve by the rank-sum formula, ties counting half; NaN when a class is absent. */
export function rocAuc(scores: Nums, labels: Nums): number {
  checkLengths(scores, labels);
  const idx = orderBy(scores, false);
  let rankSumPos = 0;
  let pos = 0;
  let i = 0;
  while (i < idx.length) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (labels[idx[k]!] === 1) { rankSumPos += avgRank; pos++; }
    i = j + 1;
  }
  const neg = idx.length - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * ROC curve points [false positive rate, true positive rate] from (0,0) to (1,1), one per distinct score (ties form
 * one step), thinned to at most `maxPoints` evenly spaced points (first and last kept); empty when a class is absent.
 */
export function rocCurve(scores: Nums, labels: Nums, maxPoints = 51): [number, number][] {
  checkLengths(scores, labels);
  const idx = orderBy(scores, true);
  let pos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === 1) pos++;
  const neg = labels.length - pos;
  if (pos === 0 || neg === 0) return [];
  const points: [number, number][] = [[0, 0]];
  let tp = 0;
  let fp = 0;
  let i = 0;
  while (i < idx.length) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    for (let k = i; k <= j; k++) if (labels[idx[k]!] === 1) tp++; else fp++;
    points.push([fp / neg, tp / pos]);
    i = j + 1;
  }
  if (points.length <= maxPoints) return points;
  const step = (points.length - 1) / (maxPoints - 1);
  return Array.from({ length: maxPoints }, (_, k) => points[Math.round(k * step)]!);
}

/** Average precision (area under the precision-recall curve, step-wise as in scikit-learn); tied scores form one step. */
export function averagePrecision(scores: Nums, labels: Nums): number {
  checkLengths(scores, labels);
  const idx = orderBy(scores, true);
  let totalPos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === 1) totalPos++;
  if (totalPos === 0) return NaN;
  let tp = 0;
  let seen = 0;
  let ap = 0;
  let prevRecall = 0;
  let i = 0;
  while (i < idx.length) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    for (let k = i; k <= j; k++) if (labels[idx[k]!] === 1) tp++;
    seen = j + 1;
    const recall = tp / totalPos;
    ap += (recall - prevRecall) * (tp / seen);
    prevRecall = recall;
    i = j + 1;
  }
  return ap;
}

/** Mean binary cross-entropy in nats; probabilities clipped to [eps, 1 - eps]. */
export function logLoss(probs: Nums, labels: Nums, eps = 1e-15): number {
  checkLengths(probs, labels);
  let s = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = Math.min(1 - eps, Math.max(eps, probs[i]!));
    s -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return s / probs.length;
}

export interface CalibrationBin {
  /** Bin covers predicted probability [lower, upper) (the last bin includes 1). */
  lower: number;
  upper: number;
  rows: number;
  meanPredicted: number;
  observedRate: number;
}

/** Reliability table over equal-width probability bins (default 10); empty bins have NaN means. */
export function calibrationTable(probs: Nums, labels: Nums, bins = 10): CalibrationBin[] {
  checkLengths(probs, labels);
  const rows = new Array<number>(bins).fill(0);
  const sumP = new Array<number>(bins).fill(0);
  const sumY = new Array<number>(bins).fill(0);
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i]!;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p * bins)));
    rows[b]!++;
    sumP[b] += p;
    sumY[b] += labels[i] === 1 ? 1 : 0;
  }
  return rows.map((c, b) => ({ lower: b / bins, upper: (b + 1) / bins, rows: c, meanPredicted: c ? sumP[b]! / c : NaN, observedRate: c ? sumY[b]! / c : NaN }));
}

export interface GainsRow {
  /** 1 = highest scores. */
  decile: number;
  rows: number;
  positives: number;
  rate: number;
  /** rate / overall positive rate. */
  lift: number;
  /** Share of all positives captured by deciles 1..decile. */
  cumulativeCapture: number;
  cumulativeLift: number;
}

/** Gains and lift by decile of score (highest first; ties broken by row order, so equal scores may straddle deciles). */
export function gainsTable(scores: Nums, labels: Nums, groups = 10): GainsRow[] {
  checkLengths(scores, labels);
  const n = scores.length;
  const idx = orderBy(scores, true);
  let totalPos = 0;
  for (let i = 0; i < n; i++) if (labels[i] === 1) totalPos++;
  const base = n ? totalPos / n : NaN;
  const out: GainsRow[] = [];
  let cumPos = 0;
  let cumRows = 0;
  for (let g = 0; g < groups; g++) {
    const lo = Math.floor((g * n) / groups);
    const hi = Math.floor(((g + 1) * n) / groups);
    let pos = 0;
    for (let k = lo; k < hi; k++) if (labels[idx[k]!] === 1) pos++;
    cumPos += pos;
    cumRows += hi - lo;
    const rate = hi > lo ? pos / (hi - lo) : NaN;
    out.push({
      decile: g + 1,
      rows: hi - lo,
      positives: pos,
      rate,
      lift: rate / base,
      cumulativeCapture: totalPos ? cumPos / totalPos : NaN,
      cumulativeLift: cumRows ? cumPos / cumRows / base : NaN,
    });
  }
  return out;
}

/** Share of all positives found in the top 10 % of scores. */
export function topDecileCapture(scores: Nums, labels: Nums): number {
  return gainsTable(scores, labels)[0]!.cumulativeCapture;
}

/** Positive rate in the top 10 % of scores divided by the overall positive rate. */
export function topDecileLift(scores: Nums, labels: Nums): number {
  return gainsTable(scores, labels)[0]!.lift;
}

/**
 * Stratified k-fold assignment: fold index (0..k-1) per row. Rows of each class are shuffled with the seed and dealt
 * round-robin, so every fold has the class mix of the whole (±1 row).
 */
export function stratifiedKFold(labels: Nums, k: number, seed: number): Int32Array {
  if (!(Number.isInteger(k) && k >= 2)) throw new Error(`k must be an integer >= 2, got ${k}`);
  const fold = new Int32Array(labels.length);
  const u = createUniform(seed, 0x6b666f6c);
  let offset = 0;
  for (const cls of [0, 1]) {
    const rows: number[] = [];
    for (let i = 0; i < labels.length; i++) if ((labels[i] === 1 ? 1 : 0) === cls) rows.push(i);
    const arr = Int32Array.from(rows);
    shuffleInPlace(arr, u);
    for (let j = 0; j < arr.length; j++) fold[arr[j]!] = (offset + j) % k;
    offset = (offset + arr.length) % k;
  }
  return fold;
}
