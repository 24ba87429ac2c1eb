import { chooseK, fitStandardiser, kMeans, kMeansFrom, relabelBySize, silhouette, standardise, type KMeansResult } from '../../models/kmeans';
import { createRng } from '../../transforms/random';

const pts = (rows: number[][]): Float64Array[] => rows.map((r) => Float64Array.from(r));

/** Adjusted Rand index of two labellings (1 = identical partitions up to renaming, ~0 = chance). */
function adjustedRand(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const table = new Map<string, number>();
  const rowSum = new Map<number, number>();
  const colSum = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const key = `${a[i]}|${b[i]}`;
    table.set(key, (table.get(key) ?? 0) + 1);
    rowSum.set(a[i]!, (rowSum.get(a[i]!) ?? 0) + 1);
    colSum.set(b[i]!, (colSum.get(b[i]!) ?? 0) + 1);
  }
  const c2 = (x: number): number => (x * (x - 1)) / 2;
  let index = 0;
  for (const v of table.values()) index += c2(v);
  let sa = 0;
  for (const v of rowSum.values()) sa += c2(v);
  let sb = 0;
  for (const v of colSum.values()) sb += c2(v);
  const expected = (sa * sb) / c2(n);
  return (index - expected) / ((sa + sb) / 2 - expected);
}

/** Three well-separated 2-D Gaussian blobs, blob order shuffled by the seeded PRNG. */
function blobs(perBlob: number, seed: string): { points: Float64Array[]; truth: number[] } {
  const centres = [
    [0, 0],
    [10, 0],
    [5, 9],
  ];
  const rng = createRng(seed);
  const remaining = centres.map(() => perBlob);
  const points: Float64Array[] = [];
  const truth: number[] = [];
  while (points.length < perBlob * centres.length) {
    const b = rng.weighted([0, 1, 2], remaining);
    remaining[b]!--;
    points.push(Float64Array.from([rng.normal(centres[b]![0]!, 1), rng.normal(centres[b]![1]!, 1)]));
    truth.push(b);
  }
  return { points, truth };
}

describe('fitStandardiser / standardise', () => {
  const features = ['balance', 'age', 'flag', 'unknown'];
  const rows = [
    [1, null, 0.1, null],
    [3, 5, 0.1, null],
    [null, 7, 0.1, null],
    [5, null, 0.1, null],
  ];

  it('ignores nulls in the statistics; constant and all-null features get sd 1', () => {
    const s = fitStandardiser(rows, features);
    expect(s.features).toEqual(features);
    expect(s.mean[0]).toBeCloseTo(3, 12); // 1, 3, 5
    expect(s.sd[0]).toBeCloseTo(Math.sqrt(8 / 3), 12); // population sd
    expect(s.mean[1]).toBeCloseTo(6, 12); // 5, 7
    expect(s.sd[1]).toBeCloseTo(1, 12);
    expect(s.mean[2]).toBe(0.1); // exactly the constant, not 0.3000…04 / 3
    expect(s.sd[2]).toBe(1);
    expect(s.mean[3]).toBe(0);
    expect(s.sd[3]).toBe(1);
  });

  it('standardises with null → 0 (the mean) and constant columns → 0', () => {
    const s = fitStandardiser(rows, features);
    const z = standardise(rows, s);
    expect(z).toHaveLength(4);
    expect(z[0]).toBeInstanceOf(Float64Array);
    const sd0 = Math.sqrt(8 / 3);
    const expected = [
      [-2 / sd0, 0, 0, 0],
      [0, -1, 0, 0],
      [0, 1, 0, 0],
      [2 / sd0, 0, 0, 0],
    ];
    z.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(expected[i]![j]!, 12)));
  });

  it('rejects rows of the wrong width and non-finite values, naming the row and feature', () => {
    expect(() => fitStandardiser([[1, 2]], features)).toThrow(/row 0 has 2 values/);
    expect(() => fitStandardiser([[1, 2, 3, 4], [1, NaN, 3, 4]], features)).toThrow(/row 1, feature age/);
    const s = fitStandardiser(rows, features);
    expect(() => standardise([[1, 2, Infinity, 4]], s)).toThrow(/feature flag/);
  });
});

describe('kMeans', () => {
  it('is deterministic: same points and options → deeply equal results', () => {
    const { points } = blobs(150, 'det');
    const a = kMeans(points, { k: 4, seed: 'seg-2024' });
    const b = kMeans(points, { k: 4, seed: 'seg-2024' });
    expect(a).toEqual(b);
    expect(a.assignments).toBeInstanceOf(Int32Array);
    expect(a.centroids).toHaveLength(4);
    expect(a.iterations).toBeGreaterThanOrEqual(1);
    expect(a.iterations).toBeLessThanOrEqual(100);
  });

  it('inertia is the sum of squared distances to the returned centroids, and every point is at its nearest centroid', () => {
    const { points } = blobs(100, 'inertia');
    const r = kMeans(points, { k: 3, seed: 7 });
    let inertia = 0;
    let misplaced = 0;
    points.forEach((p, i) => {
      const d2 = r.centroids.map((c) => c.reduce((s, cj, j) => s + (p[j]! - cj) ** 2, 0));
      inertia += d2[r.assignments[i]!]!;
      if (d2.some((v) => v < d2[r.assignments[i]!]!)) misplaced++;
    });
    expect(misplaced).toBe(0);
    expect(r.inertia).toBeCloseTo(inertia, 8);
  });

  it('k larger than the number of distinct points: duplicates share a cluster, extra clusters stay empty, no NaN', () => {
    const points = pts([[0, 0], [5, 5], [0, 0], [9, 0], [5, 5], [0, 0]]);
    const r = kMeans(points, { k: 5, seed: 1 });
    expect(r).toEqual(kMeans(points, { k: 5, seed: 1 }));
    expect(r.inertia).toBe(0);
    expect(r.centroids.flat().every(Number.isFinite)).toBe(true);
    const a = r.assignments;
    expect(a[0]).toBe(a[2]);
    expect(a[0]).toBe(a[5]);
    expect(a[1]).toBe(a[4]);
    expect(new Set([a[0], a[1], a[3]]).size).toBe(3);
    const sizes = new Array(5).fill(0);
    a.forEach((c) => sizes[c]++);
    expect(sizes.filter((s) => s === 0)).toHaveLength(2);
    // Every non-empty cluster's centroid is its (single distinct) point.
    a.forEach((c, i) => expect(r.centroids[c]).toEqual([...points[i]!]));
  });

  it('an empty cluster is re-seeded with the farthest point (ties → lowest index)', () => {
    const points = pts([[0], [1], [10], [11]]);
    // Centroid 1 starts far from everything, so the first assignment leaves it empty; 11 is farthest from 0.5.
    const r = kMeansFrom(points, [[0.5], [100]]);
    expect([...r.assignments]).toEqual([0, 0, 1, 1]);
    expect(r.centroids).toEqual([[0.5], [10.5]]);
    expect(r.inertia).toBeCloseTo(1, 12);
    // Tie: 0 and 2 are both 1 from centroid 1; the lower index, point 0, moves to the empty cluster.
    const tie = kMeansFrom(pts([[0], [1], [2]]), [[1], [50]], { maxIterations: 1 });
    expect(tie.centroids).toEqual([[1.5], [0]]);
    expect(tie.iterations).toBe(1);
  });

  it('rejects bad input with an actionable message', () => {
    const points = pts([[0], [1]]);
    expect(() => kMeans(points, { k: 3, seed: 1 })).toThrow(/only 2 points/);
    expect(() => kMeans(points, { k: 0, seed: 1 })).toThrow(/positive integer/);
    expect(() => kMeans([], { k: 1, seed: 1 })).toThrow(/no points/);
    expect(() => kMeans(pts([[0, 1], [1]]), { k: 1, seed: 1 })).toThrow(/point 1 has 1 dimensions/);
    expect(() => kMeans(pts([[0], [NaN]]), { k: 1, seed: 1 })).toThrow(/point 1, dimension 0/);
  });

});

describe('silhouette', () => {
  it('matches a hand computation on a perfect 2-cluster toy set', () => {
    // Clusters {0, 1} and {4, 5} on a line; a = 1 for every point.
    // x=0: b = (4 + 5) / 2 = 4.5 → 3.5 / 4.5 = 7/9;  x=1: b = (3 + 4) / 2 = 3.5 → 2.5 / 3.5 = 5/7; symmetric for 4, 5.
    const points = pts([[0], [1], [4], [5]]);
    const s = silhouette(points, Int32Array.from([0, 0, 1, 1]), 2);
    expect(s).toBeCloseTo((2 * (7 / 9) + 2 * (5 / 7)) / 4, 12); // = 47/63
  });

  it('scores singleton clusters 0 and works in two dimensions', () => {
    // (0,0),(0,3) in cluster 0; (4,0) alone in cluster 1.
    // p0: a = 3, b = 4 → 1/4; p1: a = 3, b = 5 → 2/5; p2: singleton → 0.
    const s = silhouette(pts([[0, 0], [0, 3], [4, 0]]), Int32Array.from([0, 0, 1]), 2);
    expect(s).toBeCloseTo((1 / 4 + 2 / 5) / 3, 12);
  });

  it('samples deterministically for large inputs', () => {
    const { points, truth } = blobs(500, 'sample');
    const labels = Int32Array.from(truth);
    const a = silhouette(points, labels, 3, 400, 's');
    expect(silhouette(points, labels, 3, 400, 's')).toBe(a);
    expect(silhouette(points, labels, 3, 400, 'other')).not.toBe(a);
    const full = silhouette(points, labels, 3, 1500);
    expect(a).toBeGreaterThan(0.6);
    expect(Math.abs(a - full)).toBeLessThan(0.05);
  });
});

describe('chooseK', () => {
  it('picks k = 3 on three blobs, and the clusters recover the blobs', () => {
    const { points: raw, truth } = blobs(200, 'three-blobs');
    const rows = raw.map((p) => [...p]);
    const points = standardise(rows, fitStandardiser(rows, ['x', 'y']));
    const { best, scores } = chooseK(points, [2, 3, 4, 5, 6], 'seg');
    expect(scores.map((s) => s.k)).toEqual([2, 3, 4, 5, 6]);
    expect(best.k).toBe(3);
    const top = scores.reduce((m, s) => (s.silhouette > m.silhouette ? s : m));
    expect(top.k).toBe(3);
    expect(scores.find((s) => s.k === 3)!.inertia).toBe(best.inertia);
    expect(adjustedRand(best.assignments, truth)).toBeGreaterThanOrEqual(0.99);
  });

  it('is deterministic, and ignores the order and duplicates of the candidate list', () => {
    const { points } = blobs(120, 'choose-det');
    const a = chooseK(points, [2, 3, 4], 9);
    expect(chooseK(points, [2, 3, 4], 9)).toEqual(a);
    expect(chooseK(points, [4, 2, 3, 2], 9)).toEqual(a);
  });

  it('rejects k < 2 and an empty candidate list', () => {
    const points = pts([[0], [1], [2]]);
    expect(() => chooseK(points, [], 1)).toThrow(/no candidate k/);
    expect(() => chooseK(points, [1, 2], 1)).toThrow(/>= 2/);
  });
});

describe('relabelBySize', () => {
  const base: KMeansResult = {
    k: 3,
    centroids: [[0, 0], [1, 1], [2, 2]],
    assignments: Int32Array.from([2, 2, 0, 1, 1, 1, 2, 1]),
    inertia: 4.5,
    iterations: 3,
  };

  it('makes cluster 0 the largest and moves centroids with their clusters', () => {
    const r = relabelBySize(base);
    // sizes: old 1 → 4, old 2 → 3, old 0 → 1
    expect([...r.assignments]).toEqual([1, 1, 2, 0, 0, 0, 1, 0]);
    expect(r.centroids).toEqual([[1, 1], [2, 2], [0, 0]]);
    expect(r.inertia).toBe(4.5);
    expect(r.iterations).toBe(3);
    expect(r.k).toBe(3);
    expect([...base.assignments]).toEqual([2, 2, 0, 1, 1, 1, 2, 1]); // input untouched
    expect(relabelBySize(r)).toEqual(r); // idempotent
  });

  it('breaks size ties by the smaller centroid, so the labels do not depend on the seeding order', () => {
    const r = relabelBySize({ ...base, centroids: [[3, 0], [1, 0], [2, 5]], assignments: Int32Array.from([0, 0, 1, 1, 2]) });
    expect(r.centroids).toEqual([[1, 0], [3, 0], [2, 5]]);
    expect([...r.assignments]).toEqual([1, 1, 0, 0, 2]);
  });

  it('keeps empty clusters last', () => {
    const r = relabelBySize({ ...base, assignments: Int32Array.from([2, 2, 2, 0]) });
    expect(r.centroids).toEqual([[2, 2], [0, 0], [1, 1]]);
    expect([...r.assignments]).toEqual([0, 0, 0, 1]);
  });
});
