/**
 * Worker-thread entry of the histogram forest. A build request carries the shared binned matrix and a shared tree
 * counter: the worker takes the next tree index from the counter until none is left (the caller's thread takes
 * from the same counter), posts each tree as it is built, then posts `done`. No request is answered while a build
 * runs, and the worker keeps no reference to the matrix afterwards, so it can go back to the caller's pool.
 * Loaded as dist/models/forestWorker.js when compiled, or from this .ts file through a TypeScript require hook when
 * the caller runs from sources (ts-jest); see spawnTreeWorker in histForest.ts.
 */
import { parentPort } from 'worker_threads';
import { buildTree, warmUpTreeBuilder, type BuiltTree, type TreeParams } from './histTree';

export interface TreeBuildJob {
  binned: Uint8Array;
  y: Uint8Array;
  n: number;
  p: number;
  params: TreeParams;
  seed: number;
  trees: number;
  /** Shared counter (SharedArrayBuffer): Atomics.add(next, 0, 1) hands out tree indices. */
  next: Int32Array;
}

export type TreeWorkerRequest = { build: TreeBuildJob };
export type TreeWorkerReply = { tree: number; built: BuiltTree } | { done: true };

const port = parentPort;
if (!port) throw new Error('forestWorker must run in a worker thread');

// Compile the tree builder while the caller is still encoding and binning (messages wait until this returns).
warmUpTreeBuilder();

port.on('message', (msg: TreeWorkerRequest) => {
  const job = msg.build;
  const matrix = { binned: job.binned, y: job.y, n: job.n, p: job.p };
  for (let i = Atomics.add(job.next, 0, 1); i < job.trees; i = Atomics.add(job.next, 0, 1)) {
    const t = buildTree(matrix, job.params, job.seed, i);
    const transfer = [t.feature, t.threshold, t.missingLeft, t.right, t.value, t.importance, t.oobRows, t.oobValues].map((a) => a.buffer as ArrayBuffer);
    const reply: TreeWorkerReply = { tree: i, built: t };
    port.postMessage(reply, transfer);
  }
  const done: TreeWorkerReply = { done: true };
  port.postMessage(done);
});
