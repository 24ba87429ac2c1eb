import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import type { SourceLoadResult } from '../../activities/ingest';
import { landingPartitionName } from '../../db/landing';
import { createLogger } from '../../services/logger';
import { createPortraitWorker } from '../../services/worker';
import { createTestContext, type TestContext } from '../helpers/testContext';

const ROOT = path.resolve(__dirname, '..', '..');
const WORKFLOWS = path.join(ROOT, 'tests', 'fixtures', 'workflows', 'index.ts');
const AS_OF = '2026-11-20';
const ROWS = 3000;
let ctx: TestContext;
let inputDir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  ctx = await createTestContext('attempts');
  inputDir = path.join(ctx.workDir, 'in');
  mkdirSync(inputDir, { recursive: true });
  const lines = Array.from({ length: ROWS }, (_, i) => `T${String(i).padStart(9, '0')},A${i % 97},C${i % 89},2026-11-19T10:00:00+08:00,${(i % 500) + 1}.00,credit,online,salary`);
  writeFileSync(path.join(inputDir, 'transactions.csv'), ['txn_id,account_id,customer_key,txn_ts,amount,direction,channel,category', ...lines].join('\n') + '\n');
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await ctx?.close();
});

async function registerRun(runId: string): Promise<void> {
  await ctx.db('audit.runs').insert({ run_id: runId, as_of: AS_OF, input_dir: inputDir, config_sha256: 'test', config: '{}', code_version: 'test', seed: 1, status: 'running', snapshot_dir: path.join(ctx.env.snapshotDir, runId), started_at: new Date() });
}

/**
 * Holds SHARE UPDATE EXCLUSIVE on landing.transactions, which ATTACH PARTITION needs: the load's last statement
 * waits until release() — a statement made slow on purpose, with no heartbeat from the activity's own code.
 */
async function holdAttachLock(): Promise<{ release(): Promise<void> }> {
  const client = new Client({ connectionString: ctx.databaseUrl });
  await client.connect();
  await client.query('begin');
  await client.query('lock table landing.transactions in share update exclusive mode');
  return {
    async release() {
      await client.query('commit');
      await client.end();
    },
  };
}

interface Session {
  application_name: string;
  state: string | null;
  wait_event_type: string | null;
}

async function ingestSessions(): Promise<Session[]> {
  const { rows } = await ctx.db.raw(`select application_name, state, wait_event_type from pg_stat_activity where datname = current_database() and application_name like 'portrait ingestSource %'`);
  return rows;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) {
      const { rows } = await ctx.db.raw(`select application_name, state, wait_event_type, left(query, 120) as query from pg_stat_activity where datname = current_database()`);
      throw new Error(`timed out waiting for ${what}; sessions: ${JSON.stringify(rows)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const waitingOnLock = (attempt: number) => async () => (await ingestSessions()).some((s) => s.application_name.endsWith(`#${attempt}`) && s.wait_event_type === 'Lock');

/** The attempt that completed the activity (the server records the started event of the final attempt). */
async function completedAttempt(workflowId: string): Promise<number> {
  const history = await ctx.client.workflow.getHandle(workflowId).fetchHistory();
  const started = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes);
  expect(started).toHaveLength(1);
  return started[0]!.activityTaskStartedEventAttributes!.attempt!;
}

async function landed(runId: string): Promise<{ rows: number; distinct: number }> {
  const { rows } = await ctx.db.raw(`select count(*)::int as rows, count(distinct row_number)::int as distinct from landing.transactions where run_id = ?`, [runId]);
  return rows[0];
}

function start(runId: string) {
  return ctx.client.workflow.start('ingestWithShortHeartbeat', {
    taskQueue: ctx.taskQueue,
    workflowId: `attempts-${runId}`,
    args: [{ runId, inputDir, source: 'transactions', asOf: AS_OF, timezone: 'Asia/Shanghai' }],
  });
}

describe('with an in-process worker', () => {
  let worker: Awaited<ReturnType<typeof createPortraitWorker>>;
  let running: Promise<void>;

  beforeAll(async () => {
    worker = await createPortraitWorker({ env: ctx.env, databaseUrl: ctx.databaseUrl, temporalAddress: process.env.PORTRAIT_TEST_TEMPORAL_ADDRESS!, log: createLogger('warn'), taskQueue: ctx.taskQueue, workflowsPath: WORKFLOWS });
    running = worker.run();
  });

  afterAll(async () => {
    worker.shutdown();
    await running;
  });

  test('a statement that waits four heartbeat timeouts keeps its attempt alive: attempt 1 completes', async () => {
    await registerRun('slow-1');
    const lock = await holdAttachLock();
    const handle = await start('slow-1');
    try {
      await waitFor('attempt 1 to wait on the lock', waitingOnLock(1));
      await new Promise((resolve) => setTimeout(resolve, 8000));
      // Still attempt 1 (its load and quarantine sessions), no second attempt started beside it.
      const attempts = new Set((await ingestSessions()).map((s) => s.application_name.replace(/.*#/, '')));
      expect([...attempts]).toEqual(['1']);
    } finally {
      await lock.release();
    }
    const result: SourceLoadResult = await handle.result();
    expect(result).toMatchObject({ rowsIn: ROWS, loaded: ROWS, quarantined: 0 });
    expect(await completedAttempt(handle.workflowId)).toBe(1);
    expect(await landed('slow-1')).toEqual({ rows: ROWS, distinct: ROWS });
    // The run's partition was analysed by its load: later plans see its own rows.
    const { rows: stats } = await ctx.db.raw(`select reltuples::int as n from pg_class where oid = ?::regclass`, [`landing.${landingPartitionName('transactions', 'slow-1')}`]);
    expect(stats[0].n).toBe(ROWS);
  });

  test('a cancelled attempt has its database work ended at once, not when its statement would have finished', async () => {
    await registerRun('cancel-1');
    const lock = await holdAttachLock();
    try {
      const handle = await start('cancel-1');
      await waitFor('attempt 1 to wait on the lock', waitingOnLock(1));
      await handle.cancel();
      await waitFor('the cancelled attempt to lose its sessions', async () => (await ingestSessions()).length === 0, 4000);
      // Nothing of the cancelled load was kept: its partition was never attached.
      expect(await landed('cancel-1')).toEqual({ rows: 0, distinct: 0 });
    } finally {
      await lock.release();
    }
  });
});

test('an attempt whose worker is killed is replaced by one that completes, with no duplicate rows', async () => {
  const spawnWorker = (): ChildProcess => {
    const proc = spawn(process.execPath, ['-r', path.join(ROOT, 'tests', 'helpers', 'swcRegister.js'), path.join(ROOT, 'tests', 'helpers', 'workerProcess.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: ctx.databaseUrl,
        TEMPORAL_ADDRESS: process.env.PORTRAIT_TEST_TEMPORAL_ADDRESS,
        PORTRAIT_TASK_QUEUE: ctx.taskQueue,
        PORTRAIT_SNAPSHOT_DIR: ctx.env.snapshotDir,
        PORTRAIT_HOME: ctx.env.home,
        PORTRAIT_TEST_WORKFLOWS: WORKFLOWS,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(proc);
    return proc;
  };
  await registerRun('kill-1');
  const lock = await holdAttachLock();
  const handle = await start('kill-1');
  try {
    const first = spawnWorker();
    await waitFor('attempt 1 to wait on the lock', waitingOnLock(1), 120_000);
    const exited = new Promise((resolve) => first.once('exit', resolve));
    first.kill('SIGKILL');
    await exited;
    spawnWorker();
    // Attempt 2 starts after the 2 s heartbeat timeout; it must not wait behind attempt 1's open transaction.
    await waitFor('attempt 2 to reach the attach', waitingOnLock(2), 120_000);
    expect((await ingestSessions()).filter((s) => s.application_name.endsWith('#1'))).toEqual([]);
  } finally {
    await lock.release();
  }
  const result: SourceLoadResult = await handle.result();
  expect(result).toMatchObject({ rowsIn: ROWS, loaded: ROWS });
  expect(await completedAttempt(handle.workflowId)).toBeGreaterThanOrEqual(2);
  expect(await landed('kill-1')).toEqual({ rows: ROWS, distinct: ROWS });
  expect(await ctx.db('audit.source_loads').where({ run_id: 'kill-1' }).select('source', 'loaded')).toEqual([{ source: 'transactions', loaded: String(ROWS) }]);
});
