import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { Client } from 'pg';
import { RETENTION_DEFAULTS } from '../config/schema';
import { dropLandingPartition, landingPartitions } from '../db/landing';
import { currentAttemptSessions } from './attempt';

export interface LandingRetention {
  landingRuns: number;
  landingDays: number;
}

export interface PruneResult {
  /** Runs whose landing partitions were dropped, with how many partitions each. */
  dropped: { run_id: string; as_of: string; partitions: number }[];
  /** Runs whose partitions stay (kept by the policy, still running, or not known to audit.runs). */
  kept: number;
  /** Partitions left for next time: a detach that did not finish within its time limit. */
  deferred: number;
}

/**
 * Which runs' landing partitions the policy lets go: not running, not among the latest `landingRuns` successful
 * runs (by as-of, then start), and older than `landingDays` days before the newest as-of date. Runs that
 * audit.runs does not know (rows landed by tests or tools) are left alone.
 */
export function landingRunsToDrop(
  runs: readonly { run_id: string; as_of: string; status: string; started_at: string }[],
  policy: LandingRetention,
): Set<string> {
  const newest = runs.reduce((max, r) => (r.as_of > max ? r.as_of : max), '');
  const cutoff = newest ? new Date(Date.parse(`${newest}T00:00:00Z`) - policy.landingDays * 86_400_000).toISOString().slice(0, 10) : '';
  const latestSucceeded = new Set(
    runs
      .filter((r) => r.status === 'succeeded')
      .sort((a, b) => (a.as_of === b.as_of ? b.started_at.localeCompare(a.started_at) : b.as_of.localeCompare(a.as_of)))
      .slice(0, policy.landingRuns)
      .map((r) => r.run_id),
  );
  return new Set(runs.filter((r) => r.status !== 'running' && !latestSucceeded.has(r.run_id) && r.as_of < cutoff).map((r) => r.run_id));
}

/**
 * Drops the landing partitions the retention policy lets go. Each detach runs CONCURRENTLY on its own session
 * with a statement timeout, so a long reader of another run delays retention (to the next run) but never the
 * pipeline; the whole pass stops after `budgetMs`.
 */
export async function pruneLandingPartitions(opts: { db: Knex; databaseUrl: string; log: Logger; policy?: Partial<LandingRetention>; budgetMs?: number }): Promise<PruneResult> {
  const policy = { ...RETENTION_DEFAULTS, ...opts.policy };
  const budgetEnd = performance.now() + (opts.budgetMs ?? 60_000);
  const client = new Client({ ...(currentAttemptSessions()?.clientConfig() ?? { connectionString: opts.databaseUrl }), statement_timeout: 30_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const partitions = await landingPartitions(client);
    const runIds = [...new Set(partitions.map((p) => p.runId))];
    const columns = ['run_id', 'status', opts.db.raw("to_char(as_of, 'YYYY-MM-DD') as as_of"), opts.db.raw('started_at::text as started_at')];
    const runs = await opts.db('audit.runs').whereIn('run_id', runIds).select(columns);
    // "Latest" and "newest" are judged among every run, not only those that still have partitions.
    const latest = await opts.db('audit.runs').where({ status: 'succeeded' }).whereNull('replay_of').select(columns).orderBy([{ column: 'as_of', order: 'desc' }, { column: 'started_at', order: 'desc' }]).limit(policy.landingRuns);
    const newest = await opts.db('audit.runs').select(columns).orderBy('as_of', 'desc').limit(1);
    const known = new Map([...runs, ...latest, ...newest].map((r) => [r.run_id as string, r]));
    const drop = landingRunsToDrop([...known.values()], policy);
    const asOf = new Map(runs.map((r: { run_id: string; as_of: string }) => [r.run_id, r.as_of]));
    const result: PruneResult = { dropped: [], kept: 0, deferred: 0 };
    for (const runId of runIds) {
      if (!drop.has(runId) || !asOf.has(runId)) {
        result.kept++;
        continue;
      }
      let n = 0;
      for (const p of partitions.filter((x) => x.runId === runId)) {
        if (performance.now() > budgetEnd) {
          result.deferred++;
          continue;
        }
        try {
          if (await dropLandingPartition(client, p.source, runId)) n++;
        } catch (err) {
          result.deferred++;
          opts.log.warn({ run_id: runId, source: p.source, err: { message: (err as Error).message } }, 'landing partition not dropped this time (retried at the next run)');
        }
      }
      if (n > 0) result.dropped.push({ run_id: runId, as_of: asOf.get(runId)!, partitions: n });
    }
    return result;
  } finally {
    await client.end().catch(() => undefined);
  }
}
