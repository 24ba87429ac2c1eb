/**
 * One unit of whole CSV records read for COPY (the work of an ingest worker thread, csvWorker.ts). Lines the byte
 * check (transforms/canonicalRecord.ts) finds canonical are copied to the COPY text as they are; every other run of
 * records is decoded, split and validated the string way, exactly as a unit without the check. Either way a line
 * gets the same outcome, so the reply is byte for byte the one the string path alone would give. Rows are numbered
 * from 1 within the unit; the row number field is left as zeros at recorded offsets for the caller, which alone
 * knows the unit's first row.
 */
import type { SourceContract } from '../config/sources';
import { CanonicalRecordCheck, FALSE_VALUE, TRUE_VALUE } from '../transforms/canonicalRecord';
import { CsvRecordSplitter, type CsvItem } from '../transforms/csvRecords';
import { KeyFilter, keyHashes, keyHashesOfBytes, keyOf, KEY_PART_SEPARATOR, NULL_KEY_PART } from '../transforms/keyFilter';
import type { RowContext } from '../transforms/validateRow';
import { CsvCopyBuffer } from '../transforms/copyText';
import { RecordClassifier, type RowOutcome } from '../transforms/recordClassifier';

export interface CsvWorkerInit {
  contract: SourceContract;
  header: string[];
  order: number[] | null;
  charset: string;
  context: RowContext;
  rowNumberWidth: number;
  maxRecordChars: number;
  /** The source's duplicate-key filter (KeyFilter.shared), shared by every thread reading the file. */
  keyFilter: SharedArrayBuffer;
}

export interface CsvUnitReply {
  /** False when the unit must be read again in the activity thread (see readCsvParallel); the rest is then unused. */
  clean: boolean;
  /** Data rows (records and unreadable records) in the unit. */
  records: number;
  /** Physical lines in the unit. */
  lines: number;
  /** Rows the byte check passed (copied as they are, no strings). */
  canonicalRows: number;
  copy: Uint8Array;
  /** Per loaded row: offset of its row number field in `copy`, and its row number within the unit. */
  rowOffsets: Int32Array;
  localRows: Int32Array;
  /** Primary keys of loaded rows the shared filter had seen before (maybe repeats), in line order. */
  keyCandidates: string[];
  /** Quarantined rows, numbered within the unit; messages cite lines within the unit. */
  rejects: Extract<RowOutcome, { ok: false }>[];
}

/** What a thread keeps per file: the parse context, key columns and the byte check (null: strings only). */
export interface CsvUnitJob {
  init: CsvWorkerInit;
  keyIndex: number[];
  fast: CanonicalRecordCheck | null;
  keys: KeyFilter;
}

export function csvUnitJob(init: CsvWorkerInit, fastPath = true): CsvUnitJob {
  const { contract } = init;
  return {
    init,
    keyIndex: contract.primaryKey.map((k) => contract.columns.findIndex((c) => c.name === k)),
    fast: fastPath ? CanonicalRecordCheck.forSource(contract, init.order === null, init.context) : null,
    keys: new KeyFilter(init.keyFilter),
  };
}

/** Validates one unit (whole records, from a record boundary of the file) and encodes its loaded rows for COPY. */
export function validateUnit(job: CsvUnitJob, bytes: Uint8Array): CsvUnitReply {
  const { init, fast } = job;
  const out = new UnitRows(job, bytes.length);
  const n = bytes.length;
  if (!fast) {
    out.strings(bytes, 0, n, true);
    return out.reply();
  }
  const quoteByte = init.contract.csv.quote.charCodeAt(0);
  let pos = 0;
  let slowFrom = -1;
  let nextQuote = bytes.indexOf(quoteByte);
  while (pos < n) {
    const lf = fast.lineEnd(bytes, pos);
    if (lf >= 0 && lf - pos <= init.maxRecordChars) {
      if (slowFrom >= 0) {
        out.strings(bytes, slowFrom, pos, false);
        slowFrom = -1;
      }
      out.canonical(bytes, pos, lf);
      pos = lf + 1;
      continue;
    }
    const nl = bytes.indexOf(LF, pos);
    // The last line without a line break is left to the splitter, which ends it.
    if (nl < 0) break;
    if (slowFrom < 0) slowFrom = pos;
    if (nextQuote >= 0 && nextQuote < pos) nextQuote = bytes.indexOf(quoteByte, pos);
    // A quoted field may hold line breaks: the record ends where the splitter will end it.
    pos = nextQuote >= 0 && nextQuote < nl ? recordEnd(bytes, pos, quoteByte) : nl + 1;
  }
  if (slowFrom < 0 && pos < n) slowFrom = pos;
  if (slowFrom >= 0) out.strings(bytes, slowFrom, n, true);
  return out.reply();
}

/**
 * The end (after its line break) of the record starting at `pos`, found the way CsvRecordSplitter reads quotes (only
 * at the start of a field, doubled inside one), so the string path reads exactly that record from there; the unit's
 * end when the record may go on past it. Delimiter, quote and line break are ASCII bytes no character of the
 * unit's charset contains (see parallelReadable; the byte check runs only for comma and double quote).
 */
function recordEnd(bytes: Uint8Array, pos: number, quoteByte: number): number {
  const n = bytes.length;
  let i = pos;
  for (;;) {
    if (bytes[i] === quoteByte) {
      for (let j = i + 1; ; ) {
        const q = bytes.indexOf(quoteByte, j);
        if (q < 0 || q + 1 >= n) return n;
        if (bytes[q + 1] === quoteByte) {
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      const c = bytes[i];
      if (c === COMMA) {
        i++;
        continue;
      }
      if (c === LF) return i + 1;
      if (c === CR && i + 1 < n && bytes[i + 1] === LF) return i + 2;
      // A stray character after a closing quote: the splitter reports the record up to its line break.
      const nl = bytes.indexOf(LF, i);
      return nl < 0 ? n : nl + 1;
    }
    const d = bytes.indexOf(COMMA, i);
    const nl = bytes.indexOf(LF, i);
    if (nl < 0) return n;
    if (d >= 0 && d < nl) {
      i = d + 1;
      continue;
    }
    return nl + 1;
  }
}

const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

/** The reply being built: COPY text, row offsets and key candidates, in line order. */
class UnitRows {
  private readonly copy: CsvCopyBuffer;
  /** A zero row number and a comma: what precedes a canonical line in the COPY text. */
  private readonly lead: Buffer;
  private clean = true;
  private records = 0;
  /** Unit-local physical line of the next record. */
  private line = 1;
  private loaded = 0;
  private canonicalRows = 0;
  private rowOffsets: Int32Array;
  private localRows: Int32Array;
  private readonly keyCandidates: string[] = [];
  /**
   * Keys waiting for the filter, probed KEY_BATCH at a time (KeyFilter.addBatchAndCheck): the hashes, and the key as
   * text (string path) or as bytes ending at keyEnds[i] in keyBytes (a canonical line's key, built as keyOf would).
   */
  private readonly keyHashes = new Int32Array(2 * KEY_BATCH);
  private readonly keySeen = new Uint8Array(KEY_BATCH);
  private readonly keyText: (string | null)[] = new Array<string | null>(KEY_BATCH).fill(null);
  private keyBytes = new Uint8Array(KEY_BATCH * 64);
  private readonly keyEnds = new Int32Array(KEY_BATCH);
  private keysWaiting = 0;
  private readonly rejects: Extract<RowOutcome, { ok: false }>[] = [];
  private classifier: RecordClassifier | null = null;
  private decoder: InstanceType<typeof TextDecoder> | null = null;

  constructor(
    private readonly job: CsvUnitJob,
    size: number,
  ) {
    this.copy = new CsvCopyBuffer(Math.max(1 << 16, Math.ceil(size * 1.5)));
    this.lead = Buffer.concat([Buffer.alloc(job.init.rowNumberWidth, 0x30), Buffer.from(',')]);
    const rows = Math.max(64, size >>> 6);
    this.rowOffsets = new Int32Array(rows);
    this.localRows = new Int32Array(rows);
  }

  /** A line the byte check passed (its fields are in the check's field offsets): copied as it is. */
  canonical(bytes: Uint8Array, start: number, end: number): void {
    const fast = this.job.fast!;
    const k = this.nextRow();
    this.records++;
    this.canonicalRows++;
    this.rowOffsets[k] = fast.rewritten ? this.copy.numberedFields(this.lead, this.job.init.rowNumberWidth, bytes, fast.fieldStarts, fast.fieldEnds, fast.fieldValues, VALUE_BYTES) : this.copy.numberedBytes(this.lead, this.job.init.rowNumberWidth, bytes, start, end);
    this.localRows[k] = this.records;
    // The key as keyOf builds it from the values (one byte per character: the line is ASCII).
    const keyIndex = this.job.keyIndex;
    const k0 = this.keysWaiting;
    let at = k0 === 0 ? 0 : this.keyEnds[k0 - 1]!;
    if (this.keyBytes.length < at + end - start + 6 * keyIndex.length) {
      const grown = new Uint8Array(2 * (at + end - start + 6 * keyIndex.length));
      grown.set(this.keyBytes.subarray(0, at));
      this.keyBytes = grown;
    }
    const keyBytes = this.keyBytes;
    const from = at;
    for (let p = 0; p < keyIndex.length; p++) {
      if (p > 0) keyBytes[at++] = KEY_SEPARATOR_BYTE;
      const f = keyIndex[p]!;
      const a = fast.fieldStarts[f]!;
      const b = fast.fieldEnds[f]!;
      const value = fast.fieldValues[f]!;
      if (a === b) keyBytes[at++] = NULL_KEY_BYTE;
      else if (value !== 0) {
        for (const x of VALUE_BYTES[value]!) keyBytes[at++] = x;
      } else for (let i = a; i < b; i++) keyBytes[at++] = bytes[i]!;
    }
    keyHashesOfBytes(keyBytes, from, at, this.keyHashes, 2 * k0);
    this.keyEnds[k0] = at;
    if (++this.keysWaiting === KEY_BATCH) this.probeKeys();
    this.line++;
  }

  /** Lines bytes[start, end) read the string way: decoded, split and validated (final: the unit's end). */
  strings(bytes: Uint8Array, start: number, end: number, final: boolean): void {
    const { init } = this.job;
    const { delimiter, quote } = init.contract.csv;
    // A unit starts at a record boundary inside the file: a byte-order mark there is data, not a marker.
    this.decoder ??= new TextDecoder(init.charset, { fatal: false, ignoreBOM: true });
    const text = this.decoder.decode(bytes.subarray(start, end));
    const splitter = new CsvRecordSplitter({ delimiter, quote, maxRecordChars: init.maxRecordChars, firstLine: this.line });
    const items: CsvItem[] = [];
    splitter.push(text, items);
    if (!splitter.endsCleanly) this.clean = false;
    if (final) splitter.end(items);
    this.line = splitter.nextLine;
    const classifier = (this.classifier ??= new RecordClassifier(init.contract, init.header, init.order, init.charset, init.context));
    classifier.rowNumber = this.records;
    const outcomes: RowOutcome[] = [];
    classifier.classify(items, text.includes('\uFFFD'), outcomes);
    this.records = classifier.rowNumber;
    for (const o of outcomes) {
      if (!o.ok) {
        this.rejects.push(o);
        continue;
      }
      const k = this.nextRow();
      this.rowOffsets[k] = this.copy.numberedRow(init.rowNumberWidth, o.copyLine, o.values);
      this.localRows[k] = o.rowNumber;
      const key = keyOf(o.values, this.job.keyIndex);
      const k0 = this.keysWaiting;
      keyHashes(key, this.keyHashes, 2 * k0);
      this.keyText[k0] = key;
      this.keyEnds[k0] = k0 === 0 ? 0 : this.keyEnds[k0 - 1]!;
      if (++this.keysWaiting === KEY_BATCH) this.probeKeys();
    }
  }

  /** Adds the waiting keys to the filter, in line order; those it had seen become candidates. */
  private probeKeys(): void {
    const n = this.keysWaiting;
    this.job.keys.addBatchAndCheck(this.keyHashes, n, this.keySeen);
    let from = 0;
    for (let i = 0; i < n; i++) {
      const end = this.keyEnds[i]!;
      if (this.keySeen[i] === 1) this.keyCandidates.push(this.keyText[i] ?? Buffer.from(this.keyBytes.buffer, this.keyBytes.byteOffset + from, end - from).toString('latin1'));
      this.keyText[i] = null;
      from = end;
    }
    this.keysWaiting = 0;
  }

  reply(): CsvUnitReply {
    this.probeKeys();
    const k = this.loaded;
    return {
      clean: this.clean,
      records: this.records,
      lines: this.line - 1,
      canonicalRows: this.canonicalRows,
      // Copies of exactly what was written, so whole buffers can be transferred.
      copy: new Uint8Array(this.copy.bytes),
      rowOffsets: this.rowOffsets.slice(0, k),
      localRows: this.localRows.slice(0, k),
      keyCandidates: this.keyCandidates,
      rejects: this.rejects,
    };
  }

  /** Index of the next loaded row, the per-row arrays grown to hold it. */
  private nextRow(): number {
    const k = this.loaded++;
    if (k === this.rowOffsets.length) {
      const grow = (a: Int32Array, size: number) => {
        const b = new Int32Array(size);
        b.set(a);
        return b;
      };
      this.rowOffsets = grow(this.rowOffsets, 2 * k);
      this.localRows = grow(this.localRows, 2 * k);
    }
    return k;
  }
}

/** The text of the values a canonical field may be rewritten to (canonicalRecord's TRUE_VALUE, FALSE_VALUE). */
const VALUE_BYTES: Record<number, Buffer> = { [TRUE_VALUE]: Buffer.from('true'), [FALSE_VALUE]: Buffer.from('false') };
const KEY_SEPARATOR_BYTE = KEY_PART_SEPARATOR.charCodeAt(0);
/** Keys probed together: enough misses to overlap, few enough to stay in registers and cache. */
const KEY_BATCH = 16;
const NULL_KEY_BYTE = NULL_KEY_PART.charCodeAt(0);
