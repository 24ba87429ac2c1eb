import type { Knex } from 'knex';
import { STAGES } from '../shared';

export interface RunSummary {
  run_id: string;
  as_of: string;
  status: string;
  error: string | null;
  code_version: string;
  config_sha256: string;
  seed: number;
  model_versions: Record<string, string>;
  snapshot_dir: string;
  manifest_sha256: string | null;
  started_at: string;
  finished_at: string | null;
  stages: { stage: string; rows: number; seconds: number; files: string[] }[];
  sources: Record<string, { rows_in: number; loaded: number; quarantined: number }>;
  quarantine_reasons: Record<string, number>;
  segments: Record<string, number>;
  dispatch: Record<string, { treatment: number; control: number }>;
  excluded: Record<string, Record<string, number>>;
  outcomes: Record<string, unknown>;
  /** Per dispatched campaign: final, or pending (window open or outcomes not collected) until final_on. */
  outcome_status: Record<string, { status: 'final' | 'pending'; final_on: string; observed_through: string | null }>;
}

/** Everything an operator asks about one run, read from the audit and ledger tables. */
export async function runSummary(db: Knex, runId: string): Promise<RunSummary | null> {
  const run = await db('audit.runs').where({ run_id: runId }).first();
  if (!run) return null;
  const stageRows = await db('audit.stage_runs').where({ run_id: runId });
  stageRows.sort((a, b) => STAGES.indexOf(a.stage) - STAGES.indexOf(b.stage));
  const sources = await db('audit.source_loads').where({ run_id: runId }).orderBy('source');
  const reasons = await db('audit.quarantine').where({ run_id: runId }).select('source', 'reason_code').count('* as n').groupBy('source', 'reason_code').orderBy(['source', 'reason_code']);
  const segments = await db('mart.segments').where({ run_id: runId }).select('segment').count('* as n').groupBy('segment').orderBy('n', 'desc');
  const dispatch = await db('campaign.dispatch').where({ run_id: runId }).select('campaign_id', 'arm').count('* as n').groupBy('campaign_id', 'arm').orderBy(['campaign_id', 'arm']);
  const excluded = await db('campaign.eligibility').where({ run_id: runId, eligible: false }).select('campaign_id', 'reason').count('* as n').groupBy('campaign_id', 'reason').orderBy(['campaign_id', 'reason']);
  const outcomes = await db('campaign.outcome_results').where({ run_id: runId }).orderBy('campaign_id');
  const statuses = await db('campaign.results').where({ run_id: runId, dimension: 'campaign' }).orderBy('campaign_id').select('campaign_id', 'status', 'final_on', 'observed_through');
  const dispatchByCampaign: RunSummary['dispatch'] = {};
  for (const r of dispatch) {
    const entry = (dispatchByCampaign[r.campaign_id] ??= { treatment: 0, control: 0 });
    entry[r.arm as 'treatment' | 'control'] = Number(r.n);
  }
  const excludedByCampaign: RunSummary['excluded'] = {};
  for (const r of excluded) (excludedByCampaign[r.campaign_id] ??= {})[r.reason] = Number(r.n);
  return {
    run_id: run.run_id,
    as_of: run.as_of,
    status: run.status,
    error: run.error,
    code_version: run.code_version,
    config_sha256: run.config_sha256,
    seed: Number(run.seed),
    model_versions: run.model_versions,
    snapshot_dir: run.snapshot_dir,
    manifest_sha256: run.manifest_sha256,
    started_at: new Date(run.started_at).toISOString(),
    finished_at: run.finished_at ? new Date(run.finished_at).toISOString() : null,
    stages: stageRows.map((s) => ({ stage: s.stage, rows: Number(s.rows), seconds: Number((s.duration_ms / 1000).toFixed(2)), files: (s.files as { path: string }[]).map((f) => f.path) })),
    sources: Object.fromEntries(sources.map((s) => [s.source, { rows_in: Number(s.rows_in), loaded: Number(s.loaded), quarantined: Number(s.quarantined) }])),
    quarantine_reasons: Object.fromEntries(reasons.map((r) => [`${r.source}/${r.reason_code}`, Number(r.n)])),
    segments: Object.fromEntries(segments.map((s) => [s.segment, Number(s.n)])),
    dispatch: dispatchByCampaign,
    excluded: excludedByCampaign,
    outcomes: Object.fromEntries(outcomes.map((o) => [o.campaign_id, o.result])),
    outcome_status: Object.fromEntries(statuses.map((r) => [r.campaign_id, { status: r.status, final_on: r.final_on, observed_through: r.observed_through }])),
  };
}

export function printSummary(s: RunSummary): void {
  const w = (line = '') => process.stdout.write(line + '\n');
  w(`Run ${s.run_id}  as of ${s.as_of}  status ${s.status.toUpperCase()}`);
  if (s.error) w(`  error: ${s.error}`);
  w(`  code ${s.code_version}  config ${s.config_sha256.slice(0, 12)}  seed ${s.seed}  models ${Object.entries(s.model_versions).map(([p, v]) => `${p}=${v}`).join(', ') || '-'}`);
  w(`  snapshots ${s.snapshot_dir}${s.manifest_sha256 ? `  (manifest sha256 ${s.manifest_sha256.slice(0, 16)}…)` : ''}`);
  w();
  w('Stages                rows     seconds  files');
  for (const st of s.stages) w(`  ${st.stage.padEnd(12)} ${String(st.rows).padStart(10)} ${st.seconds.toFixed(2).padStart(10)}  ${st.files.join(', ')}`);
  w();
  w('Sources            rows in     loaded  quarantined');
  for (const [name, src] of Object.entries(s.sources)) w(`  ${name.padEnd(16)} ${String(src.rows_in).padStart(9)} ${String(src.loaded).padStart(10)} ${String(src.quarantined).padStart(12)}`);
  if (Object.keys(s.quarantine_reasons).length) {
    w('  quarantined by reason: ' + Object.entries(s.quarantine_reasons).map(([k, n]) => `${k}=${n}`).join(', '));
  }
  w();
  w('Segments');
  for (const [seg, n] of Object.entries(s.segments)) w(`  ${seg.padEnd(24)} ${String(n).padStart(8)}`);
  w();
  w('Dispatch             treatment   control   excluded by reason');
  for (const [c, d] of Object.entries(s.dispatch)) {
    const ex = Object.entries(s.excluded[c] ?? {}).map(([r, n]) => `${r}=${n}`).join(', ');
    w(`  ${c.padEnd(16)} ${String(d.treatment).padStart(11)} ${String(d.control).padStart(9)}   ${ex}`);
  }
  const outcomeIds = [...new Set([...Object.keys(s.outcome_status), ...Object.keys(s.outcomes)])].sort();
  if (outcomeIds.length) {
    w();
    w('Outcomes (conversion rate treatment vs control, absolute lift with 95% Newcombe CI; portrait report RUN_ID for the breakdowns)');
    const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(2)}%`);
    for (const c of outcomeIds) {
      const st = s.outcome_status[c];
      const r = s.outcomes[c] as { lift: { treatment: { rate: number | null }; control: { rate: number | null }; absoluteLift: number | null; absoluteLiftCi95: [number, number] | null; absoluteLiftNewcombeCi95?: [number, number] | null } | null; roi: number | null; attributionDays: number } | undefined;
      // No lift from an open window or uncollected outcomes: the date it becomes final instead.
      if (st?.status === 'pending' || !r?.lift) {
        w(`  ${c.padEnd(16)} PENDING until ${st?.final_on ?? '?'}${st?.observed_through ? ` (observed through ${st.observed_through})` : ' (outcomes not collected yet)'}`);
        continue;
      }
      // The same interval as portrait report; runs stored before it had only the Wald interval.
      const interval = r.lift.absoluteLiftNewcombeCi95 ?? r.lift.absoluteLiftCi95;
      const ci = interval ? `[${pct(interval[0])}, ${pct(interval[1])}]` : '';
      w(`  ${c.padEnd(16)} ${pct(r.lift.treatment.rate)} vs ${pct(r.lift.control.rate)}  lift ${pct(r.lift.absoluteLift)} ${ci}  ROI ${r.roi === null ? 'n/a' : r.roi.toFixed(2)}  (window ${r.attributionDays} d)`);
    }
  }
}
