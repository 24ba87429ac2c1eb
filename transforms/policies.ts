import { createHash } from 'node:crypto';
import type { CampaignConfig, Channel, PortraitConfig } from '../config/schema';

export type Policies = PortraitConfig['policies'];

/** Suppression lists, in the order they are reported when a customer is on several. */
export const SUPPRESSION_LISTS = ['deceased', 'do_not_contact', 'staff', 'complaint'] as const;
export type SuppressionList = (typeof SUPPRESSION_LISTS)[number];

/** One customer considered for one campaign, with the facts the policies need (no PII). */
export interface Candidate {
  goldenId: string;
  segment: string;
  score: number;
  /** Latest consent record for the campaign's channel as of the run; null when the customer never answered. */
  consentGranted: boolean | null;
  /** Whether the channel can reach the customer (a valid phone for sms/call; app, wechat and email go by customer reference). */
  reachable: boolean;
  maxOverdueDays: number;
  /** Tag credit_band; null when unknown. */
  creditBand: string | null;
  /** Lists the customer is on (any order). */
  suppressions: readonly string[];
  /** Whole days since the latest conversion / refusal as of the run; null when none. */
  daysSinceConversion: number | null;
  daysSinceRefusal: number | null;
  /** Contacts in the rolling frequency-cap window, across all campaigns and channels. */
  recentContacts: number;
  /** Contacts on the campaign's channel in the 24 hours before the scheduled send. */
  channelContactsLastDay: number;
}

/**
 * Every reason a customer×campaign is not dispatched, in the fixed order policies are evaluated: the ledger
 * records the FIRST that fails. Campaign-wide (quiet hours) → who the customer is (suppression, consent,
 * reachability, risk) → recent history (cooldowns, caps) → the offer (min score) → the run (arbitration, budget).
 */
export const POLICY_ORDER = [
  'quiet_hours',
  'suppressed_deceased',
  'suppressed_do_not_contact',
  'suppressed_staff',
  'suppressed_complaint',
  'no_consent',
  'no_contact_point',
  'risk_excluded',
  'cooldown_conversion',
  'cooldown_refusal',
  'frequency_cap',
  'channel_daily_cap',
  'below_min_score',
  'arbitration',
  'over_budget',
] as const;
export type ExclusionReason = (typeof POLICY_ORDER)[number];

const CREDIT_PRODUCTS = new Set(['consumer_loan', 'mortgage', 'business_loan', 'credit_card']);
const PHONE_CHANNELS = new Set<Channel>(['sms', 'call']);

/** Whether a local HH:MM falls in the quiet window [start, end), which may wrap midnight. */
export function inQuietHours(sendTime: string, quiet: Policies['quietHours']): boolean {
  const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  const t = minutes(sendTime);
  const start = minutes(quiet.start);
  const end = minutes(quiet.end);
  return start <= end ? t >= start && t < end : t >= start || t < end;
}

/** A campaign is evaluated only on as-of dates inside its inclusive [startDate, endDate]. */
export function isCampaignActive(campaign: Pick<CampaignConfig, 'startDate' | 'endDate'>, asOf: string): boolean {
  return (!campaign.startDate || asOf >= campaign.startDate) && (!campaign.endDate || asOf <= campaign.endDate);
}

/**
 * The per-customer policies in POLICY_ORDER (all but arbitration and budget, which need the whole run).
 * Returns the first failed policy, or null when the candidate may be selected.
 */
export function firstFailedPolicy(c: Candidate, campaign: CampaignConfig, policies: Policies): ExclusionReason | null {
  if (policies.quietHours.channels.includes(campaign.channel) && inQuietHours(campaign.sendTime, policies.quietHours)) return 'quiet_hours';
  for (const list of SUPPRESSION_LISTS) if (c.suppressions.includes(list)) return `suppressed_${list}`;
  if (c.consentGranted !== true) return 'no_consent';
  if (PHONE_CHANNELS.has(campaign.channel) && !c.reachable) return 'no_contact_point';
  if (CREDIT_PRODUCTS.has(campaign.product)) {
    const highRisk = c.creditBand !== null && (policies.highRiskCreditBands as readonly string[]).includes(c.creditBand);
    if (c.maxOverdueDays > policies.maxOverdueDaysForLoanOffer || highRisk) return 'risk_excluded';
  }
  if (c.daysSinceConversion !== null && c.daysSinceConversion < policies.cooldownDays.conversion) return 'cooldown_conversion';
  if (c.daysSinceRefusal !== null && c.daysSinceRefusal < policies.cooldownDays.refusal) return 'cooldown_refusal';
  if (c.recentContacts >= policies.frequencyCap.contacts) return 'frequency_cap';
  if (c.channelContactsLastDay >= policies.channelDailyCap) return 'channel_daily_cap';
  if (c.score < campaign.minScore) return 'below_min_score';
  return null;
}

/** A customer×campaign pair that passed every per-customer policy. */
export interface EligiblePair {
  campaignId: string;
  goldenId: string;
  score: number;
}

export type Arm = 'treatment' | 'control';
export type HoldoutKind = 'global' | 'campaign';

export interface Selection<P extends EligiblePair = EligiblePair> {
  pair: P;
  /** null when selected, else arbitration or over_budget. */
  reason: 'arbitration' | 'over_budget' | null;
}

/**
 * Arbitration across campaigns: at most one campaign per customer per run. Pairs are taken by campaign priority
 * (lower first), then expected value (score × valuePerConversion, higher first), then ids; a customer already
 * selected loses every later pair (arbitration), a campaign whose budget is used up drops the rest (over_budget)
 * and the customer may still win a later campaign. Budgets bound the selected audience, holdout included, so the
 * control share is not distorted by the cut. Returns every pair once, in that order, with its verdict; the pairs are
 * ranked by index (no object per pair), as a day's pairs run to millions.
 */
export function arbitrate<P extends EligiblePair>(pairs: readonly P[], campaigns: readonly CampaignConfig[]): Selection<P>[] {
  const byId = new Map(campaigns.map((c) => [c.id, c]));
  const campaignOf = (id: string) => {
    const c = byId.get(id);
    if (!c) throw new Error(`pair for unknown campaign "${id}"`);
    return c;
  };
  const priority = new Float64Array(pairs.length);
  const ev = new Float64Array(pairs.length);
  pairs.forEach((p, i) => {
    const c = campaignOf(p.campaignId);
    priority[i] = c.priority;
    ev[i] = p.score * c.valuePerConversion;
  });
  const order = new Uint32Array(pairs.length).map((_, i) => i);
  order.sort((a, b) => priority[a]! - priority[b]! || ev[b]! - ev[a]! || cmp(pairs[a]!.campaignId, pairs[b]!.campaignId) || cmp(pairs[a]!.goldenId, pairs[b]!.goldenId));
  const taken = new Set<string>();
  const used = new Map<string, number>();
  return Array.from(order, (i) => {
    const pair = pairs[i]!;
    if (taken.has(pair.goldenId)) return { pair, reason: 'arbitration' as const };
    const budget = campaignOf(pair.campaignId).budget;
    const n = used.get(pair.campaignId) ?? 0;
    if (n >= budget) return { pair, reason: 'over_budget' as const };
    used.set(pair.campaignId, n + 1);
    taken.add(pair.goldenId);
    return { pair, reason: null };
  });
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Uniform in [0, 1) from a hash of the parts: stable across runs, machines and shard counts. */
export function stableUnit(...parts: string[]): number {
  const h = createHash('sha256').update(parts.join('\u0000')).digest();
  return h.readUInt32BE(0) / 2 ** 32;
}

/** Deterministic per-campaign holdout: the same customer is always in the same arm of the same campaign. */
export function assignArm(campaignId: string, goldenId: string, holdoutShare: number): Arm {
  return stableUnit('holdout', campaignId, goldenId) < holdoutShare ? 'control' : 'treatment';
}

/** The global holdout (no campaign ever contacts them) and, outside it, the campaign's own holdout. */
export function assignControl(campaignId: string, goldenId: string, holdoutShare: number, globalHoldoutShare: number): { arm: Arm; holdout: HoldoutKind | null } {
  if (stableUnit('global-holdout', goldenId) < globalHoldoutShare) return { arm: 'control', holdout: 'global' };
  return assignArm(campaignId, goldenId, holdoutShare) === 'control' ? { arm: 'control', holdout: 'campaign' } : { arm: 'treatment', holdout: null };
}

/** The share of a campaign's selected customers expected in control: the global holdout plus the campaign's own. */
export function expectedControlShare(holdoutShare: number, globalHoldoutShare: number): number {
  return globalHoldoutShare + (1 - globalHoldoutShare) * holdoutShare;
}

export interface ControlShareCheck {
  selected: number;
  control: number;
  expected: number;
  observed: number | null;
  /** Allowed |observed − expected|: `z` binomial standard deviations for this many selected customers. */
  tolerance: number | null;
  withinTolerance: boolean;
}

/** Compares the observed control share with the configured one (normal approximation of the binomial). */
export function checkControlShare(treatment: number, control: number, expected: number, z: number): ControlShareCheck {
  const selected = treatment + control;
  if (selected === 0) return { selected, control, expected, observed: null, tolerance: null, withinTolerance: true };
  const observed = control / selected;
  const tolerance = z * Math.sqrt((expected * (1 - expected)) / selected);
  return { selected, control, expected, observed, tolerance, withinTolerance: Math.abs(observed - expected) <= tolerance };
}

/**
 * The key a sink uses to drop a repeated delivery of the same contact. Built from the as-of date, not the run id:
 * a re-run of the same date must not contact anyone twice.
 */
export function idempotencyKey(campaignId: string, asOf: string, goldenId: string): string {
  return createHash('sha256').update(`${campaignId}|${asOf}|${goldenId}`).digest('hex').slice(0, 32);
}

/** A batch's key is derived from its contacts' keys, so a rebuilt batch after a crash carries the same key. */
export function batchKey(contactKeys: readonly string[]): string {
  return createHash('sha256').update(contactKeys.join('\n')).digest('hex').slice(0, 32);
}
