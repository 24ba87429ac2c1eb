/**
 * Test worker thread: opens the key filter it is sent and adds keys `${prefix}${i}` for i in [0, n), in step with
 * the other thread of the test (`sync`: each thread's next key; a thread waits until the other has reached its key),
 * and answers with the keys the filter reported as seen before.
 */
import { parentPort } from 'worker_threads';
import { KeyFilter } from '../../transforms/keyFilter';

parentPort!.once('message', (msg: { filter: SharedArrayBuffer; sync: SharedArrayBuffer; thread: 0 | 1; prefix: string; n: number }) => {
  const filter = new KeyFilter(msg.filter);
  const sync = new Int32Array(msg.sync);
  const other = 1 - msg.thread;
  const seen: number[] = [];
  for (let i = 0; i < msg.n; i++) {
    const key = `${msg.prefix}${i}`;
    Atomics.store(sync, msg.thread, i);
    while (Atomics.load(sync, other) < i);
    if (filter.addAndCheck(key)) seen.push(i);
  }
  Atomics.store(sync, msg.thread, msg.n);
  parentPort!.postMessage(seen);
});
