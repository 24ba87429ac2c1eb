/** Worker-thread entry of transforms/cleanBatch.ts: answers each batch of landed records with its COPY csv. */
import { parentPort } from 'worker_threads';
import { cleanBatch, type CleanWorkerReply, type CleanWorkerRequest } from './cleanBatch';

const port = parentPort;
if (!port) throw new Error('cleanWorker must run in a worker thread');

port.on('message', ({ id, piiKey, rows }: CleanWorkerRequest) => {
  let reply: CleanWorkerReply;
  try {
    reply = { id, csv: cleanBatch(rows, piiKey) };
  } catch (err) {
    reply = { id, error: (err as Error).message };
  }
  port.postMessage(reply);
});
