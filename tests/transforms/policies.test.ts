import type { CampaignConfig } from '../../config/schema';
import {
  POLICY_ORDER, arbitrate, assignArm, assignControl, batchKey, checkControlShare, expectedControlShare, firstFailedPolicy, idempotencyKey, inQuietHours,
  isCampaignActive, stableUnit, type Candidate, type EligiblePair, type Policies,
} from '../../transforms/policies';

const policies: Policies = {
  maxOverdueDaysForLoanOffer: 30,
  highRiskCreditBands: ['substandard', 'doubtful'],
  frequencyCap: { contacts: 2, days: 7 },
  channelDailyCap: 1,
  cooldownDays: { conversion: 30, refusal: 14 },
  quietHours: { start: '21:00', end: '08:00', channels: ['sms', 'call'] },
  globalHoldoutShare: 0.05,
  controlShareTolerance: 3,
};

const campaign = (overrides: Partial<CampaignConfig> = {}): CampaignConfig => ({
  id: 'cl_q4_sms',
  name: 'Consumer loan',
  product: 'consumer_loan',
  segments: ['mass_market'],
  triggers: [],
  channel: 'sms',
  costPerContact: 0.05,
  valuePerConversion: 800,
  budget: 1500,
  minScore: 0.2,
  holdoutShare: 0.1,
  priority: 1,
  templateId: 'SMS_01',
  sendTime: '10:00',
  ...overrides,
});

const candidate = (overrides: Partial<Candidate> = {}): Candidate => ({
  goldenId: 'G0001',
  segment: 'mass_market',
  score: 0.5,
  consentGranted: true,
  reachable: true,
  maxOverdueDays: 0,
  creditBand: 'good',
  suppressions: [],
  daysSinceConversion: null,
  daysSinceRefusal: null,
  recentContacts: 0,
  channelContactsLastDay: 0,
  ...overrides,
});

/** A candidate failing every per-customer policy at once. */
const worst = (): Candidate =>
  candidate({
    suppressions: ['complaint', 'staff', 'do_not_contact', 'deceased'],
    consentGranted: false,
    reachable: false,
    maxOverdueDays: 90,
    creditBand: 'doubtful',
    daysSinceConversion: 1,
    daysSinceRefusal: 1,
    recentContacts: 9,
    channelContactsLastDay: 3,
    score: 0,
  });

describe('firstFailedPolicy', () => {
  it('passes an eligible candidate', () => {
    expect(firstFailedPolicy(candidate(), campaign(), policies)).toBeNull();
  });

  it('reports the policies in the documented order: fixing the first failure reveals the next', () => {
    const sms = campaign({ sendTime: '22:00' });
    const fixes: [string, (c: Candidate) => Candidate][] = [
      ['suppressed_deceased', (c) => ({ ...c, suppressions: c.suppressions.filter((s) => s !== 'deceased') })],
      ['suppressed_do_not_contact', (c) => ({ ...c, suppressions: c.suppressions.filter((s) => s !== 'do_not_contact') })],
      ['suppressed_staff', (c) => ({ ...c, suppressions: c.suppressions.filter((s) => s !== 'staff') })],
      ['suppressed_complaint', (c) => ({ ...c, suppressions: [] })],
      ['no_consent', (c) => ({ ...c, consentGranted: true })],
      ['no_contact_point', (c) => ({ ...c, reachable: true })],
      ['risk_excluded', (c) => ({ ...c, maxOverdueDays: 0, creditBand: 'good' })],
      ['cooldown_conversion', (c) => ({ ...c, daysSinceConversion: null })],
      ['cooldown_refusal', (c) => ({ ...c, daysSinceRefusal: 30 })],
      ['frequency_cap', (c) => ({ ...c, recentContacts: 1 })],
      ['channel_daily_cap', (c) => ({ ...c, channelContactsLastDay: 0 })],
      ['below_min_score', (c) => ({ ...c, score: 0.9 })],
    ];
    let c = worst();
    expect(firstFailedPolicy(c, sms, policies)).toBe('quiet_hours');
    const seen = ['quiet_hours'];
    for (const [expected, fix] of fixes) {
      expect(firstFailedPolicy(c, campaign(), policies)).toBe(expected);
      seen.push(expected);
      c = fix(c);
    }
    expect(firstFailedPolicy(c, campaign(), policies)).toBeNull();
    expect([...seen, 'arbitration', 'over_budget']).toEqual([...POLICY_ORDER]);
  });

  it('no_consent for an opt-out and for a customer who never answered', () => {
    expect(firstFailedPolicy(candidate({ consentGranted: false }), campaign(), policies)).toBe('no_consent');
    expect(firstFailedPolicy(candidate({ consentGranted: null }), campaign(), policies)).toBe('no_consent');
  });

  it('no_contact_point only for phone channels', () => {
    expect(firstFailedPolicy(candidate({ reachable: false }), campaign({ channel: 'call', sendTime: '09:00' }), policies)).toBe('no_contact_point');
    expect(firstFailedPolicy(candidate({ reachable: false }), campaign({ channel: 'app_push' }), policies)).toBeNull();
  });

  it('risk_excluded above the overdue limit or in a high-risk band, for every credit product (limit itself allowed)', () => {
    for (const product of ['consumer_loan', 'mortgage', 'credit_card'] as const) {
      expect(firstFailedPolicy(candidate({ maxOverdueDays: 31 }), campaign({ product }), policies)).toBe('risk_excluded');
      expect(firstFailedPolicy(candidate({ creditBand: 'substandard' }), campaign({ product }), policies)).toBe('risk_excluded');
    }
    expect(firstFailedPolicy(candidate({ maxOverdueDays: 30, creditBand: 'watch' }), campaign(), policies)).toBeNull();
  });

  it('risk exclusion does not apply to deposit and wealth products', () => {
    for (const product of ['time_deposit', 'wealth'] as const) {
      expect(firstFailedPolicy(candidate({ maxOverdueDays: 120, creditBand: 'doubtful' }), campaign({ product }), policies)).toBeNull();
    }
  });

  it('cooldowns count whole days since the event against the configured lengths', () => {
    expect(firstFailedPolicy(candidate({ daysSinceConversion: 29 }), campaign(), policies)).toBe('cooldown_conversion');
    expect(firstFailedPolicy(candidate({ daysSinceConversion: 30 }), campaign(), policies)).toBeNull();
    expect(firstFailedPolicy(candidate({ daysSinceRefusal: 13 }), campaign(), policies)).toBe('cooldown_refusal');
    expect(firstFailedPolicy(candidate({ daysSinceRefusal: 14 }), campaign(), policies)).toBeNull();
  });

  it('frequency_cap at the cap (cap 2: 1 ok, 2 capped); channel_daily_cap at 1 on the same channel', () => {
    expect(firstFailedPolicy(candidate({ recentContacts: 1 }), campaign(), policies)).toBeNull();
    expect(firstFailedPolicy(candidate({ recentContacts: 2 }), campaign(), policies)).toBe('frequency_cap');
    expect(firstFailedPolicy(candidate({ channelContactsLastDay: 1 }), campaign(), policies)).toBe('channel_daily_cap');
  });

  it('below_min_score strictly below the minimum', () => {
    expect(firstFailedPolicy(candidate({ score: 0.19999 }), campaign(), policies)).toBe('below_min_score');
    expect(firstFailedPolicy(candidate({ score: 0.2 }), campaign(), policies)).toBeNull();
  });

  it('uses the configured limits, not constants', () => {
    const strict: Policies = { ...policies, maxOverdueDaysForLoanOffer: 0, highRiskCreditBands: [], frequencyCap: { contacts: 5, days: 7 }, channelDailyCap: 2 };
    expect(firstFailedPolicy(candidate({ maxOverdueDays: 1 }), campaign(), strict)).toBe('risk_excluded');
    expect(firstFailedPolicy(candidate({ creditBand: 'doubtful' }), campaign({ product: 'mortgage' }), { ...strict, maxOverdueDaysForLoanOffer: 30 })).toBeNull();
    expect(firstFailedPolicy(candidate({ recentContacts: 4, channelContactsLastDay: 1 }), campaign(), strict)).toBeNull();
  });

  it('quiet hours stop sms and call sends from 21:00 to 08:00 only', () => {
    for (const sendTime of ['21:00', '23:59', '00:00', '07:59']) {
      expect(firstFailedPolicy(candidate(), campaign({ sendTime }), policies)).toBe('quiet_hours');
      expect(firstFailedPolicy(candidate(), campaign({ sendTime, channel: 'call' }), policies)).toBe('quiet_hours');
      expect(firstFailedPolicy(candidate(), campaign({ sendTime, channel: 'app_push' }), policies)).toBeNull();
    }
    for (const sendTime of ['08:00', '12:00', '20:59']) expect(firstFailedPolicy(candidate(), campaign({ sendTime }), policies)).toBeNull();
  });
});

describe('inQuietHours', () => {
  it('handles windows that do and do not wrap midnight', () => {
    const day = { start: '12:00', end: '14:00', channels: [] };
    expect(inQuietHours('11:59', day)).toBe(false);
    expect(inQuietHours('12:00', day)).toBe(true);
    expect(inQuietHours('14:00', day)).toBe(false);
    const night = { start: '22:30', end: '06:15', channels: [] };
    expect(inQuietHours('22:29', night)).toBe(false);
    expect(inQuietHours('03:00', night)).toBe(true);
    expect(inQuietHours('06:15', night)).toBe(false);
  });
});

describe('isCampaignActive', () => {
  it('is inclusive of both dates and open-ended when a date is missing', () => {
    const c = { startDate: '2026-11-01', endDate: '2026-11-30' };
    expect(isCampaignActive(c, '2026-10-31')).toBe(false);
    expect(isCampaignActive(c, '2026-11-01')).toBe(true);
    expect(isCampaignActive(c, '2026-11-30')).toBe(true);
    expect(isCampaignActive(c, '2026-12-01')).toBe(false);
    expect(isCampaignActive({}, '1999-01-01')).toBe(true);
    expect(isCampaignActive({ endDate: '2026-11-30' }, '2026-12-01')).toBe(false);
  });
});

describe('arbitrate', () => {
  const loan = campaign({ id: 'loan', priority: 1, valuePerConversion: 800, budget: 2 });
  const card = campaign({ id: 'card', priority: 2, valuePerConversion: 300, budget: 10 });
  const pair = (campaignId: string, goldenId: string, score: number): EligiblePair => ({ campaignId, goldenId, score });
  const verdicts = (sel: ReturnType<typeof arbitrate>) => Object.fromEntries(sel.map((s) => [`${s.pair.campaignId}:${s.pair.goldenId}`, s.reason]));

  it('gives each customer at most one campaign, higher priority first', () => {
    const v = verdicts(arbitrate([pair('card', 'A', 0.9), pair('loan', 'A', 0.1)], [loan, card]));
    expect(v).toEqual({ 'loan:A': null, 'card:A': 'arbitration' });
  });

  it('spends a budget on the highest expected value and lets the cut customers fall through to the next campaign', () => {
    const v = verdicts(arbitrate([pair('loan', 'A', 0.1), pair('loan', 'B', 0.5), pair('loan', 'C', 0.3), pair('card', 'A', 0.2)], [loan, card]));
    expect(v).toEqual({ 'loan:B': null, 'loan:C': null, 'loan:A': 'over_budget', 'card:A': null });
  });

  it('breaks priority ties by expected value = score × value per conversion', () => {
    const a = campaign({ id: 'a', priority: 1, valuePerConversion: 100 });
    const b = campaign({ id: 'b', priority: 1, valuePerConversion: 1000 });
    expect(verdicts(arbitrate([pair('a', 'X', 0.9), pair('b', 'X', 0.1)], [a, b]))).toEqual({ 'b:X': null, 'a:X': 'arbitration' });
    expect(verdicts(arbitrate([pair('a', 'X', 0.9), pair('b', 'X', 0.05)], [a, b]))).toEqual({ 'a:X': null, 'b:X': 'arbitration' });
  });

  it('does not depend on the input order', () => {
    const pairs = Array.from({ length: 50 }, (_, i) => pair(i % 2 ? 'loan' : 'card', `G${i % 17}`, stableUnit('s', String(i))));
    const sorted = (s: ReturnType<typeof arbitrate>) => [...s].sort((x, y) => `${x.pair.campaignId}${x.pair.goldenId}`.localeCompare(`${y.pair.campaignId}${y.pair.goldenId}`));
    expect(sorted(arbitrate([...pairs].reverse(), [loan, card]))).toEqual(sorted(arbitrate(pairs, [loan, card])));
  });
});

describe('control groups', () => {
  const ids = Array.from({ length: 20000 }, (_, i) => `G${String(i).padStart(8, '0')}`);

  it('the global holdout holds the same customers out of every campaign', () => {
    const global = ids.filter((id) => assignControl('cl_q4_sms', id, 0.1, 0.05).holdout === 'global');
    expect(Math.abs(global.length / ids.length - 0.05)).toBeLessThan(0.006);
    for (const id of global) expect(assignControl('cc_q4_push', id, 0.3, 0.05)).toEqual({ arm: 'control', holdout: 'global' });
  });

  it('the combined control share matches expectedControlShare and passes the binomial check', () => {
    const control = ids.filter((id) => assignControl('cl_q4_sms', id, 0.1, 0.05).arm === 'control').length;
    expect(expectedControlShare(0.1, 0.05)).toBeCloseTo(0.145, 12);
    const check = checkControlShare(ids.length - control, control, expectedControlShare(0.1, 0.05), 3);
    expect(check.withinTolerance).toBe(true);
    expect(check.observed).toBeCloseTo(control / ids.length, 12);
  });

  it('checkControlShare flags a share outside z standard deviations', () => {
    // n = 400, p = 0.1: sd = 0.015, 3 sd = 0.045 → 55 in control (0.1375) passes, 60 (0.15) fails.
    expect(checkControlShare(345, 55, 0.1, 3)).toMatchObject({ selected: 400, withinTolerance: true });
    expect(checkControlShare(340, 60, 0.1, 3)).toMatchObject({ withinTolerance: false, observed: 0.15 });
    expect(checkControlShare(340, 60, 0.1, 3).tolerance).toBeCloseTo(0.045, 12);
    expect(checkControlShare(0, 0, 0.1, 3)).toMatchObject({ observed: null, withinTolerance: true });
  });
});

describe('batchKey', () => {
  it('depends on the contacts and their order only', () => {
    expect(batchKey(['a', 'b'])).toBe(batchKey(['a', 'b']));
    expect(batchKey(['a', 'b'])).not.toBe(batchKey(['b', 'a']));
    expect(batchKey(['a', 'b'])).not.toBe(batchKey(['a', 'b', 'c']));
  });
});

describe('stableUnit', () => {
  it('is deterministic and in [0, 1)', () => {
    const u = stableUnit('a', 'b');
    expect(stableUnit('a', 'b')).toBe(u);
    expect(u).toBeGreaterThanOrEqual(0);
    expect(u).toBeLessThan(1);
    expect(stableUnit('ab')).not.toBe(stableUnit('a', 'b'));
  });
});

describe('assignArm', () => {
  const ids = Array.from({ length: 20000 }, (_, i) => `G${String(i).padStart(8, '0')}`);
  const controlShare = (campaignId: string, share: number) => ids.filter((id) => assignArm(campaignId, id, share) === 'control').length / ids.length;

  it('is stable for the same campaign and customer', () => {
    for (const id of ids.slice(0, 200)) expect(assignArm('cl_q4_sms', id, 0.1)).toBe(assignArm('cl_q4_sms', id, 0.1));
  });

  it('holds out close to the configured share over 20,000 ids', () => {
    expect(Math.abs(controlShare('cl_q4_sms', 0.1) - 0.1)).toBeLessThan(0.01);
    expect(Math.abs(controlShare('cc_q4_push', 0.1) - 0.1)).toBeLessThan(0.01);
    expect(Math.abs(controlShare('cl_q4_sms', 0.25) - 0.25)).toBeLessThan(0.015);
    expect(Math.abs(controlShare('cl_q4_sms', 0.5) - 0.5)).toBeLessThan(0.015);
  });

  it('share 0 holds out nobody', () => {
    expect(controlShare('cl_q4_sms', 0)).toBe(0);
  });

  it('a larger share keeps everyone already in control (nested holdouts)', () => {
    for (const id of ids.slice(0, 2000)) {
      if (assignArm('c', id, 0.1) === 'control') expect(assignArm('c', id, 0.2)).toBe('control');
    }
  });

  it('assignments of different campaigns are independent (overlap ≈ 0.1 × 0.1)', () => {
    const both = ids.filter((id) => assignArm('cl_q4_sms', id, 0.1) === 'control' && assignArm('cc_q4_push', id, 0.1) === 'control').length;
    expect(Math.abs(both / ids.length - 0.01)).toBeLessThan(0.004);
  });
});

describe('idempotencyKey', () => {
  const key = idempotencyKey('cl_q4_sms', '2026-11-23', 'G0001');

  it('is 32 hex characters and stable', () => {
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(idempotencyKey('cl_q4_sms', '2026-11-23', 'G0001')).toBe(key);
  });

  it('differs by campaign, date and customer', () => {
    const others = [
      idempotencyKey('cc_q4_push', '2026-11-23', 'G0001'),
      idempotencyKey('cl_q4_sms', '2026-11-24', 'G0001'),
      idempotencyKey('cl_q4_sms', '2026-11-23', 'G0002'),
    ];
    for (const o of others) expect(o).not.toBe(key);
    expect(new Set(others).size).toBe(3);
  });
});
