/**
 * Benchmark: histogram forest (models/histForest) vs scikit-learn RandomForestClassifier(n_jobs=2) vs
 * ml-random-forest (2,000-row sample), same hyperparameters, same files, same split (data row % 5 == 0 → test).
 *
 *   npm run bench:model -- [--trees 100] [--min-leaf 5]
 *       [--max-depth N] [--threads 2] [--rows 200000] [--repeat 3] [--oob] [--skip-sklearn] [--skip-mlrf] [--skip-synthetic]
 *
 * On UCI each side fits --repeat times in one process: fit_seconds is the median, fit_seconds_first the first fit
 * (for ours that one includes starting the tree worker and the JIT's warm-up; later fits reuse the pooled worker).
 * The synthetic set is fitted once per side.
 *
 * Like for like: both sides use the forest's default encoding (one target-ordered code per string column) and no
 * out-of-bag scoring (scikit-learn's oob_score=False; --oob turns ours on). scikit-learn is also run on UCI with
 * one-hot encoding (<= 8 levels) for reference. fit_cpu_seconds (all threads) is reported next to wall time
 * because other processes share the machine; loadavg_start/end are os.loadavg().
 *
 * Data: a deterministic synthetic file (rows × 40, ~10 % positives, 2 columns with 5 % missing) written once to
 * $TMPDIR/portrait-bench/, and the UCI bank-marketing file (label y = yes, duration excluded).
 * Prints one JSON object.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { RandomForestClassifier } from 'ml-random-forest';
import { readCsvFile, typeColumn, type TypedColumn } from '../models/csv';
import { trainHistForest, type ColumnarInput, type HistForestParams } from '../models/histForest';
import { rocAuc } from '../models/metrics';
import { createUniform } from '../models/prng';

const UCI = '/work/shared/data/bank-marketing/bank-additional-full.csv';

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

/** Writes the synthetic file once (same bytes every time for the same rows). */
export function writeSynthetic(file: string, rows: number, p = 40): void {
  if (fs.existsSync(file)) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const u = createUniform(20240601, 7);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  const header = [...Array.from({ length: p }, (_, j) => `x${j}`), 'y'].join(',');
  const fd = fs.openSync(file + '.tmp', 'w');
  fs.writeSync(fd, header + '\n');
  const x = new Float64Array(p);
  let chunk: string[] = [];
  for (let r = 0; r < rows; r++) {
    const shared = gauss();
    for (let j = 0; j < p; j++) x[j] = j < 10 ? gauss() + (j % 3 === 0 ? 0.5 * shared : 0) : j < 30 ? gauss() : Math.floor(u() * 10);
    const z =
      1.0 * x[0]! - 0.8 * x[1]! + 0.9 * x[2]! * x[3]! + Math.sin(2 * x[4]!) + 0.6 * Math.abs(x[5]!) - 0.5 * x[6]! * x[6]! +
      0.7 * (x[7]! > 0.5 ? 1 : 0) + 0.3 * x[8]! + 0.4 * (x[30]! >= 7 ? 1 : 0) - 0.3 * (x[31]! < 2 ? 1 : 0) - 2.6;
    const y = u() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    const fields: string[] = [];
    for (let j = 0; j < p; j++) fields.push((j === 9 || j === 11) && u() < 0.05 ? '' : j >= 30 ? String(x[j]) : x[j]!.toFixed(4));
    fields.push(String(y));
    chunk.push(fields.join(','));
    if (chunk.length === 10000) {
      fs.writeSync(fd, chunk.join('\n') + '\n');
      chunk = [];
    }
  }
  if (chunk.length) fs.writeSync(fd, chunk.join('\n') + '\n');
  fs.closeSync(fd);
  fs.renameSync(file + '.tmp', file);
}

interface Split {
  train: ColumnarInput;
  yTrain: Uint8Array;
  test: ColumnarInput;
  yTest: number[];
}

function loadSplit(file: string, label: string, positive: string, exclude: string[]): Split {
  const t = readCsvFile(file);
  const li = t.names.indexOf(label);
  const yAll = t.columns[li]!.map((v) => (v.trim() === positive ? 1 : 0));
  const trRows: number[] = [];
  const teRows: number[] = [];
  for (let i = 0; i < yAll.length; i++) (i % 5 === 0 ? teRows : trRows).push(i);
  const cols = new Map<string, TypedColumn>();
  t.names.forEach((nm, j) => {
    if (nm !== label && !exclude.includes(nm)) cols.set(nm, typeColumn(t.columns[j]!));
  });
  const pick = (rows: number[]): ColumnarInput => {
    const out: Record<string, ArrayLike<unknown>> = {};
    for (const [nm, c] of cols) out[nm] = c instanceof Float64Array ? Float64Array.from(rows, (r) => c[r]!) : rows.map((r) => c[r]!);
    return { rows: rows.length, columns: out };
  };
  return { train: pick(trRows), yTrain: Uint8Array.from(trRows, (r) => yAll[r]!), test: pick(teRows), yTest: teRows.map((r) => yAll[r]!) };
}

/** Fits `repeat` times (same seed, same model): fit_seconds is the median, fit_seconds_first the first fit of the process. */
async function runOurs(s: Split, params: HistForestParams, threads: number, oobScore: boolean, repeat = 1) {
  const walls: number[] = [];
  const cpus: number[] = [];
  let forest: Awaited<ReturnType<typeof trainHistForest>> | null = null;
  for (let k = 0; k < repeat; k++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    forest = await trainHistForest(s.train, s.yTrain, { ...params, seed: 42, threads, oobScore });
    walls.push((performance.now() - t0) / 1000);
    const cpu = process.cpuUsage(c0);
    cpus.push((cpu.user + cpu.system) / 1e6);
  }
  const t1 = performance.now();
  const scores = forest!.predictProba(s.test);
  const t2 = performance.now();
  return {
    train_rows: s.train.rows,
    test_rows: s.test.rows,
    encoded_features: forest!.featureNames.length,
    fit_seconds: median(walls),
    fit_cpu_seconds: median(cpus),
    fit_seconds_first: walls[0]!,
    fit_seconds_all: walls,
    score_seconds: (t2 - t1) / 1000,
    auc: rocAuc(scores, s.yTest),
    oob_auc: forest!.oobAuc,
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** ml-random-forest on every k-th training row (`rows` rows; the file is in time order) — numeric view from our encoder. */
async function runMlRf(s: Split, rows: number, params: HistForestParams) {
  const stride = Math.max(1, Math.floor(s.train.rows / rows));
  const idx = Array.from({ length: rows }, (_, i) => i * stride);
  const sub: ColumnarInput = { rows, columns: Object.fromEntries(Object.entries(s.train.columns).map(([k, c]) => [k, idx.map((i) => c[i])])) };
  const ySub = idx.map((i) => s.yTrain[i]!);
  // Reuse our encoder for a numeric matrix: a 1-tree forest carries the fitted encodings.
  const enc = await trainHistForest(sub, ySub, { seed: 1, nEstimators: 1, threads: 1 });
  const toRows = (input: ColumnarInput): number[][] => {
    const { X, n } = enc.encode(input);
    const p = enc.featureNames.length;
    return Array.from({ length: n }, (_, r) => Array.from({ length: p }, (_, f) => (Number.isNaN(X[f * n + r]!) ? -1 : X[f * n + r]!)));
  };
  const Xtr = toRows(sub);
  const Xte = toRows(s.test);
  const p = enc.featureNames.length;
  const rf = new RandomForestClassifier({
    nEstimators: params.nEstimators ?? 100,
    maxFeatures: Math.max(1, Math.floor(Math.sqrt(p))) / p,
    replacement: true,
    useSampleBagging: true,
    noOOB: true,
    seed: 42,
    // An explicit maxDepth: undefined makes ml-random-forest grow no tree at all; leave the key out for 'unlimited'.
    treeOptions: params.maxDepth == null ? { minNumSamples: params.minSamplesLeaf ?? 1 } : { maxDepth: params.maxDepth, minNumSamples: params.minSamplesLeaf ?? 1 },
  });
  const t0 = performance.now();
  rf.train(Xtr, ySub);
  const t1 = performance.now();
  const scores = rf.predictProbability(Xte, 1) as number[];
  const t2 = performance.now();
  const ours = await runOurs({ ...s, train: sub, yTrain: Uint8Array.from(ySub) }, params, 2, false);
  return { train_rows: rows, fit_seconds: (t1 - t0) / 1000, score_seconds: (t2 - t1) / 1000, auc: rocAuc(scores, s.yTest), ours_same_sample: ours };
}

async function main(): Promise<void> {
  const trees = Number(arg('trees', '100'));
  const minLeaf = Number(arg('min-leaf', '5'));
  const maxDepthArg = arg('max-depth');
  const threads = Number(arg('threads', '2'));
  const synthRows = Number(arg('rows', '200000'));
  const repeat = Number(arg('repeat', '3'));
  if (!(Number.isInteger(repeat) && repeat >= 1)) throw new Error(`--repeat must be an integer >= 1, got ${arg('repeat')}`);
  const params: HistForestParams = { nEstimators: trees, maxFeatures: 'sqrt', minSamplesLeaf: minLeaf, maxDepth: maxDepthArg ? Number(maxDepthArg) : null };
  const synthFile = path.join(os.tmpdir(), 'portrait-bench', `synthetic-${synthRows}x40.csv`);
  writeSynthetic(synthFile, synthRows);
  const out: Record<string, unknown> = { params: { ...params, threads, uciRepeat: repeat, oobScore: flag('oob'), encoding: 'one target-ordered code per string column (both sides)', split: 'data row index % 5 == 0 -> test' }, files: { synthetic: synthFile, uci: UCI }, loadavg_start: os.loadavg() };

  const datasets: [string, Split][] = [['uci', loadSplit(UCI, 'y', 'yes', ['duration'])]];
  if (!flag('skip-synthetic')) datasets.unshift(['synthetic', loadSplit(synthFile, 'y', '1', [])]);
  let sk: Record<string, { fit_seconds: number; fit_cpu_seconds: number; fit_seconds_first: number; score_seconds: number; auc: number }> = {};
  if (!flag('skip-sklearn')) {
    const script = path.join(__dirname, '..', '..', 'bench', 'sklearn_forest.py');
    const local = fs.existsSync(script) ? script : path.resolve('bench', 'sklearn_forest.py');
    const argv = [local, '--uci', UCI, '--trees', String(trees), '--min-leaf', String(minLeaf), '--jobs', '2', '--uci-one-hot-max', '8', '--uci-repeat', String(repeat)];
    if (!flag('skip-synthetic')) argv.push('--synth', synthFile);
    if (maxDepthArg) argv.push('--max-depth', maxDepthArg);
    sk = JSON.parse(execFileSync('python3', argv, { encoding: 'utf8', maxBuffer: 1 << 24 }));
  }
  for (const [name, split] of datasets) {
    const ours = await runOurs(split, params, threads, flag('oob'), name === 'uci' ? repeat : 1);
    const entry: Record<string, unknown> = { ours };
    const s = sk[name];
    if (s) {
      entry.sklearn = s;
      entry.ratios = { fit_ours_over_sklearn: ours.fit_seconds / s.fit_seconds, fit_first_ours_over_sklearn: ours.fit_seconds_first / s.fit_seconds_first, fit_cpu_ours_over_sklearn: ours.fit_cpu_seconds / s.fit_cpu_seconds, score_ours_over_sklearn: ours.score_seconds / s.score_seconds, auc_ours_minus_sklearn: ours.auc - s.auc };
    }
    out[name] = entry;
  }
  if (!flag('skip-sklearn')) out.sklearn_version = (sk as unknown as { sklearn: string }).sklearn;
  if (!flag('skip-mlrf')) out.ml_random_forest_uci_2000 = await runMlRf(datasets[datasets.length - 1]![1], 2000, params);
  if (sk.uci_onehot) out.sklearn_uci_onehot8 = sk.uci_onehot;
  out.loadavg_end = os.loadavg();
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
