import { assertPointInTimeFeatures, decidePromotion, holdoutMetrics, LeakageError, priorCorrect, priorCorrectAll, timeSplit, type DatedLabel } from '../../models/lifecycle';

const day = (d: number) => `2026-10-${String(d).padStart(2, '0')}`;

describe('timeSplit', () => {
  const rows: DatedLabel[] = [];
  // 10 days, day d has d rows: 55 rows in all.
  for (let d = 1; d <= 10; d++) for (let k = 0; k < d; k++) rows.push({ as_of: day(d), label: (k % 3 === 0 ? 1 : 0) as 0 | 1 });

  it('holds out the latest whole days, never splitting a day, about the requested share', () => {
    const s = timeSplit(rows, 0.2);
    // 0.2 × 55 = 11: day 10 (10 rows) fits, adding day 9 (19) would not.
    expect(s.holdoutFrom).toBe(day(10));
    expect(s.holdout.length).toBe(10);
    expect(s.train.length + s.holdout.length).toBe(rows.length);
    const trainDays = new Set(s.train.map((i) => rows[i]!.as_of));
    const holdDays = new Set(s.holdout.map((i) => rows[i]!.as_of));
    for (const d of holdDays) expect(trainDays.has(d)).toBe(false);
    const latestTrain = [...trainDays].sort().pop()!;
    for (const d of holdDays) expect(d > latestTrain).toBe(true);
  });

  it('grows the holdout by whole days up to the share', () => {
    const s = timeSplit(rows, 0.5);
    // 27.5: days 10, 9 and 8 = 27 rows.
    expect(s.holdoutFrom).toBe(day(8));
    expect(s.holdout.length).toBe(27);
  });

  it('holds out the latest day even when it alone exceeds the share, and keeps the first day for training', () => {
    const skewed: DatedLabel[] = [{ as_of: day(1), label: 0 }, { as_of: day(2), label: 1 }, { as_of: day(2), label: 0 }, { as_of: day(2), label: 1 }];
    const s = timeSplit(skewed, 0.1);
    expect(s.holdoutFrom).toBe(day(2));
    expect(s.train).toEqual([0]);
  });

  it('has no holdout with a single day and rejects a share outside (0, 1)', () => {
    expect(timeSplit([{ as_of: day(1), label: 1 }, { as_of: day(1), label: 0 }], 0.3)).toEqual({ holdoutFrom: null, train: [0, 1], holdout: [] });
    expect(() => timeSplit(rows, 0)).toThrow(RangeError);
    expect(() => timeSplit(rows, 1)).toThrow(RangeError);
  });
});

describe('priorCorrect', () => {
  it('maps 0.5 (no evidence under balanced weights) to the population rate', () => {
    expect(priorCorrect(0.5, 0.1)).toBeCloseTo(0.1, 12);
  });

  it('multiplies the odds by the population odds', () => {
    // p = 0.8 → odds 4; population 0.2 → odds 0.25; corrected odds 1 → 0.5.
    expect(priorCorrect(0.8, 0.2)).toBeCloseTo(0.5, 12);
    expect(priorCorrect(0, 0.2)).toBe(0);
    expect(priorCorrect(1, 0.2)).toBe(1);
  });

  it('keeps the order of scores (AUC unchanged) and rejects a degenerate rate', () => {
    const p = [0.1, 0.7, 0.3, 0.9, 0.5];
    const c = Array.from(priorCorrectAll(p, 0.05));
    const order = (xs: number[]) => xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]).map((x) => x[1]);
    expect(order(c)).toEqual(order(p));
    expect(() => priorCorrect(0.5, 0)).toThrow(RangeError);
    expect(() => priorCorrect(0.5, 1)).toThrow(RangeError);
  });
});

describe('holdoutMetrics', () => {
  it('computes AUC, PR AUC, log loss, top-decile capture and tables on hand-checkable data', () => {
    // Perfectly ranked: the two positives on top.
    const probs = [0.9, 0.8, 0.3, 0.2, 0.1, 0.1, 0.05, 0.05, 0.02, 0.01];
    const labels = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    const m = holdoutMetrics(probs, labels);
    expect(m.rows).toBe(10);
    expect(m.positives).toBe(2);
    expect(m.auc).toBe(1);
    expect(m.pr_auc).toBe(1);
    // −(ln 0.9 + ln 0.8 + ln 0.7 + ln 0.8 + 2 ln 0.9 + 2 ln 0.95 + ln 0.98 + ln 0.99) / 10
    const expected = -(Math.log(0.9) + Math.log(0.8) + Math.log(0.7) + Math.log(0.8) + 2 * Math.log(0.9) + 2 * Math.log(0.95) + Math.log(0.98) + Math.log(0.99)) / 10;
    expect(m.log_loss).toBeCloseTo(expected, 4);
    expect(m.top_decile_capture).toBe(0.5);
    expect(m.gains).toHaveLength(10);
    expect(m.calibration.reduce((s, b) => s + b.rows, 0)).toBe(10);
  });
});

describe('decidePromotion', () => {
  const base = { holdoutRows: 400, holdoutPositives: 40, minHoldoutPositives: 20 };

  it('promotes the first model of a product', () => {
    expect(decidePromotion({ ...base, candidateAuc: 0.6, championAuc: null })).toMatchObject({ promote: true, reason: 'no_champion' });
  });

  it('promotes a candidate at least as good as the champion on the same holdout, and only then', () => {
    expect(decidePromotion({ ...base, candidateAuc: 0.75, championAuc: 0.75 })).toMatchObject({ promote: true, reason: 'at_least_as_good' });
    expect(decidePromotion({ ...base, candidateAuc: 0.76, championAuc: 0.75 })).toMatchObject({ promote: true, reason: 'at_least_as_good' });
    const worse = decidePromotion({ ...base, candidateAuc: 0.7499, championAuc: 0.75 });
    expect(worse).toMatchObject({ promote: false, reason: 'worse_than_champion' });
    expect(worse.detail).toContain('0.7499 < champion AUC 0.7500');
  });

  it('ignores differences below the 4th decimal', () => {
    expect(decidePromotion({ ...base, candidateAuc: 0.749996, championAuc: 0.75 }).promote).toBe(true);
  });

  it('keeps the champion when the holdout cannot judge', () => {
    expect(decidePromotion({ ...base, holdoutPositives: 5, candidateAuc: 0.9, championAuc: 0.6 })).toMatchObject({ promote: false, reason: 'holdout_too_small' });
    expect(decidePromotion({ ...base, holdoutRows: 50, holdoutPositives: 40, candidateAuc: 0.9, championAuc: 0.6 })).toMatchObject({ promote: false, reason: 'holdout_too_small' });
    expect(decidePromotion({ ...base, candidateAuc: NaN, championAuc: 0.6 })).toMatchObject({ promote: false, reason: 'holdout_too_small' });
  });
});

describe('assertPointInTimeFeatures', () => {
  const pit = new Set(['total_deposits', 'loan_views_30d', 'age']);

  it('accepts point-in-time tags', () => {
    expect(() => assertPointInTimeFeatures(['total_deposits', 'age'], pit)).not.toThrow();
  });

  it('rejects a feature built from post-contact data, naming every offender', () => {
    expect(() => assertPointInTimeFeatures(['total_deposits', 'converted_at', 'call_duration'], pit)).toThrow(LeakageError);
    expect(() => assertPointInTimeFeatures(['converted_at', 'call_duration'], pit)).toThrow(/not allowed: converted_at, call_duration/);
  });
});
