/**
 * Worker-thread entry of the parallel CSV ingest (csvParallel.ts): decodes, splits and validates one unit of whole
 * records at a time and encodes its loaded rows as COPY text. Rows are numbered from 1 within the unit; the row
 * number field is left as zeros at recorded offsets for the caller, which alone knows the unit's first row.
 * Loaded as dist/sourceReader/csvWorker.js, or from this .ts file under ts-jest (see services/moduleWorker.ts).
 */
import { parentPort } from 'worker_threads';
import type { SourceContract } from '../config/sources';
import { CsvRecordSplitter, type CsvItem } from '../transforms/csvRecords';
import { keyHashes, keyOf } from '../transforms/keyFilter';
import type { RowContext } from '../transforms/validateRow';
import { CsvCopyBuffer } from '../transforms/copyText';
import { RecordClassifier, type RowOutcome } from '../transforms/recordClassifier';

export interface CsvWorkerInit {
  contract: SourceContract;
  header: string[];
  order: number[] | null;
  charset: string;
  context: RowContext;
  /** COPY text before each row's number: the run id column and a comma. */
  prefix: Uint8Array;
  rowNumberWidth: number;
  maxRecordChars: number;
}

/** A job is one file being read; a thread is sent its init once, before its first unit, and told when it ends. */
export type CsvWorkerRequest = { init: { job: string; init: CsvWorkerInit } } | { unit: { id: number; job: string; bytes: Uint8Array } } | { forget: string };
export type CsvWorkerReply = { id: number; reply: CsvUnitReply } | { id: number; error: string };

export interface CsvUnitReply {
  /** False when the unit must be read again in the activity thread (see validateUnit); the rest is then unused. */
  clean: boolean;
  /** Data rows (records and unreadable records) in the unit. */
  records: number;
  /** Physical lines in the unit. */
  lines: number;
  copy: Uint8Array;
  /** Per loaded row: offset of its row number field in `copy`, and its row number within the unit. */
  rowOffsets: Int32Array;
  localRows: Int32Array;
  /** Primary keys of the loaded rows: two hashes each, and the keys' text back to back (key j ends at keyEnds[j]). */
  hashes: Int32Array;
  keyText: string;
  keyEnds: Int32Array;
  /** Quarantined rows, numbered within the unit; messages cite lines within the unit. */
  rejects: Extract<RowOutcome, { ok: false }>[];
}

const port = parentPort;
if (!port) throw new Error('csvWorker must run in a worker thread');
/** Jobs this thread was sent (several sources are read at once on one process-wide pool), with their key columns. */
const jobs = new Map<string, { init: CsvWorkerInit; keyIndex: number[] }>();

port.on('message', (msg: CsvWorkerRequest) => {
  if ('init' in msg) {
    const { init } = msg.init;
    jobs.set(msg.init.job, { init, keyIndex: init.contract.primaryKey.map((k) => init.contract.columns.findIndex((c) => c.name === k)) });
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
    const reply = validateUnit(j.init, j.keyIndex, bytes);
    result = { id, reply };
    port.postMessage(result, [reply.copy.buffer as ArrayBuffer, reply.rowOffsets.buffer as ArrayBuffer, reply.localRows.buffer as ArrayBuffer, reply.hashes.buffer as ArrayBuffer, reply.keyEnds.buffer as ArrayBuffer]);
    return;
  } catch (err) {
    result = { id, error: (err as Error).message };
  }
  port.postMessage(result);
});

function validateUnit(job: CsvWorkerInit, keyIndex: readonly number[], bytes: Uint8Array): CsvUnitReply {
  // A unit starts at a record boundary inside the file: a byte-order mark there is data, not a marker.
  const text = new TextDecoder(job.charset, { fatal: false, ignoreBOM: true }).decode(bytes);
  const { delimiter, quote } = job.contract.csv;
  const splitter = new CsvRecordSplitter({ delimiter, quote, maxRecordChars: job.maxRecordChars });
  const items: CsvItem[] = [];
  splitter.push(text, items);
  const clean = splitter.endsCleanly;
  splitter.end(items);
  const outcomes: RowOutcome[] = [];
  new RecordClassifier(job.contract, job.header, job.order, job.charset, job.context).classify(items, text.includes('\uFFFD'), outcomes);

  const prefix = Buffer.from(job.prefix.buffer, job.prefix.byteOffset, job.prefix.byteLength);
  const copy = new CsvCopyBuffer(Math.max(1 << 16, Math.ceil(bytes.length * 1.5)));
  const loaded = outcomes.filter((o) => o.ok).length;
  const rowOffsets = new Int32Array(loaded);
  const localRows = new Int32Array(loaded);
  const hashes = new Int32Array(2 * loaded);
  const keyEnds = new Int32Array(loaded);
  const keys: string[] = [];
  const rejects: Extract<RowOutcome, { ok: false }>[] = [];
  let k = 0;
  let keyLength = 0;
  for (const o of outcomes) {
    if (!o.ok) {
      rejects.push(o);
      continue;
    }
    rowOffsets[k] = copy.numberedRow(prefix, job.rowNumberWidth, o.copyLine, o.values);
    localRows[k] = o.rowNumber;
    const key = keyOf(o.values, keyIndex);
    keyHashes(key, hashes, 2 * k);
    keys.push(key);
    keyLength += key.length;
    keyEnds[k] = keyLength;
    k++;
  }
  // A copy of exactly the bytes written, so the whole buffer can be transferred.
  const out = new Uint8Array(copy.bytes);
  return { clean, records: outcomes.length, lines: splitter.nextLine - 1, copy: out, rowOffsets, localRows, hashes, keyText: keys.join(''), keyEnds, rejects };
}
