import { describeFailures, evaluateGates, type SourceMeasurements } from '../../transforms/qualityGates';

const base: SourceMeasurements = { source: 'transactions', rowsIn: 1000, loaded: 990, quarantined: 10, duplicateKeys: 4, previousRowsIn: 1100, freshnessAgeDays: 0.5, nullRates: { phone: 0.1 } };
const gates = {
  minRows: { min: 1, severity: 'fail' as const },
  volumeDrop: { minRatio: 0.5, severity: 'fail' as const },
  duplicateKeys: { maxRate: 0.01, severity: 'fail' as const },
  freshness: { column: 'txn_ts', maxAgeDays: 2, severity: 'fail' as const },
  nullRates: { columns: ['phone'], max: 0.2, severity: 'warn' as const },
};

describe('evaluateGates', () => {
  it('passes every check of a healthy source and reports what it measured', () => {
    const checks = evaluateGates(gates, base, 0.05);
    expect(checks.map((c) => [c.check, c.status, c.measured, c.threshold])).toEqual([
      ['min_rows', 'pass', 1000, 1],
      ['reject_rate', 'pass', 0.01, 0.05],
      ['duplicate_keys', 'pass', 0.004, 0.01],
      ['volume_drop', 'pass', 0.909091, 0.5],
      ['freshness', 'pass', 0.5, 2],
      ['null_rate:phone', 'pass', 0.1, 0.2],
    ]);
    expect(describeFailures(checks)).toBeNull();
  });

  it('fails or warns each gate by its severity and lists every failure in one message', () => {
    const bad = { ...base, rowsIn: 400, quarantined: 100, duplicateKeys: 50, freshnessAgeDays: 5, nullRates: { phone: 0.5 } };
    const checks = evaluateGates(gates, bad, 0.05);
    expect(Object.fromEntries(checks.map((c) => [c.check, c.status]))).toEqual({
      min_rows: 'pass', reject_rate: 'fail', duplicate_keys: 'fail', volume_drop: 'fail', freshness: 'fail', 'null_rate:phone': 'warn',
    });
    const message = describeFailures(checks)!;
    expect(message).toMatch(/^quality gates failed: transactions: reject rate 25\.00% > 5\.00% \(100 of 400\) \[reject_rate\]; /);
    for (const check of ['duplicate_keys', 'volume_drop', 'freshness']) expect(message).toContain(`[${check}]`);
    expect(message).not.toContain('null_rate');
  });

  it('an empty source fails min_rows unless the contract allows it; a missing baseline passes volume_drop unmeasured', () => {
    const empty = { ...base, rowsIn: 0, loaded: 0, quarantined: 0, duplicateKeys: 0, previousRowsIn: null, freshnessAgeDays: null };
    const strict = evaluateGates({ minRows: gates.minRows, volumeDrop: gates.volumeDrop }, empty, 0.05);
    expect(strict.map((c) => [c.check, c.status, c.measured])).toEqual([['min_rows', 'fail', 0], ['reject_rate', 'pass', 0], ['volume_drop', 'pass', null]]);
    const lenient = evaluateGates({ minRows: { min: 0, severity: 'fail' } }, empty, 0.05);
    expect(lenient.every((c) => c.status === 'pass')).toBe(true);
  });

  it('a contract reject-rate limit overrides the run default', () => {
    const [, reject] = evaluateGates({ maxRejectRate: { max: 0.001, severity: 'warn' } }, base, 0.05);
    expect(reject).toMatchObject({ check: 'reject_rate', status: 'warn', threshold: 0.001 });
  });
});
