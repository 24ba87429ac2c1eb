import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Knex } from 'knex';
import { readEnv, type PortraitEnv } from '../../config/env';
import { createDb, migrate } from '../../db/knex';
import { createLogger } from '../../services/logger';
import { dropDatabase, ensureDatabase, withDatabase } from '../../services/postgres';
import { createPortraitWorker, type PortraitWorker } from '../../services/worker';

export interface TestContext {
  env: PortraitEnv;
  db: Knex;
  databaseUrl: string;
  client: Client;
  taskQueue: string;
  workDir: string;
  /** Starts (or restarts) the in-process worker. */
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

/** A fresh database, snapshot folder and task queue for one test file, against the services of globalSetup. */
export async function createTestContext(name: string): Promise<TestContext> {
  const serverUrl = process.env.PORTRAIT_TEST_DATABASE_URL;
  const temporalAddress = process.env.PORTRAIT_TEST_TEMPORAL_ADDRESS;
  if (!serverUrl || !temporalAddress) throw new Error('integration tests need the jest globalSetup (run them through `npm test`)');
  const database = `portrait_test_${name}_${randomBytes(4).toString('hex')}`;
  await ensureDatabase(withDatabase(serverUrl, 'postgres'), database);
  const databaseUrl = withDatabase(serverUrl, database);
  const workDir = mkdtempSync(path.join(os.tmpdir(), `portrait-${name}-`));
  const env = readEnv({ ...process.env, PORTRAIT_HOME: path.join(workDir, 'home'), PORTRAIT_SNAPSHOT_DIR: path.join(workDir, 'snapshots'), DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporalAddress });
  const db = createDb(databaseUrl, 4);
  await migrate(db);
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection, namespace: env.temporalNamespace });
  const taskQueue = `test-${name}-${randomBytes(4).toString('hex')}`;
  const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
  let worker: PortraitWorker | undefined;
  let running: Promise<void> | undefined;
  const ctx: TestContext = {
    env,
    db,
    databaseUrl,
    client,
    taskQueue,
    workDir,
    async startWorker() {
      worker = await createPortraitWorker({ env, databaseUrl, temporalAddress, log, taskQueue });
      running = worker.run();
    },
    async stopWorker() {
      worker?.shutdown();
      await running;
      worker = undefined;
    },
    async close() {
      await ctx.stopWorker();
      await connection.close();
      await db.destroy();
      await dropDatabase(withDatabase(serverUrl, 'postgres'), database);
      rmSync(workDir, { recursive: true, force: true });
    },
  };
  return ctx;
}
