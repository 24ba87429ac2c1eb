/**
 * k-fold evaluation of the histogram forest on any flat labelled CSV file.
 */
import { performance } from 'perf_hooks';
import { readCsvFile, typeColumn, type TypedColumn } from './csv';
import { trainHistForest, type ColumnarInput, type HistForestParams } from './histForest';
import { averagePrecision, rocAuc, stratifiedKFold, topDecileLift } from './metrics';

export interface EvaluateCsvOptions {
  file: string;
  /** Label column. */
  label: string;
  /** Label text of the positive class (default: 1, yes or true when the column holds exactly two such values). */
  positive?: string;
  /** Columns not used as features (e.g. leaky ones). */
  exclude?: readonly string[];
  folds?: number;
  seed: number;
  params?: HistForestParams;
  threads?: number;
}

export interface EvaluateCsvResult {
  auc_mean: number;
  /** Sample standard deviation of the per-fold AUCs. */
  auc_sd: number;
  /** Mean over folds of average precision. */
  pr_auc: number;
  /** Mean over folds of (positive rate in the top 10 % of scores) / (positive rate). */
  top_decile_lift: number;
  /** Mean wall-clock seconds per fold to train (encoding + binning + trees). */
  fit_seconds: number;
  /** Mean wall-clock seconds per fold to score the held-out rows. */
  score_seconds: number;
  rows: number;
  /** Input feature columns used. */
  features: number;
  fold_aucs: number[];
  positive_rate: number;
}

function labelsOf(values: readonly string[], column: string, positive?: string): Uint8Array {
  const trimmed = values.map((v) => v.trim());
  let pos = positive;
  if (pos === undefined) {
    const levels = new Set(trimmed);
    const guess = ['1', 'yes', 'true', 'Yes', 'TRUE', 'True', 'YES'].find((g) => levels.has(g));
    if (levels.size !== 2 || guess === undefined) {
      throw new Error(`cannot tell the positive class of label column '${column}' (levels: ${[...levels].slice(0, 10).join(', ')}); pass positive`);
    }
    pos = guess;
  }
  const y = new Uint8Array(trimmed.length);
  let count = 0;
  trimmed.forEach((v, i) => {
    if (v === '') throw new Error(`label column '${column}' is empty at data row ${i + 1}`);
    y[i] = v === pos ? 1 : 0;
    count += y[i]!;
  });
  if (count === 0) throw new Error(`label column '${column}' has no value '${pos}'`);
  return y;
}

function subset(columns: Map<string, TypedColumn>, rows: Int32Array): ColumnarInput {
  const out: Record<string, ArrayLike<unknown>> = {};
  for (const [name, col] of columns) {
    if (col instanceof Float64Array) {
      const a = new Float64Array(rows.length);
      for (let i = 0; i < rows.length; i++) a[i] = col[rows[i]!]!;
      out[name] = a;
    } else {
      const a: (string | null)[] = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) a[i] = col[rows[i]!]!;
      out[name] = a;
    }
  }
  return { rows: rows.length, columns: out };
}

/** Stratified k-fold cross-validation of the histogram forest on a CSV file. */
export async function evaluateCsv(opts: EvaluateCsvOptions): Promise<EvaluateCsvResult> {
  const folds = opts.folds ?? 5;
  const table = readCsvFile(opts.file);
  const li = table.names.indexOf(opts.label);
  if (li < 0) throw new Error(`label column '${opts.label}' not in ${opts.file} (columns: ${table.names.join(', ')})`);
  for (const e of opts.exclude ?? []) if (!table.names.includes(e)) throw new Error(`excluded column '${e}' not in ${opts.file}`);
  const y = labelsOf(table.columns[li]!, opts.label, opts.positive);
  const excluded = new Set([opts.label, ...(opts.exclude ?? [])]);
  const columns = new Map<string, TypedColumn>();
  table.names.forEach((name, j) => {
    if (!excluded.has(name)) columns.set(name, typeColumn(table.columns[j]!));
  });
  const fold = stratifiedKFold(y, folds, opts.seed);
  const aucs: number[] = [];
  const prs: number[] = [];
  const lifts: number[] = [];
  let fit = 0;
  let score = 0;
  for (let k = 0; k < folds; k++) {
    const tr: number[] = [];
    const te: number[] = [];
    for (let i = 0; i < y.length; i++) (fold[i] === k ? te : tr).push(i);
    const trRows = Int32Array.from(tr);
    const teRows = Int32Array.from(te);
    const yTr = trRows.map((i) => y[i]!);
    const yTe = Array.from(teRows, (i) => y[i]!);
    const t0 = performance.now();
    const forest = await trainHistForest(subset(columns, trRows), yTr, { ...opts.params, seed: opts.seed + k, threads: opts.threads });
    const t1 = performance.now();
    const s = forest.predictProba(subset(columns, teRows));
    const t2 = performance.now();
    fit += (t1 - t0) / 1000;
    score += (t2 - t1) / 1000;
    aucs.push(rocAuc(s, yTe));
    prs.push(averagePrecision(s, yTe));
    lifts.push(topDecileLift(s, yTe));
  }
  const mean = (a: number[]): number => a.reduce((x, z) => x + z, 0) / a.length;
  const m = mean(aucs);
  const sd = Math.sqrt(aucs.reduce((x, a) => x + (a - m) ** 2, 0) / Math.max(1, aucs.length - 1));
  let pos = 0;
  for (let i = 0; i < y.length; i++) pos += y[i]!;
  return {
    auc_mean: m,
    auc_sd: sd,
    pr_auc: mean(prs),
    top_decile_lift: mean(lifts),
    fit_seconds: fit / folds,
    score_seconds: score / folds,
    rows: y.length,
    features: columns.size,
    fold_aucs: aucs,
    positive_rate: pos / y.length,
  };
}
