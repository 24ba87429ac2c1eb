import type { QualityGates } from '../config/sources';

export type CheckStatus = 'pass' | 'warn' | 'fail';

/** One data-quality check of one source in one run (a row of audit.quality_checks and quality.parquet). */
export interface QualityCheck {
  source: string;
  check: string;
  status: CheckStatus;
  severity: 'fail' | 'warn';
  /** What was measured (a rate, a ratio, days, rows); null when it could not be measured. */
  measured: number | null;
  threshold: number;
  message: string;
}

/** What the ingest of one source measured; the gates turn it into checks. */
export interface SourceMeasurements {
  source: string;
  rowsIn: number;
  loaded: number;
  quarantined: number;
  duplicateKeys: number;
  /** Rows in of the same source in the latest successful run of an earlier as-of date; null when none. */
  previousRowsIn: number | null;
  /** Days from the newest value of the freshness column to the end of the as-of day; null without loaded rows. */
  freshnessAgeDays: number | null;
  /** Share of loaded rows with NULL, per column named in the nullRates gate. */
  nullRates: Record<string, number>;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const round = (x: number) => Math.round(x * 1e6) / 1e6;

/**
 * Applies a source's gates to its measurements. `defaultMaxRejectRate` (portrait.yaml quality.maxRejectRate) is the
 * reject-rate limit where the contract sets none. Checks come out in a fixed order.
 */
export function evaluateGates(gates: QualityGates, m: SourceMeasurements, defaultMaxRejectRate: number): QualityCheck[] {
  const checks: QualityCheck[] = [];
  const add = (check: string, severity: 'fail' | 'warn', ok: boolean, measured: number | null, threshold: number, message: string) =>
    checks.push({ source: m.source, check, severity, status: ok ? 'pass' : severity, measured: measured === null ? null : round(measured), threshold, message });

  const minRows = gates.minRows ?? { min: 1, severity: 'fail' as const };
  add('min_rows', minRows.severity, m.rowsIn >= minRows.min, m.rowsIn, minRows.min, `${m.rowsIn} data rows (minimum ${minRows.min})`);

  const reject = gates.maxRejectRate ?? { max: defaultMaxRejectRate, severity: 'fail' as const };
  const rejectRate = m.rowsIn > 0 ? m.quarantined / m.rowsIn : 0;
  add('reject_rate', reject.severity, rejectRate <= reject.max, rejectRate, reject.max, `reject rate ${pct(rejectRate)} ${rejectRate <= reject.max ? '≤' : '>'} ${pct(reject.max)} (${m.quarantined} of ${m.rowsIn})`);

  if (gates.duplicateKeys) {
    const { maxRate, severity } = gates.duplicateKeys;
    const rate = m.rowsIn > 0 ? m.duplicateKeys / m.rowsIn : 0;
    add('duplicate_keys', severity, rate <= maxRate, rate, maxRate, `duplicate primary keys ${pct(rate)} ${rate <= maxRate ? '≤' : '>'} ${pct(maxRate)} (${m.duplicateKeys} rows)`);
  }

  if (gates.volumeDrop) {
    const { minRatio, severity } = gates.volumeDrop;
    if (m.previousRowsIn === null || m.previousRowsIn === 0) {
      add('volume_drop', severity, true, null, minRatio, 'no earlier successful run with rows to compare with');
    } else {
      const ratio = m.rowsIn / m.previousRowsIn;
      add('volume_drop', severity, ratio >= minRatio, ratio, minRatio, `${m.rowsIn} rows = ${pct(ratio)} of the previous run's ${m.previousRowsIn} (minimum ${pct(minRatio)})`);
    }
  }

  if (gates.freshness) {
    const { column, maxAgeDays, severity } = gates.freshness;
    const age = m.freshnessAgeDays;
    if (age === null) add('freshness', severity, false, null, maxAgeDays, `no loaded ${column} to measure freshness`);
    else add('freshness', severity, age <= maxAgeDays, age, maxAgeDays, `newest ${column} is ${age.toFixed(2)} days before the end of the as-of date (maximum ${maxAgeDays})`);
  }

  if (gates.nullRates) {
    const { columns, max, severity } = gates.nullRates;
    for (const column of columns) {
      const rate = m.nullRates[column] ?? 0;
      add(`null_rate:${column}`, severity, rate <= max, rate, max, `${column} is empty in ${pct(rate)} of loaded rows (maximum ${pct(max)})`);
    }
  }
  return checks;
}

/** The one-line reason a run stops: every failed check, source by source. */
export function describeFailures(checks: readonly QualityCheck[]): string | null {
  const failed = checks.filter((c) => c.status === 'fail');
  if (failed.length === 0) return null;
  return `quality gates failed: ${failed.map((c) => `${c.source}: ${c.message} [${c.check}]`).join('; ')}`;
}
