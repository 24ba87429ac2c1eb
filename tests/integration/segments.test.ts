import { MockActivityEnvironment } from '@temporalio/testing';
import type { Knex } from 'knex';
import { createActivities } from '../../activities';
import { createLogger } from '../../services/logger';
import { loadConfig } from '../../config/load';
import { compileRules } from '../../transforms/segmentRules';
import { FEATURE_TAGS } from '../../transforms/tagCatalogue';
import { chooseK, fitStandardiser, relabelBySize, standardise } from '../../models/kmeans';
import { createTestContext, type TestContext } from '../helpers/testContext';

/**
 * The segment stage on 600 synthetic tag rows (spread values, nulls, doubles with many digits), checked against the
 * plain definitions it is an optimisation of: a membership statement per rule, avg/stddev/median per feature in
 * separate queries, and nearest centroids computed in memory from row objects.
 */
const RUN = 'segments-fixture';
const SEED = 3;

let ctx: TestContext;
let db: Knex;
let details: Record<string, unknown>;
const config = loadConfig();
const clustering = { ...config.clustering, k: [2, 3, 4], sampleSize: 250 };

beforeAll(async () => {
  ctx = await createTestContext('segments');
  db = ctx.db;
  const activities = createActivities({ db, databaseUrl: ctx.databaseUrl, log: createLogger('warn'), env: ctx.env, codeVersion: 'test' });
  await db('audit.runs').insert({ run_id: RUN, as_of: '2026-11-20', input_dir: '-', config_sha256: '-', config: '{}', code_version: 'test', seed: SEED, status: 'running', snapshot_dir: `${ctx.workDir}/snap/${RUN}`, started_at: new Date() });
  // h(i, k): a deterministic spread in [0, 1) per customer and column.
  const h = (k: number) => `(abs(hashtext(i::text || ':${k}')) % 100000) / 100000.0`;
  await db.raw(`
    insert into mart.tags (run_id, golden_id, age, total_deposits, has_time_deposit, time_deposit_maturing_30d, loan_outstanding, has_consumer_loan,
      has_credit_card, has_mortgage, products_held, max_overdue_days, credit_band, deposit_loan_gap, txn_count_30d, txn_amount_30d, txn_count_90d,
      salary_credit, app_logins_30d, loan_views_7d, loan_views_30d, calculator_uses_30d, application_starts_30d, lifecycle, clv_proxy)
    select ?, 'G' || lpad(i::text, 5, '0'),
      case when i % 17 = 0 then null else 18 + floor(${h(1)} * 60)::int end,
      round((${h(2)} ^ 3 * 2500000)::numeric, 2)::float8 / 3,
      ${h(3)} < 0.3, ${h(4)} < 0.1,
      case when ${h(5)} < 0.4 then 0 else ${h(6)} * 300000 / 7 end,
      ${h(7)} < 0.3, ${h(8)} < 0.5, ${h(9)} < 0.1, floor(${h(10)} * 5)::int,
      case when ${h(11)} < 0.1 then 45 else 0 end,
      case when ${h(12)} < 0.05 then 'doubtful' else 'normal' end,
      ${h(13)} < 0.5,
      floor(${h(14)} * 12)::int, ${h(15)} * 9000 / 11, floor(${h(16)} * 40)::int,
      ${h(17)} < 0.4, floor(${h(18)} * 30)::int, 0, floor(${h(19)} * 4)::int, 0, 0,
      (array['new', 'growing', 'mature', 'churn_risk', 'silent'])[1 + floor(${h(20)} * 5)::int],
      case when i % 23 = 0 then null else ${h(21)} * 12345.678 end
    from generate_series(1, 600) i`, [RUN]);
  const result = await new MockActivityEnvironment().run(activities.assignSegments, { runId: RUN, rules: [...config.segments], clustering, seed: SEED });
  details = (result as { details: Record<string, unknown> }).details;
}, 120_000);

afterAll(async () => {
  await ctx?.close();
});

test('memberships: every rule a customer matches, one statement per rule as the definition', async () => {
  const rules = compileRules(config.segments);
  const primary = new Map((await db('mart.segments').where({ run_id: RUN })).map((s) => [s.golden_id as string, s.segment as string]));
  const members = await db('mart.segment_memberships').where({ run_id: RUN }).orderBy(['segment', 'golden_id']);
  const expected: [string, string, boolean][] = [];
  for (const rule of [...rules].sort((a, b) => a.id.localeCompare(b.id))) {
    const rows = (await db.raw(`select t.golden_id from mart.tags t where t.run_id = ? and ${rule.sql} order by t.golden_id`, [RUN, ...rule.bindings])).rows as { golden_id: string }[];
    for (const r of rows) expected.push([rule.id, r.golden_id, primary.get(r.golden_id) === rule.id]);
  }
  expect(members.map((m) => [m.segment, m.golden_id, m.is_primary])).toEqual(expected);
  // The fixture reaches several segments, so the check above is not about one rule only.
  expect(new Set(members.map((m) => m.segment)).size).toBeGreaterThanOrEqual(5);
});

test('profiles: segment and population means, deviations and medians as separate plain aggregates give them', async () => {
  const profiles = await db('mart.segment_profiles').where({ run_id: RUN }).orderBy('priority');
  const exact = (id: string) => `t."${id}"::${['has_time_deposit', 'time_deposit_maturing_30d', 'has_consumer_loan', 'has_credit_card', 'has_mortgage', 'deposit_loan_gap', 'salary_credit'].includes(id) ? 'int::' : ''}numeric`;
  const population = (await db.raw(`select ${FEATURE_TAGS.map((id) => `avg(${exact(id)}) as "${id}", stddev_pop(${exact(id)}) as "sd_${id}"`).join(', ')} from mart.tags t where run_id = ?`, [RUN])).rows[0];
  let compared = 0;
  for (const p of profiles) {
    const seg = (await db.raw(
      `select ${FEATURE_TAGS.map((id) => `avg(${exact(id)}) as "${id}"`).join(', ')}, percentile_cont(0.5) within group (order by t.total_deposits) as m
       from mart.tags t join mart.segments s using (run_id, golden_id) where t.run_id = ? and s.segment = ?`,
      [RUN, p.segment],
    )).rows[0];
    for (const d of p.distinguishing as { tag: string; segment_mean: number; population_mean: number; smd: number }[]) {
      expect(d.population_mean).toBeCloseTo(Number(population[d.tag]), 4);
      expect(d.segment_mean).toBeCloseTo(Number(seg[d.tag]), 4);
      expect(d.smd).toBeCloseTo((Number(seg[d.tag]) - Number(population[d.tag])) / Number(population[`sd_${d.tag}`]), 3);
      compared++;
    }
    if (p.primary_size > 0) expect((p.medians as Record<string, number>).total_deposits).toBeCloseTo(Number(seg.m), 4);
  }
  expect(compared).toBeGreaterThan(10);
});

test('clusters: each customer at the nearest centroid, as computed in memory from row objects', async () => {
  const features = clustering.features;
  const select = features.map((f) => `t."${f}"::float8 as "${f}"`).join(', ');
  const toRow = (r: Record<string, number | null>) => features.map((f) => (r[f] === null ? null : Number(r[f])));
  const sampleRows = (await db.raw(`select ${select} from mart.tags t where run_id = ? order by md5(golden_id || ?), golden_id limit ?`, [RUN, String(SEED), clustering.sampleSize])).rows;
  const standardiser = fitStandardiser(sampleRows.map(toRow), features);
  const model = relabelBySize(chooseK(standardise(sampleRows.map(toRow), standardiser), clustering.k, `${SEED}:clusters`).best);
  const all = (await db.raw(`select golden_id, ${select} from mart.tags t where run_id = ? order by golden_id`, [RUN])).rows as (Record<string, number | null> & { golden_id: string })[];
  const expected = all.map((r) => {
    const [p] = standardise([toRow(r)], standardiser);
    const distances = model.centroids.map((c) => c.reduce((s, cj, j) => s + (p![j]! - cj) ** 2, 0));
    return [r.golden_id, distances.indexOf(Math.min(...distances))];
  });
  const stored = (await db('mart.clusters').where({ run_id: RUN }).orderBy('golden_id')).map((c) => [c.golden_id, c.cluster]);
  expect(stored).toEqual(expected);
  expect((details.clusters as { k: number }).k).toBe(model.k);
  expect(model.k).toBeGreaterThan(1);
  // Rows with a null feature are among them (their value is the mean).
  expect(all.some((r) => r.age === null)).toBe(true);
});
