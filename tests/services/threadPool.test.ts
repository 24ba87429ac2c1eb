import { Worker } from 'node:worker_threads';
import { ThreadPool, type PoolOutcome } from '../../services/threadPool';

// Echoes each request with the setup its thread holds: setup messages set it, requests read it.
const ECHO = `
const { parentPort } = require('node:worker_threads');
let setup = null;
parentPort.on('message', (m) => {
  if ('setup' in m) { setup = m.setup; return; }
  parentPort.postMessage({ id: m.id, value: m.value, setup });
});`;

const decode = (reply: unknown): PoolOutcome<{ value: number; setup: string | null }> => {
  const r = reply as { id: number; value: number; setup: string | null };
  return { id: r.id, result: { value: r.value, setup: r.setup } };
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ThreadPool idle stop', () => {
  it('stops its threads once idle for idleMs, and starts new ones, sent their setup again, on the next request', async () => {
    let spawned = 0;
    const pool = new ThreadPool(2, () => (spawned++, new Worker(ECHO, { eval: true })), decode, 'echo', 100);
    const ask = (value: number) => pool.request((id) => ({ message: { id, value } }), { key: 'job', message: { setup: 'context' } });
    try {
      expect(await Promise.all([ask(1), ask(2), ask(3)])).toEqual([1, 2, 3].map((value) => ({ value, setup: 'context' })));
      expect(pool.threadCount).toBe(2);
      await sleep(400);
      expect(pool.threadCount).toBe(0);
      expect(await ask(4)).toEqual({ value: 4, setup: 'context' });
      expect(spawned).toBe(4);
    } finally {
      await pool.close();
    }
  });

  it('keeps its threads while requests keep coming, and without idleMs', async () => {
    const pool = new ThreadPool(1, () => new Worker(ECHO, { eval: true }), decode, 'echo', 300);
    const keep = new ThreadPool(1, () => new Worker(ECHO, { eval: true }), decode, 'echo');
    const ask = (p: ThreadPool<{ value: number; setup: string | null }>, value: number) => p.request((id) => ({ message: { id, value } }));
    try {
      for (let i = 0; i < 6; i++) {
        await ask(pool, i);
        await ask(keep, i);
        await sleep(100);
      }
      expect(pool.threadCount).toBe(1);
      await sleep(600);
      expect(pool.threadCount).toBe(0);
      expect(keep.threadCount).toBe(1);
    } finally {
      await pool.close();
      await keep.close();
    }
  });
});
