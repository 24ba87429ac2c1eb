import { buildTree, MISSING_BIN, type BinnedMatrix, type BuiltTree, type TreeParams } from '../../models/histTree';
import { createUniform, randInt } from '../../models/prng';

/** A seeded binned matrix: mixed cardinalities, some missing bins, labels driven by two features. */
function matrix(n: number, p: number, seed: number): BinnedMatrix {
  const u = createUniform(seed, 3);
  const binned = new Uint8Array(n * p);
  const y = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    for (let f = 0; f < p; f++) binned[f * n + r] = u() < 0.03 ? MISSING_BIN : randInt(u, f % 2 === 0 ? 250 : 4);
    const a = binned[r]!;
    const b = binned[n + r]!;
    y[r] = u() < (a !== MISSING_BIN && a > 150 ? 0.3 : 0.05) + (b === 3 ? 0.2 : 0) ? 1 : 0;
  }
  return { binned, y, n, p };
}

const params: TreeParams = { maxDepth: -1, minSamplesLeaf: 5, minSamplesSplit: 2, mtry: 3, criterion: 'gini', bootstrap: true, classWeight: [1, 2] };

function same(a: BuiltTree, b: BuiltTree): void {
  expect(Array.from(a.feature)).toEqual(Array.from(b.feature));
  expect(Array.from(a.threshold)).toEqual(Array.from(b.threshold));
  expect(Array.from(a.missingLeft)).toEqual(Array.from(b.missingLeft));
  expect(Array.from(a.right)).toEqual(Array.from(b.right));
  expect(Array.from(a.value)).toEqual(Array.from(b.value));
  expect(Array.from(a.importance)).toEqual(Array.from(b.importance));
  expect(Array.from(a.oobValues)).toEqual(Array.from(b.oobValues));
}

describe('buildTree histograms', () => {
  const small = matrix(6000, 6, 11);

  it('packed and int32 histograms build the same trees', () => {
    for (let t = 0; t < 4; t++) {
      const packed = buildTree(small, params, 5, t);
      const plain = buildTree(small, { ...params, packedHistograms: false }, 5, t);
      expect(packed.feature.length).toBeGreaterThan(50);
      same(packed, plain);
    }
  });

  it('the same for every number of features per node (1 to 4 histograms per pass) and with subset splits', () => {
    const categorical = Uint8Array.from([0, 1, 0, 0, 0, 1]);
    for (let mtry = 1; mtry <= 6; mtry++) {
      for (const prm of [{ ...params, mtry }, { ...params, mtry, categorical }]) {
        const packed = buildTree(small, prm, 8, mtry);
        expect(packed.feature.length).toBeGreaterThan(50);
        same(packed, buildTree(small, { ...prm, packedHistograms: false }, 8, mtry));
      }
    }
  });

  it('a thread that built a tree on 2^17+ rows (no packing) then builds the same small tree as before', () => {
    const before = buildTree(small, params, 9, 0);
    const large = matrix((1 << 17) + 10, 2, 12);
    const big = buildTree(large, { ...params, maxDepth: 4, mtry: 2 }, 9, 0);
    expect(big.feature[0]).toBeGreaterThanOrEqual(0);
    same(buildTree(small, params, 9, 0), before);
  });
});
