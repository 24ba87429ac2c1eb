import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/activity';
import { ConfigError, configSha256, loadConfig } from '../config/load';
import type { PortraitConfig } from '../config/schema';
import { ErrorType, type DailyRunInput, type PreparedRun, type RunSource, type RunStatus } from '../shared';
import { inputDirFor } from '../transforms/scheduleDate';
import type { ActivityDeps } from './deps';

/** Run ids sort by date and stay unique across reruns of a date: YYYYMMDD-<8 hex>. */
export function newRunId(asOf: string): string {
  return `${asOf.replace(/-/g, '')}-${randomUUID().slice(0, 8)}`;
}

/**
 * Run id of a schedule's run for a date: YYYYMMDD-<8 hex of the schedule id>, the same every time, so a second
 * trigger of the same date meets the first run (its workflow id) instead of silently starting another one.
 */
export function scheduledRunId(scheduleId: string, asOf: string): string {
  return `${asOf.replace(/-/g, '')}-${createHash('sha256').update(scheduleId).digest('hex').slice(0, 8)}`;
}

/** The dailyRun input for a date, folder and config (a new run id unless one is given). */
export function newRunInput(asOf: string, inputDir: string, config: PortraitConfig, seed: number | undefined, runId = newRunId(asOf)): DailyRunInput {
  return { runId, asOf, inputDir, config, configSha256: configSha256(config), seed };
}

/** Activities of schedules and backfills: deciding what a date needs, and reading back how its run went. */
export function createOperationActivities({ db, log }: ActivityDeps) {
  return {
    /**
     * What to do for one as-of date: skip it (a successful run exists and `rerun` is off), fail it (no input
     * folder: a one-line reason, not an exception), or run it with the config file as it is now.
     */
    async prepareRun({ asOf, source, rerun, scheduleId }: { asOf: string; source: RunSource; rerun: boolean; scheduleId?: string }): Promise<PreparedRun> {
      if (!rerun) {
        const done = await db('audit.runs').where({ as_of: asOf, status: 'succeeded' }).whereNull('replay_of').orderBy('finished_at', 'desc').first('run_id');
        if (done) return { kind: 'skip', runId: done.run_id, reason: `${asOf} already has a successful run ${done.run_id}` };
      }
      const inputDir = inputDirFor(source.inputPattern, asOf);
      if (!existsSync(inputDir)) return { kind: 'missing', reason: `input folder ${inputDir} for as-of ${asOf} does not exist` };
      let config: PortraitConfig;
      try {
        config = loadConfig(source.configFile);
      } catch (err) {
        if (err instanceof ConfigError) throw ApplicationFailure.nonRetryable(err.message, ErrorType.InvalidConfig);
        throw err;
      }
      const input = newRunInput(asOf, inputDir, config, undefined, scheduleId ? scheduledRunId(scheduleId, asOf) : undefined);
      log.info({ run_id: input.runId, as_of: asOf, schedule_id: scheduleId }, 'run prepared');
      return { kind: 'run', input };
    },

    /** Status, wall seconds and error line of a run as audit.runs recorded them; null when it was never registered. */
    async runOutcome({ runId }: { runId: string }): Promise<{ status: RunStatus; duration_s: number | null; error: string | null } | null> {
      const row = await db('audit.runs').where({ run_id: runId }).first('status', 'error', db.raw('extract(epoch from finished_at - started_at)::float8 as duration_s'));
      if (!row) return null;
      return { status: row.status, duration_s: row.duration_s === null ? null : Number(Number(row.duration_s).toFixed(3)), error: row.error ? String(row.error).split('\n')[0]! : null };
    },
  };
}
