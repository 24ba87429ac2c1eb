import { computeLift, katzRiskRatioInterval, newcombeInterval, qiniCurve, roi, wilsonInterval } from '../../transforms/lift';

describe('computeLift', () => {
  it('hand-computed example: 120/1000 vs 100/1000', () => {
    const r = computeLift({ contacts: 1000, conversions: 120 }, { contacts: 1000, conversions: 100 });
    expect(r.treatment).toMatchObject({ contacts: 1000, conversions: 120, rate: 0.12 });
    expect(r.control).toMatchObject({ contacts: 1000, conversions: 100, rate: 0.1 });
    expect(r.absoluteLift).toBeCloseTo(0.02, 12);
    // se = sqrt(.12*.88/1000 + .1*.9/1000) = sqrt(0.0001956) = 0.0139857069896...
    const half = 1.959964 * Math.sqrt((0.12 * 0.88) / 1000 + (0.1 * 0.9) / 1000);
    expect(half).toBeCloseTo(0.0274115, 6);
    const [lo, hi] = r.absoluteLiftCi95!;
    expect(lo).toBeCloseTo(0.02 - half, 6);
    expect(hi).toBeCloseTo(0.02 + half, 6);
    expect(lo).toBeCloseTo(-0.0074115, 6);
    expect(hi).toBeCloseTo(0.0474115, 6);
    expect(r.relativeLift).toBeCloseTo(0.2, 12);
    expect(r.incrementalConversions).toBeCloseTo(20, 9);
  });

  it('unequal arm sizes: 50/200 vs 10/100', () => {
    const r = computeLift({ contacts: 200, conversions: 50 }, { contacts: 100, conversions: 10 });
    expect(r.absoluteLift).toBeCloseTo(0.15, 12);
    const half = 1.959964 * Math.sqrt((0.25 * 0.75) / 200 + (0.1 * 0.9) / 100);
    expect(r.absoluteLiftCi95![0]).toBeCloseTo(0.15 - half, 6);
    expect(r.absoluteLiftCi95![1]).toBeCloseTo(0.15 + half, 6);
    expect(r.relativeLift).toBeCloseTo(1.5, 12);
    expect(r.incrementalConversions).toBeCloseTo(30, 9);
  });

  it('negative lift keeps its sign', () => {
    const r = computeLift({ contacts: 100, conversions: 5 }, { contacts: 100, conversions: 10 });
    expect(r.absoluteLift).toBeCloseTo(-0.05, 12);
    expect(r.relativeLift).toBeCloseTo(-0.5, 12);
    expect(r.absoluteLiftCi95![1]).toBeGreaterThan(-0.05);
    expect(r.absoluteLiftCi95![0]).toBeLessThan(-0.05);
  });

  it('empty treatment arm → nulls', () => {
    const r = computeLift({ contacts: 0, conversions: 0 }, { contacts: 100, conversions: 10 });
    expect(r.treatment.rate).toBeNull();
    expect(r.control.rate).toBeCloseTo(0.1, 12);
    expect(r.absoluteLift).toBeNull();
    expect(r.absoluteLiftCi95).toBeNull();
    expect(r.relativeLift).toBeNull();
    expect(r.incrementalConversions).toBeNull();
  });

  it('empty control arm → nulls', () => {
    const r = computeLift({ contacts: 100, conversions: 10 }, { contacts: 0, conversions: 0 });
    expect(r.control.rate).toBeNull();
    expect(r.absoluteLift).toBeNull();
    expect(r.absoluteLiftCi95).toBeNull();
    expect(r.relativeLift).toBeNull();
    expect(r.incrementalConversions).toBeNull();
  });

  it('zero control rate: absolute lift defined, relative lift null', () => {
    const r = computeLift({ contacts: 100, conversions: 4 }, { contacts: 50, conversions: 0 });
    expect(r.absoluteLift).toBeCloseTo(0.04, 12);
    expect(r.relativeLift).toBeNull();
    expect(r.incrementalConversions).toBeCloseTo(4, 9);
    const half = 1.959964 * Math.sqrt((0.04 * 0.96) / 100);
    expect(r.absoluteLiftCi95![0]).toBeCloseTo(0.04 - half, 6);
  });

  it('no conversions anywhere: zero lift with a zero-width interval', () => {
    const r = computeLift({ contacts: 10, conversions: 0 }, { contacts: 10, conversions: 0 });
    expect(r.absoluteLift).toBe(0);
    expect(r.absoluteLiftCi95).toEqual([0, 0]);
    expect(r.relativeLift).toBeNull();
  });
});

describe('roi', () => {
  it('(incremental value − cost) / cost', () => {
    expect(roi(16000, 50)).toBeCloseTo(319, 12); // 20 incremental conversions × 800 at 1000 × 0.05
    expect(roi(50, 100)).toBeCloseTo(-0.5, 12);
    expect(roi(100, 100)).toBe(0);
    expect(roi(-20, 10)).toBeCloseTo(-3, 12);
  });

  it('null without value or without cost', () => {
    expect(roi(null, 10)).toBeNull();
    expect(roi(100, 0)).toBeNull();
    expect(roi(100, -5)).toBeNull();
  });
});

describe('wilsonInterval', () => {
  it('56/70 by hand: centre (p + z²/2n)/(1 + z²/n), half z/(1 + z²/n)·sqrt(p(1−p)/n + z²/4n²)', () => {
    // p = 0.8, z² = 3.841459; denom = 1.054878; centre = (0.8 + 0.027439)/1.054878 = 0.784393;
    // half = 1.858000 · sqrt(0.0022857 + 0.00019599) = 0.092560 → [0.691834, 0.876953]
    const [lo, hi] = wilsonInterval(56, 70)!;
    expect(lo).toBeCloseTo(0.691834, 5);
    expect(hi).toBeCloseTo(0.876953, 5);
  });

  it('0 of n stays inside [0, 1] and is not degenerate; n = 0 has no interval', () => {
    const [lo, hi] = wilsonInterval(0, 10)!;
    expect(lo).toBe(0);
    // z²/(n + z²) = 3.841459 / 13.841459
    expect(hi).toBeCloseTo(0.277533, 5);
    expect(wilsonInterval(0, 0)).toBeNull();
  });
});

describe('newcombeInterval', () => {
  it('reproduces Newcombe (1998), Table II example (a): 56/70 − 48/80 → 0.0524 to 0.3339', () => {
    const [lo, hi] = newcombeInterval({ contacts: 70, conversions: 56 }, { contacts: 80, conversions: 48 })!;
    expect(lo).toBeCloseTo(0.0524, 4);
    expect(hi).toBeCloseTo(0.3339, 4);
  });

  it('is narrower on the side of a zero rate than Wald and never null for non-empty arms', () => {
    const r = computeLift({ contacts: 100, conversions: 4 }, { contacts: 50, conversions: 0 });
    const [lo, hi] = r.absoluteLiftNewcombeCi95!;
    // Wald with a zero control rate ignores the control arm's uncertainty: its lower bound is higher.
    expect(lo).toBeLessThan(r.absoluteLiftCi95![0]);
    expect(hi).toBeGreaterThan(0.04);
    expect(newcombeInterval({ contacts: 0, conversions: 0 }, { contacts: 5, conversions: 1 })).toBeNull();
  });
});

describe('relative lift interval (Katz log)', () => {
  it('120/1000 vs 100/1000 by hand: RR 1.2, SE(ln RR) = sqrt(1/120 − 1/1000 + 1/100 − 1/1000) = 0.127802', () => {
    const rr = katzRiskRatioInterval({ contacts: 1000, conversions: 120 }, { contacts: 1000, conversions: 100 })!;
    // 1.2 · exp(∓1.959964 · 0.127802) = 0.934106 … 1.541581
    expect(rr[0]).toBeCloseTo(0.934106, 5);
    expect(rr[1]).toBeCloseTo(1.541581, 5);
    const r = computeLift({ contacts: 1000, conversions: 120 }, { contacts: 1000, conversions: 100 });
    expect(r.relativeLiftCi95![0]).toBeCloseTo(-0.065894, 5);
    expect(r.relativeLiftCi95![1]).toBeCloseTo(0.541581, 5);
  });

  it('undefined when either arm has no conversions', () => {
    expect(computeLift({ contacts: 100, conversions: 4 }, { contacts: 50, conversions: 0 }).relativeLiftCi95).toBeNull();
    expect(computeLift({ contacts: 100, conversions: 0 }, { contacts: 50, conversions: 3 }).relativeLiftCi95).toBeNull();
  });
});

describe('qiniCurve', () => {
  const buckets = [
    // Deliberately out of order: buckets are targeted 1 first.
    { bucket: 2, treatment: { contacts: 10, conversions: 2 }, control: { contacts: 5, conversions: 1 } },
    { bucket: 1, treatment: { contacts: 10, conversions: 4 }, control: { contacts: 5, conversions: 1 } },
  ];

  it('hand-computed: uplift@k, Qini points and the coefficient', () => {
    const { curve, qiniCoefficient } = qiniCurve(buckets);
    // Top half: 4/10 − 1/5 = 0.2; Q = 4 − 1·10/5 = 2. All: 6/20 − 2/10 = 0.1; Q = 6 − 2·20/10 = 2.
    expect(curve.map((p) => p.share)).toEqual([0, 0.5, 1]);
    expect(curve[1]!.upliftAtK).toBeCloseTo(0.2, 12);
    expect(curve[2]!.upliftAtK).toBeCloseTo(0.1, 12);
    expect(curve.map((p) => p.qini)).toEqual([0, 2, 2]);
    // Area = 0.5·(0+2)/2 + 0.5·(2+2)/2 = 1.5; random diagonal = 2/2 = 1; (1.5 − 1) / 20 treated = 0.025.
    expect(qiniCoefficient).toBeCloseTo(0.025, 12);
  });

  it('a score that ranks responders last has a negative coefficient', () => {
    const reversed = buckets.map((b) => ({ ...b, bucket: 3 - b.bucket }));
    // Worst first: Q(0.5) = 2 − 1·10/5 = 0, Q(1) = 2: area 0.5·(0+0)/2 + 0.5·(0+2)/2 = 0.5; (0.5 − 1)/20 = −0.025.
    expect(qiniCurve(reversed).qiniCoefficient).toBeCloseTo(-0.025, 12);
  });

  it('null when a targeted prefix has treatment contacts but no control', () => {
    const r = qiniCurve([
      { bucket: 1, treatment: { contacts: 5, conversions: 1 }, control: { contacts: 0, conversions: 0 } },
      { bucket: 2, treatment: { contacts: 5, conversions: 1 }, control: { contacts: 5, conversions: 0 } },
    ]);
    expect(r.curve[1]!.qini).toBeNull();
    expect(r.curve[2]!.qini).toBeCloseTo(2, 12);
    expect(r.qiniCoefficient).toBeNull();
  });
});
