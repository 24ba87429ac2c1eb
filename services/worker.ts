import { NativeConnection, Runtime, Worker, DefaultLogger, type LogLevel } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { PortraitEnv } from '../config/env';
import { createActivities } from '../activities';
import { attemptScopedDb, runAttempt } from '../activities/attempt';
import { createDb } from '../db/knex';
import { codeVersion } from './codeVersion';

let runtimeInstalled = false;

/** Routes the SDK's own logs through pino (once per process). */
function installRuntime(log: Logger): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const sdkLog = log.child({ component: 'temporal-sdk' });
  Runtime.install({
    // The CLI decides what a signal stops and in which order (runs cancelled, worker drained, services stopped).
    shutdownSignals: [],
    logger: new DefaultLogger('WARN', (entry) => {
      const level = entry.level.toLowerCase() as 'warn' | 'error' | 'info' | 'debug' | 'trace';
      const fn = (sdkLog[level as keyof Logger] as ((obj: object, msg: string) => void) | undefined) ?? sdkLog.warn;
      fn.call(sdkLog, { sdk: entry.meta ?? {} }, entry.message);
    }),
  });
}

export interface PortraitWorker {
  worker: Worker;
  /** Runs until shutdown() (or a signal) and then closes the DB pool and connection. */
  run(): Promise<void>;
  shutdown(): void;
}

/** A worker polling the Portrait task queue with every workflow and activity, bound to one database. */
export async function createPortraitWorker(opts: {
  env: PortraitEnv;
  databaseUrl: string;
  temporalAddress: string;
  log: Logger;
  taskQueue?: string;
  maxConcurrentActivities?: number;
  /** Other workflows than Portrait's own (tests drive real activities through short-timeout harness workflows). */
  workflowsPath?: string;
}): Promise<PortraitWorker> {
  installRuntime(opts.log);
  const db = createDb(opts.databaseUrl);
  const sessionOptions = await sessionOptionsFor(db);
  const connection = await NativeConnection.connect({ address: opts.temporalAddress });
  // Activities see one db; inside an attempt it is that attempt's own named sessions.
  const activities = createActivities({ db: attemptScopedDb(db), databaseUrl: opts.databaseUrl, log: opts.log, env: opts.env, codeVersion: codeVersion() });
  const worker = await Worker.create({
    connection,
    namespace: opts.env.temporalNamespace,
    taskQueue: opts.taskQueue ?? opts.env.taskQueue,
    workflowsPath: opts.workflowsPath ?? require.resolve('../workflows'),
    activities,
    interceptors: {
      activity: [(ctx) => ({ inbound: { execute: (input, next) => runAttempt({ ctx, admin: db, databaseUrl: opts.databaseUrl, sessionOptions, log: opts.log, work: () => next(input) }) } })],
    },
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities ?? 8,
  });
  return {
    worker,
    async run() {
      try {
        await worker.run();
      } finally {
        await connection.close().catch(() => undefined);
        await db.destroy();
      }
    },
    shutdown: () => worker.shutdown(),
  };
}

export type { LogLevel };

/**
 * libpq options for activity sessions. PostgreSQL 14+ can check every 10 s that the client of a running statement
 * is still connected, so the statements of a worker that died stop within seconds rather than running to the end.
 */
async function sessionOptionsFor(db: ReturnType<typeof createDb>): Promise<string | undefined> {
  const { rows } = await db.raw(`select current_setting('server_version_num')::int as v`);
  return rows[0].v >= 140000 ? '-c client_connection_check_interval=10000' : undefined;
}
