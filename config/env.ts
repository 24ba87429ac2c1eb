import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ed25519Key } from '../audit/manifest';

const envSchema = z.object({
  DATABASE_URL: z.string().url().optional(),
  TEMPORAL_ADDRESS: z.string().regex(/^[^:\s]+:\d+$/, 'host:port').optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_CLI_PATH: z.string().optional(),
  PORTRAIT_TASK_QUEUE: z.string().min(1).default('portrait'),
  PORTRAIT_HOME: z.string().default('.portrait'),
  PORTRAIT_SNAPSHOT_DIR: z.string().default('snapshots'),
  PORTRAIT_PII_KEY: z.string().min(16, 'at least 16 characters').default('portrait-dev-pii-key-change-me'),
  PORTRAIT_PG_PORT: z.coerce.number().int().positive().default(54329),
  PORTRAIT_TEMPORAL_PORT: z.coerce.number().int().positive().default(7233),
  PORTRAIT_TEMPORAL_UI_PORT: z.coerce.number().int().positive().default(8233),
  PORTRAIT_INGEST_WORKERS: z.coerce.number().int().min(0).max(64).optional(),
  PORTRAIT_BACKFILL_MAX_DAYS: z.coerce.number().int().positive().default(366),
  PORTRAIT_SIGNING_KEY: z.string().min(1).optional(),
  PORTRAIT_SIGNING_KEY_FILE: z.string().min(1).optional(),
  PORTRAIT_SIGNING_PUBLIC_KEY: z.string().min(1).optional(),
  PORTRAIT_SIGNING_PUBLIC_KEY_FILE: z.string().min(1).optional(),
  PORTRAIT_WORK_MEM: z.string().regex(/^\d+(kB|MB|GB)$/, 'a PostgreSQL size such as 256MB').default('256MB'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type PortraitEnv = Readonly<{
  databaseUrl?: string;
  temporalAddress?: string;
  temporalNamespace: string;
  temporalCliPath?: string;
  taskQueue: string;
  home: string;
  snapshotDir: string;
  piiKey: string;
  pgPort: number;
  temporalPort: number;
  temporalUiPort: number;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  /** Worker threads validating CSV sources (0 = in the activity thread; unset = one per CPU, at most 8). */
  ingestWorkers?: number;
  /** Longest date range one backfill may cover. */
  backfillMaxDays: number;
  /** Ed25519 private key (PEM) that signs each run's manifest.json; unset = runs are not signed. */
  signingKeyPem?: string;
  /** Ed25519 public key (PEM) that verify checks signatures with when --public-key is not given. */
  signingPublicKeyPem?: string;
  /** work_mem of the bulk stages' sessions (activities/pg.ts bulkSessionSql). */
  workMem: string;
}>;

/** Parses the environment once; a bad variable fails fast with its name. */
export function readEnv(source: NodeJS.ProcessEnv = process.env): PortraitEnv {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid environment: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const signingKeyPem = readKey('PORTRAIT_SIGNING_KEY', e.PORTRAIT_SIGNING_KEY, e.PORTRAIT_SIGNING_KEY_FILE, 'private');
  const signingPublicKeyPem = readKey('PORTRAIT_SIGNING_PUBLIC_KEY', e.PORTRAIT_SIGNING_PUBLIC_KEY, e.PORTRAIT_SIGNING_PUBLIC_KEY_FILE, 'public');
  return Object.freeze({
    databaseUrl: e.DATABASE_URL,
    temporalAddress: e.TEMPORAL_ADDRESS,
    temporalNamespace: e.TEMPORAL_NAMESPACE,
    temporalCliPath: e.TEMPORAL_CLI_PATH,
    taskQueue: e.PORTRAIT_TASK_QUEUE,
    home: path.resolve(e.PORTRAIT_HOME),
    snapshotDir: path.resolve(e.PORTRAIT_SNAPSHOT_DIR),
    piiKey: e.PORTRAIT_PII_KEY,
    pgPort: e.PORTRAIT_PG_PORT,
    temporalPort: e.PORTRAIT_TEMPORAL_PORT,
    temporalUiPort: e.PORTRAIT_TEMPORAL_UI_PORT,
    logLevel: e.LOG_LEVEL,
    ingestWorkers: e.PORTRAIT_INGEST_WORKERS,
    backfillMaxDays: e.PORTRAIT_BACKFILL_MAX_DAYS,
    signingKeyPem,
    signingPublicKeyPem,
    workMem: e.PORTRAIT_WORK_MEM,
  });
}

/** A key from the variable `name` (PEM text) or the file `name`_FILE names, checked now so a bad key fails at start. */
function readKey(name: string, pem: string | undefined, file: string | undefined, kind: 'private' | 'public'): string | undefined {
  if (pem && file) throw new Error(`invalid environment: set ${name} or ${name}_FILE, not both`);
  const source = pem ? name : `${name}_FILE`;
  let text = pem;
  if (file) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`invalid environment: ${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  if (text === undefined) return undefined;
  try {
    ed25519Key(text, source, kind);
  } catch (err) {
    throw new Error(`invalid environment: ${(err as Error).message}`);
  }
  return text;
}
