import type { Knex } from 'knex';
import type { ActivityDeps } from '../activities/deps';
import { recordStage } from '../activities/runs';
import { runSnapshotDir } from '../activities/snapshots';
import type { Stage, StageResult } from '../shared';
import { writeSnapshot, type WrittenSnapshot } from './parquet';
import type { RelationDef } from './types';

/**
 * Replaces a run's rows of `tables` in one transaction (delete, then `build` inserts), then analyzes them: the
 * next stages plan their joins on statistics that include this run.
 */
export async function rebuild(db: Knex, runId: string, tables: readonly string[], build: (trx: Knex.Transaction) => Promise<void>): Promise<void> {
  await db.transaction(async (trx) => {
    for (const table of tables) await trx(table).where({ run_id: runId }).delete();
    await build(trx);
  });
  await db.raw(tables.map((t) => `analyze ${t}`).join('; '));
}

/** Writes each relation's snapshot of the run from PostgreSQL, in order. */
export async function snapshotRun(deps: Pick<ActivityDeps, 'db' | 'databaseUrl' | 'env'>, runId: string, defs: readonly RelationDef[], db: Knex = deps.db): Promise<WrittenSnapshot[]> {
  const runDir = runSnapshotDir(deps.env.snapshotDir, runId);
  const files: WrittenSnapshot[] = [];
  for (const def of defs) files.push(await writeSnapshot(runDir, def, { db, databaseUrl: deps.databaseUrl, params: { runId } }));
  return files;
}

export interface Materialization {
  runId: string;
  stage: Stage;
  startedAt: Date;
  /** Run-scoped tables the stage owns: cleared and rebuilt by `build`, then analyzed. */
  tables: readonly string[];
  /**
   * Inserts the run's rows (after the delete, in the same transaction). Absent when the stage has built its tables
   * itself (COPY on its own connection, under its own lock): then they are only analyzed.
   */
  build?: (trx: Knex.Transaction) => Promise<void>;
  /** Relations written after the build; the first one's rows are the stage's rows unless `rows` says otherwise. */
  snapshots: readonly RelationDef[];
  /** Files the stage writes itself after the snapshots (e.g. marketing files). */
  moreFiles?: () => Promise<WrittenSnapshot[]>;
  rows?: number;
  /** Small facts for the stage record, read after the build (never rows). */
  details: (files: WrittenSnapshot[]) => Promise<Record<string, unknown>>;
}

/**
 * A stage as one materialization (the role of a dbt materialization / Dagster IO manager): delete the run's rows,
 * insert-select, analyze, write the declared snapshots, record the stage. Idempotent: a retry does it all again.
 */
export async function materialize(deps: ActivityDeps, m: Materialization): Promise<StageResult> {
  if (m.build) await rebuild(deps.db, m.runId, m.tables, m.build);
  else if (m.tables.length) await deps.db.raw(m.tables.map((t) => `analyze ${t}`).join('; '));
  const files = await snapshotRun(deps, m.runId, m.snapshots);
  if (m.moreFiles) files.push(...(await m.moreFiles()));
  return recordStage(deps.db, m.runId, { stage: m.stage, rows: m.rows ?? files[0]?.rows ?? 0, files, details: await m.details(files) }, m.startedAt);
}
