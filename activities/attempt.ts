import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { Context } from '@temporalio/activity';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { createDb } from '../db/knex';

/**
 * One activity attempt's database sessions. Every connection an attempt opens carries an application_name naming
 * the activity and the attempt (`portrait ingestSource 3fa2c1d9e0b4#2`, visible in pg_stat_activity), so that
 * - an attempt that is given up (cancelled, timed out, its worker lost) can have its statements ended, and
 * - a retry first ends whatever its predecessors still run, instead of waiting behind their open transactions.
 */
export class AttemptSessions {
  readonly applicationName: string;
  /** LIKE pattern matching every attempt of the same activity (same workflow run and activity id). */
  private readonly activityPattern: string;
  private pool: Knex | undefined;

  constructor(
    info: Context['info'],
    private readonly databaseUrl: string,
    /** Extra libpq options for every session (e.g. `-c client_connection_check_interval=10s`). */
    private readonly sessionOptions: string | undefined,
  ) {
    const key = createHash('sha256').update(`${info.workflowExecution.workflowId}\u0000${info.workflowExecution.runId}\u0000${info.activityId}`).digest('hex').slice(0, 12);
    // application_name is cut at 63 bytes: the key and attempt come first after a short type.
    this.applicationName = `portrait ${info.activityType.slice(0, 28)} ${key}#${info.attempt}`;
    this.activityPattern = `portrait % ${key}#%`;
  }

  /** Connection settings for a dedicated pg Client of this attempt. */
  clientConfig(): { connectionString: string; application_name: string; options?: string } {
    return { connectionString: this.databaseUrl, application_name: this.applicationName, ...(this.sessionOptions ? { options: this.sessionOptions } : {}) };
  }

  /** A small pool whose sessions carry this attempt's name (created on first use, closed by {@link close}). */
  db(): Knex {
    this.pool ??= createDb(this.clientConfig(), 4);
    return this.pool;
  }

  /** Ends the sessions of earlier attempts of this activity and waits until they are gone; returns how many. */
  async endPredecessors(admin: Knex, heartbeat: () => void): Promise<number> {
    return endSessions(admin, `application_name like ? and application_name <> ?`, [this.activityPattern, this.applicationName], heartbeat);
  }

  /** Ends this attempt's own sessions (the attempt was cancelled or gave up with statements still running). */
  async endOwn(admin: Knex): Promise<number> {
    return endSessions(admin, `application_name = ?`, [this.applicationName], () => undefined);
  }

  /** Closes the attempt's pool; never waits long for a session stuck in a statement (endOwn ends those). */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (!pool) return;
    await Promise.race([pool.destroy(), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  }
}

async function endSessions(admin: Knex, where: string, bindings: string[], heartbeat: () => void): Promise<number> {
  const { rows } = await admin.raw(`select pid, pg_terminate_backend(pid) as ended from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and ${where}`, bindings);
  const pids = (rows as { pid: number }[]).map((r) => r.pid);
  // pg_terminate_backend only signals: wait until the backends have exited and released their locks.
  for (let i = 0; pids.length > 0 && i < 120; i++) {
    const { rows: left } = await admin.raw('select count(*)::int as n from pg_stat_activity where pid = any(?)', [pids]);
    if ((left as { n: number }[])[0]!.n === 0) break;
    heartbeat();
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return pids.length;
}

const current = new AsyncLocalStorage<AttemptSessions>();

/** Runs `work` with `sessions` as the current attempt's sessions. */
export function withAttemptSessions<T>(sessions: AttemptSessions, work: () => Promise<T>): Promise<T> {
  return current.run(sessions, work);
}

/** The current activity attempt's sessions, if any (none in tests that call activities directly, scripts, CLI). */
export function currentAttemptSessions(): AttemptSessions | undefined {
  return current.getStore();
}

/**
 * A knex instance that is the current attempt's pool inside an activity attempt and `base` elsewhere, so activity
 * factories keep one `db` while each attempt's statements run on sessions named after it.
 */
export function attemptScopedDb(base: Knex): Knex {
  const target = () => current.getStore()?.db() ?? base;
  return new Proxy(base, {
    apply: (_t, thisArg, args) => Reflect.apply(target() as unknown as (...a: unknown[]) => unknown, thisArg, args),
    get: (_t, prop) => {
      const db = target();
      const value = Reflect.get(db, prop, db);
      return typeof value === 'function' ? value.bind(db) : value;
    },
  }) as Knex;
}

/**
 * Wraps an activity attempt: names its sessions, ends its predecessors' sessions first, keeps heartbeating on a
 * timer while it waits on long statements (so the heartbeat timeout fires only for a lost worker), and ends its
 * own sessions when the attempt is cancelled or times out.
 */
export async function runAttempt<T>(opts: { ctx: Context; admin: Knex; databaseUrl: string; sessionOptions?: string; log: Logger; work: () => Promise<T> }): Promise<T> {
  const { ctx, admin, log } = opts;
  const sessions = new AttemptSessions(ctx.info, opts.databaseUrl, opts.sessionOptions);
  const stopKeepAlive = keepAlive(ctx);
  const onAbort = () => {
    sessions.endOwn(admin).then(
      (n) => n > 0 && log.warn({ activity: ctx.info.activityType, attempt: ctx.info.attempt, sessions: n, reason: String(ctx.cancellationSignal.reason ?? '') }, 'attempt given up: its database sessions were ended'),
      (err) => log.warn({ err: { message: (err as Error).message } }, 'could not end the database sessions of a given-up attempt'),
    );
  };
  ctx.cancellationSignal.addEventListener('abort', onAbort, { once: true });
  try {
    if (ctx.info.attempt > 1) {
      const ended = await sessions.endPredecessors(admin, () => ctx.heartbeat());
      if (ended > 0) log.warn({ activity: ctx.info.activityType, attempt: ctx.info.attempt, sessions: ended }, 'ended database sessions still held by an earlier attempt');
    }
    return await withAttemptSessions(sessions, opts.work);
  } finally {
    ctx.cancellationSignal.removeEventListener('abort', onAbort);
    stopKeepAlive();
    await sessions.close();
  }
}

/**
 * Re-sends the activity's latest heartbeat details every few seconds (a third of the heartbeat timeout, at most
 * 10 s) while the attempt runs. Activities that set no heartbeat timeout are left alone.
 */
function keepAlive(ctx: Context): () => void {
  const timeoutMs = ctx.info.heartbeatTimeoutMs;
  if (!timeoutMs) return () => undefined;
  // The SDK's Context sends every heartbeat through heartbeatFn: wrap it to remember the activity's own details.
  const holder = ctx as unknown as { heartbeatFn: (details?: unknown) => void };
  const send = holder.heartbeatFn;
  let latest: unknown;
  holder.heartbeatFn = (details?: unknown) => {
    latest = details;
    send(details);
  };
  const timer = setInterval(() => send(latest), Math.max(1000, Math.min(10_000, Math.floor(timeoutMs / 3))));
  timer.unref();
  return () => clearInterval(timer);
}
