import type { ColumnContract, SourceContract } from '../config/sources';
import { daysInMonth, parseAmount, parseDate, parseTimestamp } from './normalize';

export type RowVerdict =
  | { ok: true; values: (string | null)[] }
  | { ok: false; reasonCode: string; message: string };

// A Map, not an object literal: a cell reading "constructor" or "__proto__" must not find Object.prototype's members.
const BOOLS = new Map(Object.entries({ y: 'true', yes: 'true', '1': 'true', true: 'true', n: 'false', no: 'false', '0': 'false', false: 'false' }));

/** What a row is checked against besides its contract: the end of the as-of day, for notAfterAsOf columns. */
export interface RowContext {
  /** As-of date (YYYY-MM-DD): a date column later than this is in the future. */
  asOf: string;
  /** End of the as-of day in the run's time zone, epoch milliseconds: a later timestamp is in the future. */
  asOfEndMs: number;
}

/**
 * Checks one raw record against its source contract and returns typed text values ready for COPY
 * (null = SQL NULL). Messages name the column but never echo a PII value.
 */
export function validateRow(contract: Pick<SourceContract, 'columns'>, record: readonly string[], context?: RowContext): RowVerdict {
  if (record.length !== contract.columns.length) {
    return { ok: false, reasonCode: 'column_count', message: `expected ${contract.columns.length} columns, found ${record.length}` };
  }
  const values: (string | null)[] = new Array(record.length);
  for (let i = 0; i < contract.columns.length; i++) {
    const column = contract.columns[i]!;
    const raw = record[i]!.trim();
    if (raw === '') {
      if (column.required) return { ok: false, reasonCode: 'missing_required', message: `${column.name} is empty` };
      values[i] = null;
      continue;
    }
    const parsed = parseValue(column, raw);
    if (parsed.ok && column.notAfterAsOf && context && isFuture(column, parsed.value, context)) {
      return { ok: false, reasonCode: 'future_date', message: `${column.name}: ${parsed.value} is after the as-of date ${context.asOf}` };
    }
    if (parsed.ok) {
      values[i] = parsed.value;
    } else if (column.nullOnInvalid) {
      values[i] = null;
    } else {
      return { ok: false, reasonCode: parsed.reasonCode, message: `${column.name}: ${parsed.message}` };
    }
  }
  return { ok: true, values };
}

type Parsed = { ok: true; value: string } | { ok: false; reasonCode: string; message: string };

// Fast paths for values already in canonical form (what most extracts carry): same result as the general parsers.
const CANONICAL_DECIMAL = /^-?\d{1,15}(\.\d{1,2})?$/;
const CANONICAL_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const CANONICAL_TIMESTAMP_SUFFIX = '+08:00';

/** YYYY-MM-DDTHH:MM:SS+08:00 naming a real date and time (checked by character codes: no regex match arrays). */
function isCanonicalTimestamp(raw: string): boolean {
  if (raw.length !== 25 || !raw.endsWith(CANONICAL_TIMESTAMP_SUFFIX)) return false;
  if (raw.charCodeAt(4) !== 45 || raw.charCodeAt(7) !== 45 || raw.charCodeAt(10) !== 84 || raw.charCodeAt(13) !== 58 || raw.charCodeAt(16) !== 58) return false;
  const y = digits(raw, 0, 4);
  const m = digits(raw, 5, 2);
  const d = digits(raw, 8, 2);
  const hh = digits(raw, 11, 2);
  const mm = digits(raw, 14, 2);
  const ss = digits(raw, 17, 2);
  return y >= 0 && m >= 0 && d >= 0 && hh >= 0 && hh <= 23 && mm >= 0 && mm <= 59 && ss >= 0 && ss <= 59 && isRealDate(y, m, d);
}

/** The decimal number of raw[from, from + count) when all are ASCII digits, else -1. */
function digits(raw: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const c = raw.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

function isRealDate(y: number, m: number, d: number): boolean {
  return y >= 1000 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
}

function parseValue(column: ColumnContract, raw: string): Parsed {
  const shown = () => (column.pii ? 'value' : JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}…` : raw));
  switch (column.type) {
    case 'text':
      if (column.values && !column.values.includes(raw)) {
        return { ok: false, reasonCode: 'bad_enum', message: `${shown()} is not one of ${column.values.join('|')}` };
      }
      return { ok: true, value: raw };
    case 'int': {
      if (!/^-?\d{1,15}$/.test(raw)) return { ok: false, reasonCode: 'bad_number', message: `${shown()} is not an integer` };
      return checkMin(column, Number(raw), raw);
    }
    case 'decimal': {
      const n = CANONICAL_DECIMAL.test(raw) ? Number(raw) : parseAmount(raw);
      if (n === null || !Number.isFinite(n) || Math.abs(n) >= 1e15) return { ok: false, reasonCode: 'bad_number', message: `${shown()} is not an amount` };
      return checkMin(column, n, n.toFixed(2));
    }
    case 'date': {
      const m = CANONICAL_DATE.exec(raw);
      const d = m && isRealDate(Number(m[1]), Number(m[2]), Number(m[3])) ? raw : parseDate(raw);
      return d ? { ok: true, value: d } : { ok: false, reasonCode: 'bad_date', message: `${shown()} is not a valid date` };
    }
    case 'timestamp': {
      const ts = isCanonicalTimestamp(raw) ? raw : parseTimestamp(raw);
      return ts ? { ok: true, value: ts } : { ok: false, reasonCode: 'bad_timestamp', message: `${shown()} is not a valid timestamp` };
    }
    case 'bool': {
      const b = BOOLS.get(raw.toLowerCase());
      return b ? { ok: true, value: b } : { ok: false, reasonCode: 'bad_bool', message: `${shown()} is not Y/N` };
    }
  }
}

function checkMin(column: ColumnContract, n: number, value: string): Parsed {
  if (column.min !== undefined && n < column.min) {
    const reasonCode = n < 0 ? 'negative_amount' : 'out_of_range';
    return { ok: false, reasonCode, message: `${column.pii ? 'value' : n} is below the minimum ${column.min}` };
  }
  if (column.max !== undefined && n > column.max) {
    return { ok: false, reasonCode: 'out_of_range', message: `${column.pii ? 'value' : n} is above the maximum ${column.max}` };
  }
  return { ok: true, value };
}

function isFuture(column: ColumnContract, value: string, context: RowContext): boolean {
  if (column.type === 'date') return value > context.asOf;
  // Canonical +08:00 timestamps of one length order like their instants: compare text with the end of the day.
  if (value.length === 25 && value.charCodeAt(10) === 84 && value.endsWith(CANONICAL_TIMESTAMP_SUFFIX) && Number.isFinite(context.asOfEndMs)) return value >= canonicalEndOfDay(context.asOfEndMs);
  return Date.parse(value) >= context.asOfEndMs;
}

let lastEndMs = NaN;
let lastEnd = '';

/** The instant, up to the next whole second, as YYYY-MM-DDTHH:MM:SS+08:00 (cached: one as-of day per run). */
export function canonicalEndOfDay(ms: number): string {
  if (ms !== lastEndMs) {
    lastEnd = new Date(Math.ceil(ms / 1000) * 1000 + 8 * 3_600_000).toISOString().slice(0, 19) + CANONICAL_TIMESTAMP_SUFFIX;
    lastEndMs = ms;
  }
  return lastEnd;
}

/** End of a calendar day in an IANA time zone (the next local midnight), as epoch milliseconds. */
export function endOfDayMs(day: string, timezone: string): number {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const localMidnight = Date.UTC(y, m - 1, d + 1);
  let guess = localMidnight;
  // Two rounds settle the offset even when the next midnight is near a DST change.
  for (let i = 0; i < 2; i++) guess = localMidnight - zoneOffsetMs(timezone, guess);
  return guess;
}

function zoneOffsetMs(timezone: string, ms: number): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second')) - Math.floor(ms / 1000) * 1000;
}

/**
 * Masks PII columns of a raw record for the quarantine table: keeps the first character and the length (values
 * cut at 200 characters). When the record does not line up with the header, a PII value may sit under any
 * column, so every value of a source with PII columns is masked.
 */
export function maskRecord(contract: Pick<SourceContract, 'columns'>, header: readonly string[], record: readonly string[]): Record<string, string> {
  const pii = new Set(contract.columns.filter((c) => c.pii).map((c) => c.name));
  const maskAll = pii.size > 0 && record.length !== header.length;
  const out: Record<string, string> = {};
  record.forEach((value, i) => {
    const name = header[i] ?? `column_${i + 1}`;
    const head = value.slice(0, 200);
    out[name] = (maskAll || pii.has(name)) && head.length > 0 ? mask(head) : head;
  });
  return out;
}

function mask(value: string): string {
  const chars = [...value];
  return chars[0] + '*'.repeat(chars.length - 1);
}
