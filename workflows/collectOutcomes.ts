import { ApplicationFailure, sleep } from '@temporalio/workflow';
import type { CampaignConfig } from '../config/schema';
import { durationMs } from '../transforms/duration';
import { ErrorType, type CollectOutcomesInput } from '../shared';
import { long } from './policies';

const DAY_MS = 86_400_000;

/**
 * Waits out a campaign's attribution window on a durable timer (a worker restart does not reset it), then
 * attributes conversions for treatment and control and stores lift and ROI.
 */
export async function collectOutcomes(input: CollectOutcomesInput & { campaign: CampaignConfig }) {
  let windowMs: number;
  try {
    windowMs = durationMs(input.attributionWindow);
  } catch (err) {
    throw ApplicationFailure.nonRetryable((err as Error).message, ErrorType.InvalidConfig);
  }
  await sleep(windowMs);
  return long.attributeOutcomes({ runId: input.runId, asOf: input.asOf, campaign: input.campaign, attributionDays: Math.floor(windowMs / DAY_MS) });
}
