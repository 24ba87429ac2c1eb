import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { loadConfig, configSha256 } from '../../config/load';
import type { PortraitConfig } from '../../config/schema';
import { generateSourceExtracts } from '../../generator/generate';
import { buildTrainingSet, buildTrainingSets } from '../../activities/trainingSet';
import { treatmentContacts } from '../../cli/followUp';
import { computeLift } from '../../transforms/lift';
import { SIGNAL_COLLECT_NOW, WORKFLOW_COLLECT_OUTCOMES, WORKFLOW_DAILY_RUN, type DailyRunInput, type DailyRunResult } from '../../shared';
import { createTestContext, type TestContext } from '../helpers/testContext';
import { duckQuery } from '../helpers/duck';
import { captureCli } from '../helpers/cliOutput';

// Day 0: dispatch. Day 30: the follow-up extracts (same bank, products opened since) are loaded by a second run,
// then the day-0 outcome workflows are told to collect. Attribution must find conversions in both arms.
const D0 = '2026-11-20';
const D1 = '2026-12-20';
const WINDOW_DAYS = 30;
let ctx: TestContext;
let config: PortraitConfig;
let day0: DailyRunResult;

function runInput(runId: string, asOf: string, inputDir: string): DailyRunInput {
  return { runId, asOf, inputDir, config, configSha256: configSha256(config), awaitOutcomes: false };
}

async function runDay(runId: string, asOf: string, inputDir: string): Promise<DailyRunResult> {
  const handle = await ctx.client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue: ctx.taskQueue, workflowId: `dailyRun-${runId}`, args: [runInput(runId, asOf, inputDir)] });
  return handle.result();
}

/** SQL ground truth, written independently of the activity: first opening of the product in (D0, D0 + window] per contact. */
async function groundTruth(campaignId: string, product: string) {
  const { rows } = await ctx.db.raw(
    `select d.arm, count(*)::int as contacts,
            count(*) filter (where exists (
              select 1 from core.customer_sources k join landing.loans l on l.run_id = k.run_id and l.customer_key = k.customer_key
              where k.run_id = 'it-day30' and k.golden_id = d.golden_id and l.product = ?
                and l.opened_at > d.as_of and l.opened_at <= d.as_of + ?::int))::int as conversions
     from campaign.dispatch d where d.run_id = 'it-day0' and d.campaign_id = ? group by d.arm`,
    [product, WINDOW_DAYS, campaignId],
  );
  const arm = (name: string) => rows.find((r: { arm: string }) => r.arm === name) ?? { contacts: 0, conversions: 0 };
  return { treatment: arm('treatment'), control: arm('control') };
}

beforeAll(async () => {
  ctx = await createTestContext('outcomes');
  const base = loadConfig();
  // A larger holdout than production so the control arm has enough conversions at test size.
  config = { ...base, campaigns: base.campaigns.map((c) => ({ ...c, holdoutShare: 0.3 })), outcomes: { attributionWindow: `${WINDOW_DAYS}d`, collectAfter: '1h' } } as PortraitConfig;
  const day0Dir = path.join(ctx.workDir, 'extracts', D0);
  await generateSourceExtracts({ customers: 2500, seed: 7, outDir: day0Dir, asOf: D0 });
  await ctx.startWorker();
  day0 = await runDay('it-day0', D0, day0Dir);

  const contacts = await treatmentContacts(ctx.db, 'it-day0', config.campaigns);
  const day30Dir = path.join(ctx.workDir, 'extracts', D1);
  await generateSourceExtracts({ customers: 2500, seed: 7, outDir: day30Dir, asOf: D1, followUp: { baseAsOf: D0, contacts } });
  await runDay('it-day30', D1, day30Dir);

  // The day-0 outcome workflows are still on their durable timer; tell them the later extracts are in.
  for (const id of day0.outcomeWorkflowIds) await ctx.client.workflow.getHandle(id).signal(SIGNAL_COLLECT_NOW);
  for (const id of day0.outcomeWorkflowIds) await ctx.client.workflow.getHandle(id).result();
});

afterAll(async () => {
  await ctx?.close();
});

test('conversions in both arms of every campaign match the SQL ground truth', async () => {
  expect(day0.outcomeWorkflowIds.length).toBe(config.campaigns.length);
  for (const campaign of config.campaigns) {
    const truth = await groundTruth(campaign.id, campaign.product);
    const row = await ctx.db('campaign.results').where({ run_id: 'it-day0', campaign_id: campaign.id, dimension: 'campaign' }).first();
    expect({ campaign: campaign.id, t: [row.treatment_contacts, row.treatment_conversions], c: [row.control_contacts, row.control_conversions] }).toEqual({
      campaign: campaign.id,
      t: [truth.treatment.contacts, truth.treatment.conversions],
      c: [truth.control.contacts, truth.control.conversions],
    });
    expect(truth.treatment.conversions).toBeGreaterThan(0);
    expect(truth.control.conversions).toBeGreaterThan(0);
    const lift = computeLift(truth.treatment, truth.control);
    expect(row.treatment_rate).toBeCloseTo(truth.treatment.conversions / truth.treatment.contacts, 12);
    expect(row.absolute_lift).toBeCloseTo(lift.absoluteLift!, 12);
    expect(row.cost).toBeCloseTo(truth.treatment.contacts * campaign.costPerContact, 9);
    expect(row.incremental_value).toBeCloseTo(lift.incrementalConversions! * campaign.valuePerConversion, 6);
    const stored = (await ctx.db('campaign.outcome_results').where({ run_id: 'it-day0', campaign_id: campaign.id }).first()).result;
    expect(stored.dataRunId).toBe('it-day30');
    expect(stored.observedThrough).toBe(D1);
    expect(stored.windowClosed).toBe(true);
  }
});

test('every converted contact opened the product after the contact and within the window', async () => {
  const { rows } = await ctx.db.raw(
    `select count(*)::int as n from campaign.outcomes where run_id = 'it-day0' and converted
       and not (converted_at > contacted_on and converted_at <= contacted_on + ?::int)`,
    [WINDOW_DAYS],
  );
  expect(rows[0].n).toBe(0);
});

test('breakdowns by segment, channel and score decile add up to the campaign totals', async () => {
  for (const campaign of config.campaigns) {
    const rows = await ctx.db('campaign.results').where({ run_id: 'it-day0', campaign_id: campaign.id });
    const total = rows.find((r) => r.dimension === 'campaign')!;
    for (const dimension of ['segment', 'channel', 'score_decile']) {
      const part = rows.filter((r) => r.dimension === dimension);
      expect(part.length).toBeGreaterThan(0);
      const sum = (k: string) => part.reduce((n, r) => n + Number(r[k]), 0);
      expect([dimension, sum('treatment_contacts'), sum('treatment_conversions'), sum('control_contacts'), sum('control_conversions')]).toEqual([
        dimension, total.treatment_contacts, total.treatment_conversions, total.control_contacts, total.control_conversions,
      ]);
    }
    const deciles = rows.filter((r) => r.dimension === 'score_decile').sort((a, b) => Number(a.dimension_value) - Number(b.dimension_value));
    expect(deciles.map((d) => d.dimension_value)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    // The last cumulative point covers every contact: uplift@100% is the campaign's lift.
    expect(deciles[9]!.uplift_at_k).toBeCloseTo(total.absolute_lift, 12);
    expect(total.qini_coefficient).not.toBeNull();
  }
});

test('outcomes.parquet and results.parquet match the tables and are listed in the stage record', async () => {
  const stage = await ctx.db('audit.stage_runs').where({ run_id: 'it-day0', stage: 'outcomes' }).first();
  const files = stage.files as { path: string; rows: number }[];
  expect(files.map((f) => f.path).sort()).toEqual(['outcomes.parquet', 'report.html', 'results.parquet']);
  const dir = day0.snapshotDir;
  expect(existsSync(path.join(dir, 'results.parquet'))).toBe(true);
  const [o] = await duckQuery(`select count(*)::int as n, count(*) filter (where converted)::int as conv from read_parquet('${path.join(dir, 'outcomes.parquet')}')`);
  const table = await ctx.db('campaign.outcomes').where({ run_id: 'it-day0' }).select(ctx.db.raw('count(*)::int as n'), ctx.db.raw('count(*) filter (where converted)::int as conv')).first();
  expect(o).toEqual(table);
  const [r] = await duckQuery(`select count(*)::int as n, sum(treatment_conversions + control_conversions)::int as conv from read_parquet('${path.join(dir, 'results.parquet')}') where dimension = 'campaign'`);
  expect(r!.conv).toBe(table.conv);
  expect(files.find((f) => f.path === 'results.parquet')!.rows).toBe(Number((await ctx.db('campaign.results').where({ run_id: 'it-day0' }).count<{ n: string }[]>('* as n'))[0]!.n));
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const outcomes = manifest.stages.find((s: { stage: string }) => s.stage === 'outcomes');
  expect(outcomes.files.map((f: { path: string }) => f.path).sort()).toEqual(['outcomes.parquet', 'report.html', 'results.parquet']);
});

test('labelled contacts of both arms feed the next training set, with features from before the contact', async () => {
  const labels = await ctx.db('campaign.outcome_labels').where({ run_id: 'it-day0' }).select('arm', 'converted').count('* as n').groupBy('arm', 'converted');
  const dispatched = await ctx.db('campaign.dispatch').where({ run_id: 'it-day0' }).count<{ n: string }[]>('* as n');
  expect(labels.reduce((n, l) => n + Number(l.n), 0)).toBe(Number(dispatched[0]!.n));
  const rows = await buildTrainingSet(ctx.db, { runId: 'it-day30', asOf: D1, timezone: config.timezone, product: 'consumer_loan', features: ['txn_count_90d', 'total_deposits'], attributionDays: 30, windowDays: 365, maxRows: 100_000, seed: 1 });
  const fromOutcomes = rows.filter((r) => r.contact_id.startsWith('outcome:it-day0:'));
  const expected = await ctx.db('campaign.outcome_labels').where({ run_id: 'it-day0', product: 'consumer_loan' }).select('arm', 'converted');
  expect(fromOutcomes.length).toBe(expected.length);
  for (const arm of ['treatment', 'control'] as const) {
    expect(fromOutcomes.filter((r) => r.arm === arm && r.label === 1).length).toBe(expected.filter((e) => e.arm === arm && e.converted).length);
    expect(fromOutcomes.filter((r) => r.arm === arm).length).toBeGreaterThan(0);
  }
  for (const r of fromOutcomes) expect(r.as_of).toBe('2026-11-19');
  // A training run dated before the window closed must not see these labels.
  const early = await buildTrainingSet(ctx.db, { runId: 'it-day30', asOf: '2026-12-10', timezone: config.timezone, product: 'consumer_loan', features: ['txn_count_90d'], attributionDays: 30, windowDays: 365, maxRows: 100_000, seed: 1 });
  expect(early.filter((r) => r.contact_id.startsWith('outcome:')).length).toBe(0);
});

test('one training query for several products gives each product the rows of its own query', async () => {
  const base = { runId: 'it-day30', asOf: D1, timezone: config.timezone, attributionDays: 30, windowDays: 365, seed: 3 };
  const loan = ['txn_count_90d', 'total_deposits', 'salary_credit'];
  const card = ['total_deposits', 'calculator_uses_30d', 'products_held'];
  // A ranked tag depends on the other points of its query: a product asking for one is queried on its own.
  const ranked = ['rfm_monetary_score', 'total_deposits'];
  for (const [maxRows, cardFeatures] of [[100_000, card], [40, card], [100_000, ranked]] as const) {
    const products = [{ product: 'consumer_loan', features: loan }, { product: 'credit_card', features: cardFeatures }];
    const sets = await buildTrainingSets(ctx.db, { ...base, maxRows, products });
    expect([...sets.keys()].sort()).toEqual(['consumer_loan', 'credit_card']);
    for (const { product, features } of products) {
      const alone = await buildTrainingSet(ctx.db, { ...base, maxRows, product, features });
      expect(alone.length).toBeGreaterThan(maxRows === 40 ? 30 : 40);
      expect(sets.get(product)).toEqual(alone);
      for (const row of sets.get(product)!) expect(Object.keys(row).sort()).toEqual(['arm', 'as_of', 'contact_id', 'label', ...features].sort());
    }
  }
});

test('collecting again gives byte-identical outcomes.parquet and results.parquet', async () => {
  const { createHash } = await import('node:crypto');
  const hashes = () => ['outcomes.parquet', 'results.parquet'].map((f) => createHash('sha256').update(readFileSync(path.join(day0.snapshotDir, f))).digest('hex'));
  const before = hashes();
  const campaign = config.campaigns[1]!;
  const handle = await ctx.client.workflow.start(WORKFLOW_COLLECT_OUTCOMES, {
    taskQueue: ctx.taskQueue,
    workflowId: `again-${campaign.id}`,
    args: [{ runId: 'it-day0', asOf: D0, campaignId: campaign.id, attributionWindow: `${WINDOW_DAYS}d`, collectAfter: '1s', campaign }],
  });
  await handle.result();
  expect(hashes()).toEqual(before);
});

test('last touch: a later treatment contact for the same product takes the credit, one on the opening day or for another product does not (timer path, short wait)', async () => {
  const campaign = config.campaigns[0]!;
  const before = await ctx.db('campaign.results').where({ run_id: 'it-day0', campaign_id: campaign.id, dimension: 'campaign' }).first();
  const converted = await ctx.db('campaign.outcomes')
    .where({ run_id: 'it-day0', campaign_id: campaign.id, converted: true })
    .where('converted_at', '>=', '2026-11-22')
    .orderBy('golden_id')
    .select('golden_id', 'arm', ctx.db.raw("to_char(converted_at - 1, 'YYYY-MM-DD') as rival_day"), ctx.db.raw("to_char(converted_at, 'YYYY-MM-DD') as opened_day"));
  expect(converted.length).toBeGreaterThan(6);
  const stolen = converted.slice(0, 3);
  const byBank = converted[3]!;
  // Another run on a later date contacted these customers about the same product the day before they opened it.
  const rivalConfig = { campaigns: [{ id: 'rival_offer', product: campaign.product }, { id: 'other_product_offer', product: 'mortgage' }] };
  await ctx.db('audit.runs').insert({ run_id: 'it-rival', as_of: '2026-11-21', input_dir: '-', config_sha256: '-', config: JSON.stringify(rivalConfig), code_version: 'test', seed: 0, status: 'succeeded', snapshot_dir: '-', started_at: new Date() });
  const rival = (s: { golden_id: string }, campaignId: string, asOf: string) => ({ run_id: 'it-rival', as_of: asOf, campaign_id: campaignId, golden_id: s.golden_id, channel: 'sms', arm: 'treatment', score: 0.5, idempotency_key: `rival-${campaignId}-${s.golden_id}`, delivery_status: 'delivered_file' });
  await ctx.db('campaign.dispatch').insert(stolen.map((s) => rival(s, 'rival_offer', s.rival_day)));
  // Contacts that are not strictly between the contact and the opening, or offer another product, leave the credit.
  await ctx.db('campaign.dispatch').insert([rival(converted[4]!, 'rival_offer', converted[4]!.opened_day), rival(converted[5]!, 'other_product_offer', converted[5]!.rival_day)]);
  // And the bank's own campaign system contacted one more about the product the day before (in the later extracts).
  const key = await ctx.db('core.customer_sources').where({ run_id: 'it-day30', golden_id: byBank.golden_id }).orderBy('customer_key').first('customer_key');
  await ctx.db('landing.campaign_contacts').insert({ run_id: 'it-day30', row_number: 999_999, contact_id: 'M-rival', customer_key: key.customer_key, campaign_id: 'BANK-RIVAL', product: campaign.product, channel: 'call', contacted_at: ctx.db.raw("(?::date + time '10:00') at time zone 'Asia/Shanghai'", [byBank.rival_day]), converted: false });
  const onContactDay = await ctx.db('core.customer_sources').where({ run_id: 'it-day30', golden_id: converted[6]!.golden_id }).orderBy('customer_key').first('customer_key');
  await ctx.db('landing.campaign_contacts').insert({ run_id: 'it-day30', row_number: 999_998, contact_id: 'M-same-day', customer_key: onContactDay.customer_key, campaign_id: 'BANK-RIVAL', product: campaign.product, channel: 'call', contacted_at: ctx.db.raw("(?::date + time '10:00') at time zone 'Asia/Shanghai'", [D0]), converted: false });
  stolen.push(byBank);
  const handle = await ctx.client.workflow.start(WORKFLOW_COLLECT_OUTCOMES, {
    taskQueue: ctx.taskQueue,
    workflowId: `recollect-${campaign.id}`,
    args: [{ runId: 'it-day0', asOf: D0, campaignId: campaign.id, attributionWindow: `${WINDOW_DAYS}d`, collectAfter: '1s', campaign }],
  });
  await handle.result();
  const after = await ctx.db('campaign.results').where({ run_id: 'it-day0', campaign_id: campaign.id, dimension: 'campaign' }).first();
  const lost = (arm: string) => stolen.filter((s) => s.arm === arm).length;
  expect(after.treatment_conversions).toBe(before.treatment_conversions - lost('treatment'));
  expect(after.control_conversions).toBe(before.control_conversions - lost('control'));
  const now = await ctx.db('campaign.outcomes').where({ run_id: 'it-day0', campaign_id: campaign.id }).whereIn('golden_id', stolen.map((s) => s.golden_id));
  expect(now.every((o) => o.converted === false)).toBe(true);
  const kept = await ctx.db('campaign.outcomes').where({ run_id: 'it-day0', campaign_id: campaign.id }).whereIn('golden_id', converted.slice(4, 7).map((s) => s.golden_id));
  expect(kept.map((o) => o.converted)).toEqual([true, true, true]);
});

test('portrait report prints the outcome table (text and --json) and exits 0; an unknown run is a usage error', async () => {
  const { main } = await import('../../cli/portrait');
  const cli = captureCli(ctx.databaseUrl);
  try {
    await expect(main(['report', 'it-day0', '--json'])).resolves.toBe(0);
    const json = JSON.parse(cli.printed());
    cli.clear();
    await expect(main(['report', 'it-day0'])).resolves.toBe(0);
    await expect(main(['report', 'no-such-run'])).rejects.toThrow('no run with id no-such-run');
    const printed = cli.printed();
    cli.restore();
    expect(json.campaigns.map((c: { campaignId: string }) => c.campaignId)).toEqual(config.campaigns.map((c) => c.id).sort());
    const table = await ctx.db('campaign.results').where({ run_id: 'it-day0' }).count<{ n: string }[]>('* as n');
    expect(json.campaigns.reduce((n: number, c: { rows: unknown[] }) => n + c.rows.length, 0)).toBe(Number(table[0]!.n));
    for (const c of config.campaigns) expect(printed).toContain(`${c.id}: window ${WINDOW_DAYS} d, conversions seen through ${D1}`);
    expect(printed).toContain('score_decile=10');
    expect(printed).toContain('Qini coefficient');
  } finally {
    cli.restore();
  }
});
