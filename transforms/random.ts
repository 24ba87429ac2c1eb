/**
 * Seeded pseudo-random numbers: sfc32 state seeded from a cyrb128 hash of a string.
 * Pure and deterministic: the same seed gives the same sequence on every platform (integer maths only,
 * plus Math.log/exp/sqrt/cos which V8 implements with portable fdlibm ports).
 */

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [minIncl, maxIncl]. */
  int(minIncl: number, maxIncl: number): number;
  /** Gaussian with the given mean and standard deviation. */
  normal(mean: number, sd: number): number;
  /** exp(N(mu, sigma)): mu and sigma are on the log scale. */
  logNormal(mu: number, sigma: number): number;
  /** true with probability p (p <= 0 never, p >= 1 always). */
  bernoulli(p: number): boolean;
  /** One element, uniformly. Throws on an empty array. */
  pick<T>(arr: readonly T[]): T;
  /** One element with probability proportional to its (non-negative) weight. */
  weighted<T>(items: readonly T[], weights: readonly number[]): T;
  /** Poisson-distributed count with mean lambda (normal approximation above 30). */
  poisson(lambda: number): number;
}

/** 128-bit string hash (cyrb128) as four unsigned 32-bit words. */
export function hash128(str: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

/**
 * A seed for an independent sub-stream, e.g. deriveSeed(seed, 'customer', 17). The result depends only
 * on the arguments, so per-entity streams do not depend on the order in which entities are generated.
 */
export function deriveSeed(seed: number | string, ...parts: Array<string | number>): string {
  // U+241F (symbol for unit separator) keeps ('1','23') and ('12','3') apart.
  const h = hash128(`${seed}\u241f${parts.join('\u241f')}`);
  return hex8(h[0]) + hex8(h[1]) + hex8(h[2]) + hex8(h[3]);
}

class Sfc32 implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | null = null;

  constructor(seed: string) {
    const [a, b, c, d] = hash128(seed);
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
    // sfc32's authors recommend discarding the first outputs so weakly mixed seeds diverge.
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  private nextUint32(): number {
    let t = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    t = (t + this.d) | 0;
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  next(): number {
    return this.nextUint32() / 4294967296;
  }

  int(minIncl: number, maxIncl: number): number {
    if (!Number.isInteger(minIncl) || !Number.isInteger(maxIncl) || maxIncl < minIncl) {
      throw new RangeError(`int(${minIncl}, ${maxIncl}): bounds must be integers with min <= max`);
    }
    return minIncl + Math.floor(this.next() * (maxIncl - minIncl + 1));
  }

  normal(mean: number, sd: number): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + sd * z;
    }
    // Box-Muller; 1 - next() is in (0, 1] so the log is finite.
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * v;
    this.spareNormal = r * Math.sin(theta);
    return mean + sd * r * Math.cos(theta);
  }

  logNormal(mu: number, sigma: number): number {
    return Math.exp(this.normal(mu, sigma));
  }

  bernoulli(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(arr: readonly T[]): T {
    if (arr.length === 0) throw new RangeError('pick() from an empty array');
    return arr[Math.floor(this.next() * arr.length)] as T;
  }

  weighted<T>(items: readonly T[], weights: readonly number[]): T {
    if (items.length === 0 || items.length !== weights.length) {
      throw new RangeError(`weighted(): ${items.length} items but ${weights.length} weights`);
    }
    let total = 0;
    for (const w of weights) total += w > 0 ? w : 0;
    if (!(total > 0)) throw new RangeError('weighted(): weights must have a positive sum');
    let r = this.next() * total;
    for (let i = 0; i < items.length; i++) {
      const w = weights[i] as number;
      if (w <= 0) continue;
      if (r < w) return items[i] as T;
      r -= w;
    }
    // Rounding can leave r a hair above the last weight: return the last positive-weight item.
    for (let i = items.length - 1; i >= 0; i--) if ((weights[i] as number) > 0) return items[i] as T;
    return items[items.length - 1] as T;
  }

  poisson(lambda: number): number {
    if (!(lambda > 0)) return 0;
    if (lambda < 30) {
      // Knuth: multiply uniforms until the product drops below e^-lambda.
      const limit = Math.exp(-lambda);
      let k = 0;
      let p = this.next();
      while (p > limit) {
        k++;
        p *= this.next();
      }
      return k;
    }
    return Math.max(0, Math.round(this.normal(lambda, Math.sqrt(lambda))));
  }
}

/** A seeded generator; numeric seeds are hashed as their decimal string (createRng(7) ≡ createRng('7')). */
export function createRng(seed: number | string): Rng {
  return new Sfc32(String(seed));
}
