import { computeLift, roi } from '../../transforms/lift';

describe('computeLift', () => {
  it('hand-computed example: 120/1000 vs 100/1000', () => {
    const r = computeLift({ contacts: 1000, conversions: 120 }, { contacts: 1000, conversions: 100 });
    expect(r.treatment).toEqual({ contacts: 1000, conversions: 120, rate: 0.12 });
    expect(r.control).toEqual({ contacts: 1000, conversions: 100, rate: 0.1 });
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
