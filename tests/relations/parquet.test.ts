import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
