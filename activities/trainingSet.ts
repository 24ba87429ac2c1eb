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
 * Every labelled contact of a product (named parameters :runId :product :tz :asOf :attributionDays :windowDays),
 * before sampling. Only contacts of the last :windowDays days count, so the set stops growing with the days Portrait
 * has run (Portrait's own outcome labels accumulate every day; the index on (product, contacted_on) keeps the read
 * to the window).
 */
const LABELLED_CONTACTS_SQL = `(
    (select c.contact_id as point_id, s.golden_id, (c.contacted_at at time zone :tz)::date - 1 as as_of, 'treatment' as arm,
           (c.converted and c.converted_at <= c.contacted_at + make_interval(days => :attributionDays)) as label
    from landing.campaign_contacts c
    join core.customer_sources s on s.run_id = c.run_id and s.customer_key = c.customer_key
    where c.run_id = :runId and c.product = :product
      and c.contacted_at + make_interval(days => :attributionDays) < ((cast(:asOf as date) + 1)::timestamp at time zone :tz)
      and c.contacted_at >= ((cast(:asOf as date) + 1 - cast(:windowDays as int))::timestamp at time zone :tz))
    union all
    (select distinct on (o.campaign_id, o.contacted_on, o.golden_id)
           'outcome:' || o.run_id || ':' || o.campaign_id || ':' || o.golden_id, o.golden_id, o.contacted_on - 1, o.arm, o.converted
    from campaign.outcome_labels o
    where o.product = :product and o.window_days > 0 and o.contacted_on + o.window_days <= cast(:asOf as date) and o.observed_through >= o.contacted_on + o.window_days
      and o.contacted_on >= cast(:asOf as date) + 1 - cast(:windowDays as int)
    order by o.campaign_id, o.contacted_on, o.golden_id, o.run_id)
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
  const half = Math.floor(opts.maxRows / 2);
  const points = `
    (select point_id, golden_id, as_of from labelled l where label order by md5(point_id || :seed), point_id limit :half)
    union all
    (select point_id, golden_id, as_of from labelled l where not label order by md5(point_id || :seed), point_id limit :negatives)`;
  // The tag query's aggregates stay in memory with the bulk settings, as in the daily tags stage.
  return db.transaction(async (trx) => {
    if (opts.workMem) await trx.raw(bulkSessionSql(opts.workMem));
    const result = await trx.raw(
      // Labelled contacts grow with the contact history: enumerated once, not once per use.
      `with labelled as materialized ${LABELLED_CONTACTS_SQL}
       select x.point_id as contact_id, to_char(x.as_of, 'YYYY-MM-DD') as as_of, l.label::int as label, l.arm, ${opts.features.map((f) => `x."${f}"`).join(', ')}
       from (${tagSelectSql(points)}) x
       join labelled l on l.point_id = x.point_id
       order by x.point_id`,
      { runId: opts.runId, asOf: opts.asOf, tz: opts.timezone, product: opts.product, attributionDays: opts.attributionDays, windowDays: opts.windowDays, seed: String(opts.seed), half, negatives: opts.maxRows - half },
    );
    return result.rows as TrainingRow[];
  });
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
    product: opts.product,
    attributionDays: opts.attributionDays,
    windowDays: opts.windowDays,
  });
  return res.rows[0] as { contacts: number; positives: number };
}
