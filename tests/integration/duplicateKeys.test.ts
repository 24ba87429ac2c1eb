import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { quarantineDuplicateKeys, type SourceLoadResult } from '../../activities/ingest';
import { knexRunner, withTransaction } from '../../activities/pg';
import { ensureLandingPartition } from '../../db/landing';
import { SOURCES } from '../../config/sources';
import { createLogger } from '../../services/logger';
import { createTestContext, type TestContext } from '../helpers/testContext';

let ctx: TestContext;
const RUN = 'it-dupkeys';
const AS_OF = '2026-11-20';

beforeAll(async () => {
  ctx = await createTestContext('dupkeys');
  await ctx.db('audit.runs').insert({ run_id: RUN, as_of: AS_OF, input_dir: ctx.workDir, config_sha256: 'test', config: '{}', code_version: 'test', seed: 1, status: 'running', snapshot_dir: path.join(ctx.env.snapshotDir, RUN), started_at: new Date() });
});

afterAll(async () => {
  await ctx?.close();
});

async function ingest(source: 'transactions' | 'balances', csv: string): Promise<SourceLoadResult> {
  const dir = path.join(ctx.workDir, 'in');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${source}.csv`), csv);
  const activities = createActivities({ db: ctx.db, databaseUrl: ctx.databaseUrl, log: createLogger('warn'), env: ctx.env, codeVersion: 'test' });
  return (await new MockActivityEnvironment().run(activities.ingestSource, { runId: RUN, inputDir: dir, source, asOf: AS_OF, timezone: 'Asia/Shanghai' })) as SourceLoadResult;
}

async function quarantinedRows(source: string): Promise<number[]> {
  const rows = await ctx.db('audit.quarantine').where({ run_id: RUN, source, reason_code: 'duplicate_key' }).orderBy('row_number').pluck('row_number');
  return rows.map(Number);
}

test('every later occurrence of a key is quarantined, the first is kept (single-column key)', async () => {
  const ids = Array.from({ length: 5000 }, (_, i) => `T${String(i).padStart(12, '0')}`);
  // Row numbers (1-based) of the repeats: T5 three times, T7 twice, T9 again with spaces (trimmed, so the same key).
  const file = [...ids];
  file.splice(100, 0, ids[5]!);
  file.splice(2000, 0, ids[5]!, ids[7]!);
  file.push(` ${ids[9]!} `);
  const lines = file.map((id) => `${id},A1,C1,2026-11-19T10:00:00+08:00,10.00,credit,online,salary`);
  const load = await ingest('transactions', ['txn_id,account_id,customer_key,txn_ts,amount,direction,channel,category', ...lines].join('\n') + '\n');
  expect(await quarantinedRows('transactions')).toEqual([101, 2001, 2002, file.length]);
  expect(load).toMatchObject({ rowsIn: file.length, loaded: ids.length, quarantined: 4, reasons: { duplicate_key: 4 } });
  const kept = await ctx.db('landing.transactions').where({ run_id: RUN }).whereIn('txn_id', [ids[5]!, ids[7]!, ids[9]!]).orderBy('row_number').pluck('row_number');
  expect(kept.map(Number)).toEqual([6, 8, 10]);
});

test('composite keys: a repeat needs every part equal; no candidates means no SQL pass finds any', async () => {
  const lines = ['A1,2026-11-18,1.00', 'A1,2026-11-19,2.00', 'A2,2026-11-18,3.00', 'A1,2026-11-18,4.00', 'A2,2026-11-19,5.00'];
  const load = await ingest('balances', ['account_id,balance_date,balance', ...lines].join('\n') + '\n');
  expect(await quarantinedRows('balances')).toEqual([4]);
  expect(load).toMatchObject({ rowsIn: 5, loaded: 4, quarantined: 1 });
  const unique = await ingest('balances', ['account_id,balance_date,balance', 'A1,2026-11-18,1.00', 'A1,2026-11-19,2.00'].join('\n') + '\n');
  expect(unique).toMatchObject({ rowsIn: 2, loaded: 2, quarantined: 0 });
  expect(await quarantinedRows('balances')).toEqual([]);
});

test('ranking every loaded row (no candidates known) quarantines the same repeats as ranking candidates only', async () => {
  const rows = (run: string) =>
    ['T1', 'T2', 'T1', 'T3', 'T2', 'T1'].map((id, i) => ({ run_id: run, row_number: i + 1, txn_id: id, account_id: 'A1', customer_key: 'C1', txn_ts: '2026-11-19T10:00:00+08:00', amount: 1, direction: 'debit', channel: 'mobile', category: 'other' }));
  for (const run of ['it-dup-all', 'it-dup-some']) {
    await ctx.db('audit.runs').insert({ run_id: run, as_of: AS_OF, input_dir: ctx.workDir, config_sha256: 'test', config: '{}', code_version: 'test', seed: 1, status: 'running', snapshot_dir: path.join(ctx.env.snapshotDir, run), started_at: new Date() });
    await ensureLandingPartition(knexRunner(ctx.db), 'transactions', run);
    await ctx.db('landing.transactions').insert(rows(run));
  }
  const all = await withTransaction(ctx.databaseUrl, (client) => quarantineDuplicateKeys(client, SOURCES.transactions, 'it-dup-all', null));
  const some = await withTransaction(ctx.databaseUrl, (client) => quarantineDuplicateKeys(client, SOURCES.transactions, 'it-dup-some', [['T1'], ['T2']]));
  expect([all, some]).toEqual([3, 3]);
  for (const run of ['it-dup-all', 'it-dup-some']) {
    const q = await ctx.db('audit.quarantine').where({ run_id: run, source: 'transactions' }).orderBy('row_number').pluck('row_number');
    expect(q.map(Number)).toEqual([3, 5, 6]);
    const kept = await ctx.db('landing.transactions').where({ run_id: run }).orderBy('row_number').pluck('row_number');
    expect(kept.map(Number)).toEqual([1, 2, 4]);
  }
});
