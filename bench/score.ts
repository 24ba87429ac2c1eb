/**
 * Benchmark of the score stage's shard scoring (activities/score.ts scoreShard) on generated tags.
 *
 *   npm run -s bench:score -- [--customers 1000000] [--shards 4] [--train-rows 20000] [--trees 100] [--database portrait_bench_score]
 *       [--skip-sklearn]
 *
 * A fresh database gets `--customers` deterministic tag rows (every mart.tags column: 5 % nulls in nullable columns,
 * negative and tiny (exponent-printed) doubles, category levels with a tab and a backslash); a forest with the daily
 * run's parameters (trees, depth 12, min leaf 20, balanced, sqrt) is trained on the first `--train-rows` rows with a
 * deterministic label; then every shard is scored at once through the activity, as the daily workflow does. Prints
 * one JSON: seconds, process CPU seconds (all threads), peak RSS, load averages, and `scores_md5` — the md5 of every
 * mart.scores row in golden_id order, which must not change when the scoring code changes. Then `same_rows_scoring`:
 * scoring alone (no PostgreSQL) of the same rows, ours on 2 threads and on 1 against scikit-learn's predict_proba
 * with n_jobs=2 (bench/sklearn_score.py; needs python3 with scikit-learn and pandas, or PYTHON=…).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import { performance } from 'perf_hooks';
import { MockActivityEnvironment } from '@temporalio/testing';
import { execFileSync } from 'child_process';
import { pipeline } from 'stream/promises';
import type { Knex } from 'knex';
import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { createScoreActivities } from '../activities/score';
import { modelFeatures } from '../activities/modelRegistry';
import { snapshotRun } from '../relations/materialize';
import { scores } from '../relations/snapshots';
import { loadHistForest, trainHistForest } from '../models/histForest';
import { ScorePool, type ScoreModel } from '../models/scorePool';
import { copyColumnKind, type CopyColumn } from '../models/scoreText';
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
  const sameRows = process.argv.includes('--skip-sklearn') ? null : await scoringOnlyComparison({ url, db, dir, features, sample, labels, body, trees });
  const [{ md5, n }] = (await db.raw(`select md5(string_agg(concat_ws(',', golden_id, model_version, score, shard, reasons), E'\\n' order by golden_id)) as md5, count(*)::int as n from mart.scores where run_id = ?`, [RUN_ID])).rows;
  // scores.parquet as completeScoring writes it (the same relation and writer), to compare its bytes across code versions.
  const [parquet] = await snapshotRun({ db, databaseUrl: url, env: { ...env, snapshotDir: dir } }, RUN_ID, [scores]);
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
    scores_parquet_sha256: parquet!.sha256,
    peak_rss_mb: Math.round(peakRss / 2 ** 20),
    same_rows_scoring: sameRows,
    loadavg_start: loadavgStart.map((x) => Number(x.toFixed(2))),
    loadavg_end: os.loadavg().map((x) => Number(x.toFixed(2))),
  });
}

/**
 * Scoring alone, without PostgreSQL, on the same rows: ours (COPY text parsed, Saabas contributions, top-3 reasons
 * and CSV lines — more than a probability) on 2 threads and on 1, and scikit-learn's predict_proba (n_jobs=2) of a
 * forest with the same parameters fitted on the same training rows (bench/sklearn_score.py).
 */
async function scoringOnlyComparison(a: { url: string; db: Knex; dir: string; features: string[]; sample: Record<string, unknown>[]; labels: number[]; body: string; trees: number }) {
  const forest = loadHistForest(a.body);
  const types = new Map(((await a.db.raw(`select column_name, data_type from information_schema.columns where table_schema = 'mart' and table_name = 'tags'`)).rows as { column_name: string; data_type: string }[]).map((r) => [r.column_name, r.data_type]));
  const columns: CopyColumn[] = a.features.map((name) => ({ name, kind: copyColumnKind(types.get(name)!)! }));
  const client = new Client({ connectionString: a.url });
  await client.connect();
  const select = `select golden_id, ${a.features.join(', ')} from mart.tags where run_id = '${RUN_ID}' order by golden_id`;
  const chunks: Buffer[] = [];
  for await (const c of client.query(copyTo(`copy (${select}) to stdout`)) as AsyncIterable<Buffer>) chunks.push(c);
  const all = Buffer.concat(chunks);
  chunks.length = 0;
  const batches: Uint8Array[] = [];
  for (let at = 0; at < all.length; ) {
    const cut = all.lastIndexOf(0x0a, Math.min(all.length - 1, at + (1 << 20))) + 1;
    batches.push(all.subarray(at, cut));
    at = cut;
  }
  const model: ScoreModel = { version: 'bench', json: a.body, forest };
  const context = { runId: RUN_ID, product: 'credit_card', modelVersion: 'bench', shard: 0, positiveRate: 0.05, reasons: 3 };
  const timed = async (threads: number) => {
    const pool = new ScorePool(threads);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const out = await Promise.all(batches.map((text) => pool.score(model, { columns, text, context })));
    const cpu = process.cpuUsage(c0);
    const seconds = (performance.now() - t0) / 1000;
    await pool.close();
    const md5 = createHash('md5');
    for (const o of out) md5.update(o.csv);
    return { threads, seconds: Number(seconds.toFixed(2)), cpu_seconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)), rows: out.reduce((s, o) => s + o.rows, 0), csv_md5: md5.digest('hex') };
  };
  // One warm-up pass (JIT, worker start-up), then the timed ones.
  await timed(2);
  const ours2 = await timed(2);
  const ours1 = await timed(0);
  let sklearn: unknown = null;
  const python = process.env.PYTHON ?? 'python3';
  const script = [path.join(__dirname, '..', '..', 'bench', 'sklearn_score.py'), path.resolve('bench', 'sklearn_score.py')].find((f) => fs.existsSync(f))!;
  const csvValue = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'boolean' ? (v ? 't' : 'f') : typeof v === 'string' ? `"${v.replace(/"/g, '""')}"` : String(v));
  const trainFile = path.join(a.dir, 'train.csv');
  fs.writeFileSync(trainFile, [[...a.features, 'label'].join(','), ...a.sample.map((r, i) => [...a.features.map((f) => csvValue(r[f])), String(a.labels[i])].join(','))].join('\n') + '\n');
  const scoreFile = path.join(a.dir, 'score.csv');
  await pipeline(client.query(copyTo(`copy (select ${a.features.join(', ')} from mart.tags where run_id = '${RUN_ID}' order by golden_id) to stdout with (format csv, header)`)), fs.createWriteStream(scoreFile));
  await client.end();
  try {
    sklearn = JSON.parse(execFileSync(python, [script, '--train', trainFile, '--score', scoreFile, '--trees', String(a.trees), '--jobs', '2'], { encoding: 'utf8', maxBuffer: 1 << 24 }));
  } catch (err) {
    sklearn = { error: (err as Error).message.split('\n')[0] };
  }
  const json = forest.toJSON();
  return {
    ours_2_threads: ours2,
    ours_1_thread: ours1,
    ours_tree_nodes_mean: json.trees.reduce((s, t) => s + t.nodes, 0) / json.trees.length,
    sklearn_predict_proba: sklearn,
  };
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
