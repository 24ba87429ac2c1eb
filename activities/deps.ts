import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { PortraitEnv } from '../config/env';

/** What every activity needs, injected once by the worker (see createActivities). */
export interface ActivityDeps {
  db: Knex;
  /** Connection URL for streaming COPY on a dedicated connection. */
  databaseUrl: string;
  log: Logger;
  env: PortraitEnv;
  /** package version + git commit of the worker's code. */
  codeVersion: string;
}
