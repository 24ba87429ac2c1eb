/**
 * Quantile binning of numeric features into at most 255 value bins per feature (bin 255 = missing).
 * Edges are midpoints between distinct training values, so a split "bin <= t" equals "x <= edges[t]" on raw values.
 */
import { MISSING_BIN } from './histTree';

/** Upper edges per feature: value x falls in bin = number of edges < x (missing/non-finite → MISSING_BIN). */
export function fitBinEdges(X: Float64Array, n: number, p: number, maxBins: number): number[][] {
  const fitter = new EdgeFitter(n, maxBins);
  const edges: number[][] = [];
  for (let f = 0; f < p; f++) edges.push(fitter.fit(X, f * n));
  return edges;
}

/** fitBinEdges one column at a time: edges of X[base, base + n), with scratch space reused across columns. */
export class EdgeFitter {
  private readonly buf: Float64Array;
  private readonly set: DistinctSet;

  constructor(
    private readonly n: number,
    private readonly maxBins: number,
  ) {
    if (!(Number.isInteger(maxBins) && maxBins >= 2 && maxBins <= 255)) throw new Error(`maxBins must be an integer in [2, 255], got ${maxBins}`);
    this.buf = new Float64Array(n);
    this.set = new DistinctSet(maxBins);
  }

  fit(X: Float64Array, base: number): number[] {
    const { n, maxBins, buf, set } = this;
    // Most columns (flags, one-hot parts, codes, small integers) have few distinct values: a hash set finds them
    // in one pass, and only columns with more than maxBins distinct values are sorted for quantiles.
    set.clear();
    let few = true;
    for (let r = 0; r < n; r++) {
      const v = X[base + r]!;
      if (v - v === 0 && !set.add(v)) {
        few = false;
        break;
      }
    }
    if (few) {
      const distinct = set.values();
      const e: number[] = [];
      for (let j = 0; j + 1 < distinct.length; j++) e.push(midpoint(distinct[j]!, distinct[j + 1]!));
      return e;
    }
    let m = 0;
    for (let r = 0; r < n; r++) {
      const v = X[base + r]!;
      if (v - v === 0) buf[m++] = v;
    }
    const s = buf.subarray(0, m).sort();
    const e: number[] = [];
    let q = 1;
    for (let i = 0; i + 1 < m && q < maxBins; i++) {
      // i + 1 values are <= s[i]; cut after s[i] at each quantile boundary it reaches, where the value changes
      if (s[i] === s[i + 1]) continue;
      if (i + 1 >= (q * m) / maxBins) {
        e.push(midpoint(s[i]!, s[i + 1]!));
        while (q < maxBins && i + 1 >= (q * m) / maxBins) q++;
      }
    }
    return e;
  }
}

/** Open-addressing set of up to `limit` distinct finite doubles (add returns false once the limit is exceeded). */
class DistinctSet {
  private readonly keys: Float64Array;
  private readonly used: Uint8Array;
  private readonly mask: number;
  private readonly list: number[] = [];
  private readonly f64 = new Float64Array(1);
  private readonly i32 = new Int32Array(this.f64.buffer);

  constructor(private readonly limit: number) {
    let size = 16;
    while (size < 4 * (limit + 1)) size *= 2;
    this.keys = new Float64Array(size);
    this.used = new Uint8Array(size);
    this.mask = size - 1;
  }

  clear(): void {
    for (const v of this.list) this.used[this.slot(v)] = 0;
    this.list.length = 0;
  }

  add(v: number): boolean {
    const x = v === 0 ? 0 : v; // -0 and 0 are one value
    let i = this.hash(x);
    while (this.used[i] === 1) {
      if (this.keys[i] === x) return true;
      i = (i + 1) & this.mask;
    }
    if (this.list.length === this.limit) return false;
    this.used[i] = 1;
    this.keys[i] = x;
    this.list.push(x);
    return true;
  }

  /** Distinct values, ascending. */
  values(): number[] {
    return [...this.list].sort((a, b) => a - b);
  }

  private hash(x: number): number {
    this.f64[0] = x;
    return Math.imul(this.i32[0]! ^ Math.imul(this.i32[1]!, 0x9e3779b1), 0x85ebca6b) >>> 16 & this.mask;
  }

  /** Slot holding v (v is present). */
  private slot(v: number): number {
    let i = this.hash(v);
    while (this.keys[i] !== v) i = (i + 1) & this.mask;
    return i;
  }
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
  for (let f = 0; f < p; f++) binColumn(X, f * n, n, edges[f]!, out, f * n);
  return out;
}

/** Bins X[base, base + n) into out[outBase, outBase + n). */
export function binColumn(X: Float64Array, base: number, n: number, edges: readonly number[], out: Uint8Array, outBase: number): void {
  for (let r = 0; r < n; r++) out[outBase + r] = binOf(edges, X[base + r]!);
}
