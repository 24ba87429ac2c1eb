import { ApplicationFailure, condition, defineSignal, setHandler } from '@temporalio/workflow';
import type { CampaignConfig } from '../config/schema';
import { durationMs } from '../transforms/duration';
import { ErrorType, SIGNAL_COLLECT_NOW, type CollectOutcomesInput } from '../shared';
import { long } from './policies';

const DAY_MS = 86_400_000;

/** Ends the wait early (an operator, or the demo once the later extracts are loaded); the window still decides what counts. */
export const collectNowSignal = defineSignal(SIGNAL_COLLECT_NOW);

/**
 * Waits out a campaign's attribution window on a durable timer (a worker restart does not reset it), then
 * attributes conversions for treatment and control and stores lift and ROI.
 */
export async function collectOutcomes(input: CollectOutcomesInput & { campaign: CampaignConfig }) {
  let windowMs: number;
  let waitMs: number;
  try {
    windowMs = durationMs(input.attributionWindow);
    waitMs = input.collectAfter === undefined ? windowMs : durationMs(input.collectAfter);
  } catch (err) {
    throw ApplicationFailure.nonRetryable((err as Error).message, ErrorType.InvalidConfig);
  }
  let collectNow = false;
  setHandler(collectNowSignal, () => {
    collectNow = true;
  });
  // A replay's data run is pinned: nothing to wait for (an input older histories never carry, so they replay as before).
  if (input.dataRunId === undefined) await condition(() => collectNow, waitMs);
  return long.attributeOutcomes({ runId: input.runId, asOf: input.asOf, campaign: input.campaign, attributionDays: Math.floor(windowMs / DAY_MS), ...(input.dataRunId !== undefined ? { dataRunId: input.dataRunId } : {}) });
}
