import { binMatrix, binOf, fitBinEdges } from '../../models/binning';
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
