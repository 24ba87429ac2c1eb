import { mkdir, rename, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { heartbeat } from '@temporalio/activity';
import type { ActivityDeps } from './deps';
import { recordStage } from './runs';
import { runSnapshotDir, writeParquetSnapshot } from './snapshots';
import { csvLine } from './ingest';
import { copyWriter, withTransaction } from './pg';
import { assignArm, firstFailedPolicy, idempotencyKey, type Candidate } from '../transforms/policies';
import type { CampaignConfig, PortraitConfig } from '../config/schema';
import type { DispatchRef, SnapshotFile, StageResult } from '../shared';

interface CandidateRow {
  golden_id: string;
  segment: string;
  score: number;
  granted: boolean | null;
  consent_id: string | null;
  consent_recorded_at: Date | null;
  max_overdue_days: number;
  recent_contacts: string | number;
}

/**
 * Candidates of one campaign: customers of its target segments (or with one of its trigger events) with their score for its product, the latest
 * consent for its channel recorded before the end of the run date, and their contacts in the rolling window
 * (campaign history plus Portrait dispatches of earlier dates; another run of the same date is a re-run of that
 * date, not an extra contact).
 */
const CANDIDATES_SQL = `
with p as (select ?::date as as_of, ((?::date + 1)::timestamp at time zone ?) as cutoff, ?::int as cap_days),
keys as (select customer_key, golden_id from core.customer_sources where run_id = ?),
consent as (
  select distinct on (k.golden_id) k.golden_id, c.granted, c.consent_id, c.recorded_at
  from landing.consent c join keys k using (customer_key), p
  where c.run_id = ? and c.channel = ? and c.recorded_at < p.cutoff
  order by k.golden_id, c.recorded_at desc, c.consent_id desc
),
contacts as (
  select golden_id, count(*) as n from (
    select k.golden_id from landing.campaign_contacts h join keys k using (customer_key), p
    where h.run_id = ? and h.contacted_at >= p.cutoff - make_interval(days => p.cap_days) and h.contacted_at < p.cutoff
    union all
    select d.golden_id from campaign.dispatch d, p
    where d.arm = 'treatment' and d.run_id <> ? and d.as_of > p.as_of - p.cap_days and d.as_of < p.as_of
  ) x group by golden_id
)
select s.golden_id, s.segment, sc.score, c.granted, c.consent_id, c.recorded_at as consent_recorded_at,
       t.max_overdue_days, coalesce(ct.n, 0) as recent_contacts
from mart.segments s
join mart.scores sc on sc.run_id = s.run_id and sc.golden_id = s.golden_id and sc.product = ?
join mart.tags t on t.run_id = s.run_id and t.golden_id = s.golden_id
left join consent c on c.golden_id = s.golden_id
left join contacts ct on ct.golden_id = s.golden_id
where s.run_id = ? and (s.segment = any(?::text[])
  or exists (select 1 from mart.trigger_events te where te.run_id = s.run_id and te.golden_id = s.golden_id and te.event = any(?::text[])))
order by sc.score desc, s.golden_id`;

export function createDispatchActivities(deps: ActivityDeps) {
  const { db, env, log, databaseUrl } = deps;
  return {
    /**
     * Evaluates every campaign in priority order, records each customer×campaign verdict (eligibility ledger),
     * assigns arms by a stable hash, and writes the dispatch ledger and the marketing files. A retry rebuilds the
     * run's ledger and files identically (the ledger's unique keys make double sends impossible).
     */
    async dispatchCampaigns({ runId, asOf, timezone, campaigns, policies }: { runId: string; asOf: string; timezone: string; campaigns: CampaignConfig[]; policies: PortraitConfig['policies'] }): Promise<StageResult & { dispatches: DispatchRef[] }> {
      const startedAt = new Date();
      const ordered = [...campaigns].sort((a, b) => a.priority - b.priority || a.id.localeCompare(b.id));
      const summary: Record<string, { treatment: number; control: number; excluded: Record<string, number> }> = {};
      await withTransaction(databaseUrl, async (client) => {
        await client.query('delete from campaign.eligibility where run_id = $1', [runId]);
        await client.query('delete from campaign.dispatch where run_id = $1', [runId]);
        const assigned = new Set<string>();
        for (const campaign of ordered) {
          const stats = { treatment: 0, control: 0, excluded: {} as Record<string, number> };
          summary[campaign.id] = stats;
          // Streamed on a pool connection while this client runs the COPYs: memory stays bounded.
          const rows = db
            .raw(CANDIDATES_SQL, [asOf, asOf, timezone, policies.frequencyCap.days, runId, runId, campaign.channel, runId, runId, campaign.product, runId, pgTextArray(campaign.segments), pgTextArray(campaign.triggers ?? [])])
            .stream() as AsyncIterable<CandidateRow>;
          const eligibility = copyWriter(client, 'copy campaign.eligibility (run_id, campaign_id, golden_id, eligible, reason) from stdin with (format csv)');
          let eligibilityBuf = '';
          const dispatchRows: string[] = [];
          let selected = 0;
          for await (const row of rows) {
            const candidate: Candidate = {
              goldenId: row.golden_id,
              segment: row.segment,
              score: Number(row.score),
              consentGranted: row.granted,
              maxOverdueDays: Number(row.max_overdue_days),
              recentContacts: Number(row.recent_contacts),
            };
            let reason: string | null = firstFailedPolicy(candidate, campaign, policies);
            if (!reason && assigned.has(candidate.goldenId)) reason = 'arbitration';
            if (!reason && selected >= campaign.budget) reason = 'over_budget';
            eligibilityBuf += csvLine([runId, campaign.id, candidate.goldenId, reason ? 'false' : 'true', reason]);
            if (eligibilityBuf.length > 1 << 20) {
              await eligibility.write(eligibilityBuf);
              eligibilityBuf = '';
            }
            if (reason) {
              stats.excluded[reason] = (stats.excluded[reason] ?? 0) + 1;
              continue;
            }
            selected++;
            assigned.add(candidate.goldenId);
            const arm = assignArm(campaign.id, candidate.goldenId, campaign.holdoutShare);
            stats[arm]++;
            dispatchRows.push(
              csvLine([
                runId, asOf, campaign.id, candidate.goldenId, campaign.channel, arm, String(candidate.score), idempotencyKey(campaign.id, asOf, candidate.goldenId),
                row.consent_id, row.consent_recorded_at ? row.consent_recorded_at.toISOString() : null, arm === 'treatment' ? 'delivered_file' : 'held_out',
              ]),
            );
          }
          await eligibility.write(eligibilityBuf);
          await eligibility.end();
          const dispatch = copyWriter(client, 'copy campaign.dispatch (run_id, as_of, campaign_id, golden_id, channel, arm, score, idempotency_key, consent_id, consent_recorded_at, delivery_status) from stdin with (format csv)');
          await dispatch.write(dispatchRows.join(''));
          await dispatch.end();
          heartbeat({ campaign: campaign.id });
        }
      });

      const runDir = runSnapshotDir(env.snapshotDir, runId);
      const files: SnapshotFile[] = [];
      files.push(
        await writeParquetSnapshot(
          runDir,
          'eligibility.parquet',
          { campaign_id: { type: 'UTF8' }, golden_id: { type: 'UTF8' }, eligible: { type: 'BOOLEAN' }, reason: { type: 'UTF8', optional: true } },
          db('campaign.eligibility').select('campaign_id', 'golden_id', 'eligible', 'reason').where({ run_id: runId }).orderBy(['campaign_id', 'golden_id']).stream(),
        ),
      );
      files.push(
        await writeParquetSnapshot(
          runDir,
          'dispatch.parquet',
          {
            campaign_id: { type: 'UTF8' }, golden_id: { type: 'UTF8' }, channel: { type: 'UTF8' }, arm: { type: 'UTF8' }, score: { type: 'DOUBLE' },
            idempotency_key: { type: 'UTF8' }, consent_id: { type: 'UTF8', optional: true }, consent_recorded_at: { type: 'UTF8', optional: true },
          },
          db('campaign.dispatch').select('campaign_id', 'golden_id', 'channel', 'arm', 'score', 'idempotency_key', 'consent_id', 'consent_recorded_at').where({ run_id: runId }).orderBy(['campaign_id', 'golden_id']).stream(),
        ),
      );
      for (const campaign of ordered) files.push(await writeDeliveryFile(runDir, runId, campaign));
      const dispatches: DispatchRef[] = ordered.map((c) => ({ runId, asOf, campaignId: c.id, treatment: summary[c.id]!.treatment, control: summary[c.id]!.control }));
      log.info({ run_id: runId, stage: 'dispatch', campaigns: summary }, 'campaigns dispatched');
      const total = Object.values(summary).reduce((n, s) => n + s.treatment + s.control, 0);
      const result = await recordStage(db, runId, { stage: 'dispatch', rows: total, files, details: { campaigns: summary } }, startedAt);
      return { ...result, dispatches };
    },
  };

  /** The list marketing receives: treatment contacts only, UTF-8 with BOM so Excel shows Chinese correctly. */
  async function writeDeliveryFile(runDir: string, runId: string, campaign: CampaignConfig): Promise<SnapshotFile> {
    const rel = path.join('deliveries', `${campaign.id}_${campaign.channel}.csv`);
    const target = path.join(runDir, rel);
    await mkdir(path.dirname(target), { recursive: true });
    const rows = await db('campaign.dispatch as d')
      .join('mart.tags as t', function () {
        this.on('t.golden_id', '=', 'd.golden_id').andOn('t.run_id', '=', 'd.run_id');
      })
      .join('mart.segments as s', function () {
        this.on('s.golden_id', '=', 'd.golden_id').andOn('s.run_id', '=', 'd.run_id');
      })
      .where({ 'd.run_id': runId, 'd.campaign_id': campaign.id, 'd.arm': 'treatment' })
      .select('d.golden_id', 'd.channel', 'd.score', 'd.idempotency_key', 's.segment', 't.age_band', 't.city_tier')
      .orderBy('d.golden_id');
    const header = ['campaign_id', 'campaign_name', 'golden_id', 'channel', 'segment', 'age_band', 'city_tier', 'score', 'idempotency_key'];
    const lines = rows.map((r) => csvRow([campaign.id, campaign.name, r.golden_id, r.channel, r.segment, r.age_band, r.city_tier === null ? '' : String(r.city_tier), Number(r.score).toFixed(6), r.idempotency_key]));
    const body = '\uFEFF' + csvRow(header) + lines.join('');
    await writeFile(`${target}.partial`, body, 'utf8');
    await rename(`${target}.partial`, target);
    return { path: rel, rows: rows.length, sha256: createHash('sha256').update(body, 'utf8').digest('hex') };
  }
}

/** Excel-friendly CSV row: quotes only where needed, CRLF line ends. */
function csvRow(values: readonly (string | null)[]): string {
  return values.map((v) => (v === null ? '' : /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(',') + '\r\n';
}

/** A text[] literal: knex would expand a JS array binding into a list of parameters. */
function pgTextArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}
