import { rocAuc, rocCurve } from '../../models/metrics';

describe('rocCurve', () => {
  it('steps through each distinct score, ties as one step, from (0,0) to (1,1)', () => {
    // Scores high to low: 0.9 (pos), 0.8 (neg), 0.5 tie (pos + neg), 0.1 (neg).
    expect(rocCurve([0.9, 0.8, 0.5, 0.5, 0.1], [1, 0, 1, 0, 0])).toEqual([[0, 0], [0, 0.5], [1 / 3, 0.5], [2 / 3, 1], [1, 1]]);
  });

  it('is empty when a class is absent', () => {
    expect(rocCurve([0.2, 0.4], [1, 1])).toEqual([]);
  });

  it('keeps at most maxPoints, first and last included, and the trapezoid area stays close to the AUC', () => {
    const n = 5000;
    const scores = Array.from({ length: n }, (_, i) => ((i * 7919) % n) / n);
    const labels = scores.map((s, i) => (s + ((i * 104729) % 1000) / 2000 > 0.75 ? 1 : 0));
    const curve = rocCurve(scores, labels, 51);
    expect(curve.length).toBe(51);
    expect(curve[0]).toEqual([0, 0]);
    expect(curve[50]).toEqual([1, 1]);
    let area = 0;
    for (let i = 1; i < curve.length; i++) area += (curve[i]![0] - curve[i - 1]![0]) * (curve[i]![1] + curve[i - 1]![1]) / 2;
    expect(Math.abs(area - rocAuc(scores, labels))).toBeLessThan(0.01);
  });
});
