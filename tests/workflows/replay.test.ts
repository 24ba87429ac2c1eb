import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger('WARN') });

/**
 * Replays histories recorded from real runs (npm run record-history) against the current workflow code.
 * A change that would make a running workflow take a different path fails here, before it reaches production.
 */
// dailyRun-before-complaints was recorded before the complaints source existed, dailyRun-before-models-together
// when products were trained one after the other, dailyRun-before-score-beside-tags when every stage waited for the
// one before, dailyRun-before-training-sets-together when each product's training set was a query of its own,
// dailyRun-before-tag-partials-beside-clean when the tags stage computed its partials itself: they prove the
// patched() paths.
const histories = ['dailyRun', 'dailyRun-before-complaints', 'dailyRun-before-models-together', 'dailyRun-before-score-beside-tags', 'dailyRun-before-training-sets-together', 'dailyRun-before-tag-partials-beside-clean', 'collectOutcomes', 'backfill', 'scheduledRun'];
const workflowIds = JSON.parse(readFileSync(path.join(__dirname, '..', 'histories', 'workflow-ids.json'), 'utf8')) as Record<string, string>;

test.each(histories)('%s history replays deterministically on the current workflow code', async (name) => {
  const history = JSON.parse(readFileSync(path.join(__dirname, '..', 'histories', `${name}.json`), 'utf8'));
  await expect(Worker.runReplayHistory({ workflowsPath: require.resolve('../../workflows') }, history, workflowIds[name])).resolves.toBeUndefined();
});

test('replay detects a workflow that no longer matches its history', async () => {
  const history = JSON.parse(readFileSync(path.join(__dirname, '..', 'histories', 'dailyRun.json'), 'utf8'));
  // The same history against a workflow module whose dailyRun schedules different activities.
  await expect(Worker.runReplayHistory({ workflowsPath: require.resolve('./fixtures/divergentWorkflows') }, history, workflowIds.dailyRun)).rejects.toThrow(/[Nn]ondetermin/);
});
