import type { Encoding, SourceContract } from '../config/sources';
import { endOfDayMs } from '../transforms/validateRow';
import { readSourceRows } from './sourceRows';

export interface ValidationReport {
  source: string;
  file: string;
  encoding: string;
  rows_in: number;
  valid: number;
  quarantined: number;
  reasons: Record<string, number>;
}

// A JS Set holds at most 2^24 entries; past this many rows duplicate keys are no longer looked for.
const DUPLICATE_CHECK_ROWS = 10_000_000;

/**
 * Validates one file against its source contract with the ingest stage's reader and row checks, without a
 * database: duplicate primary keys are counted in memory (first occurrence valid, as ingest keeps it).
 * Throws SourceReadError when the file cannot be read as that source.
 */
export async function validateSourceFile({ contract, file, asOf, timezone, encoding }: { contract: SourceContract; file: string; asOf: string; timezone: string; encoding?: Encoding }): Promise<ValidationReport> {
  const reasons: Record<string, number> = {};
  const seen = new Set<string>();
  const keyIndexes = contract.primaryKey.map((k) => contract.columns.findIndex((c) => c.name === k));
  let rowsIn = 0;
  let quarantined = 0;
  const context = { asOf, asOfEndMs: endOfDayMs(asOf, timezone) };
  for await (const batch of readSourceRows({ contract, file, context, encoding })) {
    for (const row of batch) {
      rowsIn++;
      let reason: string | null = row.ok ? null : row.reasonCode;
      if (row.ok && rowsIn <= DUPLICATE_CHECK_ROWS) {
        const key = keyIndexes.map((i) => row.values[i]).join('\u0000');
        if (seen.has(key)) reason = 'duplicate_key';
        else seen.add(key);
      }
      if (reason) {
        quarantined++;
        reasons[reason] = (reasons[reason] ?? 0) + 1;
      }
    }
  }
  const sorted = Object.fromEntries(Object.entries(reasons).sort(([a], [b]) => a.localeCompare(b)));
  return { source: contract.name, file, encoding: encoding ?? contract.csv.encoding, rows_in: rowsIn, valid: rowsIn - quarantined, quarantined, reasons: sorted };
}
