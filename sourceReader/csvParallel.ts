/**
 * Parallel read of a CSV source for COPY. This thread reads the file, hashes it and cuts it into units of whole
 * records: at a line break outside quotes (an even number of quote bytes since the last cut). Worker threads
 * (csvWorker.ts) decode, split and validate units and encode their rows as COPY text; this thread puts the
 * replies back in file order, numbers rows and lines, and hands them on. Units are cut on bytes, which is safe
 * for encodings where a line break or quote byte is never part of another character (UTF-8, GBK, GB18030).
 * The first unit (header) is read in this thread. From a unit a worker reports it could not read the way the
 * serial reader would (cut inside a record by broken quoting, or a record over the length limit), or when no cut
 * point turns up within FALLBACK_BYTES (an unclosed quote, a huge line), the rest of the file is read in this
 * thread, in the serial reader's pieces and with bounded memory, so the outcome never depends on the workers.
 */
import { availableParallelism } from 'node:os';
import type { SourceContract } from '../config/sources';
import { CsvRecordSplitter, type CsvItem } from '../transforms/csvRecords';
import { spawnModuleWorker } from '../services/moduleWorker';
import { ThreadPool, type PoolOutcome } from '../services/threadPool';
import type { CsvUnitAnswer, CsvUnitReply, CsvWorkerInit, CsvWorkerReply, CsvWorkerRequest } from './csvWorker';
import { describeCsvSource, MAX_RECORD_CHARS, SourceReadError, type RowOutcome } from '../transforms/recordClassifier';
import { assertSourceFile, ChunkReader, classifyCsvItems, initialCsvState, READ_CHUNK, readCsvSerially, type CsvSource, type SourceRowsInput } from './sourceRows';

/** Loaded rows of one unit, ready for COPY, and its quarantined rows (numbered in the file). */
export interface CsvUnitRows {
  kind: 'unit';
  copy: Uint8Array;
  loaded: number;
  rejects: Extract<RowOutcome, { ok: false }>[];
  /** Primary keys of loaded rows that the source's shared key filter had seen before (maybe repeats). */
  keyCandidates: string[];
}

/** Size of a unit buffer: a read chunk and the partial line before it, in all but rare files. */
const UNIT_BUFFER_BYTES = READ_CHUNK + (READ_CHUNK >> 3);
/** Unit buffers kept per file: about the units in flight. */
const MAX_SPARE_BUFFERS = 32;

/**
 * Bytes read but not yet handed out as units, in one buffer reused for the whole file. New memory outside the JS
 * heap (ArrayBuffers) counts towards a full collection of the thread that allocates it; with a read buffer, a joined
 * buffer and a sent copy per chunk this thread allocated ~4 bytes per byte of input (1M customers: 225 full
 * collections, ~28 s of CPU). Now the read buffers, this buffer and the unit buffers are reused.
 */
class PendingBytes {
  private buf = Buffer.allocUnsafeSlow(2 * READ_CHUNK);
  length = 0;

  /** The pending bytes (a view, valid until the next append or drop). */
  get bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  append(chunk: Uint8Array): void {
    if (this.length + chunk.length > this.buf.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, this.length + chunk.length));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    this.buf.set(chunk, this.length);
    this.length += chunk.length;
  }

  /** Drops the first n bytes. */
  drop(n: number): void {
    this.buf.copyWithin(0, n, this.length);
    this.length -= n;
  }
}

/** Bytes without a cut point after which the rest of the file is read in this thread. */
const FALLBACK_BYTES = 16 << 20;
/** Digits of the row number field (leading zeros are fine for bigint). */
const ROW_NUMBER_WIDTH = 12;
const BYTE_SAFE_CHARSETS = new Set(['utf-8', 'utf8', 'gbk', 'gb18030']);

/** Whether a source can be read by readCsvParallel: a CSV with one-byte ASCII delimiter and quote in a byte-safe charset. */
export function parallelReadable(contract: SourceContract, charset: string): boolean {
  const { delimiter, quote } = contract.csv;
  const ascii = (c: string) => c.length === 1 && c.charCodeAt(0) < 0x80 && c !== '\n' && c !== '\r';
  return contract.format === 'csv' && BYTE_SAFE_CHARSETS.has(charset.toLowerCase()) && ascii(delimiter) && ascii(quote);
}

/**
 * Worker threads for ingest: PORTRAIT_INGEST_WORKERS, else one per CPU (at most 8). The activity thread only
 * reads, orders and writes (about half busy), so on 2 CPUs 2 workers beat 1: 1M customers' transactions
 * (27.9M rows) loaded in 77.2 s with 2 workers against 102.1 s with 1, minutes apart (psql: 41.7 s both times).
 */
export function ingestWorkerCount(configured: number | undefined): number {
  return configured ?? Math.min(8, Math.max(1, availableParallelism()));
}

/** How a file was read: units validated by workers, and the byte offset from which it was read serially (if). */
export interface ParallelReadStats {
  units: number;
  serialFrom: number | null;
  /** Rows of worker units that passed the byte check (transforms/canonicalRecord.ts) and were copied as they are. */
  canonicalRows?: number;
}

/**
 * Yields units of COPY-ready rows (from the workers) and batches of row outcomes (read in this thread), in file
 * order, rows numbered 1.. across both; the result is the same as readSourceRows'. A unit a worker could not read
 * the way the serial reader would (see csvWorker) is read again here, with everything after it. The threads are
 * the process's (shared by the files read at once); they drop this file's context when the generator ends, also early.
 */
export async function* readCsvParallel(input: SourceRowsInput & { workers: number; keyFilter: SharedArrayBuffer; stats?: ParallelReadStats }): AsyncGenerator<CsvUnitRows | RowOutcome[]> {
  const stats = input.stats ?? { units: 0, serialFrom: null };
  const { contract, file, context } = input;
  const charset = input.encoding ?? contract.csv.encoding;
  const src: CsvSource = { contract, charset, context, where: describeCsvSource(contract, file, charset) };
  const { where } = src;
  const { delimiter, quote } = contract.csv;
  const quoteByte = quote.charCodeAt(0);
  assertSourceFile(contract, file);
  const reader = new ChunkReader(file, input.onBytes, where);
  const units = new UnitJob(input.workers);
  const state = initialCsvState(src);
  try {
    // Bytes not yet handed out (from file offset `start`), and their scan: quote parity at the end of what was
    // scanned, and the end of the last whole record (a line break at even parity; 0 = none yet). Chunks are copied
    // in (the reader reuses its buffers) and units copied out to buffers the workers hand back (UnitJob).
    const pending = new PendingBytes();
    let start = 0;
    let inQuote = false;
    let scanned = 0;
    let cut = 0;
    const append = (chunk: Buffer): void => {
      pending.append(chunk);
      const bytes = pending.bytes;
      let pos = scanned;
      while (pos < bytes.length) {
        const q = bytes.indexOf(quoteByte, pos);
        const end = q < 0 ? bytes.length : q;
        if (!inQuote && end > pos) {
          const nl = bytes.lastIndexOf(0x0a, end - 1);
          if (nl >= pos) cut = nl + 1;
        }
        if (q < 0) break;
        inQuote = !inQuote;
        pos = q + 1;
      }
      scanned = bytes.length;
    };
    /** Moves pending[0, cut) into `into`: the parity after the cut is even again, so the scan state carries over. */
    const takeUnit = (into: Uint8Array): Uint8Array => {
      const unit = into.subarray(0, cut);
      unit.set(pending.bytes.subarray(0, cut));
      pending.drop(cut);
      start += cut;
      scanned -= cut;
      cut = 0;
      return unit;
    };
    /** Moves every pending byte into `into` (the end of the file). */
    const takeRest = (into: Uint8Array): Uint8Array => {
      const unit = into.subarray(0, pending.length);
      unit.set(pending.bytes);
      start += unit.length;
      pending.drop(unit.length);
      scanned = 0;
      cut = 0;
      return unit;
    };
    let eof = false;
    let replay: { start: number; head: Buffer } | null = null;

    // The header and the records with it, in this thread.
    while (!state.classifier) {
      const chunk = await reader.next();
      if (chunk) append(chunk);
      else eof = true;
      if (cut === 0 && !eof) {
        if (pending.length <= FALLBACK_BYTES) continue;
        replay = { start, head: Buffer.from(pending.bytes) };
        break;
      }
      const unitStart = start;
      let bytes: Uint8Array;
      if (eof) {
        bytes = takeRest(new Uint8Array(pending.length));
      } else bytes = takeUnit(new Uint8Array(cut));
      const splitter = new CsvRecordSplitter({ delimiter, quote, maxRecordChars: MAX_RECORD_CHARS, firstLine: state.nextLine });
      const items: CsvItem[] = [];
      const text = new TextDecoder(charset, { fatal: false, ignoreBOM: unitStart > 0 }).decode(bytes);
      splitter.push(text, items);
      if (!splitter.endsCleanly) {
        replay = { start: unitStart, head: Buffer.concat([bytes, pending.bytes]) };
        break;
      }
      splitter.end(items);
      state.nextLine = splitter.nextLine;
      const batch: RowOutcome[] = [];
      classifyCsvItems(state, src, items, text.includes('\uFFFD'), batch);
      if (batch.length) yield batch;
      if (eof) {
        if (!state.classifier) throw new SourceReadError(`${file} is empty: expected a header row for "${contract.name}"`);
        return;
      }
    }

    if (!replay) {
      const classifier = state.classifier!;
      units.setInit({ contract, header: classifier.header, order: classifier.order, charset, context, rowNumberWidth: ROW_NUMBER_WIDTH, maxRecordChars: MAX_RECORD_CHARS, keyFilter: input.keyFilter });
      const inFlight: { reply: Promise<CsvUnitAnswer>; start: number }[] = [];
      /** Replies of the oldest units, in order, until at most `keep` are in flight; false when one was not clean. */
      async function* settle(keep: number): AsyncGenerator<CsvUnitRows, boolean> {
        while (inFlight.length > keep) {
          const reply = await inFlight[0]!.reply;
          if (!reply.clean) {
            // This unit and every one after it are read again here; their bytes come back with the replies.
            const sent = [reply.input];
            for (const u of inFlight.slice(1)) sent.push((await u.reply).input);
            replay = { start: inFlight[0]!.start, head: Buffer.concat([...sent, pending.bytes]) };
            return false;
          }
          inFlight.shift();
          units.recycle(reply.input);
          stats.units++;
          stats.canonicalRows = (stats.canonicalRows ?? 0) + reply.canonicalRows;
          yield numberUnit(reply, state.rowNumber, state.nextLine);
          state.rowNumber += reply.records;
          state.nextLine += reply.lines;
        }
        return true;
      }
      for (;;) {
        if (cut > 0) {
          const unitStart = start;
          inFlight.push({ reply: units.submit(takeUnit(units.buffer(cut))), start: unitStart });
          if (!(yield* settle(2 * input.workers))) break;
          continue;
        }
        if (!eof && pending.length > FALLBACK_BYTES) {
          // No record boundary in sight (a quote never closed, a huge line): read the rest in this thread.
          if (yield* settle(0)) replay = { start, head: Buffer.from(pending.bytes) };
          break;
        }
        const chunk = eof ? null : await reader.next();
        if (chunk) {
          append(chunk);
          continue;
        }
        eof = true;
        if (pending.length > 0) {
          // The last line has no line break (or a quote is never closed): the worker's splitter ends it.
          const unitStart = start;
          inFlight.push({ reply: units.submit(takeRest(units.buffer(pending.length))), start: unitStart });
        }
        yield* settle(0);
        break;
      }
    }
    if (replay) {
      stats.serialFrom = (replay as { start: number }).start;
      yield* readCsvSerially(replay, reader, state, src);
    }
    if (!state.classifier) throw new SourceReadError(`${file} is empty: expected a header row for "${contract.name}"`);
  } finally {
    reader.close();
    units.close();
  }
}

/** Fills in the unit's row numbers and puts file line numbers into its messages. */
function numberUnit(reply: CsvUnitReply, rowsBefore: number, firstLine: number): CsvUnitRows {
  const { copy, rowOffsets, localRows } = reply;
  for (let j = 0; j < rowOffsets.length; j++) {
    let n = rowsBefore + localRows[j]!;
    if (n >= 10 ** ROW_NUMBER_WIDTH) throw new Error(`row ${n} has more than ${ROW_NUMBER_WIDTH} digits`);
    for (let i = rowOffsets[j]! + ROW_NUMBER_WIDTH - 1; n > 0; i--) {
      copy[i] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    }
  }
  const rejects = reply.rejects.map((r) => ({ ...r, rowNumber: rowsBefore + r.rowNumber, message: r.message.replace(/^line (\d+):/, (_, k: string) => `line ${firstLine + Number(k) - 1}:`) }));
  return { kind: 'unit', copy, loaded: rowOffsets.length, rejects, keyCandidates: reply.keyCandidates };
}

/**
 * The process's CSV threads, one pool per size: every source read at the same time shares them. A pool per read
 * (as before) started 2 threads for each of the up to 8 sources an ingest reads at once, about 16 V8 isolates on
 * 2 cores, and the worker's memory peaked there (1.44 GB at 200k customers).
 */
const sharedPools = new Map<number, ThreadPool<CsvUnitAnswer>>();
/** The threads stop once ingest has asked nothing of them for this long (they are started again when needed). */
const POOL_IDLE_MS = 10_000;
let jobCount = 0;

function csvPool(size: number): ThreadPool<CsvUnitAnswer> {
  let pool = sharedPools.get(size);
  if (!pool) {
    pool = new ThreadPool(size, () => spawnModuleWorker(__dirname, 'csvWorker', __filename), decodeReply, 'ingest', POOL_IDLE_MS);
    sharedPools.set(size, pool);
  }
  return pool;
}

function decodeReply(reply: unknown): PoolOutcome<CsvUnitAnswer> {
  const r = reply as CsvWorkerReply;
  return 'reply' in r ? { id: r.id, result: r.reply } : { id: r.id, error: new Error(`ingest worker: ${r.error}`) };
}

/** One file's units on the shared pool: each thread is sent the file's parse context once, and told to drop it at the end. */
class UnitJob {
  private readonly job = `csv-${++jobCount}`;
  private readonly pool: ThreadPool<CsvUnitAnswer>;
  private init: CsvWorkerInit | null = null;
  /** Unit buffers the workers handed back, to send the next units in (see PendingBytes on why not new ones). */
  private readonly spare: ArrayBuffer[] = [];

  constructor(size: number) {
    this.pool = csvPool(size);
  }

  /** Sets what every unit is read against; threads are sent it with their first unit (a small file needs none). */
  setInit(init: CsvWorkerInit): void {
    this.init = init;
  }

  /** A buffer of at least `size` bytes to send a unit in: one a worker handed back, or a new one. */
  buffer(size: number): Uint8Array {
    const spare = this.spare.pop();
    return spare && spare.byteLength >= size ? new Uint8Array(spare) : new Uint8Array(Math.max(size, UNIT_BUFFER_BYTES));
  }

  /** Keeps a unit's buffer that came back with its reply for a later unit. */
  recycle(bytes: Uint8Array): void {
    if (this.spare.length < MAX_SPARE_BUFFERS) this.spare.push(bytes.buffer as ArrayBuffer);
  }

  /** Sends a unit: `bytes` is a view from the start of a buffer from buffer(), which is transferred (and comes back as the reply's input). */
  submit(bytes: Uint8Array): Promise<CsvUnitAnswer> {
    const init = this.init;
    if (!init) throw new Error('UnitJob.setInit must come before the first unit');
    const load: CsvWorkerRequest = { init: { job: this.job, init } };
    return this.pool.request((id) => {
      const message: CsvWorkerRequest = { unit: { id, job: this.job, bytes } };
      return { message, transfer: [bytes.buffer as ArrayBuffer] };
    }, { key: this.job, message: load });
  }

  /** Threads drop this file's context; units still queued are answered and their replies ignored. */
  close(): void {
    const forget: CsvWorkerRequest = { forget: this.job };
    this.pool.forget(this.job, forget);
  }
}
