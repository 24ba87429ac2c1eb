import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { SourceLoadResult } from '../../activities/ingest';
import { createLogger } from '../../services/logger';
import { messyTransactions } from '../helpers/messyCsv';
import { createTestContext, type TestContext } from '../helpers/testContext';

let ctx: TestContext;
const AS_OF = '2026-11-20';

beforeAll(async () => {
  ctx = await createTestContext('parallelingest');
});

afterAll(async () => {
  await ctx?.close();
});

async function ingest(runId: string, dir: string, workers: number): Promise<SourceLoadResult> {
  await ctx.db('audit.runs').insert({ run_id: runId, as_of: AS_OF, input_dir: dir, config_sha256: 'test', config: '{}', code_version: 'test', seed: 1, status: 'running', snapshot_dir: path.join(ctx.env.snapshotDir, runId), started_at: new Date() });
  const activities = createActivities({ db: ctx.db, databaseUrl: ctx.databaseUrl, log: createLogger('warn'), env: { ...ctx.env, ingestWorkers: workers }, codeVersion: 'test' });
  return (await new MockActivityEnvironment().run(activities.ingestSource, { runId, inputDir: dir, source: 'transactions' as const, asOf: AS_OF, timezone: 'Asia/Shanghai' })) as SourceLoadResult;
}

async function loaded(runId: string) {
  return ctx.db('landing.transactions').where({ run_id: runId }).orderBy('row_number').select('row_number', 'txn_id', 'account_id', 'customer_key', ctx.db.raw('txn_ts::text as ts'), ctx.db.raw('amount::text as amount'), 'direction', 'channel', 'category');
}

async function quarantined(runId: string) {
  return ctx.db('audit.quarantine').where({ run_id: runId }).orderBy('row_number').select('row_number', 'reason_code', 'message', ctx.db.raw('raw_masked::text as raw'));
}

test('worker threads load and quarantine exactly what the activity thread does, row numbers and line numbers included', async () => {
  const dir = path.join(ctx.workDir, 'messy');
  mkdirSync(dir, { recursive: true });
  const rows = 60_000;
  writeFileSync(path.join(dir, 'transactions.csv'), messyTransactions(rows));
  const serial = await ingest('it-serial', dir, 0);
  const parallel = await ingest('it-parallel', dir, 2);
  expect(parallel).toEqual(serial);
  expect(serial.rowsIn).toBeGreaterThan(rows * 0.99);
  expect(serial.rowsIn).toBe(serial.loaded + serial.quarantined);
  for (const reason of ['bad_enum', 'column_count', 'future_date', 'bad_quote', 'duplicate_key']) expect(serial.reasons[reason]).toBeGreaterThan(0);
  const [a, b] = [await loaded('it-serial'), await loaded('it-parallel')];
  expect(a.length).toBe(serial.loaded);
  expect(b).toEqual(a);
  const [qa, qb] = [await quarantined('it-serial'), await quarantined('it-parallel')];
  expect(qa.length).toBe(serial.quarantined);
  expect(qb).toEqual(qa);
  // Line numbers in messages are the file's: the line of a stray-quote record holds its id.
  const stray = qa.find((q) => q.reason_code === 'bad_quote')!;
  const line = Number(/^line (\d+):/.exec(stray.message)![1]);
  const text = messyTransactions(rows).split('\n');
  expect(text[line - 1]).toMatch(/^"T\d{12}"x,/);
});

test('a quote that is never closed falls back to reading in this thread, with the same result', async () => {
  const dir = path.join(ctx.workDir, 'unclosed');
  mkdirSync(dir, { recursive: true });
  const good = Array.from({ length: 40_000 }, (_, i) => `U${String(i).padStart(12, '0')},A1,C1,2026-11-01T08:00:00+08:00,1.00,debit,mobile,shopping`);
  // 17 MB after the open quote: more than a unit may wait for its end.
  const tail = Array.from({ length: 200_000 }, (_, i) => `V${String(i).padStart(12, '0')},A1,C1,2026-11-01T08:00:00+08:00,1.00,debit,mobile,shopping`);
  writeFileSync(path.join(dir, 'transactions.csv'), ['txn_id,account_id,customer_key,txn_ts,amount,direction,channel,category', ...good, '"W1,A1,C1,2026-11-01T08:00:00+08:00,1.00,debit,mobile,shopping', ...tail].join('\n') + '\n');
  const serial = await ingest('it-unclosed-serial', dir, 0);
  const parallel = await ingest('it-unclosed-parallel', dir, 2);
  expect(parallel).toEqual(serial);
  // The open quote swallows lines up to the record limit: one quarantined row; the lines after it load.
  expect(serial).toMatchObject({ quarantined: 1, reasons: { record_too_long: 1 } });
  expect(await quarantined('it-unclosed-parallel')).toEqual(await quarantined('it-unclosed-serial'));
});
