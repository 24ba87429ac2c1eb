import { withTransaction } from '../../activities/pg';
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
