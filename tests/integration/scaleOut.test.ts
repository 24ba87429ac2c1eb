import { readFileSync } from 'node:fs';
import path from 'node:path';
import { configSha256, loadConfig } from '../../config/load';
import type { PortraitConfig } from '../../config/schema';
import { generateSourceExtracts } from '../../generator/generate';
import { WORKFLOW_DAILY_RUN, type DailyRunInput, type DailyRunResult } from '../../shared';
import { createTestContext, type TestContext } from '../helpers/testContext';
import { spawnPortraitWorker, type WorkerChild } from '../helpers/workerChild';

// Each configuration gets its own database and the same run id, so even manifest.json (which names the run) can match.
const AS_OF = '2026-11-20';
const RUN_ID = 'scale-out';
const contexts: TestContext[] = [];
const workers: WorkerChild[] = [];

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  for (const ctx of contexts) await ctx.close();
});

/** The run on `workerCount` `portrait worker` processes; its manifest and the worker identity of every activity task. */
async function runWith(name: string, workerCount: number, shards: number, inputDir: string) {
  const ctx = await createTestContext(name);
  contexts.push(ctx);
  const own = Array.from({ length: workerCount }, () => spawnPortraitWorker(ctx));
  workers.push(...own);
  const base = loadConfig();
  const config = { ...base, shards } as PortraitConfig;
  const input: DailyRunInput = { runId: RUN_ID, asOf: AS_OF, inputDir, config, configSha256: configSha256(config), awaitOutcomes: false };
  const handle = await ctx.client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue: ctx.taskQueue, workflowId: `dailyRun-${RUN_ID}`, args: [input] });
  const died = Promise.race(own.map((w) => w.exited.then(() => Promise.reject(new Error(`a worker exited:\n${w.output().slice(-3000)}`)))));
  died.catch(() => undefined);
  const result: DailyRunResult = await Promise.race([handle.result(), died]);
  const history = await handle.fetchHistory();
  const identities = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.identity!);
  await Promise.all(own.map((w) => w.stop()));
  for (const id of result.outcomeWorkflowIds) await ctx.client.workflow.getHandle(id).terminate('test done').catch(() => undefined);
  const manifestBytes = readFileSync(path.join(result.snapshotDir, 'manifest.json'));
  const manifest = JSON.parse(manifestBytes.toString('utf8'));
  const files: Record<string, string> = Object.fromEntries(manifest.stages.flatMap((s: { files: { path: string; sha256: string }[] }) => s.files.map((f) => [f.path, f.sha256])));
  return { manifestBytes, files, identities, pids: own.map((w) => w.proc.pid!) };
}

test('one run shared by two worker processes gives the same snapshot files as one worker, and shards 1 the same as shards 4', async () => {
  const first = await createTestContext('scaleout_input');
  contexts.push(first);
  const inputDir = path.join(first.workDir, 'extracts');
  await generateSourceExtracts({ customers: 800, seed: 3, outDir: inputDir, asOf: AS_OF });

  const oneWorker = await runWith('scaleout_one', 1, 4, inputDir);
  const twoWorkers = await runWith('scaleout_two', 2, 4, inputDir);
  const oneShard = await runWith('scaleout_shard1', 1, 1, inputDir);

  // Both processes executed activities of the run (identity is "<pid>@<host>").
  const byPid = (ids: string[], pid: number) => ids.filter((id) => id.startsWith(`${pid}@`)).length;
  for (const pid of twoWorkers.pids) expect(byPid(twoWorkers.identities, pid)).toBeGreaterThan(0);
  expect(byPid(twoWorkers.identities, twoWorkers.pids[0]!) + byPid(twoWorkers.identities, twoWorkers.pids[1]!)).toBe(twoWorkers.identities.length);

  expect(Object.keys(oneWorker.files).length).toBeGreaterThan(5);
  // Same run id, config and inputs: the whole manifest (every file's sha256, the models, the sources) is byte-identical.
  expect(twoWorkers.manifestBytes.equals(oneWorker.manifestBytes)).toBe(true);
  // shards changes the config (and so config_sha256 in the manifest), never a snapshot file.
  // report.html shows the config sha256, so it is the one file that differs; the rest must not.
  const withoutReport = (files: Record<string, string>) => Object.fromEntries(Object.entries(files).filter(([p]) => p !== 'report.html'));
  expect(oneWorker.files['report.html']).toBeDefined();
  expect(withoutReport(oneShard.files)).toEqual(withoutReport(oneWorker.files));
});
