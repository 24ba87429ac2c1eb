import type { Logger } from 'pino';
import type { PortraitEnv } from '../config/env';
import { createDb, migrate } from '../db/knex';
import { ensurePostgres, redactUrl, type PostgresHandle } from './postgres';
import { ensureTemporal, type TemporalHandle } from './temporal';

export interface Stack {
  databaseUrl: string;
  temporalAddress: string;
  temporalUi?: string;
  stop(): Promise<void>;
}

/** PostgreSQL (migrated) and Temporal, found or started as DESIGN.md "Services and how they start" says. */
export async function startStack(env: PortraitEnv, log: Logger, opts: { temporal?: boolean } = {}): Promise<Stack> {
  const pg: PostgresHandle = await ensurePostgres(env, log);
  let temporal: TemporalHandle | undefined;
  try {
    const db = createDb(pg.url, 2);
    try {
      const applied = await migrate(db);
      if (applied.length) log.info({ migrations: applied }, 'migrations applied');
    } finally {
      await db.destroy();
    }
    if (opts.temporal !== false) temporal = await ensureTemporal(env, log);
  } catch (err) {
    await pg.stop().catch(() => undefined);
    throw err;
  }
  log.debug({ database: redactUrl(pg.url), temporal: temporal?.address }, 'services ready');
  let stopping: Promise<void> | undefined;
  const stack: Stack = {
    databaseUrl: pg.url,
    temporalAddress: temporal?.address ?? '',
    temporalUi: temporal?.uiAddress,
    stop() {
      stopping ??= (async () => {
        live.delete(stack);
        await temporal?.stop().catch(() => undefined);
        await pg.stop().catch(() => undefined);
      })();
      return stopping;
    },
  };
  live.add(stack);
  return stack;
}

const live = new Set<Stack>();

/** Stops every stack this process started and has not stopped yet (a command interrupted by a signal). */
export async function stopAllStacks(): Promise<void> {
  await Promise.all([...live].map((s) => s.stop()));
}
