import { existsSync, readFileSync, statSync } from 'node:fs';
import { createPublicKey, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { readEnv, type PortraitEnv } from '../config/env';
import { createDb } from '../db/knex';
import { createLogger } from '../services/logger';
import { startStack } from '../services/stack';
import { ed25519Key } from '../audit/manifest';
import { PublicKeyRequired, verifyChain, verifyRunFolder, type VerifyReport } from '../audit/verify';
import { parseFlags, requireDate, UsageError } from './args';

export const VERIFY_HELP = `Usage: portrait verify RUN_ID|FOLDER [--public-key FILE] [--json]
       portrait verify --chain [ROOT] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--public-key FILE] [--json]

Checks a run folder offline (no database, no Temporal): the sha256 of every file manifest.json lists, the row count
in each Parquet file's footer, files present but not listed, the link to the previous run when its folder lies
beside this one, and the Ed25519 signature manifest.json.sig with the public key: --public-key, else
PORTRAIT_SIGNING_PUBLIC_KEY[_FILE], else derived from PORTRAIT_SIGNING_KEY[_FILE]. A signed folder with none of them
is a usage error (exit 2). A RUN_ID is looked up in audit.runs. --chain walks every run folder under ROOT (default
PORTRAIT_SNAPSHOT_DIR) in as-of order and reports a deleted or rewritten past run at the run after it.
JSON: {ok, files_checked, signature: valid|invalid|absent, problems: [{path, problem}]}. Exit 0 when ok, 1 otherwise.`;

export async function verifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { chain: { type: 'boolean' }, from: { type: 'string' }, to: { type: 'string' }, 'public-key': { type: 'string' } }, 1);
  const env = readEnv();
  const publicKey = verificationKey(values['public-key'], env);
  const report = await verifyTarget(values, positionals, env, publicKey).catch((err: unknown) => {
    throw err instanceof PublicKeyRequired ? new UsageError(err.message) : err;
  });
  if (values.json) {
    const { run: _run, ...json } = report;
    process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  } else {
    const what = values.chain ? `${(report.runs as unknown[]).length} runs` : `run ${report.run}`;
    process.stdout.write(`${report.ok ? 'OK' : 'FAILED'}: ${what}, ${report.files_checked} files checked, signature ${report.signature}, ${report.problems.length} problem(s)\n`);
    for (const p of report.problems) process.stdout.write(`  ${p.path}: ${p.problem}\n`);
  }
  return report.ok ? 0 : 1;
}

async function verifyTarget(
  values: { chain?: boolean; from?: string; to?: string },
  positionals: string[],
  env: PortraitEnv,
  publicKey: KeyObject | undefined,
): Promise<VerifyReport & { run?: string; runs?: unknown }> {
  if (values.chain) {
    const from = values.from === undefined ? undefined : requireDate(values.from, '--from');
    const to = values.to === undefined ? undefined : requireDate(values.to, '--to');
    if (from && to && from > to) throw new UsageError(`--from ${from} is after --to ${to}`);
    const root = path.resolve(positionals[0] ?? env.snapshotDir);
    if (!existsSync(root) || !statSync(root).isDirectory()) throw new UsageError(`${root} is not a folder of run folders`);
    return verifyChain(root, { from, to, publicKey });
  } else {
    if (values.from || values.to) throw new UsageError('--from and --to go with --chain');
    const target = positionals[0];
    if (!target) throw new UsageError('RUN_ID or FOLDER is required');
    const isFolder = existsSync(target) && statSync(target).isDirectory();
    if (!isFolder && /[\\/]/.test(target)) throw new Error(`${target}: no such run folder`);
    const folder = isFolder ? path.resolve(target) : await runFolder(env, target);
    const { manifest, ...rest } = await verifyRunFolder(folder, { publicKey, checkPreviousBeside: true });
    return { ...rest, run: manifest?.run_id ?? path.basename(folder) };
  }
}

/** The public key to check signatures with: the file given, else the configured public key, else the signing key's. */
function verificationKey(file: string | undefined, env: PortraitEnv): KeyObject | undefined {
  if (file) {
    if (!existsSync(file)) throw new UsageError(`--public-key ${file} does not exist`);
    try {
      return ed25519Key(readFileSync(file, 'utf8'), `--public-key ${file}`, 'public');
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  if (env.signingPublicKeyPem) return ed25519Key(env.signingPublicKeyPem, 'PORTRAIT_SIGNING_PUBLIC_KEY', 'public');
  return env.signingKeyPem ? createPublicKey(ed25519Key(env.signingKeyPem, 'PORTRAIT_SIGNING_KEY', 'private')) : undefined;
}

async function runFolder(env: PortraitEnv, runId: string): Promise<string> {
  const stack = await startStack(env, createLogger(env.logLevel), { temporal: false });
  const db = createDb(stack.databaseUrl, 2);
  try {
    const run = await db('audit.runs').where({ run_id: runId }).first('snapshot_dir');
    if (!run) throw new Error(`no run with id ${runId} in audit.runs, and no folder of that name`);
    return run.snapshot_dir as string;
  } finally {
    await db.destroy();
    await stack.stop();
  }
}
