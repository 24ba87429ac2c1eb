import { createReadStream, existsSync, statSync } from 'node:fs';
import knex from 'knex';
import { ParquetReader } from '@dsnp/parquetjs';
import type { Encoding, SourceContract } from '../config/sources';
import { CsvRecordSplitter, type CsvItem } from '../transforms/csvRecords';
import { maskRecord, validateRow, type RowContext } from '../transforms/validateRow';

/** One data row of a source after validation: typed values for COPY, or a reason to quarantine it. */
export type RowOutcome =
  | {
      ok: true;
      rowNumber: number;
      values: (string | null)[];
      /**
       * The record's own text when it is already a valid unquoted COPY (format csv) line of `values`: comma
       * delimited, no quote or CR, every value exactly as in the file (empty = NULL), columns in contract order.
       */
      copyLine?: string;
    }
  | { ok: false; rowNumber: number; reasonCode: string; message: string; raw: Record<string, string> | null };

/** The file (or query) cannot be read as this source at all: missing, undecodable header, wrong columns. */
export class SourceReadError extends Error {
  override readonly name = 'SourceReadError';
}

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

/** Longest CSV record accepted (characters); a longer one is quarantined, not buffered. */
export const MAX_RECORD_CHARS = 1 << 20;
const READ_CHUNK = 1 << 20;

/**
 * Reads a source and validates every data row against its contract, in batches (one per chunk read). Rows are
 * numbered 1.. in file order; every data row comes out exactly once, as loaded or quarantined.
 */
export async function* readSourceRows(input: SourceRowsInput): AsyncGenerator<RowOutcome[]> {
  const { contract } = input;
  if (contract.format === 'sql') yield* sqlRows(input);
  else {
    if (!existsSync(input.file) || !statSync(input.file).isFile()) throw new SourceReadError(`source file for "${contract.name}" not found: ${input.file}`);
    if (contract.format === 'parquet') yield* parquetRows(input);
    else yield* csvRows(input);
  }
}

async function* csvRows({ contract, file, context, encoding, onBytes }: SourceRowsInput): AsyncGenerator<RowOutcome[]> {
  const { delimiter, quote, header: hasHeader } = contract.csv;
  const charset = encoding ?? contract.csv.encoding;
  const decoder = new TextDecoder(charset, { fatal: false });
  const splitter = new CsvRecordSplitter({ delimiter, quote, maxRecordChars: MAX_RECORD_CHARS });
  const names = contract.columns.map((c) => c.name);
  let header: string[] | null = hasHeader ? null : names;
  let order: number[] | null = null;
  let rowNumber = 0;
  // Once the decoder has produced a replacement character, every record is checked for one.
  let undecodableSeen = false;
  const where = `${file} (${contract.name}, ${charset}, delimiter ${JSON.stringify(delimiter)})`;
  // Records of a comma-delimited file can go to COPY as they are when validation changed nothing.
  const passThrough = delimiter === ',';

  const classify = (items: CsvItem[]): RowOutcome[] => {
    const batch: RowOutcome[] = [];
    for (const item of items) {
      if (!header) {
        if (item.kind === 'error') throw new SourceReadError(`${where}: the header cannot be read (${item.message})`);
        header = item.fields.map((h) => h.trim());
        if (header.some((h) => h.includes('\uFFFD'))) throw new SourceReadError(`${where}: the header is not valid ${charset} (wrong encoding? try gbk or gb18030)`);
        order = headerOrder(contract, header, where, delimiter);
        if (order.every((position, i) => position === i)) order = null;
        continue;
      }
      rowNumber++;
      if (item.kind === 'error') {
        batch.push({ ok: false, rowNumber, reasonCode: item.code, message: item.message, raw: maskRecord(contract, header, [item.raw]) });
        continue;
      }
      const fields = item.fields;
      if (undecodableSeen && item.raw.includes('\uFFFD')) {
        batch.push({ ok: false, rowNumber, reasonCode: 'bad_encoding', message: `line ${item.line}: bytes that are not valid ${charset}`, raw: maskRecord(contract, header, fields) });
        continue;
      }
      const aligned = order && fields.length === header.length ? order.map((i) => fields[i]!) : fields;
      const verdict = validateRow(contract, aligned, context);
      if (verdict.ok) {
        const copyLine = passThrough && aligned === fields && unchanged(fields, verdict.values) && copySafe(item.raw, quote) ? item.raw : undefined;
        batch.push({ ok: true, rowNumber, values: verdict.values, copyLine });
      }
      else batch.push({ ok: false, rowNumber, reasonCode: verdict.reasonCode, message: `line ${item.line}: ${verdict.message}`, raw: maskRecord(contract, header, fields) });
    }
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
  if (!header) throw new SourceReadError(`${file} is empty: expected a header row for "${contract.name}"`);
}

/** No character that COPY (format csv) or the file's own quoting would read differently: quotes, CR. */
function copySafe(raw: string, quote: string): boolean {
  return raw.indexOf('"') < 0 && raw.indexOf('\r') < 0 && (quote === '"' || raw.indexOf(quote) < 0);
}

/** Whether validation kept every field as it was (an empty field becomes NULL, which COPY reads the same way). */
function unchanged(fields: readonly string[], values: readonly (string | null)[]): boolean {
  for (let i = 0; i < fields.length; i++) {
    const v = values[i];
    if (v === null ? fields[i] !== '' : v !== fields[i]) return false;
  }
  return true;
}

/** Maps contract column order to file column positions; a missing or unknown column fails the file. */
function headerOrder(contract: SourceContract, header: string[], where: string, delimiter: string): number[] {
  const missing = contract.columns.filter((c) => !header.includes(c.name)).map((c) => c.name);
  const extra = header.filter((h) => !contract.columns.some((c) => c.name === h));
  if (missing.length || extra.length) {
    const hint = header.length === 1 && contract.columns.length > 1 ? `; the header is one column: is the delimiter ${JSON.stringify(delimiter)} right?` : '';
    const parts = [missing.length ? `missing columns: ${missing.join(', ')}` : '', extra.length ? `unexpected columns: ${extra.map((e) => e.slice(0, 40)).join(', ')}` : ''].filter(Boolean);
    throw new SourceReadError(`${where} does not match the "${contract.name}" contract (${parts.join('; ')})${hint}`);
  }
  return contract.columns.map((c) => header.indexOf(c.name));
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
