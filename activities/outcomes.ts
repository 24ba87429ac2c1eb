import type { ActivityDeps } from './deps';
import { recordStage, writeManifest } from './runs';
import { runSnapshotDir, writeParquetSnapshot } from './snapshots';
import { computeLift, roi, type LiftResult } from '../transforms/lift';
import type { CampaignConfig } from '../config/schema';

export interface CampaignOutcome {
  campaignId: string;
  /** The run whose extracts supplied the conversions (the newest one on or after the dispatch date). */
  dataRunId: string | null;
  attributionDays: number;
  lift: LiftResult;
  cost: number;
  incrementalValue: number | null;
  roi: number | null;
}

export function createOutcomeActivities(deps: ActivityDeps) {
  const { db, env, log } = deps;
  return {
    /**
     * Attributes conversions to one campaign's dispatch, for treatment and control alike: the campaign's product
     * opened after the run date and within the attribution window, seen in the newest extracts available.
     * Stores per-contact outcomes and the lift result, rewrites outcomes.parquet and the run's manifest.
     */
    async attributeOutcomes({ runId, asOf, campaign, attributionDays }: { runId: string; asOf: string; campaign: CampaignConfig; attributionDays: number }): Promise<CampaignOutcome> {
      const startedAt = new Date();
      const dataRun = await db('audit.runs')
        .where('as_of', '>=', asOf)
        .whereIn('status', ['succeeded', 'running'])
        .whereExists(db('core.customer_sources').whereRaw('core.customer_sources.run_id = audit.runs.run_id'))
        .orderBy([{ column: 'as_of', order: 'desc' }, { column: 'started_at', order: 'desc' }])
        .first('run_id');
      const dataRunId: string | null = dataRun?.run_id ?? null;
      await db.transaction(async (trx) => {
        await trx('campaign.outcomes').where({ run_id: runId, campaign_id: campaign.id }).delete();
        await trx.raw(
          `insert into campaign.outcomes (run_id, campaign_id, golden_id, arm, converted, converted_at, value)
           select d.run_id, d.campaign_id, d.golden_id, d.arm, conv.opened_at is not null, conv.opened_at, conv.principal::float8
           from campaign.dispatch d
           left join lateral (
             select l.opened_at, l.principal
             from core.customer_sources s
             join landing.loans l on l.run_id = s.run_id and l.customer_key = s.customer_key
             where s.run_id = ? and s.golden_id = d.golden_id and l.product = ?
               and l.opened_at > ?::date and l.opened_at <= ?::date + ?::int
             order by l.opened_at, l.loan_id limit 1
           ) conv on true
           where d.run_id = ? and d.campaign_id = ?`,
          [dataRunId ?? '', campaign.product, asOf, asOf, attributionDays, runId, campaign.id],
        );
      });
      const counts = await db('campaign.outcomes').where({ run_id: runId, campaign_id: campaign.id }).select('arm').count('* as contacts').sum({ conversions: db.raw('converted::int') }).groupBy('arm');
      const arm = (name: string) => {
        const r = counts.find((c) => c.arm === name);
        return { contacts: Number(r?.contacts ?? 0), conversions: Number(r?.conversions ?? 0) };
      };
      const lift = computeLift(arm('treatment'), arm('control'));
      const cost = lift.treatment.contacts * campaign.costPerContact;
      const incrementalValue = lift.incrementalConversions === null ? null : lift.incrementalConversions * campaign.valuePerConversion;
      const outcome: CampaignOutcome = { campaignId: campaign.id, dataRunId, attributionDays, lift, cost, incrementalValue, roi: roi(incrementalValue, cost) };
      await db('campaign.outcome_results').insert({ run_id: runId, campaign_id: campaign.id, data_as_of: dataRunId, result: JSON.stringify(outcome) }).onConflict(['run_id', 'campaign_id']).merge();

      // outcomes.parquet covers every campaign of the run measured so far; campaigns finish independently.
      await db.transaction(async (trx) => {
        await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`outcomes:${runId}`]);
        const file = await writeParquetSnapshot(
          runSnapshotDir(env.snapshotDir, runId),
          'outcomes.parquet',
          { campaign_id: { type: 'UTF8' }, golden_id: { type: 'UTF8' }, arm: { type: 'UTF8' }, converted: { type: 'BOOLEAN' }, converted_at: { type: 'UTF8', optional: true }, value: { type: 'DOUBLE', optional: true } },
          trx('campaign.outcomes').select('campaign_id', 'golden_id', 'arm', 'converted', trx.raw("to_char(converted_at, 'YYYY-MM-DD') as converted_at"), 'value').where({ run_id: runId }).orderBy(['campaign_id', 'golden_id']).stream(),
        );
        const results = await trx('campaign.outcome_results').where({ run_id: runId }).orderBy('campaign_id');
        await recordStage(trx, runId, { stage: 'outcomes', rows: file.rows, files: [file], details: { campaigns: Object.fromEntries(results.map((r) => [r.campaign_id, r.result])) } }, startedAt);
      });
      const run = await db('audit.runs').where({ run_id: runId }).first('status');
      if (run?.status === 'succeeded') await writeManifest(deps, runId).then((sha) => db('audit.runs').where({ run_id: runId }).update({ manifest_sha256: sha }));
      log.info({ run_id: runId, stage: 'outcomes', campaign_id: campaign.id, data_run_id: dataRunId, lift: lift.absoluteLift }, 'outcomes attributed');
      return outcome;
    },
  };
}
