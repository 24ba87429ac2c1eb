import type { PostgresHandle } from '../../services/postgres';
import type { TemporalHandle } from '../../services/temporal';

export default async function globalTeardown(): Promise<void> {
  const services = (globalThis as Record<string, unknown>).__portraitServices as { pg: PostgresHandle; temporal: TemporalHandle } | undefined;
  await services?.temporal.stop();
  await services?.pg.stop();
}
