import { ApplicationFailure } from '@temporalio/activity';
import type { Knex } from 'knex';
import type { ActivityDeps } from './deps';
import { recordStage, writeManifest } from './runs';
import { snapshotRun } from '../relations/materialize';
import { outcomes as outcomesSnapshot, results as resultsSnapshot } from '../relations/snapshots';
import { computeLift, type LiftResult } from '../transforms/lift';
import { buildResultRows, uncollectedResultRow, RESULT_DIMENSIONS, type ArmGroup, type OutcomeStatus, type OutcomeWindow, type ResultDimension, type ResultRow } from '../transforms/outcomeResults';
import { durationMs } from '../transforms/duration';
import { writeRunReportFile } from '../report';
import { LEGACY_TIMEZONE, type CampaignConfig } from '../config/schema';
import { ErrorType, type SnapshotFile } from '../shared';
import { runSnapshotDir } from './snapshots';

export interface CampaignOutcome {
  campaignId: string;
  /** The latest run loaded at collection time, whose extracts supplied the product openings. */
  dataRunId: string | null;
  attributionDays: number;
  /** Openings are known up to this date: min(as-of of the data run, contact date + window). */
  observedThrough: string;
  /** False when the data run ends before the window does: the counts may still grow. */
  windowClosed: boolean;
  /** `pending` until the window is observed to its end (finalOn); a pending campaign has no lift, value or ROI. */
  status: OutcomeStatus;
  finalOn: string;
  lift: LiftResult | null;
  cost: number;
  value: number | null;
  incrementalValue: number | null;
  roi: number | null;
  qiniCoefficient: number | null;
}

/** Where the opening of each campaign product shows up: a landing table and the product value in it. */
const CONVERSION_SOURCES: Record<string, { table: 'loans' | 'accounts'; product: string }> = {
  consumer_loan: { table: 'loans', product: 'consumer_loan' },
  credit_card: { table: 'loans', product: 'credit_card' },
  mortgage: { table: 'loans', product: 'mortgage' },
  business_loan: { table: 'loans', product: 'business_loan' },
  time_deposit: { table: 'accounts', product: 'time' },
};

const OPENINGS_SQL = {
  loans: `select l.loan_id as opening_id, l.customer_key, l.opened_at, l.principal::float8 as value from landing.loans l where l.run_id = :dataRun and l.product = :sourceProduct`,
  accounts: `select a.account_id as opening_id, a.customer_key, a.opened_at, null::float8 as value from landing.accounts a where a.run_id = :dataRun and a.product = :sourceProduct and a.opened_at is not null`,
};

/**
 * One row per contact of the campaign's dispatch (both arms). A conversion is the first opening of the campaign's
 * product after the contact date and within the window, in the extracts of the data run. Last touch across
 * campaigns: it is not credited here when another treatment contact offering the same product falls strictly
 * between this contact's date and the opening — a Portrait dispatch of any campaign on a later date (campaign
 * products come from each run's recorded config) or a contact in the bank's campaign history of the data run (dated
 * in the run's time zone). Control customers are judged by the same rule from the date they would have been contacted.
 * Score deciles: 1 = the highest scores of the campaign's contacts.
 *
 * Set-based: each input is read once and joined by golden_id (a rival blocks the credit iff the earliest rival date
 * after the contact is before the opening). Correlated subqueries per contact made this quadratic in the run's size.
 * Rivals on or after observedThrough cannot precede an opening, so only dispatches of the window are read.
 */
const ATTRIBUTE_SQL = (table: 'loans' | 'accounts') => `
with contacts as materialized (
  select d.golden_id, d.arm, d.channel, s.segment, ntile(10) over (order by d.score desc, d.golden_id) as score_decile
  from campaign.dispatch d left join mart.segments s on s.run_id = d.run_id and s.golden_id = d.golden_id
  where d.run_id = :runId and d.campaign_id = :campaignId
),
tz as materialized (select coalesce(config->>'timezone', :legacyTimezone) as name from audit.runs where run_id = :runId),
first_opening as materialized (
  select distinct on (k.golden_id) k.golden_id, o.opened_at, o.value
  from (${OPENINGS_SQL[table]}) o join core.customer_sources k on k.run_id = :dataRun and k.customer_key = o.customer_key
  where o.opened_at > :contactDay::date and o.opened_at <= :observedThrough::date
  order by k.golden_id, o.opened_at, o.opening_id
),
window_dispatch as materialized (
  select d2.run_id, d2.campaign_id, d2.golden_id, d2.as_of
  from campaign.dispatch d2 join contacts ct on ct.golden_id = d2.golden_id
  where d2.arm = 'treatment' and d2.as_of > :contactDay::date and d2.as_of < :observedThrough::date
    -- A replay's selections were never sent.
    and d2.run_id in (select r.run_id from audit.runs r where r.replay_of is null)
),
rival_campaigns as materialized (
  select r.run_id, c->>'id' as campaign_id
  from audit.runs r cross join lateral jsonb_array_elements(case when jsonb_typeof(r.config->'campaigns') = 'array' then r.config->'campaigns' else '[]'::jsonb end) c
  where r.run_id in (select run_id from window_dispatch) and c->>'product' = :product
),
portrait_rival as materialized (
  select wd.golden_id, min(wd.as_of) as first_on from window_dispatch wd
  where exists (select 1 from rival_campaigns rc where rc.run_id = wd.run_id and rc.campaign_id = wd.campaign_id)
  group by wd.golden_id
),
bank_rival as materialized (
  select k2.golden_id, min((h.contacted_at at time zone tz.name)::date) as first_on
  from landing.campaign_contacts h join core.customer_sources k2 on k2.run_id = h.run_id and k2.customer_key = h.customer_key cross join tz
  where h.run_id = :dataRun and h.product = :product
    and (h.contacted_at at time zone tz.name)::date > :contactDay::date and (h.contacted_at at time zone tz.name)::date < :observedThrough::date
  group by k2.golden_id
),
credited as materialized (
  select fo.golden_id, fo.opened_at, fo.value
  from first_opening fo left join portrait_rival pr on pr.golden_id = fo.golden_id left join bank_rival br on br.golden_id = fo.golden_id
  where (pr.first_on is null or pr.first_on >= fo.opened_at) and (br.first_on is null or br.first_on >= fo.opened_at)
)
insert into campaign.outcomes (run_id, campaign_id, golden_id, arm, converted, converted_at, value, contacted_on, segment, channel, score_decile)
select :runId, :campaignId, ct.golden_id, ct.arm, cr.opened_at is not null, cr.opened_at, cr.value, :contactDay::date, ct.segment, ct.channel, ct.score_decile
from contacts ct cross join tz left join credited cr on cr.golden_id = ct.golden_id`;

const GROUPS_SQL = `
select dimension, dimension_value, arm, count(*)::int as contacts, sum(converted::int)::int as conversions from (
  select 'campaign' as dimension, 'all' as dimension_value, arm, converted from campaign.outcomes where run_id = :runId and campaign_id = :campaignId
  union all select 'segment', coalesce(segment, '(none)'), arm, converted from campaign.outcomes where run_id = :runId and campaign_id = :campaignId
  union all select 'channel', channel, arm, converted from campaign.outcomes where run_id = :runId and campaign_id = :campaignId
  union all select 'score_decile', score_decile::text, arm, converted from campaign.outcomes where run_id = :runId and campaign_id = :campaignId
) x group by dimension, dimension_value, arm`;

const addDays = (isoDate: string, days: number): string => new Date(Date.parse(`${isoDate}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

export function createOutcomeActivities(deps: ActivityDeps) {
  const { db, log } = deps;
  return {
    /**
     * Attributes conversions to one campaign's dispatch for treatment and control (see ATTRIBUTE_SQL), then stores
     * per-contact outcomes, the labelled contacts for the next training set, results per campaign, segment, channel
     * and score decile, and rewrites outcomes.parquet, results.parquet and the run's manifest. Idempotent.
     * `dataRunId` (a replay) pins the data run instead of taking the latest one loaded; null pins "none".
     */
    async attributeOutcomes({ runId, asOf, campaign, attributionDays, dataRunId: pinned }: { runId: string; asOf: string; campaign: CampaignConfig; attributionDays: number; dataRunId?: string | null }): Promise<CampaignOutcome> {
      const startedAt = new Date();
      const source = CONVERSION_SOURCES[campaign.product];
      if (!source) {
        throw ApplicationFailure.nonRetryable(`campaign ${campaign.id}: no conversion source for product "${campaign.product}" (known: ${Object.keys(CONVERSION_SOURCES).join(', ')})`, ErrorType.InvalidConfig);
      }
      // The latest run loaded at collection time: its extracts are the freshest view of who opened what.
      const dataRun =
        pinned === undefined
          ? await db('audit.runs')
              .where('as_of', '>=', asOf)
              .whereIn('status', ['succeeded', 'running'])
              .whereNull('replay_of')
              .whereExists(db('core.customer_sources').whereRaw('core.customer_sources.run_id = audit.runs.run_id'))
              .orderBy([{ column: 'as_of', order: 'desc' }, { column: 'started_at', order: 'desc' }, { column: 'run_id', order: 'desc' }])
              .first('run_id', db.raw("to_char(as_of, 'YYYY-MM-DD') as as_of"))
          : pinned === null
            ? undefined
            : await db('audit.runs').where({ run_id: pinned }).first('run_id', db.raw("to_char(as_of, 'YYYY-MM-DD') as as_of"));
      if (pinned && !dataRun) throw ApplicationFailure.nonRetryable(`campaign ${campaign.id}: pinned data run ${pinned} is not in audit.runs`, ErrorType.InvalidInput);
      const isReplay = Boolean((await db('audit.runs').where({ run_id: runId }).first('replay_of'))?.replay_of);
      const dataRunId: string | null = dataRun?.run_id ?? null;
      const windowEnd = addDays(asOf, attributionDays);
      const observedThrough = dataRun && dataRun.as_of < windowEnd ? (dataRun.as_of as string) : dataRun ? windowEnd : asOf;
      const windowClosed = observedThrough >= windowEnd;
      const window: OutcomeWindow = { status: windowClosed ? 'final' : 'pending', finalOn: windowEnd, observedThrough };
      const params = { legacyTimezone: LEGACY_TIMEZONE, runId, campaignId: campaign.id, dataRun: dataRunId ?? '', sourceProduct: source.product, product: campaign.product, contactDay: asOf, observedThrough };

      const rows: ResultRow[] = await db.transaction(async (trx) => {
        await trx('campaign.outcomes').where({ run_id: runId, campaign_id: campaign.id }).delete();
        await trx.raw(ATTRIBUTE_SQL(source.table), params);
        await trx('campaign.outcome_labels').where({ run_id: runId, campaign_id: campaign.id }).delete();
        // A replay's contacts are its original's: labelled once, by the original, for training.
        if (!isReplay) await trx.raw(
          `insert into campaign.outcome_labels (run_id, campaign_id, golden_id, arm, product, channel, contacted_on, window_days, observed_through, converted, converted_at)
           select run_id, campaign_id, golden_id, arm, :product, channel, contacted_on, :windowDays, :observedThrough::date, converted, converted_at
           from campaign.outcomes where run_id = :runId and campaign_id = :campaignId`,
          { ...params, windowDays: attributionDays },
        );
        const counts = (await trx.raw(GROUPS_SQL, params)).rows as { dimension: ResultDimension; dimension_value: string; arm: string; contacts: number; conversions: number }[];
        const groups = new Map<string, ArmGroup>();
        for (const c of counts) {
          const key = `${c.dimension}\u0000${c.dimension_value}`;
          const group = groups.get(key) ?? { dimension: c.dimension, value: c.dimension_value, treatment: { contacts: 0, conversions: 0 }, control: { contacts: 0, conversions: 0 } };
          if (c.arm === 'treatment' || c.arm === 'control') group[c.arm] = { contacts: c.contacts, conversions: c.conversions };
          groups.set(key, group);
        }
        const resultRows = buildResultRows(campaign, [...groups.values()], window);
        await trx('campaign.results').where({ run_id: runId, campaign_id: campaign.id }).delete();
        if (resultRows.length) await trx('campaign.results').insert(resultRows.map((r) => ({ run_id: runId, ...r })));
        return resultRows;
      });

      const total = rows.find((r) => r.dimension === 'campaign');
      // No lift from an open window: the counts so far would read as a result.
      const lift = windowClosed
        ? computeLift({ contacts: total?.treatment_contacts ?? 0, conversions: total?.treatment_conversions ?? 0 }, { contacts: total?.control_contacts ?? 0, conversions: total?.control_conversions ?? 0 })
        : null;
      const outcome: CampaignOutcome = {
        campaignId: campaign.id, dataRunId, attributionDays, observedThrough, windowClosed, status: window.status, finalOn: windowEnd, lift,
        cost: total?.cost ?? 0, value: total?.value ?? null, incrementalValue: total?.incremental_value ?? null, roi: total?.roi ?? null, qiniCoefficient: total?.qini_coefficient ?? null,
      };
      await db('campaign.outcome_results').insert({ run_id: runId, campaign_id: campaign.id, data_as_of: dataRunId, result: JSON.stringify(outcome) }).onConflict(['run_id', 'campaign_id']).merge();

      await writeOutcomeFiles(deps, runId, startedAt);
      log.info({ run_id: runId, stage: 'outcomes', campaign_id: campaign.id, data_run_id: dataRunId, observed_through: observedThrough, status: window.status, lift: lift?.absoluteLift ?? null }, 'outcomes attributed');
      return outcome;
    },

    /**
     * The last step of a finished run: campaigns whose outcomes are not collected yet get a `pending` results row
     * (contacts and cost, conversions unknown, final on the contact date + window), then outcomes.parquet,
     * results.parquet, report.html and the manifest are written. Returns the manifest's sha256.
     */
    async writeRunReport({ runId }: { runId: string }): Promise<{ manifestSha256: string }> {
      const startedAt = new Date();
      const sha = await writeOutcomeFiles(deps, runId, startedAt, (trx) => recordUncollectedOutcomes(trx, runId));
      if (!sha) throw ApplicationFailure.nonRetryable(`run ${runId} has not succeeded; its report is written when it finishes`, ErrorType.InvalidInput);
      log.info({ run_id: runId, stage: 'outcomes', manifest_sha256: sha }, 'run report written');
      return { manifestSha256: sha };
    },
  };
}

/**
 * Writes outcomes.parquet and results.parquet for every campaign of the run measured so far (campaigns finish
 * independently) and, once the run has succeeded, its report.html and manifest; all under one lock per run.
 * `before` runs first inside the same transaction. Returns the new manifest sha256, null while the run is running.
 */
export async function writeOutcomeFiles(deps: ActivityDeps, runId: string, startedAt: Date, before?: (trx: Knex.Transaction) => Promise<void>): Promise<string | null> {
  const { db, env } = deps;
  const lock = (trx: Knex.Transaction) => trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`outcomes:${runId}`]);
  // Committed before the snapshots are written: the snapshot writer reads on a connection of its own (COPY).
  if (before)
    await db.transaction(async (trx) => {
      await lock(trx);
      await before(trx);
    });
  return db.transaction(async (trx) => {
    await lock(trx);
    const runDir = runSnapshotDir(env.snapshotDir, runId);
    const [outcomesFile, resultsFile] = await snapshotRun(deps, runId, [outcomesSnapshot, resultsSnapshot], trx);
    const results = await trx('campaign.outcome_results').where({ run_id: runId }).orderBy('campaign_id');
    const pending = await trx('campaign.results').where({ run_id: runId, dimension: 'campaign', status: 'pending' }).orderBy('campaign_id').select('campaign_id', trx.raw("to_char(final_on, 'YYYY-MM-DD') as final_on"));
    const run = await trx('audit.runs').where({ run_id: runId }).first('status');
    const files: SnapshotFile[] = [outcomesFile!, resultsFile!];
    // The report of a finished run goes with its outcomes: written again whenever they change, listed in the manifest.
    if (run?.status === 'succeeded') files.push(await writeRunReportFile(trx, runDir, runId));
    const details = { campaigns: Object.fromEntries(results.map((r) => [r.campaign_id, r.result])), pending: Object.fromEntries(pending.map((p) => [p.campaign_id, { finalOn: p.final_on }])) };
    await recordStage(trx, runId, { stage: 'outcomes', rows: outcomesFile!.rows, files, details }, startedAt);
    // Still under the lock: another campaign of the run must not rewrite the files while the manifest hashes them.
    if (run?.status !== 'succeeded') return null;
    const sha = await writeManifest({ ...deps, db: trx }, runId);
    await trx('audit.runs').where({ run_id: runId }).update({ manifest_sha256: sha });
    return sha;
  });
}

/** A `pending` campaign row for each dispatched campaign of the run whose outcomes were never collected. */
async function recordUncollectedOutcomes(trx: Knex.Transaction, runId: string): Promise<void> {
  const run = await trx('audit.runs').where({ run_id: runId }).first('config', trx.raw("to_char(as_of, 'YYYY-MM-DD') as as_of"));
  const config = run.config as { campaigns?: CampaignConfig[]; outcomes?: { attributionWindow?: string } };
  const windowDays = Math.floor(durationMs(config.outcomes?.attributionWindow ?? '30d') / 86_400_000);
  const counts = (await trx.raw(
    `select campaign_id, count(*) filter (where arm = 'treatment')::int as treatment, count(*) filter (where arm = 'control')::int as control
     from campaign.dispatch d where run_id = ? and not exists (select 1 from campaign.outcome_results o where o.run_id = d.run_id and o.campaign_id = d.campaign_id)
     group by campaign_id order by campaign_id`,
    [runId],
  )).rows as { campaign_id: string; treatment: number; control: number }[];
  for (const c of counts) {
    const campaign = config.campaigns?.find((x) => x.id === c.campaign_id);
    if (!campaign) continue;
    await trx('campaign.results').where({ run_id: runId, campaign_id: c.campaign_id }).delete();
    await trx('campaign.results').insert({ run_id: runId, ...uncollectedResultRow(campaign, c, addDays(run.as_of, windowDays)) });
  }
}
