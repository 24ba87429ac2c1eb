import type { ColumnContract, SourceContract } from '../config/sources';
import { parseAmount, parseDate, parseTimestamp } from './normalize';

export type RowVerdict =
  | { ok: true; values: (string | null)[] }
  | { ok: false; reasonCode: string; message: string };

const BOOLS: Record<string, string> = { y: 'true', yes: 'true', '1': 'true', true: 'true', n: 'false', no: 'false', '0': 'false', false: 'false' };

/**
 * Checks one raw CSV record against its source contract and returns typed text values ready for COPY
 * (null = SQL NULL). Messages name the column but never echo a PII value.
 */
export function validateRow(contract: SourceContract, record: readonly string[]): RowVerdict {
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

function parseValue(column: ColumnContract, raw: string): Parsed {
  const shown = column.pii ? 'value' : JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}…` : raw);
  switch (column.type) {
    case 'text':
      if (column.values && !column.values.includes(raw)) {
        return { ok: false, reasonCode: 'bad_enum', message: `${shown} is not one of ${column.values.join('|')}` };
      }
      return { ok: true, value: raw };
    case 'int': {
      if (!/^-?\d{1,15}$/.test(raw)) return { ok: false, reasonCode: 'bad_number', message: `${shown} is not an integer` };
      return checkMin(column, Number(raw), raw);
    }
    case 'decimal': {
      const n = parseAmount(raw);
      if (n === null || !Number.isFinite(n) || Math.abs(n) >= 1e15) return { ok: false, reasonCode: 'bad_number', message: `${shown} is not an amount` };
      return checkMin(column, n, n.toFixed(2));
    }
    case 'date': {
      const d = parseDate(raw);
      return d ? { ok: true, value: d } : { ok: false, reasonCode: 'bad_date', message: `${shown} is not a valid date` };
    }
    case 'timestamp': {
      const ts = parseTimestamp(raw);
      return ts ? { ok: true, value: ts } : { ok: false, reasonCode: 'bad_timestamp', message: `${shown} is not a valid timestamp` };
    }
    case 'bool': {
      const b = BOOLS[raw.toLowerCase()];
      return b ? { ok: true, value: b } : { ok: false, reasonCode: 'bad_bool', message: `${shown} is not Y/N` };
    }
  }
}

function checkMin(column: ColumnContract, n: number, value: string): Parsed {
  if (column.min !== undefined && n < column.min) {
    const reasonCode = n < 0 ? 'negative_amount' : 'out_of_range';
    return { ok: false, reasonCode, message: `${column.pii ? 'value' : n} is below the minimum ${column.min}` };
  }
  return { ok: true, value };
}

/** Masks PII columns of a raw record for the quarantine table: keeps the first character and the length. */
export function maskRecord(contract: SourceContract, header: readonly string[], record: readonly string[]): Record<string, string> {
  const pii = new Set(contract.columns.filter((c) => c.pii).map((c) => c.name));
  const out: Record<string, string> = {};
  record.forEach((value, i) => {
    const name = header[i] ?? `column_${i + 1}`;
    const chars = [...value];
    out[name] = pii.has(name) && chars.length > 0 ? chars[0] + '*'.repeat(chars.length - 1) : value.slice(0, 200);
  });
  return out;
}
