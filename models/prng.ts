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

/** Uniform in [0, 1) with 32 bits of resolution; `stream` separates independent sequences (e.g. tree index). */
export function createUniform(seed: number, stream = 0): Uniform {
  let st = (Math.trunc(seed) ^ Math.imul(Math.trunc(stream) + 1, 0x27d4eb2d)) | 0;
  const words: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [next, out] = splitmix32(st);
    st = next;
    words.push(out);
  }
  let a = words[0]! | 0;
  let b = words[1]! | 0;
  let c = words[2]! | 0;
  let d = words[3]! | 0;
  const next = (): number => {
    a |= 0; b |= 0; c |= 0; d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
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
