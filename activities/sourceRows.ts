import { createReadStream, existsSync, statSync } from 'node:fs';
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

const READ_CHUNK = 1 << 20;

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

async function* csvRows({ contract, file, context, encoding, onBytes }: SourceRowsInput): AsyncGenerator<RowOutcome[]> {
  const { delimiter, quote } = contract.csv;
  const charset = encoding ?? contract.csv.encoding;
  const decoder = new TextDecoder(charset, { fatal: false });
  const splitter = new CsvRecordSplitter({ delimiter, quote, maxRecordChars: MAX_RECORD_CHARS });
  const where = describeCsvSource(contract, file, charset);
  let classifier: RecordClassifier | null = contract.csv.header ? null : new RecordClassifier(contract, contract.columns.map((c) => c.name), null, charset, context);
  // Once the decoder has produced a replacement character, every record is checked for one.
  let undecodableSeen = false;

  const classify = (items: CsvItem[]): RowOutcome[] => {
    const batch: RowOutcome[] = [];
    let from = 0;
    if (!classifier && items.length > 0) {
      const { header, order } = headerOf(contract, items[0]!, where, charset);
      classifier = new RecordClassifier(contract, header, order, charset, context);
      from = 1;
    }
    if (classifier) classifier.classify(from === 0 ? items : items.slice(from), undecodableSeen, batch);
    return batch;
  };

  const items: CsvItem[] = [];
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: READ_CHUNK })) {
      onBytes?.(chunk as Buffer);
      const text = decoder.decode(chunk as Buffer, { stream: true });
      if (!undecodableSeen && text.includes('\uFFFD')) undecodableSeen = true;
      splitter.push(text, items);
      const batch = classify(items);
      items.length = 0;
      if (batch.length) yield batch;
    }
  } catch (err) {
    if (err instanceof SourceReadError) throw err;
    throw new SourceReadError(`${where}: cannot be read: ${(err as Error).message}`);
  }
  const tail = decoder.decode();
  if (tail.includes('\uFFFD')) undecodableSeen = true;
  splitter.push(tail, items);
  splitter.end(items);
  const batch = classify(items);
  if (batch.length) yield batch;
  if (!classifier) throw new SourceReadError(`${file} is empty: expected a header row for "${contract.name}"`);
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
