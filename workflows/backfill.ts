import { CancellationScope, ChildWorkflowFailure, defineQuery, executeChild, makeContinueAsNewFunc, rootCause, setHandler, workflowInfo } from '@temporalio/workflow';
import { QUERY_BACKFILL_PROGRESS, type BackfillDate, type BackfillInput, type BackfillResult } from '../shared';
import { datesInRange } from '../transforms/scheduleDate';
import { dailyRun } from './dailyRun';
import { quick } from './policies';

export const backfillProgressQuery = defineQuery<BackfillResult>(QUERY_BACKFILL_PROGRESS);

/** Dates per workflow run before continue-as-new, so the history stays small however long the range. */
export const BACKFILL_DATES_PER_HISTORY = 30;

/**
 * Runs every date of [from, to] in date order, one at a time (each run reads the latest successful earlier run),
 * one dailyRun child per date. Dates with a successful run are skipped unless `rerun`; a failed date stops the
 * backfill or not as `onFailure` says. Returns (and answers the progress query with) one entry per date.
 */
export async function backfill(input: BackfillInput & { datesPerHistory?: number }): Promise<BackfillResult> {
  const dates = datesInRange(input.from, input.to);
  const done = input.done ?? [];
  const state: BackfillDate[] = dates.map((d, i) => done[i] ?? { as_of: d, run_id: null, status: 'pending', duration_s: null });
  setHandler(backfillProgressQuery, () => ({ from: input.from, to: input.to, dates: state }));
  const perHistory = input.datesPerHistory ?? BACKFILL_DATES_PER_HISTORY;
  let stopped: string | undefined;
  for (let i = done.length; i < dates.length; i++) {
    const entry = state[i]!;
    if (stopped) {
      Object.assign(entry, { status: 'not_run', error: stopped });
      continue;
    }
    if (i - done.length >= perHistory || workflowInfo().continueAsNewSuggested) {
      const next = makeContinueAsNewFunc<typeof backfill>({ memo: workflowInfo().memo });
      return next({ ...input, done: state.slice(0, i) });
    }
    entry.status = 'running';
    const prepared = await quick.prepareRun({ asOf: entry.as_of, source: input, rerun: input.rerun });
    if (prepared.kind === 'skip') {
      Object.assign(entry, { status: 'skipped', run_id: prepared.runId, error: prepared.reason });
      continue;
    }
    if (prepared.kind === 'missing') {
      Object.assign(entry, { status: 'failed', error: prepared.reason });
    } else {
      entry.run_id = prepared.input.runId;
      let failure: string | undefined;
      try {
        await executeChild(dailyRun, { workflowId: `dailyRun-${prepared.input.runId}`, args: [prepared.input] });
      } catch (err) {
        // The backfill itself cancelled (portrait cancel BACKFILL_ID), not just its child (portrait cancel RUN_ID, a
        // failed date like any other): the progress query keeps answering what ran and what did not.
        if (CancellationScope.current().consideredCancelled) {
          entry.status = 'cancelled';
          for (const later of state.slice(i + 1)) Object.assign(later, { status: 'not_run', error: 'not run: the backfill was cancelled' });
          throw err;
        }
        if (!(err instanceof ChildWorkflowFailure)) throw err;
        failure = rootCause(err) ?? err.message;
      }
      const outcome = await quick.runOutcome({ runId: prepared.input.runId });
      Object.assign(entry, {
        status: failure ? 'failed' : 'succeeded',
        duration_s: outcome?.duration_s ?? null,
        ...(failure ? { error: outcome?.error ?? failure } : {}),
      });
    }
    if ((entry.status as BackfillDate['status']) === 'failed' && input.onFailure === 'stop') stopped = `not run: ${entry.as_of} failed and --on-failure is stop`;
  }
  return { from: input.from, to: input.to, dates: state };
}
