/**
 * Benchmark of the score stage's shard scoring (activities/score.ts scoreShard) on generated tags.
 *
 *   npm run -s bench:score -- [--customers 1000000] [--shards 4] [--train-rows 20000] [--trees 100] [--database portrait_bench_score]
 *
 * A fresh database gets `--customers` deterministic tag rows (every mart.tags column: 5 % nulls in nullable columns,
 * negative and tiny (exponent-printed) doubles, category levels with a tab and a backslash); a forest with the daily
 * run's parameters (trees, depth 12, min leaf 20, balanced, sqrt) is trained on the first `--train-rows` rows with a
 * deterministic label; then every shard is scored at once through the activity, as the daily workflow does. Prints
 * one JSON: seconds, process CPU seconds (all threads), peak RSS, load averages, and `scores_md5` — the md5 of every
 * mart.scores row in golden_id order, which must not change when the scoring code changes.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import { performance } from 'perf_hooks';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createScoreActivities } from '../activities/score';
import { modelFeatures } from '../activities/modelRegistry';
import { trainHistForest } from '../models/histForest';
import { openBenchDatabase, printBenchResult } from './benchDatabase';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

const RUN_ID = '20261120-bench-score';

/** One SQL expression per mart.tags column, from a hash of (column, row): deterministic, no random(). */
function columnExpr(name: string, type: string, nullable: boolean): string {
  const h = `hashtext('${name}' || i::text)`;
  const orNull = (e: string) => (nullable ? `case when ${h} % 20 = 0 then null else ${e} end` : e);
  if (type === 'integer') return orNull(`abs(${h} % 200)`);
  if (type === 'double precision') return orNull(`case when ${h} % 97 = 0 then ${h}::float8 * 1e-12 else (${h} % 1000000)::float8 / 137.0 end`);
  if (type === 'boolean') return orNull(`${h} % 2 = 0`);
  if (type === 'text') return orNull(`case abs(${h} % 7) when 6 then E'a\\\\b\\tc' else 'v' || abs(${h} % 7)::text end`);
  throw new Error(`mart.tags column ${name} has type ${type}: add it to bench/score.ts`);
}

async function main(): Promise<void> {
  const customers = Number(arg('customers', '1000000'));
  const shards = Number(arg('shards', '4'));
  const trainRows = Number(arg('train-rows', '20000'));
  const trees = Number(arg('trees', '100'));
  const database = arg('database', 'portrait_bench_score');
  const { env, log, pg, url, db } = await openBenchDatabase(database, 8);
  const loadavgStart = os.loadavg();

  const cols = (await db.raw(`select column_name, data_type, is_nullable = 'YES' as nullable from information_schema.columns where table_schema = 'mart' and table_name = 'tags' and column_name not in ('run_id', 'golden_id') order by ordinal_position`)).rows as { column_name: string; data_type: string; nullable: boolean }[];
  let t = performance.now();
  await db.raw(
    `insert into mart.tags (run_id, golden_id, ${cols.map((c) => c.column_name).join(', ')})
     select '${RUN_ID}', 'g' || lpad(i::text, 9, '0'), ${cols.map((c) => columnExpr(c.column_name, c.data_type, c.nullable)).join(', ')}
     from generate_series(1, ${customers}) i`,
  );
  await db.raw('analyze mart.tags');
  const generateSeconds = (performance.now() - t) / 1000;

  const { features } = modelFeatures('credit_card', { excludeFeatures: [], excludeFeaturesByProduct: {} });
  const sample = (await db('mart.tags').select(features).where({ run_id: RUN_ID }).orderBy('golden_id').limit(trainRows)) as Record<string, unknown>[];
  const num = (v: unknown) => (typeof v === 'number' ? v : v === true ? 1 : 0);
  const labels = sample.map((r, i) => (num(r[features[0]!]) + 50 * num(r[features[1]!]) + ((i * 2654435761) % 97) > 150 ? 1 : 0));
  t = performance.now();
  const forest = await trainHistForest(sample, labels, { seed: 7, features, nEstimators: trees, maxDepth: 12, minSamplesLeaf: 20, maxFeatures: 'sqrt', classWeight: 'balanced' });
  const trainSeconds = (performance.now() - t) / 1000;
  const body = forest.serialize();
  const sha256 = createHash('sha256').update(body).digest('hex');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portrait-bench-score-'));
  const file = path.join(dir, 'model.json');
  fs.writeFileSync(file, body);
  const model = { product: 'credit_card', modelVersion: `credit_card-${sha256.slice(0, 12)}`, path: file, sha256, positiveRate: 0.05 };

  const acts = createScoreActivities({ db, databaseUrl: url, log, env, codeVersion: 'bench' });
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
  const cpu0 = process.cpuUsage();
  t = performance.now();
  const results = await Promise.all(Array.from({ length: shards }, (_, shard) => new MockActivityEnvironment().run(acts.scoreShard, { runId: RUN_ID, shard, shards, model }) as Promise<{ rows: number }>));
  const scoreSeconds = (performance.now() - t) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  const [{ md5, n }] = (await db.raw(`select md5(string_agg(concat_ws(',', golden_id, model_version, score, shard, reasons), E'\\n' order by golden_id)) as md5, count(*)::int as n from mart.scores where run_id = ?`, [RUN_ID])).rows;
  fs.rmSync(dir, { recursive: true, force: true });
  await printBenchResult({ db, pg }, {
    bench: 'score',
    customers,
    features: features.length,
    trees,
    shards,
    generate_seconds: Number(generateSeconds.toFixed(2)),
    train_seconds: Number(trainSeconds.toFixed(2)),
    score_seconds: Number(scoreSeconds.toFixed(2)),
    score_cpu_seconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
    rows_per_second: Math.round(customers / scoreSeconds),
    rows: results.reduce((a, r) => a + r.rows, 0),
    scored_rows: n,
    scores_md5: md5,
    peak_rss_mb: Math.round(peakRss / 2 ** 20),
    loadavg_start: loadavgStart.map((x) => Number(x.toFixed(2))),
    loadavg_end: os.loadavg().map((x) => Number(x.toFixed(2))),
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
