/**
 * Minimal flat-CSV reader for model evaluation: delimiter detected among , ; \t |, RFC 4180 quoting ("" escapes,
 * delimiters and newlines inside quotes), CRLF or LF, optional UTF-8 BOM. Columns are typed as numeric when every
 * non-missing value parses as a finite number, otherwise categorical.
 */
import * as fs from 'fs';

export interface CsvTable {
  names: string[];
  delimiter: string;
  /** Raw field text per column. */
  columns: string[][];
  rows: number;
}

const CANDIDATES = [',', ';', '\t', '|'];
/** Field texts read as missing values. */
export const MISSING_TOKENS: ReadonlySet<string> = new Set(['', 'NA', 'N/A', 'NaN', 'nan', 'null', 'NULL', '?']);

/** Picks the candidate delimiter occurring most often (outside quotes) in the header line. */
export function detectDelimiter(text: string): string {
  const counts = new Map<string, number>(CANDIDATES.map((c) => [c, 0]));
  let inQuotes = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') inQuotes = !inQuotes;
    else if (!inQuotes && (ch === '\n' || ch === '\r')) break;
    else if (!inQuotes && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  let best = ',';
  let bestCount = 0;
  for (const c of CANDIDATES) if (counts.get(c)! > bestCount) { best = c; bestCount = counts.get(c)!; }
  return best;
}

/** Parses CSV text with a header row. Throws on a row with the wrong number of fields (1-based line in message). */
export function parseCsv(text: string, delimiter?: string): CsvTable {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const delim = delimiter ?? detectDelimiter(text);
  const D = delim.charCodeAt(0);
  const Q = 34;
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  const len = text.length;
  let line = 1;
  while (i < len) {
    let field: string;
    if (text.charCodeAt(i) === Q) {
      let out = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new Error(`CSV: unterminated quoted field starting on line ${line}`);
        out += text.slice(i, q);
        if (text.charCodeAt(q + 1) === Q) { out += '"'; i = q + 2; } else { i = q + 1; break; }
      }
      field = out;
    } else {
      let j = i;
      while (j < len) {
        const c = text.charCodeAt(j);
        if (c === D || c === 10 || c === 13) break;
        j++;
      }
      field = text.slice(i, j);
      i = j;
    }
    row.push(field);
    const c = i < len ? text.charCodeAt(i) : 10;
    if (c === D) { i++; if (i === len) row.push(''); continue; }
    if (c === 13 || c === 10) {
      if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
      i++;
      if (!(row.length === 1 && row[0] === '')) rows.push(row);
      row = [];
      line++;
      continue;
    }
    throw new Error(`CSV: unexpected character after a quoted field on line ${line}`);
  }
  if (row.length > 0 && !(row.length === 1 && row[0] === '')) rows.push(row);
  if (rows.length === 0) throw new Error('CSV: no header row');
  const names = rows[0]!.map((s) => s.trim());
  const columns: string[][] = names.map(() => new Array<string>(rows.length - 1));
  for (let r = 1; r < rows.length; r++) {
    const fields = rows[r]!;
    if (fields.length !== names.length) throw new Error(`CSV: data row ${r} has ${fields.length} fields, the header has ${names.length}`);
    for (let c = 0; c < names.length; c++) columns[c]![r - 1] = fields[c]!;
  }
  return { names, delimiter: delim, columns, rows: rows.length - 1 };
}

export function readCsvFile(file: string, delimiter?: string): CsvTable {
  return parseCsv(fs.readFileSync(file, 'utf8'), delimiter);
}

/** Typed column: numeric (NaN = missing) or categorical (null = missing). */
export type TypedColumn = Float64Array | (string | null)[];

/** Numeric when every non-missing value is a finite number; otherwise categorical (trimmed strings). */
export function typeColumn(values: readonly string[]): TypedColumn {
  const num = new Float64Array(values.length);
  let numeric = true;
  for (let i = 0; i < values.length; i++) {
    const s = values[i]!.trim();
    if (MISSING_TOKENS.has(s)) { num[i] = NaN; continue; }
    const v = Number(s);
    if (!Number.isFinite(v)) { numeric = false; break; }
    num[i] = v;
  }
  if (numeric) return num;
  return values.map((v) => {
    const s = v.trim();
    return MISSING_TOKENS.has(s) ? null : s;
  });
}
