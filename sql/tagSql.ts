import { SOURCES } from '../config/sources';
import { TAGS } from '../transforms/tagCatalogue';

/**
 * The most frequent value of a column over a window, as PostgreSQL's mode() gives it (ties go to the value that sorts
 * first), from one count per allowed value: count(*) filters are hash-aggregable, while mode() (an ordered-set
 * aggregate) forces a sort of every transaction row by customer (200k customers: a 426 MB on-disk sort, half of the
 * stage). Values are plain lower-case words, so their byte order is every collation's order.
 */
const CHANNELS = allowedValues('transactions', 'channel');
const TIME_BANDS = ['morning', 'afternoon', 'evening', 'night'].sort();
/**
 * A transaction's time band from its local hour (a float8 from date_part: whole hours, so the float comparisons are
 * exact): [6, 12) morning, [12, 18) afternoon, [18, 23) evening, else night.
 * The band is referenced once per band's mode count and PostgreSQL inlines it at each reference, so it reads the hour
 * once (a chain of comparisons read it up to six times); the hour's time-zone conversion is the costly part (1M
 * customers, one sixth of them: the transaction aggregate 25.7 → 13.5 s). date_part rather than extract, which
 * returns numeric since PostgreSQL 14: 1M, the transaction partials 33.5 / 33.4 → 31.9 / 32.1 s.
 */
export const TIME_BAND_OF_HOUR = `(array['night', 'morning', 'afternoon', 'evening', 'night'])[width_bucket(h.hour, array[6, 12, 18, 23]::float8[]) + 1]`;
/**
 * A balance row as {days from the as-of date, balance}: arrays compare element by element, so the max of these is the
 * balance of the latest date (the larger balance if a date repeats). One pass over the balances finds the latest
 * balance as of the date and 30 and 90 days before; the latest dates and then a join back to their balances read and
 * hashed all balances twice (1M customers, a sixth of them: 13.0 → 7.6 s).
 */
const BALANCE_AT_DATE = `array[(balance_date - as_of)::numeric, balance]`;
/** Window starts (days before the cutoff) computed once per point, not once per row: timestamptz − interval is not cheap. */
const WINDOW_DAYS = [7, 30, 35, 90, 180];
const MODE_WINDOW = `txn_ts >= since_90d`;

/** A column's allowed values, sorted; `word` is what each must look like to be inlined (and, for modes, to sort bytewise). */
function allowedValues(source: 'transactions' | 'accounts' | 'loans', column: string, word = /^[a-z]+$/): string[] {
  const name = column.split('.').pop()!;
  const values = SOURCES[source].columns.find((c) => c.name === name)?.values;
  if (!values || values.some((v) => !word.test(v))) throw new Error(`tagSql: ${source}.${name} needs allowed values matching ${word} (config/sources.yaml)`);
  return [...values].sort();
}

function modeCounts(column: string, values: readonly string[], prefix: string): string {
  return values.map((v, i) => `count(*) filter (where ${MODE_WINDOW} and ${column} = '${v}') as ${prefix}_${i}`).join(',\n         ');
}

function modeOf(values: readonly string[], prefix: string): string {
  const top = `greatest(${values.map((_, i) => `${prefix}_${i}`).join(', ')})`;
  return `case when ${top} = 0 then null ${values.map((v, i) => `when ${prefix}_${i} = ${top} then '${v}'`).join(' ')} end`;
}

/**
 * The tag catalogue as one set-based query over a "points" relation (point_id, golden_id, as_of): one point per
 * past contact for training rows. It is {@link tagScoredSql} over {@link tagBaseSql}; the daily run computes the
 * same base from per-key partial aggregates ({@link runPartialSql}, {@link runTagBaseSql}), with the same aggregate
 * and rollup expressions, so training and the daily run share one definition. Bindings: :runId (whose
 * landing/core tables to read), :tz.
 */
export function tagSelectSql(pointsSql: string): string {
  return tagScoredSql(tagBaseSql(pointsSql));
}

/** A relation with an as_of column, with its window bounds: the end of the as-of date in :tz and the window starts. */
function withWindows(relationSql: string): string {
  return `select w1.*, ${WINDOW_DAYS.map((d) => `cutoff - interval '${d} days' as since_${d}d`).join(', ')}
  from (select w0.*, ((w0.as_of + 1)::timestamp at time zone :tz) as cutoff from (${relationSql}) w0) w1`;
}

/**
 * The sources aggregated per key before they meet the points. Each has rows carrying their window's bounds (a
 * point's, or the run's single as-of date's), the aggregates of those rows, and how partials of one point combine:
 * every aggregate is a count, an exact sum, a max or a bool_or, so a point's aggregate over all its rows equals the
 * rollup of the aggregates of any partition of them (the daily run's partition: by customer key or account).
 * Cents are summed by mart.sum_int8 (a bigint state, see its migration), not sum(int8) with its 128-bit state per
 * group: 1M customers' transaction partials spilled 1.4 GB → 0.5 GB, 39.1 / 35.9 → 30.3 / 33.7 s.
 */
const PARTIALS = {
  transactions: {
    rows: (windowed: string, key: string) => `
  select ${key}, w.since_30d, w.since_35d, w.since_90d, t.txn_ts, (t.amount * 100)::int8 as cents, t.direction, t.channel, t.category,
         ${TIME_BAND_OF_HOUR} as time_band
  from ${windowed}
  cross join lateral (select date_part('hour', t.txn_ts at time zone :tz) as hour) h
  where t.txn_ts < w.cutoff and t.txn_ts >= w.since_180d`,
    aggregates: `count(*) filter (where txn_ts >= since_30d) as c30,
         mart.sum_int8(cents) filter (where txn_ts >= since_30d) as a30,
         count(*) filter (where txn_ts >= since_90d) as c90,
         mart.sum_int8(cents) filter (where txn_ts >= since_90d) as a90,
         mart.sum_int8(cents) filter (where txn_ts >= since_30d and direction = 'credit') as in30,
         mart.sum_int8(cents) filter (where txn_ts >= since_30d and direction = 'debit') as out30,
         mart.sum_int8(cents) filter (where txn_ts >= since_90d and direction = 'debit' and category in ('shopping', 'dining', 'utilities', 'other')) as spend90,
         bool_or(category = 'salary' and direction = 'credit' and txn_ts >= since_35d) as salary,
         mart.sum_int8(cents) filter (where category = 'salary' and direction = 'credit' and txn_ts >= since_90d) as salary_sum,
         count(*) filter (where category = 'salary' and direction = 'credit' and txn_ts >= since_90d) as salary_n,
         ${modeCounts('channel', CHANNELS, 'ch')},
         ${modeCounts('time_band', TIME_BANDS, 'tb')},
         max(txn_ts) as last_ts`,
    rollup: `${['c30', 'a30', 'c90', 'a90', 'in30', 'out30', 'spend90'].map((c) => `mart.sum_int8(${c}) as ${c}`).join(', ')},
         bool_or(salary) as salary, mart.sum_int8(salary_sum) as salary_sum, mart.sum_int8(salary_n) as salary_n,
         ${[...CHANNELS.map((_, i) => `ch_${i}`), ...TIME_BANDS.map((_, i) => `tb_${i}`)].map((c) => `mart.sum_int8(${c}) as ${c}`).join(', ')},
         max(last_ts) as last_ts`,
  },
  app_events: {
    rows: (windowed: string, key: string) => `
  select ${key}, w.since_7d, w.since_30d, e.event_type, e.event_ts
  from ${windowed}
  where e.event_ts < w.cutoff and e.event_ts >= w.since_90d`,
    aggregates: `count(*) filter (where event_type = 'login' and event_ts >= since_7d) as logins7,
         count(*) filter (where event_type = 'login' and event_ts >= since_30d) as logins30,
         max(event_ts) filter (where event_type = 'login') as last_login,
         count(*) filter (where event_type = 'loan_product_view' and event_ts >= since_7d) as views7,
         count(*) filter (where event_type = 'loan_product_view' and event_ts >= since_30d) as views30,
         count(*) filter (where event_type = 'loan_calculator' and event_ts >= since_7d) as calc7,
         count(*) filter (where event_type = 'loan_calculator' and event_ts >= since_30d) as calc30,
         count(*) filter (where event_type = 'loan_application_start' and event_ts >= since_7d) as starts7,
         count(*) filter (where event_type = 'loan_application_start' and event_ts >= since_30d) as starts30`,
    rollup: `${['logins7', 'logins30'].map((c) => `sum(${c})::int8 as ${c}`).join(', ')}, max(last_login) as last_login,
         ${['views7', 'views30', 'calc7', 'calc30', 'starts7', 'starts30'].map((c) => `sum(${c})::int8 as ${c}`).join(', ')}`,
  },
  /** The latest balance of an account as of the date and 30 and 90 days before (an account's balances are one partition). */
  balances: {
    rows: (windowed: string, key: string) => `
  select ${key}, w.as_of, b.balance_date, b.balance
  from ${windowed}
  where b.balance_date <= w.as_of`,
    aggregates: `max(${BALANCE_AT_DATE}) as now_pair,
         max(${BALANCE_AT_DATE}) filter (where balance_date <= as_of - 30) as pair_30,
         max(${BALANCE_AT_DATE}) filter (where balance_date <= as_of - 90) as pair_90`,
  },
} as const;

export type PartialSource = keyof typeof PARTIALS;

/** The landing table of a partial source, aliased as its rows expect. */
const LANDING: Record<PartialSource, { table: string; alias: string; key: string }> = {
  transactions: { table: 'landing.transactions', alias: 't', key: 'customer_key' },
  app_events: { table: 'landing.app_events', alias: 'e', key: 'customer_key' },
  balances: { table: 'landing.balances', alias: 'b', key: 'account_id' },
};

/**
 * Ends a partial's row subquery: `offset 0` keeps PostgreSQL from flattening it into the aggregate, which would inline
 * each row's computed columns (the time band: a time-zone conversion) at every aggregate referring to them. Computed
 * once per row instead: 1M customers, a quarter of them, 22.1 → 9.5 s together with the materialized window bounds.
 */
const ROWS_FENCE = 'offset 0';

/** A source's aggregates per `keys` (columns of the points) of rows joined to the points: `windowed` aliases the points w. */
function partialOf(source: PartialSource, windowed: string, keys: string[]): string {
  const { rows, aggregates } = PARTIALS[source];
  return `select ${keys.join(', ')}, ${aggregates} from (${rows(windowed, keys.map((k) => `w.${k}`).join(', '))} ${ROWS_FENCE}) r group by ${keys.join(', ')}`;
}

/**
 * The daily run's partial aggregates of one source: per customer key (per account for balances), every row in the
 * windows of the single as-of date :asOf. No join before the aggregate: at 1M customers the transactions' partials
 * take ~38 s of one core where aggregating per point after the join to the points took ~71 s.
 */
export function runPartialSql(source: PartialSource): string {
  const { table, alias, key } = LANDING[source];
  const { rows, aggregates } = PARTIALS[source];
  // Materialized: its bounds are values to the rows, where an inlined one-row subquery computed the time-zone-aware
  // cutoff and interval arithmetic again at every reference of every row.
  return `with w as materialized (${withWindows('select cast(:asOf as date) as as_of')})
  select ${key}, ${aggregates} from (${rows(`${table} ${alias} cross join w`, `${alias}.${key}`)} and ${alias}.run_id = :runId ${ROWS_FENCE}) r group by ${key}`;
}

/** The points with their window bounds, the run's customer keys and the points' accounts open by the as-of date. */
function pointCtes(pointsSql: string): string {
  return `pts as (${withWindows(`select point_id, golden_id, as_of from (${pointsSql}) p0`)}),
keys as not materialized (select customer_key, golden_id from core.customer_sources where run_id = :runId),
acct as (
  select pts.point_id, a.account_id, a.product, a.maturity_date, pts.as_of
  from pts join keys k on k.golden_id = pts.golden_id
  join landing.accounts a on a.run_id = :runId and a.customer_key = k.customer_key
  where a.opened_at is null or a.opened_at <= pts.as_of
)`;
}

/**
 * count(distinct column) over a source's allowed values (ingest quarantines any other), as one bool_or per value:
 * hash-aggregable, where count(distinct) sorts every row of the group (1M customers' accounts: a 346 MB on-disk sort).
 */
function distinctCount(source: 'accounts' | 'loans', column: string): string {
  return `(${allowedValues(source, column, /^[a-z_]+$/).map((v) => `coalesce(bool_or(${column} = '${v}'), false)::int`).join(' + ')})`;
}

/** Per point, the transaction aggregates (rolled up from `partials`: a point's rows of per-key partials) and the modes. */
function txnOfPoints(partials: string): string {
  return `select txn_agg.*, ${modeOf(CHANNELS, 'ch')} as preferred_channel, ${modeOf(TIME_BANDS, 'tb')} as time_band
  from (select point_id, ${PARTIALS.transactions.rollup} from (${partials}) p group by point_id) txn_agg`;
}

/** Per point, the app-event aggregates rolled up from `partials`. */
function eventsOfPoints(partials: string): string {
  return `select point_id, ${PARTIALS.app_events.rollup} from (${partials}) p group by point_id`;
}

/** Per point, the deposits: each account of acct with its latest balances (`balances`, joined to acct `on`). */
function depositsOfPoints(balances: string, on: string): string {
  return `select point_id,
         coalesce(sum(now_bal), 0) as total_deposits,
         sum(bal_30) as deposits_30d_ago,
         sum(bal_90) as deposits_90d_ago,
         bool_or(product = 'time') as has_time_deposit,
         coalesce(sum(now_bal) filter (where product = 'time'), 0) as time_deposit_balance,
         bool_or(product = 'time' and maturity_date > as_of and maturity_date <= as_of + 30) as maturing,
         ${distinctCount('accounts', 'product')} as deposit_products
  from (
    select acct.point_id, acct.product, acct.maturity_date, acct.as_of, l.now_pair[2] as now_bal, l.pair_30[2] as bal_30, l.pair_90[2] as bal_90
    from acct left join (${balances}) l on ${on}
  ) bal group by point_id`;
}

/**
 * Per point, the aggregates of every source (the `base` columns the tags are derived from), only of rows stamped
 * before the end of the point's as-of date (in :tz), so adding later rows never changes a tag. A point's row
 * depends on that point alone. Amounts are summed in integer cents: exact, and a bigint sum's state is a fraction of
 * a numeric one's in the hash aggregate.
 * keys is inlined, not materialized: PostgreSQL before 17 has no column statistics for a materialized CTE, so on
 * PostgreSQL 15 it judged pts ⋈ keys a thousand times too big and joined every point with every transaction
 * (200k customers: 20 GB of temporary files and no end; inlined, 31 s). pts and acct stay materialized: inlined at
 * their five and two references, the 1M base took 54 s a sixth of the customers against 32 s.
 */
export function tagBaseSql(pointsSql: string): string {
  const pointRows = (source: PartialSource) => {
    const { table, alias, key } = LANDING[source];
    if (source === 'balances') return `acct w join ${table} ${alias} on ${alias}.run_id = :runId and ${alias}.${key} = w.${key}`;
    return `pts w join keys k on k.golden_id = w.golden_id join ${table} ${alias} on ${alias}.run_id = :runId and ${alias}.${key} = k.${key}`;
  };
  return baseSql(pointsSql, {
    rest: restOfBaseSql({
      dep: depositsOfPoints(partialOf('balances', pointRows('balances'), ['point_id', 'account_id']), 'l.point_id = acct.point_id and l.account_id = acct.account_id'),
      ev: eventsOfPoints(partialOf('app_events', pointRows('app_events'), ['point_id'])),
    }),
    txn: txnOfPoints(partialOf('transactions', pointRows('transactions'), ['point_id'])),
  });
}

/** The daily run's points: every golden customer of the run, as of :asOf. */
const RUN_POINTS = 'select golden_id as point_id, golden_id, cast(:asOf as date) as as_of from core.customers where run_id = :runId';

/** A per-key partial table's rows of the run's points (a customer with several keys has several). */
const ofKeys = (partialTable: string) => `select pts.point_id, p.* from pts join keys k on k.golden_id = pts.golden_id join ${partialTable} p on p.customer_key = k.customer_key`;

/** The daily run's transaction aggregates of every customer as of :asOf, rolled up from {@link runPartialSql}'s table. */
export function runTransactionsSql(partialTable: string): string {
  return `with ${pointCtes(RUN_POINTS)}\n${txnOfPoints(ofKeys(partialTable))}`;
}

/**
 * The daily run's base columns of every customer as of :asOf but the transactions' ({@link restOfBaseSql}), from
 * {@link runPartialSql}'s tables of balances and app events.
 */
export function runRestOfBaseSql(partials: { balances: string; app_events: string }): string {
  return `with ${pointCtes(RUN_POINTS)}
${restOfBaseSql({ dep: depositsOfPoints(`select * from ${partials.balances}`, 'l.account_id = acct.account_id'), ev: eventsOfPoints(ofKeys(partials.app_events)) })}`;
}

/** The daily run's base of every customer as of :asOf from the tables of {@link runRestOfBaseSql} and {@link runTransactionsSql}. */
export function runTagBaseSql(tables: { rest: string; txn: string }): string {
  return baseSql(RUN_POINTS, { rest: `select * from ${tables.rest}`, txn: `select * from ${tables.txn}` });
}

/**
 * Per point, every base column but the transactions': the customer's attributes, deposits (`dep`), loans, app events
 * (`ev`) and complaints. Over the points' CTEs ({@link pointCtes}). The daily run computes it beside the
 * transactions, which join last ({@link baseSql}).
 */
function restOfBaseSql(per: { dep: string; ev: string }): string {
  return `select pts.point_id, pts.golden_id, pts.as_of,
         extract(year from age(pts.as_of, c.birth_date))::int as age,
         c.gender, c.city_tier, c.occupation,
         round(((pts.as_of - c.opened_at) / 365.25)::numeric, 2)::float8 as tenure_years,
         c.annual_income::float8 as annual_income,
         coalesce(d.total_deposits, 0)::float8 as total_deposits,
         case when d.deposits_30d_ago > 0 then round((d.total_deposits / d.deposits_30d_ago)::numeric, 4)::float8 end as deposit_trend_30d,
         case when d.deposits_90d_ago > 0 then round((d.total_deposits / d.deposits_90d_ago)::numeric, 4)::float8 end as deposit_trend_90d,
         coalesce(d.has_time_deposit, false) as has_time_deposit,
         coalesce(d.time_deposit_balance, 0)::float8 as time_deposit_balance,
         coalesce(d.maturing, false) as time_deposit_maturing_30d,
         coalesce(l.loan_outstanding, 0)::float8 as loan_outstanding,
         coalesce(l.has_consumer_loan, false) as has_consumer_loan,
         coalesce(l.has_credit_card, false) as has_credit_card,
         coalesce(l.has_mortgage, false) as has_mortgage,
         (coalesce(d.deposit_products, 0) + coalesce(l.loan_products, 0))::int as products_held,
         coalesce(e.logins7, 0)::int as app_logins_7d,
         coalesce(e.logins30, 0)::int as app_logins_30d,
         (pts.as_of - (e.last_login at time zone :tz)::date)::int as days_since_last_login,
         coalesce(l.max_overdue_days, 0)::int as max_overdue_days,
         coalesce(l.overdue_loans, 0)::int as overdue_loan_count,
         coalesce(q.complaints90, 0)::int as complaints_90d,
         coalesce(e.views7, 0)::int as loan_views_7d,
         coalesce(e.views30, 0)::int as loan_views_30d,
         coalesce(e.calc7, 0)::int as calculator_uses_7d,
         coalesce(e.calc30, 0)::int as calculator_uses_30d,
         coalesce(e.starts7, 0)::int as application_starts_7d,
         coalesce(e.starts30, 0)::int as application_starts_30d,
         d.deposits_90d_ago
  from pts
  join core.customers c on c.run_id = :runId and c.golden_id = pts.golden_id
  left join (${per.dep}) d on d.point_id = pts.point_id
  left join (
    select pts.point_id,
           sum(l.outstanding) as loan_outstanding,
           bool_or(l.product = 'consumer_loan' and l.outstanding > 0) as has_consumer_loan,
           bool_or(l.product = 'credit_card') as has_credit_card,
           bool_or(l.product = 'mortgage') as has_mortgage,
           ${distinctCount('loans', 'l.product')} as loan_products,
           max(l.overdue_days) as max_overdue_days,
           count(*) filter (where l.overdue_days > 0) as overdue_loans
    from pts join keys k on k.golden_id = pts.golden_id
    join landing.loans l on l.run_id = :runId and l.customer_key = k.customer_key
    where l.opened_at <= pts.as_of
    group by pts.point_id
  ) l on l.point_id = pts.point_id
  left join (${per.ev}) e on e.point_id = pts.point_id
  left join (
    select pts.point_id, count(*) as complaints90
    from pts join keys k on k.golden_id = pts.golden_id
    join landing.complaints q on q.run_id = :runId and q.customer_key = k.customer_key
    where q.complaint_ts < pts.cutoff and q.complaint_ts >= pts.since_90d
    group by pts.point_id
  ) q on q.point_id = pts.point_id`;
}

/** The base of the points: the rest of the base ({@link restOfBaseSql}) and the transactions' columns. */
function baseSql(pointsSql: string, per: { rest: string; txn: string }): string {
  return `
with ${pointCtes(pointsSql)},
rest as (${per.rest}),
txn as (${per.txn}),
base as (
  select rest.*,
         coalesce(t.c30, 0)::int as txn_count_30d,
         ${amountOfCents('t.a30')} as txn_amount_30d,
         coalesce(t.c90, 0)::int as txn_count_90d,
         ${amountOfCents('t.a90')} as txn_amount_90d,
         ${amountOfCents('t.in30')} as inflow_30d,
         ${amountOfCents('t.out30')} as outflow_30d,
         ${amountOfCents('t.spend90')} as spend_90d,
         t.preferred_channel,
         t.time_band as active_time_band,
         coalesce(t.salary, false) as salary_credit,
         case when t.salary_n > 0 then round(t.salary_sum::numeric / (t.salary_n * 100), 2)::float8 end as salary_amount_avg,
         (rest.as_of - (t.last_ts at time zone :tz)::date)::int as days_since_last_txn
  from rest left join txn t on t.point_id = rest.point_id
)
select * from base`;
}

/** A sum of cents (bigint, null without rows) as the amount in currency units (float8), 0 without rows. */
function amountOfCents(cents: string): string {
  return `(coalesce(${cents}, 0) / 100.0)::float8`;
}

/**
 * The tags of every point of a base relation ({@link tagBaseSql}'s columns): the RFM scores rank the points among
 * each other (ties broken by point_id, so the order rows arrive in does not matter), the rest is per row.
 */
export function tagScoredSql(baseSql: string): string {
  return `
with base as (${baseSql}),
ranks as (
  select point_id,
         ntile(5) over (order by days_since_last_txn desc nulls first, point_id) as rfm_recency_score,
         ntile(5) over (order by txn_count_90d, point_id) as rfm_frequency_score,
         ntile(5) over (order by total_deposits, point_id) as rfm_monetary_score
  from base
),
scored as (select base.*, r.rfm_recency_score, r.rfm_frequency_score, r.rfm_monetary_score from base join ranks r using (point_id))
select point_id, golden_id, as_of,
  ${TAGS.map((tag) => `${TAG_EXPRESSIONS[tag.id] ?? tag.id} as ${tag.id}`).join(',\n  ')}
from scored`;
}

/** Tags derived from the aggregates above (the others are columns of `scored` under their own name). */
const TAG_EXPRESSIONS: Record<string, string> = {
  age_band: `case when age is null then null when age < 25 then '<25' when age < 35 then '25-34' when age < 45 then '35-44'
    when age < 55 then '45-54' when age < 65 then '55-64' else '65+' end`,
  income_band: `case when annual_income is null then null when annual_income < 50000 then '<50k' when annual_income < 100000 then '50k-100k'
    when annual_income < 300000 then '100k-300k' else '300k+' end`,
  aum_band: `case when total_deposits < 10000 then '<10k' when total_deposits < 50000 then '10k-50k' when total_deposits < 200000 then '50k-200k'
    when total_deposits < 1000000 then '200k-1M' else '1M+' end`,
  deposit_loan_gap: `(total_deposits >= 50000 and total_deposits >= 3 * loan_outstanding)`,
  credit_band: `case when max_overdue_days = 0 then 'good' when max_overdue_days <= 30 then 'watch' when max_overdue_days <= 90 then 'substandard' else 'doubtful' end`,
  rfm_cell: `'R' || rfm_recency_score || 'F' || rfm_frequency_score || 'M' || rfm_monetary_score`,
  clv_proxy: `round((0.015 * total_deposits + 0.03 * loan_outstanding + 0.02 * spend_90d * 4)::numeric, 2)::float8`,
  cross_sell_count: `greatest(products_held - 1, 0)`,
  lifecycle: `case when tenure_years is not null and tenure_years < 0.25 then 'new'
    when total_deposits = 0 and days_since_last_txn is null then 'churned'
    when txn_count_90d = 0 then 'silent'
    when deposit_trend_90d is not null and deposit_trend_90d < 0.5 then 'churn_risk'
    when deposit_trend_90d is not null and deposit_trend_90d > 1.2 then 'growing'
    else 'mature' end`,
};
