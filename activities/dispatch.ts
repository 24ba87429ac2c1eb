import { heartbeat } from '@temporalio/activity';
import type { Knex } from 'knex';
import type { Client } from 'pg';
import pLimit from 'p-limit';
import type { ActivityDeps } from './deps';
import { runSnapshotDir } from './snapshots';
import { materialize } from '../relations/materialize';
import { dispatch as dispatchSnapshot, eligibility as eligibilitySnapshot } from '../relations/snapshots';
import { csvLine } from './ingest';
import { copyWriter, withTransaction } from './pg';
import {
  arbitrate, assignControl, checkControlShare, expectedControlShare, firstFailedPolicy, idempotencyKey, isCampaignActive,
  type Candidate, type ControlShareCheck, type EligiblePair, type ExclusionReason, type Policies,
} from '../transforms/policies';
import { sendAtIso, writeCampaignFiles } from './deliver';
import type { CampaignConfig, PortraitConfig } from '../config/schema';
import { policyFacts } from '../transforms/policyFacts';
import { phaseTimer } from './phaseTimer';
import { runWorkTables } from './workTables';
import type { DispatchRef, SnapshotFile, StageResult } from '../shared';

interface CandidateRow {
  golden_id: string;
  segment: string;
  score: number;
  granted: boolean | null;
  consent_id: string | null;
  consent_recorded_at: Date | null;
  reachable: boolean;
  max_overdue_days: number;
  credit_band: string | null;
  suppressions: string[];
  days_since_conversion: number | null;
  days_since_refusal: number | null;
  recent_contacts: string | number;
  channel_contacts_last_day: string | number;
}

/**
 * Candidates of one campaign: customers of its target segments (or with one of its trigger events) with their score
 * for its product and every fact the policies need, all as of the end of the run date in the run's time zone:
 * the latest consent for its channel (latest record wins, so an opt-out counts at once), the suppression lists as they
 * stood when the run was registered (a do-not-contact request applies to every run started after it is recorded, even a
 * backfill; a retry or replay of a run sees what the run saw),
 * the latest conversion and refusal (an opt-out on any channel), and contacts in the rolling window (campaign
 * history plus Portrait selections of earlier dates, once per idempotency key; another run of the same date is a
 * re-run of that date, not an extra contact). A held-out (control) selection counts as a contact: otherwise the caps
 * thin only the treated, the never-contacted controls are selected again every day, and the control share drifts
 * far above the configured one from the second day on.
 * The run id is compared to a scalar subquery, not joined from q: an init-plan value picks the run's landing partition
 * at execution and its rows by index, where a join read every kept partition and every past run's segments.
 */
/** The run's parameters (as of, time zone, frequency-cap days, run id) and the end of the run date. */
const RUN_PARAMS = `select p_as_of, p_tz, p_cap_days, p_run_id, ((p_as_of + 1)::timestamp at time zone p_tz) as cutoff
  from (select ?::date as p_as_of, ?::text as p_tz, ?::int as p_cap_days, ?::text as p_run_id) p`;
const KEYS = `keys as (select s.customer_key, s.golden_id from core.customer_sources s, q where s.run_id = (select p_run_id from q))`;

/**
 * The facts the policies need that do not depend on the campaign, per golden customer: computed once per run into
 * work tables, where every campaign's candidate query recomputed them (1M customers: about half of each query's
 * ~16 s). Bindings: {@link RUN_PARAMS}'.
 */
const RUN_FACTS = {
  refusal: `select k.golden_id, max(c.recorded_at) as at from landing.consent c join keys k using (customer_key), q
  where c.run_id = (select p_run_id from q) and not c.granted and c.recorded_at < q.cutoff group by k.golden_id`,
  conversion: `select k.golden_id, max(h.converted_at) as at from landing.campaign_contacts h join keys k using (customer_key), q
  where h.run_id = (select p_run_id from q) and h.converted and h.converted_at < q.cutoff group by k.golden_id`,
  suppressed: `select k.golden_id, array_agg(distinct l.list) as lists
  from (
    select distinct on (e.list, e.customer_key) e.list, e.customer_key, e.action from campaign.suppression_events e
    where e.at <= (select r.suppressions_as_of from audit.runs r where r.run_id = (select p_run_id from q))
    order by e.list, e.customer_key, e.event_id desc
  ) l join keys k using (customer_key)
  where l.action = 'add' group by k.golden_id`,
  history: `select k.golden_id, h.channel, h.contacted_at as at from landing.campaign_contacts h join keys k using (customer_key), q
  where h.run_id = (select p_run_id from q) and h.contacted_at >= q.cutoff - make_interval(days => q.p_cap_days) and h.contacted_at < q.cutoff
  union all
  select golden_id, channel, at from (
    select distinct on (d.idempotency_key) d.golden_id, d.channel, coalesce(d.send_at, (d.as_of + 1)::timestamp at time zone q.p_tz) as at
    from campaign.dispatch d, q
    where d.as_of > q.p_as_of - q.p_cap_days and d.as_of < q.p_as_of
      -- Selections of runs registered before this one, replays excepted: what this run saw, also when replayed.
      and d.run_id in (select r.run_id from audit.runs r where r.replay_of is null
                       and r.suppressions_as_of < (select r0.suppressions_as_of from audit.runs r0 where r0.run_id = q.p_run_id))
    order by d.idempotency_key
  ) portrait`,
};
type RunFact = keyof typeof RUN_FACTS;
const RUN_FACT_NAMES = Object.keys(RUN_FACTS) as RunFact[];

/**
 * Candidates of one campaign: customers of its target segments (or with one of its trigger events) with their score
 * for its product and every fact the policies need, all as of the end of the run date in the run's time zone:
 * the latest consent for its channel (latest record wins, so an opt-out counts at once), the suppression lists as they
 * stood when the run was registered (a do-not-contact request applies to every run started after it is recorded, even a
 * backfill; a retry or replay of a run sees what the run saw),
 * the latest conversion and refusal (an opt-out on any channel), and contacts in the rolling window (campaign
 * history plus Portrait selections of earlier dates, once per idempotency key; another run of the same date is a
 * re-run of that date, not an extra contact). A held-out (control) selection counts as a contact: otherwise the caps
 * thin only the treated, the never-contacted controls are selected again every day, and the control share drifts
 * far above the configured one from the second day on. The facts that do not depend on the campaign are read from
 * the run's work tables (`facts`, {@link RUN_FACTS}).
 * The run id is compared to a scalar subquery, not joined from q: an init-plan value picks the run's landing partition
 * at execution and its rows by index, where a join read every kept partition and every past run's segments.
 */
function candidatesSql(facts: Record<RunFact, string>): string {
  return `
with q as (
  select r.*, p_channel, p_product, p_segments, p_triggers, ((p_as_of + 1) + p_send_time) at time zone p_tz as send_at
  from (${RUN_PARAMS}) r,
       (select ?::text as p_channel, ?::text as p_product, ?::text[] as p_segments, ?::text[] as p_triggers, ?::time as p_send_time) c
),
${KEYS},
consent as (
  select distinct on (k.golden_id) k.golden_id, c.granted, c.consent_id, c.recorded_at
  from landing.consent c join keys k using (customer_key), q
  where c.run_id = (select p_run_id from q) and c.channel = q.p_channel and c.recorded_at < q.cutoff
  order by k.golden_id, c.recorded_at desc, c.consent_id desc
),
contacts as (
  select h.golden_id, count(*) as n, count(*) filter (where h.channel = q.p_channel and h.at >= q.send_at - interval '1 day') as on_channel
  from ${facts.history} h, q group by h.golden_id
)
select s.golden_id, s.segment, sc.score, c.granted, c.consent_id, c.recorded_at as consent_recorded_at,
       (cu.phone_hash is not null) as reachable, t.max_overdue_days, t.credit_band,
       coalesce(sp.lists, '{}'::text[]) || case when coalesce(t.complaints_90d, 0) > 0 then array['complaint'] else '{}'::text[] end as suppressions,
       q.p_as_of - (cv.at at time zone q.p_tz)::date as days_since_conversion,
       q.p_as_of - (rf.at at time zone q.p_tz)::date as days_since_refusal,
       coalesce(ct.n, 0) as recent_contacts, coalesce(ct.on_channel, 0) as channel_contacts_last_day
from mart.segments s
cross join q
join mart.scores sc on sc.run_id = s.run_id and sc.golden_id = s.golden_id and sc.product = q.p_product
join mart.tags t on t.run_id = s.run_id and t.golden_id = s.golden_id
join core.customers cu on cu.run_id = s.run_id and cu.golden_id = s.golden_id
left join consent c on c.golden_id = s.golden_id
left join ${facts.refusal} rf on rf.golden_id = s.golden_id
left join ${facts.conversion} cv on cv.golden_id = s.golden_id
left join ${facts.suppressed} sp on sp.golden_id = s.golden_id
left join contacts ct on ct.golden_id = s.golden_id
where s.run_id = (select p_run_id from q) and (s.segment = any(q.p_segments)
  or exists (select 1 from mart.trigger_events te where te.run_id = s.run_id and te.golden_id = s.golden_id and te.event = any(q.p_triggers)))
order by s.golden_id`;
}

/** The dispatch facts' work tables of a run. */
const factsTables = (runId: string) => runWorkTables('campaign', 'dispatch_facts', runId);

/** Computes the run's campaign-independent facts ({@link RUN_FACTS}) into analyzed unlogged work tables, two at a time; returns them. */
async function computeRunFacts(db: Knex, runParams: readonly (string | number)[], runId: string): Promise<Record<RunFact, string>> {
  const work = factsTables(runId);
  const tables = Object.fromEntries(RUN_FACT_NAMES.map((f) => [f, work.table(f)])) as Record<RunFact, string>;
  const sessions = pLimit(CANDIDATE_SESSIONS);
  await Promise.all(
    RUN_FACT_NAMES.map((fact) =>
      sessions(() =>
        db.transaction(async (trx) => {
          await trx.raw(`create unlogged table ${tables[fact]} as with q as (${RUN_PARAMS}), ${KEYS} ${RUN_FACTS[fact]}`, runParams);
          await trx.raw(`analyze ${tables[fact]}`);
        }),
      ),
    ),
  );
  return tables;
}

/** Candidate queries read at once, each on its own pool session while the activity's session runs the COPY. */
const CANDIDATE_SESSIONS = 2;

interface CampaignSummary {
  treatment: number;
  control: number;
  /** Control rows by holdout kind. */
  globalHoldout: number;
  campaignHoldout: number;
  excluded: Partial<Record<ExclusionReason, number>>;
  controlShare: ControlShareCheck;
}

export function createDispatchActivities(deps: ActivityDeps) {
  const { db, env, log, databaseUrl } = deps;
  return {
    /**
     * Evaluates every active campaign: records each customer×campaign verdict with its first failed policy
     * (eligibility ledger), arbitrates across campaigns, assigns arms by stable hashes (global, then campaign
     * holdout), writes the dispatch ledger with proof of consent, queues webhook deliveries, and writes the
     * marketing files. A retry rebuilds the run's ledgers and files identically; deliveries are keyed by the
     * contact's idempotency key, so nothing already delivered is queued again.
     */
    async dispatchCampaigns({ runId, asOf, timezone, campaigns, policies, delivery }: { runId: string; asOf: string; timezone: string; campaigns: CampaignConfig[]; policies: Policies; delivery?: PortraitConfig['delivery'] }): Promise<StageResult & { dispatches: DispatchRef[] }> {
      const startedAt = new Date();
      const lap = phaseTimer();
      const active = campaigns.filter((c) => isCampaignActive(c, asOf)).sort((a, b) => a.priority - b.priority || a.id.localeCompare(b.id));
      const inactive = campaigns.filter((c) => !isCampaignActive(c, asOf)).map((c) => c.id).sort();
      const summary: Record<string, CampaignSummary> = {};
      const webhookChannels = Object.entries(delivery?.webhooks ?? {}).filter(([, w]) => w).map(([channel]) => channel);
      const evaluate = async (client: Client) => {
        await client.query('delete from campaign.eligibility where run_id = $1', [runId]);
        await client.query('delete from campaign.dispatch where run_id = $1', [runId]);
        const eligibility = copyWriter(client, 'copy campaign.eligibility (run_id, campaign_id, product, golden_id, eligible, reason, facts) from stdin with (format csv)');
        let eligibilityBuf = '';
        const productOf = new Map(active.map((c) => [c.id, c.product]));
        const record = async (campaignId: string, goldenId: string, reason: ExclusionReason | null, facts: Record<string, unknown> | null = null) => {
          eligibilityBuf += csvLine([runId, campaignId, productOf.get(campaignId)!, goldenId, reason ? 'false' : 'true', reason, facts && JSON.stringify(facts)]);
          if (reason) summary[campaignId]!.excluded[reason] = (summary[campaignId]!.excluded[reason] ?? 0) + 1;
          if (eligibilityBuf.length > 1 << 20) {
            // Taken before the write: the campaign read beside this one appends while it waits.
            const text = eligibilityBuf;
            eligibilityBuf = '';
            await eligibility.write(text);
          }
        };
        // Pairs passing every per-customer policy wait for arbitration; only they are kept in memory. Arbitration
        // orders them totally (priority, value, ids), so the campaigns' candidates may be read side by side.
        type Pair = EligiblePair & { consentId: string | null; recordedAt: string | null };
        const pairsOf = new Map<string, Pair[]>();
        for (const campaign of active) summary[campaign.id] = { treatment: 0, control: 0, globalHoldout: 0, campaignHoldout: 0, excluded: {}, controlShare: checkControlShare(0, 0, 0, 1) };
        // Each candidate query is a PostgreSQL core's work for a while (1M customers: ~15 s); two at a time use both.
        const sessions = pLimit(CANDIDATE_SESSIONS);
        const runParams = [asOf, timezone, policies.frequencyCap.days, runId];
        const facts = await computeRunFacts(db, runParams, runId);
        lap('facts');
        const candidates = async (campaign: CampaignConfig) => {
          const pairs: Pair[] = [];
          pairsOf.set(campaign.id, pairs);
          // Streamed on a pool connection while this client runs the COPY: memory stays bounded by the eligible pairs.
          const rows = db
            .raw(candidatesSql(facts), [...runParams, campaign.channel, campaign.product, pgTextArray(campaign.segments), pgTextArray(campaign.triggers), campaign.sendTime])
            .stream() as AsyncIterable<CandidateRow>;
          for await (const row of rows) {
            const candidate: Candidate = {
              goldenId: row.golden_id,
              segment: row.segment,
              score: Number(row.score),
              consentGranted: row.granted,
              reachable: row.reachable,
              maxOverdueDays: Number(row.max_overdue_days ?? 0),
              creditBand: row.credit_band,
              suppressions: row.suppressions,
              daysSinceConversion: row.days_since_conversion === null ? null : Number(row.days_since_conversion),
              daysSinceRefusal: row.days_since_refusal === null ? null : Number(row.days_since_refusal),
              recentContacts: Number(row.recent_contacts),
              channelContactsLastDay: Number(row.channel_contacts_last_day),
            };
            const reason = firstFailedPolicy(candidate, campaign, policies);
            if (reason) {
              const consent = { consentId: row.consent_id, recordedAt: row.consent_recorded_at ? row.consent_recorded_at.toISOString() : null };
              await record(campaign.id, candidate.goldenId, reason, policyFacts(reason, candidate, consent, campaign, policies));
              continue;
            }
            pairs.push({ campaignId: campaign.id, goldenId: candidate.goldenId, score: candidate.score, consentId: row.consent_id, recordedAt: row.consent_recorded_at ? row.consent_recorded_at.toISOString() : null });
          }
          heartbeat({ campaign: campaign.id });
        };
        await Promise.all(active.map((campaign) => sessions(() => candidates(campaign))));
        lap('candidates');
        const pairs = active.flatMap((c) => pairsOf.get(c.id)!);

        const byId = new Map(active.map((c) => [c.id, c]));
        const dispatchRows: string[] = [];
        for (const { pair, reason } of arbitrate(pairs, active)) {
          const campaign = byId.get(pair.campaignId)!;
          await record(pair.campaignId, pair.goldenId, reason, reason && { score: pair.score });
          if (reason) continue;
          const stats = summary[campaign.id]!;
          const { arm, holdout } = assignControl(campaign.id, pair.goldenId, campaign.holdoutShare, policies.globalHoldoutShare);
          stats[arm]++;
          if (holdout === 'global') stats.globalHoldout++;
          if (holdout === 'campaign') stats.campaignHoldout++;
          dispatchRows.push(
            csvLine([
              runId, asOf, campaign.id, campaign.product, pair.goldenId, campaign.channel, arm, String(pair.score), idempotencyKey(campaign.id, asOf, pair.goldenId),
              pair.consentId, pair.recordedAt, arm === 'treatment' ? 'delivered_file' : 'held_out', holdout, campaign.templateId, sendAtIso(asOf, campaign.sendTime, timezone),
            ]),
          );
        }
        await eligibility.write(eligibilityBuf);
        await eligibility.end();
        const dispatch = copyWriter(
          client,
          'copy campaign.dispatch (run_id, as_of, campaign_id, product, golden_id, channel, arm, score, idempotency_key, consent_id, consent_recorded_at, delivery_status, holdout, template_id, send_at) from stdin with (format csv)',
        );
        // Sorted so the ledger's physical order (and anything reading it unsorted) does not depend on arbitration order.
        await dispatch.write(dispatchRows.sort().join(''));
        await dispatch.end();
        // Queue treatment contacts for the configured webhooks; a key delivered by an earlier run of this date stays delivered.
        await client.query(
          `insert into campaign.deliveries (idempotency_key, sink, run_id, as_of, campaign_id, golden_id, channel, status)
           select idempotency_key, 'webhook', run_id, as_of, campaign_id, golden_id, channel, 'pending' from campaign.dispatch
           where run_id = $1 and arm = 'treatment' and channel = any($2::text[])
           on conflict (idempotency_key, sink) do nothing`,
          [runId, webhookChannels],
        );
        for (const campaign of active) {
          const s = summary[campaign.id]!;
          s.controlShare = checkControlShare(s.treatment, s.control, expectedControlShare(campaign.holdoutShare, policies.globalHoldoutShare), policies.controlShareTolerance);
          if (!s.controlShare.withinTolerance) log.warn({ run_id: runId, stage: 'dispatch', campaign_id: campaign.id, control_share: s.controlShare }, 'control share outside tolerance');
        }
        lap('arbitrate_and_write');
      };
      // The facts tables are dropped under the lock: an attempt waiting for it never finds its own dropped.
      await withTransaction(databaseUrl, async (client) => {
        await factsTables(runId).drop(db);
        try {
          await evaluate(client);
        } finally {
          await factsTables(runId).drop(db);
        }
      }, { lockKey: `dispatch:${runId}` });
      const dispatches: DispatchRef[] = active.map((c) => ({ runId, asOf, campaignId: c.id, channel: c.channel, treatment: summary[c.id]!.treatment, control: summary[c.id]!.control }));
      log.info({ run_id: runId, stage: 'dispatch', campaigns: summary, inactive }, 'campaigns dispatched');
      const runDir = runSnapshotDir(env.snapshotDir, runId);
      // The ledgers were rebuilt by COPY above; the next runs' frequency caps and this run's outcomes and deliveries
      // read them by run and date, so they are analyzed before anything else reads them.
      const result = await materialize(deps, {
        runId,
        stage: 'dispatch',
        startedAt,
        tables: ['campaign.eligibility', 'campaign.dispatch'],
        snapshots: [eligibilitySnapshot, dispatchSnapshot],
        moreFiles: async () => {
          lap('snapshots');
          const files: SnapshotFile[] = [];
          for (const campaign of active) files.push(...(await writeCampaignFiles(deps, runDir, runId, campaign, { asOf, timezone })));
          lap('campaign_files');
          return files;
        },
        rows: Object.values(summary).reduce((n, s) => n + s.treatment + s.control, 0),
        details: async () => ({ campaigns: summary, inactive, phase_seconds: lap.phases }),
      });
      return { ...result, dispatches };
    },
  };
}

/** A text[] literal: knex would expand a JS array binding into a list of parameters. */
export function pgTextArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}
