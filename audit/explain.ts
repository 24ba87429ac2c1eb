import type { Knex } from 'knex';
import type { CampaignConfig, PortraitConfig } from '../config/schema';
import { TAGS } from '../transforms/tagCatalogue';
import { isCampaignActive } from '../transforms/policies';

export interface CampaignExplanation {
  campaign_id: string;
  name: string;
  product: string;
  channel: string;
  evaluated: boolean;
  /** Why the customer was not evaluated, or the first failed policy. */
  reason: string | null;
  eligible: boolean | null;
  /** The facts the first failed policy saw (consent record, contacts counted, ...). */
  facts: Record<string, unknown> | null;
  selected: boolean;
  arm: 'treatment' | 'control' | null;
  holdout: 'global' | 'campaign' | null;
  idempotency_key: string | null;
  score: number | null;
  consent_id: string | null;
  consent_recorded_at: string | null;
  delivery_status: string | null;
  deliveries: { sink: string; status: string; attempts: number; delivered_at: string | null }[];
  outcome: { converted: boolean; converted_at: string | null; value: number | null } | null;
}

export interface Explanation {
  run_id: string;
  as_of: string;
  /** What was asked for, and how it was read. */
  customer: { key: string; matched_as: 'golden_id' | 'source_key'; golden_id: string; name_masked: string | null };
  sources: { system: string; key: string; rule: string; score: number | null; name_masked: string | null; id_valid: boolean; phone_valid: boolean; findings: string | null }[];
  tags: { id: string; name_zh: string; name_en: string; category: string; value: unknown }[];
  triggers: { event: string; previous_value: number | null; current_value: number | null }[];
  segment: { id: string; name: string | null; priority: number | null; rule: string | null; also_matched: string[] } | null;
  scores: { product: string; model_version: string; score: number; decile: number; reasons: string | null }[];
  campaigns: CampaignExplanation[];
}

/** A run or customer the stored data does not know: one line for the person who asked. */
export class NotFound extends Error {
  override readonly name = 'NotFound';
}

/**
 * Follows one customer through one run from the rows that run stored (lineage, tags, segments, scores, the
 * eligibility and dispatch ledgers, deliveries, outcomes); nothing is recomputed with today's code or data.
 * `key` is a golden id or a source customer key (optionally `system:key`).
 */
export async function explainCustomer(db: Knex, runId: string, key: string): Promise<Explanation> {
  const run = await db('audit.runs').where({ run_id: runId }).first('run_id', 'as_of', 'config', 'status');
  if (!run) throw new NotFound(`no run with id ${runId}`);
  const config = run.config as PortraitConfig;

  let goldenId: string | undefined = (await db('core.customers').where({ run_id: runId, golden_id: key }).first('golden_id'))?.golden_id;
  const matchedAs = goldenId ? 'golden_id' : 'source_key';
  if (!goldenId) {
    const [system, sourceKey] = key.includes(':') ? key.split(/:(.*)/s, 2) : [undefined, key];
    const q = db('core.customer_sources').where({ run_id: runId, customer_key: sourceKey });
    if (system) q.andWhere({ source_system: system });
    const golden = [...new Set((await q.select('golden_id')).map((r) => r.golden_id as string))];
    if (golden.length > 1) throw new NotFound(`key ${key} belongs to ${golden.length} golden customers in run ${runId} (${golden.join(', ')}): give it as SYSTEM:KEY or a golden id`);
    goldenId = golden[0];
  }
  if (!goldenId) throw new NotFound(`no customer ${key} in run ${runId} (neither a golden id nor a source customer key)`);

  const customer = await db('core.customers').where({ run_id: runId, golden_id: goldenId }).first('name_masked');
  const sources = await db('core.customer_sources').where({ run_id: runId, golden_id: goldenId }).orderBy(['source_system', 'customer_key'])
    .select('source_system', 'customer_key', 'match_rule', 'match_score', 'name_masked', 'id_valid', 'phone_valid', 'findings');
  const tagRow = (await db('mart.tags').where({ run_id: runId, golden_id: goldenId }).first()) ?? {};
  const triggers = await db('mart.trigger_events').where({ run_id: runId, golden_id: goldenId }).orderBy('event').select('event', 'previous_value', 'current_value');
  const segmentRow = await db('mart.segments').where({ run_id: runId, golden_id: goldenId }).first('segment');
  const memberships = await db('mart.segment_memberships').where({ run_id: runId, golden_id: goldenId, is_primary: false }).orderBy('segment').pluck('segment');
  // Deciles as scores.parquet has them: ntile over the product's scores of the run.
  const scores = (await db.raw(
    `select product, model_version, score, decile, reasons from (
       select golden_id, product, model_version, score, reasons, ntile(10) over (partition by product order by score desc, golden_id) as decile
       from mart.scores where run_id = ?) s where golden_id = ? order by product`,
    [runId, goldenId],
  )).rows as { product: string; model_version: string; score: number; decile: number; reasons: string | null }[];
  const verdicts = await db('campaign.eligibility').where({ run_id: runId, golden_id: goldenId }).select('campaign_id', 'eligible', 'reason', 'facts');
  const dispatched = await db('campaign.dispatch').where({ run_id: runId, golden_id: goldenId })
    .select('campaign_id', 'arm', 'holdout', 'idempotency_key', 'score', 'consent_id', 'consent_recorded_at', 'delivery_status');
  const deliveries = await db('campaign.deliveries').where({ run_id: runId, golden_id: goldenId }).orderBy(['campaign_id', 'sink']).select('campaign_id', 'sink', 'status', 'attempts', 'delivered_at');
  const outcomes = await db('campaign.outcomes').where({ run_id: runId, golden_id: goldenId }).select('campaign_id', 'converted', db.raw("to_char(converted_at, 'YYYY-MM-DD') as converted_at"), 'value');

  const rules = config.segments ?? [];
  const priority = segmentRow ? rules.findIndex((r) => r.id === segmentRow.segment) : -1;
  const triggerIds = new Set(triggers.map((t) => t.event as string));
  const campaigns = [...(config.campaigns ?? [])].sort((a, b) => a.priority - b.priority || a.id.localeCompare(b.id)).map((c): CampaignExplanation => {
    const verdict = verdicts.find((v) => v.campaign_id === c.id);
    const d = dispatched.find((x) => x.campaign_id === c.id);
    const o = outcomes.find((x) => x.campaign_id === c.id);
    return {
      campaign_id: c.id,
      name: c.name,
      product: c.product,
      channel: c.channel,
      evaluated: !!verdict,
      reason: verdict ? verdict.reason : notEvaluatedBecause(c, run.as_of, segmentRow?.segment, triggerIds),
      eligible: verdict ? verdict.eligible : null,
      facts: verdict?.facts ?? null,
      selected: !!d,
      arm: d?.arm ?? null,
      holdout: d?.holdout ?? null,
      idempotency_key: d?.idempotency_key ?? null,
      score: d ? Number(d.score) : null,
      consent_id: d?.consent_id ?? null,
      consent_recorded_at: d?.consent_recorded_at ? new Date(d.consent_recorded_at).toISOString() : null,
      delivery_status: d?.delivery_status ?? null,
      deliveries: deliveries.filter((x) => x.campaign_id === c.id).map((x) => ({ sink: x.sink, status: x.status, attempts: Number(x.attempts), delivered_at: x.delivered_at ? new Date(x.delivered_at).toISOString() : null })),
      outcome: o ? { converted: o.converted, converted_at: o.converted_at, value: o.value === null ? null : Number(o.value) } : null,
    };
  });

  return {
    run_id: runId,
    as_of: run.as_of,
    customer: { key, matched_as: matchedAs, golden_id: goldenId, name_masked: customer?.name_masked ?? null },
    sources: sources.map((s) => ({ system: s.source_system, key: s.customer_key, rule: s.match_rule, score: s.match_score === null ? null : Number(s.match_score), name_masked: s.name_masked, id_valid: s.id_valid, phone_valid: s.phone_valid, findings: s.findings })),
    tags: TAGS.filter((t) => t.id in tagRow).map((t) => ({ id: t.id, name_zh: t.nameZh, name_en: t.nameEn, category: t.category, value: tagRow[t.id] })),
    triggers: triggers.map((t) => ({ event: t.event, previous_value: t.previous_value, current_value: t.current_value })),
    segment: segmentRow ? { id: segmentRow.segment, name: rules[priority]?.name ?? null, priority: priority >= 0 ? priority + 1 : null, rule: rules[priority]?.when ?? null, also_matched: memberships } : null,
    scores: scores.map((s) => ({ product: s.product, model_version: s.model_version, score: Number(s.score), decile: Number(s.decile), reasons: s.reasons })),
    campaigns,
  };
}

/** Why a campaign never judged this customer, from the run's own config and the customer's stored segment and triggers. */
function notEvaluatedBecause(c: CampaignConfig, asOf: string, segment: string | undefined, triggers: Set<string>): string {
  if (!isCampaignActive(c, asOf)) return `campaign not active on ${asOf} (${c.startDate ?? '…'} to ${c.endDate ?? '…'})`;
  const targeted = (c.segments ?? []).length ? `segment ${segment ?? '(none)'} is not targeted (${c.segments.join(', ')})` : 'the campaign targets no segment';
  const byTrigger = (c.triggers ?? []).length ? `no targeted trigger event (${c.triggers.join(', ')})` : 'no trigger events targeted';
  return (c.triggers ?? []).some((t) => triggers.has(t)) ? 'not among the candidates (no score for the product?)' : `${targeted}; ${byTrigger}`;
}
