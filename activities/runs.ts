import { writeFile, rename, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { ActivityDeps } from './deps';
import { runSnapshotDir, sha256File } from './snapshots';
import { STAGES, ErrorType, type DailyRunInput, type SnapshotFile, type Stage, type StageResult } from '../shared';
import { canonicalJson } from '../transforms/canonicalJson';
import { pruneLandingPartitions, type LandingRetention } from './retention';
import { MANIFEST_FILE, SIGNATURE_FILE, chainSha256, ed25519Key, signManifest, type ManifestLike } from '../audit/manifest';
import { CONTRACT_VERSION } from '../relations/contract';
import type { ManifestColumn } from '../relations/types';

export interface RegisterRunResult {
  snapshotDir: string;
  seed: number;
  codeVersion: string;
}

/** A manifest entry: contract v2 adds the columns of each Parquet file (name, contract type, nullable). */
export type ManifestFile = SnapshotFile & { columns?: ManifestColumn[] };

export interface Manifest {
  /** 1: files carry no column list (written before relations/); 2: every Parquet file lists its typed columns. */
  contract_version: number;
  run_id: string;
  as_of: string;
  config_sha256: string;
  code_version: string;
  model_version: Record<string, string>;
  seed: number;
  stages: { stage: Stage; rows: number; files: ManifestFile[] }[];
  /** Per source: rows in = loaded + quarantined, with the reasons and the contract version it was checked against. */
  sources: Record<string, { rows_in: number; loaded: number; quarantined: number; reasons: Record<string, number>; file_sha256: string; contracts_version: string | null }>;
  /** The run that succeeded before this one and its chainSha256: deleting or rewriting it shows from here. */
  previous_run_id: string | null;
  previous_manifest_sha256: string | null;
}

export function createRunActivities({ db, databaseUrl, env, log, codeVersion }: ActivityDeps) {
  return {
    /** Inserts the audit row for a run (idempotent on retry) and prepares its snapshot folder. */
    async registerRun(input: Omit<DailyRunInput, 'config'> & { config: unknown; workflowId: string }): Promise<RegisterRunResult> {
      const snapshotDir = runSnapshotDir(env.snapshotDir, input.runId);
      const seed = input.seed ?? (input.config as { seed: number }).seed;
      const existing = await db('audit.runs').where({ run_id: input.runId }).first();
      if (existing && existing.status === 'succeeded') {
        throw ApplicationFailure.nonRetryable(`run ${input.runId} already succeeded; start a new run id`, ErrorType.InvalidInput);
      }
      await mkdir(snapshotDir, { recursive: true });
      await db('audit.runs')
        .insert({
          run_id: input.runId,
          as_of: input.asOf,
          workflow_id: input.workflowId,
          input_dir: input.inputDir,
          config_sha256: input.configSha256,
          config: JSON.stringify(input.config),
          code_version: codeVersion,
          seed,
          status: 'running',
          snapshot_dir: snapshotDir,
          started_at: db.fn.now(),
          suppressions_as_of: db.fn.now(),
        })
        // suppressions_as_of stays as first registered: a retry dispatches against the lists the run started with.
        .onConflict('run_id')
        .merge(['status', 'workflow_id', 'started_at']);
      log.info({ run_id: input.runId, as_of: input.asOf, stage: 'register' }, 'run registered');
      return { snapshotDir, seed, codeVersion };
    },

    /** Start time of a stage that spans several activities (workflow code keeps off the clock). */
    async beginStage({ runId, stage }: { runId: string; stage: Stage }): Promise<{ startedAt: string }> {
      log.info({ run_id: runId, stage }, 'stage started');
      return { startedAt: new Date().toISOString() };
    },

    /** Marks the run failed with a message a person can act on. */
    async failRun({ runId, message }: { runId: string; message: string }): Promise<void> {
      await db('audit.runs').where({ run_id: runId }).update({ status: 'failed', error: message.slice(0, 4000), finished_at: db.fn.now() });
      log.error({ run_id: runId, stage: 'finalize' }, `run failed: ${message}`);
    },

    /** Marks a still-running run cancelled; a final status recorded by a late activity is left as it is. */
    async cancelRun({ runId, message }: { runId: string; message: string }): Promise<void> {
      await db('audit.runs').where({ run_id: runId, status: 'running' }).update({ status: 'cancelled', error: message.slice(0, 4000), finished_at: db.fn.now() });
      log.warn({ run_id: runId, stage: 'finalize' }, `run cancelled: ${message}`);
    },

    /** Writes manifest.json from the recorded stages, re-hashing every file, and marks the run succeeded. */
    async finalizeRun({ runId }: { runId: string }): Promise<{ manifestSha256: string }> {
      // One finalize at a time, so each run links to the one that succeeded just before it (no forks in the chain).
      const manifestSha256 = await db.transaction(async (trx) => {
        await trx.raw('select pg_advisory_xact_lock(hashtext(?))', ['portrait:manifest-chain']);
        await linkPreviousRun({ db: trx, log }, runId);
        const sha = await writeManifest({ db: trx, env, log, codeVersion, databaseUrl: '' }, runId);
        await trx('audit.runs').where({ run_id: runId }).update({ status: 'succeeded', manifest_sha256: sha, finished_at: trx.fn.now() });
        return sha;
      });
      log.info({ run_id: runId, stage: 'finalize', manifest_sha256: manifestSha256 }, 'run succeeded');
      // Retention never fails a run: what cannot be dropped now is tried again at the end of the next run.
      try {
        const run = await db('audit.runs').where({ run_id: runId }).first('config');
        const pruned = await pruneLandingPartitions({ db, databaseUrl, log, policy: (run?.config as { retention?: Partial<LandingRetention> } | undefined)?.retention });
        if (pruned.dropped.length || pruned.deferred) log.info({ run_id: runId, stage: 'finalize', landing_dropped: pruned.dropped, landing_runs_kept: pruned.kept, deferred: pruned.deferred }, 'landing retention applied');
      } catch (err) {
        log.warn({ run_id: runId, stage: 'finalize', err: { message: (err as Error).message } }, 'landing retention skipped this time');
      }
      return { manifestSha256 };
    },
  };
}

/**
 * Records one stage's outcome for the audit trail; idempotent so an activity retry overwrites its own row.
 * The result carries the same timestamps, so the workflow can report stage seconds without reading a clock.
 */
export async function recordStage(db: ActivityDeps['db'], runId: string, result: StageResult & { files: ManifestFile[] }, startedAt: Date): Promise<StageResult> {
  const finishedAt = new Date();
  await db('audit.stage_runs')
    .insert({
      run_id: runId,
      stage: result.stage,
      rows: result.rows,
      files: JSON.stringify(result.files),
      details: JSON.stringify(result.details ?? {}),
      started_at: startedAt,
      finished_at: finishedAt,
      duration_ms: finishedAt.getTime() - startedAt.getTime(),
    })
    .onConflict(['run_id', 'stage'])
    .merge();
  // Columns stay in the audit row (for the manifest); the workflow payload keeps path, rows and sha256 only.
  const files = result.files.map((f) => ({ path: f.path, rows: f.rows, sha256: f.sha256 }));
  return { ...result, files, startedAt: startedAt.toISOString(), finishedAt: finishedAt.toISOString() };
}

/** Fixes the run's chain link once (a retried finalize or a later outcomes rewrite keeps it). */
async function linkPreviousRun({ db, log }: Pick<ActivityDeps, 'db' | 'log'>, runId: string): Promise<void> {
  const run = await db('audit.runs').where({ run_id: runId }).first('previous_run_id', 'status');
  if (!run || run.status === 'succeeded' || run.previous_run_id) return;
  const previous = await db('audit.runs').where({ status: 'succeeded' }).whereNot({ run_id: runId }).orderBy([{ column: 'finished_at', order: 'desc' }, { column: 'run_id', order: 'desc' }]).first('run_id', 'snapshot_dir');
  if (!previous) return;
  let sha: string | null = null;
  try {
    sha = chainSha256(JSON.parse(await readFile(path.join(previous.snapshot_dir, MANIFEST_FILE), 'utf8')) as ManifestLike);
  } catch (err) {
    // Recorded as a link without a hash: verify --chain reports it rather than the run failing for an old folder.
    log.warn({ run_id: runId, stage: 'finalize', previous_run_id: previous.run_id, err: { message: (err as Error).message } }, 'previous run manifest unreadable; chain link recorded without its sha256');
  }
  await db('audit.runs').where({ run_id: runId }).update({ previous_run_id: previous.run_id, previous_manifest_sha256: sha });
}

export async function writeManifest(deps: ActivityDeps, runId: string): Promise<string> {
  const { db } = deps;
  const run = await db('audit.runs').where({ run_id: runId }).first();
  if (!run) throw ApplicationFailure.nonRetryable(`unknown run ${runId}`, ErrorType.InvalidInput);
  const stageRows = await db('audit.stage_runs').where({ run_id: runId });
  const byStage = new Map(stageRows.map((r) => [r.stage as Stage, r]));
  const stages: Manifest['stages'] = [];
  for (const stage of STAGES) {
    const row = byStage.get(stage);
    if (!row) continue;
    const files: ManifestFile[] = [];
    for (const f of row.files as ManifestFile[]) {
      const actual = await sha256File(path.join(run.snapshot_dir, f.path));
      if (actual !== f.sha256) throw new Error(`snapshot ${f.path} changed after it was written (sha256 ${actual} != ${f.sha256})`);
      files.push({ path: f.path, rows: Number(f.rows), sha256: f.sha256, ...(f.columns ? { columns: f.columns } : {}) });
    }
    stages.push({ stage, rows: Number(row.rows), files });
  }
  const loads = await db('audit.source_loads').where({ run_id: runId }).orderBy('source');
  const sources: Manifest['sources'] = Object.fromEntries(
    loads.map((l) => [l.source, { rows_in: Number(l.rows_in), loaded: Number(l.loaded), quarantined: Number(l.quarantined), reasons: l.reasons ?? {}, file_sha256: l.file_sha256, contracts_version: l.contracts_version ?? null }]),
  );
  // A run whose files were written before contract v2 (e.g. outcomes collected after an upgrade) stays version 1.
  const parquet = stages.flatMap((s) => s.files).filter((f) => f.path.endsWith('.parquet'));
  const manifest: Manifest = {
    contract_version: parquet.length > 0 && parquet.every((f) => f.columns) ? CONTRACT_VERSION : 1,
    run_id: runId,
    as_of: run.as_of,
    config_sha256: run.config_sha256,
    code_version: run.code_version,
    model_version: run.model_versions ?? {},
    seed: Number(run.seed),
    stages,
    sources,
    previous_run_id: run.previous_run_id ?? null,
    previous_manifest_sha256: run.previous_manifest_sha256 ?? null,
  };
  const body = JSON.stringify(JSON.parse(canonicalJson(manifest)), null, 2) + '\n';
  const target = path.join(run.snapshot_dir, MANIFEST_FILE);
  await writeFile(`${target}.partial`, body);
  await rename(`${target}.partial`, target);
  // Detached, so the manifest's sha256 is the same signed or not; a stale signature never outlives a rewrite.
  const sigTarget = path.join(run.snapshot_dir, SIGNATURE_FILE);
  if (deps.env.signingKeyPem) {
    await writeFile(`${sigTarget}.partial`, signManifest(body, ed25519Key(deps.env.signingKeyPem, 'PORTRAIT_SIGNING_KEY', 'private')));
    await rename(`${sigTarget}.partial`, sigTarget);
  } else {
    await rm(sigTarget, { force: true });
  }
  return createHash('sha256').update(body).digest('hex');
}
