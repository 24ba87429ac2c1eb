/**
 * Worker-thread entry of the histogram forest: receives the shared binned matrix once (workerData or an init
 * message), then builds
 * the trees it is asked for by index. Loaded as dist/models/forestWorker.js when compiled, or from this .ts file
 * through a TypeScript require hook when the caller runs from sources (ts-jest); see spawnTreeWorker in histForest.ts.
 */
import { parentPort, workerData } from 'worker_threads';
import { buildTree, warmUpTreeBuilder, type BinnedMatrix, type TreeParams } from './histTree';

export interface TreeWorkerData {
  binned: Uint8Array;
  y: Uint8Array;
  n: number;
  p: number;
  params: TreeParams;
  seed: number;
}

export type TreeWorkerRequest = { tree: number } | { init: TreeWorkerData } | { release: true } | { stop: true };

let data: TreeWorkerData | null = (workerData as TreeWorkerData | null) ?? null;
const port = parentPort;
if (!port) throw new Error('forestWorker must run in a worker thread');

// Compile the tree builder while the caller is still encoding and binning (messages wait until this returns).
warmUpTreeBuilder();

port.on('message', (msg: TreeWorkerRequest) => {
  if ('stop' in msg) {
    port.close();
    return;
  }
  if ('release' in msg) {
    // Back in the caller's pool: keep no reference to the last fit's matrix.
    data = null;
    return;
  }
  if ('init' in msg) {
    // The caller may start workers before the data is ready (overlapping start-up with binning).
    data = msg.init;
    return;
  }
  if (!data) throw new Error('forestWorker received a tree request before its data');
  const matrix: BinnedMatrix = { binned: data.binned, y: data.y, n: data.n, p: data.p };
  const t = buildTree(matrix, data.params, data.seed, msg.tree);
  const transfer = [t.feature, t.threshold, t.missingLeft, t.right, t.value, t.importance, t.oobRows, t.oobValues].map((a) => a.buffer as ArrayBuffer);
  port.postMessage({ tree: msg.tree, built: t }, transfer);
});
