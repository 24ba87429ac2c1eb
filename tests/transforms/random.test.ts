import { createRng, deriveSeed, hash128 } from '../../transforms/random';

describe('createRng', () => {
  it('repeats the same sequence for the same seed, and numeric seeds equal their string form', () => {
    const a = createRng(42);
    const b = createRng('42');
    const xs = Array.from({ length: 5 }, () => a.next());
    const ys = Array.from({ length: 5 }, () => b.next());
    expect(xs).toEqual(ys);
    expect(createRng(43).next()).not.toBe(xs[0]);
  });

  it('next() stays in [0, 1) with a mean near 0.5', () => {
    const rng = createRng('uniform');
    let sum = 0;
    let outside = 0; // counted, not expect()ed per draw: jest's expect is slow in hot loops
    for (let i = 0; i < 100_000; i++) {
      const x = rng.next();
      if (!(x >= 0 && x < 1)) outside++;
      sum += x;
    }
    expect(outside).toBe(0);
    expect(sum / 100_000).toBeCloseTo(0.5, 2);
  });

  it('int() covers both inclusive bounds and nothing outside', () => {
    const rng = createRng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(rng.int(3, 7)); // a Set, so no per-draw expect
    expect([...seen].sort()).toEqual([3, 4, 5, 6, 7]);
    expect(rng.int(5, 5)).toBe(5);
    expect(() => rng.int(5, 4)).toThrow(RangeError);
    expect(() => rng.int(0.5, 4)).toThrow(RangeError);
  });

  it('normal() and logNormal() have the requested moments', () => {
    const rng = createRng('normal');
    const n = 200_000;
    let sum = 0;
    let sq = 0;
    let logSum = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.normal(10, 2);
      sum += x;
      sq += x * x;
      logSum += Math.log(rng.logNormal(1, 0.5));
    }
    const mean = sum / n;
    expect(mean).toBeCloseTo(10, 1);
    expect(Math.sqrt(sq / n - mean * mean)).toBeCloseTo(2, 1);
    expect(logSum / n).toBeCloseTo(1, 1);
  });

  it('bernoulli() hits its probability and respects the 0 / 1 edges', () => {
    const rng = createRng(7);
    let hits = 0;
    for (let i = 0; i < 100_000; i++) if (rng.bernoulli(0.1)) hits++;
    expect(hits / 100_000).toBeGreaterThan(0.095);
    expect(hits / 100_000).toBeLessThan(0.105);
    let wrong = 0;
    for (let i = 0; i < 1000; i++) if (rng.bernoulli(0) || !rng.bernoulli(1)) wrong++;
    expect(wrong).toBe(0);
  });

  it('pick() and weighted() choose by (weighted) frequency and reject bad input', () => {
    const rng = createRng(9);
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 100_000; i++) counts[rng.weighted(['a', 'b', 'c'], [1, 0, 3])]! += 1;
    expect(counts.b).toBe(0);
    expect(counts.c! / counts.a!).toBeGreaterThan(2.8);
    expect(counts.c! / counts.a!).toBeLessThan(3.2);
    expect(['x', 'y']).toContain(rng.pick(['x', 'y']));
    expect(() => rng.pick([])).toThrow(RangeError);
    expect(() => rng.weighted(['a'], [1, 2])).toThrow(RangeError);
    expect(() => rng.weighted(['a', 'b'], [0, 0])).toThrow(RangeError);
  });

  it('poisson() has mean lambda for small and large lambda, and 0 for lambda <= 0', () => {
    const rng = createRng('poisson');
    for (const lambda of [0.5, 4, 80]) {
      let sum = 0;
      let invalid = 0;
      for (let i = 0; i < 50_000; i++) {
        const k = rng.poisson(lambda);
        if (!(Number.isInteger(k) && k >= 0)) invalid++;
        sum += k;
      }
      expect(invalid).toBe(0);
      expect(Math.abs(sum / 50_000 - lambda) / lambda).toBeLessThan(0.03);
    }
    expect(rng.poisson(0)).toBe(0);
    expect(rng.poisson(-1)).toBe(0);
  });
});

describe('deriveSeed / hash128', () => {
  it('is deterministic, 32 hex chars, and separates its parts', () => {
    expect(deriveSeed(1, 2)).toBe(deriveSeed(1, 2));
    expect(deriveSeed(1, 2)).toMatch(/^[0-9a-f]{32}$/);
    expect(deriveSeed(1, 2)).not.toBe(deriveSeed(1, 3));
    expect(deriveSeed(1, 2)).not.toBe(deriveSeed(2, 2));
    expect(deriveSeed(1, '1', '23')).not.toBe(deriveSeed(1, '12', '3'));
  });

  it('gives independent per-index streams regardless of the order they are created in', () => {
    const forward = [0, 1, 2].map((i) => createRng(deriveSeed(5, i)).next());
    const backward = [2, 1, 0].map((i) => createRng(deriveSeed(5, i)).next()).reverse();
    expect(forward).toEqual(backward);
    expect(new Set(forward).size).toBe(3);
  });

  it('hash128 returns four unsigned 32-bit words', () => {
    const h = hash128('abc');
    expect(h).toHaveLength(4);
    for (const w of h) expect(Number.isInteger(w) && w >= 0 && w < 2 ** 32).toBe(true);
    expect(hash128('abc')).toEqual(h);
    expect(hash128('abd')).not.toEqual(h);
  });
});
