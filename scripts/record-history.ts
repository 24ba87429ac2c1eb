/**
 * Records real workflow histories for the replay tests (tests/workflows/replay.test.ts): runs a small daily run
 * on the services of this machine (DATABASE_URL / TEMPORAL_ADDRESS or the embedded ones) and saves the event
 * histories of dailyRun and one collectOutcomes child. Re-record after an intended workflow change.
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
import { WORKFLOW_DAILY_RUN, type DailyRunInput, type DailyRunResult } from '../shared';

async function main(): Promise<void> {
  const env = readEnv();
  const log = createLogger(env.logLevel);
  const stack = await startStack(env, log);
  const taskQueue = `record-history-${process.pid}`;
  const worker = await createPortraitWorker({ env, databaseUrl: stack.databaseUrl, temporalAddress: stack.temporalAddress, log, taskQueue });
  const running = worker.run();
  try {
    const inputDir = mkdtempSync(path.join(os.tmpdir(), 'portrait-history-'));
    const asOf = '2026-11-20';
    await generateSourceExtracts({ customers: 400, seed: 3, outDir: inputDir, asOf });
    const base = loadConfig();
    const config = { ...base, shards: 2, outcomes: { attributionWindow: '2s' } } as PortraitConfig;
    const runId = `history-${Date.now().toString(36)}`;
    const input: DailyRunInput = { runId, asOf, inputDir, config, configSha256: configSha256(config), awaitOutcomes: true };
    const client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }), namespace: env.temporalNamespace });
    const handle = await client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue, workflowId: `dailyRun-${runId}`, args: [input] });
    const result: DailyRunResult = await handle.result();
    const dir = path.resolve(__dirname, '..', '..', 'tests', 'histories');
    // The CLI's JSON export is the proto3 JSON form that Worker.runReplayHistory reads.
    const cli = findTemporalCli(env, log);
    if (!cli) throw new Error('the Temporal CLI is needed to export histories (scripts/setup-temporal.sh)');
    const exportHistory = (workflowId: string, file: string) => {
      const shown = spawnSync(cli, ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', stack.temporalAddress, '--namespace', env.temporalNamespace], { encoding: 'utf8', maxBuffer: 64 << 20 });
      if (shown.status !== 0) throw new Error(`temporal workflow show failed: ${shown.stderr}`);
      writeFileSync(path.join(dir, file), shown.stdout);
    };
    exportHistory(handle.workflowId, 'dailyRun.json');
    exportHistory(result.outcomeWorkflowIds[0]!, 'collectOutcomes.json');
    // Replay needs the original workflow ids: child ids are derived from the parent's.
    const idsFile = path.join(dir, 'workflow-ids.json');
    const ids = existsSync(idsFile) ? (JSON.parse(readFileSync(idsFile, 'utf8')) as Record<string, string>) : {};
    writeFileSync(idsFile, JSON.stringify({ ...ids, dailyRun: handle.workflowId, collectOutcomes: result.outcomeWorkflowIds[0] }, null, 2) + '\n');
    process.stdout.write(`recorded histories of ${handle.workflowId} and ${result.outcomeWorkflowIds[0]} into ${dir}\n`);
  } finally {
    worker.shutdown();
    await running;
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`record-history: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
