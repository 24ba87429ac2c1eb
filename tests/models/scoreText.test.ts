import { getTypeParser } from 'pg-types';
import { formatReasons } from '../../activities/score';
import { trainHistForest, type HistForest, type Row } from '../../models/histForest';
import { priorCorrect } from '../../models/lifecycle';
import { createUniform } from '../../models/prng';
import { ScorePool, type ScoreModel } from '../../models/scorePool';
import { parseCopyText, scoreLines, ScoreInputError, type CopyColumn, type ScoreLineContext } from '../../models/scoreText';
import { csvLine } from '../../transforms/copyText';

// What node-postgres gives the row-object path for int4, float8 and bool text.
const pgInt = getTypeParser(23, 'text') as (s: string) => number;
const pgFloat = getTypeParser(701, 'text') as (s: string) => number;
const pgBool = getTypeParser(16, 'text') as (s: string) => boolean;

const enc = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

/** COPY text escaping of a text value (as PostgreSQL writes it). */
function copyEscape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

describe('parseCopyText', () => {
  const columns: CopyColumn[] = [
    { name: 'i', kind: 'integer' },
    { name: 'x', kind: 'float' },
    { name: 'b', kind: 'boolean' },
    { name: 's', kind: 'text' },
  ];

  it('reads integers, doubles, booleans, text and NULLs as node-postgres does', () => {
    const lines: [string, string, string, string, string][] = [
      ['g1', '-42', '-1.5e-07', 't', 'plain'],
      ['g2', '\\N', '\\N', '\\N', '\\N'],
      ['g3', '0', '-0', 'f', 'tab\\there\\\\back\\nline'],
      ['g4', '2147483647', '1.7976931348623157e+308', 't', '城市 é'],
      ['g5', '-2147483648', '5e-324', 'f', 'a\\\\b\\tc'],
      ['g6', '7', 'Infinity', 't', '\\x41\\101\\r'],
      ['g7', '12', '-Infinity', 'f', ''],
      ['g8', '13', 'NaN', 't', 'x'],
      ['g9', '14', '0.30000000000000004', 'f', 'y'],
      ['g\\t10', '15', '123456789012345680000', 't', 'z'],
      ['g11', '16', '-12.345', 'f', 'w'],
    ];
    const parsed = parseCopyText(enc(lines.map((l) => l.join('\t') + '\n').join('')), columns);
    expect(parsed.rows).toBe(lines.length);
    expect(parsed.ids).toEqual(['g1', 'g2', 'g3', 'g4', 'g5', 'g6', 'g7', 'g8', 'g9', 'g\t10', 'g11']);
    const unescaped = ['plain', null, 'tab\there\\back\nline', '城市 é', 'a\\b\tc', 'AA\r', '', 'x', 'y', 'z', 'w'];
    lines.forEach(([, i, x, b], r) => {
      const num = (v: number) => (Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? '-0' : String(v));
      expect(num((parsed.columns.i as Float64Array)[r]!)).toBe(i === '\\N' ? 'NaN' : num(pgInt(i)));
      expect(num((parsed.columns.x as Float64Array)[r]!)).toBe(x === '\\N' ? 'NaN' : num(pgFloat(x)));
      expect((parsed.columns.b as Float64Array)[r]).toEqual(b === '\\N' ? NaN : pgBool(b) ? 1 : 0);
    });
    expect(parsed.columns.s).toEqual(unescaped);
  });

  it('reads every double as parseFloat does, in fixed and exponent notation', () => {
    const u = createUniform(11, 3);
    const texts: string[] = [];
    for (let k = 0; k < 20000; k++) {
      const mag = Math.pow(10, Math.floor(u() * 40) - 20);
      const v = (u() - 0.5) * mag;
      texts.push(String(v), v.toExponential(), v.toExponential(3).replace('e', 'E'), v.toFixed(4), v.toPrecision(17));
    }
    texts.push('1e22', '1e23', '-1e-22', '9007199254740993', '123456789012345.6', '0.1e1', '+3');
    const parsed = parseCopyText(enc(texts.map((t, r) => `r${r}\t${t}\n`).join('')), [{ name: 'x', kind: 'float' }]);
    const got = parsed.columns.x as Float64Array;
    texts.forEach((t, r) => {
      if (!Object.is(got[r], parseFloat(t))) throw new Error(`'${t}' parsed as ${got[r]}, parseFloat gives ${parseFloat(t)}`);
    });
  });

  it('rejects a row with too few or too many fields and a bad boolean', () => {
    expect(() => parseCopyText(enc('g1\t1\n'), columns)).toThrow(/2 fields, expected 5/);
    expect(() => parseCopyText(enc('g1\t1\t2\tt\ts\textra\n'), columns)).toThrow(/more than 5 fields/);
    expect(() => parseCopyText(enc('g1\t1\t2\tyes\ts\n'), columns)).toThrow(/boolean COPY text must be t or f/);
    expect(() => parseCopyText(enc('g1\t1\t2\tt\ts'), columns)).toThrow(/line break/);
  });
});

/** Tag-like rows as node-postgres returns them: numbers, integers, booleans, categories, NULLs. */
function makeRows(n: number, seed: number): { rows: Row[]; y: number[] } {
  const u = createUniform(seed, 5);
  const levels = ['branch', 'app', 'web\tdesk', 'a\\b', '城市'];
  const rows: Row[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const balance = u() < 0.1 ? null : (u() - 0.3) * 10 ** Math.floor(u() * 8 - 3);
    const logins = u() < 0.05 ? null : Math.floor(u() * 40) - 5;
    const card = u() < 0.5;
    const channel = u() < 0.08 ? null : levels[Math.floor(u() * levels.length)]!;
    const z = (balance ?? 0) > 0.5 ? 1 : 0;
    y.push(u() < 0.2 + 0.4 * z + (card ? 0.1 : 0) + (channel === 'app' ? 0.15 : 0) ? 1 : 0);
    rows.push({ balance, logins, card, channel });
  }
  return { rows, y };
}

const COLUMNS: CopyColumn[] = [
  { name: 'balance', kind: 'float' },
  { name: 'logins', kind: 'integer' },
  { name: 'card', kind: 'boolean' },
  { name: 'channel', kind: 'text' },
];

function copyText(rows: Row[], from = 0): string {
  const field = (v: unknown) => (v === null ? '\\N' : typeof v === 'boolean' ? (v ? 't' : 'f') : typeof v === 'string' ? copyEscape(v) : String(v));
  return rows.map((r, i) => [`g${String(i + from).padStart(5, '0')}`, ...COLUMNS.map((c) => field(r[c.name]))].join('\t') + '\n').join('');
}

describe('scoreLines', () => {
  let forest: HistForest;
  const { rows, y } = makeRows(3000, 21);
  beforeAll(async () => {
    forest = await trainHistForest(rows, y, { seed: 3, nEstimators: 25, maxDepth: 8, minSamplesLeaf: 5, threads: 1, features: COLUMNS.map((c) => c.name) });
  });

  it.each([null, 0.04])('writes what the row-object path writes (reasonCodes, formatReasons, csvLine), positive rate %p', (positiveRate) => {
    const ctx: ScoreLineContext = { runId: 'r"1', product: 'credit_card', modelVersion: 'credit_card-abc', shard: 2, positiveRate, reasons: 3 };
    const expected = forest
      .reasonCodes(rows, 3)
      .map((e, i) => {
        const score = positiveRate === null ? e.prediction : priorCorrect(e.prediction, positiveRate);
        return csvLine([ctx.runId, `g${String(i).padStart(5, '0')}`, ctx.product, ctx.modelVersion, score.toFixed(6), String(ctx.shard), formatReasons(e)]);
      })
      .join('');
    expect(scoreLines(forest, parseCopyText(enc(copyText(rows)), COLUMNS), ctx)).toBe(expected);
  });

  it('keeps fewer reasons than asked when the model has fewer columns', () => {
    const ctx: ScoreLineContext = { runId: 'r', product: 'p', modelVersion: 'v', shard: 0, positiveRate: null, reasons: 9 };
    const line = scoreLines(forest, parseCopyText(enc(copyText(rows.slice(0, 1))), COLUMNS), ctx);
    expect(line.split(',').pop()!.split(';')).toHaveLength(4);
  });

  it('reports a column of the wrong type as an input error', () => {
    const ctx: ScoreLineContext = { runId: 'r', product: 'p', modelVersion: 'v', shard: 0, positiveRate: null, reasons: 3 };
    const retyped = COLUMNS.map((c) => (c.name === 'channel' ? { name: c.name, kind: 'integer' as const } : c));
    const text = enc(copyText(rows.slice(0, 3)).replace(/\t[^\t\n]*\n/g, '\t7\n'));
    expect(() => scoreLines(forest, parseCopyText(text, retyped), ctx)).toThrow(ScoreInputError);
  });

  it('gives the same bytes on 2 worker threads, in any batching, as in this thread', async () => {
    const model: ScoreModel = { version: 'v1', json: forest.serialize(), forest };
    const ctx: ScoreLineContext = { runId: 'r', product: 'p', modelVersion: 'v1', shard: 1, positiveRate: 0.1, reasons: 3 };
    const single = await new ScorePool(0).score(model, { columns: COLUMNS, text: enc(copyText(rows)), context: ctx });
    const pool = new ScorePool(2);
    try {
      const cuts = [0, 1, 700, 701, 1999, 3000];
      const parts = await Promise.all(cuts.slice(1).map((end, k) => pool.score(model, { columns: COLUMNS, text: enc(copyText(rows.slice(cuts[k]!, end), cuts[k]!)), context: ctx })));
      expect(parts.reduce((a, p) => a + p.rows, 0)).toBe(rows.length);
      expect(Buffer.concat(parts.map((p) => p.csv)).equals(Buffer.from(single.csv))).toBe(true);
      expect(single.rows).toBe(rows.length);
    } finally {
      await pool.close();
    }
  });

  it('rejects an input error from a worker thread as ScoreInputError', async () => {
    const model: ScoreModel = { version: 'v1', json: forest.serialize(), forest };
    const ctx: ScoreLineContext = { runId: 'r', product: 'p', modelVersion: 'v1', shard: 1, positiveRate: null, reasons: 3 };
    const retyped = COLUMNS.map((c) => (c.name === 'channel' ? { name: c.name, kind: 'integer' as const } : c));
    const pool = new ScorePool(1);
    try {
      await expect(pool.score(model, { columns: retyped, text: enc('g1\t1\t2\tt\t5\n'), context: ctx })).rejects.toBeInstanceOf(ScoreInputError);
    } finally {
      await pool.close();
    }
  });
});
