import { MockActivityEnvironment } from '@temporalio/testing';
import { ensureLandingPartition } from '../../db/landing';
import { knexRunner } from '../../activities/pg';
import type { Knex } from 'knex';
import { createActivities } from '../../activities';
import { loadConfig } from '../../config/load';
import type { CampaignConfig } from '../../config/schema';
import { createLogger } from '../../services/logger';
import type { Policies } from '../../transforms/policies';
import type { DispatchRef } from '../../shared';
import { createTestContext, type TestContext } from '../helpers/testContext';

/**
 * The candidate facts the dispatch query derives from the tables, on a hand-made fixture: one customer per case,
 * each with the verdict worked out by hand. As-of 2026-11-20 in Asia/Shanghai: the day closes at 2026-11-20T16:00Z;
 * the sms campaign sends at 10:00 local on 2026-11-21 (02:00Z), so its 24 h channel window opens 2026-11-20T02:00Z.
 */
const RUN = 'fx-run';
const AS_OF = '2026-11-20';
let ctx: TestContext;
let db: Knex;
let row = 0;

const sms: CampaignConfig = {
  id: 'sms1', name: '短信 / SMS', product: 'consumer_loan', segments: ['mass'], triggers: [], channel: 'sms', costPerContact: 0.05, valuePerConversion: 100,
  budget: 4, minScore: 0.1, holdoutShare: 0, priority: 1, templateId: 'S1', sendTime: '10:00',
};
const push: CampaignConfig = { ...sms, id: 'push2', name: '推送 / Push', product: 'credit_card', channel: 'app_push', budget: 100, priority: 2, templateId: 'P1', sendTime: '19:00' };

/** golden id → [score, source keys]. */
const CUSTOMERS: Record<string, [number, string[]]> = {
  G01: [0.9, ['C01']], // eligible
  G02: [0.9, ['C02', 'K02']], // granted on C02, opt-out on the card key K02 later: latest record across keys wins
  G03: [0.8, ['C03']], // opt-out recorded after the as-of day closes: not yet known to this run
  G04: [0.9, ['C04']], // opt-out 10 days ago, granted again since: consent ok, refusal cooldown
  G05: [0.9, ['C05']], // on the do-not-contact list
  G06: [0.7, ['C06']], // was on the staff list, removed: eligible
  G07: [0.9, ['C07']], // two contacts in the last 7 days (other channels)
  G08: [0.9, ['C08']], // an sms 15 hours before the send
  G09: [0.6, ['C09']], // an sms 38 hours before the send: outside the channel day, one contact in the week
  G10: [0.9, ['C10']], // converted 15 days ago
  G11: [0.9, ['C11']], // overdue 45 days: risk
  G12: [0.05, ['C12']], // below min score
  G13: [0.5, ['C13']], // a complaint in 90 days
};

async function land(table: string, rows: Record<string, unknown>[]): Promise<void> {
  await ensureLandingPartition(knexRunner(db), table, RUN);
  await db(`landing.${table}`).insert(rows.map((r) => ({ run_id: RUN, row_number: ++row, ...r })));
}

beforeAll(async () => {
  ctx = await createTestContext('dispfx');
  db = ctx.db;
  await db('audit.runs').insert({ run_id: RUN, as_of: AS_OF, input_dir: '-', config_sha256: '-', config: '{}', code_version: 'test', seed: 1, status: 'running', snapshot_dir: `${ctx.workDir}/snap/${RUN}`, started_at: new Date() });
  const tags = { total_deposits: 0, has_time_deposit: false, time_deposit_maturing_30d: false, loan_outstanding: 0, has_consumer_loan: false, has_credit_card: false, has_mortgage: false, products_held: 1, txn_count_30d: 0, txn_amount_30d: 0, txn_count_90d: 0, salary_credit: false, app_logins_30d: 0, loan_views_7d: 0, loan_views_30d: 0, calculator_uses_30d: 0, application_starts_30d: 0, lifecycle: 'mature' };
  for (const [golden, [score, keys]] of Object.entries(CUSTOMERS)) {
    await db('core.customers').insert({ run_id: RUN, golden_id: golden, source_keys: keys.join(';'), id_valid: true, phone_hash: `ph-${golden}`, name_masked: '王*' });
    for (const key of keys) await db('core.customer_sources').insert({ run_id: RUN, source_system: key.startsWith('K') ? 'card' : 'core', customer_key: key, golden_id: golden, match_rule: 'id', id_valid: true, phone_valid: true });
    await db('mart.tags').insert({ run_id: RUN, golden_id: golden, ...tags, max_overdue_days: golden === 'G11' ? 45 : 0, credit_band: golden === 'G11' ? 'substandard' : 'good', complaints_90d: golden === 'G13' ? 1 : 0 });
    await db('mart.segments').insert({ run_id: RUN, golden_id: golden, segment: 'mass' });
    for (const product of ['consumer_loan', 'credit_card']) await db('mart.scores').insert({ run_id: RUN, golden_id: golden, product, model_version: 'fx', score, shard: 0 });
  }
  const consent = (id: string, key: string, channel: string, granted: boolean, at: string) => ({ consent_id: id, customer_key: key, channel, granted, recorded_at: at });
  await land('consent', [
    ...Object.values(CUSTOMERS).map(([, keys], i) => consent(`CS${i}`, keys[0]!, 'sms', true, '2026-01-01T00:00:00Z')),
    consent('CSX2', 'K02', 'sms', false, '2026-11-19T08:00:00Z'),
    consent('CSX3', 'C03', 'sms', false, '2026-11-20T17:00:00Z'),
    consent('CSX4a', 'C04', 'sms', false, '2026-11-10T08:00:00Z'),
    consent('CSX4b', 'C04', 'sms', true, '2026-11-15T08:00:00Z'),
    consent('CSP1', 'C01', 'app_push', true, '2026-02-01T00:00:00Z'),
    consent('CSP9', 'C09', 'app_push', true, '2026-02-01T00:00:00Z'),
  ]);
  const contact = (id: string, key: string, channel: string, at: string, convertedAt: string | null = null) => ({ contact_id: id, customer_key: key, campaign_id: 'legacy', product: 'consumer_loan', channel, contacted_at: at, converted: convertedAt !== null, converted_at: convertedAt });
  await land('campaign_contacts', [
    contact('M1', 'C07', 'call', '2026-11-15T03:00:00Z'),
    contact('M2', 'C07', 'email', '2026-11-18T03:00:00Z'),
    contact('M3', 'C08', 'sms', '2026-11-20T11:00:00Z'),
    contact('M4', 'C09', 'sms', '2026-11-19T12:00:00Z'),
    contact('M5', 'C10', 'app_push', '2026-10-30T03:00:00Z', '2026-11-05T03:00:00Z'),
  ]);
  await db('campaign.suppressions').insert([
    { list: 'do_not_contact', customer_key: 'C05' },
    { list: 'staff', customer_key: 'C06', removed_at: new Date('2026-11-01T00:00:00Z') },
  ]);
  // Dispatch reads the lists as they stood when the run was registered, which in production is after they were kept.
  await db('audit.runs').where({ run_id: RUN }).update({ suppressions_as_of: db.fn.now() });
});

afterAll(async () => {
  await ctx?.close();
});

test('each customer gets the hand-worked verdict, arbitration and budget included, with its consent proof', async () => {
  const base = loadConfig();
  const policies: Policies = { ...base.policies, globalHoldoutShare: 0 };
  const activities = createActivities({ db, databaseUrl: ctx.databaseUrl, log: createLogger('silent'), env: ctx.env, codeVersion: 'test' });
  const result: { dispatches: DispatchRef[] } = await new MockActivityEnvironment().run(activities.dispatchCampaigns, { runId: RUN, asOf: AS_OF, timezone: 'Asia/Shanghai', campaigns: [sms, push], policies });
  const ledger = await db('campaign.eligibility').where({ run_id: RUN }).orderBy(['campaign_id', 'golden_id']);
  const verdict = (campaign: string) => Object.fromEntries(ledger.filter((l) => l.campaign_id === campaign).map((l) => [l.golden_id, l.reason ?? 'selected']));
  expect(verdict('sms1')).toEqual({
    G01: 'selected',
    G02: 'no_consent',
    G03: 'selected',
    G04: 'cooldown_refusal',
    G05: 'suppressed_do_not_contact',
    G06: 'selected',
    G07: 'frequency_cap',
    G08: 'channel_daily_cap',
    G09: 'selected',
    G10: 'cooldown_conversion',
    G11: 'risk_excluded',
    G12: 'below_min_score',
    G13: 'suppressed_complaint',
  });
  // G01 and G09 win sms1 (priority 1) so lose push2; the others have no app_push consent.
  expect(verdict('push2')).toMatchObject({ G01: 'arbitration', G09: 'arbitration', G02: 'no_consent', G05: 'suppressed_do_not_contact' });

  // The facts that failed each first failed policy are kept with the verdict (explain reads them months later).
  const facts = (campaign: string, golden: string) => ledger.find((l) => l.campaign_id === campaign && l.golden_id === golden)!.facts;
  expect(facts('sms1', 'G01')).toBeNull();
  expect(facts('sms1', 'G02')).toEqual({ channel: 'sms', consent_id: 'CSX2', status: 'refused', recorded_at: '2026-11-19T08:00:00.000Z' });
  expect(facts('push2', 'G03')).toEqual({ channel: 'app_push', consent_id: null, status: 'no_record', recorded_at: null });
  expect(facts('sms1', 'G04')).toEqual({ days_since_refusal: 10, cooldown_days: policies.cooldownDays.refusal });
  expect(facts('sms1', 'G05')).toEqual({ lists: ['do_not_contact'] });
  expect(facts('sms1', 'G07')).toEqual({ contacts_counted: 2, cap: policies.frequencyCap.contacts, window_days: policies.frequencyCap.days });
  expect(facts('sms1', 'G08')).toEqual({ channel: 'sms', contacts_last_day: 1, cap: policies.channelDailyCap });
  expect(facts('sms1', 'G11')).toMatchObject({ max_overdue_days: 45, credit_band: 'substandard' });
  expect(facts('sms1', 'G12')).toEqual({ score: 0.05, min_score: 0.1 });
  expect(facts('push2', 'G01')).toEqual({ score: 0.9 });

  // Budget 3 with four eligible for sms1: the lowest expected value (G09, 0.6) is cut and then wins push2.
  const tight = { ...sms, budget: 3 };
  await new MockActivityEnvironment().run(activities.dispatchCampaigns, { runId: RUN, asOf: AS_OF, timezone: 'Asia/Shanghai', campaigns: [tight, push], policies });
  const again = await db('campaign.eligibility').where({ run_id: RUN, eligible: true }).orderBy(['campaign_id', 'golden_id']).select('campaign_id', 'golden_id');
  expect(again.map((r) => `${r.campaign_id}:${r.golden_id}`)).toEqual(['push2:G09', 'sms1:G01', 'sms1:G03', 'sms1:G06']);
  const cut = await db('campaign.eligibility').where({ run_id: RUN, campaign_id: 'sms1', golden_id: 'G09' }).first();
  expect(cut.reason).toBe('over_budget');

  const dispatched = await db('campaign.dispatch').where({ run_id: RUN }).orderBy('golden_id');
  expect(dispatched.map((d) => [d.golden_id, d.consent_id])).toEqual([['G01', 'CS0'], ['G03', 'CS2'], ['G06', 'CS5'], ['G09', 'CSP9']]);
  expect(dispatched.find((d) => d.golden_id === 'G03')!.consent_recorded_at.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  expect(dispatched.find((d) => d.golden_id === 'G01')!.send_at.toISOString()).toBe('2026-11-21T02:00:00.000Z');
  expect(result.dispatches.map((d) => d.campaignId)).toEqual(['sms1', 'push2']);
});

test('suppressions are an append-only log read as of the run: a list change after the run leaves its dispatch as it was', async () => {
  const base = loadConfig();
  const policies: Policies = { ...base.policies, globalHoldoutShare: 0 };
  const activities = createActivities({ db, databaseUrl: ctx.databaseUrl, log: createLogger('silent'), env: ctx.env, codeVersion: 'test' });
  const dispatch = () => new MockActivityEnvironment().run(activities.dispatchCampaigns, { runId: RUN, asOf: AS_OF, timezone: 'Asia/Shanghai', campaigns: [sms, push], policies });
  const verdicts = async () => Object.fromEntries((await db('campaign.eligibility').where({ run_id: RUN, campaign_id: 'sms1' }).whereIn('golden_id', ['G01', 'G05'])).map((l) => [l.golden_id, l.reason ?? 'selected']));
  await dispatch();
  expect(await verdicts()).toEqual({ G01: 'selected', G05: 'suppressed_do_not_contact' });

  // After the run: C01 asks not to be contacted, C05 is taken off the list.
  await db('campaign.suppressions').insert({ list: 'do_not_contact', customer_key: 'C01' });
  await db('campaign.suppressions').where({ list: 'do_not_contact', customer_key: 'C05' }).update({ removed_at: db.fn.now() });
  const events = await db('campaign.suppression_events').whereIn('customer_key', ['C01', 'C05']).orderBy('event_id').select('customer_key', 'action');
  expect(events).toEqual([{ customer_key: 'C05', action: 'add' }, { customer_key: 'C01', action: 'add' }, { customer_key: 'C05', action: 'remove' }]);
  await expect(db('campaign.suppression_events').where({ customer_key: 'C05' }).delete()).rejects.toThrow(/append-only/);

  // The same run dispatched again (a retry, or a replay) sees the lists it was registered with.
  await dispatch();
  expect(await verdicts()).toEqual({ G01: 'selected', G05: 'suppressed_do_not_contact' });
  // A run registered now sees today's lists.
  await db('audit.runs').where({ run_id: RUN }).update({ suppressions_as_of: db.fn.now() });
  await dispatch();
  expect(await verdicts()).toEqual({ G01: 'suppressed_do_not_contact', G05: 'selected' });
});
