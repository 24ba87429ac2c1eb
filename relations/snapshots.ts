/**
 * Every snapshot file of a run, declared once (contract v2, docs/CONTRACT.md): file, key, sort order, and per column
 * the PostgreSQL type it is read as and the Parquet type it is written as. relations/parquet.ts writes them,
 * the manifest lists their columns, tests/relations checks the files against these declarations.
 */
import { RESULT_DIMENSIONS } from '../transforms/outcomeResults';
import { TAGS } from '../transforms/tagCatalogue';
import { col, relation, type ColumnDef, type ColumnType, type RelationDef } from './types';

const RUN = ':runId';

/**
 * Campaign → product as the run's recorded config says: the fallback for ledger rows written before the ledgers had
 * a product column (a run of an older version whose outcomes are collected now).
 */
const RUN_CAMPAIGNS = `(select c->>'id' as campaign_id, c->>'product' as product from audit.runs r
  cross join lateral jsonb_array_elements(case when jsonb_typeof(r.config->'campaigns') = 'array' then r.config->'campaigns' else '[]'::jsonb end) c
  where r.run_id = ${RUN})`;

export const quarantine = relation({
  name: 'quarantine',
  file: 'quarantine.parquet',
  doc: 'Source rows that were not loaded, with the reason; the raw row with PII masked.',
  key: ['source', 'row_number'],
  sortBy: ['source', 'row_number'],
  from: 'audit.quarantine q',
  where: `q.run_id = ${RUN}`,
  columns: [
    col('source', 'VARCHAR'),
    col('row_number', 'INT64', { doc: '1-based data row of the source file' }),
    col('reason_code', 'VARCHAR'),
    col('message', 'VARCHAR'),
    col('raw_masked', 'VARCHAR', { nullable: true, pg: 'jsonb', doc: 'JSON object of the raw fields, PII masked' }),
  ],
});

export const quality = relation({
  name: 'quality',
  file: 'quality.parquet',
  doc: 'Every quality gate check of every source.',
  key: ['source', 'check'],
  sortBy: ['source', 'check'],
  columns: [
    col('source', 'VARCHAR'),
    col('check', 'VARCHAR'),
    col('status', 'VARCHAR', { doc: 'pass | warn | fail' }),
    col('severity', 'VARCHAR', { doc: 'fail | warn' }),
    col('measured', 'DOUBLE', { nullable: true }),
    col('threshold', 'DOUBLE'),
    col('message', 'VARCHAR'),
  ],
});

const SOURCE_KEY: ColumnType = { struct: { source_system: 'VARCHAR', customer_key: 'VARCHAR' } };

export const customers = relation({
  name: 'customers',
  file: 'customers.parquet',
  doc: 'One golden customer per row: non-PII attributes after survivorship, and the source records it was resolved from.',
  key: ['golden_id'],
  sortBy: ['golden_id'],
  from: `core.customers c left join (
    select golden_id, jsonb_agg(jsonb_build_object('source_system', source_system, 'customer_key', customer_key)) as keys
    from core.customer_sources where run_id = ${RUN} group by golden_id) k on k.golden_id = c.golden_id`,
  where: `c.run_id = ${RUN}`,
  columns: [
    col('golden_id', 'VARCHAR', { sql: 'c.golden_id' }),
    col('source_keys', { list: SOURCE_KEY }, { sql: 'k.keys', sorted: true, doc: 'lineage: every source record of this customer, by source system and key' }),
    col('id_valid', 'BOOLEAN'),
    col('birth_year', 'INT32', { nullable: true, sql: 'extract(year from c.birth_date)' }),
    col('gender', 'VARCHAR', { nullable: true }),
    col('city', 'VARCHAR', { nullable: true }),
    col('city_tier', 'INT32', { nullable: true }),
    col('occupation', 'VARCHAR', { nullable: true }),
    col('annual_income', 'DECIMAL(18,2)', { nullable: true }),
    col('opened_at', 'DATE', { nullable: true, doc: 'customer since: the earliest opening of any source record' }),
  ],
});

export const identityChanges = relation({
  name: 'identity_changes',
  file: 'identity_changes.parquet',
  doc: 'Golden ids merged or split against the previous run.',
  key: ['kind', 'golden_id'],
  sortBy: ['kind', 'golden_id'],
  from: 'core.identity_changes i',
  where: `i.run_id = ${RUN}`,
  columns: [
    col('previous_run_id', 'VARCHAR'),
    col('kind', 'VARCHAR', { doc: 'merge | split' }),
    col('golden_id', 'VARCHAR'),
    col('golden_ids', { list: 'VARCHAR' }, { pg: 'text[]' }),
  ],
});

/** Tags in CNY: written as DECIMAL(18,2). */
const MONEY_TAGS = new Set(['annual_income', 'total_deposits', 'time_deposit_balance', 'loan_outstanding', 'txn_amount_30d', 'txn_amount_90d', 'inflow_30d', 'outflow_30d', 'salary_amount_avg', 'clv_proxy']);
/** Counts, days, scores and tiers: integer in mart.tags, INT32 in the file. */
export const INTEGER_TAGS: ReadonlySet<string> = new Set([
  'age', 'city_tier', 'products_held', 'max_overdue_days', 'txn_count_30d', 'txn_count_90d', 'days_since_last_txn', 'app_logins_7d', 'app_logins_30d',
  'days_since_last_login', 'loan_views_7d', 'loan_views_30d', 'calculator_uses_7d', 'calculator_uses_30d', 'application_starts_7d', 'application_starts_30d',
  'overdue_loan_count', 'complaints_90d', 'rfm_recency_score', 'rfm_frequency_score', 'rfm_monetary_score', 'cross_sell_count',
]);
/** Ratios and years: double precision. */
const RATIO_TAGS = new Set(['tenure_years', 'deposit_trend_30d', 'deposit_trend_90d']);

function tagColumn(tag: (typeof TAGS)[number]): ColumnDef {
  const doc = `${tag.nameEn} (${tag.nameZh})`;
  if (tag.type === 'boolean') return col(tag.id, 'BOOLEAN', { nullable: true, doc });
  if (tag.type !== 'number') return col(tag.id, 'VARCHAR', { nullable: true, doc });
  if (MONEY_TAGS.has(tag.id)) return col(tag.id, 'DECIMAL(18,2)', { nullable: true, pg: 'double precision', doc: `${doc}, CNY` });
  if (INTEGER_TAGS.has(tag.id)) return col(tag.id, 'INT32', { nullable: true, doc });
  if (RATIO_TAGS.has(tag.id)) return col(tag.id, 'DOUBLE', { nullable: true, doc });
  // A new numeric tag must say what it is: money, a count or a ratio.
  throw new Error(`relations/snapshots.ts: numeric tag "${tag.id}" is in none of MONEY_TAGS, INTEGER_TAGS, RATIO_TAGS`);
}

export const tags = relation({
  name: 'tags',
  file: 'tags.parquet',
  doc: 'The tag catalogue per golden customer, point in time as of the run date (transforms/tagCatalogue.ts).',
  key: ['golden_id'],
  sortBy: ['golden_id'],
  from: 'mart.tags t',
  where: `t.run_id = ${RUN}`,
  columns: [col('golden_id', 'VARCHAR'), ...TAGS.map(tagColumn)],
});

export const triggers = relation({
  name: 'triggers',
  file: 'triggers.parquet',
  doc: 'Trigger events: tag changes against the latest successful run of an earlier date.',
  key: ['golden_id', 'event'],
  sortBy: ['golden_id', 'event'],
  from: 'mart.trigger_events e',
  where: `e.run_id = ${RUN}`,
  columns: [
    col('golden_id', 'VARCHAR'),
    col('event', 'VARCHAR'),
    col('previous_run_id', 'VARCHAR'),
    col('previous_value', 'DOUBLE', { nullable: true }),
    col('current_value', 'DOUBLE', { nullable: true }),
  ],
});

export const segments = relation({
  name: 'segments',
  file: 'segments.parquet',
  doc: 'Primary segment (first matching rule by priority) and every other segment the customer matched.',
  key: ['golden_id'],
  sortBy: ['golden_id'],
  // One grouped pass over the memberships: a subquery per customer took twice as long at 200k customers. Lists are
  // aggregated unordered and sorted by the writer (`sorted`): cheaper than a sort per group in PostgreSQL.
  from: `mart.segments s left join (
    select golden_id, jsonb_agg(segment) as others from mart.segment_memberships where run_id = ${RUN} and not is_primary group by golden_id
  ) m on m.golden_id = s.golden_id`,
  where: `s.run_id = ${RUN}`,
  columns: [
    col('golden_id', 'VARCHAR', { sql: 's.golden_id' }),
    col('segment', 'VARCHAR'),
    col('secondary_segments', { list: 'VARCHAR' }, { sql: "coalesce(m.others, '[]'::jsonb)", sorted: true, doc: 'every other segment whose rule matched, by name' }),
  ],
});

/** Tags whose medians describe a segment in its profile. */
export const PROFILE_MEDIANS = ['age', 'annual_income', 'total_deposits', 'loan_outstanding', 'txn_count_30d', 'app_logins_30d', 'clv_proxy'] as const;

export const segmentProfiles = relation({
  name: 'segment_profiles',
  file: 'segment_profiles.parquet',
  doc: 'Size, share, medians of key tags and the five tags that most set each segment apart.',
  key: ['segment'],
  sortBy: ['priority'],
  from: 'mart.segment_profiles p',
  where: `p.run_id = ${RUN}`,
  columns: [
    col('segment', 'VARCHAR'),
    col('priority', 'INT32'),
    col('primary_size', 'INT64', { pg: 'integer' }),
    col('members', 'INT64', { pg: 'integer' }),
    col('share', 'DOUBLE'),
    col('medians', { struct: Object.fromEntries(PROFILE_MEDIANS.map((id) => [id, 'DOUBLE'])) as Record<string, ColumnType> }),
    col('distinguishing', { list: { struct: { tag: 'VARCHAR', segment_mean: 'DOUBLE', population_mean: 'DOUBLE', smd: 'DOUBLE' } } }, {
      doc: 'standardised mean difference against the population, largest first',
    }),
  ],
});

export const clusters = relation({
  name: 'clusters',
  file: 'clusters.parquet',
  doc: 'Exploratory k-means cluster per customer (when clustering is enabled).',
  key: ['golden_id'],
  sortBy: ['golden_id'],
  from: 'mart.clusters k',
  where: `k.run_id = ${RUN}`,
  columns: [col('golden_id', 'VARCHAR'), col('cluster', 'INT32')],
});

const REASON: ColumnType = { struct: { feature: 'VARCHAR', contribution: 'DOUBLE' } };

export const scores = relation({
  name: 'scores',
  file: 'scores.parquet',
  doc: 'Conversion propensity per customer and product, with the features that moved each score most.',
  key: ['product', 'golden_id'],
  sortBy: ['product', 'golden_id'],
  from: 'mart.scores s',
  where: `s.run_id = ${RUN}`,
  columns: [
    col('golden_id', 'VARCHAR'),
    col('product', 'VARCHAR'),
    col('model_version', 'VARCHAR'),
    col('score', 'DOUBLE'),
    col('population_decile', 'INT32', { sql: 'ntile(10) over (partition by s.product order by s.score desc, s.golden_id)', doc: 'decile among all scored customers of the run for this product, 1 = highest' }),
    col('reasons', { list: REASON }, {
      nullable: true,
      pg: 'text',
      // "feature:+0.0812;feature:-0.0121" in mart.scores (Saabas contributions, model scale), split by the writer:
      // built as jsonb by PostgreSQL row by row it was most of the file's time.
      sql: 's.reasons',
      fromText: `list_transform(list_filter(string_split(reasons, ';'), r -> r <> ''), r -> {'feature': split_part(r, ':', 1), 'contribution': split_part(r, ':', 2)::DOUBLE})`,
    }),
  ],
});

export const eligibility = relation({
  name: 'eligibility',
  file: 'eligibility.parquet',
  doc: 'Every customer × campaign verdict: eligible, or the first policy that failed.',
  key: ['campaign_id', 'golden_id'],
  sortBy: ['campaign_id', 'golden_id'],
  from: `campaign.eligibility e left join ${RUN_CAMPAIGNS} p on p.campaign_id = e.campaign_id and e.product is null`,
  where: `e.run_id = ${RUN}`,
  columns: [
    col('campaign_id', 'VARCHAR', { sql: 'e.campaign_id' }),
    col('product', 'VARCHAR', { sql: 'coalesce(e.product, p.product)' }),
    col('golden_id', 'VARCHAR'),
    col('eligible', 'BOOLEAN'),
    col('reason', 'VARCHAR', { nullable: true, doc: 'first failed policy; null when eligible' }),
  ],
});

export const dispatch = relation({
  name: 'dispatch',
  file: 'dispatch.parquet',
  doc: 'The dispatch ledger: every selected contact of both arms, with proof of consent.',
  key: ['campaign_id', 'golden_id'],
  sortBy: ['campaign_id', 'golden_id'],
  from: `campaign.dispatch d left join ${RUN_CAMPAIGNS} p on p.campaign_id = d.campaign_id and d.product is null`,
  where: `d.run_id = ${RUN}`,
  columns: [
    col('campaign_id', 'VARCHAR', { sql: 'd.campaign_id' }),
    col('product', 'VARCHAR', { sql: 'coalesce(d.product, p.product)' }),
    col('golden_id', 'VARCHAR'),
    col('channel', 'VARCHAR'),
    col('arm', 'VARCHAR', { doc: 'treatment | control' }),
    col('holdout', 'VARCHAR', { nullable: true, doc: 'global | campaign for control rows' }),
    col('score', 'DOUBLE'),
    col('idempotency_key', 'VARCHAR'),
    col('consent_id', 'VARCHAR', { nullable: true }),
    col('consent_recorded_at', 'TIMESTAMP', { nullable: true }),
    col('template_id', 'VARCHAR', { nullable: true }),
    col('send_at', 'TIMESTAMP', { nullable: true }),
  ],
});

export const outcomes = relation({
  name: 'outcomes',
  file: 'outcomes.parquet',
  doc: 'One row per contact of every campaign measured so far: converted or not within the attribution window.',
  key: ['campaign_id', 'golden_id'],
  sortBy: ['campaign_id', 'golden_id'],
  // The contact's ledger row says what was offered.
  from: `campaign.outcomes o
    left join campaign.dispatch d on d.run_id = o.run_id and d.campaign_id = o.campaign_id and d.golden_id = o.golden_id
    left join ${RUN_CAMPAIGNS} p on p.campaign_id = o.campaign_id`,
  where: `o.run_id = ${RUN}`,
  columns: [
    col('campaign_id', 'VARCHAR', { sql: 'o.campaign_id' }),
    col('product', 'VARCHAR', { sql: 'coalesce(d.product, p.product)' }),
    col('golden_id', 'VARCHAR', { sql: 'o.golden_id' }),
    col('arm', 'VARCHAR', { sql: 'o.arm' }),
    col('converted', 'BOOLEAN'),
    col('converted_at', 'DATE', { nullable: true }),
    col('value', 'DECIMAL(18,2)', { nullable: true, pg: 'double precision' }),
    col('contacted_on', 'DATE', { nullable: true }),
    col('segment', 'VARCHAR', { nullable: true }),
    col('channel', 'VARCHAR', { nullable: true, sql: 'o.channel' }),
    col('audience_decile', 'INT32', { nullable: true, sql: 'o.score_decile', doc: "decile of the score within the campaign's dispatched audience, 1 = highest" }),
  ],
});

const RATE_COLUMNS = [
  'treatment_rate', 'control_rate', 'absolute_lift', 'absolute_lift_lo', 'absolute_lift_hi', 'absolute_lift_newcombe_lo', 'absolute_lift_newcombe_hi',
  'relative_lift', 'relative_lift_lo', 'relative_lift_hi', 'incremental_conversions',
] as const;

/** Breakdown names as results.parquet writes them: the within-audience decile says so. */
const dimensionName = (d: string) => (d === 'score_decile' ? 'audience_decile' : d);

export const results = relation({
  name: 'results',
  file: 'results.parquet',
  doc: 'Lift with confidence intervals, ROI and Qini per campaign and per segment, channel and audience decile.',
  key: ['campaign_id', 'dimension', 'dimension_value'],
  sortBy: ['campaign_id', 'dimension', 'dimension_value'],
  from: `campaign.results r
    left join (select distinct campaign_id, product from campaign.dispatch where run_id = ${RUN} and product is not null) d on d.campaign_id = r.campaign_id
    left join ${RUN_CAMPAIGNS} p on p.campaign_id = r.campaign_id`,
  where: `r.run_id = ${RUN}`,
  // Breakdowns in their report order, deciles numerically.
  orderBySql: `r.campaign_id, array_position(array[${RESULT_DIMENSIONS.map((d) => `'${d}'`).join(', ')}]::text[], r.dimension),
    case when r.dimension = 'score_decile' then lpad(r.dimension_value, 3, '0') else r.dimension_value end`,
  columns: [
    col('campaign_id', 'VARCHAR', { sql: 'r.campaign_id' }),
    col('product', 'VARCHAR', { sql: 'coalesce(d.product, p.product)' }),
    col('dimension', 'VARCHAR', { sql: `case r.dimension ${RESULT_DIMENSIONS.map((d) => `when '${d}' then '${dimensionName(d)}'`).join(' ')} else r.dimension end`, doc: 'campaign | segment | channel | audience_decile' }),
    col('dimension_value', 'VARCHAR'),
    col('status', 'VARCHAR', { doc: 'final | pending (window open or outcomes not collected: no lift, value or ROI)' }),
    col('final_on', 'DATE', { nullable: true, doc: 'the date the row becomes final (contact date + attribution window)' }),
    col('observed_through', 'DATE', { nullable: true, doc: 'openings are known up to this date' }),
    col('treatment_contacts', 'INT64', { pg: 'integer' }),
    col('treatment_conversions', 'INT64', { nullable: true, pg: 'integer', doc: 'null while outcomes are not collected' }),
    col('control_contacts', 'INT64', { pg: 'integer' }),
    col('control_conversions', 'INT64', { nullable: true, pg: 'integer', doc: 'null while outcomes are not collected' }),
    ...RATE_COLUMNS.map((c) => col(c, 'DOUBLE', { nullable: true })),
    col('cost', 'DECIMAL(18,2)', { pg: 'double precision' }),
    col('value', 'DECIMAL(18,2)', { nullable: true, pg: 'double precision' }),
    col('incremental_value', 'DECIMAL(18,2)', { nullable: true, pg: 'double precision' }),
    col('roi', 'DOUBLE', { nullable: true }),
    col('uplift_at_k', 'DOUBLE', { nullable: true }),
    col('qini', 'DOUBLE', { nullable: true }),
    col('qini_coefficient', 'DOUBLE', { nullable: true }),
  ],
});

/** The training set a candidate model saw (under the model folder, not a run folder): features as of the day before each contact. */
export function trainingSet(features: readonly string[]): RelationDef {
  return relation({
    name: 'training_set',
    file: 'training.parquet',
    doc: 'Labelled contacts a candidate model was trained and judged on.',
    key: ['contact_id'],
    sortBy: ['contact_id'],
    columns: [
      col('contact_id', 'VARCHAR'),
      col('as_of', 'DATE', { doc: 'feature date: the day before the contact' }),
      col('label', 'INT32'),
      col('split', 'VARCHAR', { doc: 'train | holdout' }),
      ...features.map((f) => col(f, 'DOUBLE', { nullable: true })),
    ],
  });
}

/** A campaign's marketing file: the fields its channel needs, as text, mirroring the CSV marketing receives. */
export function deliveryFile(fields: readonly string[]): RelationDef {
  return relation({
    name: 'delivery',
    file: 'delivery.parquet',
    doc: "Treatment contacts of one campaign with the fields of its channel (the CSV's twin).",
    key: ['idempotency_key'],
    sortBy: ['idempotency_key'],
    columns: fields.map((f) => col(f, 'VARCHAR', { nullable: true })),
  });
}

/** The run-folder snapshots declared above, in stage order (the contract document and the schema test walk this). */
export const RUN_SNAPSHOTS: readonly RelationDef[] = [
  quarantine, quality, customers, identityChanges, tags, triggers, segments, segmentProfiles, clusters, scores, eligibility, dispatch, outcomes, results,
];
