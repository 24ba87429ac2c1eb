import { existsSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import knex from 'knex';
import { ParquetReader } from '@dsnp/parquetjs';
import type { Encoding, SourceContract } from '../config/sources';
import { CsvRecordSplitter, type CsvItem } from '../transforms/csvRecords';
import { describeCsvSource, headerOf, MAX_RECORD_CHARS, RecordClassifier, SourceReadError, type RowOutcome } from '../transforms/recordClassifier';
import { maskRecord, validateRow, type RowContext } from '../transforms/validateRow';

export { MAX_RECORD_CHARS, SourceReadError, type RowOutcome } from '../transforms/recordClassifier';

export interface SourceRowsInput {
  contract: SourceContract;
  /** The file to read (csv, parquet); ignored for sql sources. */
  file: string;
  context: RowContext;
  /** Overrides the contract's CSV encoding (portrait validate --encoding). */
  encoding?: Encoding;
  /** Sees every byte of the file, e.g. to hash it. */
  onBytes?: (chunk: Buffer) => void;
}

/** Bytes read at a time from a file source. */
export const READ_CHUNK = 1 << 20;

/**
 * Reads a source and validates every data row against its contract, in batches (one per chunk read). Rows are
 * numbered 1.. in file order; every data row comes out exactly once, as loaded or quarantined.
 */
export async function* readSourceRows(input: SourceRowsInput): AsyncGenerator<RowOutcome[]> {
  const { contract } = input;
  if (contract.format === 'sql') yield* sqlRows(input);
  else {
    assertSourceFile(contract, input.file);
    if (contract.format === 'parquet') yield* parquetRows(input);
    else yield* csvRows(input);
  }
}

/** A file source's file must exist (a clear error, not a stream error). */
export function assertSourceFile(contract: SourceContract, file: string): void {
  if (!existsSync(file) || !statSync(file).isFile()) throw new SourceReadError(`source file for "${contract.name}" not found: ${file}`);
}

/** A CSV source being read: its contract, the charset in use, the row context and how to name it in errors. */
export interface CsvSource {
  contract: SourceContract;
  charset: string;
  context: RowContext;
  where: string;
}

/**
 * A file in read-sized chunks, remembering where each chunk ended: a re-read from a record boundary can push the same
 * pieces. Chunks are read into two buffers in turn, the next one while the caller works on the last: a chunk is
 * valid until the call after the one that returned it. A new buffer per chunk (as a read stream allocates) is memory
 * outside the JS heap, which counts towards a full collection of the reading thread's heap: at 1M customers ingest's
 * reading thread ran 225 of them (docs/PERFORMANCE.md).
 */
export class ChunkReader {
  bytesRead = 0;
  readonly chunkEnds: number[] = [];
  private readonly file: Promise<FileHandle>;
  private readonly buffers = [Buffer.allocUnsafeSlow(READ_CHUNK), Buffer.allocUnsafeSlow(READ_CHUNK)];
  private turn = 0;
  /** The read of buffers[turn] under way, if any. */
  private ahead: Promise<number> | null = null;
  private ended = false;

  constructor(path: string, private readonly onBytes: ((chunk: Buffer) => void) | undefined, private readonly where: string) {
    this.file = open(path, 'r');
    // Observed by next() and close(); this keeps an open error before the first read from being unhandled.
    this.file.catch(() => undefined);
  }

  async next(): Promise<Buffer | null> {
    if (this.ended) return null;
    const buffer = this.buffers[this.turn]!;
    let n: number;
    try {
      n = await (this.ahead ?? this.read(buffer, this.bytesRead));
    } catch (err) {
      this.ended = true;
      throw new SourceReadError(`${this.where}: cannot be read: ${(err as Error).message}`);
    }
    this.ahead = null;
    if (n === 0) {
      this.ended = true;
      return null;
    }
    const chunk = buffer.subarray(0, n);
    this.bytesRead += n;
    this.chunkEnds.push(this.bytesRead);
    this.turn ^= 1;
    // The other buffer held the chunk before this one, which the caller is done with.
    this.ahead = this.read(this.buffers[this.turn]!, this.bytesRead);
    this.ahead.catch(() => undefined);
    this.onBytes?.(chunk);
    return chunk;
  }

  close(): void {
    this.ended = true;
    const ahead = this.ahead ?? Promise.resolve(0);
    this.ahead = null;
    void ahead
      .catch(() => 0)
      .then(() => this.file)
      .then((f) => f.close())
      .catch(() => undefined);
  }

  private async read(buffer: Buffer, position: number): Promise<number> {
    const { bytesRead } = await (await this.file).read(buffer, 0, buffer.length, position);
    return bytesRead;
  }
}

/** Where reading a CSV source stands: its classifier once the header is read, data rows and lines so far. */
export interface CsvReadState {
  classifier: RecordClassifier | null;
  rowNumber: number;
  nextLine: number;
}

/** The state before the first byte: no header yet (or the contract's columns when the file has none). */
export function initialCsvState(src: CsvSource): CsvReadState {
  const { contract, charset, context } = src;
  return { classifier: contract.csv.header ? null : new RecordClassifier(contract, contract.columns.map((c) => c.name), null, charset, context), rowNumber: 0, nextLine: 1 };
}

/** Classifies split items, taking the first as the header while there is none yet. */
export function classifyCsvItems(state: CsvReadState, src: CsvSource, items: CsvItem[], undecodable: boolean, batch: RowOutcome[]): void {
  const { contract, charset, context, where } = src;
  let from = 0;
  if (!state.classifier && items.length > 0) {
    const { header, order } = headerOf(contract, items[0]!, where, charset);
    state.classifier = new RecordClassifier(contract, header, order, charset, context, state.rowNumber);
    from = 1;
  }
  if (!state.classifier) return;
  state.classifier.rowNumber = state.rowNumber;
  state.classifier.classify(from === 0 ? items : items.slice(from), undecodable, batch);
  state.rowNumber = state.classifier.rowNumber;
}

/**
 * Reads a CSV source in this thread from file offset `from.start` (a record boundary; `from.head` holds the bytes
 * from there already read) to its end. Text is pushed to the splitter up to each read chunk's end, whatever the
 * start, so a read from the middle of a file splits as a read from its beginning would; the splitter bounds memory.
 */
export async function* readCsvSerially(from: { start: number; head: Buffer }, reader: ChunkReader, state: CsvReadState, src: CsvSource): AsyncGenerator<RowOutcome[]> {
  const { contract, charset } = src;
  const decoder = new TextDecoder(charset, { fatal: false, ignoreBOM: from.start > 0 });
  const splitter = new CsvRecordSplitter({ delimiter: contract.csv.delimiter, quote: contract.csv.quote, maxRecordChars: MAX_RECORD_CHARS, firstLine: state.nextLine });
  let undecodable = false;
  const items: CsvItem[] = [];
  const feed = (bytes: Buffer | null): RowOutcome[] => {
    const text = bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode();
    if (text.includes('\uFFFD')) undecodable = true;
    splitter.push(text, items);
    if (!bytes) splitter.end(items);
    const batch: RowOutcome[] = [];
    classifyCsvItems(state, src, items, undecodable, batch);
    items.length = 0;
    return batch;
  };
  let offset = from.start;
  for (const end of reader.chunkEnds) {
    if (end <= offset) continue;
    const batch = feed(from.head.subarray(offset - from.start, end - from.start));
    offset = end;
    if (batch.length) yield batch;
  }
  for (let chunk = await reader.next(); chunk; chunk = await reader.next()) {
    const batch = feed(chunk);
    if (batch.length) yield batch;
  }
  const batch = feed(null);
  if (batch.length) yield batch;
}

async function* csvRows({ contract, file, context, encoding, onBytes }: SourceRowsInput): AsyncGenerator<RowOutcome[]> {
  const charset = encoding ?? contract.csv.encoding;
  const src: CsvSource = { contract, charset, context, where: describeCsvSource(contract, file, charset) };
  const reader = new ChunkReader(file, onBytes, src.where);
  const state = initialCsvState(src);
  try {
    yield* readCsvSerially({ start: 0, head: Buffer.alloc(0) }, reader, state, src);
  } finally {
    reader.close();
  }
  if (!state.classifier) throw new SourceReadError(`${file} is empty: expected a header row for "${contract.name}"`);
}

/** Typed source values as the text a CSV would carry, so one validation serves every format. */
function asText(value: unknown, type: string): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return type === 'date' ? value.toISOString().slice(0, 10) : value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return String(value);
}

const OBJECT_BATCH = 5000;

async function* objectRows(contract: SourceContract, rows: AsyncIterable<Record<string, unknown>>, context: RowContext, where: string): AsyncGenerator<RowOutcome[]> {
  let rowNumber = 0;
  let batch: RowOutcome[] = [];
  let checked = false;
  for await (const row of rows) {
    if (!checked) {
      const missing = contract.columns.filter((c) => !(c.name in row)).map((c) => c.name);
      if (missing.length) throw new SourceReadError(`${where} does not match the "${contract.name}" contract (missing columns: ${missing.join(', ')})`);
      checked = true;
    }
    rowNumber++;
    const record = contract.columns.map((c) => asText(row[c.name], c.type));
    const verdict = validateRow(contract, record, context);
    if (verdict.ok) batch.push({ ok: true, rowNumber, values: verdict.values });
    else batch.push({ ok: false, rowNumber, reasonCode: verdict.reasonCode, message: verdict.message, raw: maskRecord(contract, contract.columns.map((c) => c.name), record) });
    if (batch.length >= OBJECT_BATCH) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

async function* parquetRows({ contract, file, context }: SourceRowsInput): AsyncGenerator<RowOutcome[]> {
  let reader: Awaited<ReturnType<typeof ParquetReader.openFile>>;
  try {
    reader = await ParquetReader.openFile(file);
  } catch (err) {
    throw new SourceReadError(`${file} cannot be read as Parquet for "${contract.name}": ${(err as Error).message}`);
  }
  try {
    const fields = Object.keys(reader.getSchema().fields);
    const missing = contract.columns.filter((c) => !fields.includes(c.name)).map((c) => c.name);
    if (missing.length) throw new SourceReadError(`${file} does not match the "${contract.name}" contract (missing columns: ${missing.join(', ')})`);
    const cursor = reader.getCursor();
    const rows = {
      async *[Symbol.asyncIterator]() {
        for (let r = await cursor.next(); r; r = await cursor.next()) yield r as Record<string, unknown>;
      },
    };
    yield* objectRows(contract, rows, context, file);
  } finally {
    await reader.close();
  }
}

async function* sqlRows({ contract, context }: SourceRowsInput): AsyncGenerator<RowOutcome[]> {
  const sql = contract.sql!;
  const url = process.env[sql.connectionEnv];
  if (!url) throw new SourceReadError(`source "${contract.name}" reads from a database: set ${sql.connectionEnv} to its connection URL`);
  const source = knex({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  try {
    const stream = source.raw(sql.query, { as_of: context.asOf }).stream();
    yield* objectRows(contract, stream as AsyncIterable<Record<string, unknown>>, context, `query of source "${contract.name}"`);
  } catch (err) {
    if (err instanceof SourceReadError) throw err;
    throw new SourceReadError(`query of source "${contract.name}" failed: ${(err as Error).message}`);
  } finally {
    await source.destroy();
  }
}
