import { buildResultRows, uncollectedResultRow, type ArmGroup } from '../../transforms/outcomeResults';

const campaign = { id: 'cl_test', costPerContact: 0.5, valuePerConversion: 100 };
const arm = (contacts: number, conversions: number) => ({ contacts, conversions });
const groups: ArmGroup[] = [
  { dimension: 'score_decile', value: '10', treatment: arm(10, 2), control: arm(5, 1) },
  { dimension: 'channel', value: 'sms', treatment: arm(20, 6), control: arm(10, 2) },
  { dimension: 'score_decile', value: '2', treatment: arm(10, 4), control: arm(5, 1) },
  { dimension: 'campaign', value: 'all', treatment: arm(20, 6), control: arm(10, 2) },
];

describe('buildResultRows', () => {
  const rows = buildResultRows(campaign, groups, { status: 'final', finalOn: '2026-12-20', observedThrough: '2026-12-20' });

  it('sorts campaign, segment, channel, then deciles numerically', () => {
    expect(rows.map((r) => `${r.dimension}:${r.dimension_value}`)).toEqual(['campaign:all', 'channel:sms', 'score_decile:2', 'score_decile:10']);
  });

  it('campaign row by hand: rates 0.3 vs 0.2, 2 incremental conversions, cost 10, value 600, ROI (200 − 10)/10 = 19', () => {
    const all = rows[0]!;
    expect(all.treatment_rate).toBeCloseTo(0.3, 12);
    expect(all.control_rate).toBeCloseTo(0.2, 12);
    expect(all.absolute_lift).toBeCloseTo(0.1, 12);
    expect(all.relative_lift).toBeCloseTo(0.5, 12);
    expect(all.incremental_conversions).toBeCloseTo(2, 9);
    expect(all.cost).toBeCloseTo(10, 12);
    expect(all.value).toBeCloseTo(600, 12);
    expect(all.incremental_value).toBeCloseTo(200, 9);
    expect(all.roi).toBeCloseTo(19, 9);
    // Qini of the two deciles (see lift.test.ts): (1.5 − 1) / 20 treated contacts.
    expect(all.qini_coefficient).toBeCloseTo(0.025, 12);
    expect(all.absolute_lift_lo!).toBeLessThan(0.1);
    expect(all.absolute_lift_newcombe_hi!).toBeGreaterThan(0.1);
  });

  it('decile rows carry cumulative uplift@k and Qini from the best decile down', () => {
    const [d2, d10] = [rows[2]!, rows[3]!];
    expect(d2.uplift_at_k).toBeCloseTo(0.2, 12);
    expect(d2.qini).toBeCloseTo(2, 12);
    expect(d10.uplift_at_k).toBeCloseTo(0.1, 12);
    expect(d10.qini).toBeCloseTo(2, 12);
    expect(rows[1]!.uplift_at_k).toBeNull();
    expect(rows[1]!.qini_coefficient).toBeNull();
  });
});

describe('pending outcomes', () => {
  const rows = buildResultRows(campaign, groups, { status: 'pending', finalOn: '2026-12-20', observedThrough: '2026-12-05' });

  it('an open window keeps the counts so far and the cost, and computes no rate, lift, value or ROI', () => {
    const all = rows.find((r) => r.dimension === 'campaign')!;
    expect(all).toMatchObject({ status: 'pending', final_on: '2026-12-20', observed_through: '2026-12-05', treatment_contacts: 20, treatment_conversions: 6, control_contacts: 10, control_conversions: 2, cost: 10 });
    for (const r of rows) {
      for (const k of ['treatment_rate', 'control_rate', 'absolute_lift', 'relative_lift', 'incremental_conversions', 'value', 'incremental_value', 'roi', 'uplift_at_k', 'qini', 'qini_coefficient'] as const) expect(r[k]).toBeNull();
    }
  });

  it('a campaign never collected has contacts and cost, and unknown (null, not 0) conversions', () => {
    const row = uncollectedResultRow(campaign, { treatment: 40, control: 7 }, '2026-12-20');
    expect(row).toMatchObject({ dimension: 'campaign', status: 'pending', final_on: '2026-12-20', observed_through: null, treatment_contacts: 40, control_contacts: 7, treatment_conversions: null, control_conversions: null, cost: 20, roi: null, absolute_lift: null });
  });
});
