import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeSnapshot } from '../../relations/parquet';
import { CONTRACT_VERSION } from '../../relations/contract';
import { col, contractType, relation, type RowOf } from '../../relations/types';
import { quality } from '../../relations/snapshots';
import { duckQuery } from '../helpers/duck';

const sample = relation({
  name: 'sample',
  file: 'sample.parquet',
  doc: 'every contract type once',
  key: ['id'],
  sortBy: ['id'],
  columns: [
    col('id', 'VARCHAR'),
    col('flag', 'BOOLEAN'),
    col('n32', 'INT32', { nullable: true }),
    col('n64', 'INT64'),
    col('ratio', 'DOUBLE', { nullable: true }),
    col('money', 'DECIMAL(18,2)', { nullable: true }),
    col('day', 'DATE', { nullable: true }),
    col('at', 'TIMESTAMP', { nullable: true }),
    col('codes', { list: 'VARCHAR' }),
    col('reasons', { list: { struct: { feature: 'VARCHAR', contribution: 'DOUBLE' } } }, { nullable: true }),
  ],
});

const rows: RowOf<typeof sample>[] = [
  { id: 'b', flag: false, n32: null, n64: 2, ratio: null, money: null, day: null, at: null, codes: [], reasons: null },
  { id: 'a', flag: true, n32: 7, n64: 9_007_199_254_740_000, ratio: 0.125, money: 1234.5, day: '2026-11-20', at: new Date('2026-11-20T01:02:03.456Z'), codes: ['x', 'y'], reasons: [{ feature: 'age', contribution: -0.0121 }] },
  { id: '', flag: true, n32: -1, n64: 0, ratio: 1e-9, money: 0.01, day: '2026-01-01', at: '2026-01-01T00:00:00.000Z', codes: ['逗号,"引号"'], reasons: [] },
];

let dir: string;
let written: Awaited<ReturnType<typeof writeSnapshot>>;
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'portrait-relations-'));
  written = await writeSnapshot(dir, sample, { rows });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('every contract type is written as its Parquet logical type, as DuckDB reads it', async () => {
  expect(written).toMatchObject({ path: 'sample.parquet', rows: 3 });
  expect(written.columns!.map((c) => c.type)).toEqual(sample.columns.map((c) => contractType(c.type)));
  const types = await duckQuery(`select column_name, column_type from (describe select * from read_parquet('${path.join(dir, 'sample.parquet')}'))`);
  expect(Object.fromEntries(types.map((t) => [t.column_name, t.column_type]))).toEqual({
    id: 'VARCHAR', flag: 'BOOLEAN', n32: 'INTEGER', n64: 'BIGINT', ratio: 'DOUBLE', money: 'DECIMAL(18,2)', day: 'DATE', at: 'TIMESTAMP WITH TIME ZONE',
    codes: 'VARCHAR[]', reasons: 'STRUCT(feature VARCHAR, contribution DOUBLE)[]',
  });
  const schema = await duckQuery(`select name, logical_type from parquet_schema('${path.join(dir, 'sample.parquet')}') where name = 'at'`);
  expect(String(schema[0]!.logical_type)).toMatch(/isAdjustedToUTC=1.*MICROS=MicroSeconds/);
});

test('values survive exactly; rows from memory are written in the declared sort order', async () => {
  const back = await duckQuery(
    `select id, flag, n32, n64::varchar as n64, ratio, money::varchar as money, day::varchar as day, strftime("at" at time zone 'UTC', '%Y-%m-%dT%H:%M:%S.%f') as "at", codes, to_json(reasons)::varchar as reasons
     from read_parquet('${path.join(dir, 'sample.parquet')}')`,
  );
  expect(back.map((r) => r.id)).toEqual(['', 'a', 'b']);
  expect(back[1]).toEqual({ id: 'a', flag: true, n32: 7, n64: '9007199254740000', ratio: 0.125, money: '1234.50', day: '2026-11-20', at: '2026-11-20T01:02:03.456000', codes: ['x', 'y'], reasons: '[{"feature":"age","contribution":-0.0121}]' });
  expect(back[0]).toMatchObject({ id: '', codes: ['逗号,"引号"'], reasons: '[]', money: '0.01' });
  expect(back[2]).toMatchObject({ n32: null, money: null, day: null, at: null, codes: [], reasons: null });
});

test('zstd, statistics on every column, Portrait and the contract version in the key-value metadata', async () => {
  const f = path.join(dir, 'sample.parquet');
  const chunks = await duckQuery(`select path_in_schema, compression, stats_min_value is not null or stats_null_count = num_values as has_stats from parquet_metadata('${f}')`);
  expect(new Set(chunks.map((c) => c.compression))).toEqual(new Set(['ZSTD']));
  expect(chunks.filter((c) => !c.has_stats).map((c) => c.path_in_schema)).toEqual([]);
  const kv = await duckQuery(`select decode(key) as key, decode(value) as value from parquet_kv_metadata('${f}')`);
  const meta = Object.fromEntries(kv.map((r) => [r.key, r.value]));
  const version = (JSON.parse(readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as { version: string }).version;
  expect(meta).toMatchObject({ 'portrait.created_by': `Portrait ${version}`, 'portrait.contract_version': String(CONTRACT_VERSION), 'portrait.relation': 'sample' });
});

test('the same rows in any input order give byte-identical files', async () => {
  const again = await writeSnapshot(dir, sample, { rows: [...rows].reverse() }, { file: 'again.parquet' });
  expect(again.sha256).toBe(written.sha256);
});

test('a null in a non-nullable column fails the write and names the column', async () => {
  const bad = [{ source: 'loans', check: 'min_rows', status: 'pass', severity: 'fail', measured: null, threshold: 1, message: null }] as unknown as RowOf<typeof quality>[];
  await expect(writeSnapshot(dir, quality, { rows: bad })).rejects.toThrow(/quality\.parquet: null values in non-nullable columns message \(1\)/);
});

test('the named pipe and the spool file give byte-identical files', async () => {
  const fifo = await writeSnapshot(dir, sample, { rows }, { file: 'fifo.parquet', transport: 'fifo' });
  const spool = await writeSnapshot(dir, sample, { rows }, { file: 'spool.parquet', transport: 'spool' });
  expect(fifo.sha256).toBe(spool.sha256);
  expect(fifo.sha256).toBe(written.sha256);
  expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
});

test('a sorted LIST column is written with its elements in ascending order, whatever order they arrive in', async () => {
  const lists = relation({
    name: 'lists',
    file: 'lists.parquet',
    doc: 'sorted lists',
    key: ['id'],
    sortBy: ['id'],
    columns: [
      col('id', 'VARCHAR'),
      col('names', { list: 'VARCHAR' }, { sorted: true }),
      col('keys', { list: { struct: { system: 'VARCHAR', key: 'VARCHAR' } } }, { sorted: true }),
      col('as_given', { list: 'VARCHAR' }),
    ],
  });
  const input = [{ id: 'a', names: ['b', 'B', 'a', '中'], keys: [{ system: 'x', key: '2' }, { system: 'x', key: '10' }, { system: 'a', key: '9' }], as_given: ['b', 'a'] }];
  const out = await writeSnapshot(dir, lists, { rows: input });
  const [back] = await duckQuery(`select names, to_json(keys)::varchar as keys, as_given from read_parquet('${path.join(dir, out.path)}')`);
  expect(back).toEqual({ names: ['B', 'a', 'b', '中'], keys: '[{"system":"a","key":"9"},{"system":"x","key":"10"},{"system":"x","key":"2"}]', as_given: ['b', 'a'] });
  expect(() => col('x', 'VARCHAR', { sorted: true })).toThrow(/only a LIST/);
});

test('money from doubles is rounded to cents half away from zero on 15 significant digits, as PostgreSQL numeric(18,2)', async () => {
  const money = relation({ name: 'money', file: 'money.parquet', doc: 'money', key: ['i'], sortBy: ['i'], columns: [col('i', 'INT32'), col('v', 'DECIMAL(18,2)', { nullable: true })] });
  // Expected values are what `select v::float8::numeric(18,2)` prints on PostgreSQL 15 (tests/integration/snapshotWriter checks against the server).
  const cases: [number | null, string | null][] = [
    [0.005, '0.01'], [1.005, '1.01'], [2.675, '2.68'], [-0.005, '-0.01'], [-1.005, '-1.01'], [1.0049999999999999, '1.01'], [1.00499999, '1.00'],
    [0.125, '0.13'], [-0, '0.00'], [1e-9, '0.00'], [1234.5, '1234.50'], [123456789012.345, '123456789012.35'], [-9999999999999.995, '-9999999999999.99'], [0.015, '0.02'],
    [99999999999999.99, '100000000000000.00'], [null, null],
  ];
  const out = await writeSnapshot(dir, money, { rows: cases.map(([v], i) => ({ i, v })) });
  const back = await duckQuery(`select v::varchar as v from read_parquet('${path.join(dir, out.path)}') order by i`);
  expect(back.map((r) => r.v)).toEqual(cases.map(([, s]) => s));
});

test("a value DuckDB cannot read fails the write with one line naming the file, whichever transport", async () => {
  const bad = rows.map((r) => ({ ...r, day: r.id === 'a' ? 'not a date' : r.day }));
  for (const transport of ['fifo', 'spool'] as const) {
    const err = (await writeSnapshot(dir, sample, { rows: bad }, { file: `bad-${transport}.parquet`, transport }).catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/^snapshot bad-(fifo|spool)\.parquet \(relation sample\): DuckDB could not write it: Conversion Error: CSV Error on Line: \d+; Error when converting column "day"/);
    expect(err.message).not.toMatch(/\n/);
    expect(err.message).not.toMatch(/portrait-snapshot-|csv\.partial/);
  }
  expect(readdirSync(dir).filter((f) => f.startsWith('bad-'))).toEqual([]);
});
