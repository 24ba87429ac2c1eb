import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readEnv } from '../../config/env';
import { createLogger } from '../../services/logger';
import { ensurePostgres } from '../../services/postgres';
import { ensureTemporal, freePort } from '../../services/temporal';

/**
 * Real services for the integration tests: PostgreSQL from DATABASE_URL or an embedded server, and a Temporal
 * dev server of our own (in memory, free port) unless TEMPORAL_ADDRESS points at one. Tests read the addresses
 * from the environment; each test file then creates its own database.
 */
export default async function globalSetup(): Promise<void> {
  const home = path.resolve('.portrait', 'test');
  mkdirSync(home, { recursive: true });
  const env = readEnv({ ...process.env, PORTRAIT_HOME: home, PORTRAIT_PG_PORT: process.env.PORTRAIT_PG_PORT ?? '54339' });
  const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const pg = await ensurePostgres(env, log);
  const port = await freePort();
  const temporal = await ensureTemporal(env, log, { ephemeral: true, port, uiPort: await freePort() });
  process.env.PORTRAIT_TEST_DATABASE_URL = pg.url;
  process.env.PORTRAIT_TEST_TEMPORAL_ADDRESS = temporal.address;
  (globalThis as Record<string, unknown>).__portraitServices = { pg, temporal };
  writeFileSync(path.join(home, 'services.json'), JSON.stringify({ database: pg.embedded ? 'embedded' : 'DATABASE_URL', temporal: temporal.address }));
}
