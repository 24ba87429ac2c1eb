/**
 * Records real workflow histories for the replay tests (tests/workflows/replay.test.ts): runs a small daily run
 * on the services of this machine (DATABASE_URL / TEMPORAL_ADDRESS or the embedded ones) and saves the event
 * histories of dailyRun and one collectOutcomes child. With --operations it records instead a two-date backfill
 * and a run started by a schedule (scheduledRun). Re-record after an intended workflow change.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { readEnv } from '../config/env';
import { configSha256, loadConfig } from '../config/load';
import type { PortraitConfig } from '../config/schema';
import { generateSourceExtracts } from '../generator/generate';
import { spawnSync } from 'node:child_process';
import { createLogger } from '../services/logger';
import { findTemporalCli } from '../services/temporal';
import { startStack } from '../services/stack';
import { createPortraitWorker } from '../services/worker';
import { WORKFLOW_BACKFILL, WORKFLOW_DAILY_RUN, WORKFLOW_SCHEDULED_RUN, type BackfillInput, type BackfillResult, type DailyRunInput, type DailyRunResult, type ScheduledRunInput } from '../shared';
import { resolveConfigPath } from '../config/load';
import { AS_OF_PLACEHOLDER, scheduledAsOf } from '../transforms/scheduleDate';

async function main(): Promise<void> {
  const env = readEnv();
  const log = createLogger(env.logLevel);
  const stack = await startStack(env, log);
  const taskQueue = `record-history-${process.pid}`;
  const worker = await createPortraitWorker({ env, databaseUrl: stack.databaseUrl, temporalAddress: stack.temporalAddress, log, taskQueue });
  const running = worker.run();
  const operations = process.argv.includes('--operations');
  try {
    const dir = path.resolve(__dirname, '..', '..', 'tests', 'histories');
    const cli = findTemporalCli(env, log);
    if (!cli) throw new Error('the Temporal CLI is needed to export histories (scripts/setup-temporal.sh)');
    // The CLI's JSON export is the proto3 JSON form that Worker.runReplayHistory reads.
    const exportHistory = (workflowId: string, file: string) => {
      const shown = spawnSync(cli, ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', stack.temporalAddress, '--namespace', env.temporalNamespace], { encoding: 'utf8', maxBuffer: 64 << 20 });
      if (shown.status !== 0) throw new Error(`temporal workflow show failed: ${shown.stderr}`);
      writeFileSync(path.join(dir, file), shown.stdout);
    };
    // Replay needs the original workflow ids: child ids are derived from the parent's.
    const idsFile = path.join(dir, 'workflow-ids.json');
    const saveIds = (more: Record<string, string>) => {
      const ids = existsSync(idsFile) ? (JSON.parse(readFileSync(idsFile, 'utf8')) as Record<string, string>) : {};
      writeFileSync(idsFile, JSON.stringify({ ...ids, ...more }, null, 2) + '\n');
    };
    const client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }), namespace: env.temporalNamespace });
    if (operations) {
      await recordOperations(client, taskQueue, exportHistory, saveIds);
      process.stdout.write(`recorded backfill and scheduledRun histories into ${dir}\n`);
      return;
    }
    const inputDir = mkdtempSync(path.join(os.tmpdir(), 'portrait-history-'));
    const asOf = '2026-11-20';
    await generateSourceExtracts({ customers: 400, seed: 3, outDir: inputDir, asOf });
    const base = loadConfig();
    const config = { ...base, shards: 2, outcomes: { attributionWindow: '2s' } } as PortraitConfig;
    const runId = `history-${Date.now().toString(36)}`;
    const input: DailyRunInput = { runId, asOf, inputDir, config, configSha256: configSha256(config), awaitOutcomes: true };
    const handle = await client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue, workflowId: `dailyRun-${runId}`, args: [input] });
    const result: DailyRunResult = await handle.result();
    exportHistory(handle.workflowId, 'dailyRun.json');
    exportHistory(result.outcomeWorkflowIds[0]!, 'collectOutcomes.json');
    saveIds({ dailyRun: handle.workflowId, collectOutcomes: result.outcomeWorkflowIds[0]! });
    process.stdout.write(`recorded histories of ${handle.workflowId} and ${result.outcomeWorkflowIds[0]} into ${dir}\n`);
  } finally {
    worker.shutdown();
    await running;
    await stack.stop();
  }
}

/**
 * A backfill of two dates (one already run, so skipped, and one run) and one run started by a schedule's trigger,
 * as `portrait backfill` and `portrait schedule` start them.
 */
async function recordOperations(client: Client, taskQueue: string, exportHistory: (workflowId: string, file: string) => void, saveIds: (ids: Record<string, string>) => void): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'portrait-history-ops-'));
  // A trigger's nominal time is now: its as-of date is yesterday in the zone.
  const triggeredAsOf = scheduledAsOf(new Date(), 'Asia/Shanghai', 1);
  const dates = ['2026-11-20', '2026-11-21', triggeredAsOf];
  for (const asOf of dates) await generateSourceExtracts({ customers: 300, seed: 5, outDir: path.join(root, asOf), asOf });
  const source = { inputPattern: path.join(root, AS_OF_PLACEHOLDER), configFile: resolveConfigPath() };
  const tag = Date.now().toString(36);
  const backfill = async (from: string, to: string): Promise<string> => {
    const input: BackfillInput = { from, to, ...source, rerun: false, onFailure: 'stop' };
    const handle = await client.workflow.start(WORKFLOW_BACKFILL, { taskQueue, workflowId: `backfill-${from}-${to}-${tag}`, args: [input], memo: { from, to } });
    const result: BackfillResult = await handle.result();
    if (result.dates.some((d) => d.status === 'failed')) throw new Error(`backfill ${from}..${to} failed: ${JSON.stringify(result.dates)}`);
    return handle.workflowId;
  };
  await backfill(dates[0]!, dates[0]!);
  const backfillId = await backfill(dates[0]!, dates[1]!);
  exportHistory(backfillId, 'backfill.json');

  const scheduleId = `history-${tag}`;
  const input: ScheduledRunInput = { scheduleId, timezone: 'Asia/Shanghai', asOfOffsetDays: 1, ...source };
  const schedule = await client.schedule.create({
    scheduleId,
    spec: { calendars: [{ hour: 6, minute: 7 }], timezone: 'Asia/Shanghai' },
    action: { type: 'startWorkflow', workflowType: WORKFLOW_SCHEDULED_RUN, taskQueue, workflowId: `scheduledRun-${scheduleId}`, args: [input] },
    state: { paused: true },
  });
  try {
    await schedule.trigger();
    let workflowId: string | undefined;
    for (let i = 0; i < 600 && !workflowId; i++) {
      workflowId = (await schedule.describe()).info.recentActions[0]?.action.workflow.workflowId;
      if (!workflowId) await new Promise((r) => setTimeout(r, 100));
    }
    if (!workflowId) throw new Error('the schedule did not start its run');
    await client.workflow.getHandle(workflowId).result();
    exportHistory(workflowId, 'scheduledRun.json');
    saveIds({ backfill: backfillId, scheduledRun: workflowId });
  } finally {
    await schedule.delete();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`record-history: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
