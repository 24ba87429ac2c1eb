import type { Knex } from 'knex';
import { tagSelectSql } from '../sql/tagSql';
import { bulkSessionSql } from './pg';

export interface TrainingRow {
  contact_id: string;
  as_of: string;
  label: 0 | 1;
  /** 'treatment' for contacts (the bank's campaign history and Portrait's treatment arm), 'control' for holdouts. */
  arm: 'treatment' | 'control';
  [feature: string]: unknown;
}

/**
 * Every labelled contact of the products :products (text[]), before sampling (named parameters :runId :products :tz
 * :asOf :attributionDays :windowDays). Only contacts of the last :windowDays days count, so the set stops growing with
 * the days Portrait has run (Portrait's own outcome labels accumulate every day; the index on (product,
 * contacted_on) keeps the read to the window).
 */
const LABELLED_CONTACTS_SQL = `(
    (select c.product, c.contact_id as point_id, s.golden_id, (c.contacted_at at time zone :tz)::date - 1 as as_of, 'treatment' as arm,
           (c.converted and c.converted_at <= c.contacted_at + make_interval(days => :attributionDays)) as label
    from landing.campaign_contacts c
    join core.customer_sources s on s.run_id = c.run_id and s.customer_key = c.customer_key
    where c.run_id = :runId and c.product = any(cast(:products as text[]))
      and c.contacted_at + make_interval(days => :attributionDays) < ((cast(:asOf as date) + 1)::timestamp at time zone :tz)
      and c.contacted_at >= ((cast(:asOf as date) + 1 - cast(:windowDays as int))::timestamp at time zone :tz))
    union all
    (select distinct on (o.product, o.campaign_id, o.contacted_on, o.golden_id)
           o.product, 'outcome:' || o.run_id || ':' || o.campaign_id || ':' || o.golden_id, o.golden_id, o.contacted_on - 1, o.arm, o.converted
    from campaign.outcome_labels o
    where o.product = any(cast(:products as text[])) and o.window_days > 0 and o.contacted_on + o.window_days <= cast(:asOf as date) and o.observed_through >= o.contacted_on + o.window_days
      and o.contacted_on >= cast(:asOf as date) + 1 - cast(:windowDays as int)
    order by o.product, o.campaign_id, o.contacted_on, o.golden_id, o.run_id)
  )`;

/**
 * Training rows that do not cheat: one point per past contact of the product, with every tag computed as of the
 * day before the contact (the same definitions as the daily run, so no information from after the contact), and
 * the label "converted within the attribution window". Only contacts whose window closed by the run date count,
 * so no label is still open. A deterministic, class-balanced sample keeps the reference forest tractable.
 *
 * Contacts come from the bank's campaign history (landing.campaign_contacts of this run) and from Portrait's own
 * measured dispatches (campaign.outcome_labels, both arms), the latter only once their window was observed to the
 * end; a date re-run counts once (its first run id).
 */
export async function buildTrainingSet(
  db: Knex,
  opts: { runId: string; asOf: string; timezone: string; product: string; features: readonly string[]; attributionDays: number; windowDays: number; maxRows: number; seed: number; workMem?: string },
): Promise<TrainingRow[]> {
  const { product, features, ...rest } = opts;
  return (await buildTrainingSets(db, { ...rest, products: [{ product, features }] })).get(product)!;
}

/**
 * {@link buildTrainingSet} of several products in one query: the sources are read and joined to the points once,
 * where one query per product read all of them again (1M customers: the fixed part of a set, ~16 s of one core, is
 * most of its cost). A point's features depend on that point alone, so each product's rows are those of its own
 * query — but for the RFM scores, which rank the points among each other: a product whose columns hold one gets a
 * query of its own.
 */
export async function buildTrainingSets(
  db: Knex,
  opts: { runId: string; asOf: string; timezone: string; products: readonly { product: string; features: readonly string[] }[]; attributionDays: number; windowDays: number; maxRows: number; seed: number; workMem?: string },
): Promise<Map<string, TrainingRow[]>> {
  const alone = opts.products.filter((p) => p.features.some((f) => RANKED_AMONG_POINTS.has(f)));
  const shared = opts.products.filter((p) => !alone.includes(p));
  const queries = [...(shared.length ? [shared] : []), ...alone.map((p) => [p])];
  const sets = new Map<string, TrainingRow[]>();
  for (const products of queries) for (const [product, rows] of await trainingSetsQuery(db, { ...opts, products })) sets.set(product, rows);
  return sets;
}

/** Tags whose value depends on the other points of the query (tagScoredSql's ranks). */
const RANKED_AMONG_POINTS: ReadonlySet<string> = new Set(['rfm_recency_score', 'rfm_frequency_score', 'rfm_monetary_score', 'rfm_cell']);

async function trainingSetsQuery(
  db: Knex,
  opts: { runId: string; asOf: string; timezone: string; products: readonly { product: string; features: readonly string[] }[]; attributionDays: number; windowDays: number; maxRows: number; seed: number; workMem?: string },
): Promise<Map<string, TrainingRow[]>> {
  const half = Math.floor(opts.maxRows / 2);
  const columns = [...new Set(opts.products.flatMap((p) => p.features))];
  // Per product, the first :half positives and :negatives negatives by md5(point_id || seed), point_id; a point's id
  // in the tag query carries its product, so two products' points never merge.
  const points = `select product || ':' || point_id as point_id, golden_id, as_of from sampled`;
  // The tag query's aggregates stay in memory with the bulk settings, as in the daily tags stage.
  const rows = await db.transaction(async (trx) => {
    if (opts.workMem) await trx.raw(bulkSessionSql(opts.workMem));
    // A partitioned landing table has no statistics of its own (analyzing it would sample every run's partition), so
    // the planner takes 200 distinct accounts, expects billions of balance rows for the points' accounts and sorts all
    // balances for a merge join (1M: 13.9M rows sorted for ~19k accounts). Hash joins read them once: 26.2 → 21.3 s.
    await trx.raw('set local enable_mergejoin = off');
    const result = await trx.raw(
      // Labelled contacts grow with the contact history: enumerated once, not once per use.
      `with labelled as materialized ${LABELLED_CONTACTS_SQL},
       sampled as materialized (
         select product, point_id, golden_id, as_of, label, arm
         from (select l.*, row_number() over (partition by product, label order by md5(point_id || :seed), point_id) as k from labelled l where label is not null) s
         where k <= case when label then cast(:half as int) else cast(:negatives as int) end)
       select l.product, l.point_id as contact_id, to_char(x.as_of, 'YYYY-MM-DD') as as_of, l.label::int as label, l.arm, ${columns.map((f) => `x."${f}"`).join(', ')}
       from (${tagSelectSql(points)}) x
       join sampled l on l.product || ':' || l.point_id = x.point_id
       order by l.product, l.point_id`,
      { runId: opts.runId, asOf: opts.asOf, tz: opts.timezone, products: opts.products.map((p) => p.product), attributionDays: opts.attributionDays, windowDays: opts.windowDays, seed: String(opts.seed), half, negatives: opts.maxRows - half },
    );
    return result.rows as (TrainingRow & { product: string })[];
  });
  const sets = new Map<string, TrainingRow[]>(opts.products.map((p) => [p.product, []]));
  for (const { product: productOfRow, ...row } of rows) sets.get(productOfRow)!.push(row as TrainingRow);
  // Each product's rows with its own columns only, as its own query gave them.
  for (const { product, features } of opts.products) {
    const own = new Set(features);
    const drop = columns.filter((c) => !own.has(c));
    if (drop.length) for (const row of sets.get(product)!) for (const c of drop) delete row[c];
  }
  return sets;
}

/**
 * Labelled contacts of a product with closed attribution windows, before sampling: the population whose share of
 * positives calibrates a forest trained with balanced class weights.
 */
export async function countLabelledContacts(
  db: Knex,
  opts: { runId: string; asOf: string; timezone: string; product: string; attributionDays: number; windowDays: number },
): Promise<{ contacts: number; positives: number }> {
  const res = await db.raw(`select count(*)::int as contacts, count(*) filter (where label)::int as positives from ${LABELLED_CONTACTS_SQL} l`, {
    runId: opts.runId,
    asOf: opts.asOf,
    tz: opts.timezone,
    products: [opts.product],
    attributionDays: opts.attributionDays,
    windowDays: opts.windowDays,
  });
  return res.rows[0] as { contacts: number; positives: number };
}
