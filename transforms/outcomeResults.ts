import { computeLift, qiniCurve, roi, type ArmCounts, type LiftResult } from './lift';

export const RESULT_DIMENSIONS = ['campaign', 'segment', 'channel', 'score_decile'] as const;
export type ResultDimension = (typeof RESULT_DIMENSIONS)[number];

/** Conversions per arm for one value of one breakdown (campaign rows use the value 'all'). */
export interface ArmGroup {
  dimension: ResultDimension;
  value: string;
  treatment: ArmCounts;
  control: ArmCounts;
}

/** `final`: the attribution window was observed to its end; `pending`: not yet (open window, or not collected). */
export type OutcomeStatus = 'final' | 'pending';

/** Where a campaign's measurement stands: final or pending, the date it is (or becomes) final, and how far it was observed. */
export interface OutcomeWindow {
  status: OutcomeStatus;
  /** Contact date + attribution window, YYYY-MM-DD. */
  finalOn: string;
  /** Conversions are known up to this date; null when nothing was collected yet. */
  observedThrough: string | null;
}

/** One row of campaign.results / results.parquet. */
export interface ResultRow {
  campaign_id: string;
  dimension: ResultDimension;
  dimension_value: string;
  status: OutcomeStatus;
  final_on: string;
  observed_through: string | null;
  treatment_contacts: number;
  /** Conversions observed so far; null when the outcomes were not collected. */
  treatment_conversions: number | null;
  control_contacts: number;
  control_conversions: number | null;
  treatment_rate: number | null;
  control_rate: number | null;
  absolute_lift: number | null;
  absolute_lift_lo: number | null;
  absolute_lift_hi: number | null;
  absolute_lift_newcombe_lo: number | null;
  absolute_lift_newcombe_hi: number | null;
  relative_lift: number | null;
  relative_lift_lo: number | null;
  relative_lift_hi: number | null;
  incremental_conversions: number | null;
  cost: number;
  value: number | null;
  incremental_value: number | null;
  roi: number | null;
  uplift_at_k: number | null;
  qini: number | null;
  qini_coefficient: number | null;
}

/**
 * Results of one campaign from its per-arm counts: lift with intervals, cost (treatment contacts × cost per
 * contact; the control group is never contacted), value and incremental value (× value per conversion), ROI, and
 * for score deciles uplift@k and the Qini curve (decile 1 = highest scores). Rows are sorted for byte-stable output.
 * A pending window keeps the counts observed so far and the cost, and computes nothing from them: a lift or ROI of
 * an open window would read as a result.
 */
export function buildResultRows(campaign: { id: string; costPerContact: number; valuePerConversion: number }, groups: readonly ArmGroup[], window: OutcomeWindow): ResultRow[] {
  const deciles = groups.filter((g) => g.dimension === 'score_decile');
  const qini = qiniCurve(deciles.map((g) => ({ bucket: Number(g.value), treatment: g.treatment, control: g.control })));
  const byDecile = new Map(deciles.map((g) => Number(g.value)).sort((a, b) => a - b).map((d, i) => [d, qini.curve[i + 1]!]));
  const rows = groups.map((g): ResultRow => {
    const lift: LiftResult = computeLift(g.treatment, g.control);
    const cost = g.treatment.contacts * campaign.costPerContact;
    const incrementalValue = lift.incrementalConversions === null ? null : lift.incrementalConversions * campaign.valuePerConversion;
    const point = g.dimension === 'score_decile' ? byDecile.get(Number(g.value)) : undefined;
    const status = { status: window.status, final_on: window.finalOn, observed_through: window.observedThrough };
    if (window.status === 'pending') return pendingRow(campaign, g, status);
    return {
      campaign_id: campaign.id,
      dimension: g.dimension,
      dimension_value: g.value,
      ...status,
      treatment_contacts: g.treatment.contacts,
      treatment_conversions: g.treatment.conversions,
      control_contacts: g.control.contacts,
      control_conversions: g.control.conversions,
      treatment_rate: lift.treatment.rate,
      control_rate: lift.control.rate,
      absolute_lift: lift.absoluteLift,
      absolute_lift_lo: lift.absoluteLiftCi95?.[0] ?? null,
      absolute_lift_hi: lift.absoluteLiftCi95?.[1] ?? null,
      absolute_lift_newcombe_lo: lift.absoluteLiftNewcombeCi95?.[0] ?? null,
      absolute_lift_newcombe_hi: lift.absoluteLiftNewcombeCi95?.[1] ?? null,
      relative_lift: lift.relativeLift,
      relative_lift_lo: lift.relativeLiftCi95?.[0] ?? null,
      relative_lift_hi: lift.relativeLiftCi95?.[1] ?? null,
      incremental_conversions: lift.incrementalConversions,
      cost,
      value: g.treatment.conversions * campaign.valuePerConversion,
      incremental_value: incrementalValue,
      roi: roi(incrementalValue, cost),
      uplift_at_k: point?.upliftAtK ?? null,
      qini: point?.qini ?? null,
      qini_coefficient: g.dimension === 'campaign' ? qini.qiniCoefficient : null,
    };
  });
  const order = (d: ResultDimension) => RESULT_DIMENSIONS.indexOf(d);
  const key = (r: ResultRow) => (r.dimension === 'score_decile' ? r.dimension_value.padStart(3, '0') : r.dimension_value);
  return rows.sort((a, b) => order(a.dimension) - order(b.dimension) || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

const NO_MEASURE = {
  treatment_rate: null, control_rate: null, absolute_lift: null, absolute_lift_lo: null, absolute_lift_hi: null, absolute_lift_newcombe_lo: null, absolute_lift_newcombe_hi: null,
  relative_lift: null, relative_lift_lo: null, relative_lift_hi: null, incremental_conversions: null, value: null, incremental_value: null, roi: null, uplift_at_k: null, qini: null, qini_coefficient: null,
} as const;

function pendingRow(campaign: { id: string; costPerContact: number }, g: ArmGroup, status: Pick<ResultRow, 'status' | 'final_on' | 'observed_through'>): ResultRow {
  return {
    campaign_id: campaign.id, dimension: g.dimension, dimension_value: g.value, ...status,
    treatment_contacts: g.treatment.contacts, treatment_conversions: g.treatment.conversions, control_contacts: g.control.contacts, control_conversions: g.control.conversions,
    cost: g.treatment.contacts * campaign.costPerContact, ...NO_MEASURE,
  };
}

/**
 * The results row of a campaign whose outcomes have not been collected: contacts per arm and cost, conversions
 * unknown (null), final on the contact date + window.
 */
export function uncollectedResultRow(campaign: { id: string; costPerContact: number }, contacts: { treatment: number; control: number }, finalOn: string): ResultRow {
  return {
    campaign_id: campaign.id, dimension: 'campaign', dimension_value: 'all', status: 'pending', final_on: finalOn, observed_through: null,
    treatment_contacts: contacts.treatment, treatment_conversions: null, control_contacts: contacts.control, control_conversions: null,
    cost: contacts.treatment * campaign.costPerContact, ...NO_MEASURE,
  };
}
