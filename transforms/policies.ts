import { createHash } from 'node:crypto';
import type { CampaignConfig, PortraitConfig } from '../config/schema';

/** One customer considered for one campaign, with the facts the policies need (no PII). */
export interface Candidate {
  goldenId: string;
  segment: string;
  score: number;
  /** Latest consent record for the campaign's channel as of the run; null when the customer never answered. */
  consentGranted: boolean | null;
  maxOverdueDays: number;
  /** Contacts in the rolling frequency-cap window, across all campaigns. */
  recentContacts: number;
}

export type ExclusionReason = 'no_consent' | 'risk_excluded' | 'frequency_cap' | 'below_min_score' | 'arbitration' | 'over_budget';

const CREDIT_PRODUCTS = new Set(['consumer_loan', 'mortgage', 'business_loan', 'credit_card']);

/**
 * The per-customer policies in the order they are recorded: consent for the channel, risk exclusion for credit
 * offers, the frequency cap, then the campaign's minimum score. Returns the first failed policy, or null.
 */
export function firstFailedPolicy(c: Candidate, campaign: CampaignConfig, policies: PortraitConfig['policies']): ExclusionReason | null {
  if (c.consentGranted !== true) return 'no_consent';
  if (CREDIT_PRODUCTS.has(campaign.product) && c.maxOverdueDays > policies.maxOverdueDaysForLoanOffer) return 'risk_excluded';
  if (c.recentContacts >= policies.frequencyCap.contacts) return 'frequency_cap';
  if (c.score < campaign.minScore) return 'below_min_score';
  return null;
}

/** Uniform in [0, 1) from a hash of the parts: stable across runs, machines and shard counts. */
export function stableUnit(...parts: string[]): number {
  const h = createHash('sha256').update(parts.join('\u0000')).digest();
  return h.readUInt32BE(0) / 2 ** 32;
}

/** Deterministic holdout: the same customer is always in the same arm of the same campaign. */
export function assignArm(campaignId: string, goldenId: string, holdoutShare: number): 'treatment' | 'control' {
  return stableUnit('holdout', campaignId, goldenId) < holdoutShare ? 'control' : 'treatment';
}

/**
 * The key a sink uses to drop a repeated delivery of the same contact. Built from the as-of date, not the run id:
 * a re-run of the same date must not contact anyone twice.
 */
export function idempotencyKey(campaignId: string, asOf: string, goldenId: string): string {
  return createHash('sha256').update(`${campaignId}|${asOf}|${goldenId}`).digest('hex').slice(0, 32);
}
