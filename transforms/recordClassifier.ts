/**
 * Row-level reading of CSV records against a source contract, shared by the activity thread and the ingest
 * worker threads (so it imports nothing heavier than the validators): header checks, row numbering, validation,
 * and which records can go to COPY as they are.
 */
import type { SourceContract } from '../config/sources';
import type { CsvItem } from './csvRecords';
import { maskRecord, validateRow, type RowContext } from './validateRow';

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

/** Longest CSV record accepted (characters); a longer one is quarantined, not buffered. */
export const MAX_RECORD_CHARS = 1 << 20;
/** Validates the records of a CSV source after its header, numbering data rows from `rowNumber` + 1. */
export class RecordClassifier {
  private readonly passThrough: boolean;

  constructor(
    private readonly contract: SourceContract,
    readonly header: string[],
    /** File position of each contract column, or null when the file has the contract's order. */
    readonly order: number[] | null,
    private readonly charset: string,
    private readonly context: RowContext,
    public rowNumber = 0,
  ) {
    // Records of a comma-delimited file can go to COPY as they are when validation changed nothing.
    this.passThrough = contract.csv.delimiter === ',' && order === null;
  }

  /** Appends one outcome per item; `undecodable`: the text they come from holds a replacement character. */
  classify(items: readonly CsvItem[], undecodable: boolean, batch: RowOutcome[]): void {
    const { contract, header, order, context } = this;
    for (const item of items) {
      this.rowNumber++;
      const rowNumber = this.rowNumber;
      if (item.kind === 'error') {
        batch.push({ ok: false, rowNumber, reasonCode: item.code, message: item.message, raw: maskRecord(contract, header, [item.raw]) });
        continue;
      }
      const fields = item.fields;
      if (undecodable && item.raw.includes('\uFFFD')) {
        batch.push({ ok: false, rowNumber, reasonCode: 'bad_encoding', message: `line ${item.line}: bytes that are not valid ${this.charset}`, raw: maskRecord(contract, header, fields) });
        continue;
      }
      const aligned = order && fields.length === header.length ? order.map((i) => fields[i]!) : fields;
      const verdict = validateRow(contract, aligned, context);
      if (verdict.ok) {
        const copyLine = this.passThrough && unchanged(fields, verdict.values) && copySafe(item.raw, contract.csv.quote) ? item.raw : undefined;
        batch.push({ ok: true, rowNumber, values: verdict.values, copyLine });
      } else batch.push({ ok: false, rowNumber, reasonCode: verdict.reasonCode, message: `line ${item.line}: ${verdict.message}`, raw: maskRecord(contract, header, fields) });
    }
  }
}

/** Reads the header record: the file's column names and their order against the contract (null = same order). */
export function headerOf(contract: SourceContract, item: CsvItem, where: string, charset: string): { header: string[]; order: number[] | null } {
  if (item.kind === 'error') throw new SourceReadError(`${where}: the header cannot be read (${item.message})`);
  const header = item.fields.map((h) => h.trim());
  if (header.some((h) => h.includes('\uFFFD'))) throw new SourceReadError(`${where}: the header is not valid ${charset} (wrong encoding? try gbk or gb18030)`);
  const order = headerOrder(contract, header, where, contract.csv.delimiter);
  return { header, order: order.every((position, i) => position === i) ? null : order };
}

export function describeCsvSource(contract: SourceContract, file: string, charset: string): string {
  return `${file} (${contract.name}, ${charset}, delimiter ${JSON.stringify(contract.csv.delimiter)})`;
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
