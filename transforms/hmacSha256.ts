/**
 * HMAC-SHA256 (RFC 2104, FIPS 180-4) for many short messages under one key. The key's inner and outer pads are
 * compressed once and kept, so a message shorter than 56 bytes costs two compressions and no allocation but its
 * hex. node:crypto's createHmac sets the key up again for every call and builds a native object each time: at 1M
 * customers (5.4M keyed hashes) its constructor was a third of the clean workers' time (docs/PERFORMANCE.md);
 * @noble/hashes measured twice node:crypto's time on these messages. tests/transforms/hmacSha256.test.ts checks it
 * against node:crypto on every length from 0 to 300 bytes and on multi-byte text.
 */
import { createHash } from 'node:crypto';

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const INITIAL = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
const BLOCK = 64;
const HEX_DIGITS = Uint8Array.from(Buffer.from('0123456789abcdef', 'latin1'));

const w = new Int32Array(64);

/** One SHA-256 compression of the 64 bytes at `block[offset]` into `state`. */
function compress(state: Int32Array, block: Uint8Array, offset: number): void {
  for (let i = 0; i < 16; i++) {
    const j = offset + 4 * i;
    w[i] = (block[j]! << 24) | (block[j + 1]! << 16) | (block[j + 2]! << 8) | block[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15]!;
    const b = w[i - 2]!;
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!, e = state[4]!, f = state[5]!, g = state[6]!, h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

/** Pads `data[0..length)` (a message of `prefixBytes + length` bytes in all) and compresses it into `state`. */
function finish(state: Int32Array, data: Uint8Array, length: number, prefixBytes: number): void {
  let offset = 0;
  for (; length - offset >= BLOCK; offset += BLOCK) compress(state, data, offset);
  // The padding is written after the data in the same buffer, which has room for two blocks beyond any message.
  const tail = length - offset < 56 ? BLOCK : 2 * BLOCK;
  const end = offset + tail;
  data.fill(0, length, end);
  data[length] = 0x80;
  const bits = (prefixBytes + length) * 8;
  data[end - 5] = Math.floor(bits / 2 ** 32) & 0xff;
  data[end - 4] = bits >>> 24;
  data[end - 3] = (bits >>> 16) & 0xff;
  data[end - 2] = (bits >>> 8) & 0xff;
  data[end - 1] = bits & 0xff;
  compress(state, data, offset);
  if (tail === 2 * BLOCK) compress(state, data, offset + BLOCK);
}

/** Keyed hashing of many messages with one key; not safe to share between threads (one scratch buffer). */
export class HmacSha256 {
  private readonly inner = new Int32Array(8);
  private readonly outer = new Int32Array(8);
  private readonly state = new Int32Array(8);
  private scratch = Buffer.alloc(512);
  private readonly digestBlock = new Uint8Array(3 * BLOCK);
  private readonly hexOut = Buffer.alloc(64);

  constructor(key: string | Uint8Array) {
    let k: Uint8Array = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
    if (k.length > BLOCK) k = createHash('sha256').update(k).digest();
    const pad = new Uint8Array(BLOCK);
    for (const [state, byte] of [[this.inner, 0x36], [this.outer, 0x5c]] as const) {
      pad.fill(byte);
      for (let i = 0; i < k.length; i++) pad[i] = k[i]! ^ byte;
      state.set(INITIAL);
      compress(state, pad, 0);
    }
  }

  /** The first `words` 32-bit words (at most 8) of HMAC-SHA256(key, message as UTF-8), as lower-case hex. */
  hex(message: string, words = 8): string {
    // UTF-8 takes at most 3 bytes per UTF-16 unit; two more blocks hold the padding.
    const need = 3 * message.length + 2 * BLOCK;
    if (this.scratch.length < need) this.scratch = Buffer.alloc(2 * need);
    const length = this.scratch.write(message, 0, 'utf8');
    const state = this.state;
    state.set(this.inner);
    finish(state, this.scratch, length, BLOCK);
    const block = this.digestBlock;
    for (let i = 0; i < 8; i++) {
      const v = state[i]!;
      block[4 * i] = v >>> 24;
      block[4 * i + 1] = (v >>> 16) & 0xff;
      block[4 * i + 2] = (v >>> 8) & 0xff;
      block[4 * i + 3] = v & 0xff;
    }
    state.set(this.outer);
    finish(state, block, 32, BLOCK);
    const hex = this.hexOut;
    for (let i = 0; i < words; i++) {
      const v = state[i]!;
      for (let s = 28, j = 8 * i; s >= 0; s -= 4, j++) hex[j] = HEX_DIGITS[(v >>> s) & 15]!;
    }
    return hex.toString('latin1', 0, 8 * words);
  }
}
