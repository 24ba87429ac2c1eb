import type { CampaignConfig } from '../config/schema';
import { SUPPRESSION_LISTS, type Candidate, type ExclusionReason, type Policies } from './policies';

/** The consent record a decision rested on (no PII: ids, channel, status, time). */
export interface ConsentFacts {
  consentId: string | null;
  recordedAt: string | null;
}

/**
 * The facts that failed a customer's first failed policy, kept with the verdict so an auditor can see why months
 * later, when the landing rows it was computed from are gone. Compact: one small object per excluded pair.
 */
export function policyFacts(reason: ExclusionReason, c: Candidate, consent: ConsentFacts, campaign: CampaignConfig, policies: Policies): Record<string, unknown> {
  switch (reason) {
    case 'quiet_hours':
      return { send_time: campaign.sendTime, quiet_start: policies.quietHours.start, quiet_end: policies.quietHours.end };
    case 'suppressed_deceased':
    case 'suppressed_do_not_contact':
    case 'suppressed_staff':
    case 'suppressed_complaint':
      return { lists: SUPPRESSION_LISTS.filter((l) => c.suppressions.includes(l)) };
    case 'no_consent':
      return { channel: campaign.channel, consent_id: consent.consentId, status: c.consentGranted === false ? 'refused' : 'no_record', recorded_at: consent.recordedAt };
    case 'no_contact_point':
      return { channel: campaign.channel, reachable: c.reachable };
    case 'risk_excluded':
      return { max_overdue_days: c.maxOverdueDays, overdue_limit: policies.maxOverdueDaysForLoanOffer, credit_band: c.creditBand, high_risk_bands: policies.highRiskCreditBands };
    case 'cooldown_conversion':
      return { days_since_conversion: c.daysSinceConversion, cooldown_days: policies.cooldownDays.conversion };
    case 'cooldown_refusal':
      return { days_since_refusal: c.daysSinceRefusal, cooldown_days: policies.cooldownDays.refusal };
    case 'frequency_cap':
      return { contacts_counted: c.recentContacts, cap: policies.frequencyCap.contacts, window_days: policies.frequencyCap.days };
    case 'channel_daily_cap':
      return { channel: campaign.channel, contacts_last_day: c.channelContactsLastDay, cap: policies.channelDailyCap };
    case 'below_min_score':
      return { score: c.score, min_score: campaign.minScore };
    // Decided over the whole run (see arbitrate): the pair's score is the fact that ranked it.
    case 'arbitration':
    case 'over_budget':
      return { score: c.score };
  }
}
