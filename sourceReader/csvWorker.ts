/**
 * Worker-thread entry of the parallel CSV ingest (csvParallel.ts): validates one unit of whole records at a time
 * (csvUnit.ts) and sends back its rows as COPY text.
 * Loaded as dist/sourceReader/csvWorker.js, or from this .ts file under ts-jest (see services/moduleWorker.ts).
 */
import { parentPort } from 'worker_threads';
import { csvUnitJob, validateUnit, type CsvUnitJob, type CsvUnitReply, type CsvWorkerInit } from './csvUnit';

export type { CsvUnitReply, CsvWorkerInit } from './csvUnit';

/** A job is one file being read; a thread is sent its init once, before its first unit, and told when it ends. */
export type CsvWorkerRequest = { init: { job: string; init: CsvWorkerInit } } | { unit: { id: number; job: string; bytes: Uint8Array } } | { forget: string };
/** A unit's reply, with the unit's bytes handed back. */
export type CsvUnitAnswer = CsvUnitReply & { input: Uint8Array };
export type CsvWorkerReply = { id: number; reply: CsvUnitAnswer } | { id: number; error: string };

const port = parentPort;
if (!port) throw new Error('csvWorker must run in a worker thread');
/** Jobs this thread was sent (several sources are read at once on one process-wide pool), with their key columns. */
const jobs = new Map<string, CsvUnitJob>();

port.on('message', (msg: CsvWorkerRequest) => {
  if ('init' in msg) {
    jobs.set(msg.init.job, csvUnitJob(msg.init.init));
    return;
  }
  if ('forget' in msg) {
    jobs.delete(msg.forget);
    return;
  }
  const { id, job, bytes } = msg.unit;
  let result: CsvWorkerReply;
  try {
    const j = jobs.get(job);
    if (!j) throw new Error(`csv worker has no job ${job}`);
    const reply = { ...validateUnit(j, bytes), input: bytes };
    result = { id, reply };
    // The unit's bytes go back too, for the reader to send its next unit in.
    port.postMessage(result, [reply.copy.buffer as ArrayBuffer, reply.rowOffsets.buffer as ArrayBuffer, reply.localRows.buffer as ArrayBuffer, bytes.buffer as ArrayBuffer]);
    return;
  } catch (err) {
    result = { id, error: (err as Error).message };
  }
  port.postMessage(result);
});
