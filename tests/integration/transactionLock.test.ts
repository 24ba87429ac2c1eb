import { copyWriter, withTransaction } from '../../activities/pg';
import { createTestContext, type TestContext } from '../helpers/testContext';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext('txlock');
  await ctx.db.raw('create table lock_probe (attempt text primary key, seen int not null)');
});

afterAll(async () => {
  await ctx?.close();
});

test('a retried attempt waits for the earlier one holding the same lock key, then sees its committed rows', async () => {
  let releaseFirst!: () => void;
  const firstMayCommit = new Promise<void>((resolve) => (releaseFirst = resolve));
  let firstHasLock!: () => void;
  const firstLocked = new Promise<void>((resolve) => (firstHasLock = resolve));
  const order: string[] = [];
  const first = withTransaction(
    ctx.databaseUrl,
    async (client) => {
      firstHasLock();
      await client.query(`insert into lock_probe values ('first', 0)`);
      await firstMayCommit;
      order.push('first commits');
    },
    { lockKey: 'probe:run-1' },
  );
  await firstLocked;
  const second = withTransaction(
    ctx.databaseUrl,
    async (client) => {
      order.push('second starts');
      // Like a retried stage: it replaces what the earlier attempt wrote, so it must see it committed.
      const { rows } = await client.query<{ n: string }>('select count(*) as n from lock_probe');
      await client.query(`insert into lock_probe values ('second', $1)`, [Number(rows[0]!.n)]);
    },
    { lockKey: 'probe:run-1' },
  );
  // Another key is not held up by either.
  await withTransaction(ctx.databaseUrl, async (client) => void (await client.query('select 1')), { lockKey: 'probe:run-2' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(order).toEqual([]);
  releaseFirst();
  await Promise.all([first, second]);
  expect(order).toEqual(['first commits', 'second starts']);
  const seen = await ctx.db('lock_probe').where({ attempt: 'second' }).first();
  expect(seen.seen).toBe(1);
});

test('a COPY that PostgreSQL failed rejects end() and raises nothing unhandled', async () => {
  await ctx.db.raw('create table copy_probe (x int)');
  const unhandled: unknown[] = [];
  const onError = (err: unknown) => unhandled.push(err);
  process.on('uncaughtException', onError);
  try {
    const run = withTransaction(ctx.databaseUrl, async (client) => {
      const copy = copyWriter(client, 'copy copy_probe (x) from stdin with (format csv)');
      // PostgreSQL answers with an error while the COPY is still open (as when a cancelled attempt's session is
      // ended): pg-copy-streams emits it and lets go of the connection; ending the stream then must not raise again.
      await copy.write('1\nnot a number\n');
      await new Promise((resolve) => setTimeout(resolve, 500));
      await copy.end();
    });
    await expect(run).rejects.toThrow(/invalid input syntax for type integer/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(unhandled).toEqual([]);
    expect((await ctx.db('copy_probe').count<{ n: string }[]>('* as n'))[0]!.n).toBe('0');
  } finally {
    process.off('uncaughtException', onError);
  }
});
