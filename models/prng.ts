/**
 * Small seeded PRNG for the histogram forest: sfc32 seeded through splitmix32 from (seed, stream).
 * Integer maths only, so the sequence is identical on every platform and in every worker thread.
 */

export type Uniform = () => number;

function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [s, z >>> 0];
}

/** The sfc32 generator behind createUniform, for loops that draw many numbers (its state in fields, not a closure). */
export class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `stream` separates independent sequences (e.g. tree index). */
  constructor(seed: number, stream = 0) {
    let st = (Math.trunc(seed) ^ Math.imul(Math.trunc(stream) + 1, 0x27d4eb2d)) | 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitmix32(st);
      st = next;
      words.push(out);
    }
    this.a = words[0]! | 0;
    this.b = words[1]! | 0;
    this.c = words[2]! | 0;
    this.d = words[3]! | 0;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    const { a, b, c, d } = this;
    const t = (((a + b) | 0) + d) | 0;
    this.d = (d + 1) | 0;
    this.a = b ^ (b >>> 9);
    this.b = (c + (c << 3)) | 0;
    const c2 = (c << 21) | (c >>> 11);
    this.c = (c2 + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n) (the same number randInt draws). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Adds 1 to counts[int(n)] `draws` times: a bootstrap sample, with the generator kept in locals. */
  addDraws(counts: Int32Array, n: number, draws: number): void {
    let { a, b, c, d } = this;
    for (let k = 0; k < draws; k++) {
      const t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) | 0;
      counts[Math.floor(((t >>> 0) / 4294967296) * n)]!++;
    }
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
  }
}

/** Uniform in [0, 1) with 32 bits of resolution; `stream` separates independent sequences (e.g. tree index). */
export function createUniform(seed: number, stream = 0): Uniform {
  const g = new Sfc32(seed, stream);
  return () => g.next();
}

/** Uniform integer in [0, n). */
export function randInt(u: Uniform, n: number): number {
  return Math.floor(u() * n);
}

/** In-place Fisher-Yates shuffle. */
export function shuffleInPlace<T extends { length: number; [i: number]: number }>(arr: T, u: Uniform): T {
  for (let i = arr.length - 1; i > 0; i--) {
    const j = randInt(u, i + 1);
    const t = arr[i]!;
    arr[i] = arr[j]!;
    arr[j] = t;
  }
  return arr;
}
