import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Knex } from 'knex';
import { readEnv, type PortraitEnv } from '../config/env';
import { loadConfig, resolveConfigPath } from '../config/load';
import { BACKFILL_ON_FAILURE, QUERY_BACKFILL_PROGRESS, WORKFLOW_BACKFILL, type BackfillDate, type BackfillInput, type BackfillOnFailure, type BackfillResult } from '../shared';
import { AS_OF_PLACEHOLDER, datesInRange, daysInRange, inputDirFor, rangesOverlap } from '../transforms/scheduleDate';
import { parseFlags, requireDate, UsageError } from './args';
import { out, withServices } from './runs';

export const BACKFILL_HELP = `Usage: portrait backfill --from YYYY-MM-DD --to YYYY-MM-DD [--input PATTERN] [--config FILE] [--rerun]
                         [--on-failure stop|continue] [--wait] [--json]

Runs every date of [--from, --to] in date order, one run at a time (each run reads the latest successful earlier
run), through a backfill workflow with one dailyRun per date. Dates that already have a successful run are skipped
unless --rerun. --on-failure stop (default) leaves the dates after a failed one not run; continue goes on.
--input is the input folder with {as_of} for the date (default $PORTRAIT_HOME/data/{as_of}). With stop, a date with
no input folder is refused before anything starts; with continue, that date fails with one line and the others run.
At most PORTRAIT_BACKFILL_MAX_DAYS dates (default 366); a range overlapping a running backfill is refused.
Without --wait it prints the backfill's workflow id and returns; --wait prints a line per date (run id, status,
seconds) and exits 1 when a date failed. --json prints {dates: [{as_of, run_id, status, duration_s, error}]}, status
one of succeeded, failed, skipped, not_run.`;

export interface BackfillArgs {
  from: string;
  to: string;
  inputPattern: string;
  configFile: string;
  rerun: boolean;
  onFailure: BackfillOnFailure;
  wait: boolean;
  json: boolean;
}

/** Flags of `portrait backfill`, checked before any service is touched. */
export function parseBackfillFlags(argv: string[], env: PortraitEnv): BackfillArgs {
  const { values } = parseFlags(argv, { from: { type: 'string' }, to: { type: 'string' }, input: { type: 'string' }, config: { type: 'string' }, rerun: { type: 'boolean' }, 'on-failure': { type: 'string' }, wait: { type: 'boolean' } });
  const from = requireDate(values.from, '--from');
  const to = requireDate(values.to, '--to');
  if (from > to) throw new UsageError(`--from ${from} is after --to ${to}`);
  const days = daysInRange(from, to);
  if (days > env.backfillMaxDays) throw new UsageError(`${from}..${to} is ${days} dates, more than the ${env.backfillMaxDays} one backfill may run (PORTRAIT_BACKFILL_MAX_DAYS); split the range`);
  const onFailure = values['on-failure'] ?? 'stop';
  if (!(BACKFILL_ON_FAILURE as readonly string[]).includes(onFailure)) throw new UsageError(`--on-failure must be one of ${BACKFILL_ON_FAILURE.join(', ')}, got "${onFailure}"`);
  const inputPattern = path.resolve(values.input ?? path.join(env.home, 'data', AS_OF_PLACEHOLDER));
  if (days > 1 && !inputPattern.includes(AS_OF_PLACEHOLDER)) throw new UsageError(`--input must contain ${AS_OF_PLACEHOLDER} when the range has more than one date, got "${values.input}"`);
  return { from, to, inputPattern, configFile: values.config ? path.resolve(values.config) : resolveConfigPath(), rerun: !!values.rerun, onFailure: onFailure as BackfillOnFailure, wait: !!values.wait, json: !!values.json };
}

export async function backfillCommand(argv: string[]): Promise<number> {
  const env = readEnv();
  const args = parseBackfillFlags(argv, env);
  loadConfig(args.configFile); // a bad config is refused before anything starts
  return withServices({ temporal: true }, async ({ db, client }) => {
    await refuseOverlap(client!, env, args);
    await refuseMissingInputs(db, args);
    const workflowId = `backfill-${args.from}-${args.to}-${randomUUID().slice(0, 8)}`;
    const input: BackfillInput = { from: args.from, to: args.to, inputPattern: args.inputPattern, configFile: args.configFile, rerun: args.rerun, onFailure: args.onFailure };
    const handle = await client!.workflow.start(WORKFLOW_BACKFILL, { taskQueue: env.taskQueue, workflowId, args: [input], memo: { from: args.from, to: args.to } });
    const days = daysInRange(args.from, args.to);
    if (!args.wait) {
      if (args.json) out({ workflow_id: workflowId, from: args.from, to: args.to, dates: days, status: 'started' });
      else process.stdout.write(`started backfill ${workflowId}: ${days} date(s) ${args.from}..${args.to}; its progress query "${QUERY_BACKFILL_PROGRESS}" lists each date\n`);
      return 0;
    }
    if (!args.json) process.stdout.write(`backfill ${workflowId}: ${days} date(s) ${args.from}..${args.to}\n`);
    const result = await followBackfill(client!, workflowId, args.json ? undefined : (d) => process.stdout.write(dateLine(d) + '\n'));
    if (args.json) out({ workflow_id: workflowId, from: result.from, to: result.to, dates: result.dates });
    const failed = result.dates.filter((d) => d.status === 'failed');
    if (failed.length) throw new Error(`backfill ${workflowId}: ${failed.length} of ${result.dates.length} date(s) failed, first ${failed[0]!.as_of}: ${failed[0]!.error ?? 'see portrait status'}`);
    return 0;
  });
}

/** Waits for the backfill, reporting each date once it is done (from the progress query), and returns its result. */
async function followBackfill(client: Client, workflowId: string, onDate?: (d: BackfillDate) => void): Promise<BackfillResult> {
  // No runId: the handle follows the chain through continue-as-new.
  const handle = client.workflow.getHandle(workflowId);
  const reported = new Set<string>();
  const report = (dates: BackfillDate[]) => {
    for (const d of dates) if (!['pending', 'running'].includes(d.status) && !reported.has(d.as_of)) reported.add(d.as_of), onDate?.(d);
  };
  let finished = false;
  const result = handle.result().finally(() => (finished = true)) as Promise<BackfillResult>;
  while (onDate && !finished) {
    await Promise.race([result.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 2000))]);
    if (!finished) report((await handle.query<BackfillResult>(QUERY_BACKFILL_PROGRESS).catch(() => ({ dates: [] }) as unknown as BackfillResult)).dates);
  }
  const final = await result;
  report(final.dates);
  return final;
}

function dateLine(d: BackfillDate): string {
  const seconds = d.duration_s === null ? '-' : `${d.duration_s.toFixed(1)} s`;
  return `${d.as_of}  ${d.status.padEnd(9)}  ${(d.run_id ?? '-').padEnd(17)}  ${seconds.padStart(9)}${d.error ? `  ${d.error}` : ''}`;
}

/** Open backfill workflows on this task queue whose range shares a date with the new one refuse it. */
async function refuseOverlap(client: Client, env: PortraitEnv, args: BackfillArgs): Promise<void> {
  const query = `WorkflowType = '${WORKFLOW_BACKFILL}' AND ExecutionStatus = 'Running' AND TaskQueue = '${env.taskQueue}'`;
  for await (const wf of client.workflow.list({ query })) {
    const range = wf.memo as { from?: string; to?: string } | undefined;
    if (range?.from && range.to && rangesOverlap(range as { from: string; to: string }, args)) {
      throw new Error(`backfill ${wf.workflowId} over ${range.from}..${range.to} is running and overlaps ${args.from}..${args.to}; wait for it to finish or pick dates outside it`);
    }
  }
}

/** With --on-failure stop, a date that would run but has no input folder is refused up front: nothing half-started. */
async function refuseMissingInputs(db: Knex, args: BackfillArgs): Promise<void> {
  const succeeded = new Set(args.rerun ? [] : (await db('audit.runs').where({ status: 'succeeded' }).whereBetween('as_of', [args.from, args.to]).select(db.raw("to_char(as_of, 'YYYY-MM-DD') as as_of"))).map((r: { as_of: string }) => r.as_of));
  const missing = datesInRange(args.from, args.to).filter((d) => !succeeded.has(d) && !existsSync(inputDirFor(args.inputPattern, d)));
  if (!missing.length) return;
  const note = missing.length > 1 ? ` (and ${missing.length - 1} more date(s))` : '';
  if (args.onFailure === 'stop') throw new Error(`input folder ${inputDirFor(args.inputPattern, missing[0]!)} for as-of ${missing[0]} does not exist${note}; add it, or --on-failure continue to run the other dates`);
  if (!args.json) process.stderr.write(`portrait: warning: no input folder for ${missing.join(', ')}; those dates will fail, the others run\n`);
}
