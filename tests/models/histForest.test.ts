import { RandomForestClassifier } from 'ml-random-forest';
import { loadHistForest, trainHistForest, type HistForest, type HistForestJson, type Row } from '../../models/histForest';
import { binOf } from '../../models/binning';
import { catGoesLeft, type FlatTree } from '../../models/histTree';
import { rocAuc } from '../../models/metrics';
import { createUniform } from '../../models/prng';

/** Deterministic toy bank data: numeric, boolean, low- and high-cardinality categories, missing values. */
function makeRows(n: number, seed: number): { rows: Row[]; y: number[] } {
  const u = createUniform(seed, 99);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  const channels = ['branch', 'app', 'web'];
  const regions = Array.from({ length: 20 }, (_, i) => `r${String(i).padStart(2, '0')}`);
  const rows: Row[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const balance = gauss();
    const age = 20 + Math.floor(u() * 60);
    const hasCard = u() < 0.4;
    const channel = channels[Math.floor(u() * 3)]!;
    const region = regions[Math.floor(u() * 20)]!;
    const income = u() < 0.1 ? null : gauss();
    const noise = gauss();
    const z = 1.6 * balance + (channel === 'app' ? 0.8 : 0) + (Number(region.slice(1)) >= 15 ? 0.9 : 0) + (income === null ? 1.0 : 0.4 * income) + (hasCard ? 0.3 : 0) - 3.2;
    y.push(u() < 1 / (1 + Math.exp(-z)) ? 1 : 0);
    rows.push({ balance, age, hasCard, channel, region, income, noise });
  }
  return { rows, y };
}

const data = makeRows(3000, 1);
const train = { rows: data.rows.slice(0, 2000), y: data.y.slice(0, 2000) };
const test = { rows: data.rows.slice(2000), y: data.y.slice(2000) };

describe('trainHistForest', () => {
  let forest: HistForest;
  beforeAll(async () => {
    forest = await trainHistForest(train.rows, train.y, { seed: 7, nEstimators: 60, minSamplesLeaf: 5, threads: 1 });
  });

  it('learns a schema with automatic category encodings', () => {
    const json = forest.toJSON();
    expect(json.format).toBe('portrait-histforest');
    expect(json.formatVersion).toBe(2);
    expect(json.featureSchema.map((s) => [s.name, s.type])).toEqual([
      ['balance', 'number'], ['age', 'number'], ['hasCard', 'boolean'], ['channel', 'category'], ['region', 'category'], ['income', 'number'], ['noise', 'number'],
    ]);
    expect(json.encodings.find((e) => e.column === 'channel')!.kind).toBe('ordinal');
    expect(json.encodings.find((e) => e.column === 'region')!.kind).toBe('ordinal');
    expect(json.features).toEqual(['balance', 'age', 'hasCard', 'channel', 'region', 'income', 'noise']);
    expect(json.binEdges.every((e) => e.length <= 254)).toBe(true);
  });

  it('beats chance on held-out rows and reports an OOB AUC', () => {
    const auc = rocAuc(forest.predictProba(test.rows), test.y);
    expect(auc).toBeGreaterThan(0.75);
    expect(forest.oobAuc).toBeGreaterThan(0.7);
  });

  it('AUC >= ml-random-forest - 0.01 on the same split', () => {
    const names = ['balance', 'age', 'hasCard', 'channel', 'region', 'income', 'noise'];
    const { X: Xtr, n: ntr } = forest.encode(train.rows);
    const { X: Xte, n: nte } = forest.encode(test.rows);
    const p = forest.featureNames.length;
    const toRows = (X: Float64Array, n: number): number[][] =>
      Array.from({ length: n }, (_, r) => Array.from({ length: p }, (_, f) => (Number.isNaN(X[f * n + r]!) ? -1 : X[f * n + r]!)));
    const rf = new RandomForestClassifier({
      nEstimators: 30, maxFeatures: Math.floor(Math.sqrt(p)) / p, replacement: true, useSampleBagging: true, noOOB: true, seed: 7,
      treeOptions: { maxDepth: 8, minNumSamples: 5 },
    });
    rf.train(toRows(Xtr, ntr).slice(0, 1000), train.y.slice(0, 1000));
    const theirs = rocAuc(rf.predictProbability(toRows(Xte, nte), 1) as number[], test.y);
    const ours = rocAuc(forest.predictProba(test.rows), test.y);
    expect(names.length).toBe(forest.schema.length);
    expect(ours).toBeGreaterThanOrEqual(theirs - 0.01);
  });

  it('impurity importance ranks the driving features above noise', () => {
    const imp = Object.fromEntries(forest.columnImportance().map((c) => [c.feature, c.importance]));
    expect(imp.balance).toBeGreaterThan(imp.noise!);
    const total = forest.featureImportance().reduce((a, b) => a + b.importance, 0);
    expect(total).toBeCloseTo(1, 9);
  });

  it('permutation importance: shuffling balance hurts, shuffling noise barely does', () => {
    const { baselineAuc, importances } = forest.permutationImportance(test.rows, test.y, { repeats: 2, seed: 3 });
    const by = Object.fromEntries(importances.map((i) => [i.feature, i.importanceMean]));
    expect(baselineAuc).toBeGreaterThan(0.75);
    expect(by.balance).toBeGreaterThan(0.05);
    expect(Math.abs(by.noise!)).toBeLessThan(by.balance! / 4);
  });

  it('oobScore: false skips the out-of-bag AUC and leaves the trees unchanged', async () => {
    const opts = { seed: 7, nEstimators: 60, minSamplesLeaf: 5, threads: 1 };
    const without = await trainHistForest(train.rows, train.y, { ...opts, oobScore: false });
    expect(without.oobAuc).toBeNull();
    expect(JSON.stringify(without.toJSON().trees)).toBe(JSON.stringify(forest.toJSON().trees));
  });

  it('learns where missing values go', () => {
    const base = { balance: 0, age: 40, hasCard: false, channel: 'web', region: 'r01', noise: 0 };
    const [withMissing, withLow] = forest.predictProba([{ ...base, income: null }, { ...base, income: -1 }]);
    expect(withMissing!).toBeGreaterThan(withLow!);
  });

  it('scores unseen category levels without throwing', () => {
    const s = forest.predictProba([{ ...data.rows[0]!, channel: 'phone', region: 'r99' }]);
    expect(s[0]).toBeGreaterThanOrEqual(0);
    expect(s[0]).toBeLessThanOrEqual(1);
  });
});

describe('determinism and serialization', () => {
  it('same data, params and seed → byte-identical JSON; another seed differs', async () => {
    const opts = { seed: 11, nEstimators: 12, minSamplesLeaf: 3, threads: 1 };
    const a = (await trainHistForest(train.rows, train.y, opts)).serialize();
    const b = (await trainHistForest(train.rows, train.y, opts)).serialize();
    const c = (await trainHistForest(train.rows, train.y, { ...opts, seed: 12 })).serialize();
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it('threads 1 and 2 build byte-identical models (workers load the .ts sources under ts-jest)', async () => {
    const opts = { seed: 5, nEstimators: 9, minSamplesLeaf: 2 };
    const one = (await trainHistForest(train.rows, train.y, { ...opts, threads: 1 })).serialize();
    const two = (await trainHistForest(train.rows, train.y, { ...opts, threads: 2 })).serialize();
    expect(two).toBe(one);
  });

  it('round trip through JSON text gives identical predictions, also for column-major batches', async () => {
    const forest = await trainHistForest(train.rows, train.y, { seed: 3, nEstimators: 15, minSamplesLeaf: 5, threads: 1 });
    const loaded = loadHistForest(forest.serialize());
    expect(Array.from(loaded.predictProba(test.rows))).toEqual(Array.from(forest.predictProba(test.rows)));
    expect(loaded.serialize()).toBe(forest.serialize());
    // Column-major numeric batch: categories as indices into the schema's categories.
    const rows = test.rows.slice(0, 50);
    const names = loaded.schema.map((s) => s.name);
    const data = new Float64Array(names.length * rows.length);
    loaded.schema.forEach((s, j) => rows.forEach((r, i) => {
      const v = r[s.name];
      data[j * rows.length + i] = v === null ? NaN : s.type === 'category' ? s.categories!.indexOf(v as string) : Number(v);
    }));
    expect(Array.from(loaded.predictProbaBatch({ names, rows: rows.length, data }))).toEqual(Array.from(forest.predictProba(rows)));
  });

  it('rejects other formats and versions', () => {
    expect(() => loadHistForest({ format: 'portrait-forest' } as never)).toThrow(/not a histogram forest/);
    expect(() => loadHistForest({ format: 'portrait-histforest', formatVersion: 3 } as never)).toThrow(/formatVersion 3; this code reads versions 1 and 2/);
  });

  it('loads a version 1 model (no categorical splits) and scores it the same', async () => {
    const forest = await trainHistForest(train.rows, train.y, { seed: 8, nEstimators: 10, minSamplesLeaf: 5, threads: 1 });
    const v2 = forest.toJSON();
    const v1 = { ...v2, formatVersion: 1, trees: v2.trees.map(({ catBits: _c, ...t }) => t) } as unknown as HistForestJson;
    expect(Array.from(loadHistForest(JSON.stringify(v1)).predictProba(test.rows))).toEqual(Array.from(forest.predictProba(test.rows)));
    const withCategory = { ...v1, encodings: v1.encodings.map((e) => (e.column === 'region' ? { ...e, kind: 'category' } : e)) } as HistForestJson;
    expect(() => loadHistForest(withCategory)).toThrow(/formatVersion 1 has no 'category' encodings/);
    const noBits = { ...v2, trees: v2.trees.map(({ catBits: _c, ...t }) => t) } as HistForestJson;
    expect(() => loadHistForest(noBits)).toThrow(/tree 0 has no catBits/);
  });
});

describe('category encodings', () => {
  it('one-hot for columns with at most oneHotMaxLevels levels, ordinal for the others', async () => {
    const forest = await trainHistForest(train.rows, train.y, { seed: 7, nEstimators: 5, minSamplesLeaf: 5, oneHotMaxLevels: 8, threads: 1 });
    const json = forest.toJSON();
    expect(json.encodings.find((e) => e.column === 'channel')!.kind).toBe('onehot');
    expect(json.encodings.find((e) => e.column === 'region')!.kind).toBe('ordinal');
    expect(json.features).toContain('channel=app');
  });

  describe('subset splits (nativeCategories)', () => {
    const opts = { seed: 6, nEstimators: 30, minSamplesLeaf: 5, nativeCategories: true };
    let forest: HistForest;
    beforeAll(async () => {
      forest = await trainHistForest(train.rows, train.y, { ...opts, threads: 1 });
    });

    it('splits categories by subsets of levels and still learns', () => {
      const json = forest.toJSON();
      expect(json.encodings.filter((e) => e.kind === 'category').map((e) => e.column)).toEqual(['channel', 'region']);
      // categorical splits store their bin sets
      const bits = json.trees.map((t) => Buffer.from(t.catBits!, 'base64'));
      expect(bits.some((b) => b.length > 0)).toBe(true);
      expect(rocAuc(forest.predictProba(test.rows), test.y)).toBeGreaterThan(0.75);
    });

    it('threads 1 and 2 build byte-identical models; JSON round trip scores the same', async () => {
      const two = await trainHistForest(train.rows, train.y, { ...opts, threads: 2 });
      expect(two.serialize()).toBe(forest.serialize());
      const loaded = loadHistForest(forest.serialize());
      expect(Array.from(loaded.predictProba(test.rows))).toEqual(Array.from(forest.predictProba(test.rows)));
    });

    it('finds a set of levels that thresholds on the code cannot (interaction with a number, shallow trees)', async () => {
      // y depends on (level in S) XOR (x > 0): every level's overall rate is ~0.5, so the target-rate order of the
      // codes carries no information, but inside each side of x a subset split separates S from the rest.
      const u = createUniform(3, 5);
      const S = new Set(['L1', 'L3', 'L4', 'L8', 'L9']);
      const rows: Row[] = [];
      const y: number[] = [];
      for (let i = 0; i < 3000; i++) {
        const x = u() * 2 - 1;
        const c = `L${Math.floor(u() * 10)}`;
        y.push(u() < (S.has(c) !== x > 0 ? 0.8 : 0.2) ? 1 : 0);
        rows.push({ x, c, noise: u() });
      }
      const auc = async (nativeCategories: boolean): Promise<number> => {
        const f = await trainHistForest(rows.slice(0, 2000), y.slice(0, 2000), { seed: 1, nEstimators: 30, minSamplesLeaf: 5, maxDepth: 3, nativeCategories, threads: 1 });
        return rocAuc(f.predictProba(rows.slice(2000)), y.slice(2000));
      };
      const subsets = await auc(true);
      const thresholds = await auc(false);
      expect(subsets).toBeGreaterThan(thresholds + 0.05);
    });

    it('bias + contributions = prediction', () => {
      const { bias, prediction, contributions, columns } = forest.contributions(test.rows.slice(0, 200));
      const direct = forest.predictProba(test.rows.slice(0, 200));
      for (let r = 0; r < 200; r++) {
        let s = bias;
        for (let j = 0; j < columns.length; j++) s += contributions[r * columns.length + j]!;
        expect(s).toBeCloseTo(prediction[r]!, 10);
        expect(prediction[r]).toBeCloseTo(direct[r]!, 12);
      }
    });
  });
});

/** Reference walk on raw encoded values: a split "bin <= t" is "x <= edges[t]"; subset splits look up the code's bin. */
function rawValueWalk(forest: HistForest, rows: Row[]): Float64Array {
  const json = forest.toJSON();
  const { X, n } = forest.encode(rows);
  const model = loadHistForest(json);
  const { trees, binEdges } = (model as unknown as { parts: { trees: FlatTree[]; binEdges: number[][] } }).parts;
  const out = new Float64Array(n);
  for (const t of trees) {
    for (let r = 0; r < n; r++) {
      let node = 0;
      while (t.feature[node]! >= 0) {
        const f = t.feature[node]!;
        const x = X[f * n + r]!;
        const edges = binEdges[f]!;
        let left: boolean;
        if (!Number.isFinite(x)) left = t.missingLeft[node] === 1;
        else if (t.catSlot[node]! >= 0) left = catGoesLeft(t, node, binOf(edges, x));
        else left = t.threshold[node]! >= edges.length || x <= edges[t.threshold[node]!]!;
        node = left ? node + 1 : t.right[node]!;
      }
      out[r] += t.value[node]!;
    }
  }
  for (let r = 0; r < n; r++) out[r] /= trees.length;
  return out;
}

describe('scoring on bins', () => {
  it('gives exactly the probabilities of walking raw values, with missing values, unseen levels and subset splits', async () => {
    for (const nativeCategories of [false, true]) {
      const forest = await trainHistForest(train.rows, train.y, { seed: 3, nEstimators: 25, minSamplesLeaf: 3, nativeCategories, threads: 1 });
      const rows: Row[] = test.rows.map((r, i) => (i % 7 === 0 ? { ...r, region: 'r99', income: null } : i % 11 === 0 ? { ...r, balance: Number.NaN, channel: null } : r));
      const expected = Array.from(rawValueWalk(forest, rows));
      expect(Array.from(forest.predictProba(rows))).toEqual(expected);
      expect(Array.from(forest.contributions(rows).prediction)).toEqual(expected);
    }
  });
});

describe('schema validation at scoring', () => {
  let forest: HistForest;
  beforeAll(async () => {
    forest = await trainHistForest(train.rows, train.y, { seed: 1, nEstimators: 5, threads: 1 });
  });

  it('a missing column is an error naming the column', () => {
    const { income: _drop, ...rest } = test.rows[0]!;
    expect(() => forest.predictProba([rest])).toThrow(/'income' is missing/);
    expect(() => forest.predictProbaBatch({ names: ['balance'], rows: 1, data: new Float64Array(1) })).toThrow(/'age' is missing/);
  });

  it('a string where a number is expected is an error naming the column', () => {
    expect(() => forest.predictProba([{ ...test.rows[0]!, balance: '12.5' }])).toThrow(/column 'balance' expects numbers/);
  });

  it('a number where a category is expected is an error naming the column', () => {
    expect(() => forest.predictProba([{ ...test.rows[0]!, channel: 3 }])).toThrow(/column 'channel' expects category strings/);
  });

  it('null is a missing value, not an error', () => {
    expect(forest.predictProba([{ ...test.rows[0]!, balance: null, channel: null }])).toHaveLength(1);
  });
});

describe('reason codes (Saabas)', () => {
  it('bias + contributions = prediction for a single tree and for the forest', async () => {
    for (const nEstimators of [1, 25]) {
      const forest = await trainHistForest(train.rows, train.y, { seed: 2, nEstimators, minSamplesLeaf: 5, threads: 1 });
      const { bias, prediction, contributions, columns } = forest.contributions(test.rows);
      const direct = forest.predictProba(test.rows);
      for (let r = 0; r < test.rows.length; r++) {
        let s = bias;
        for (let j = 0; j < columns.length; j++) s += contributions[r * columns.length + j]!;
        expect(s).toBeCloseTo(prediction[r]!, 10);
        expect(prediction[r]).toBeCloseTo(direct[r]!, 12);
      }
    }
  });

  it('ranks the dominant feature first for extreme rows', async () => {
    const forest = await trainHistForest(train.rows, train.y, { seed: 2, nEstimators: 40, minSamplesLeaf: 5, threads: 1 });
    const extreme = test.rows.filter((r) => Math.abs(r.balance as number) > 2);
    const codes = forest.reasonCodes(extreme, 3);
    const topIsBalance = codes.filter((c) => c.reasons[0]!.feature === 'balance').length;
    expect(topIsBalance / codes.length).toBeGreaterThan(0.7);
    expect(codes[0]!.reasons).toHaveLength(3);
  });
});

describe('class weights', () => {
  it("'balanced' raises recall of the minority class at threshold 0.5", async () => {
    const plain = await trainHistForest(train.rows, train.y, { seed: 4, nEstimators: 30, minSamplesLeaf: 10, threads: 1 });
    const balanced = await trainHistForest(train.rows, train.y, { seed: 4, nEstimators: 30, minSamplesLeaf: 10, classWeight: 'balanced', threads: 1 });
    const recall = (s: Float64Array): number => {
      let tp = 0;
      let pos = 0;
      test.y.forEach((y, i) => { if (y === 1) { pos++; if (s[i]! >= 0.5) tp++; } });
      return tp / pos;
    };
    const prate = test.y.reduce((a, b) => a + b, 0) / test.y.length;
    expect(prate).toBeLessThan(0.3);
    expect(recall(balanced.predictProba(test.rows))).toBeGreaterThan(recall(plain.predictProba(test.rows)) + 0.1);
    expect(balanced.params.classWeights[1]).toBeGreaterThan(balanced.params.classWeights[0]);
  });
});

describe('parameters', () => {
  it('maxDepth caps depth; entropy works; bad params are clear errors', async () => {
    const stump = await trainHistForest(train.rows, train.y, { seed: 1, nEstimators: 3, maxDepth: 1, criterion: 'entropy', threads: 1 });
    for (const t of stump.toJSON().trees) expect(t.nodes).toBeLessThanOrEqual(3);
    await expect(trainHistForest(train.rows, train.y, { seed: 1, maxFeatures: 1.5 })).rejects.toThrow(/maxFeatures/);
    await expect(trainHistForest(train.rows, train.y.map(() => 0), { seed: 1 })).rejects.toThrow(/single class/);
    await expect(trainHistForest([{ a: 1 }, { a: 'x' }], [0, 1], { seed: 1 })).rejects.toThrow(/column 'a' mixes strings/);
    // A JavaScript or JSON caller is not held to the types: unknown values are named, not silently taken for one.
    const loose = (extra: Record<string, unknown>): Promise<unknown> => trainHistForest(train.rows, train.y, { seed: 1, nEstimators: 2, ...extra } as never);
    await expect(loose({ criterion: 'log_loss' })).rejects.toThrow(/criterion must be 'gini' or 'entropy', got log_loss/);
    await expect(loose({ maxBins: 10.5 })).rejects.toThrow(/maxBins must be an integer in \[2, 255\], got 10.5/);
    await expect(loose({ maxBins: 1 })).rejects.toThrow(/maxBins/);
  });

  it('a loaded model with an unknown encoding kind is rejected by name', async () => {
    const f = await trainHistForest(train.rows, train.y, { seed: 2, nEstimators: 2, threads: 1 });
    const json = f.toJSON();
    const bad = { ...json, encodings: json.encodings.map((e) => (e.column === 'channel' ? { ...e, kind: 'hashed' } : e)) } as unknown as HistForestJson;
    expect(() => loadHistForest(bad)).toThrow(/encoding of column 'channel' has unknown kind 'hashed'/);
  });
});
