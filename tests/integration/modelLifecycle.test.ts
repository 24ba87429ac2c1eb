import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, configSha256 } from '../../config/load';
import type { PortraitConfig } from '../../config/schema';
import { generateSourceExtracts } from '../../generator/generate';
import { promoteModel, PromotionRefused } from '../../activities/modelRegistry';
import { WORKFLOW_DAILY_RUN, type DailyRunInput, type DailyRunResult } from '../../shared';
import { createTestContext, type TestContext } from '../helpers/testContext';
import { duckQuery } from '../helpers/duck';

// Two daily extracts of the same synthetic bank a month apart: the later one has contacts whose windows closed since.
const FIRST = '2026-11-20';
const LATER = '2026-12-20';
let ctx: TestContext;
let config: PortraitConfig;
let first: DailyRunResult;
let later: DailyRunResult;

async function run(runId: string, asOf: string): Promise<DailyRunResult> {
  const input: DailyRunInput = { runId, asOf, inputDir: path.join(ctx.workDir, asOf), config, configSha256: configSha256(config), awaitOutcomes: true };
  const handle = await ctx.client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue: ctx.taskQueue, workflowId: `dailyRun-${runId}`, args: [input] });
  return handle.result();
}

beforeAll(async () => {
  ctx = await createTestContext('lifecycle');
  for (const asOf of [FIRST, LATER]) await generateSourceExtracts({ customers: 2500, seed: 5, outDir: path.join(ctx.workDir, asOf), asOf });
  const base = loadConfig();
  config = {
    ...base,
    model: { ...base.model, trees: 30, minHoldoutPositives: 5, excludeFeaturesByProduct: { credit_card: ['age'] } },
    outcomes: { attributionWindow: '1s' },
  } as PortraitConfig;
  await ctx.startWorker();
  first = await run('lc-first', FIRST);
});

afterAll(async () => {
  await ctx?.close();
});

test('the first run registers one champion per product with its holdout metrics, training snapshot and decision', async () => {
  const models = await ctx.db('audit.models').orderBy('product');
  expect(models.map((m) => [m.product, m.status])).toEqual(config.model.products.map((p) => [p, 'champion']).sort());
  for (const m of models) {
    // The training set is a file an auditor can re-hash and read.
    expect(createHash('sha256').update(readFileSync(m.training_snapshot_path)).digest('hex')).toBe(m.training_snapshot_sha256);
    const [split] = await duckQuery(
      `select count(*) filter (where split = 'train')::int as train, count(*) filter (where split = 'holdout')::int as holdout,
              (max(as_of) filter (where split = 'train'))::varchar as last_train, (min(as_of) filter (where split = 'holdout'))::varchar as first_holdout
       from read_parquet('${m.training_snapshot_path}')`,
    );
    expect(split!.train).toBe(m.training_rows);
    expect(split!.holdout).toBeGreaterThan(0);
    // Time-based: every held-out contact is later than every training contact.
    expect(String(split!.last_train) < String(split!.first_holdout)).toBe(true);
    expect(split!.first_holdout).toBe(m.holdout_from);
    expect(split!.last_train).toBe(m.training_until);
    expect(m.metrics.holdout.rows).toBe(split!.holdout);
    for (const key of ['auc', 'pr_auc', 'log_loss', 'top_decile_capture']) expect(typeof m.metrics.holdout[key]).toBe('number');
    expect(m.metrics.holdout.gains).toHaveLength(10);
    expect(m.positive_rate).toBeCloseTo(m.metrics.population_positives / m.metrics.population_contacts, 6);
    const events = await ctx.db('audit.model_events').where({ model_version: m.model_version }).orderBy('event_id');
    expect(events.map((e) => [e.event, e.reason])).toEqual([['registered', 'candidate'], ['promoted', 'no_champion']]);
  }
  const card = models.find((m) => m.product === 'credit_card')!;
  const loan = models.find((m) => m.product === 'consumer_loan')!;
  // A protected attribute excluded for one product never reaches its model, its training snapshot or its reasons.
  expect(card.features).not.toContain('age');
  expect(card.excluded_features).toEqual(['age']);
  expect(loan.features).toContain('age');
  const columns = await duckQuery(`select column_name from (describe select * from read_parquet('${card.training_snapshot_path}'))`);
  // The snapshot also carries no column the model does not use.
  expect(columns.map((c) => c.column_name)).not.toContain('age');
  const reasons = await ctx.db('mart.scores').where({ run_id: 'lc-first', product: 'credit_card' }).whereILike('reasons', '%age:%');
  expect(reasons).toEqual([]);
});

test('scores are calibrated to the population rate and carry reason codes from the champion', async () => {
  const models = await ctx.db('audit.models').where({ status: 'champion' });
  for (const m of models) {
    const [agg] = (await ctx.db('mart.scores').where({ run_id: 'lc-first', product: m.product }).avg('score as mean').count('* as n')) as { mean: string; n: string }[];
    // Balanced class weights alone would centre scores near 0.5; prior correction brings them to the base rate's scale.
    expect(Number(agg!.mean)).toBeLessThan(Math.min(0.5, 4 * m.positive_rate));
    expect(Number(agg!.mean)).toBeGreaterThan(m.positive_rate / 4);
    const sample = await ctx.db('mart.scores').where({ run_id: 'lc-first', product: m.product }).orderBy('score', 'desc').limit(20);
    for (const s of sample) {
      expect(s.model_version).toBe(m.model_version);
      const parts = String(s.reasons).split(';');
      expect(parts).toHaveLength(3);
      for (const p of parts) {
        const [feature, value] = p.split(':');
        expect(m.features).toContain(feature);
        expect(Number(value)).not.toBeNaN();
      }
    }
  }
  const [snap] = await duckQuery(`select count(*)::int as n, count(reasons)::int as with_reasons from read_parquet('${path.join(first.snapshotDir, 'scores.parquet')}')`);
  expect(snap!.with_reasons).toBe(snap!.n);
});

test('a re-run of the same date learns nothing new and scores with the same champions', async () => {
  const before = await ctx.db('audit.models').count<{ n: string }[]>('* as n');
  const again = await run('lc-again', FIRST);
  const after = await ctx.db('audit.models').count<{ n: string }[]>('* as n');
  expect(Number(after[0]!.n)).toBe(Number(before[0]!.n));
  const a = JSON.parse(readFileSync(path.join(first.snapshotDir, 'manifest.json'), 'utf8'));
  const b = JSON.parse(readFileSync(path.join(again.snapshotDir, 'manifest.json'), 'utf8'));
  expect(b.model_version).toEqual(a.model_version);
});

test('a later run with new labelled contacts trains a candidate, judges it against the champion on the same holdout and logs the decision', async () => {
  const champions = Object.fromEntries((await ctx.db('audit.models').where({ status: 'champion' })).map((m) => [m.product, m.model_version]));
  later = await run('lc-later', LATER);
  for (const product of config.model.products) {
    const candidate = await ctx.db('audit.models').where({ product, trained_by_run: 'lc-later' }).first();
    expect(candidate).toBeDefined();
    const events = await ctx.db('audit.model_events').where({ run_id: 'lc-later', product }).orderBy('event_id');
    const registered = events.find((e) => e.event === 'registered')!;
    expect(registered.model_version).toBe(candidate.model_version);
    expect(registered.champion_version).toBe(champions[product]);
    const decision = events.find((e) => e.event === 'promoted' || e.event === 'kept_champion')!;
    const now = await ctx.db('audit.models').where({ product, status: 'champion' });
    expect(now).toHaveLength(1);
    if (decision.event === 'promoted') {
      expect(decision.reason).toBe('at_least_as_good');
      expect(registered.candidate_auc).toBeGreaterThanOrEqual(registered.champion_auc);
      expect(now[0].model_version).toBe(candidate.model_version);
      expect(events.find((e) => e.event === 'retired')!.model_version).toBe(champions[product]);
    } else {
      expect(['worse_than_champion', 'holdout_too_small']).toContain(decision.reason);
      if (decision.reason === 'worse_than_champion') expect(registered.candidate_auc).toBeLessThan(registered.champion_auc);
      expect(now[0].model_version).toBe(champions[product]);
      expect(candidate.status).toBe('candidate');
    }
    // The champion judged is scored on rows it never trained on.
    const champion = await ctx.db('audit.models').where({ model_version: champions[product] }).first();
    expect(candidate.holdout_from > champion.training_until).toBe(true);
    const manifest = JSON.parse(readFileSync(path.join(later.snapshotDir, 'manifest.json'), 'utf8'));
    expect(manifest.model_version[product]).toBe(now[0].model_version);
  }
});

test('manual promotion follows the same rule unless forced with a reason', async () => {
  const candidates = await ctx.db('audit.models').where({ status: 'candidate' });
  const retired = await ctx.db('audit.models').where({ status: 'retired' });
  // Whichever way the later run decided, there is a non-champion model to try promoting.
  const target = candidates[0] ?? retired[0];
  expect(target).toBeDefined();
  const registered = await ctx.db('audit.model_events').where({ model_version: target.model_version, event: 'registered' }).first();
  const champion = await ctx.db('audit.models').where({ product: target.product, status: 'champion' }).first();
  const eligible = registered.champion_version === champion.model_version && registered.candidate_auc !== null && registered.candidate_auc >= registered.champion_auc;
  if (!eligible) {
    await expect(promoteModel(ctx.db, target.model_version, { actor: 'test' })).rejects.toBeInstanceOf(PromotionRefused);
    await expect(promoteModel(ctx.db, target.model_version, { actor: 'test', force: true })).rejects.toThrow(/--reason/);
    expect((await ctx.db('audit.models').where({ model_version: target.model_version }).first()).status).toBe(target.status);
  }
  const result = await promoteModel(ctx.db, target.model_version, { actor: 'test', force: true, reason: 'model risk committee approval MRC-42' });
  expect(result.previous).toBe(champion.model_version);
  const after = await ctx.db('audit.models').where({ product: target.product, status: 'champion' });
  expect(after.map((m) => m.model_version)).toEqual([target.model_version]);
  const log = await ctx.db('audit.model_events').where({ model_version: target.model_version, event: 'promoted' }).orderBy('event_id', 'desc').first();
  expect(log.reason).toBe(eligible ? 'manual' : 'manual_override');
  await expect(promoteModel(ctx.db, target.model_version, { actor: 'test' })).rejects.toThrow(/already the/);
});
