import type { Knex } from 'knex';
import type { ResultRow } from '../transforms/outcomeResults';

export interface OutcomeReport {
  runId: string;
  asOf: string;
  campaigns: Array<{
    campaignId: string;
    dataRunId: string | null;
    observedThrough: string | null;
    windowClosed: boolean | null;
    attributionDays: number | null;
    /** final, or pending (window open or outcomes not collected) until finalOn: then no lift or ROI. */
    status: 'final' | 'pending';
    finalOn: string | null;
    rows: ResultRow[];
  }>;
}

/** The outcome table of a run (campaign.results), per campaign; null when the run does not exist. */
export async function outcomeReport(db: Knex, runId: string): Promise<OutcomeReport | null> {
  const run = await db('audit.runs').where({ run_id: runId }).first('run_id', db.raw("to_char(as_of, 'YYYY-MM-DD') as as_of"));
  if (!run) return null;
  const rows = (await db('campaign.results')
    .where({ run_id: runId })
    .orderByRaw(`campaign_id, array_position(array['campaign','segment','channel','score_decile']::text[], dimension), case when dimension = 'score_decile' then lpad(dimension_value, 3, '0') else dimension_value end`)) as (ResultRow & { run_id: string })[];
  const meta = await db('campaign.outcome_results').where({ run_id: runId }).orderBy('campaign_id');
  const ids = [...new Set([...meta.map((m) => m.campaign_id as string), ...rows.map((r) => r.campaign_id)])].sort();
  return {
    runId,
    asOf: run.as_of,
    campaigns: ids.map((id) => {
      const m = meta.find((x) => x.campaign_id === id)?.result ?? {};
      const total = rows.find((r) => r.campaign_id === id && r.dimension === 'campaign');
      return {
        campaignId: id,
        dataRunId: m.dataRunId ?? null,
        observedThrough: m.observedThrough ?? null,
        windowClosed: m.windowClosed ?? null,
        attributionDays: m.attributionDays ?? null,
        status: total?.status ?? 'pending',
        finalOn: total?.final_on ?? m.finalOn ?? null,
        rows: rows.filter((r) => r.campaign_id === id).map(({ run_id: _run, ...r }) => r),
      };
    }),
  };
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(2)}%`);
const ci = (lo: number | null, hi: number | null) => (lo === null || hi === null ? '' : `[${pct(lo)}, ${pct(hi)}]`);
const num = (x: number | null, digits = 1) => (x === null ? 'n/a' : x.toFixed(digits));

export function printOutcomeReport(report: OutcomeReport, write: (line: string) => void): void {
  write(`Outcomes of run ${report.runId} (as of ${report.asOf})`);
  if (!report.campaigns.length) write('  no outcomes collected yet (the attribution window may still be open)');
  for (const c of report.campaigns) {
    write('');
    if (c.status === 'pending') {
      const total = c.rows.find((r) => r.dimension === 'campaign');
      const seen = c.observedThrough ? `conversions seen through ${c.observedThrough}: ${total?.treatment_conversions ?? '?'} treatment, ${total?.control_conversions ?? '?'} control` : 'outcomes not collected yet';
      write(`${c.campaignId}: PENDING until ${c.finalOn ?? '?'} (${seen}); contacts ${total?.treatment_contacts ?? 0} treatment, ${total?.control_contacts ?? 0} control, cost ${num(total?.cost ?? null, 2)}; no lift or ROI before the window closes`);
      continue;
    }
    write(`${c.campaignId}: window ${c.attributionDays ?? '?'} d, conversions seen through ${c.observedThrough ?? '?'} (run ${c.dataRunId ?? 'none'})`);
    write(`  ${'breakdown'.padEnd(30)} ${'treated'.padStart(8)} ${'conv'.padStart(5)} ${'rate'.padStart(7)} ${'control'.padStart(8)} ${'conv'.padStart(5)} ${'rate'.padStart(7)}  ${'abs lift [95% Newcombe]'.padEnd(34)} ${'rel lift [95% Katz]'.padEnd(34)} ${'incr'.padStart(6)} ${'cost'.padStart(9)} ${'value'.padStart(10)} ${'ROI'.padStart(7)}  uplift@k  Qini`);
    for (const r of c.rows) {
      const label = r.dimension === 'campaign' ? 'all contacts' : `${r.dimension}=${r.dimension_value}`;
      const abs = `${pct(r.absolute_lift)} ${ci(r.absolute_lift_newcombe_lo, r.absolute_lift_newcombe_hi)}`;
      const rel = `${pct(r.relative_lift)} ${ci(r.relative_lift_lo, r.relative_lift_hi)}`;
      const tail = r.dimension === 'score_decile' ? `  ${pct(r.uplift_at_k).padStart(8)}  ${num(r.qini)}` : r.dimension === 'campaign' ? `  Qini coefficient ${num(r.qini_coefficient, 4)}` : '';
      write(
        `  ${label.padEnd(30)} ${String(r.treatment_contacts).padStart(8)} ${String(r.treatment_conversions).padStart(5)} ${pct(r.treatment_rate).padStart(7)} ${String(r.control_contacts).padStart(8)} ${String(r.control_conversions).padStart(5)} ${pct(r.control_rate).padStart(7)}  ${abs.padEnd(34)} ${rel.padEnd(34)} ${num(r.incremental_conversions).padStart(6)} ${num(r.cost, 2).padStart(9)} ${num(r.value, 0).padStart(10)} ${num(r.roi, 2).padStart(7)}${tail}`,
      );
    }
  }
}
