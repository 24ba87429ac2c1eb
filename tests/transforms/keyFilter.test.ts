import path from 'node:path';
import { spawnModuleWorker } from '../../services/moduleWorker';
import { KeyFilter, keyFilterBits, keyHashes } from '../../transforms/keyFilter';

describe('KeyFilter', () => {
  it('reports every repeated key (no false negatives) and few false positives', () => {
    const filter = new KeyFilter(1 << 20);
    const n = 50_000;
    let falsePositives = 0;
    for (let i = 0; i < n; i++) if (filter.addAndCheck(`T${String(i).padStart(12, '0')}`)) falsePositives++;
    for (let i = 0; i < n; i += 7) expect(filter.addAndCheck(`T${String(i).padStart(12, '0')}`)).toBe(true);
    // ~21 bits per key, 6 probes in one 32-bit word: well under 1 % false positives.
    expect(falsePositives / n).toBeLessThan(0.01);
  });

  it('a batch of keys gets the answers it would get one key at a time, repeats inside the batch included', () => {
    const one = new KeyFilter(1 << 14);
    const batched = new KeyFilter(1 << 14);
    const hashes = new Int32Array(2 * 16);
    const seen = new Uint8Array(16);
    // Keys 0..2999 with every fifth repeating a key three places back, so some repeats fall in the same batch.
    const keys = Array.from({ length: 3000 }, (_, i) => `K${i % 5 === 4 ? i - 3 : i}`);
    const expected = keys.map((k) => one.addAndCheck(k));
    const got: boolean[] = [];
    for (let at = 0; at < keys.length; at += 16) {
      const n = Math.min(16, keys.length - at);
      for (let i = 0; i < n; i++) keyHashes(keys[at + i]!, hashes, 2 * i);
      batched.addBatchAndCheck(hashes, n, seen);
      for (let i = 0; i < n; i++) got.push(seen[i] === 1);
    }
    expect(got).toEqual(expected);
    expect(got.filter((x, i) => x && i % 5 === 4).length).toBe(600);
  });

  it('keys differing only in where a part ends are different keys', () => {
    const filter = new KeyFilter(1 << 16);
    expect(filter.addAndCheck('ab\u0000c')).toBe(false);
    expect(filter.addAndCheck('a\u0000bc')).toBe(false);
    expect(filter.addAndCheck('ab\u0000c')).toBe(true);
  });

  it('sizes the filter from the input size within fixed bounds', () => {
    expect(keyFilterBits(0)).toBe(1 << 19);
    expect(keyFilterBits(3_000_000_000)).toBe(1 << 29);
    expect(keyFilterBits(null)).toBe((1 << 20) * 16);
    expect(new KeyFilter(keyFilterBits(3_000_000_000)).bytes).toBe(64 << 20);
  });

  it('is one filter in every thread that opens its memory', () => {
    const filter = new KeyFilter(1 << 16);
    filter.addAndCheck('k1');
    const other = new KeyFilter(filter.shared);
    expect(other.addAndCheck('k1')).toBe(true);
    expect(other.addAndCheck('k2')).toBe(false);
    expect(filter.addAndCheck('k2')).toBe(true);
  });

  it('reports each key two threads add at the same time to at least one of them', async () => {
    // Both threads add the same keys in the same order, in step, so each key is added by both at nearly the same
    // moment: a key neither thread reports would be a repeat the duplicate check never sees.
    const filter = new KeyFilter(1 << 22);
    const sync = new SharedArrayBuffer(8);
    const n = 200_000;
    const helpers = path.join(__dirname, '..', 'helpers');
    const run = (thread: 0 | 1) =>
      new Promise<number[]>((resolve, reject) => {
        const worker = spawnModuleWorker(helpers, 'keyFilterWorker', path.join(helpers, 'keyFilterWorker.ts'));
        worker.once('message', (seen: number[]) => void worker.terminate().then(() => resolve(seen)));
        worker.once('error', reject);
        worker.postMessage({ filter: filter.shared, sync, thread, prefix: 'TXN', n });
      });
    const [first, second] = await Promise.all([run(0), run(1)]);
    const reported = new Set([...first, ...second]);
    let missed = 0;
    for (let i = 0; i < n; i++) if (!reported.has(i)) missed++;
    expect(missed).toBe(0);
    // Keys were added by both threads at once, not all by one before the other: neither reported (nearly) all.
    expect(Math.max(first.length, second.length)).toBeLessThan(0.9 * n);
  });
});
