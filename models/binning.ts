/**
 * Quantile binning of numeric features into at most 255 value bins per feature (bin 255 = missing).
 * Edges are midpoints between distinct training values, so a split "bin <= t" equals "x <= edges[t]" on raw values.
 */
import { MISSING_BIN } from './histTree';

/** Upper edges per feature: value x falls in bin = number of edges < x (missing/non-finite → MISSING_BIN). */
export function fitBinEdges(X: Float64Array, n: number, p: number, maxBins: number): number[][] {
  if (!(maxBins >= 2 && maxBins <= 255)) throw new Error(`maxBins must be in [2, 255], got ${maxBins}`);
  const edges: number[][] = [];
  const buf = new Float64Array(n);
  for (let f = 0; f < p; f++) {
    let m = 0;
    for (let r = 0; r < n; r++) {
      const v = X[f * n + r]!;
      if (Number.isFinite(v)) buf[m++] = v;
    }
    const s = buf.subarray(0, m).sort();
    const distinct: number[] = [];
    const cum: number[] = [];
    for (let i = 0; i < m; i++) {
      if (i === 0 || s[i] !== s[i - 1]) {
        distinct.push(s[i]!);
        cum.push(i + 1);
      } else cum[cum.length - 1] = i + 1;
    }
    const e: number[] = [];
    if (distinct.length <= maxBins) {
      for (let j = 0; j + 1 < distinct.length; j++) e.push(midpoint(distinct[j]!, distinct[j + 1]!));
    } else {
      let q = 1;
      for (let j = 0; j + 1 < distinct.length && q < maxBins; j++) {
        if (cum[j]! >= (q * m) / maxBins) {
          e.push(midpoint(distinct[j]!, distinct[j + 1]!));
          while (q < maxBins && cum[j]! >= (q * m) / maxBins) q++;
        }
      }
    }
    edges.push(e);
  }
  return edges;
}

function midpoint(a: number, b: number): number {
  const mid = a + (b - a) / 2;
  return mid < b ? mid : a;
}

/** Bin of one value given a feature's edges. */
export function binOf(edges: readonly number[], x: number): number {
  if (!Number.isFinite(x)) return MISSING_BIN;
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Bins a column-major p × n matrix (same layout out); `target` may be backed by a SharedArrayBuffer. */
export function binMatrix(X: Float64Array, n: number, p: number, edges: readonly number[][], target?: Uint8Array): Uint8Array {
  const out = target ?? new Uint8Array(n * p);
  for (let f = 0; f < p; f++) {
    const e = edges[f]!;
    const base = f * n;
    for (let r = 0; r < n; r++) out[base + r] = binOf(e, X[base + r]!);
  }
  return out;
}
