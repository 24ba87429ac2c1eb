/**
 * Benchmark of entity resolution: `npm run bench:er -- [--customers N] [--seed S]` (default 20,000). Prints one
 * JSON object. Extracts are generated at the default dirt rates (or `--dirt name=rate,…`) (cached under PORTRAIT_HOME/bench), customers.csv
 * is landed into a dedicated database, the clean stage runs as the daily run calls it, and its lineage is
 * scored against the generator's ground_truth.csv: pairwise precision and recall. A second run of the next day on
 * the same records measures golden-id stability.
 */
import { existsSync } from 'node:fs';
import { ensureLandingPartition } from '../db/landing';
import { knexRunner } from '../activities/pg';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { generateSourceExtracts } from '../generator/generate';
import { createActivities } from '../activities';
import type { StageResult } from '../shared';
import { openBenchDatabase, printBenchResult } from './benchDatabase';
import { landGeneratedCustomers, measureAgainstGroundTruth } from './groundTruth';

const AS_OF = '2026-11-20';
const NEXT_DAY = '2026-11-21';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { customers: { type: 'string', default: '20000' }, seed: { type: 'string', default: '1' }, dirt: { type: 'string', default: '' } } });
  const customers = Number(values.customers);
  const seed = Number(values.seed);
  // --dirt invalidIdChecksum=0.2,crossSystemDuplicate=0.3 : harsher than the defaults (the generator validates names and ranges).
  const dirt = Object.fromEntries(values.dirt.split(',').filter(Boolean).map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])]));
  const dirtLabel = values.dirt === '' ? 'default' : values.dirt;
  const { env, log, pg, url, db } = await openBenchDatabase(`portrait_bench_er_n${customers}`, 4);

  const dir = path.join(env.home, 'bench', `er-n${customers}-s${seed}${values.dirt === '' ? '' : `-${values.dirt.replace(/[^a-zA-Z0-9.]+/g, '_')}`}`);
  const t0 = now();
  if (!existsSync(path.join(dir, 'generate-summary.json'))) await generateSourceExtracts({ customers, seed, outDir: dir, asOf: AS_OF, dirt });
  const generateSeconds = now() - t0;

  const activities = createActivities({ db, databaseUrl: url, log, env, codeVersion: 'bench' });
  const act = new MockActivityEnvironment();
  const run = async (runId: string, asOf: string) => {
    await db('audit.runs').insert({ run_id: runId, as_of: asOf, input_dir: dir, config_sha256: 'bench', config: '{}', code_version: 'bench', seed, status: 'running', snapshot_dir: path.join(env.snapshotDir, runId), started_at: new Date() });
    const t = now();
    const stage = (await act.run(activities.cleanCustomers, { runId })) as StageResult;
    const seconds = now() - t;
    await db('audit.runs').where({ run_id: runId }).update({ status: 'succeeded', finished_at: new Date() });
    return { stage, seconds };
  };

  const t1 = now();
  const landed = await landGeneratedCustomers(db, 'bench-er-1', dir);
  const landSeconds = now() - t1;
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const first = await run('bench-er-1', AS_OF);
  clearInterval(sampler);
  const measured = await measureAgainstGroundTruth(db, 'bench-er-1', dir);

  // The next day on the same records: every source key should keep its golden id.
  await ensureLandingPartition(knexRunner(db), 'customers', 'bench-er-2');
  await db.raw(
    `insert into landing.customers select 'bench-er-2', row_number, source_system, customer_key, name, id_number, phone, birth_date, gender, city, occupation, annual_income, opened_at
     from landing.customers where run_id = 'bench-er-1'`,
  );
  const second = await run('bench-er-2', NEXT_DAY);
  const [stability] = (
    await db.raw(`select count(*)::int as keys, count(*) filter (where a.golden_id = b.golden_id)::int as same
                  from core.customer_sources a join core.customer_sources b using (source_system, customer_key)
                  where a.run_id = 'bench-er-1' and b.run_id = 'bench-er-2'`)
  ).rows;

  const details = first.stage.details as Record<string, unknown>;
  const result = {
    bench: 'er',
    customers,
    seed,
    dirt: dirtLabel,
    customers_csv_rows: landed.rows_in,
    source_records: landed.landed,
    persons: measured.persons,
    golden_customers: measured.golden_customers,
    precision: round(measured.precision, 5),
    recall: round(measured.recall, 5),
    true_pairs: measured.true_pairs,
    predicted_pairs: measured.predicted_pairs,
    correct_pairs: measured.correct_pairs,
    candidate_pairs: details.candidate_pairs,
    scored_links: details.scored_links,
    match_rules: details.match_rules,
    findings: details.findings,
    generate_seconds: round(generateSeconds),
    land_seconds: round(landSeconds),
    clean_seconds: round(first.seconds),
    clean_records_per_second: Math.round(landed.landed / first.seconds),
    clean_phase_seconds: details.phase_seconds,
    next_day: { clean_seconds: round(second.seconds), clean_phase_seconds: (second.stage.details as Record<string, unknown>).phase_seconds, keys: stability.keys, same_golden_id: stability.same, identity_changes: (second.stage.details as Record<string, unknown>).identity_changes },
    worker_peak_rss_mb: Math.round(peakRss / 1e6),
  };
  await printBenchResult({ db, pg }, result);
}

const now = () => performance.now() / 1000;
const round = (x: number, digits = 3) => Number(x.toFixed(digits));

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:er: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
