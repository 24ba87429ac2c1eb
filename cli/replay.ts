import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { readEnv } from '../config/env';
import { createDb } from '../db/knex';
import { createLogger } from '../services/logger';
import { startStack } from '../services/stack';
import { createPortraitWorker } from '../services/worker';
import { codeVersion } from '../services/codeVersion';
import { WORKFLOW_DAILY_RUN, type DailyRunResult } from '../shared';
import { NotFound } from '../audit/explain';
import { compareRuns, replayInput, ReplayRefused, type ReplayReport } from '../audit/replay';
import { parseFlags, UsageError } from './args';

export const REPLAY_HELP = `Usage: portrait replay RUN_ID [--json]

Re-executes a succeeded run through the real dailyRun workflow from what it pinned: its input files (each checked
against the sha256 the run recorded; a changed or missing one refuses the replay naming it), its resolved config
(webhooks off), seed and model versions, and the earlier-run state and suppression lists as they stood when it was
registered. The replay is a run of its own (own rows and folder, marked replay_of; never read as an earlier run) and
leaves the original untouched. Outcomes the original collected are re-attributed from the data run each pinned (not
the latest now). Every snapshot file, outcome files and report.html included, is compared with the original's byte
for byte. JSON: {run_id, replay_run_id, identical, code_version: {original, now}, files: [{path, identical, original_sha256,
replay_sha256, first_difference}]}. Starts PostgreSQL, Temporal and a worker in this process unless DATABASE_URL /
TEMPORAL_ADDRESS point at running ones. Exit 0 only when every file is identical.`;

export async function replayCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {}, 1);
  const runId = positionals[0];
  if (!runId) throw new UsageError('RUN_ID is required');
  const env = readEnv();
  const log = createLogger(env.logLevel);
  const stack = await startStack(env, log);
  const db = createDb(stack.databaseUrl, 2);
  // A private task queue: a worker running other code must not execute the replay.
  const taskQueue = `${env.taskQueue}-replay-${process.pid}`;
  let worker: Awaited<ReturnType<typeof createPortraitWorker>> | undefined;
  let running: Promise<void> | undefined;
  try {
    const input = await replayInput(db, runId, `${runId}-replay-${randomBytes(3).toString('hex')}`);
    worker = await createPortraitWorker({ env, databaseUrl: stack.databaseUrl, temporalAddress: stack.temporalAddress, log, taskQueue });
    running = worker.run();
    const client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }), namespace: env.temporalNamespace });
    const handle = await client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue, workflowId: `dailyRun-${input.runId}`, args: [input] });
    const result: DailyRunResult = await handle.result();
    const original = await db('audit.runs').where({ run_id: runId }).first('snapshot_dir', 'code_version');
    const report = await compareRuns({ runId, dir: original.snapshot_dir, codeVersion: original.code_version }, { runId: result.runId, dir: result.snapshotDir, codeVersion: codeVersion() });
    if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else printReport(report);
    return report.identical ? 0 : 1;
  } catch (err) {
    if (err instanceof NotFound || err instanceof ReplayRefused) {
      process.stderr.write(`portrait: replay refused: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await db.destroy();
    await stack.stop();
  }
}

function printReport(r: ReplayReport): void {
  const differing = r.files.filter((f) => !f.identical);
  process.stdout.write(`${r.identical ? 'IDENTICAL' : 'DIFFERENT'}: replay ${r.replay_run_id} of ${r.run_id}, ${r.files.length} files compared, ${differing.length} differ (code ${r.code_version.original} then, ${r.code_version.now} now)\n`);
  for (const f of differing) process.stdout.write(`  ${f.path}: ${typeof f.first_difference === 'string' ? f.first_difference : JSON.stringify(f.first_difference)}\n`);
}
