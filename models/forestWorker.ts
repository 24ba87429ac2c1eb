/**
 * Worker-thread entry of the histogram forest. A build request carries the shared binned matrix and a shared tree
 * counter: the worker takes the next tree index from the counter until none is left (the caller's thread takes
 * from the same counter), posts each tree as it is built, then posts `done`. No request is answered while a build
 * runs, and the worker keeps no reference to the matrix afterwards, so it can go back to the caller's pool.
 * Loaded as dist/models/forestWorker.js when compiled, or from this .ts file through a TypeScript require hook when
 * the caller runs from sources (ts-jest); see spawnTreeWorker in histForest.ts.
 */
import { parentPort, receiveMessageOnPort } from 'worker_threads';
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

/** Most warm-up trees a new worker builds while no request has arrived (about 7 ms each once compiled). */
const WARM_UP_TREES = 30;

const port = parentPort;
if (!port) throw new Error('forestWorker must run in a worker thread');

function build(msg: TreeWorkerRequest): void {
  const job = msg.build;
  const matrix = { binned: job.binned, y: job.y, n: job.n, p: job.p };
  for (let i = Atomics.add(job.next, 0, 1); i < job.trees; i = Atomics.add(job.next, 0, 1)) {
    const reply: TreeWorkerReply = { tree: i, built: buildTree(matrix, job.params, job.seed, i) };
    // Copied, not transferred: a tree is tens of kilobytes, and the first buffer a thread detaches makes V8 drop
    // an assumption its compiled typed-array loops rely on, which measured 10-20 % slower tree building after.
    port!.postMessage(reply);
  }
  const done: TreeWorkerReply = { done: true };
  port!.postMessage(done);
}

// Compile the tree builder while the caller is still encoding and binning: warm-up trees until the first request
// is waiting (checked between trees), so a longer preparation buys a better-compiled builder at no cost.
let first: TreeWorkerRequest | undefined;
warmUpTreeBuilder(() => {
  const m = receiveMessageOnPort(port);
  if (m) first = m.message as TreeWorkerRequest;
  return first !== undefined;
}, WARM_UP_TREES);
port.on('message', build);
if (first) build(first);
