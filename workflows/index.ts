export { dailyRun, progressQuery } from './dailyRun';
export { collectOutcomes } from './collectOutcomes';
