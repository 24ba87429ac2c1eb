import { ApplicationFailure } from '@temporalio/activity';
import type { ActivityDeps } from './deps';
import { recordStage } from './runs';
import { runSnapshotDir, writeParquetSnapshot } from './snapshots';
import { checkSegmentRules, compileSegments } from '../transforms/segmentRules';
import { ErrorType, type StageResult } from '../shared';
import type { SegmentRule } from '../config/schema';

export function createSegmentActivities(deps: ActivityDeps) {
  const { db, env, log } = deps;
  return {
    /** Gives every customer exactly one primary segment: the first rule (in priority order) that matches. */
    async assignSegments({ runId, rules }: { runId: string; rules: SegmentRule[] }): Promise<StageResult> {
      const startedAt = new Date();
      const problems = checkSegmentRules(rules);
      if (problems.length) throw ApplicationFailure.nonRetryable(`invalid segment rules: ${problems.join('; ')}`, ErrorType.InvalidConfig);
      const compiled = compileSegments(rules);
      await db.transaction(async (trx) => {
        await trx('mart.segments').where({ run_id: runId }).delete();
        await trx.raw(`insert into mart.segments (run_id, golden_id, segment) select run_id, golden_id, ${compiled.sql} from mart.tags where run_id = ?`, [...compiled.bindings, runId]);
      });
      const unassigned = await db('mart.segments').where({ run_id: runId }).whereNull('segment').count<{ n: string }[]>('* as n');
      if (Number(unassigned[0]!.n) > 0) throw ApplicationFailure.nonRetryable(`${unassigned[0]!.n} customers matched no segment; the last rule must be a catch-all`, ErrorType.InvalidConfig);
      const file = await writeParquetSnapshot(
        runSnapshotDir(env.snapshotDir, runId),
        'segments.parquet',
        { golden_id: { type: 'UTF8' }, segment: { type: 'UTF8' } },
        db('mart.segments').select('golden_id', 'segment').where({ run_id: runId }).orderBy('golden_id').stream(),
      );
      const sizes = await db('mart.segments').where({ run_id: runId }).select('segment').count('* as n').groupBy('segment');
      const order = new Map(rules.map((r, i) => [r.id, i]));
      const segmentSizes = Object.fromEntries(sizes.sort((a, b) => order.get(String(a.segment))! - order.get(String(b.segment))!).map((r) => [String(r.segment), Number(r.n)]));
      log.info({ run_id: runId, stage: 'segment', segments: segmentSizes }, 'segments assigned');
      return recordStage(db, runId, { stage: 'segment', rows: file.rows, files: [file], details: { segments: segmentSizes } }, startedAt);
    },
  };
}
