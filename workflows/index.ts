export { dailyRun, progressQuery } from './dailyRun';
export { collectOutcomes } from './collectOutcomes';
export { scheduledRun } from './scheduledRun';
export { backfill, backfillProgressQuery } from './backfill';
