import path from 'node:path';
import { knexRunner } from '../../activities/pg';
import { landingRunsToDrop, pruneLandingPartitions } from '../../activities/retention';
import { ensureLandingPartition, landingPartitionName, landingPartitions } from '../../db/landing';
import { migrationSource } from '../../db/migrations';
import { createLogger } from '../../services/logger';
import { createTestContext, type TestContext } from '../helpers/testContext';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext('landing');
});

afterAll(async () => {
  await ctx?.close();
});

async function addRun(runId: string, asOf: string, status: string, startedAt: string): Promise<void> {
  await ctx.db('audit.runs').insert({ run_id: runId, as_of: asOf, input_dir: '-', config_sha256: '-', config: '{}', code_version: 'test', seed: 1, status, snapshot_dir: path.join(ctx.workDir, runId), started_at: startedAt });
  for (const source of ['loans', 'consent']) {
    await ensureLandingPartition(knexRunner(ctx.db), source, runId);
    await ctx.db(`landing.${source}`).insert(
      source === 'loans'
        ? { run_id: runId, row_number: 1, loan_id: `L-${runId}`, customer_key: 'C1', product: 'consumer_loan', principal: 1000, outstanding: 10, overdue_days: 0, opened_at: asOf }
        : { run_id: runId, row_number: 1, consent_id: `K-${runId}`, customer_key: 'C1', channel: 'sms', granted: true, recorded_at: `${asOf}T01:00:00Z` },
    );
  }
}

test('each run has its own partition, a query of one run reads only it, and rows of an unknown run are refused', async () => {
  await addRun('p-1', '2026-11-01', 'succeeded', '2026-11-01T20:00:00Z');
  await addRun('p-2', '2026-11-02', 'succeeded', '2026-11-02T20:00:00Z');
  const parts = (await landingPartitions(knexRunner(ctx.db))).filter((p) => p.source === 'loans');
  expect(parts).toEqual([
    { source: 'loans', runId: 'p-1', table: `landing.${landingPartitionName('loans', 'p-1')}` },
    { source: 'loans', runId: 'p-2', table: `landing.${landingPartitionName('loans', 'p-2')}` },
  ]);
  const { rows } = await ctx.db.raw(`explain (format json) select * from landing.loans where run_id = ?`, [ 'p-2' ]);
  const plan = JSON.stringify(rows[0]['QUERY PLAN']);
  expect(plan).toContain(landingPartitionName('loans', 'p-2'));
  expect(plan).not.toContain(landingPartitionName('loans', 'p-1'));
  // A row for a run without a partition is refused, not silently mixed into another run.
  await expect(ctx.db('landing.loans').insert({ run_id: 'nobody', row_number: 1, loan_id: 'x', customer_key: 'C', product: 'p', principal: 1, outstanding: 1, overdue_days: 0, opened_at: '2026-11-01' })).rejects.toThrow(/no partition/);
});

test('retention drops the partitions of old runs only, never a running run, the latest successful ones or unknown runs', async () => {
  await addRun('p-3', '2026-11-03', 'failed', '2026-11-03T20:00:00Z');
  await addRun('p-4', '2026-11-04', 'running', '2026-11-04T20:00:00Z');
  await addRun('p-5', '2026-11-10', 'succeeded', '2026-11-10T20:00:00Z');
  await addRun('p-6', '2026-11-11', 'succeeded', '2026-11-11T20:00:00Z');
  // Rows landed by a tool, with no audit row: left alone.
  await ensureLandingPartition(knexRunner(ctx.db), 'loans', 'tool-run');
  const result = await pruneLandingPartitions({ db: ctx.db, databaseUrl: ctx.databaseUrl, log: createLogger('warn'), policy: { landingRuns: 2, landingDays: 3 } });
  // Newest as-of 2026-11-11: the window keeps 2026-11-08 on; the latest two successful runs are p-6 and p-5.
  expect(result.dropped.map((d) => d.run_id).sort()).toEqual(['p-1', 'p-2', 'p-3']);
  expect(result.dropped.every((d) => d.partitions === 2)).toBe(true);
  const left = [...new Set((await landingPartitions(knexRunner(ctx.db))).map((p) => p.runId))].sort();
  expect(left).toEqual(['p-4', 'p-5', 'p-6', 'tool-run']);
  expect(await ctx.db('landing.loans').where({ run_id: 'p-1' }).count<{ n: string }[]>('* as n')).toEqual([{ n: '0' }]);
  // Audit rows stay.
  expect(await ctx.db('audit.runs').whereIn('run_id', ['p-1', 'p-2', 'p-3']).count<{ n: string }[]>('* as n')).toEqual([{ n: '3' }]);
  // Nothing left to do on a second pass.
  const again = await pruneLandingPartitions({ db: ctx.db, databaseUrl: ctx.databaseUrl, log: createLogger('warn'), policy: { landingRuns: 2, landingDays: 3 } });
  expect(again.dropped).toEqual([]);
});

test('the policy keeps a run while it is among the latest successful runs or inside the day window', () => {
  const runs = [
    { run_id: 'a', as_of: '2026-01-01', status: 'succeeded', started_at: '1' },
    { run_id: 'b', as_of: '2026-01-05', status: 'succeeded', started_at: '2' },
    { run_id: 'c', as_of: '2026-01-09', status: 'failed', started_at: '3' },
    { run_id: 'd', as_of: '2026-01-10', status: 'succeeded', started_at: '4' },
  ];
  expect([...landingRunsToDrop(runs, { landingRuns: 1, landingDays: 0 })].sort()).toEqual(['a', 'b', 'c']);
  expect([...landingRunsToDrop(runs, { landingRuns: 2, landingDays: 0 })].sort()).toEqual(['a', 'c']);
  expect([...landingRunsToDrop(runs, { landingRuns: 1, landingDays: 5 })].sort()).toEqual(['a']);
  // A backfilled old date is not "latest" by as-of: it goes as soon as it is outside the window.
  expect([...landingRunsToDrop([...runs, { run_id: 'old', as_of: '2025-06-01', status: 'succeeded', started_at: '9' }], { landingRuns: 2, landingDays: 3 })].sort()).toEqual(['a', 'old']);
});

test('the migration moves rows of an unpartitioned landing table into one partition per run, and back', async () => {
  const config = { migrationSource, tableName: 'knex_migrations', schemaName: 'public' };
  const before = await ctx.db('landing.consent').orderBy(['run_id', 'row_number']).select('run_id', 'consent_id');
  expect(before.length).toBeGreaterThan(0);
  await ctx.db.migrate.down({ ...config, name: '20261205000000_landing_partitions' });
  const { rows: kind } = await ctx.db.raw(`select relkind from pg_class where oid = 'landing.consent'::regclass`);
  expect(kind[0].relkind).toBe('r');
  await ctx.db('landing.consent').insert({ run_id: 'legacy-1', row_number: 1, consent_id: 'K-legacy', customer_key: 'C9', channel: 'sms', granted: false, recorded_at: '2026-10-01T00:00:00Z' });
  await ctx.db.migrate.up({ ...config, name: '20261205000000_landing_partitions' });
  const { rows: kindAfter } = await ctx.db.raw(`select relkind from pg_class where oid = 'landing.consent'::regclass`);
  expect(kindAfter[0].relkind).toBe('p');
  const after = await ctx.db('landing.consent').orderBy(['run_id', 'row_number']).select('run_id', 'consent_id');
  expect(after).toEqual([...before, { run_id: 'legacy-1', consent_id: 'K-legacy' }].sort((a, b) => a.run_id.localeCompare(b.run_id)));
  expect((await landingPartitions(knexRunner(ctx.db))).filter((p) => p.source === 'consent').map((p) => p.runId)).toEqual(after.map((r) => r.run_id));
});
