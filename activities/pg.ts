import { Context } from '@temporalio/activity';
import type { Knex } from 'knex';
import { Client } from 'pg';
import { currentAttemptSessions } from './attempt';
import type { SqlRunner } from '../db/landing';
import { from as copyFrom } from 'pg-copy-streams';

/**
 * Runs `work` in one transaction on a dedicated connection (COPY needs one: it cannot share a pooled client with
 * other statements while it streams). Rolls back on any error, always closes the connection.
 * With `lockKey`, the transaction first takes an advisory lock on it: an activity retried after a timeout while its
 * first attempt is still writing waits for that attempt to end instead of colliding with its rows.
 */
export async function withTransaction<T>(databaseUrl: string, work: (client: Client) => Promise<T>, opts: { lockKey?: string } = {}): Promise<T> {
  // Inside an activity attempt the session carries the attempt's name, so a retry can end it (activities/attempt.ts).
  const client = new Client(currentAttemptSessions()?.clientConfig() ?? { connectionString: databaseUrl });
  // A session ended from outside (a given-up attempt) fails its pending query; without a listener the idle
  // client's 'error' event would crash the worker instead.
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('begin');
    if (opts.lockKey !== undefined) await takeLock(client, opts.lockKey);
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Waits for the advisory lock, heartbeating meanwhile so the waiting attempt is not itself timed out. */
async function takeLock(client: Client, key: string): Promise<void> {
  for (;;) {
    const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_xact_lock(hashtext($1)) as ok', [key]);
    if (rows[0]!.ok) return;
    try {
      Context.current().heartbeat({ waitingFor: key });
    } catch {
      // Not inside an activity (benchmarks, scripts): nothing to keep alive.
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

export interface CopyWriter {
  /** Writes CSV text, waiting for the socket to drain when PostgreSQL is behind. */
  write(text: string | Buffer): Promise<void>;
  /** Ends the COPY and resolves once PostgreSQL has taken every row. */
  end(): Promise<void>;
  /** Abandons the COPY (CopyFail), so the connection can roll back instead of waiting for rows forever. */
  abort(reason: Error): Promise<void>;
}

/** `COPY … FROM STDIN` as a writer with backpressure. */
export function copyWriter(client: Client, sql: string): CopyWriter {
  // A deep buffer lets the next rows be parsed while PostgreSQL is still taking the previous ones.
  const stream = client.query(copyFrom(sql, { highWaterMark: 8 << 20 }));
  let failed = false;
  const finished = new Promise<void>((resolve, reject) => {
    stream.once('finish', resolve);
    // Every error, not only the first: once the session is ended from outside (a cancelled attempt), ending the
    // stream raises again (pg-copy-streams writes CopyDone to a connection that is gone), and an 'error' event
    // without a listener would crash the worker.
    stream.on('error', (err) => {
      failed = true;
      reject(err);
    });
  });
  // Observed by end(); this guard keeps an early COPY error from being an unhandled rejection meanwhile.
  finished.catch(() => undefined);
  return {
    async write(text) {
      if (text.length > 0 && !stream.write(text)) await new Promise((resolve) => stream.once('drain', resolve));
    },
    async end() {
      if (!failed && !stream.destroyed) stream.end();
      await finished;
    },
    async abort(reason) {
      if (!stream.destroyed) stream.destroy(reason);
      await finished.catch(() => undefined);
    },
  };
}

export { CsvCopyBuffer } from '../transforms/copyText';

/**
 * Settings for one bulk transaction (`set local`: they end with it, and other sessions keep the server's). Servers
 * ship with work_mem = 4MB, sized for many small OLTP sessions: a stage's few large sorts and hash aggregates then
 * spill to temporary files (docs/PERFORMANCE.md). A stage runs a handful of such sessions at a time, so 256MB each
 * stays far below the memory the server caches data in; PORTRAIT_WORK_MEM lowers or raises it for a given server.
 */
export function bulkSessionSql(workMem: string): string {
  return `set local work_mem = '${workMem}'; set local hash_mem_multiplier = 2; set local maintenance_work_mem = '512MB'`;
}

/** A knex instance as a {@link SqlRunner} (autocommit: each statement on a pooled session). */
export function knexRunner(db: Knex): SqlRunner {
  return { query: async (sql) => (await db.raw(sql)) as { rows: Record<string, unknown>[] } };
}
