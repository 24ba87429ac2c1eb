/**
 * One histogram decision tree (binary classification) on a binned, column-major matrix.
 * Pure and deterministic given (matrix, params, seed, treeIndex): the same tree is built in the main thread or in
 * any worker. No Node imports, so forestWorker can load it through a minimal TypeScript hook under ts-jest.
 */
import { createUniform, randInt, Sfc32 } from './prng';

/** Bin code of a missing value (NaN/null); value bins are 0..nBins-1 with nBins <= 255. */
export const MISSING_BIN = 255;

export interface BinnedMatrix {
  /** p × n bins, column-major: feature f of row r is binned[f * n + r] (a column of 200k rows fits in L2). */
  binned: Uint8Array;
  n: number;
  p: number;
  /** 0/1 label per row. */
  y: Uint8Array;
}

export interface TreeParams {
  /** Maximum depth (root = depth 0); -1 = unlimited. */
  maxDepth: number;
  minSamplesLeaf: number;
  minSamplesSplit: number;
  /** Features drawn per node (constant ones count; more are drawn only while all drawn were constant). */
  mtry: number;
  criterion: 'gini' | 'entropy';
  bootstrap: boolean;
  /** Weight of class 0 and class 1. */
  classWeight: [number, number];
  /** 1 for features whose bins are unordered categories, split by subsets of bins (absent = all ordered). */
  categorical?: Uint8Array;
  /** Predict the out-of-bag rows (absent = true when bootstrapping). */
  oob?: boolean;
  /** One packed float64 per histogram bin (absent = when n < 2^17, the limit of the packing); same trees either way. */
  packedHistograms?: boolean;
}

/** A tree in pre-order: the left child of an internal node i is i + 1, its right child right[i]. */
export interface FlatTree {
  /** Split feature, -1 for a leaf. */
  feature: Int32Array;
  /** Rows with bin <= threshold go left. */
  threshold: Uint8Array;
  /** 1 when missing values go left. */
  missingLeft: Uint8Array;
  right: Int32Array;
  /** Weighted fraction of class 1 in the node (every node, for Saabas contributions). */
  value: Float64Array;
  /** Bins going left of each categorical split, CAT_WORDS words per split, splits in pre-order. */
  catBits: Uint32Array;
  /** Index of the node's categorical split in catBits (-1 for leaves and threshold splits); derived, not stored. */
  catSlot: Int32Array;
}

/** 32-bit words of one categorical split's bin set (256 bins). */
export const CAT_WORDS = 8;

/** Whether bin b (not missing) goes left at a categorical split. */
export function catGoesLeft(t: FlatTree, node: number, b: number): boolean {
  return ((t.catBits[t.catSlot[node]! * CAT_WORDS + (b >>> 5)]! >>> (b & 31)) & 1) === 1;
}

/** catSlot of a tree in pre-order from its split features and the categorical flags of the features. */
export function catSlots(feature: Int32Array, categorical: ArrayLike<number> | undefined): Int32Array {
  const slot = new Int32Array(feature.length).fill(-1);
  let k = 0;
  for (let i = 0; i < feature.length; i++) {
    const f = feature[i]!;
    if (f >= 0 && categorical && categorical[f] === 1) slot[i] = k++;
  }
  return slot;
}

export interface BuiltTree extends FlatTree {
  /** Weighted impurity decrease per feature (unnormalised). */
  importance: Float64Array;
  /** Out-of-bag rows (ascending) and this tree's prediction for them. */
  oobRows: Int32Array;
  oobValues: Float64Array;
}

class NodeArrays {
  feature = new Int32Array(1024);
  threshold = new Uint8Array(1024);
  missingLeft = new Uint8Array(1024);
  right = new Int32Array(1024);
  value = new Float64Array(1024);
  catSlot = new Int32Array(1024);
  catBits = new Uint32Array(64 * CAT_WORDS);
  catCount = 0;
  count = 0;

  reset(): void {
    this.catBits.fill(0, 0, this.catCount * CAT_WORDS);
    this.catCount = 0;
    this.count = 0;
  }

  add(value: number): number {
    if (this.count === this.feature.length) {
      const cap = this.count * 2;
      const grow = <T extends Int32Array | Uint8Array | Float64Array>(a: T, make: (n: number) => T): T => {
        const b = make(cap);
        b.set(a);
        return b;
      };
      this.feature = grow(this.feature, (k) => new Int32Array(k));
      this.threshold = grow(this.threshold, (k) => new Uint8Array(k));
      this.missingLeft = grow(this.missingLeft, (k) => new Uint8Array(k));
      this.right = grow(this.right, (k) => new Int32Array(k));
      this.value = grow(this.value, (k) => new Float64Array(k));
      this.catSlot = grow(this.catSlot, (k) => new Int32Array(k));
    }
    const id = this.count++;
    this.feature[id] = -1;
    this.threshold[id] = 0;
    this.missingLeft[id] = 0;
    this.right[id] = -1;
    this.value[id] = value;
    this.catSlot[id] = -1;
    return id;
  }

  /** Makes node `id` a categorical split sending the bins with goLeft[b] = 1 left. */
  setCategorical(id: number, goLeft: Uint8Array): void {
    if ((this.catCount + 1) * CAT_WORDS > this.catBits.length) {
      const b = new Uint32Array(this.catBits.length * 2);
      b.set(this.catBits);
      this.catBits = b;
    }
    const off = this.catCount * CAT_WORDS;
    for (let b = 0; b < MISSING_BIN; b++) if (goLeft[b] === 1) this.catBits[off + (b >>> 5)] |= 1 << (b & 31);
    this.catSlot[id] = this.catCount++;
  }

  trimmed(): FlatTree {
    const c = this.count;
    return {
      feature: this.feature.slice(0, c),
      threshold: this.threshold.slice(0, c),
      missingLeft: this.missingLeft.slice(0, c),
      right: this.right.slice(0, c),
      value: this.value.slice(0, c),
      catBits: this.catBits.slice(0, this.catCount * CAT_WORDS),
      catSlot: this.catSlot.slice(0, c),
    };
  }
}

function impurity(entropy: boolean, w: number, w1: number): number {
  if (w <= 0) return 0;
  const p = Math.min(1, Math.max(0, w1 / w));
  if (!entropy) return 2 * p * (1 - p);
  let h = 0;
  if (p > 0) h -= p * Math.log(p);
  if (p < 1) h -= (1 - p) * Math.log(1 - p);
  return h;
}

function xlogx(x: number): number {
  return x > 0 ? x * Math.log(x) : 0;
}

/** Larger is better; sum over both children of -(weight × impurity) up to a constant. */
function splitScore(entropy: boolean, lw: number, l1: number, rw: number, r1: number): number {
  const l0 = lw - l1;
  const r0 = rw - r1;
  if (!entropy) return (l1 * l1 + l0 * l0) / lw + (r1 * r1 + r0 * r0) / rw;
  return xlogx(l1) + xlogx(l0) - xlogx(lw) + xlogx(r1) + xlogx(r0) - xlogx(rw);
}

/**
 * Histogram layout: 4 int32 slots per bin (rows, class-0 draws, class-1 draws, unused). Integer counts keep node
 * statistics exact and are cheaper to accumulate than floats. code[row] is the row's bootstrap count << 1 | label.
 */
const SLOTS = 4;

/**
 * Int32 histograms of the m = 1..4 features cand[c, c + m) in one pass over the node's rows: feature q goes to
 * h4[q · 256 · SLOTS, (q + 1) · 256 · SLOTS), its non-missing bin range to mm[q] = min | (max + 1) << 8. Small nodes
 * track the ranges while counting; large ones scan for them afterwards.
 */
function int32Histograms(binned: Uint8Array, n: number, cand: Int32Array, c: number, m: number, idx: Int32Array, code: Uint16Array, start: number, end: number, h4: Int32Array, mm: Int32Array, small: boolean): void {
  const b0 = cand[c]! * n;
  const b1 = m > 1 ? cand[c + 1]! * n : 0;
  const b2 = m > 2 ? cand[c + 2]! * n : 0;
  const b3 = m > 3 ? cand[c + 3]! * n : 0;
  const R = 256 * SLOTS;
  let min0 = 255, min1 = 255, min2 = 255, min3 = 255;
  let max0 = -1, max1 = -1, max2 = -1, max3 = -1;
  for (let i = start; i < end; i++) {
    const r = idx[i]!;
    const cd = code[r]!;
    const k = 1 + (cd & 1);
    const w = cd >>> 1;
    const v0 = binned[b0 + r]!;
    const j0 = v0 << 2;
    h4[j0]!++;
    h4[j0 + k] += w;
    if (small) {
      min0 = Math.min(min0, v0);
      max0 = Math.max(max0, v0 - (((v0 + 1) >> 8) << 8));
    }
    if (m > 1) {
      const v1 = binned[b1 + r]!;
      const j1 = R + (v1 << 2);
      h4[j1]!++;
      h4[j1 + k] += w;
      if (small) {
        min1 = Math.min(min1, v1);
        max1 = Math.max(max1, v1 - (((v1 + 1) >> 8) << 8));
      }
    }
    if (m > 2) {
      const v2 = binned[b2 + r]!;
      const j2 = 2 * R + (v2 << 2);
      h4[j2]!++;
      h4[j2 + k] += w;
      if (small) {
        min2 = Math.min(min2, v2);
        max2 = Math.max(max2, v2 - (((v2 + 1) >> 8) << 8));
      }
      if (m > 3) {
        const v3 = binned[b3 + r]!;
        const j3 = 3 * R + (v3 << 2);
        h4[j3]!++;
        h4[j3 + k] += w;
        if (small) {
          min3 = Math.min(min3, v3);
          max3 = Math.max(max3, v3 - (((v3 + 1) >> 8) << 8));
        }
      }
    }
  }
  if (small) {
    mm[0] = min0 | ((max0 + 1) << 8);
    mm[1] = min1 | ((max1 + 1) << 8);
    mm[2] = min2 | ((max2 + 1) << 8);
    mm[3] = min3 | ((max3 + 1) << 8);
    return;
  }
  for (let q = 0; q < m; q++) {
    const off = q * R;
    let minB = 0;
    while (minB < 255 && h4[off + minB * SLOTS] === 0) minB++;
    let maxB = 254;
    while (maxB >= minB && h4[off + maxB * SLOTS] === 0) maxB--;
    mm[q] = minB | ((maxB + 1) << 8);
  }
}

/**
 * Packed histogram for n < PACK_ROWS: one float64 per bin holding rows + class-0 draws · 2^17 + class-1 draws · 2^34
 * (each < 2^17, so the sum is an exact integer below 2^53). One read-modify-write per row instead of two.
 */
const PACK_ROWS = 1 << 17;
const PACK_0 = 2 ** 17;
const PACK_1 = 2 ** 34;

/**
 * Packed histograms of the m = 1..4 features cand[c, c + m) over the node's rows: feature q goes to
 * hq[q·256, q·256 + 256), and its non-missing bin range to mm[q] = min | (max + 1) << 8. One pass over the rows for
 * all m features; small nodes track the ranges while counting, large ones scan for them afterwards.
 */
function packedHistograms(binned: Uint8Array, n: number, cand: Int32Array, c: number, m: number, idx: Int32Array, w: Float64Array, start: number, end: number, hq: Float64Array, mm: Int32Array, small: boolean): void {
  const b0 = cand[c]! * n;
  if (m === 1) {
    mm[0] = small ? packed1Tracked(binned, b0, idx, w, start, end, hq) : (packed1(binned, b0, idx, w, start, end, hq), scanRange(hq, 0));
    return;
  }
  const b1 = cand[c + 1]! * n;
  const b2 = m > 2 ? cand[c + 2]! * n : 0;
  const b3 = m > 3 ? cand[c + 3]! * n : 0;
  if (small) {
    packedFusedTracked(binned, m, b0, b1, b2, b3, idx, w, start, end, hq, mm);
    return;
  }
  packedFused(binned, m, b0, b1, b2, b3, idx, w, start, end, hq);
  for (let q = 0; q < m; q++) mm[q] = scanRange(hq, q << 8);
}

/** Non-missing bin range of the packed histogram at hq[off, off + 256): min | (max + 1) << 8 (255 | 0 when empty). */
function scanRange(hq: Float64Array, off: number): number {
  let minB = 0;
  while (minB < 255 && hq[off + minB] === 0) minB++;
  let maxB = 254;
  while (maxB >= minB && hq[off + maxB] === 0) maxB--;
  return minB | ((maxB + 1) << 8);
}

function packed1(binned: Uint8Array, base: number, idx: Int32Array, w: Float64Array, start: number, end: number, hf: Float64Array): void {
  // Two interleaved histograms (hf[0..255], hf[256..511]): runs of rows in one bin do not wait on each other's store.
  let i = start;
  for (; i + 1 < end; i += 2) {
    const r = idx[i]!;
    const r2 = idx[i + 1]!;
    hf[binned[base + r]!] += w[r]!;
    hf[256 + binned[base + r2]!] += w[r2]!;
  }
  if (i < end) {
    const r = idx[i]!;
    hf[binned[base + r]!] += w[r]!;
  }
  for (let b = 0; b < 256; b++) {
    hf[b] += hf[256 + b]!;
    hf[256 + b] = 0;
  }
}

function packed1Tracked(binned: Uint8Array, base: number, idx: Int32Array, w: Float64Array, start: number, end: number, hf: Float64Array): number {
  let minB = 255;
  let maxB = -1;
  let i = start;
  for (; i + 1 < end; i += 2) {
    const r = idx[i]!;
    const r2 = idx[i + 1]!;
    const b = binned[base + r]!;
    const b2 = binned[base + r2]!;
    hf[b] += w[r]!;
    hf[256 + b2] += w[r2]!;
    // The missing bin (255) counts for the minimum only: 255 is the "none" value; for the maximum it becomes -1.
    minB = Math.min(minB, b, b2);
    maxB = Math.max(maxB, b - (((b + 1) >> 8) << 8), b2 - (((b2 + 1) >> 8) << 8));
  }
  if (i < end) {
    const r = idx[i]!;
    const b = binned[base + r]!;
    hf[b] += w[r]!;
    minB = Math.min(minB, b);
    maxB = Math.max(maxB, b - (((b + 1) >> 8) << 8));
  }
  for (let b = minB; b <= maxB; b++) {
    hf[b] += hf[256 + b]!;
    hf[256 + b] = 0;
  }
  hf[MISSING_BIN] += hf[256 + MISSING_BIN]!;
  hf[256 + MISSING_BIN] = 0;
  return minB | ((maxB + 1) << 8);
}

/** m = 2..4 features in one pass (unused bases are ignored); m is fixed for the loop, so its branches are predicted. */
function packedFused(binned: Uint8Array, m: number, b0: number, b1: number, b2: number, b3: number, idx: Int32Array, w: Float64Array, start: number, end: number, hq: Float64Array): void {
  for (let i = start; i < end; i++) {
    const r = idx[i]!;
    const x = w[r]!;
    hq[binned[b0 + r]!] += x;
    hq[256 + binned[b1 + r]!] += x;
    if (m > 2) {
      hq[512 + binned[b2 + r]!] += x;
      if (m > 3) hq[768 + binned[b3 + r]!] += x;
    }
  }
}

/** The same for a small node, also tracking each feature's non-missing bin range into mm. */
function packedFusedTracked(binned: Uint8Array, m: number, b0: number, b1: number, b2: number, b3: number, idx: Int32Array, w: Float64Array, start: number, end: number, hq: Float64Array, mm: Int32Array): void {
  let min0 = 255, min1 = 255, min2 = 255, min3 = 255;
  let max0 = -1, max1 = -1, max2 = -1, max3 = -1;
  for (let i = start; i < end; i++) {
    const r = idx[i]!;
    const x = w[r]!;
    const v0 = binned[b0 + r]!;
    const v1 = binned[b1 + r]!;
    hq[v0] += x;
    hq[256 + v1] += x;
    // The missing bin (255) counts for the minimum only: 255 is the "none" value; for the maximum it becomes -1.
    min0 = Math.min(min0, v0);
    min1 = Math.min(min1, v1);
    max0 = Math.max(max0, v0 - (((v0 + 1) >> 8) << 8));
    max1 = Math.max(max1, v1 - (((v1 + 1) >> 8) << 8));
    if (m > 2) {
      const v2 = binned[b2 + r]!;
      hq[512 + v2] += x;
      min2 = Math.min(min2, v2);
      max2 = Math.max(max2, v2 - (((v2 + 1) >> 8) << 8));
      if (m > 3) {
        const v3 = binned[b3 + r]!;
        hq[768 + v3] += x;
        min3 = Math.min(min3, v3);
        max3 = Math.max(max3, v3 - (((v3 + 1) >> 8) << 8));
      }
    }
  }
  mm[0] = min0 | ((max0 + 1) << 8);
  mm[1] = min1 | ((max1 + 1) << 8);
  mm[2] = min2 | ((max2 + 1) << 8);
  mm[3] = min3 | ((max3 + 1) << 8);
}

/** Unpacks bins [from, to] of the packed histogram at hf[off, off + 256) into the int32 layout and clears them. */
function unpack(hf: Float64Array, off: number, from: number, to: number, h: Int32Array): void {
  for (let b = from; b <= to; b++) {
    const v = hf[off + b]!;
    if (v === 0) continue;
    hf[off + b] = 0;
    const c1 = Math.floor(v / PACK_1);
    const rest = v - c1 * PACK_1;
    const c0 = Math.floor(rest / PACK_0);
    const j = b * SLOTS;
    h[j] = rest - c0 * PACK_0;
    h[j + 1] = c0;
    h[j + 2] = c1;
  }
}

/**
 * Partition of the node's rows src[start, end) into dst: rows whose bin has goLeft[bin] = 1 forwards from start,
 * the others backwards from end - 1, so both sides keep the rows in a monotone order (later gathers walk the
 * columns in one direction). Returns the first right position. Branch-free: every row is stored at both cursors,
 * and the store that is not kept is overwritten by a later row or by the same row at the last step of its side.
 * The children read dst and write into src, whose range outside theirs is no longer needed.
 */
function partition(binned: Uint8Array, base: number, src: Int32Array, dst: Int32Array, start: number, end: number, goLeft: Uint8Array): number {
  let l = start;
  let rr = end - 1;
  for (let i = start; i < end; i++) {
    const r = src[i]!;
    const left = goLeft[binned[base + r]!]!;
    dst[l] = r;
    dst[rr] = r;
    l += left;
    rr -= 1 - left;
  }
  return l;
}

/**
 * The same for a threshold split: bins <= t go left, and the missing bin when missingLeft is 1. Arithmetic instead
 * of a table lookup keeps the chain from a row to its store address one load shorter.
 */
function partitionThreshold(binned: Uint8Array, base: number, src: Int32Array, dst: Int32Array, start: number, end: number, t: number, missingLeft: number): number {
  let l = start;
  let rr = end - 1;
  for (let i = start; i < end; i++) {
    const r = src[i]!;
    const b = binned[base + r]!;
    // (t - b) >>> 31 is 1 when b > t; (b + 1) >> 8 is 1 only for the missing bin 255 (> every threshold).
    const left = (((t - b) >>> 31) ^ 1) | (((b + 1) >> 8) & missingLeft);
    dst[l] = r;
    dst[rr] = r;
    l += left;
    rr -= 1 - left;
  }
  return l;
}

/**
 * Pending nodes of the depth-first build (7 ints each: start, end, depth, class-0 draws, class-1 draws, parent,
 * isRight) with the bitset of the features known to be constant in each (inherited from its parent, which found
 * them constant). Typed arrays reused from tree to tree, so building a node allocates nothing.
 */
class NodeStack {
  ints = new Int32Array(7 * 64);
  bits = new Int32Array(64);
  /** 32-bit words per bitset. */
  words = 1;
  size = 0;

  reset(p: number): void {
    this.words = Math.max(1, (p + 31) >>> 5);
    this.size = 0;
  }

  push(start: number, end: number, depth: number, c0: number, c1: number, parent: number, isRight: number, known: Int32Array): void {
    if ((this.size + 1) * 7 > this.ints.length) {
      const ints = new Int32Array(this.ints.length * 2);
      ints.set(this.ints);
      this.ints = ints;
    }
    // Its own check: the bitsets per entry change with the number of features from tree to tree.
    if ((this.size + 1) * this.words > this.bits.length) {
      const bits = new Int32Array(Math.max(this.bits.length * 2, (this.size + 1) * this.words));
      bits.set(this.bits);
      this.bits = bits;
    }
    const o = this.size * 7;
    const a = this.ints;
    a[o] = start;
    a[o + 1] = end;
    a[o + 2] = depth;
    a[o + 3] = c0;
    a[o + 4] = c1;
    a[o + 5] = parent;
    a[o + 6] = isRight;
    const w = this.words;
    for (let j = 0; j < w; j++) this.bits[this.size * w + j] = known[j]!;
    this.size++;
  }

  /** Removes the top entry, copies its bitset into `known` and returns the offset of its ints (valid until the next push). */
  pop(known: Int32Array): number {
    this.size--;
    const w = this.words;
    for (let j = 0; j < w; j++) known[j] = this.bits[this.size * w + j]!;
    return this.size * 7;
  }
}

/**
 * Scratch arrays of this thread, reused by consecutive trees (buildTree is synchronous; results are copies). One
 * object for the thread's lifetime whose arrays are replaced by larger ones as needed: compiled code that inlined
 * it stays valid (replacing the object itself would deoptimize the builder on the first larger matrix).
 */
class Workspace {
  n = 0;
  counts = new Int32Array(0);
  idx = new Int32Array(0);
  code = new Uint16Array(0);
  /** Rows of nodes at odd depths (idx holds those at even depths; see partition). */
  idx2 = new Int32Array(0);
  /** Packed per-row addend of packedHistograms (0 = out of bag); allocated on first use of the packed layout. */
  packed = new Float64Array(0);
  readonly nodes = new NodeArrays();
  readonly stack = new NodeStack();
  /** int32 histograms (SLOTS per bin) of up to four features, one view each, and packed ones (256 bins each). */
  readonly h4 = new Int32Array(4 * 256 * SLOTS);
  readonly hv = [0, 1, 2, 3].map((q) => this.h4.subarray(q * 256 * SLOTS, (q + 1) * 256 * SLOTS));
  readonly hq = new Float64Array(4 * 256);

  prepare(n: number, pack: boolean): this {
    if (this.n < n) {
      this.n = n;
      this.counts = new Int32Array(n);
      this.idx = new Int32Array(n);
      this.code = new Uint16Array(n);
      this.idx2 = new Int32Array(n);
    }
    if (pack && this.packed.length < n) this.packed = new Float64Array(n);
    this.nodes.reset();
    return this;
  }
}

const scratch = new Workspace();

/** Draws the j-th feature of a node without replacement (a partial Fisher–Yates shuffle of feats). */
function drawFeature(u: Sfc32, feats: Int32Array, j: number, p: number): number {
  const k = j + u.int(p - j);
  const f = feats[k]!;
  feats[k] = feats[j]!;
  feats[j] = f;
  return f;
}

/** Best split of one node over the features considered so far (in draw order: the first best score wins ties). */
class SplitSearch {
  score = -Infinity;
  f = -1;
  t = 0;
  cat = false;
  leftBins = 0;
  ml = 0;
  l0 = 0;
  l1 = 0;
  nonConstant = 0;
  readonly order = new Uint8Array(256);
  readonly bestOrder = new Uint8Array(256);
  private readonly rate = new Float64Array(256);

  constructor(
    private readonly entropy: boolean,
    private readonly cw0: number,
    private readonly cw1: number,
    private readonly minLeaf: number,
  ) {}

  reset(): void {
    this.score = -Infinity;
    this.f = -1;
    this.nonConstant = 0;
  }

  /**
   * Considers feature f of a node with C rows and N0/N1 class draws, whose int32 histogram h is non-empty only in
   * bins [minB, maxB] and the missing bin. Returns false when f is constant in the node.
   */
  consider(f: number, isCat: boolean, h: Int32Array, minB: number, maxB: number, C: number, N0: number, N1: number): boolean {
    const MISS = MISSING_BIN * SLOTS;
    const Mc = h[MISS]!;
    const M0 = h[MISS + 1]!;
    const M1 = h[MISS + 2]!;
    if (maxB < minB || (minB === maxB && Mc === 0)) return false;
    this.nonConstant++;
    const { cw0, cw1, order } = this;
    // Candidate split points: non-empty bins in ascending order, or for a categorical feature ordered by their
    // weighted class-1 rate (for two classes the best subset split is a prefix of that order).
    let k = 0;
    for (let b = minB; b <= maxB; b++) if (h[b * SLOTS] !== 0) order[k++] = b;
    if (isCat && k > 2) sortByRate(order, k, h, cw0, cw1, this.rate);
    let improvedAt = -1;
    let Lc = 0;
    let L0 = 0;
    let L1 = 0;
    for (let j = 0; j < k; j++) {
      const j4 = order[j]! * SLOTS;
      Lc += h[j4]!;
      L0 += h[j4 + 1]!;
      L1 += h[j4 + 2]!;
      if (this.cut(Lc, L0, L1, j === k - 1, Mc, M0, M1, C, N0, N1)) improvedAt = j;
    }
    if (improvedAt >= 0) {
      this.f = f;
      this.cat = isCat;
      this.t = order[improvedAt]!;
      this.leftBins = improvedAt + 1;
      if (isCat) this.bestOrder.set(order.subarray(0, this.leftBins));
    }
    return true;
  }

  /**
   * Scores the cut after a candidate bin: Lc rows and L0/L1 class draws at or below it, missing values (Mc rows,
   * M0/M1 draws) sent right, then left. The last bin is a cut only with missing values right. Keeps the better one;
   * true when it beat the best so far.
   */
  private cut(Lc: number, L0: number, L1: number, last: boolean, Mc: number, M0: number, M1: number, C: number, N0: number, N1: number): boolean {
    const { entropy, cw0, cw1, minLeaf } = this;
    let improved = false;
    if (!last || Mc > 0) {
      const Rc = C - Lc;
      if (Lc >= minLeaf && Rc >= minLeaf) {
        const s = splitScore(entropy, cw0 * L0 + cw1 * L1, cw1 * L1, cw0 * (N0 - L0) + cw1 * (N1 - L1), cw1 * (N1 - L1));
        if (s > this.score) {
          this.score = s; this.ml = 0; this.l0 = L0; this.l1 = L1; improved = true;
        }
      }
    }
    if (Mc > 0 && !last) {
      const lc = Lc + Mc;
      const Rc = C - lc;
      if (lc >= minLeaf && Rc >= minLeaf) {
        const l0 = L0 + M0;
        const l1 = L1 + M1;
        const s = splitScore(entropy, cw0 * l0 + cw1 * l1, cw1 * l1, cw0 * (N0 - l0) + cw1 * (N1 - l1), cw1 * (N1 - l1));
        if (s > this.score) {
          this.score = s; this.ml = 1; this.l0 = l0; this.l1 = l1; improved = true;
        }
      }
    }
    return improved;
  }

  /**
   * consider() for a threshold split straight from the packed histogram at hq[off, off + 256) (see
   * packedHistograms), clearing the bins it reads: the same candidates in the same order, without the int32 copy.
   */
  considerPacked(f: number, hq: Float64Array, off: number, minB: number, maxB: number, C: number, N0: number, N1: number): boolean {
    const vm = hq[off + MISSING_BIN]!;
    hq[off + MISSING_BIN] = 0;
    const M1 = Math.floor(vm / PACK_1);
    const restM = vm - M1 * PACK_1;
    const M0 = Math.floor(restM / PACK_0);
    const Mc = restM - M0 * PACK_0;
    if (maxB < minB || (minB === maxB && Mc === 0)) {
      if (maxB >= minB) hq[off + minB] = 0;
      return false;
    }
    this.nonConstant++;
    let improvedAt = -1;
    let Lc = 0;
    let L0 = 0;
    let L1 = 0;
    for (let b = minB; b <= maxB; b++) {
      const v = hq[off + b]!;
      if (v === 0) continue;
      hq[off + b] = 0;
      const c1 = Math.floor(v / PACK_1);
      const rest = v - c1 * PACK_1;
      const c0 = Math.floor(rest / PACK_0);
      Lc += rest - c0 * PACK_0;
      L0 += c0;
      L1 += c1;
      if (this.cut(Lc, L0, L1, b === maxB, Mc, M0, M1, C, N0, N1)) improvedAt = b;
    }
    if (improvedAt >= 0) {
      this.f = f;
      this.cat = false;
      this.t = improvedAt;
      this.leftBins = 0;
    }
    return true;
  }
}

/** Tree parameters as the builder reads them (see buildTree). */
interface BuildParams {
  maxDepth: number;
  minLeaf: number;
  minSplit: number;
  mtry: number;
  entropy: boolean;
  bootstrap: boolean;
  cw0: number;
  cw1: number;
  categorical: Uint8Array;
  oob: boolean;
  packed: boolean;
}

function buildParams(prm: TreeParams, p: number): BuildParams {
  return {
    maxDepth: prm.maxDepth,
    minLeaf: Math.max(1, prm.minSamplesLeaf),
    minSplit: prm.minSamplesSplit,
    mtry: prm.mtry,
    entropy: prm.criterion === 'entropy',
    bootstrap: prm.bootstrap,
    cw0: prm.classWeight[0],
    cw1: prm.classWeight[1],
    categorical: prm.categorical ?? new Uint8Array(p),
    oob: prm.oob !== false,
    packed: prm.packedHistograms !== false,
  };
}
// Fractional weights first, so the shape's weight fields hold doubles from the start (a first integer weight would
// make them small integers, and the first fractional one would then change the shape and deoptimize the builder).
buildParams({ maxDepth: -1, minSamplesLeaf: 1, minSamplesSplit: 2, mtry: 1, criterion: 'gini', bootstrap: true, classWeight: [0.5, 1.5] }, 1);

/**
 * Builds tree `treeIndex` of a forest seeded with `seed`.
 * Bootstrap draws are integer weights per row (no duplicated rows); class weights are applied only when scoring a
 * split, so node statistics are exact integers.
 *
 * The builder proper (growTree) sees only typed arrays, numbers and one shape of parameters, whoever called it: a
 * literal, or a worker's deserialized copy whose strings and shapes differ. Its compiled code is then never
 * deoptimized by the first tree of a new caller (which cost a worker 100+ ms after its warm-up).
 */
export function buildTree(m: BinnedMatrix, params: TreeParams, seed: number, treeIndex: number): BuiltTree {
  return growTree(m.binned, m.y, m.n, m.p, buildParams(params, m.p), seed, treeIndex);
}

function growTree(binned: Uint8Array, y: Uint8Array, n: number, p: number, prm: BuildParams, seed: number, treeIndex: number): BuiltTree {
  const u = new Sfc32(seed, treeIndex);
  const pack = n < PACK_ROWS && prm.packed;
  const ws = scratch.prepare(n, pack);
  const { cw0, cw1 } = prm;
  let counts: Int32Array | null = null;
  if (prm.bootstrap) {
    counts = ws.counts.subarray(0, n);
    counts.fill(0);
    u.addDraws(counts, n, n);
  }
  // Rows of a node at depth d are rowsAt[d & 1][start, end) (the root's ascending).
  const { idx, code, nodes } = ws;
  const rowsAt = [idx, ws.idx2];
  const packed = ws.packed;
  const root = rootRows(counts, y, n, pack, packed, code, idx);
  const nIn = root.rows;
  const rootC0 = root.c0;
  const rootC1 = root.c1;

  const importance = new Float64Array(p);
  const feats = new Int32Array(p);
  for (let f = 0; f < p; f++) feats[f] = f;
  // Histograms are all-zero between uses (every reader clears what it read).
  const { h4, hv, hq } = ws;
  const h = hv[0]!;
  const mm = new Int32Array(4);
  const cand = new Int32Array(p);
  const MISS = MISSING_BIN * SLOTS;
  const { maxDepth, mtry, entropy, categorical: cat, minLeaf, minSplit } = prm;
  const search = new SplitSearch(entropy, cw0, cw1, minLeaf);
  const goLeft = new Uint8Array(256);
  const weight = (c0: number, c1: number): number => cw0 * c0 + cw1 * c1;

  const stack = ws.stack;
  stack.reset(p);
  // Features known to be constant in the current node (a bitset, copied from its stack entry).
  const known = new Int32Array(stack.words);
  stack.push(0, nIn, 0, rootC0, rootC1, -1, 0, known);
  while (stack.size > 0) {
    const o = stack.pop(known);
    const a = stack.ints;
    const start = a[o]!;
    const end = a[o + 1]!;
    const depth = a[o + 2]!;
    const N0 = a[o + 3]!;
    const N1 = a[o + 4]!;
    const parent = a[o + 5]!;
    const isRight = a[o + 6]!;
    const C = end - start;
    const rows = rowsAt[depth & 1]!;
    const W = weight(N0, N1);
    const W1 = cw1 * N1;
    const id = nodes.add(W > 0 ? W1 / W : 0);
    if (isRight) nodes.right[parent] = id;

    if (N0 === 0 || N1 === 0 || (maxDepth >= 0 && depth >= maxDepth) || C < minSplit || C < 2 * minLeaf) continue;

    const best = search;
    best.reset();
    const small = C < 512;
    // As scikit-learn: mtry features are drawn, constant ones included; more only while none of them was usable.
    // The first mtry draws do not depend on any histogram, so they are drawn up front and (packed layout) the
    // histograms of up to four of them are built in one pass over the node's rows.
    let nCand = 0;
    let drawn = 0;
    for (; drawn < p && drawn < mtry; drawn++) {
      const f = drawFeature(u, feats, drawn, p);
      if (((known[f >>> 5]! >>> (f & 31)) & 1) === 0) cand[nCand++] = f;
    }
    for (let c = 0; ; ) {
      if (c === nCand) {
        if (best.nonConstant > 0 || drawn >= p) break;
        const f = drawFeature(u, feats, drawn++, p);
        if (((known[f >>> 5]! >>> (f & 31)) & 1) === 0) cand[nCand++] = f;
        continue;
      }
      const m = Math.min(4, nCand - c);
      if (pack) packedHistograms(binned, n, cand, c, m, rows, packed, start, end, hq, mm, small);
      else int32Histograms(binned, n, cand, c, m, rows, code, start, end, h4, mm, small);
      for (let q = 0; q < m; q++) {
        const f = cand[c + q]!;
        const isCat = cat[f] === 1;
        let usable: boolean;
        if (pack && !isCat) {
          // Threshold splits scan the packed histogram directly (and clear it).
          usable = best.considerPacked(f, hq, q << 8, mm[q]! & 0xff, (mm[q]! >> 8) - 1, C, N0, N1);
        } else {
          // The int32 histogram of this feature: unpacked into the first view, or the fused pass's view q.
          const hf = pack ? h : hv[q]!;
          const minB = mm[q]! & 0xff;
          const maxB = (mm[q]! >> 8) - 1;
          if (pack) {
            if (maxB >= minB) unpack(hq, q << 8, minB, maxB, h);
            unpack(hq, q << 8, MISSING_BIN, MISSING_BIN, h);
          }
          usable = best.consider(f, isCat, hf, minB, maxB, C, N0, N1);
          if (maxB >= minB) hf.fill(0, minB * SLOTS, (maxB + 1) * SLOTS);
          hf[MISS] = 0;
          hf[MISS + 1] = 0;
          hf[MISS + 2] = 0;
        }
        if (!usable) known[f >>> 5] |= 1 << (f & 31);
      }
      c += m;
    }
    const bestF = best.f;
    const bestCat = best.cat;
    const bestT = best.t;
    const bestML = best.ml;
    const bestL0 = best.l0;
    const bestL1 = best.l1;
    if (bestF < 0) continue;

    let i: number;
    if (bestCat) {
      goLeft.fill(0);
      for (let j = 0; j < best.leftBins; j++) goLeft[best.bestOrder[j]!] = 1;
      goLeft[MISSING_BIN] = bestML;
      i = partition(binned, bestF * n, rows, rowsAt[(depth + 1) & 1]!, start, end, goLeft);
    } else i = partitionThreshold(binned, bestF * n, rows, rowsAt[(depth + 1) & 1]!, start, end, bestT, bestML);
    const R0 = N0 - bestL0;
    const R1 = N1 - bestL1;
    const Lw = weight(bestL0, bestL1);
    const Rw = weight(R0, R1);
    importance[bestF] += W * impurity(entropy, W, W1) - Lw * impurity(entropy, Lw, cw1 * bestL1) - Rw * impurity(entropy, Rw, cw1 * R1);
    nodes.feature[id] = bestF;
    nodes.threshold[id] = bestCat ? 0 : bestT;
    nodes.missingLeft[id] = bestML;
    if (bestCat) nodes.setCategorical(id, goLeft);
    // Push right first so the left child gets id + 1 (pre-order).
    stack.push(i, end, depth + 1, R0, R1, id, 1, known);
    stack.push(start, i, depth + 1, bestL0, bestL1, id, 0, known);
  }

  const tree = nodes.trimmed();
  const oob = outOfBag(tree, binned, n, prm.oob ? counts : null, n - nIn);
  return { ...tree, importance, oobRows: oob.rows, oobValues: oob.values };
}

/**
 * The root's in-bag rows into idx (ascending) and the per-row histogram addends: packed[r] in the packed layout
 * (0 = out of bag), code[r] = bootstrap count << 1 | label in the int32 one. counts null = every row once.
 * A function of its own so its loop is compiled apart from the node loop (see canonicalParams).
 */
function rootRows(counts: Int32Array | null, y: Uint8Array, n: number, pack: boolean, packed: Float64Array, code: Uint16Array, idx: Int32Array): { rows: number; c0: number; c1: number } {
  let nIn = 0;
  let c0 = 0;
  let c1 = 0;
  for (let r = 0; r < n; r++) {
    const c = counts ? counts[r]! : 1;
    const yr = y[r]!;
    if (pack) packed[r] = c === 0 ? 0 : 1 + c * (yr ? PACK_1 : PACK_0);
    else {
      if (c > 0x7fff) throw new Error(`row ${r} was drawn ${c} times; bootstrap counts above 32767 are not supported`);
      code[r] = c === 0 ? 0 : (c << 1) | yr;
    }
    if (c === 0) continue;
    idx[nIn++] = r;
    c1 += c * yr;
    c0 += c * (1 - yr);
  }
  return { rows: nIn, c0, c1 };
}

/** The tree's prediction for each of the k out-of-bag rows (counts[r] = 0), rows ascending; none when counts is null. */
function outOfBag(tree: FlatTree, binned: Uint8Array, n: number, counts: Int32Array | null, k: number): { rows: Int32Array; values: Float64Array } {
  const rows = new Int32Array(counts ? k : 0);
  const values = new Float64Array(counts ? k : 0);
  if (!counts) return { rows, values };
  let j = 0;
  for (let r = 0; r < n; r++) {
    if (counts[r] !== 0) continue;
    rows[j] = r;
    values[j] = tree.value[leafOfBinnedRow(tree, binned, n, r)]!;
    j++;
  }
  return { rows, values };
}

/** Sorts bins order[0, k) by weighted class-1 rate, then by bin (insertion sort: k is small). */
function sortByRate(order: Uint8Array, k: number, h: Int32Array, cw0: number, cw1: number, rate: Float64Array): void {
  for (let j = 0; j < k; j++) {
    const b = order[j]!;
    const w1 = cw1 * h[b * SLOTS + 2]!;
    rate[b] = w1 / (cw0 * h[b * SLOTS + 1]! + w1);
  }
  for (let j = 1; j < k; j++) {
    const b = order[j]!;
    const rb = rate[b]!;
    let i = j - 1;
    while (i >= 0 && (rate[order[i]!]! > rb || (rate[order[i]!]! === rb && order[i]! > b))) {
      order[i + 1] = order[i]!;
      i--;
    }
    order[i + 1] = b;
  }
}

/** Leaf reached by row r of a column-major binned matrix with n rows. */
export function leafOfBinnedRow(t: FlatTree, binned: Uint8Array, n: number, r: number): number {
  let node = 0;
  let f = t.feature[0]!;
  while (f >= 0) {
    const b = binned[f * n + r]!;
    const left = b === MISSING_BIN ? t.missingLeft[node] === 1 : t.catSlot[node]! >= 0 ? catGoesLeft(t, node, b) : b <= t.threshold[node]!;
    node = left ? node + 1 : t.right[node]!;
    f = t.feature[node]!;
  }
  return node;
}

/**
 * Builds trees on a small seeded matrix so a fresh thread's JIT has compiled the tree builder (every histogram and
 * split path) before real data arrives: a worker starts while the caller is still encoding and binning. Stops once
 * `done()` is true (checked between trees) or after maxTrees. Pure: the trees are discarded and buildTree keeps no
 * state between calls besides reusable scratch arrays. Returns the number of trees built.
 */
export function warmUpTreeBuilder(done: () => boolean = () => false, maxTrees = 3): number {
  // Enough rows for node counts of real magnitude (over 2^14 class-0 rows in one bin), so the compiled code keeps
  // them as doubles where needed instead of deoptimizing on the first large node.
  const rows = 24000;
  const features = 10;
  const u = createUniform(1, 1);
  const binned = new Uint8Array(rows * features);
  const y = new Uint8Array(rows);
  for (let f = 0; f < features; f++) {
    for (let r = 0; r < rows; r++) {
      // Wide, medium and skewed binary features: the binary ones are often constant deep in a tree (extra feature
      // draws), and their large bin holds over 2^14 class-0 rows at the root, as real flags do.
      const b = f % 3 === 0 ? randInt(u, 250) : f % 3 === 1 ? randInt(u, 40) : u() < 0.85 ? 0 : 1;
      binned[f * rows + r] = u() < 0.02 ? MISSING_BIN : b;
    }
  }
  // About 10 % positives, as in the conversion data the forest is for.
  for (let r = 0; r < rows; r++) {
    const wide = binned[r]!;
    const flag = binned[2 * rows + r]!;
    y[r] = u() < 0.03 + (wide !== MISSING_BIN && wide > 200 ? 0.2 : 0) + (flag === 1 ? 0.12 : 0) + binned[rows + r]! / 2000 ? 1 : 0;
  }
  const categorical = new Uint8Array(features);
  categorical[features - 1] = 1;
  let t = 0;
  for (; t < maxTrees && !done(); t++) {
    // 2 to 5 features per node: fused passes of every width; the last feature is split by subsets of levels; every
    // third tree uses the int32 layout of matrices over 2^17 rows.
    const prm: TreeParams = { maxDepth: -1, minSamplesLeaf: 5, minSamplesSplit: 2, mtry: 2 + (t % 4), criterion: 'gini', bootstrap: true, classWeight: [1, 1], categorical, oob: t % 2 === 0, packedHistograms: t % 3 !== 2 };
    buildTree({ binned, y, n: rows, p: features }, prm, 7, t);
  }
  return t;
}
