import { featureVector, loadScorer, rocAuc, trainForest, type ForestModel } from '../../models/forest';
import { createRng } from '../../transforms/random';

describe('rocAuc', () => {
  it('perfect ranking = 1, reversed = 0', () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
  });

  it('hand-computed: [0.1,0.4,0.35,0.8] vs [0,0,1,1] → 3 of 4 pairs ordered = 0.75', () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
  });

  it('ties count half', () => {
    expect(rocAuc([0.5, 0.5], [0, 1])).toBeCloseTo(0.5, 12);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0])).toBeCloseTo(0.5, 12);
    // pairs (pos 0.3, pos 0.7) × (neg 0.3, neg 0.1): 0.3~0.3 tie ½, 0.3>0.1 1, 0.7>0.3 1, 0.7>0.1 1 → 3.5/4
    expect(rocAuc([0.3, 0.3, 0.7, 0.1], [1, 0, 1, 0])).toBeCloseTo(0.875, 12);
  });

  it('does not depend on the row order', () => {
    expect(rocAuc([0.8, 0.35, 0.1, 0.4], [1, 1, 0, 0])).toBeCloseTo(0.75, 12);
  });

  it('3 positives, 2 negatives: 5 of 6 pairs ordered', () => {
    // negatives 0.2, 0.6; positives 0.5 (beats 0.2 only), 0.7, 0.9 → (1 + 2 + 2) / 6
    expect(rocAuc([0.2, 0.5, 0.6, 0.7, 0.9], [0, 1, 0, 1, 1])).toBeCloseTo(5 / 6, 12);
  });

  it('single-class labels → NaN', () => {
    expect(rocAuc([0.1, 0.2], [1, 1])).toBeNaN();
    expect(rocAuc([0.1, 0.2], [0, 0])).toBeNaN();
    expect(rocAuc([], [])).toBeNaN();
  });
});

describe('featureVector', () => {
  it('orders by the feature list, booleans → 0/1, missing → -1', () => {
    const row = { age: 35, has_mortgage: true, has_credit_card: false, total_deposits: '12345.5', annual_income: null, other: 9 };
    expect(featureVector(row, ['has_mortgage', 'age', 'has_credit_card', 'total_deposits', 'annual_income', 'missing'])).toEqual([1, 35, 0, 12345.5, -1, -1]);
  });

  it('non-numeric text → -1, zero stays 0', () => {
    expect(featureVector({ a: 'abc', b: 0, c: '0', d: Number.NaN }, ['a', 'b', 'c', 'd'])).toEqual([-1, 0, 0, -1]);
  });
});

/** 300 rows, 4 features; conversion depends strongly on f0 and f1, f2 and f3 are noise. */
function synthetic(seed: number): { X: number[][]; y: number[] } {
  const rng = createRng(seed);
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < 300; i++) {
    const row = [rng.normal(0, 1), rng.normal(0, 1), rng.normal(0, 1), rng.bernoulli(0.5) ? 1 : 0];
    const logit = 2.5 * row[0]! - 2 * row[1]!;
    X.push(row);
    y.push(rng.bernoulli(1 / (1 + Math.exp(-logit))) ? 1 : 0);
  }
  return { X, y };
}

describe('trainForest / loadScorer', () => {
  const features = ['f0', 'f1', 'f2', 'f3'];
  const params = { trees: 25, maxDepth: 6, minSamplesLeaf: 5 };
  const { X, y } = synthetic(42);
  const trainX = X.slice(0, 200);
  const trainY = y.slice(0, 200);
  const testX = X.slice(200);
  const testY = y.slice(200);
  const model = trainForest('consumer_loan', features, trainX, trainY, params, 7);

  it('the synthetic data has both classes in train and test', () => {
    expect(new Set(trainY).size).toBe(2);
    expect(new Set(testY).size).toBe(2);
  });

  it('records the metadata', () => {
    expect(model).toMatchObject({ format: 'portrait-forest', formatVersion: 1, algorithm: 'ml-random-forest@2', product: 'consumer_loan', features, params, seed: 7 });
  });

  it('same data and seed → identical model JSON', () => {
    const again = trainForest('consumer_loan', features, trainX.map((r) => [...r]), [...trainY], params, 7);
    expect(JSON.stringify(again)).toBe(JSON.stringify(model));
  });

  it('a different seed gives a different model', () => {
    expect(JSON.stringify(trainForest('consumer_loan', features, trainX, trainY, params, 8))).not.toBe(JSON.stringify(model));
  });

  it('ranks held-out rows well (AUC > 0.7)', () => {
    const scores = loadScorer(model).score(testX);
    expect(scores).toHaveLength(100);
    for (const s of scores) {
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThanOrEqual(1);
    }
    expect(rocAuc(scores, testY)).toBeGreaterThan(0.7);
  });

  it('scores the same after a JSON round trip', () => {
    const restored = JSON.parse(JSON.stringify(model)) as ForestModel;
    const scorer = loadScorer(restored);
    expect(scorer.features).toEqual(features);
    expect(scorer.score(testX)).toEqual(loadScorer(model).score(testX));
  });

  it('scores no rows as []', () => {
    expect(loadScorer(model).score([])).toEqual([]);
  });

  it('rejects another model format', () => {
    expect(() => loadScorer({ ...model, formatVersion: 2 as 1 })).toThrow('unsupported model format portrait-forest/2');
  });

  it('single-class labels throw a clear error', () => {
    expect(() => trainForest('credit_card', features, trainX, trainX.map(() => 0), params, 7)).toThrow(
      'training labels for product credit_card have a single class; need converted and not converted contacts',
    );
  });

  it('no rows throw a clear error', () => {
    expect(() => trainForest('credit_card', features, [], [], params, 7)).toThrow('no training rows for product credit_card');
  });
});
