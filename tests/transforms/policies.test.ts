import type { CampaignConfig, PortraitConfig } from '../../config/schema';
import { assignArm, firstFailedPolicy, idempotencyKey, stableUnit, type Candidate } from '../../transforms/policies';

const policies: PortraitConfig['policies'] = { maxOverdueDaysForLoanOffer: 30, frequencyCap: { contacts: 2, days: 7 } };

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
  ...overrides,
});

const candidate = (overrides: Partial<Candidate> = {}): Candidate => ({
  goldenId: 'G0001',
  segment: 'mass_market',
  score: 0.5,
  consentGranted: true,
  maxOverdueDays: 0,
  recentContacts: 0,
  ...overrides,
});

describe('firstFailedPolicy', () => {
  it('passes an eligible candidate', () => {
    expect(firstFailedPolicy(candidate(), campaign(), policies)).toBeNull();
  });

  it('no_consent for a refusal and for a customer who never answered', () => {
    expect(firstFailedPolicy(candidate({ consentGranted: false }), campaign(), policies)).toBe('no_consent');
    expect(firstFailedPolicy(candidate({ consentGranted: null }), campaign(), policies)).toBe('no_consent');
  });

  it('no_consent comes before every other failure', () => {
    const worst = candidate({ consentGranted: false, maxOverdueDays: 90, recentContacts: 9, score: 0 });
    expect(firstFailedPolicy(worst, campaign(), policies)).toBe('no_consent');
  });

  it('risk_excluded above the overdue limit for every credit product (limit itself allowed)', () => {
    for (const product of ['consumer_loan', 'mortgage', 'business_loan', 'credit_card']) {
      expect(firstFailedPolicy(candidate({ maxOverdueDays: 31 }), campaign({ product }), policies)).toBe('risk_excluded');
    }
    expect(firstFailedPolicy(candidate({ maxOverdueDays: 30 }), campaign(), policies)).toBeNull();
  });

  it('risk exclusion does not apply to non-credit products', () => {
    expect(firstFailedPolicy(candidate({ maxOverdueDays: 120 }), campaign({ product: 'time_deposit' }), policies)).toBeNull();
    expect(firstFailedPolicy(candidate({ maxOverdueDays: 120, recentContacts: 2 }), campaign({ product: 'time_deposit' }), policies)).toBe('frequency_cap');
  });

  it('risk_excluded comes before frequency_cap and below_min_score', () => {
    expect(firstFailedPolicy(candidate({ maxOverdueDays: 31, recentContacts: 5, score: 0 }), campaign(), policies)).toBe('risk_excluded');
  });

  it('frequency_cap at the cap (cap 2: 1 ok, 2 capped) and before below_min_score', () => {
    expect(firstFailedPolicy(candidate({ recentContacts: 1 }), campaign(), policies)).toBeNull();
    expect(firstFailedPolicy(candidate({ recentContacts: 2 }), campaign(), policies)).toBe('frequency_cap');
    expect(firstFailedPolicy(candidate({ recentContacts: 2, score: 0 }), campaign(), policies)).toBe('frequency_cap');
  });

  it('below_min_score strictly below the minimum', () => {
    expect(firstFailedPolicy(candidate({ score: 0.19999 }), campaign(), policies)).toBe('below_min_score');
    expect(firstFailedPolicy(candidate({ score: 0.2 }), campaign(), policies)).toBeNull();
  });

  it('uses the configured limits, not constants', () => {
    const strict = { maxOverdueDaysForLoanOffer: 0, frequencyCap: { contacts: 5, days: 7 } };
    expect(firstFailedPolicy(candidate({ maxOverdueDays: 1 }), campaign(), strict)).toBe('risk_excluded');
    expect(firstFailedPolicy(candidate({ recentContacts: 4 }), campaign(), strict)).toBeNull();
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
