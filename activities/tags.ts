import type { ActivityDeps } from './deps';
import { recordStage } from './runs';
import { runSnapshotDir, writeParquetSnapshot, type SnapshotSchema } from './snapshots';
import { TAGS } from '../transforms/tagCatalogue';
import type { StageResult } from '../shared';

/**
 * All tags in one set-based statement: each source is scanned once, aggregated per golden customer, and only
 * rows with timestamps on or before the as-of date (end of day in the run's time zone) count.
 */
const TAGS_SQL = `
with p as (
  select :asOf::date as as_of, ((:asOf::date + 1)::timestamp at time zone :tz) as cutoff
),
keys as (select customer_key, golden_id from core.customer_sources where run_id = :runId),
acct as (
  select a.account_id, k.golden_id, a.product, a.maturity_date
  from landing.accounts a join keys k using (customer_key), p
  where a.run_id = :runId and (a.opened_at is null or a.opened_at <= p.as_of)
),
bal_now as (
  select distinct on (b.account_id) b.account_id, b.balance from landing.balances b, p
  where b.run_id = :runId and b.balance_date <= p.as_of order by b.account_id, b.balance_date desc
),
bal_90 as (
  select distinct on (b.account_id) b.account_id, b.balance from landing.balances b, p
  where b.run_id = :runId and b.balance_date <= p.as_of - 90 order by b.account_id, b.balance_date desc
),
dep as (
  select a.golden_id,
         coalesce(sum(n.balance), 0) as total_deposits,
         sum(o.balance) as deposits_90d_ago,
         bool_or(a.product = 'time') as has_time_deposit,
         bool_or(a.product = 'time' and a.maturity_date > p.as_of and a.maturity_date <= p.as_of + 30) as maturing,
         count(distinct a.product) as deposit_products
  from acct a left join bal_now n using (account_id) left join bal_90 o using (account_id), p
  group by a.golden_id
),
loan as (
  select k.golden_id,
         sum(l.outstanding) as loan_outstanding,
         bool_or(l.product = 'consumer_loan' and l.outstanding > 0) as has_consumer_loan,
         bool_or(l.product = 'credit_card') as has_credit_card,
         bool_or(l.product = 'mortgage') as has_mortgage,
         count(distinct l.product) as loan_products,
         max(l.overdue_days) as max_overdue_days
  from landing.loans l join keys k using (customer_key), p
  where l.run_id = :runId and l.opened_at <= p.as_of
  group by k.golden_id
),
txn as (
  select k.golden_id,
         count(*) filter (where t.txn_ts >= p.cutoff - interval '30 days') as c30,
         coalesce(sum(t.amount) filter (where t.txn_ts >= p.cutoff - interval '30 days'), 0) as a30,
         count(*) filter (where t.txn_ts >= p.cutoff - interval '90 days') as c90,
         bool_or(t.category = 'salary' and t.direction = 'credit' and t.txn_ts >= p.cutoff - interval '35 days') as salary,
         max(t.txn_ts) as last_ts
  from landing.transactions t join keys k using (customer_key), p
  where t.run_id = :runId and t.txn_ts < p.cutoff
  group by k.golden_id
),
ev as (
  select k.golden_id,
         count(*) filter (where e.event_type = 'login' and e.event_ts >= p.cutoff - interval '30 days') as logins30,
         count(*) filter (where e.event_type = 'loan_product_view' and e.event_ts >= p.cutoff - interval '7 days') as views7,
         count(*) filter (where e.event_type = 'loan_product_view' and e.event_ts >= p.cutoff - interval '30 days') as views30,
         count(*) filter (where e.event_type = 'loan_calculator' and e.event_ts >= p.cutoff - interval '30 days') as calc30,
         count(*) filter (where e.event_type = 'loan_application_start' and e.event_ts >= p.cutoff - interval '30 days') as starts30
  from landing.app_events e join keys k using (customer_key), p
  where e.run_id = :runId and e.event_ts < p.cutoff
  group by k.golden_id
),
base as (
  select c.golden_id,
         extract(year from age(p.as_of, c.birth_date))::int as age,
         c.gender, c.city_tier, c.occupation,
         round(((p.as_of - c.opened_at) / 365.25)::numeric, 2)::float8 as tenure_years,
         c.annual_income::float8 as annual_income,
         coalesce(d.total_deposits, 0)::float8 as total_deposits,
         case when d.deposits_90d_ago > 0 then round((d.total_deposits / d.deposits_90d_ago)::numeric, 4)::float8 end as deposit_trend_90d,
         coalesce(d.has_time_deposit, false) as has_time_deposit,
         coalesce(d.maturing, false) as time_deposit_maturing_30d,
         coalesce(l.loan_outstanding, 0)::float8 as loan_outstanding,
         coalesce(l.has_consumer_loan, false) as has_consumer_loan,
         coalesce(l.has_credit_card, false) as has_credit_card,
         coalesce(l.has_mortgage, false) as has_mortgage,
         (coalesce(d.deposit_products, 0) + coalesce(l.loan_products, 0))::int as products_held,
         coalesce(l.max_overdue_days, 0)::int as max_overdue_days,
         coalesce(t.c30, 0)::int as txn_count_30d,
         coalesce(t.a30, 0)::float8 as txn_amount_30d,
         coalesce(t.c90, 0)::int as txn_count_90d,
         coalesce(t.salary, false) as salary_credit,
         (p.as_of - (t.last_ts at time zone :tz)::date)::int as days_since_last_txn,
         coalesce(e.logins30, 0)::int as app_logins_30d,
         coalesce(e.views7, 0)::int as loan_views_7d,
         coalesce(e.views30, 0)::int as loan_views_30d,
         coalesce(e.calc30, 0)::int as calculator_uses_30d,
         coalesce(e.starts30, 0)::int as application_starts_30d,
         d.deposits_90d_ago
  from core.customers c cross join p
  left join dep d using (golden_id) left join loan l using (golden_id)
  left join txn t using (golden_id) left join ev e using (golden_id)
  where c.run_id = :runId
)
insert into mart.tags (run_id, golden_id, age, age_band, gender, city_tier, occupation, tenure_years, annual_income, total_deposits,
  deposit_trend_90d, has_time_deposit, time_deposit_maturing_30d, loan_outstanding, has_consumer_loan, has_credit_card, has_mortgage,
  products_held, max_overdue_days, txn_count_30d, txn_amount_30d, txn_count_90d, salary_credit, days_since_last_txn, app_logins_30d,
  loan_views_7d, loan_views_30d, calculator_uses_30d, application_starts_30d, lifecycle)
select :runId, golden_id, age,
       case when age is null then null when age < 25 then '<25' when age < 35 then '25-34' when age < 45 then '35-44'
            when age < 55 then '45-54' when age < 65 then '55-64' else '65+' end,
       gender, city_tier, occupation, tenure_years, annual_income, total_deposits, deposit_trend_90d, has_time_deposit,
       time_deposit_maturing_30d, loan_outstanding, has_consumer_loan, has_credit_card, has_mortgage, products_held, max_overdue_days,
       txn_count_30d, txn_amount_30d, txn_count_90d, salary_credit, days_since_last_txn, app_logins_30d, loan_views_7d, loan_views_30d,
       calculator_uses_30d, application_starts_30d,
       case when tenure_years is not null and tenure_years < 0.25 then 'new'
            when txn_count_90d = 0 then 'silent'
            when deposit_trend_90d is not null and deposit_trend_90d < 0.5 then 'churn_risk'
            when deposit_trend_90d is not null and deposit_trend_90d > 1.2 then 'growing'
            else 'mature' end
from base`;

const PARQUET_TYPE: Record<string, SnapshotSchema[string]> = {};
for (const tag of TAGS) {
  PARQUET_TYPE[tag.id] =
    tag.type === 'boolean' ? { type: 'BOOLEAN' } : tag.type === 'number' ? { type: 'DOUBLE', optional: true } : { type: 'UTF8', optional: true };
}

export function createTagActivities(deps: ActivityDeps) {
  const { db, env, log } = deps;
  return {
    /** Computes the tag catalogue for every golden customer of the run, as of the run date. */
    async computeTags({ runId, asOf, timezone }: { runId: string; asOf: string; timezone: string }): Promise<StageResult> {
      const startedAt = new Date();
      await db.transaction(async (trx) => {
        await trx('mart.tags').where({ run_id: runId }).delete();
        await trx.raw(TAGS_SQL, { runId, asOf, tz: timezone });
      });
      await db.raw('analyze mart.tags');
      const file = await writeParquetSnapshot(
        runSnapshotDir(env.snapshotDir, runId),
        'tags.parquet',
        { golden_id: { type: 'UTF8' }, ...PARQUET_TYPE },
        db('mart.tags').select('golden_id', ...TAGS.map((tag) => tag.id)).where({ run_id: runId }).orderBy('golden_id').stream(),
      );
      const lifecycle = await db('mart.tags').where({ run_id: runId }).select('lifecycle').count('* as n').groupBy('lifecycle').orderBy('lifecycle');
      log.info({ run_id: runId, stage: 'tags', rows: file.rows }, 'tags computed');
      return recordStage(db, runId, { stage: 'tags', rows: file.rows, files: [file], details: { tags: TAGS.length, lifecycle: Object.fromEntries(lifecycle.map((r) => [r.lifecycle, Number(r.n)])) } }, startedAt);
    },
  };
}
