import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { ParquetReader } from '@dsnp/parquetjs';
import { sha256File } from '../activities/snapshots';
import { MANIFEST_FILE, SIGNATURE_FILE, chainSha256, listedFiles, signatureValid, type ManifestLike } from './manifest';

export type SignatureStatus = 'valid' | 'invalid' | 'absent';

/** A signed folder and no public key to check it with: never reported as ok (the CLI makes it a usage error). */
export class PublicKeyRequired extends Error {
  override readonly name = 'PublicKeyRequired';
  constructor() {
    super(`${SIGNATURE_FILE} is present: pass --public-key FILE to check it`);
  }
}

export interface VerifyProblem {
  path: string;
  problem: string;
}

export interface VerifyReport {
  ok: boolean;
  files_checked: number;
  signature: SignatureStatus;
  problems: VerifyProblem[];
}

export interface FolderVerification extends VerifyReport {
  manifest?: ManifestLike;
}

/**
 * Checks one run folder with nothing but the folder (and optionally the signer's public key): every listed file's
 * sha256 and, for Parquet, the row count in its footer; files present but not listed; the detached signature.
 * Throws PublicKeyRequired when the folder is signed and no public key is given.
 */
export async function verifyRunFolder(folder: string, options: { publicKey?: KeyObject; checkPreviousBeside?: boolean } = {}): Promise<FolderVerification> {
  // Before any hashing: a signed folder without a key is a usage error, not a slow "ok".
  if (!options.publicKey && existsSync(path.join(folder, SIGNATURE_FILE))) throw new PublicKeyRequired();
  const problems: VerifyProblem[] = [];
  const manifestPath = path.join(folder, MANIFEST_FILE);
  let body: Buffer;
  try {
    body = await readFile(manifestPath);
  } catch {
    return { ok: false, files_checked: 0, signature: 'absent', problems: [{ path: MANIFEST_FILE, problem: `no ${MANIFEST_FILE} in ${folder}` }] };
  }
  let manifest: ManifestLike;
  try {
    manifest = JSON.parse(body.toString('utf8')) as ManifestLike;
    if (!manifest || typeof manifest !== 'object' || !Array.isArray(manifest.stages)) throw new Error('no stages list');
  } catch (err) {
    return { ok: false, files_checked: 0, signature: 'absent', problems: [{ path: MANIFEST_FILE, problem: `not a readable manifest (${(err as Error).message})` }] };
  }

  const listed = new Set<string>();
  let filesChecked = 0;
  for (const file of listedFiles(manifest)) {
    const rel = typeof file?.path === 'string' ? path.posix.normalize(file.path.split(path.sep).join('/')) : '';
    if (!rel || rel.startsWith('../') || path.isAbsolute(rel)) {
      problems.push({ path: String(file?.path), problem: 'listed path lies outside the run folder' });
      continue;
    }
    listed.add(rel);
    filesChecked++;
    const full = path.join(folder, rel);
    if (!existsSync(full)) {
      problems.push({ path: rel, problem: 'listed in the manifest but missing' });
      continue;
    }
    const sha = await sha256File(full);
    if (sha !== file.sha256) {
      problems.push({ path: rel, problem: `sha256 ${sha} differs from the manifest's ${file.sha256}` });
      continue;
    }
    if (rel.endsWith('.parquet')) {
      const rows = await parquetRowCount(full);
      if (typeof rows === 'string') problems.push({ path: rel, problem: rows });
      else if (rows !== Number(file.rows)) problems.push({ path: rel, problem: `Parquet footer has ${rows} rows, the manifest says ${file.rows}` });
    }
  }

  for (const rel of await filesUnder(folder)) {
    if (rel === MANIFEST_FILE || rel === SIGNATURE_FILE || listed.has(rel)) continue;
    problems.push({ path: rel, problem: 'present in the folder but not listed in the manifest' });
  }

  // An auditor may hold this folder alone: the link is checked only when the previous run's folder lies beside it.
  const previousManifest = manifest.previous_run_id ? path.join(folder, '..', manifest.previous_run_id, MANIFEST_FILE) : undefined;
  if (options.checkPreviousBeside && previousManifest && existsSync(previousManifest)) {
    const previous = await readFile(previousManifest, 'utf8').then((t) => JSON.parse(t) as ManifestLike).catch(() => ({}) as ManifestLike);
    const link = chainLinkProblem(manifest, previous);
    if (link) problems.push({ path: MANIFEST_FILE, problem: link });
  }

  const signature = await checkSignature(folder, body, options.publicKey);
  if (signature === 'invalid') problems.push({ path: SIGNATURE_FILE, problem: 'signature does not match manifest.json under the given public key' });
  if (signature === 'absent' && options.publicKey) problems.push({ path: SIGNATURE_FILE, problem: 'no signature, but a public key was given: the run was not signed or the signature was removed' });
  return { ok: problems.length === 0, files_checked: filesChecked, signature, problems, manifest };
}

/** The link from a manifest to its predecessor; null when it holds, else the problem. */
export function chainLinkProblem(manifest: ManifestLike, previous: ManifestLike | undefined): string | null {
  if (!manifest.previous_run_id) return null;
  if (!previous) return `previous run ${manifest.previous_run_id} is missing (deleted?)`;
  if (!manifest.previous_manifest_sha256) return `the manifest names previous run ${manifest.previous_run_id} but no previous_manifest_sha256`;
  const actual = chainSha256(previous);
  if (actual !== manifest.previous_manifest_sha256) return `previous run ${manifest.previous_run_id} was rewritten: its manifest hashes to ${actual}, this run recorded ${manifest.previous_manifest_sha256}`;
  return null;
}

export interface ChainReport extends VerifyReport {
  runs: { run_id: string; as_of: string | null; ok: boolean }[];
}

/**
 * Walks every run folder under `root` in as-of order (within [from, to] when given): each folder is verified and
 * its link to the previous run checked, so a deleted or rewritten past run shows up at the run after it.
 */
export async function verifyChain(root: string, options: { from?: string; to?: string; publicKey?: KeyObject } = {}): Promise<ChainReport> {
  const entries = existsSync(root) ? await readdir(root, { withFileTypes: true }) : [];
  const candidates = entries.filter((e) => e.isDirectory() && existsSync(path.join(root, e.name, MANIFEST_FILE))).map((e) => e.name);
  const manifests = new Map<string, ManifestLike | undefined>();
  for (const dir of candidates) manifests.set(dir, await readFile(path.join(root, dir, MANIFEST_FILE), 'utf8').then((t) => JSON.parse(t) as ManifestLike).catch(() => undefined));
  // A replay re-executes a run beside the chain; nothing links to it.
  const folders = candidates.filter((dir) => !manifests.get(dir)?.replay_of);
  const byRunId = new Map<string, ManifestLike>();
  for (const [dir, m] of manifests) if (m) byRunId.set(m.run_id ?? dir, m);
  const inRange = folders
    .map((dir) => ({ dir, asOf: typeof manifests.get(dir)?.as_of === 'string' ? (manifests.get(dir)!.as_of as string) : null }))
    .filter((r) => (!options.from || (r.asOf ?? '') >= options.from) && (!options.to || (r.asOf ?? '9999') <= options.to))
    .sort((a, b) => (a.asOf ?? '').localeCompare(b.asOf ?? '') || a.dir.localeCompare(b.dir));

  const problems: VerifyProblem[] = [];
  const runs: ChainReport['runs'] = [];
  const signatures: SignatureStatus[] = [];
  let filesChecked = 0;
  for (const { dir, asOf } of inRange) {
    const report = await verifyRunFolder(path.join(root, dir), options);
    filesChecked += report.files_checked;
    signatures.push(report.signature);
    const own = report.problems.map((p) => ({ path: `${dir}/${p.path}`, problem: p.problem }));
    if (report.manifest) {
      const link = chainLinkProblem(report.manifest, report.manifest.previous_run_id ? byRunId.get(report.manifest.previous_run_id) : undefined);
      if (link) own.push({ path: `${dir}/${MANIFEST_FILE}`, problem: link });
    }
    problems.push(...own);
    runs.push({ run_id: report.manifest?.run_id ?? dir, as_of: asOf, ok: own.length === 0 });
  }
  const signature: SignatureStatus = signatures.includes('invalid') ? 'invalid' : signatures.includes('absent') ? 'absent' : signatures.length ? 'valid' : 'absent';
  return { ok: problems.length === 0, files_checked: filesChecked, signature, problems, runs };
}

async function checkSignature(folder: string, body: Buffer, publicKey: KeyObject | undefined): Promise<SignatureStatus> {
  let text: string;
  try {
    text = await readFile(path.join(folder, SIGNATURE_FILE), 'utf8');
  } catch {
    return 'absent';
  }
  if (!publicKey) throw new PublicKeyRequired();
  return signatureValid(body, text, publicKey) ? 'valid' : 'invalid';
}

/** Row count from the Parquet footer alone; a message when the file is not readable Parquet. */
async function parquetRowCount(file: string): Promise<number | string> {
  try {
    const reader = await ParquetReader.openFile(file);
    try {
      return Number(reader.getRowCount());
    } finally {
      await reader.close();
    }
  } catch (err) {
    return `not a readable Parquet file (${(err as Error).message.split('\n')[0]})`;
  }
}

/** Every regular file below `root`, as a '/'-separated path relative to it. */
async function filesUnder(root: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(root, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await filesUnder(root, rel)));
    else if ((await stat(path.join(root, rel))).isFile()) out.push(rel);
  }
  return out.sort();
}
