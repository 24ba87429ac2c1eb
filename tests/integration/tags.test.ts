import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ensureLandingPartition } from '../../db/landing';
import { knexRunner } from '../../activities/pg';
import type { Knex } from 'knex';
import { createActivities } from '../../activities';
import { createLogger } from '../../services/logger';
import { idCheckChar } from '../../transforms/idNumber';
import { TAGS } from '../../transforms/tagCatalogue';
import { loadConfig } from '../../config/load';
import { tagSelectSql, TIME_BAND_OF_HOUR } from '../../sql/tagSql';
import { snapshotRun } from '../../relations/materialize';
import { tags as tagsRelation } from '../../relations/snapshots';
import { createTestContext, type TestContext } from '../helpers/testContext';

/**
 * Each tag on a hand-made fixture whose values are worked out by hand, point-in-time correctness (rows after
 * the as-of date change nothing), and trigger events against an earlier run. Real PostgreSQL, no Temporal server:
 * the activities run in the SDK's mock activity context.
 */
const RUN = 'tags-fixture';
const AS_OF = '2026-11-20';
const TZ = 'Asia/Shanghai';
const id18 = (first17: string) => first17 + idCheckChar(first17);
const ID1 = id18('11010519900510001');
const ID2 = id18('31010419850307222');
const ID3 = id18('44030319700101003');

let ctx: TestContext;
let db: Knex;
let activities: ReturnType<typeof createActivities>;
const mock = new MockActivityEnvironment();
let rowNumber = 0;

async function land(table: string, rows: Record<string, unknown>[]): Promise<void> {
  await ensureLandingPartition(knexRunner(db), table, RUN);
  await db(`landing.${table}`).insert(rows.map((r) => ({ run_id: RUN, row_number: ++rowNumber, ...r })));
}

async function tagsOf(runId = RUN): Promise<Record<string, Record<string, unknown>>> {
  const rows = await db('mart.tags').where({ run_id: runId }).orderBy('golden_id');
  const sources = await db('core.customer_sources').where({ run_id: runId });
  const byKey: Record<string, Record<string, unknown>> = {};
  for (const s of sources) byKey[s.customer_key] = rows.find((r) => r.golden_id === s.golden_id);
  return byKey;
}

beforeAll(async () => {
  ctx = await createTestContext('tags');
  db = ctx.db;
  activities = createActivities({ db, databaseUrl: ctx.databaseUrl, log: createLogger('warn'), env: ctx.env, codeVersion: 'test' });
  await db('audit.runs').insert({ run_id: RUN, as_of: AS_OF, input_dir: '-', config_sha256: '-', config: '{}', code_version: 'test', seed: 1, status: 'running', snapshot_dir: `${ctx.workDir}/snap/${RUN}`, started_at: new Date() });
  const kyc = { name: '测试', city: '北京', occupation: '工程师' };
  await land('customers', [
    { source_system: 'core', customer_key: 'C1', id_number: ID1, phone: '13800138000', birth_date: '1990-05-10', gender: 'M', annual_income: 120000, opened_at: '2020-01-01', ...kyc },
    { source_system: 'core', customer_key: 'C2', id_number: ID2, phone: '13900139000', birth_date: '1985-03-07', gender: 'F', annual_income: 40000, opened_at: '2026-10-01', ...kyc },
    // The same person as C2 in the card system, formatted differently: one golden customer.
    { source_system: 'card', customer_key: 'K2', id_number: ID2.toLowerCase(), phone: '139 0013 9000', birth_date: '1985/03/07', gender: '女', ...kyc },
    { source_system: 'core', customer_key: 'C3', id_number: ID3, phone: '13700137000', birth_date: '1970-01-01', gender: 'M', annual_income: 500000, opened_at: '2015-06-01', city: '洛阳', name: '测试', occupation: '退休' },
  ]);
  await land('accounts', [
    { account_id: 'A1', customer_key: 'C1', product: 'demand', opened_at: '2020-01-01' },
    { account_id: 'A2', customer_key: 'C1', product: 'time', opened_at: '2025-06-01', maturity_date: '2026-12-10' },
  ]);
  await land('balances', [
    { account_id: 'A1', balance_date: '2026-08-20', balance: 100000 },
    { account_id: 'A1', balance_date: '2026-10-20', balance: 150000 },
    { account_id: 'A1', balance_date: '2026-11-20', balance: 200000 },
    { account_id: 'A2', balance_date: '2026-08-20', balance: 50000 },
    { account_id: 'A2', balance_date: '2026-10-20', balance: 50000 },
    { account_id: 'A2', balance_date: '2026-11-20', balance: 50000 },
  ]);
  await land('loans', [
    { loan_id: 'L1', customer_key: 'C1', product: 'credit_card', principal: 20000, outstanding: 5000, overdue_days: 0, opened_at: '2024-01-01' },
    { loan_id: 'L2', customer_key: 'K2', product: 'consumer_loan', principal: 50000, outstanding: 30000, overdue_days: 45, opened_at: '2026-01-01' },
  ]);
  const txn = (txn_id: string, txn_ts: string, amount: number, direction: string, channel: string, category: string) => ({ txn_id, account_id: 'A1', customer_key: 'C1', txn_ts, amount, direction, channel, category });
  await land('transactions', [
    txn('T1', '2026-10-10T09:00:00+08:00', 10000, 'credit', 'online', 'salary'),
    txn('T2', '2026-11-10T09:00:00+08:00', 10000, 'credit', 'online', 'salary'),
    txn('T3', '2026-11-19T20:30:00+08:00', 500, 'debit', 'pos', 'shopping'),
    txn('T4', '2026-11-20T23:30:00+08:00', 200, 'debit', 'mobile', 'dining'),
  ]);
  const ev = (event_id: string, event_ts: string, event_type: string) => ({ event_id, customer_key: 'C1', event_ts, event_type });
  await land('app_events', [
    ev('E1', '2026-11-18T12:00:00+08:00', 'login'),
    ev('E2', '2026-11-16T12:00:00+08:00', 'loan_calculator'),
    ev('E3', '2026-11-01T12:00:00+08:00', 'loan_product_view'),
    ev('E4', '2026-10-01T12:00:00+08:00', 'loan_application_start'),
  ]);
  await land('complaints', [
    { complaint_id: 'Q1', customer_key: 'C1', complaint_ts: '2026-10-01T10:00:00+08:00', category: 'fees', status: 'closed' },
    // Outside the 90-day window.
    { complaint_id: 'Q2', customer_key: 'C1', complaint_ts: '2026-06-01T10:00:00+08:00', category: 'service', status: 'closed' },
  ]);
  await mock.run(activities.cleanCustomers, { runId: RUN });
  await mock.run(activities.computeTags, { runId: RUN, asOf: AS_OF, timezone: TZ });
});

afterAll(async () => {
  await ctx?.close();
});

test('the card-system record of C2 resolves to the same golden customer', async () => {
  const t = await tagsOf();
  expect(t.K2!.golden_id).toBe(t.C2!.golden_id);
  expect(await db('mart.tags').where({ run_id: RUN }).count<{ n: string }[]>('* as n')).toEqual([{ n: '3' }]);
});

test('basic, asset and risk tags of C1 match the hand-computed values', async () => {
  const c1 = (await tagsOf()).C1!;
  expect(c1).toMatchObject({
    age: 36, age_band: '35-44', gender: 'M', city_tier: 1, occupation: '工程师', tenure_years: 6.89, annual_income: 120000, income_band: '100k-300k',
    total_deposits: 250000, aum_band: '200k-1M', deposit_trend_30d: 1.25, deposit_trend_90d: 1.6667, has_time_deposit: true, time_deposit_balance: 50000,
    time_deposit_maturing_30d: true, loan_outstanding: 5000, has_consumer_loan: false, has_credit_card: true, has_mortgage: false,
    products_held: 3, deposit_loan_gap: true, max_overdue_days: 0, overdue_loan_count: 0, complaints_90d: 1, credit_band: 'good', cross_sell_count: 2, lifecycle: 'growing',
  });
});

test('behaviour, value and intent tags of C1 count only their windows, ending at the close of the as-of date', async () => {
  const c1 = (await tagsOf()).C1!;
  expect(c1).toMatchObject({
    txn_count_30d: 3, txn_amount_30d: 10700, txn_count_90d: 4, txn_amount_90d: 20700, inflow_30d: 10000, outflow_30d: 700,
    preferred_channel: 'online', active_time_band: 'morning', salary_credit: true, salary_amount_avg: 10000,
    app_logins_7d: 1, app_logins_30d: 1, days_since_last_login: 2, days_since_last_txn: 0,
    loan_views_7d: 0, loan_views_30d: 1, calculator_uses_7d: 1, calculator_uses_30d: 1, application_starts_7d: 0, application_starts_30d: 0,
    rfm_recency_score: 3, rfm_frequency_score: 3, rfm_monetary_score: 3, rfm_cell: 'R3F3M3',
  });
  // 1.5% of deposits + 3% of loans + 2% × 4 × 90-day spend (shopping 500 + dining 200).
  expect(c1.clv_proxy).toBe(Number((0.015 * 250000 + 0.03 * 5000 + 0.02 * 700 * 4).toFixed(2)));
});

test('a transaction’s time band is its local hour’s: [6, 12) morning, [12, 18) afternoon, [18, 23) evening, else night', async () => {
  const { rows } = await db.raw(`select h.hour::int as hour, ${TIME_BAND_OF_HOUR} as band from (select generate_series(0, 23)::float8 as hour) h order by 1`);
  const expected = (hour: number) => (hour >= 6 && hour < 12 ? 'morning' : hour >= 12 && hour < 18 ? 'afternoon' : hour >= 18 && hour < 23 ? 'evening' : 'night');
  expect(rows).toEqual(Array.from({ length: 24 }, (_, hour) => ({ hour, band: expected(hour) })));
});

test('mart.sum_int8 is sum(int8) as a bigint: exact past 2^53, null over no values, an error on overflow rather than a wrapped total', async () => {
  const { rows } = await db.raw(`select mart.sum_int8(v)::text as ours, sum(v)::text as builtin from unnest(array[9007199254740993, -3, null, 4294967296, 1]::int8[]) v`);
  expect(rows).toEqual([{ ours: '9007203549708287', builtin: '9007203549708287' }]);
  const { rows: none } = await db.raw(`select mart.sum_int8(v) as ours from unnest(array[null]::int8[]) v where false`);
  expect(none).toEqual([{ ours: null }]);
  await expect(db.raw(`select mart.sum_int8(v) from unnest(array[9223372036854775807, 1]::int8[]) v`)).rejects.toThrow(/bigint out of range/);
});

test('a customer whose loan is in the card system, and a customer with nothing, get their own values', async () => {
  const t = await tagsOf();
  expect(t.C2).toMatchObject({ gender: 'F', total_deposits: 0, aum_band: '<10k', has_consumer_loan: true, loan_outstanding: 30000, max_overdue_days: 45, overdue_loan_count: 1, credit_band: 'substandard', lifecycle: 'new', income_band: '<50k', days_since_last_txn: null, deposit_loan_gap: false });
  expect(t.C3).toMatchObject({ age: 56, city_tier: 3, total_deposits: 0, lifecycle: 'churned', products_held: 0, cross_sell_count: 0, preferred_channel: null, income_band: '300k+' });
});

test('every catalogue tag is a column of the output', async () => {
  const c1 = (await tagsOf()).C1!;
  for (const tag of TAGS) expect(Object.keys(c1)).toContain(tag.id);
});

test('the daily run’s tags (per-key aggregates rolled up per customer) equal the per-point query, and so does tags.parquet', async () => {
  const columns = ['golden_id', ...TAGS.map((tag) => tag.id)].join(', ');
  const points = 'select golden_id as point_id, golden_id, cast(:asOf as date) as as_of from core.customers where run_id = :runId';
  const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
  const tagsFile = path.join(ctx.env.snapshotDir, RUN, 'tags.parquet');
  // C2's golden customer also under its card key K2: transactions, events and accounts under both keys, so the
  // daily run rolls several partials into one customer. C3 has nothing at all.
  const added = { transactions: ['TK1', 'TK2', 'TC1', 'TK3', 'TC2'], app_events: ['EK1', 'EC1'], accounts: ['AK1', 'AC1'] };
  await land('transactions', [
    { txn_id: 'TK1', account_id: 'AK1', customer_key: 'K2', txn_ts: '2026-11-15T10:00:00+08:00', amount: 321.45, direction: 'debit', channel: 'atm', category: 'shopping' },
    { txn_id: 'TK2', account_id: 'AK1', customer_key: 'K2', txn_ts: '2026-07-01T19:00:00+08:00', amount: 8000, direction: 'credit', channel: 'counter', category: 'salary' },
    { txn_id: 'TC1', account_id: 'AC1', customer_key: 'C2', txn_ts: '2026-11-18T08:00:00+08:00', amount: 12.3, direction: 'debit', channel: 'atm', category: 'dining' },
    // Two salaries whose mean has a half cent: 15,000.01 / 2 = 7,500.005, rounded to 7,500.01 (not cut by an integer division of cents).
    { txn_id: 'TK3', account_id: 'AK1', customer_key: 'K2', txn_ts: '2026-11-05T09:00:00+08:00', amount: 8000.01, direction: 'credit', channel: 'online', category: 'salary' },
    { txn_id: 'TC2', account_id: 'AC1', customer_key: 'C2', txn_ts: '2026-11-06T09:00:00+08:00', amount: 7000, direction: 'credit', channel: 'online', category: 'salary' },
  ]);
  await land('app_events', [
    { event_id: 'EK1', customer_key: 'K2', event_ts: '2026-11-19T12:00:00+08:00', event_type: 'login' },
    { event_id: 'EC1', customer_key: 'C2', event_ts: '2026-11-02T12:00:00+08:00', event_type: 'login' },
  ]);
  await land('accounts', [
    { account_id: 'AK1', customer_key: 'K2', product: 'demand', opened_at: '2026-01-01' },
    { account_id: 'AC1', customer_key: 'C2', product: 'time', opened_at: '2026-02-01', maturity_date: '2026-12-01' },
  ]);
  await land('balances', [
    { account_id: 'AK1', balance_date: '2026-11-01', balance: 7000.5 },
    { account_id: 'AK1', balance_date: '2026-08-01', balance: 100 },
    { account_id: 'AC1', balance_date: '2026-11-20', balance: 30000 },
  ]);
  try {
    // The per-point result, written through the same snapshot as the stage's.
    await db.transaction(async (trx) => {
      await trx('mart.tags').where({ run_id: RUN }).delete();
      await trx.raw(`insert into mart.tags (run_id, ${columns}) select :runId, ${columns} from (${tagSelectSql(points)}) x`, { runId: RUN, asOf: AS_OF, tz: TZ });
    });
    const perPoint = await db('mart.tags').where({ run_id: RUN }).orderBy('golden_id');
    const [written] = await snapshotRun({ db, databaseUrl: ctx.databaseUrl, env: ctx.env }, RUN, [tagsRelation]);
    expect(written!.path).toBe('tags.parquet');
    const perPointSha = sha256(tagsFile);
    expect(perPoint).toHaveLength(3);
    const c2 = (await tagsOf())['K2']!;
    // Both keys' rows count: two transactions of C2 and two of K2 in 90 days (K2's other is older), the logins of both keys.
    expect([c2.txn_count_90d, c2.app_logins_30d, c2.total_deposits, c2.salary_amount_avg]).toEqual([4, 2, 37000.5, 7500.01]);
    await mock.run(activities.computeTags, { runId: RUN, asOf: AS_OF, timezone: TZ });
    expect(await db('mart.tags').where({ run_id: RUN }).orderBy('golden_id')).toEqual(perPoint);
    expect(sha256(tagsFile)).toBe(perPointSha);
    // The work tables are gone once the stage has run.
    expect((await db.raw(`select tablename from pg_tables where schemaname = 'mart' and tablename like 'tags_base%'`)).rows).toEqual([]);
  } finally {
    for (const [table, ids] of Object.entries(added)) {
      const key = { transactions: 'txn_id', app_events: 'event_id', accounts: 'account_id' }[table]!;
      await db(`landing.${table}`).where({ run_id: RUN }).whereIn(key, ids).delete();
    }
    await db('landing.balances').where({ run_id: RUN }).whereIn('account_id', added.accounts).delete();
    await mock.run(activities.computeTags, { runId: RUN, asOf: AS_OF, timezone: TZ });
  }
});

test('a retried stage drops the work tables an earlier attempt left behind', async () => {
  const before = await db('mart.tags').where({ run_id: RUN }).orderBy('golden_id');
  const prefix = `tags_base_${createHash('sha256').update(RUN).digest('hex').slice(0, 12)}_`;
  // As a crashed attempt leaves them: a table the new attempt would create, and a partial it would drop on its way.
  await db.raw(`create unlogged table mart.${prefix}txn (x int); create unlogged table mart.${prefix}partial_balances (x int)`);
  await mock.run(activities.computeTags, { runId: RUN, asOf: AS_OF, timezone: TZ });
  expect(await db('mart.tags').where({ run_id: RUN }).orderBy('golden_id')).toEqual(before);
  expect((await db.raw(`select tablename from pg_tables where schemaname = 'mart' and tablename like 'tags_base%'`)).rows).toEqual([]);
});

test('partials computed beside clean give the same tags, are dropped by the tags stage, and a finished run\'s leftovers are swept', async () => {
  const before = await db('mart.tags').where({ run_id: RUN }).orderBy('golden_id');
  const sha = (runId: string) => createHash('sha256').update(runId).digest('hex').slice(0, 12);
  const workTables = async () => (await db.raw(`select tablename from pg_tables where schemaname = 'mart' and (tablename like 'tag_partials%' or tablename like 'tags_base%')`)).rows.map((r: { tablename: string }) => r.tablename).sort();
  // What a failed run left between its partials and its tags stage, and what a run still running has made.
  await db('audit.runs').insert({ run_id: 'tags-failed', as_of: AS_OF, input_dir: '-', config_sha256: '-', config: '{}', code_version: 'test', seed: 1, status: 'failed', snapshot_dir: '-', started_at: new Date() });
  await db('audit.runs').insert({ run_id: 'tags-running', as_of: AS_OF, input_dir: '-', config_sha256: '-', config: '{}', code_version: 'test', seed: 1, status: 'running', snapshot_dir: '-', started_at: new Date() });
  await db.raw(`create unlogged table mart.tag_partials_${sha('tags-failed')}_transactions (x int); create unlogged table mart.tags_base_${sha('tags-failed')}_txn (x int)`);
  await db.raw(`create unlogged table mart.tag_partials_${sha('tags-running')}_transactions (x int)`);
  await mock.run(activities.computeTagPartials, { runId: RUN, asOf: AS_OF, timezone: TZ });
  expect(await workTables()).toEqual([`tag_partials_${sha('tags-running')}_transactions`, ...['app_events', 'balances', 'transactions'].map((s) => `tag_partials_${sha(RUN)}_${s}`)].sort());
  // The stage uses them (it would not read a landing row added now, which it would if it computed them again).
  await land('app_events', [{ event_id: 'EP1', customer_key: 'C3', event_ts: '2026-11-19T09:00:00+08:00', event_type: 'login' }]);
  await mock.run(activities.computeTags, { runId: RUN, asOf: AS_OF, timezone: TZ });
  expect(await db('mart.tags').where({ run_id: RUN }).orderBy('golden_id')).toEqual(before);
  expect(await workTables()).toEqual([`tag_partials_${sha('tags-running')}_transactions`]);
  // Computed in the stage itself, the new row counts.
  await mock.run(activities.computeTags, { runId: RUN, asOf: AS_OF, timezone: TZ });
  expect(await db('mart.tags').where({ run_id: RUN }).orderBy('golden_id')).not.toEqual(before);
  await db('landing.app_events').where({ run_id: RUN, event_id: 'EP1' }).delete();
  await mock.run(activities.computeTags, { runId: RUN, asOf: AS_OF, timezone: TZ });
  expect(await db('mart.tags').where({ run_id: RUN }).orderBy('golden_id')).toEqual(before);
  await db.raw(`drop table mart.tag_partials_${sha('tags-running')}_transactions`);
  await db('audit.runs').whereIn('run_id', ['tags-failed', 'tags-running']).delete();
});

test('a partial table emptied between the two activities (crash recovery resets unlogged tables) is computed again, not read as no transactions', async () => {
  const before = await db('mart.tags').where({ run_id: RUN }).orderBy('golden_id');
  expect(before.some((t) => t.txn_count_90d > 0)).toBe(true);
  const sha = createHash('sha256').update(RUN).digest('hex').slice(0, 12);
  await mock.run(activities.computeTagPartials, { runId: RUN, asOf: AS_OF, timezone: TZ });
  // What recovery from a server crash does to an unlogged table: empty, its catalogue entry (and comment) kept.
  await db.raw(`truncate mart.tag_partials_${sha}_transactions`);
  await mock.run(activities.computeTags, { runId: RUN, asOf: AS_OF, timezone: TZ });
  expect(await db('mart.tags').where({ run_id: RUN }).orderBy('golden_id')).toEqual(before);
});

test('rows stamped after the as-of date change nothing (point in time)', async () => {
  const before = await db('mart.tags').where({ run_id: RUN }).orderBy('golden_id');
  await land('transactions', [{ txn_id: 'TF1', account_id: 'A1', customer_key: 'C1', txn_ts: '2026-11-21T00:00:00+08:00', amount: 99999, direction: 'credit', channel: 'atm', category: 'salary' }]);
  await land('balances', [{ account_id: 'A1', balance_date: '2026-11-21', balance: 9999999 }]);
  await land('loans', [{ loan_id: 'LF', customer_key: 'C1', product: 'mortgage', principal: 1e6, outstanding: 1e6, overdue_days: 120, opened_at: '2026-11-21' }]);
  await land('app_events', [{ event_id: 'EF', customer_key: 'C3', event_ts: '2026-11-21T00:00:01+08:00', event_type: 'loan_application_start' }]);
  await land('accounts', [{ account_id: 'AF', customer_key: 'C3', product: 'demand', opened_at: '2026-11-22' }]);
  await land('balances', [{ account_id: 'AF', balance_date: '2026-11-22', balance: 5000 }]);
  await mock.run(activities.computeTags, { runId: RUN, asOf: AS_OF, timezone: TZ });
  const after = await db('mart.tags').where({ run_id: RUN }).orderBy('golden_id');
  expect(after).toEqual(before);
});

test('tag changes against the latest earlier run become trigger events', async () => {
  await db('audit.runs').insert({ run_id: 'prev', as_of: '2026-11-13', input_dir: '-', config_sha256: '-', config: '{}', code_version: 'test', seed: 1, status: 'succeeded', snapshot_dir: '-', started_at: new Date(), finished_at: new Date() });
  // A run reads earlier runs that finished before it was registered: here the fixture's run is registered now.
  await db('audit.runs').where({ run_id: RUN }).update({ suppressions_as_of: db.fn.now() });
  await db.raw(`insert into mart.tags select (jsonb_populate_record(null::mart.tags, to_jsonb(t) || '{"run_id": "prev"}')).* from mart.tags t where t.run_id = ?`, [RUN]);
  const c1 = (await tagsOf()).C1!;
  await db('mart.tags').where({ run_id: 'prev', golden_id: c1.golden_id }).update({ total_deposits: 100000, calculator_uses_7d: 0, time_deposit_maturing_30d: false });
  await mock.run(activities.computeTags, { runId: RUN, asOf: AS_OF, timezone: TZ });
  const events = await db('mart.trigger_events').where({ run_id: RUN }).orderBy(['golden_id', 'event']);
  expect(events.map((e) => [e.golden_id, e.event, e.previous_value, e.current_value])).toEqual([
    [c1.golden_id, 'large_inflow', 100000, 250000],
    [c1.golden_id, 'loan_calculator_used', 0, 1],
    [c1.golden_id, 'time_deposit_maturing', 50000, 50000],
  ]);
  expect(events.every((e) => e.previous_run_id === 'prev')).toBe(true);
});

test('segments: exactly one primary segment each, memberships include every matching rule', async () => {
  const config = loadConfig();
  await mock.run(activities.assignSegments, { runId: RUN, rules: [...config.segments], clustering: { ...config.clustering, k: [2] }, seed: 1 });
  const t = await tagsOf();
  const primary = Object.fromEntries((await db('mart.segments').where({ run_id: RUN })).map((s) => [s.golden_id, s.segment]));
  expect(Object.keys(primary)).toHaveLength(3);
  // C2: overdue 45 days → risk watch first, although it is also an active borrower.
  expect(primary[t.C2!.golden_id as string]).toBe('risk_watch');
  const c2Members = (await db('mart.segment_memberships').where({ run_id: RUN, golden_id: t.C2!.golden_id }).orderBy('segment')).map((m) => [m.segment, m.is_primary]);
  // Also an active borrower (loan outstanding), low activity (no transactions) and, like everyone, mass market.
  expect(c2Members).toEqual([['active_borrower', false], ['low_activity', false], ['mass_market', false], ['risk_watch', true]]);
  const perCustomer = await db('mart.segment_memberships').where({ run_id: RUN, is_primary: true }).select('golden_id').count('* as n').groupBy('golden_id');
  expect(perCustomer.map((r) => Number(r.n))).toEqual([1, 1, 1]);
});

test('training rows use tags as of the day before each contact and only contacts whose window has closed', async () => {
  await land('campaign_contacts', [
    // Contacted before the salary of 2026-10-10: that credit must not be a feature of this contact.
    { contact_id: 'M1', customer_key: 'C1', campaign_id: 'CL-1', product: 'consumer_loan', channel: 'sms', contacted_at: '2026-10-05T10:00:00+08:00', converted: true, converted_at: '2026-10-12T10:00:00+08:00', value: 30000 },
    { contact_id: 'M2', customer_key: 'K2', campaign_id: 'CL-1', product: 'consumer_loan', channel: 'sms', contacted_at: '2026-09-01T10:00:00+08:00', converted: false },
    // Converted after the 30-day window: a negative label.
    { contact_id: 'M3', customer_key: 'C3', campaign_id: 'CL-1', product: 'consumer_loan', channel: 'sms', contacted_at: '2026-08-01T10:00:00+08:00', converted: true, converted_at: '2026-09-15T10:00:00+08:00', value: 1000 },
    // Window still open on the run date: no label yet, so no training row.
    { contact_id: 'M4', customer_key: 'C1', campaign_id: 'CL-2', product: 'consumer_loan', channel: 'sms', contacted_at: '2026-11-10T10:00:00+08:00', converted: false },
  ]);
  const { buildTrainingSet } = await import('../../activities/trainingSet');
  const build = () => buildTrainingSet(db, { runId: RUN, asOf: AS_OF, timezone: TZ, product: 'consumer_loan', features: ['txn_count_90d', 'salary_credit', 'total_deposits', 'loan_outstanding', 'calculator_uses_30d'], attributionDays: 30, windowDays: 365, maxRows: 10, seed: 1 });
  const rows = await build();
  expect(rows.map((r) => [r.contact_id, r.as_of, r.label])).toEqual([
    ['M1', '2026-10-04', 1],
    ['M2', '2026-08-31', 0],
    ['M3', '2026-07-31', 0],
  ]);
  // As of 2026-10-04: no transaction yet in the fixture, deposits from the 2026-08-20 balances, no calculator use.
  expect(rows[0]).toMatchObject({ txn_count_90d: 0, salary_credit: false, total_deposits: 150000, loan_outstanding: 5000, calculator_uses_30d: 0 });
  // K2's consumer loan was opened 2026-01-01, so it counts for M2.
  expect(rows[1]).toMatchObject({ loan_outstanding: 30000 });
  await land('app_events', [{ event_id: 'EL', customer_key: 'C1', event_ts: '2026-10-05T11:00:00+08:00', event_type: 'loan_calculator' }]);
  expect(await build()).toEqual(rows);
  // A 90-day training window (from 2026-08-23) leaves out M3, contacted 2026-08-01, and nothing else.
  const windowed = await buildTrainingSet(db, { runId: RUN, asOf: AS_OF, timezone: TZ, product: 'consumer_loan', features: ['txn_count_90d'], attributionDays: 30, windowDays: 90, maxRows: 10, seed: 1 });
  expect(windowed.map((r) => r.contact_id)).toEqual(['M1', 'M2']);
});
