import type { Knex } from 'knex';
import { LEGACY_TIMEZONE } from '../config/schema';
import { POLICY_ORDER } from '../transforms/policies';
import { RESULT_DIMENSIONS, type ResultRow } from '../transforms/outcomeResults';

/**
 * Everything report.html shows, read as aggregates: SQL does every grouping and count, so what reaches Node is a
 * few hundred small rows whatever the number of customers. Numbers come from PostgreSQL tables (not the Parquet
 * snapshots), and every list is sorted, so the same run gives the same report.
 */
export interface ReportData {
  run: {
    runId: string; asOf: string; status: string; codeVersion: string; configSha256: string; seed: number; timezone: string;
    modelVersions: Record<string, string>; customers: number;
  };
  sources: { source: string; rowsIn: number; loaded: number; quarantined: number }[];
  quarantineReasons: { reason: string; rows: number }[];
  gates: { total: number; pass: number; warn: number; fail: number; flagged: { source: string; check: string; status: string; severity: string; measured: number | null; threshold: number }[] };
  segments: { segment: string; name: string; priority: number; size: number; members: number; share: number; distinguishing: { tag: string; segment_mean: number; population_mean: number; smd: number }[] }[];
  base: { aum: Dist; lifecycle: Dist; age: Dist; rfm: { r: number; f: number; customers: number }[] };
  models: ModelReport[];
  campaigns: CampaignReport[];
  outcomes: OutcomeReport[];
  history: { campaignId: string; points: { runId: string; asOf: string; treatment: number; control: number; status: string | null; absoluteLift: number | null }[] }[];
}

export type Dist = { value: string; customers: number }[];

export interface ModelReport {
  product: string;
  version: string;
  auc: number | null;
  holdoutRows: number | null;
  roc: [number, number][] | null;
  gains: { decile: number; rows: number; rate: number; lift: number; cumulativeCapture: number }[];
  calibration: { lower: number; upper: number; rows: number; meanPredicted: number | null; observedRate: number | null }[];
  importance: { feature: string; importance: number }[];
  /** The candidate trained by this run and what became of it; null when nothing was trained. */
  decision: { candidate: string; event: string; reason: string; candidateAuc: number | null; championAuc: number | null; champion: string | null; holdoutRows: number | null } | null;
}

export interface CampaignReport {
  id: string; name: string; product: string; channel: string;
  evaluated: number; eligible: number; selected: number; treatment: number; control: number;
  /** Excluded customers by first failed policy, in policy order. */
  exclusions: { reason: string; customers: number }[];
}

export interface OutcomeReport {
  campaignId: string;
  status: 'final' | 'pending';
  finalOn: string;
  observedThrough: string | null;
  rows: ResultRow[];
}

interface RunConfig {
  timezone?: string;
  campaigns?: { id: string; name: string; product: string; channel: string }[];
  segments?: { id: string; name: string }[];
}

const HISTORY_RUNS = 30;
const num = (v: unknown): number => Number(v ?? 0);
const nullableNum = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** Reads the aggregates of one run; null when the run does not exist. */
export async function loadReportData(db: Knex, runId: string): Promise<ReportData | null> {
  const run = await db('audit.runs').where({ run_id: runId }).first('run_id', 'status', 'code_version', 'config_sha256', 'seed', 'config', 'model_versions', 'replay_of', db.raw("to_char(as_of, 'YYYY-MM-DD') as as_of"));
  if (!run) return null;
  // A replay reproduces its original's report: it names the run it re-executes, and the model decisions are that
  // run's (the replay scores with the models it pinned, it trains none).
  const shownId: string = run.replay_of ?? runId;
  const config = run.config as RunConfig;
  const p = { runId };

  const [customers, sources, reasons, checks, profiles, baseRows] = await all(db, [
    db('core.customers').where({ run_id: runId }).count<{ n: string }[]>('* as n'),
    db('audit.source_loads').where({ run_id: runId }).orderBy('source').select('source', 'rows_in', 'loaded', 'quarantined'),
    db('audit.quarantine').where({ run_id: runId }).select('reason_code').count('* as n').groupBy('reason_code').orderBy([{ column: 'n', order: 'desc' }, 'reason_code']),
    db('audit.quality_checks').where({ run_id: runId }).orderBy(['source', 'check_name']).select('source', 'check_name', 'status', 'severity', 'measured', 'threshold'),
    db('mart.segment_profiles').where({ run_id: runId }).orderBy('priority').select('segment', 'priority', 'primary_size', 'members', 'share', 'distinguishing'),
    // One scan of the tags for every distribution.
    db.raw(
      `select aum_band, lifecycle, age_band, rfm_recency_score as r, rfm_frequency_score as f, grouping(aum_band) as g_aum, grouping(lifecycle) as g_life, grouping(age_band) as g_age, count(*)::int as n
       from mart.tags where run_id = :runId
       group by grouping sets ((aum_band), (lifecycle), (age_band), (rfm_recency_score, rfm_frequency_score))`,
      p,
    ),
  ]);

  const tagRows = baseRows.rows as { aum_band: string | null; lifecycle: string | null; age_band: string | null; r: number | null; f: number | null; g_aum: number; g_life: number; g_age: number; n: number }[];
  const dist = (pick: (r: (typeof tagRows)[number]) => string | null, grouped: (r: (typeof tagRows)[number]) => boolean): Dist =>
    tagRows.filter(grouped).map((r) => ({ value: pick(r) ?? '', customers: r.n }));
  const base = {
    aum: dist((r) => r.aum_band, (r) => r.g_aum === 0),
    lifecycle: dist((r) => r.lifecycle, (r) => r.g_life === 0),
    age: dist((r) => r.age_band, (r) => r.g_age === 0),
    rfm: tagRows.filter((r) => r.g_aum === 1 && r.g_life === 1 && r.g_age === 1 && r.r !== null && r.f !== null).map((r) => ({ r: Number(r.r), f: Number(r.f), customers: r.n })).sort((a, b) => a.r - b.r || a.f - b.f),
  };

  const segmentNames = new Map((config.segments ?? []).map((s) => [s.id, s.name]));
  const gateCounts = { pass: 0, warn: 0, fail: 0 } as Record<string, number>;
  for (const c of checks) gateCounts[c.status] = (gateCounts[c.status] ?? 0) + 1;

  return {
    run: {
      runId: shownId, asOf: run.as_of, status: run.status, codeVersion: run.code_version, configSha256: run.config_sha256, seed: num(run.seed), timezone: config.timezone ?? LEGACY_TIMEZONE,
      modelVersions: sortedRecord(run.model_versions ?? {}), customers: num(customers[0]?.n),
    },
    sources: sources.map((s) => ({ source: s.source, rowsIn: num(s.rows_in), loaded: num(s.loaded), quarantined: num(s.quarantined) })),
    quarantineReasons: reasons.map((r) => ({ reason: String(r.reason_code), rows: num(r.n) })),
    gates: {
      total: checks.length, pass: gateCounts.pass ?? 0, warn: gateCounts.warn ?? 0, fail: gateCounts.fail ?? 0,
      flagged: checks.filter((c) => c.status !== 'pass').map((c) => ({ source: c.source, check: c.check_name, status: c.status, severity: c.severity, measured: nullableNum(c.measured), threshold: num(c.threshold) })),
    },
    segments: profiles.map((s) => ({
      segment: s.segment, name: segmentNames.get(s.segment) ?? s.segment, priority: num(s.priority), size: num(s.primary_size), members: num(s.members), share: num(s.share),
      distinguishing: (s.distinguishing ?? []) as ReportData['segments'][number]['distinguishing'],
    })),
    base,
    models: await loadModels(db, shownId, sortedRecord(run.model_versions ?? {})),
    campaigns: await loadCampaigns(db, runId, config),
    outcomes: await loadOutcomes(db, runId),
    history: await loadHistory(db, runId, shownId, run.as_of),
  };
}

function sortedRecord(r: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

async function loadModels(db: Knex, runId: string, versions: Record<string, string>): Promise<ModelReport[]> {
  const used = await db('audit.models').whereIn('model_version', Object.values(versions)).select('model_version', 'product', 'metrics');
  const trained = await db('audit.models').where({ trained_by_run: runId }).select('model_version', 'product');
  const events = await db('audit.model_events').where({ run_id: runId }).whereIn('event', ['promoted', 'kept_champion']).orderBy('event_id').select('model_version', 'product', 'event', 'reason', 'candidate_auc', 'champion_auc', 'champion_version', 'holdout_rows');
  return Object.entries(versions).map(([product, version]) => {
    const m = used.find((u) => u.model_version === version)?.metrics ?? {};
    const h = m.holdout ?? {};
    const candidate = trained.find((t) => t.product === product);
    const event = events.filter((e) => e.product === product).at(-1);
    return {
      product,
      version,
      auc: nullableNum(h.auc ?? m.holdout_auc),
      holdoutRows: nullableNum(h.rows),
      roc: Array.isArray(h.roc) ? h.roc : null,
      gains: (h.gains ?? []).map((g: Record<string, number>) => ({ decile: g.decile, rows: g.rows, rate: g.rate, lift: g.lift, cumulativeCapture: g.cumulativeCapture })),
      calibration: (h.calibration ?? []).map((c: Record<string, number | null>) => ({ lower: c.lower, upper: c.upper, rows: c.rows, meanPredicted: finiteOrNull(c.meanPredicted), observedRate: finiteOrNull(c.observedRate) })),
      importance: [...(m.feature_importance ?? [])].sort((a: { importance: number; feature: string }, b: { importance: number; feature: string }) => b.importance - a.importance || (a.feature < b.feature ? -1 : 1)).slice(0, 10),
      decision: candidate && event
        ? { candidate: candidate.model_version, event: event.event, reason: event.reason, candidateAuc: nullableNum(event.candidate_auc), championAuc: nullableNum(event.champion_auc), champion: event.champion_version, holdoutRows: nullableNum(event.holdout_rows) }
        : null,
    } as ModelReport;
  });
}

/**
 * The queries at once on a pool; one after another on a transaction (writeRunReport reads inside the one that
 * commits the report), whose single connection takes one query at a time.
 */
async function all<T extends readonly unknown[]>(db: Knex, queries: readonly [...T]): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  if (!db.isTransaction) return Promise.all(queries) as Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }>;
  const results: unknown[] = [];
  for (const query of queries) results.push(await query);
  return results as { -readonly [K in keyof T]: Awaited<T[K]> };
}

function finiteOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

async function loadCampaigns(db: Knex, runId: string, config: RunConfig): Promise<CampaignReport[]> {
  const [funnel, exclusions, arms] = await all(db, [
    db.raw(
      `select campaign_id, count(*)::int as evaluated, count(*) filter (where eligible or reason in ('arbitration', 'over_budget'))::int as eligible, count(*) filter (where eligible)::int as selected
       from campaign.eligibility where run_id = ? group by campaign_id order by campaign_id`,
      [runId],
    ),
    db('campaign.eligibility').where({ run_id: runId, eligible: false }).select('campaign_id', 'reason').count('* as n').groupBy('campaign_id', 'reason'),
    db('campaign.dispatch').where({ run_id: runId }).select('campaign_id', 'arm').count('* as n').groupBy('campaign_id', 'arm'),
  ]);
  const configured = new Map((config.campaigns ?? []).map((c) => [c.id, c]));
  return (funnel.rows as { campaign_id: string; evaluated: number; eligible: number; selected: number }[]).map((f) => {
    const c = configured.get(f.campaign_id);
    const arm = (a: string) => num(arms.find((x) => x.campaign_id === f.campaign_id && x.arm === a)?.n);
    return {
      id: f.campaign_id, name: c?.name ?? f.campaign_id, product: c?.product ?? '', channel: c?.channel ?? '',
      evaluated: f.evaluated, eligible: f.eligible, selected: f.selected, treatment: arm('treatment'), control: arm('control'),
      exclusions: POLICY_ORDER.map((reason) => ({ reason: reason as string, customers: num(exclusions.find((e) => e.campaign_id === f.campaign_id && e.reason === reason)?.n) })).filter((e) => e.customers > 0),
    };
  });
}

async function loadOutcomes(db: Knex, runId: string): Promise<OutcomeReport[]> {
  const rows = (await db('campaign.results')
    .where({ run_id: runId })
    .orderByRaw(`campaign_id, array_position(array[${RESULT_DIMENSIONS.map(() => '?').join(',')}]::text[], dimension), case when dimension = 'score_decile' then lpad(dimension_value, 3, '0') else dimension_value end`, [...RESULT_DIMENSIONS])) as (ResultRow & { run_id: string })[];
  const ids = [...new Set(rows.map((r) => r.campaign_id))];
  return ids.map((id) => {
    const own = rows.filter((r) => r.campaign_id === id).map(({ run_id: _run, ...r }) => r as ResultRow);
    const total = own.find((r) => r.dimension === 'campaign') ?? own[0]!;
    return { campaignId: id, status: total.status, finalOn: total.final_on, observedThrough: total.observed_through, rows: own };
  });
}

/**
 * The run's campaigns over the latest HISTORY_RUNS succeeded runs up to this one (one per as-of date): contacts from
 * each run's dispatch stage record, lift from its results. Bounded, so the report does not grow with past runs.
 */
async function loadHistory(db: Knex, runId: string, shownId: string, asOf: string): Promise<ReportData['history']> {
  // Runs registered before this one (a replay carries its original's registration time), replays excepted: the
  // history as the run saw it, so a replay's report shows the same runs as its original's.
  const runs = (await db.raw(
    `select run_id, as_of, details from (
       select distinct on (r.as_of) r.run_id, to_char(r.as_of, 'YYYY-MM-DD') as as_of, s.details
       from audit.runs r join audit.stage_runs s on s.run_id = r.run_id and s.stage = 'dispatch'
       cross join (select coalesce(suppressions_as_of, started_at) as registered from audit.runs where run_id = ?) me
       where r.as_of <= ?::date and ((r.status = 'succeeded' and r.replay_of is null and coalesce(r.suppressions_as_of, r.started_at) <= me.registered) or r.run_id = ?)
       order by r.as_of desc, (r.run_id = ?) desc, r.started_at desc, r.run_id
     ) x order by as_of desc limit ${HISTORY_RUNS}`,
    [runId, asOf, runId, runId],
  )).rows as { run_id: string; as_of: string; details: { campaigns?: Record<string, { treatment: number; control: number }> } }[];
  runs.reverse();
  const own = runs.find((r) => r.run_id === runId)?.details.campaigns ?? {};
  const ids = Object.keys(own).sort();
  if (!ids.length) return [];
  const results = await db('campaign.results').whereIn('run_id', runs.map((r) => r.run_id)).whereIn('campaign_id', ids).where({ dimension: 'campaign' }).select('run_id', 'campaign_id', 'status', 'absolute_lift');
  return ids.map((id) => ({
    campaignId: id,
    points: runs
      .filter((r) => r.details.campaigns?.[id])
      .map((r) => {
        const res = results.find((x) => x.run_id === r.run_id && x.campaign_id === id);
        return { runId: r.run_id === runId ? shownId : r.run_id, asOf: r.as_of, treatment: num(r.details.campaigns![id]!.treatment), control: num(r.details.campaigns![id]!.control), status: res?.status ?? null, absoluteLift: res?.status === 'final' ? nullableNum(res.absolute_lift) : null };
      }),
  }));
}
