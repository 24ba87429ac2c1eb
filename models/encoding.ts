/**
 * Input schema and categorical encodings of the histogram forest. The encoding is learned at training time and is
 * part of the model: a string column becomes one feature holding its level's code, levels ordered by smoothed target
 * rate, that trees split by thresholds ('ordinal') or by subsets of levels ('category'); columns with at most
 * oneHotMaxLevels levels (when that option is set) become one-hot features. Scoring validates every input column
 * against the schema.
 */

import { MISSING_BIN } from './histTree';

export type ColumnType = 'number' | 'boolean' | 'category';

export interface FeatureSchemaEntry {
  name: string;
  type: ColumnType;
  /** Training levels (sorted), for category columns; column-major batches code a category by its index here. */
  categories?: string[];
}

export type Encoding =
  | { column: string; kind: 'number' | 'boolean'; features: number[] }
  | { column: string; kind: 'onehot'; levels: string[]; features: number[] }
  | { column: string; kind: 'ordinal'; order: string[]; features: number[] }
  | { column: string; kind: 'category'; order: string[]; features: number[] };

/** One input column in memory: numbers/booleans as Float64 (NaN = missing), categories as strings (null = missing). */
export type RawColumn = { name: string; type: 'number' | 'boolean'; num: Float64Array } | { name: string; type: 'category'; cat: (string | null)[] };

export type Row = Record<string, unknown>;

/** Column-oriented input: each column has `rows` values (numbers, booleans, strings or null). */
export interface ColumnarInput {
  rows: number;
  columns: Record<string, ArrayLike<unknown>>;
}

/** Column-major numeric batch: column j of row r at data[j * rows + r]; categories coded by index into the schema's categories (NaN = missing). */
export interface NumericBatch {
  names: readonly string[];
  rows: number;
  data: Float64Array;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'Date';
  return typeof v;
}

/** Detects the type of a training column; throws when a column mixes strings with numbers/booleans. */
export function detectType(name: string, values: ArrayLike<unknown>): ColumnType {
  if (values instanceof Float64Array) return 'number';
  let str = 0;
  let num = 0;
  let bool = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    if (typeof v === 'string') str++;
    else if (typeof v === 'number' || typeof v === 'bigint') num++;
    else if (typeof v === 'boolean') bool++;
    else throw new Error(`column '${name}': unsupported value type ${describe(v)} at row ${i}; use numbers, booleans or strings`);
  }
  if (str > 0 && num + bool > 0) {
    throw new Error(`column '${name}' mixes strings (${str} rows) with numbers/booleans (${num + bool} rows); convert it to one type before training`);
  }
  if (str > 0) return 'category';
  if (bool > 0 && num === 0) return 'boolean';
  return 'number';
}

/** Reads one column of values into a RawColumn of the given type, rejecting re-typed values (names the column and row). */
export function toRawColumn(name: string, type: ColumnType, values: ArrayLike<unknown>, rowOffset = 0): RawColumn {
  const n = values.length;
  if (type === 'category') {
    const cat: (string | null)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v === null || v === undefined) cat[i] = null;
      else if (typeof v === 'string') cat[i] = v;
      else throw new Error(`column '${name}' expects category strings but row ${i + rowOffset} holds a ${describe(v)}; the model was trained on strings`);
    }
    return { name, type, cat };
  }
  // Numeric columns usually arrive as Float64Array (NaN = missing): copy without a per-value type check.
  if (type === 'number' && values instanceof Float64Array) return { name, type, num: values.slice() };
  const num = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) num[i] = NaN;
    else if (typeof v === 'number') {
      if (type === 'boolean' && !(v === 0 || v === 1 || Number.isNaN(v))) {
        throw new Error(`column '${name}' expects a boolean (or 0/1) but row ${i + rowOffset} holds the number ${v}`);
      }
      num[i] = v;
    } else if (typeof v === 'boolean') num[i] = v ? 1 : 0;
    else if (typeof v === 'bigint') num[i] = Number(v);
    else throw new Error(`column '${name}' expects ${type === 'number' ? 'numbers' : 'booleans'} but row ${i + rowOffset} holds a ${describe(v)}; the model was trained on ${type} values`);
  }
  return { name, type, num };
}

/** Extracts named columns from row objects; a column absent from a row (key not present) is an error. */
export function columnsFromRows(rows: readonly Row[], names: readonly string[]): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>();
  for (const name of names) {
    const vals: unknown[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const v = row[name];
      if (v === undefined && !(name in row)) {
        throw new Error(`input column '${name}' is missing from row ${i}; the model needs columns ${names.join(', ')} (use null for a missing value)`);
      }
      vals[i] = v;
    }
    out.set(name, vals);
  }
  return out;
}

type CategoryColumn = Extract<RawColumn, { type: 'category' }>;

/**
 * Level id of each row of a category column (-1 = missing) and the levels by id, found with one map lookup per
 * row. Cached per column object (a fit or a scoring call makes its own), so training's fitEncodings and the
 * binning that follows look each row up once.
 */
const levelIdCache = new WeakMap<CategoryColumn, { rowIds: Int32Array; levels: readonly string[] }>();

function levelIds(col: CategoryColumn): { rowIds: Int32Array; levels: readonly string[] } {
  const cached = levelIdCache.get(col);
  if (cached) return cached;
  const cat = col.cat;
  const ids = new Map<string, number>();
  const levels: string[] = [];
  const rowIds = new Int32Array(cat.length);
  for (let i = 0; i < cat.length; i++) {
    const v = cat[i];
    if (v === null || v === undefined) {
      rowIds[i] = -1;
      continue;
    }
    let id = ids.get(v);
    if (id === undefined) {
      id = levels.length;
      ids.set(v, id);
      levels.push(v);
    }
    rowIds[i] = id;
  }
  const out = { rowIds, levels };
  levelIdCache.set(col, out);
  return out;
}

/** Learns encodings of the training columns; `y` is 0/1. Returns schema, encodings and derived feature names. */
export function fitEncodings(
  columns: readonly RawColumn[],
  y: Uint8Array,
  oneHotMaxLevels: number,
  nativeCategories = false,
): { schema: FeatureSchemaEntry[]; encodings: Encoding[]; featureNames: string[] } {
  const schema: FeatureSchemaEntry[] = [];
  const encodings: Encoding[] = [];
  const featureNames: string[] = [];
  let prior = 0;
  for (let i = 0; i < y.length; i++) prior += y[i]!;
  prior = y.length > 0 ? prior / y.length : 0;
  for (const col of columns) {
    if (col.type !== 'category') {
      schema.push({ name: col.name, type: col.type });
      encodings.push({ column: col.name, kind: col.type, features: [featureNames.length] });
      featureNames.push(col.name);
      continue;
    }
    const { rowIds, levels: seen } = levelIds(col);
    const counts = new Array<number>(seen.length).fill(0);
    const positives = new Array<number>(seen.length).fill(0);
    for (let i = 0; i < rowIds.length; i++) {
      const id = rowIds[i]!;
      if (id < 0) continue;
      counts[id]++;
      positives[id] += y[i]!;
    }
    const stats = new Map(seen.map((lv, id) => [lv, { n: counts[id]!, pos: positives[id]! }]));
    const levels = [...seen].sort();
    schema.push({ name: col.name, type: 'category', categories: levels });
    if (levels.length <= oneHotMaxLevels) {
      const features = levels.map((lv) => {
        featureNames.push(`${col.name}=${lv}`);
        return featureNames.length - 1;
      });
      encodings.push({ column: col.name, kind: 'onehot', levels, features });
    } else {
      const smoothing = 10;
      const rate = (lv: string): number => {
        const s = stats.get(lv)!;
        return (s.pos + prior * smoothing) / (s.n + smoothing);
      };
      const order = [...levels].sort((a, b) => rate(a) - rate(b) || (a < b ? -1 : a > b ? 1 : 0));
      encodings.push({ column: col.name, kind: nativeCategories ? 'category' : 'ordinal', order, features: [featureNames.length] });
      featureNames.push(col.name);
    }
  }
  return { schema, encodings, featureNames };
}

/** Applies encodings: returns the column-major p × n feature matrix (NaN = missing). */
export function encodeColumns(columns: ReadonlyMap<string, RawColumn>, encodings: readonly Encoding[], p: number, n: number): Float64Array {
  const X = new Float64Array(p * n);
  for (const enc of encodings) {
    const col = columns.get(enc.column);
    if (!col) throw new Error(`input column '${enc.column}' is missing`);
    for (let k = 0; k < enc.features.length; k++) encodeFeature(col, enc, k, n, X, enc.features[k]! * n);
  }
  return X;
}

/** Writes the k-th feature of encoding `enc` of column `col` (NaN = missing) to out[offset, offset + n). */
export function encodeFeature(col: RawColumn, enc: Encoding, k: number, n: number, out: Float64Array, offset: number): void {
  if (enc.kind === 'number' || enc.kind === 'boolean') {
    if (col.type === 'category') throw new Error(`column '${enc.column}' expects ${enc.kind} values but holds strings`);
    out.set(col.num.subarray(0, n), offset);
    return;
  }
  if (col.type !== 'category') throw new Error(`column '${enc.column}' expects category strings but holds ${col.type} values`);
  const { rowIds, levels } = levelIds(col);
  // Value of each level id: for one-hot, 1 for the feature's level and 0 for the others; for codes, the level's
  // position in the order. Levels unseen in training are all-zero (one-hot) or missing (codes).
  let valueOfId: Float64Array;
  if (enc.kind === 'onehot') valueOfId = Float64Array.from(levels, (lv) => (lv === enc.levels[k] ? 1 : 0));
  else {
    const code = new Map((enc as Extract<Encoding, { order: string[] }>).order.map((lv, j) => [lv, j]));
    valueOfId = Float64Array.from(levels, (lv) => code.get(lv) ?? NaN);
  }
  for (let r = 0; r < n; r++) {
    const id = rowIds[r]!;
    out[offset + r] = id < 0 ? NaN : valueOfId[id]!;
  }
}

/**
 * Bins of a training column coded by level order (ordinal/category) with at most maxBins levels, written to
 * out[outBase, outBase + n), and their edges. Every level was seen in training, so the codes are 0..L-1 and
 * binning them gives bin = code and edges k + 0.5: what encodeFeature, EdgeFitter and binColumn give, without the
 * detour through doubles. Null for other encodings or more levels (take that detour).
 */
export function codeBins(col: RawColumn, enc: Encoding, maxBins: number, n: number, out: Uint8Array, outBase: number): number[] | null {
  if ((enc.kind !== 'ordinal' && enc.kind !== 'category') || col.type !== 'category' || enc.order.length > maxBins) return null;
  const { rowIds, levels } = levelIds(col);
  const code = new Map(enc.order.map((lv, j) => [lv, j]));
  const binOfId = Uint8Array.from(levels, (lv) => code.get(lv) ?? MISSING_BIN);
  for (let r = 0; r < n; r++) {
    const id = rowIds[r]!;
    out[outBase + r] = id < 0 ? MISSING_BIN : binOfId[id]!;
  }
  return Array.from({ length: enc.order.length - 1 }, (_, k) => k + 0.5);
}

/** Raw columns from a column-major numeric batch, validated against the schema (category codes must be valid indices). */
export function columnsFromNumericBatch(schema: readonly FeatureSchemaEntry[], batch: NumericBatch): Map<string, RawColumn> {
  if (batch.data.length !== batch.names.length * batch.rows) {
    throw new Error(`numeric batch has ${batch.data.length} values; expected names.length × rows = ${batch.names.length * batch.rows}`);
  }
  const at = new Map(batch.names.map((nm, j) => [nm, j]));
  const out = new Map<string, RawColumn>();
  for (const s of schema) {
    const j = at.get(s.name);
    if (j === undefined) throw new Error(`input column '${s.name}' is missing from the batch (columns given: ${batch.names.join(', ')})`);
    const slice = batch.data.subarray(j * batch.rows, (j + 1) * batch.rows);
    if (s.type !== 'category') {
      out.set(s.name, toRawColumn(s.name, s.type, slice));
      continue;
    }
    const cats = s.categories ?? [];
    const cat: (string | null)[] = new Array(batch.rows);
    for (let r = 0; r < batch.rows; r++) {
      const v = slice[r]!;
      if (Number.isNaN(v)) cat[r] = null;
      else if (Number.isInteger(v) && v >= 0 && v < cats.length) cat[r] = cats[v]!;
      else throw new Error(`column '${s.name}' is a category: row ${r} must hold an index into its ${cats.length} categories or NaN, got ${v}`);
    }
    out.set(s.name, { name: s.name, type: 'category', cat });
  }
  return out;
}
