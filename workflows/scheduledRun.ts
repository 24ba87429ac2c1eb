import { ApplicationFailure, ParentClosePolicy, executeChild, workflowInfo } from '@temporalio/workflow';
import { WorkflowIdReusePolicy, defineSearchAttributeKey } from '@temporalio/common';
import { ErrorType, type ScheduledRunInput, type ScheduledRunResult } from '../shared';
import { scheduledAsOf } from '../transforms/scheduleDate';
import { dailyRun } from './dailyRun';
import { quick } from './policies';

/** Set by the Temporal schedule on every workflow it starts: the action's nominal time (also for a trigger). */
const SCHEDULED_START_TIME = defineSearchAttributeKey('TemporalScheduledStartTime', 'DATETIME');

/**
 * What a Portrait schedule starts: derives the as-of date from the *scheduled* time in the bank's zone (never from
 * when the workflow happened to start), then runs that date's dailyRun as a child.
 */
export async function scheduledRun(input: ScheduledRunInput): Promise<ScheduledRunResult> {
  const nominal = workflowInfo().typedSearchAttributes.get(SCHEDULED_START_TIME);
  if (!nominal) throw ApplicationFailure.nonRetryable(`scheduledRun needs the TemporalScheduledStartTime search attribute; start it from a schedule (portrait schedule trigger ${input.scheduleId})`, ErrorType.InvalidInput);
  const asOf = scheduledAsOf(nominal, input.timezone, input.asOfOffsetDays);
  const base = { scheduleId: input.scheduleId, nominalTime: nominal.toISOString(), asOf };
  const prepared = await quick.prepareRun({ asOf, source: input, rerun: false, scheduleId: input.scheduleId });
  if (prepared.kind === 'skip') return { ...base, runId: prepared.runId, status: 'skipped', reason: prepared.reason };
  if (prepared.kind === 'missing') throw ApplicationFailure.nonRetryable(prepared.reason, ErrorType.InvalidInput);
  const { runId } = prepared.input;
  await executeChild(dailyRun, {
    // The run id is derived from schedule and date: a second start of a date that is running or done is refused
    // by Temporal (visible), a failed one may be started again.
    workflowId: `dailyRun-${runId}`,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    args: [prepared.input],
  });
  return { ...base, runId, status: 'succeeded' };
}
