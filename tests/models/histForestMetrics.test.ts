import { averagePrecision, calibrationTable, gainsTable, logLoss, rocAuc, stratifiedKFold, topDecileCapture, topDecileLift } from '../../models/metrics';

describe('metrics', () => {
  it('rocAuc: perfect, reversed, ties half, single class NaN', () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(rocAuc([0.3, 0.3, 0.7, 0.1], [1, 0, 1, 0])).toBeCloseTo(0.875, 12);
    expect(rocAuc([0.5, 0.5], [1, 1])).toBeNaN();
  });

  it('averagePrecision matches the hand-computed step sum (as scikit-learn)', () => {
    // sorted: 0.9(1) 0.8(0) 0.7(1) 0.1(0): AP = 0.5·1 + 0.5·(2/3)
    expect(averagePrecision([0.1, 0.9, 0.7, 0.8], [0, 1, 1, 0])).toBeCloseTo(0.5 + 1 / 3, 12);
    expect(averagePrecision([0.2, 0.9], [0, 1])).toBe(1);
  });

  it('logLoss', () => {
    expect(logLoss([0.5, 0.5], [0, 1])).toBeCloseTo(Math.log(2), 12);
    expect(logLoss([1, 0], [1, 0])).toBeLessThan(1e-10);
  });

  it('calibrationTable bins by predicted probability', () => {
    const t = calibrationTable([0.05, 0.07, 0.95, 1], [0, 1, 1, 1]);
    expect(t).toHaveLength(10);
    expect(t[0]).toMatchObject({ rows: 2, observedRate: 0.5 });
    expect(t[0]!.meanPredicted).toBeCloseTo(0.06, 12);
    expect(t[9]).toMatchObject({ rows: 2, observedRate: 1 });
    expect(t[5]!.rows).toBe(0);
  });

  it('gains/lift by decile and top-decile capture', () => {
    const scores = Array.from({ length: 100 }, (_, i) => i / 100);
    const labels = scores.map((s) => (s >= 0.9 ? 1 : 0)); // all 10 positives in the top decile
    const g = gainsTable(scores, labels);
    expect(g[0]).toMatchObject({ decile: 1, rows: 10, positives: 10, rate: 1, cumulativeCapture: 1 });
    expect(g[0]!.lift).toBeCloseTo(10, 12);
    expect(g[9]!.cumulativeLift).toBeCloseTo(1, 12);
    expect(topDecileCapture(scores, labels)).toBe(1);
    expect(topDecileLift(scores, labels)).toBeCloseTo(10, 12);
  });

  it('stratifiedKFold: seeded, balanced folds with the class mix of the whole', () => {
    const labels = Array.from({ length: 1000 }, (_, i) => (i % 10 === 0 ? 1 : 0));
    const a = stratifiedKFold(labels, 5, 9);
    expect(Array.from(stratifiedKFold(labels, 5, 9))).toEqual(Array.from(a));
    expect(Array.from(stratifiedKFold(labels, 5, 10))).not.toEqual(Array.from(a));
    for (let k = 0; k < 5; k++) {
      const rows = labels.filter((_, i) => a[i] === k);
      expect(rows).toHaveLength(200);
      expect(rows.filter((y) => y === 1)).toHaveLength(20);
    }
  });
});
