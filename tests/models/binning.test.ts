import { binMatrix, binOf, fitBinEdges } from '../../models/binning';
import { encodeColumns, fitEncodings, type RawColumn } from '../../models/encoding';
import { binTrainingColumns } from '../../models/histForest';
import { MISSING_BIN } from '../../models/histTree';
import { createUniform } from '../../models/prng';

describe('fitBinEdges / binMatrix', () => {
  const n = 5000;
  const u = createUniform(9, 1);
  // column 0: flags with missing; 1: 40 integer levels incl. negative zero; 2: continuous; 3: constant; 4: all missing
  const X = new Float64Array(5 * n);
  for (let r = 0; r < n; r++) {
    X[r] = r % 7 === 0 ? NaN : u() < 0.3 ? 1 : 0;
    const lv = Math.floor(u() * 40) - 20;
    X[n + r] = lv === 0 && r % 2 === 0 ? -0 : lv;
    X[2 * n + r] = r % 11 === 0 ? Infinity : Math.exp(3 * u());
    X[3 * n + r] = 4.25;
    X[4 * n + r] = NaN;
  }
  const edges = fitBinEdges(X, n, 5, 255);

  it('few distinct values: one edge between each pair of neighbours', () => {
    expect(edges[0]).toEqual([0.5]);
    expect(edges[1]).toEqual(Array.from({ length: 39 }, (_, i) => i - 20 + 0.5));
    expect(edges[3]).toEqual([]);
    expect(edges[4]).toEqual([]);
  });

  it('many distinct values: at most 254 edges, bins of roughly equal counts', () => {
    const e = edges[2]!;
    expect(e.length).toBeGreaterThan(200);
    expect(e.length).toBeLessThanOrEqual(254);
    for (let i = 1; i < e.length; i++) expect(e[i]!).toBeGreaterThan(e[i - 1]!);
    const counts = new Array<number>(e.length + 1).fill(0);
    let finite = 0;
    for (let r = 0; r < n; r++) {
      const x = X[2 * n + r]!;
      if (!Number.isFinite(x)) continue;
      finite++;
      counts[binOf(e, x)]!++;
    }
    const expected = finite / 255;
    expect(Math.max(...counts)).toBeLessThan(3 * expected);
  });

  it('binMatrix agrees with binOf for every value; non-finite values are missing', () => {
    const binned = binMatrix(X, n, 5, edges);
    for (let f = 0; f < 5; f++) {
      for (let r = 0; r < n; r++) {
        const x = X[f * n + r]!;
        expect(binned[f * n + r]).toBe(Number.isFinite(x) ? binOf(edges[f]!, x) : MISSING_BIN);
      }
    }
    expect(binned[2 * n]).toBe(MISSING_BIN);
  });
});

describe('binTrainingColumns', () => {
  it('gives the edges and bins of fitBinEdges + binMatrix over encodeColumns, for every kind of encoding', () => {
    const u = createUniform(4, 4);
    const n = 3000;
    const many = Array.from({ length: 300 }, (_, i) => `lv${i}`);
    const columns: RawColumn[] = [
      { name: 'amount', type: 'number', num: Float64Array.from({ length: n }, () => (u() < 0.05 ? NaN : Math.round(u() * 1e5) / 100)) },
      { name: 'flag', type: 'boolean', num: Float64Array.from({ length: n }, () => (u() < 0.5 ? 1 : 0)) },
      { name: 'channel', type: 'category', cat: Array.from({ length: n }, () => (u() < 0.03 ? null : ['app', 'web', 'branch'][Math.floor(u() * 3)]!)) },
      { name: 'segment', type: 'category', cat: Array.from({ length: n }, () => ['a', 'b', 'c', 'd', 'e'][Math.floor(u() * 5)]!) },
      // more levels than bins: quantile edges over the codes
      { name: 'merchant', type: 'category', cat: Array.from({ length: n }, () => (u() < 0.02 ? null : many[Math.floor(u() * many.length)]!)) },
    ];
    const y = Uint8Array.from({ length: n }, () => (u() < 0.2 ? 1 : 0));
    for (const nativeCategories of [false, true]) {
      // segment is one-hot (<= 5 levels) only in the first pass
      const { encodings, featureNames } = fitEncodings(columns, y, nativeCategories ? 0 : 5, nativeCategories);
      const p = featureNames.length;
      const byName = new Map(columns.map((c) => [c.name, c]));
      const X = encodeColumns(byName, encodings, p, n);
      const edges = fitBinEdges(X, n, p, 255);
      const { binEdges, binned } = binTrainingColumns(byName, encodings, p, n, 255);
      expect(binEdges).toEqual(edges);
      expect(Array.from(binned)).toEqual(Array.from(binMatrix(X, n, p, edges)));
      expect(encodings.some((e) => e.kind === (nativeCategories ? 'category' : 'onehot'))).toBe(true);
    }
  });
});
