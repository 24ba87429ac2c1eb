/**
 * Bloom filter over string keys, used while a source streams in to find the few keys that may repeat. Fixed size
 * whatever the input: more keys only raise the false-positive rate, and a false positive only makes a key a
 * candidate that SQL then checks exactly. All probes of a key fall in one 32-bit word, set by one atomic OR, so
 * the ingest worker threads share one filter (a SharedArrayBuffer): of two threads adding the same key at once,
 * the later OR sees every bit of the earlier one, so a repeat is reported whatever the interleaving. One word is
 * also one memory miss per key.
 */
const PROBES = 6;

export class KeyFilter {
  private readonly words: Int32Array;
  private readonly wordMask: number;
  private touched = 0;

  /** `bits` is rounded up to a power of two, at least 32; or the memory of another thread's filter. */
  constructor(bits: number | SharedArrayBuffer) {
    if (typeof bits === 'number') {
      let words = 1;
      while (words * 32 < bits && words < 1 << 26) words *= 2;
      bits = new SharedArrayBuffer(words * 4);
    }
    this.words = new Int32Array(bits);
    this.wordMask = this.words.length - 1;
    if ((this.words.length & this.wordMask) !== 0) throw new Error(`KeyFilter: ${this.words.length} words is not a power of two`);
  }

  /** Size in bytes. */
  get bytes(): number {
    return this.words.byteLength;
  }

  /** The filter's memory, to open the same filter in another thread. */
  get shared(): SharedArrayBuffer {
    return this.words.buffer as SharedArrayBuffer;
  }

  /**
   * addHashesAndCheck of `count` keys in order (hashes h1, h2 at [2i], [2i + 1]); seen[i] = 1 when key i may have
   * been added before. Their words are read first: an atomic OR waits for its miss before the next one starts, plain
   * loads do not, so the misses of a batch overlap and the ORs find their words in cache (2 threads on a 64 MB
   * filter: about half the time per key).
   */
  addBatchAndCheck(hashes: Int32Array, count: number, seen: Uint8Array): void {
    const words = this.words;
    const wordMask = this.wordMask;
    let touched = 0;
    for (let i = 0; i < count; i++) touched |= words[hashes[2 * i]! & wordMask]!;
    // Kept so the loads are not optimized away.
    this.touched = touched;
    for (let i = 0; i < count; i++) seen[i] = this.addHashesAndCheck(hashes[2 * i]!, hashes[2 * i + 1]!) ? 1 : 0;
  }

  /** Adds the key; returns true when it may have been added before (always true for a real repeat). */
  addAndCheck(key: string): boolean {
    keyHashes(key, scratch, 0);
    return this.addHashesAndCheck(scratch[0]!, scratch[1]!);
  }

  /** Same for a key hashed by keyHashes or keyHashesOfBytes. */
  addHashesAndCheck(h1: number, h2: number): boolean {
    let mask = 0;
    for (let j = 0; j < PROBES; j++) mask |= 1 << ((h2 >>> (5 * j)) & 31);
    return (Atomics.or(this.words, h1 & this.wordMask, mask) & mask) === mask;
  }
}

const scratch = new Int32Array(2);

/** Writes the key's two 32-bit hashes at out[at], out[at + 1]. */
export function keyHashes(key: string, out: Int32Array, at: number): void {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
  }
  out[at] = fmix32(h1);
  out[at + 1] = fmix32(h2 ^ key.length);
}

/** keyHashes of a key given as one-byte characters: bytes[from, to) (ASCII text, separators included). */
export function keyHashesOfBytes(bytes: Uint8Array, from: number, to: number, out: Int32Array, at: number): void {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  for (let i = from; i < to; i++) {
    const c = bytes[i]!;
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
  }
  out[at] = fmix32(h1);
  out[at + 1] = fmix32(h2 ^ (to - from));
}

/** NULL part of a key (a value never holds it). */
export const NULL_KEY_PART = '\u0001';
/** Separates the parts of a composite key. */
export const KEY_PART_SEPARATOR = '\u0000';

/** The text key of a row: its primary-key values (at `index`) joined by KEY_PART_SEPARATOR. */
export function keyOf(values: readonly (string | null)[], index: readonly number[]): string {
  let key = values[index[0]!] ?? NULL_KEY_PART;
  for (let j = 1; j < index.length; j++) key += KEY_PART_SEPARATOR + (values[index[j]!] ?? NULL_KEY_PART);
  return key;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Filter bits for an input of about `bytes` bytes: ~16 bits per expected row of >= 32 bytes, 64 KiB to 64 MiB. */
export function keyFilterBits(bytes: number | null): number {
  const rows = bytes === null ? 1 << 20 : Math.ceil(bytes / 32);
  return Math.min(1 << 29, Math.max(1 << 19, rows * 16));
}
