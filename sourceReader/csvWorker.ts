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

export type CsvWorkerRequest = { init: CsvWorkerInit } | { unit: number; bytes: Uint8Array };

export interface CsvUnitReply {
  unit: number;
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
let init: CsvWorkerInit | null = null;
let keyIndex: number[] = [];

port.on('message', (msg: CsvWorkerRequest) => {
  if ('init' in msg) {
    init = msg.init;
    keyIndex = init.contract.primaryKey.map((k) => init!.contract.columns.findIndex((c) => c.name === k));
    return;
  }
  if (!init) throw new Error('csvWorker received a unit before its init');
  const reply = validateUnit(init, keyIndex, msg.unit, msg.bytes);
  port.postMessage(reply, [reply.copy.buffer as ArrayBuffer, reply.rowOffsets.buffer as ArrayBuffer, reply.localRows.buffer as ArrayBuffer, reply.hashes.buffer as ArrayBuffer, reply.keyEnds.buffer as ArrayBuffer]);
});

function validateUnit(job: CsvWorkerInit, keyIndex: readonly number[], unit: number, bytes: Uint8Array): CsvUnitReply {
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
  return { unit, clean, records: outcomes.length, lines: splitter.nextLine - 1, copy: out, rowOffsets, localRows, hashes, keyText: keys.join(''), keyEnds, rejects };
}
