import { readdirSync } from 'node:fs';
import path from 'node:path';
import { writeSnapshot } from '../../relations/parquet';
import { col, relation } from '../../relations/types';
import { createTestContext, type TestContext } from '../helpers/testContext';
import { duckQuery } from '../helpers/duck';

/** The snapshot writer against a real PostgreSQL: rows of a scratch table, COPY → fifo or spool → DuckDB → Parquet. */
let ctx: TestContext;
let dir: string;
const RUN = 'it-writer';

// Money edge values: half-cent ties, negatives, values whose 15-digit form carries, large values.
const MONEY = [0.005, 1.005, 2.675, -0.005, -1.005, -2.675, 0.015, 1.125, 0.125, -0, 1e-9, 1234.5, 123456789012.345, -9999999999999.995, 99999999999999.99, 42, null];

const scratch = relation({
  name: 'scratch',
  file: 'scratch.parquet',
  doc: 'writer test rows',
  key: ['i'],
  sortBy: ['i'],
  from: 'public.writer_scratch w',
  where: 'w.run_id = :runId',
  columns: [
    col('i', 'INT32'),
    col('money', 'DECIMAL(18,2)', { nullable: true, pg: 'double precision' }),
    col('exact', 'DECIMAL(18,2)', { nullable: true }),
    col('day', 'DATE', { nullable: true }),
    col('at', 'TIMESTAMP', { nullable: true }),
    col('ratio', 'DOUBLE', { nullable: true }),
    col('tags', { list: 'VARCHAR' }, { sorted: true, pg: 'jsonb', sql: "(select coalesce(jsonb_agg(t), '[]'::jsonb) from unnest(w.tags) t)" }),
  ],
});

beforeAll(async () => {
  ctx = await createTestContext('writer');
  dir = path.join(ctx.workDir, 'out');
  await ctx.db.raw(`create table public.writer_scratch (run_id text, i int, money float8, exact numeric(18,2), day date, at timestamptz, ratio float8, tags text[])`);
  // A session time zone far from UTC: the writer must not depend on it.
  await ctx.db.raw(`alter database "${new URL(ctx.databaseUrl).pathname.slice(1)}" set timezone = 'Asia/Shanghai'`);
  await ctx.db.raw(
    `insert into public.writer_scratch
     select :run, i - 1, m, m::numeric(18,2), date '2026-11-20' + i::int, timestamptz '2026-11-20 23:59:59.123456+08' + i * interval '1 hour', 1.0 / 3 * i, array['z', 'b', 'B', 'a']
     from unnest(cast(:money as float8[])) with ordinality u(m, i)`,
    { run: RUN, money: `{${MONEY.map((m) => (m === null ? 'NULL' : Object.is(m, -0) ? '-0' : String(m))).join(',')}}` },
  );
});

afterAll(async () => {
  await ctx?.close();
});

const source = () => ({ db: ctx.db, databaseUrl: ctx.databaseUrl, params: { runId: RUN } });

test('from PostgreSQL, the named pipe and the spool file give byte-identical files', async () => {
  const fifo = await writeSnapshot(dir, scratch, source(), { file: 'fifo.parquet', transport: 'fifo' });
  const spool = await writeSnapshot(dir, scratch, source(), { file: 'spool.parquet', transport: 'spool' });
  expect(fifo.rows).toBe(MONEY.length);
  expect(fifo.sha256).toBe(spool.sha256);
  expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
});

test("money equals PostgreSQL's numeric(18,2) of the same doubles; dates, instants, doubles and sorted lists survive", async () => {
  const out = await writeSnapshot(dir, scratch, source());
  const fromDb = (await ctx.db.raw(
    `select i, money::numeric(18,2)::text as money, exact::text as exact, day::text as day, to_char(at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') as at, ratio
     from public.writer_scratch where run_id = ? order by i`,
    [RUN],
  )).rows;
  const fromFile = await duckQuery(
    `select i, money::varchar as money, exact::varchar as exact, day::varchar as day, strftime("at" at time zone 'UTC', '%Y-%m-%d %H:%M:%S.%f') as "at", ratio, tags
     from read_parquet('${path.join(dir, out.path)}') order by i`,
  );
  expect(fromFile.map(({ tags, ...r }) => r)).toEqual(fromDb);
  expect(fromFile.map((r) => r.money)).toEqual(expect.arrayContaining(['0.01', '-1.01', '2.68', '-2.68', '100000000000000.00', null]));
  expect(new Set(fromFile.map((r) => JSON.stringify(r.tags)))).toEqual(new Set([JSON.stringify(['B', 'a', 'b', 'z'])]));
});

test('a value DuckDB cannot read, while PostgreSQL is still sending, fails with one line naming the file and leaves nothing behind', async () => {
  await ctx.db.raw(`insert into public.writer_scratch (run_id, i, tags) select 'it-writer-big', i, array['x'] from generate_series(1, 200000) i`);
  const broken = relation({ ...scratch, name: 'broken', file: 'broken.parquet', columns: [col('i', 'INT32'), col('tags', { list: 'INT32' }, { pg: 'jsonb', sql: 'to_jsonb(w.tags)' })] });
  for (const transport of ['fifo', 'spool'] as const) {
    const err = (await writeSnapshot(dir, broken, { ...source(), params: { runId: 'it-writer-big' } }, { transport }).catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/^snapshot broken\.parquet \(relation broken\): DuckDB could not write it: \S/);
    expect(err.message).not.toMatch(/\n/);
  }
  expect(readdirSync(dir).filter((f) => f.startsWith('broken') || f.includes('partial'))).toEqual([]);
  // The connection pool is still usable: the failed COPY's transaction was ended.
  expect((await ctx.db.raw('select 1 as one')).rows).toEqual([{ one: 1 }]);
});

test("scores' reasons built by the writer from text equal what PostgreSQL built as JSON: empty, null, signs, exponents", async () => {
  const { scores } = await import('../../relations/snapshots');
  const fromText = scores.columns.find((c) => c.name === 'reasons')!;
  const REASONS = ['txn_count_90d:+0.0812;age:-0.0121;salary_credit:+0.0000', '', null, 'a:1e-05;', 'only:-1.5', ';b:+2;;c:-0.125'];
  await ctx.db.raw(`create table public.reason_scratch (run_id text, i int, reasons text)`);
  await ctx.db.raw(`insert into public.reason_scratch select :run, i, r from unnest(cast(:reasons as text[])) with ordinality u(r, i)`, {
    run: RUN,
    reasons: REASONS,
  });
  const common = { name: 'reasons', key: ['i'], sortBy: ['i'], from: 'public.reason_scratch s', where: 's.run_id = :runId', doc: 'reasons' } as const;
  const viaWriter = relation({ ...common, file: 'reasons-text.parquet', columns: [col('i', 'INT32'), fromText] });
  // The definition it replaced: a jsonb list assembled per row in PostgreSQL.
  const viaJson = relation({
    ...common,
    file: 'reasons-json.parquet',
    columns: [
      col('i', 'INT32'),
      col('reasons', fromText.type, {
        nullable: true,
        sql: `case when s.reasons is null then null else coalesce((select jsonb_agg(jsonb_build_object('feature', split_part(r, ':', 1), 'contribution', split_part(r, ':', 2)::float8) order by n)
              from unnest(string_to_array(s.reasons, ';')) with ordinality u(r, n) where r <> ''), '[]'::jsonb) end`,
      }),
    ],
  });
  const a = await writeSnapshot(dir, viaWriter, source());
  const b = await writeSnapshot(dir, viaJson, source());
  expect(a.sha256).toBe(b.sha256);
  const rows = await duckQuery(`select i, reasons from read_parquet('${path.join(dir, 'reasons-text.parquet')}') order by i`);
  expect(rows.map((r) => (r.reasons === null ? null : (r.reasons as { feature: string; contribution: number }[]).map((x) => `${x.feature}=${x.contribution}`)))).toEqual([
    ['txn_count_90d=0.0812', 'age=-0.0121', 'salary_credit=0'],
    [],
    null,
    ['a=0.00001'],
    ['only=-1.5'],
    ['b=2', 'c=-0.125'],
  ]);
});
