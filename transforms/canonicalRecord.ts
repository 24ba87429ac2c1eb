/**
 * The byte-level fast path of CSV validation: decides, from a line's bytes alone, that the line is a record the
 * string path (CsvRecordSplitter → RecordClassifier → validateRow) would load with every value as written — or, for
 * a bool spelled Y/N/0/1/yes/no, as it rewrites it. It only ever says yes when that is certain: values already
 * canonical (no trimming, no reformatting), plain ASCII, no quote or CR, within every bound; anything else — a
 * reject, a value validation would rewrite, a character it does not reason about — is "no", and the caller reads
 * that line the string way. So the fast path
 * can make ingest faster but never change an outcome (tests/transforms/canonicalRecord.test.ts checks both ways).
 * Most lines of a bank extract are canonical: checked here without a string, an array or an object per row.
 */
import type { ColumnContract, SourceContract } from '../config/sources';
import { canonicalEndOfDay, type RowContext } from './validateRow';
import { daysInMonth } from './normalize';

const LF = 0x0a;
const SPACE = 0x20;
const QUOTE = 0x22;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;

type ColumnCheck =
  | { kind: 'text'; required: boolean; values: Uint8Array[] | null }
  | { kind: 'int'; required: boolean; min: number; max: number }
  | { kind: 'decimal'; required: boolean; minCents: number; maxCents: number }
  | { kind: 'date'; required: boolean; notAfter: Uint8Array | null }
  | { kind: 'timestamp'; required: boolean; notFrom: Uint8Array | null }
  | { kind: 'bool'; required: boolean };

/** Checks lines of one source against its contract; `fieldStarts`/`fieldEnds` hold the last checked line's fields. */
export class CanonicalRecordCheck {
  readonly fieldStarts: Int32Array;
  readonly fieldEnds: Int32Array;
  /**
   * Per field of the last line: the value validation writes for it when that is not the text itself (a bool
   * spelled Y, 0, Yes…: TRUE_VALUE or FALSE_VALUE), else 0; `rewritten` when any field has one. Such a line is
   * loaded with its values quoted, as validation's re-encoding writes it, not passed through.
   */
  readonly fieldValues: Uint8Array;
  rewritten = false;

  private constructor(private readonly columns: readonly ColumnCheck[]) {
    this.fieldStarts = new Int32Array(columns.length);
    this.fieldEnds = new Int32Array(columns.length);
    this.fieldValues = new Uint8Array(columns.length);
  }

  /**
   * The check for a source whose records go to COPY as they are (comma delimiter, double quote, the contract's
   * column order), or null when the fast path does not apply to it (another layout, a bound it does not decide
   * exactly, a future check without an as-of instant).
   */
  static forSource(contract: Pick<SourceContract, 'columns' | 'csv'>, inContractOrder: boolean, context: RowContext | undefined): CanonicalRecordCheck | null {
    if (!inContractOrder || contract.csv.delimiter !== ',' || contract.csv.quote !== '"') return null;
    const checks: ColumnCheck[] = [];
    for (const c of contract.columns) {
      const check = columnCheck(c, context);
      if (!check) return null;
      checks.push(check);
    }
    return new CanonicalRecordCheck(checks);
  }

  /**
   * When the record starting at `start` is one line that validation loads with every value as written (bools aside,
   * see fieldValues): the position of its line break (its fields are then at fieldStarts/fieldEnds; an empty field is NULL); else -1.
   * One pass over the line, each field read by its column's rule.
   */
  lineEnd(bytes: Uint8Array, start: number): number {
    const columns = this.columns;
    const n = columns.length;
    const size = bytes.length;
    let a = start;
    let rewritten = false;
    for (let f = 0; f < n; f++) {
      const term = f === n - 1 ? LF : COMMA;
      const c = columns[f]!;
      const b = fieldEnd(c, bytes, a, term, size);
      if (b < 0) return -1;
      this.fieldStarts[f] = a;
      this.fieldEnds[f] = b;
      if (c.kind === 'bool' && b > a) {
        const v = boolValue(bytes, a, b);
        this.fieldValues[f] = v;
        if (v !== 0) rewritten = true;
      } else this.fieldValues[f] = 0;
      a = b + 1;
    }
    this.rewritten = rewritten;
    // An empty line (one empty field) is no record at all.
    return a - 1 > start ? a - 1 : -1;
  }
}

function columnCheck(c: ColumnContract, context: RowContext | undefined): ColumnCheck | null {
  const required = c.required;
  switch (c.type) {
    case 'text':
      // Allowed values this path can match on bytes alone; a line holding another goes the string way.
      return { kind: 'text', required, values: c.values ? c.values.filter((v) => PLAIN_VALUE.test(v)).map((v) => Buffer.from(v, 'latin1')) : null };
    case 'int':
      return { kind: 'int', required, min: c.min ?? -Infinity, max: c.max ?? Infinity };
    case 'decimal': {
      // Whole-number bounds compare exactly in cents; a fractional bound is left to validateRow's float compare.
      if ((c.min !== undefined && !Number.isInteger(c.min)) || (c.max !== undefined && !Number.isInteger(c.max))) return null;
      return { kind: 'decimal', required, minCents: c.min === undefined ? -Infinity : c.min * 100, maxCents: c.max === undefined ? Infinity : c.max * 100 };
    }
    case 'date':
      return { kind: 'date', required, notAfter: c.notAfterAsOf && context ? Buffer.from(context.asOf, 'latin1') : null };
    case 'timestamp': {
      if (!c.notAfterAsOf || !context) return { kind: 'timestamp', required, notFrom: null };
      if (!Number.isFinite(context.asOfEndMs)) return null;
      return { kind: 'timestamp', required, notFrom: Buffer.from(canonicalEndOfDay(context.asOfEndMs), 'latin1') };
    }
    case 'bool':
      return { kind: 'bool', required };
  }
}

/**
 * The end of the field at `a` (the position of `term`) when its value is canonical for the column, else -1.
 * Printable ASCII only: quotes, CR, tabs and anything else go the string way (quoting, trimming, decoding).
 */
function fieldEnd(c: ColumnCheck, bytes: Uint8Array, a: number, term: number, size: number): number {
  if (a >= size) return -1;
  if (bytes[a] === term) return c.required ? -1 : a;
  switch (c.kind) {
    case 'text': {
      if (c.values !== null) {
        for (const v of c.values) if (bytes[a + v.length] === term && a + v.length < size && startsWith(bytes, a, v)) return a + v.length;
        return -1;
      }
      const b = plainEnd(bytes, a, term, size);
      // validateRow trims: a value with spaces around it is rewritten, so not this path's.
      return b < 0 || bytes[a] === SPACE || bytes[b - 1] === SPACE ? -1 : b;
    }
    case 'int': {
      // -?\d{1,15}: exact as a double, written back as it is.
      const neg = bytes[a] === MINUS ? 1 : 0;
      const b = digitsEnd(bytes, a + neg, size);
      const len = b - a - neg;
      if (len < 1 || len > 15 || b >= size || bytes[b] !== term) return -1;
      const v = (neg ? -1 : 1) * digitsAt(bytes, a + neg, len);
      return v >= c.min && v <= c.max ? b : -1;
    }
    case 'decimal': {
      // -?(0|[1-9]\d{0,12})\.\d\d, not negative zero: exactly what toFixed(2) of its own value prints (13 integer
      // digits keep the double within 0.001 of it). Other spellings are valid but rewritten, so not this path's.
      const neg = bytes[a] === MINUS ? 1 : 0;
      const b = digitsEnd(bytes, a + neg, size);
      const intLen = b - a - neg;
      if (intLen < 1 || intLen > 13 || (intLen > 1 && bytes[a + neg] === 0x30)) return -1;
      const whole = digitsAt(bytes, a + neg, intLen);
      if (b + 3 >= size || bytes[b] !== DOT || bytes[b + 3] !== term) return -1;
      const frac = digitsAt(bytes, b + 1, 2);
      if (frac < 0) return -1;
      const cents = whole * 100 + frac;
      if (neg && cents === 0) return -1;
      const v = neg ? -cents : cents;
      return v >= c.minCents && v <= c.maxCents ? b + 3 : -1;
    }
    case 'date': {
      const b = a + 10;
      if (b >= size || bytes[b] !== term || bytes[a + 4] !== MINUS || bytes[a + 7] !== MINUS) return -1;
      if (!realDate(digitsAt(bytes, a, 4), digitsAt(bytes, a + 5, 2), digitsAt(bytes, a + 8, 2))) return -1;
      return c.notAfter === null || compareBytes(bytes, a, c.notAfter) <= 0 ? b : -1;
    }
    case 'timestamp': {
      // YYYY-MM-DDTHH:MM:SS+08:00; before the end of the as-of day (same-length canonical text orders as instants).
      const b = a + 25;
      if (b >= size || bytes[b] !== term || !isCanonicalTimestampAt(bytes, a)) return -1;
      return c.notFrom === null || compareBytes(bytes, a, c.notFrom) < 0 ? b : -1;
    }
    case 'bool': {
      const b = plainEnd(bytes, a, term, size);
      return b >= 0 && (boolValue(bytes, a, b) !== 0 || equalsLower(bytes, a, b, BOOL_TRUE) || equalsLower(bytes, a, b, BOOL_FALSE)) ? b : -1;
    }
  }
}

export const TRUE_VALUE = 1;
export const FALSE_VALUE = 2;
const BOOL_TRUE = Buffer.from('true');
const BOOL_FALSE = Buffer.from('false');
/** validateRow's other spellings (compared lower-cased, as it does), by the value they stand for. */
const OTHER_BOOLS: [Buffer, number][] = [
  ['y', TRUE_VALUE],
  ['yes', TRUE_VALUE],
  ['1', TRUE_VALUE],
  ['n', FALSE_VALUE],
  ['no', FALSE_VALUE],
  ['0', FALSE_VALUE],
  ['TRUE', TRUE_VALUE],
  ['FALSE', FALSE_VALUE],
].map(([s, v]) => [Buffer.from(String(s).toLowerCase()), v as number]);

/**
 * For a bool field: TRUE_VALUE / FALSE_VALUE when validation rewrites it to that value, 0 when it is written as
 * validation writes it ("true", "false") — or not a bool at all (fieldEnd tells those apart).
 */
function boolValue(bytes: Uint8Array, a: number, b: number): number {
  if (b - a === 4 && startsWith(bytes, a, BOOL_TRUE)) return 0;
  if (b - a === 5 && startsWith(bytes, a, BOOL_FALSE)) return 0;
  for (const [spelling, value] of OTHER_BOOLS) if (equalsLower(bytes, a, b, spelling)) return value;
  return 0;
}

/** Whether bytes[a, b) lower-cased (ASCII letters) equals `lower`. */
function equalsLower(bytes: Uint8Array, a: number, b: number, lower: Uint8Array): boolean {
  if (b - a !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    const x = bytes[a + i]!;
    if ((x >= 0x41 && x <= 0x5a ? x + 0x20 : x) !== lower[i]) return false;
  }
  return true;
}

/** The position of `term` ending a field of printable ASCII other than quote and comma, else -1. */
function plainEnd(bytes: Uint8Array, a: number, term: number, size: number): number {
  for (let i = a; i < size; i++) {
    const x = bytes[i]!;
    if (x === term) return i;
    if (x < 0x20 || x > 0x7e || x === QUOTE || x === COMMA) return -1;
  }
  return -1;
}

/** Printable ASCII without quote or comma, no space at either end. */
const PLAIN_VALUE = /^[\x21\x23-\x2b\x2d-\x7e]([\x20\x21\x23-\x2b\x2d-\x7e]*[\x21\x23-\x2b\x2d-\x7e])?$/;
const TS_SUFFIX = Buffer.from('+08:00');

function isCanonicalTimestampAt(bytes: Uint8Array, a: number): boolean {
  if (bytes[a + 4] !== MINUS || bytes[a + 7] !== MINUS || bytes[a + 10] !== 0x54 || bytes[a + 13] !== 0x3a || bytes[a + 16] !== 0x3a) return false;
  for (let i = 0; i < 6; i++) if (bytes[a + 19 + i] !== TS_SUFFIX[i]) return false;
  const hh = digitsAt(bytes, a + 11, 2);
  const mm = digitsAt(bytes, a + 14, 2);
  const ss = digitsAt(bytes, a + 17, 2);
  return hh >= 0 && hh <= 23 && mm >= 0 && mm <= 59 && ss >= 0 && ss <= 59 && realDate(digitsAt(bytes, a, 4), digitsAt(bytes, a + 5, 2), digitsAt(bytes, a + 8, 2));
}

/** validateRow's calendar check (-1 = not digits). */
function realDate(y: number, m: number, d: number): boolean {
  return y >= 1000 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
}

/** The end of the run of ASCII digits starting at `from`. */
function digitsEnd(bytes: Uint8Array, from: number, size: number): number {
  let i = from;
  while (i < size && bytes[i]! >= 0x30 && bytes[i]! <= 0x39) i++;
  return i;
}

/** The decimal number of bytes[from, from + count) when all are ASCII digits, else -1. */
function digitsAt(bytes: Uint8Array, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const c = bytes[i]! - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

function startsWith(bytes: Uint8Array, a: number, v: Uint8Array): boolean {
  for (let i = 0; i < v.length; i++) if (bytes[a + i] !== v[i]) return false;
  return true;
}

/** Compares bytes[a, a + v.length) with v, as strings of one-byte characters compare. */
function compareBytes(bytes: Uint8Array, a: number, v: Uint8Array): number {
  for (let i = 0; i < v.length; i++) {
    const d = bytes[a + i]! - v[i]!;
    if (d !== 0) return d;
  }
  return 0;
}
