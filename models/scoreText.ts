/**
 * Scoring straight from `COPY (select golden_id, <features> …) TO STDOUT` text: a batch of lines is parsed into typed
 * columns (Float64Array for numbers and booleans, NaN = NULL; strings for text), scored with Saabas contributions,
 * and written back as COPY csv lines of mart.scores — no row object per customer. The values are the ones node-postgres
 * gives the row-object path (int via parseInt, double via parseFloat, t/f as true/false, text unescaped as UTF-8), so
 * scores and reason codes are the same to the byte. Each row depends on nothing but itself and the model: the result
 * does not depend on how rows are batched or on which thread scores them.
 */
import type { HistForest } from './histForest';
import { priorCorrect } from './lifecycle';
import { csvField } from '../transforms/copyText';

/** How a column's COPY text is read. */
export type CopyColumnKind = 'integer' | 'float' | 'boolean' | 'text';

export interface CopyColumn {
  name: string;
  kind: CopyColumnKind;
}

/** The kind of a PostgreSQL type (information_schema data_type) that scoring reads, or null for one it does not. */
export function copyColumnKind(dataType: string): CopyColumnKind | null {
  switch (dataType) {
    case 'smallint':
    case 'integer':
      return 'integer';
    case 'real':
    case 'double precision':
      return 'float';
    case 'boolean':
      return 'boolean';
    case 'text':
    case 'character varying':
      return 'text';
    default:
      return null;
  }
}

/** Parsed COPY text: the first column (the id, as text) and the others as typed columns. */
export interface ParsedCopyText {
  rows: number;
  ids: string[];
  columns: Record<string, Float64Array | (string | null)[]>;
}

const TAB = 0x09;
const NL = 0x0a;
const BACKSLASH = 0x5c;

/** Powers of ten exactly representable as doubles (10^0 … 10^22), for the exact fast path of decimal parsing. */
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/**
 * A decimal number as parseFloat reads it. Exact fast path (Clinger): a mantissa of at most 15 digits and a power of
 * ten up to 22 are both exact doubles, so one multiplication or division rounds correctly; anything else (more
 * digits, larger exponents, Infinity, NaN) goes to parseFloat.
 */
function parseNumber(buf: Uint8Array, s: number, e: number): number {
  let i = s;
  let neg = false;
  if (buf[i] === 0x2d) {
    neg = true;
    i++;
  } else if (buf[i] === 0x2b) i++;
  let m = 0;
  let digits = 0;
  let scale = 0;
  let any = false;
  for (; i < e; i++) {
    const c = buf[i]! - 0x30;
    if (c < 0 || c > 9) break;
    if (digits > 0 || c !== 0) digits++;
    m = m * 10 + c;
    any = true;
  }
  if (i < e && buf[i] === 0x2e) {
    for (i++; i < e; i++) {
      const c = buf[i]! - 0x30;
      if (c < 0 || c > 9) break;
      if (digits > 0 || c !== 0) digits++;
      m = m * 10 + c;
      scale--;
      any = true;
    }
  }
  if (i < e && (buf[i] === 0x65 || buf[i] === 0x45) && any) {
    let j = i + 1;
    let eneg = false;
    if (buf[j] === 0x2d) {
      eneg = true;
      j++;
    } else if (buf[j] === 0x2b) j++;
    let x = 0;
    let xd = 0;
    for (; j < e && xd < 6; j++, xd++) {
      const c = buf[j]! - 0x30;
      if (c < 0 || c > 9) break;
      x = x * 10 + c;
    }
    if (xd > 0) {
      scale += eneg ? -x : x;
      i = j;
    }
  }
  if (!any || i !== e || digits > 15 || scale < -22 || scale > 22) return parseFloat(Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('latin1'));
  const v = scale < 0 ? m / POW10[-scale]! : m * POW10[scale]!;
  return neg ? -v : v;
}

/** An integer as parseInt(text, 10) reads it (digits only, from int2/int4 output). */
function parseInteger(buf: Uint8Array, s: number, e: number): number {
  let i = s;
  let neg = false;
  if (buf[i] === 0x2d) {
    neg = true;
    i++;
  }
  let v = 0;
  for (; i < e; i++) {
    const c = buf[i]! - 0x30;
    if (c < 0 || c > 9) return parseInt(Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('latin1'), 10);
    v = v * 10 + c;
  }
  if (i === s || (neg && i === s + 1) || e - s > 15) return parseInt(Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('latin1'), 10);
  return neg ? -v : v;
}

/** A text field: COPY's backslash escapes undone, then UTF-8 decoded (what node-postgres gives for the same value). */
function parseText(buf: Uint8Array, s: number, e: number): string {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let k = s;
  while (k < e && buf[k] !== BACKSLASH) k++;
  if (k === e) return b.toString('utf8', s, e);
  const out = Buffer.allocUnsafe(e - s);
  let n = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c !== BACKSLASH || i + 1 >= e) {
      out[n++] = c;
      continue;
    }
    const d = buf[++i]!;
    if (d >= 0x30 && d <= 0x37) {
      // \ooo: one to three octal digits
      let v = d - 0x30;
      for (let t = 0; t < 2 && i + 1 < e && buf[i + 1]! >= 0x30 && buf[i + 1]! <= 0x37; t++) v = v * 8 + (buf[++i]! - 0x30);
      out[n++] = v & 0xff;
    } else if (d === 0x78 && i + 1 < e && hexValue(buf[i + 1]!) >= 0) {
      // \xhh: one or two hex digits
      let v = hexValue(buf[++i]!);
      if (i + 1 < e && hexValue(buf[i + 1]!) >= 0) v = v * 16 + hexValue(buf[++i]!);
      out[n++] = v;
    } else out[n++] = d === 0x62 ? 0x08 : d === 0x66 ? 0x0c : d === 0x6e ? 0x0a : d === 0x72 ? 0x0d : d === 0x74 ? 0x09 : d === 0x76 ? 0x0b : d;
  }
  return out.toString('utf8', 0, n);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * Parses whole lines of COPY text (default format: tab-separated, \N = NULL, backslash escapes) whose first column
 * is the id and whose other columns are `columns`, in that order. `text` must end with a line break (or be empty).
 */
export function parseCopyText(text: Uint8Array, columns: readonly CopyColumn[]): ParsedCopyText {
  let rows = 0;
  for (let i = 0; i < text.length; i++) if (text[i] === NL) rows++;
  if (text.length > 0 && text[text.length - 1] !== NL) throw new Error('COPY text batch does not end with a line break');
  const ids: string[] = new Array(rows);
  const cols = columns.map((c) => (c.kind === 'text' ? (new Array(rows) as (string | null)[]) : new Float64Array(rows)));
  const nc = columns.length;
  const kinds = columns.map((c) => c.kind);
  let pos = 0;
  for (let r = 0; r < rows; r++) {
    let end = pos;
    while (text[end] !== TAB && text[end] !== NL) end++;
    ids[r] = parseText(text, pos, end);
    for (let j = 0; j < nc; j++) {
      if (text[end] !== TAB) throw new Error(`COPY text row ${r + 1} has ${j + 1} fields, expected ${nc + 1}`);
      const s = end + 1;
      end = s;
      while (text[end] !== TAB && text[end] !== NL) end++;
      const isNull = end - s === 2 && text[s] === BACKSLASH && text[s + 1] === 0x4e;
      const kind = kinds[j]!;
      if (kind === 'text') (cols[j] as (string | null)[])[r] = isNull ? null : parseText(text, s, end);
      else {
        const col = cols[j] as Float64Array;
        if (isNull) col[r] = NaN;
        else if (kind === 'integer') col[r] = parseInteger(text, s, end);
        else if (kind === 'float') col[r] = parseNumber(text, s, end);
        else if (end - s === 1 && (text[s] === 0x74 || text[s] === 0x66)) col[r] = text[s] === 0x74 ? 1 : 0;
        else throw new Error(`column '${columns[j]!.name}' row ${r + 1}: boolean COPY text must be t or f`);
      }
    }
    if (text[end] !== NL) throw new Error(`COPY text row ${r + 1} has more than ${nc + 1} fields`);
    pos = end + 1;
  }
  const out: Record<string, Float64Array | (string | null)[]> = {};
  columns.forEach((c, j) => (out[c.name] = cols[j]!));
  return { rows, ids, columns: out };
}

/** What a scored row is written with besides its id, score and reasons. */
export interface ScoreLineContext {
  runId: string;
  product: string;
  modelVersion: string;
  shard: number;
  /** Population share of positives the score is prior-corrected to; null = the forest's probability. */
  positiveRate: number | null;
  /** Reason codes kept per row. */
  reasons: number;
}

/** An error of the input (a column the model cannot read), as opposed to a failure of the machinery. */
export class ScoreInputError extends Error {}

/**
 * COPY csv lines of mart.scores (run_id, golden_id, product, model_version, score, shard, reasons) for parsed rows:
 * the score with 6 decimals, and the top reason codes — the columns of largest |Saabas contribution|, ties in schema
 * order, each "column:+0.0812" — exactly as HistForest.reasonCodes and formatReasons give them.
 */
export function scoreLines(forest: HistForest, parsed: ParsedCopyText, ctx: ScoreLineContext): string {
  let explained: ReturnType<HistForest['contributions']>;
  try {
    explained = forest.contributions({ rows: parsed.rows, columns: parsed.columns });
  } catch (err) {
    throw new ScoreInputError((err as Error).message);
  }
  const { prediction, contributions, columns } = explained;
  const nc = columns.length;
  const k = Math.min(ctx.reasons, nc);
  const head = `${csvField(ctx.runId)},`;
  const middle = `,${csvField(ctx.product)},${csvField(ctx.modelVersion)},`;
  const shard = `,${csvField(String(ctx.shard))},`;
  const topIdx = new Int32Array(k);
  const topAbs = new Float64Array(k);
  let out = '';
  for (let r = 0; r < parsed.rows; r++) {
    // Top k by |contribution|, a later column only ahead of an earlier one when strictly larger (a stable sort's order).
    let kept = 0;
    const base = r * nc;
    for (let j = 0; j < nc; j++) {
      const a = Math.abs(contributions[base + j]!);
      let at = kept;
      while (at > 0 && topAbs[at - 1]! < a) at--;
      if (at >= k) continue;
      for (let m = Math.min(kept, k - 1); m > at; m--) {
        topAbs[m] = topAbs[m - 1]!;
        topIdx[m] = topIdx[m - 1]!;
      }
      topAbs[at] = a;
      topIdx[at] = j;
      if (kept < k) kept++;
    }
    let reasons = '';
    for (let m = 0; m < kept; m++) {
      const c = contributions[base + topIdx[m]!]!;
      reasons += `${m > 0 ? ';' : ''}${columns[topIdx[m]!]!}:${c >= 0 ? '+' : ''}${c.toFixed(4)}`;
    }
    const p = prediction[r]!;
    const score = ctx.positiveRate === null ? p : priorCorrect(p, ctx.positiveRate);
    out += `${head}${csvField(parsed.ids[r]!)}${middle}"${score.toFixed(6)}"${shard}${csvField(reasons)}\n`;
  }
  return out;
}
