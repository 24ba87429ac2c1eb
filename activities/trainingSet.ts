import type { Knex } from 'knex';
import { tagSelectSql } from './tagSql';

export interface TrainingRow {
  contact_id: string;
  as_of: string;
  label: 0 | 1;
  [feature: string]: unknown;
}

/**
 * Training rows that do not cheat: one point per past contact of the product, with every tag computed as of the
 * day before the contact (the same definitions as the daily run, so no information from after the contact), and
 * the label "converted within the attribution window". Only contacts whose window closed by the run date count,
 * so no label is still open. A deterministic, class-balanced sample keeps the reference forest tractable.
 */
export async function buildTrainingSet(
  db: Knex,
  opts: { runId: string; asOf: string; timezone: string; product: string; features: readonly string[]; attributionDays: number; maxRows: number; seed: number },
): Promise<TrainingRow[]> {
  const half = Math.floor(opts.maxRows / 2);
  const label = `(c.converted and c.converted_at <= c.contacted_at + make_interval(days => :attributionDays))`;
  const eligible = `from landing.campaign_contacts c
      join core.customer_sources s on s.run_id = c.run_id and s.customer_key = c.customer_key
      where c.run_id = :runId and c.product = :product
        and c.contacted_at + make_interval(days => :attributionDays) < ((cast(:asOf as date) + 1)::timestamp at time zone :tz)`;
  const points = `
    (select c.contact_id as point_id, s.golden_id, (c.contacted_at at time zone :tz)::date - 1 as as_of ${eligible} and ${label}
     order by md5(c.contact_id || :seed), c.contact_id limit :half)
    union all
    (select c.contact_id as point_id, s.golden_id, (c.contacted_at at time zone :tz)::date - 1 as as_of ${eligible} and not ${label}
     order by md5(c.contact_id || :seed), c.contact_id limit :negatives)`;
  const rows = await db.raw(
    `select x.point_id as contact_id, to_char(x.as_of, 'YYYY-MM-DD') as as_of, (${label})::int as label, ${opts.features.map((f) => `x."${f}"`).join(', ')}
     from (${tagSelectSql(points)}) x
     join landing.campaign_contacts c on c.run_id = :runId and c.contact_id = x.point_id
     order by x.point_id`,
    { runId: opts.runId, asOf: opts.asOf, tz: opts.timezone, product: opts.product, attributionDays: opts.attributionDays, seed: String(opts.seed), half, negatives: opts.maxRows - half },
  );
  return rows.rows as TrainingRow[];
}

/**
 * Labelled contacts of a product with closed attribution windows, before sampling: the population whose share of
 * positives calibrates a forest trained with balanced class weights.
 */
export async function countLabelledContacts(
  db: Knex,
  opts: { runId: string; asOf: string; timezone: string; product: string; attributionDays: number },
): Promise<{ contacts: number; positives: number }> {
  const res = await db.raw(
    `select count(*)::int as contacts,
            count(*) filter (where c.converted and c.converted_at <= c.contacted_at + make_interval(days => :attributionDays))::int as positives
     from landing.campaign_contacts c
     join core.customer_sources s on s.run_id = c.run_id and s.customer_key = c.customer_key
     where c.run_id = :runId and c.product = :product
       and c.contacted_at + make_interval(days => :attributionDays) < ((cast(:asOf as date) + 1)::timestamp at time zone :tz)`,
    { runId: opts.runId, asOf: opts.asOf, tz: opts.timezone, product: opts.product, attributionDays: opts.attributionDays },
  );
  return res.rows[0] as { contacts: number; positives: number };
}
