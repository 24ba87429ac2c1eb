import { readFileSync } from 'node:fs';
import path from 'node:path';
import { configSha256, loadConfig } from '../../config/load';
import type { CampaignConfig, PortraitConfig } from '../../config/schema';
import { generateSourceExtracts } from '../../generator/generate';
import { CHANNEL_FIELDS } from '../../transforms/deliveryFields';
import { POLICY_ORDER, assignControl, type ControlShareCheck } from '../../transforms/policies';
import { WORKFLOW_DAILY_RUN, type DailyRunInput, type DailyRunResult } from '../../shared';
import { createTestContext, type TestContext } from '../helpers/testContext';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhookReceiver';
import { createHash } from 'node:crypto';

const AS_OF = '2026-11-20';
/** End of the as-of date in the run's time zone (Asia/Shanghai). */
const CUTOFF = `('2026-11-21'::timestamp at time zone 'Asia/Shanghai')`;
let ctx: TestContext;
let config: PortraitConfig;
let receiver: WebhookReceiver;
let inputDir: string;
let first: DailyRunResult;
let suppressedKeys: Record<string, string[]>;

async function run(runId: string): Promise<DailyRunResult> {
  const input: DailyRunInput = { runId, asOf: AS_OF, inputDir, config, configSha256: configSha256(config), awaitOutcomes: true };
  return (await ctx.client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue: ctx.taskQueue, workflowId: `dailyRun-${runId}`, args: [input] })).result();
}

async function rows<T = Record<string, unknown>>(sql: string, bindings: unknown[] = []): Promise<T[]> {
  return (await ctx.db.raw(sql, bindings as never)).rows as T[];
}

beforeAll(async () => {
  ctx = await createTestContext('dispatch');
  inputDir = path.join(ctx.workDir, 'extracts');
  await generateSourceExtracts({ customers: 1200, seed: 23, outDir: inputDir, asOf: AS_OF });
  receiver = await startWebhookReceiver();
  const base = loadConfig();
  const loan = base.campaigns.find((c) => c.id === 'cl_q4_sms')!;
  const extra: CampaignConfig[] = [
    // Calls scheduled at 22:00: every candidate must fail quiet hours.
    { ...loan, id: 'cl_night_call', name: '夜间外呼 / Night call', channel: 'call', sendTime: '22:00', priority: 3, templateId: 'CALL_01' },
    // Ended before the as-of date: not evaluated at all.
    { ...loan, id: 'cl_expired', name: '已结束 / Ended', endDate: '2026-10-31', priority: 4, templateId: 'SMS_OLD' },
  ];
  config = {
    ...base,
    campaigns: [...base.campaigns, ...extra],
    delivery: { ...base.delivery, batchSize: 25, webhooks: { app_push: { url: receiver.url } } },
    outcomes: { attributionWindow: '1s' },
  } as PortraitConfig;
  // Compliance lists: every 9th / 13th / 17th customer key of the extract.
  const keys = readFileSync(path.join(inputDir, 'customers.csv'), 'utf8').split('\n').slice(1).filter(Boolean).map((l) => l.split(',')[1]!);
  suppressedKeys = { do_not_contact: keys.filter((_, i) => i % 9 === 0), deceased: keys.filter((_, i) => i % 13 === 0), staff: keys.filter((_, i) => i % 17 === 0) };
  for (const [list, ks] of Object.entries(suppressedKeys)) await ctx.db('campaign.suppressions').insert([...new Set(ks)].map((customer_key) => ({ list, customer_key }))).onConflict(['list', 'customer_key']).ignore();
  await ctx.startWorker();
  first = await run('disp-first');
});

afterAll(async () => {
  await receiver?.close();
  await ctx?.close();
});

test('no opted-out, suppressed, complained, cooling-down or high-risk customer is dispatched, and every row proves its consent', async () => {
  const dispatched = await ctx.db('campaign.dispatch').where({ run_id: 'disp-first' });
  expect(dispatched.length).toBeGreaterThan(100);
  const proofs = await rows(
    `select d.golden_id from campaign.dispatch d
     left join landing.consent c on c.run_id = d.run_id and c.consent_id = d.consent_id
     where d.run_id = 'disp-first' and (c.consent_id is null or not c.granted or c.channel <> d.channel or c.recorded_at <> d.consent_recorded_at
       or exists (select 1 from landing.consent l join core.customer_sources s on s.run_id = l.run_id and s.customer_key = l.customer_key
                  where l.run_id = d.run_id and s.golden_id = d.golden_id and l.channel = d.channel and l.recorded_at < ${CUTOFF}
                    and (l.recorded_at, l.consent_id) > (c.recorded_at, c.consent_id)))`,
  );
  expect(proofs).toEqual([]);
  const barred = await rows(
    `select d.golden_id, d.campaign_id from campaign.dispatch d
     join core.customer_sources s on s.run_id = d.run_id and s.golden_id = d.golden_id
     join mart.tags t on t.run_id = d.run_id and t.golden_id = d.golden_id
     where d.run_id = 'disp-first' and (
       exists (select 1 from campaign.suppressions l where l.customer_key = s.customer_key and l.removed_at is null)
       or t.complaints_90d > 0
       or t.max_overdue_days > ? or t.credit_band = any(?::text[])
       or exists (select 1 from landing.consent c where c.run_id = d.run_id and c.customer_key = s.customer_key and not c.granted
                  and c.recorded_at < ${CUTOFF} and c.recorded_at >= ${CUTOFF} - make_interval(days => ?))
       or exists (select 1 from landing.campaign_contacts h where h.run_id = d.run_id and h.customer_key = s.customer_key and h.converted
                  and h.converted_at < ${CUTOFF} and h.converted_at >= ${CUTOFF} - make_interval(days => ?)))`,
    [config.policies.maxOverdueDaysForLoanOffer, `{${config.policies.highRiskCreditBands.join(',')}}`, config.policies.cooldownDays.refusal - 1, config.policies.cooldownDays.conversion - 1],
  );
  expect(barred).toEqual([]);
  // The lists were really applied: each one excluded somebody.
  const reasons = await rows<{ reason: string; n: number }>(`select reason, count(*)::int as n from campaign.eligibility where run_id = 'disp-first' group by reason order by reason`);
  const byReason = Object.fromEntries(reasons.map((r) => [r.reason, r.n]));
  for (const r of ['suppressed_do_not_contact', 'suppressed_deceased', 'suppressed_staff', 'no_consent', 'quiet_hours']) expect(byReason[r]).toBeGreaterThan(0);
  for (const r of Object.keys(byReason)) if (r !== 'null') expect(POLICY_ORDER).toContain(r);
  // eslint-disable-next-line no-console
  console.log('excluded by reason', JSON.stringify(byReason));
});

test('frequency caps hold: ≤ 2 contacts per rolling 7 days and ≤ 1 per channel per day, history included', async () => {
  const over = await rows(
    `select d.golden_id,
       (select count(*) from landing.campaign_contacts h join core.customer_sources s on s.run_id = h.run_id and s.customer_key = h.customer_key
        where h.run_id = d.run_id and s.golden_id = d.golden_id and h.contacted_at >= ${CUTOFF} - interval '7 days' and h.contacted_at < ${CUTOFF}) as week,
       (select count(*) from landing.campaign_contacts h join core.customer_sources s on s.run_id = h.run_id and s.customer_key = h.customer_key
        where h.run_id = d.run_id and s.golden_id = d.golden_id and h.channel = d.channel and h.contacted_at >= d.send_at - interval '1 day' and h.contacted_at < ${CUTOFF}) as same_channel_day
     from campaign.dispatch d where d.run_id = 'disp-first' and d.arm = 'treatment'`,
  );
  const violations = over.filter((r) => Number(r.week) + 1 > config.policies.frequencyCap.contacts || Number(r.same_channel_day) + 1 > config.policies.channelDailyCap);
  expect(violations).toEqual([]);
  const perCustomer = await rows(`select golden_id, count(*)::int as n from campaign.dispatch where run_id = 'disp-first' group by golden_id having count(*) > 1`);
  expect(perCustomer).toEqual([]);
});

test('the ledger has one verdict per customer×campaign; quiet hours and inactive campaigns are honoured; budgets hold', async () => {
  const dup = await rows(`select campaign_id, golden_id from campaign.eligibility where run_id = 'disp-first' group by 1, 2 having count(*) > 1`);
  expect(dup).toEqual([]);
  const [counts] = await rows<{ eligible: number; dispatched: number }>(
    `select (select count(*)::int from campaign.eligibility where run_id = 'disp-first' and eligible) as eligible, (select count(*)::int from campaign.dispatch where run_id = 'disp-first') as dispatched`,
  );
  expect(counts!.eligible).toBe(counts!.dispatched);
  const night = await rows<{ reason: string; n: number }>(`select reason, count(*)::int as n from campaign.eligibility where run_id = 'disp-first' and campaign_id = 'cl_night_call' group by reason`);
  expect(night.map((r) => r.reason)).toEqual(['quiet_hours']);
  expect(await ctx.db('campaign.eligibility').where({ run_id: 'disp-first', campaign_id: 'cl_expired' })).toEqual([]);
  const stage = first.stages.find((s) => s.stage === 'dispatch')!;
  expect(stage.details!.inactive).toEqual(['cl_expired']);
  for (const c of config.campaigns) {
    const n = await ctx.db('campaign.dispatch').where({ run_id: 'disp-first', campaign_id: c.id }).count<{ n: string }[]>('* as n');
    expect(Number(n[0]!.n)).toBeLessThanOrEqual(c.budget);
  }
});

test('control groups follow the stable hashes, the global holdout spans campaigns, and the share is within tolerance', async () => {
  const dispatched = await ctx.db('campaign.dispatch').where({ run_id: 'disp-first' });
  const stage = first.stages.find((s) => s.stage === 'dispatch')!;
  const summary = stage.details!.campaigns as Record<string, { treatment: number; control: number; globalHoldout: number; controlShare: ControlShareCheck }>;
  for (const d of dispatched) {
    const c = config.campaigns.find((x) => x.id === d.campaign_id)!;
    expect({ arm: d.arm, holdout: d.holdout }).toEqual(assignControl(c.id, d.golden_id, c.holdoutShare, config.policies.globalHoldoutShare));
  }
  for (const id of ['cl_q4_sms', 'cc_q4_push']) {
    const mine = dispatched.filter((d) => d.campaign_id === id);
    const control = mine.filter((d) => d.arm === 'control').length;
    expect(summary[id]).toMatchObject({ treatment: mine.length - control, control });
    expect(summary[id]!.globalHoldout).toBeGreaterThan(0);
    expect(summary[id]!.controlShare.withinTolerance).toBe(true);
    expect(Math.abs(control / mine.length - summary[id]!.controlShare.expected)).toBeLessThanOrEqual(summary[id]!.controlShare.tolerance!);
  }
  // eslint-disable-next-line no-console
  console.log('dispatched per campaign and arm', JSON.stringify(Object.fromEntries(Object.entries(summary).map(([k, v]) => [k, { treatment: v.treatment, control: v.control, globalHoldout: v.globalHoldout, controlShare: v.controlShare }]))));
});

test('marketing files: CSV with BOM opens as UTF-8 Chinese, only the channel fields, manifest hashes match', async () => {
  const dir = path.join(first.snapshotDir, 'deliveries', 'cc_q4_push');
  const bytes = readFileSync(path.join(dir, 'cc_q4_push_app_push.csv'));
  expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  const lines = text.split('\r\n').filter(Boolean);
  expect(lines[0]).toBe(CHANNEL_FIELDS.app_push.join(','));
  expect(lines[1]).toContain('信用卡 Q4 推送 / Credit card Q4 push');
  const treatment = await ctx.db('campaign.dispatch').where({ run_id: 'disp-first', campaign_id: 'cc_q4_push', arm: 'treatment' }).pluck('idempotency_key');
  expect(lines.slice(1).map((l) => l.split(',')[0]).sort()).toEqual([...treatment].sort());
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  expect(manifest.counts.treatment).toBe(treatment.length);
  for (const f of manifest.files) expect(createHash('sha256').update(readFileSync(path.join(first.snapshotDir, f.path))).digest('hex')).toBe(f.sha256);
  const sms = readFileSync(path.join(first.snapshotDir, 'deliveries', 'cl_q4_sms', 'cl_q4_sms_sms.csv'), 'utf8');
  expect(sms.split('\r\n')[0]).toBe('\uFEFF' + CHANNEL_FIELDS.sms.join(','));
  // No phone number of the extract appears, in any formatting the source used.
  const phones = readFileSync(path.join(inputDir, 'customers.csv'), 'utf8').split('\n').slice(1).map((l) => (l.split(',')[4] ?? '').replace(/\D/g, '').slice(-11)).filter((p) => p.length === 11);
  expect(phones.length).toBeGreaterThan(100);
  expect(phones.filter((p) => sms.includes(p))).toEqual([]);
  expect(sms.split('\r\n').length).toBeGreaterThan(10);
});

test('webhook: every treatment contact delivered exactly once, and a re-run of the same date sends nothing again', async () => {
  const treatment = await ctx.db('campaign.dispatch').where({ run_id: 'disp-first', channel: 'app_push', arm: 'treatment' }).pluck('idempotency_key');
  expect(treatment.length).toBeGreaterThan(0);
  expect([...receiver.processedContacts.keys()].sort()).toEqual([...treatment].sort());
  expect(Math.max(...receiver.processedContacts.values())).toBe(1);
  const statuses = await ctx.db('campaign.deliveries').select('status').count<{ status: string; n: string }[]>('* as n').groupBy('status');
  expect(statuses.map((s) => [s.status, Number(s.n)])).toEqual([['delivered', treatment.length]]);
  const requestsBefore = receiver.requests;
  // As a crashed attempt of the re-run would leave it: one of its campaign-independent facts tables.
  const factsPrefix = `dispatch_facts_${createHash('sha256').update('disp-rerun').digest('hex').slice(0, 12)}_`;
  await ctx.db.raw(`create unlogged table campaign.${factsPrefix}refusal (x int)`);
  const second = await run('disp-rerun');
  // The run's facts tables, and the leftover, are gone once dispatch has run.
  expect(await rows(`select tablename from pg_tables where schemaname = 'campaign' and tablename like 'dispatch_facts%'`)).toEqual([]);
  const webhooks = second.stages.find((s) => s.stage === 'dispatch')!.details!.webhooks as { delivered: number; skippedBatches: number; batches: number }[];
  expect(webhooks[0]).toMatchObject({ delivered: 0 });
  expect(webhooks[0]!.skippedBatches).toBe(webhooks[0]!.batches);
  expect(receiver.requests).toBe(requestsBefore);
  expect(Math.max(...receiver.processedContacts.values())).toBe(1);
});
