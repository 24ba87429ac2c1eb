import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, cpSync, unlinkSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeSnapshot } from '../../relations/parquet';
import { col, relation } from '../../relations/types';
import { chainSha256, signManifest, MANIFEST_FILE, SIGNATURE_FILE, type ManifestLike } from '../../audit/manifest';
import { PublicKeyRequired, verifyChain, verifyRunFolder } from '../../audit/verify';
import { main } from '../../cli/portrait';
import { UsageError } from '../../cli/args';

async function* rowsOf(n: number, prefix: string) {
  for (let i = 0; i < n; i++) yield { golden_id: `${prefix}${String(i).padStart(4, '0')}`, score: i / 7 };
}
const scored = (file: string) => relation({ name: file.replace('.parquet', ''), file, doc: 'test rows', key: ['golden_id'], sortBy: ['golden_id'], columns: [col('golden_id', 'VARCHAR'), col('score', 'DOUBLE')] });

/** A run folder as finalize leaves it: Parquet files, a CSV, manifest.json and (with a key) its detached signature. */
async function writeRun(root: string, runId: string, asOf: string, previous: { runId: string; manifest: ManifestLike } | null, key: KeyObject | null, extra: Record<string, unknown> = {}): Promise<ManifestLike> {
  const dir = path.join(root, runId);
  mkdirSync(path.join(dir, 'deliveries', 'c1'), { recursive: true });
  const a = await writeSnapshot(dir, scored('segments.parquet'), { rows: rowsOf(30, runId) });
  const b = await writeSnapshot(dir, scored('scores.parquet'), { rows: rowsOf(12, runId) });
  writeFileSync(path.join(dir, 'deliveries', 'c1', 'c1_sms.csv'), '\uFEFFa,b\r\n1,2\r\n');
  const csv = { path: 'deliveries/c1/c1_sms.csv', rows: 1, sha256: require('node:crypto').createHash('sha256').update(readFileSync(path.join(dir, 'deliveries', 'c1', 'c1_sms.csv'))).digest('hex') };
  const manifest: ManifestLike = {
    run_id: runId,
    as_of: asOf,
    seed: 7,
    stages: [
      { stage: 'segment', files: [a] },
      { stage: 'score', files: [b] },
      { stage: 'dispatch', files: [csv] },
    ],
    ...(previous ? { previous_run_id: previous.runId, previous_manifest_sha256: chainSha256(previous.manifest) } : {}),
    ...extra,
  };
  const body = JSON.stringify(manifest, null, 2) + '\n';
  writeFileSync(path.join(dir, MANIFEST_FILE), body);
  if (key) writeFileSync(path.join(dir, SIGNATURE_FILE), signManifest(body, key));
  return manifest;
}

const KEY_VARIABLES = ['PORTRAIT_SIGNING_KEY', 'PORTRAIT_SIGNING_KEY_FILE', 'PORTRAIT_SIGNING_PUBLIC_KEY', 'PORTRAIT_SIGNING_PUBLIC_KEY_FILE'];

/** Runs `fn` with exactly these signing variables set (the others unset), restoring the environment after. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(KEY_VARIABLES.map((k) => [k, process.env[k]]));
  for (const k of KEY_VARIABLES) delete process.env[k];
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const k of KEY_VARIABLES) delete process.env[k];
    for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v;
  }
}

function flipByte(file: string, at: number): void {
  const bytes = readFileSync(file);
  bytes[at] = bytes[at]! ^ 0x01;
  writeFileSync(file, bytes);
}

describe('verify (offline, on run folders)', () => {
  let root: string;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');
  let day1: ManifestLike;

  beforeEach(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'portrait-verify-'));
    // Day 1 is a v1 manifest (no contract_version, no chain fields); day 2 a later contract with extra per-file fields.
    day1 = await writeRun(root, 'r1', '2026-11-20', null, privateKey);
    await writeRun(root, 'r2', '2026-11-21', { runId: 'r1', manifest: day1 }, privateKey, { contract_version: 2 });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('passes an untouched run with a valid signature, checking every listed file', async () => {
    const report = await verifyRunFolder(path.join(root, 'r2'), { publicKey, checkPreviousBeside: true });
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ ok: true, files_checked: 3, signature: 'valid' });
    // Signed and no key: never "ok" without checking the signature.
    await expect(verifyRunFolder(path.join(root, 'r1'))).rejects.toBeInstanceOf(PublicKeyRequired);
    await expect(verifyChain(root, {})).rejects.toBeInstanceOf(PublicKeyRequired);
  });

  it('catches one flipped byte in any Parquet file, in its data or in its footer', async () => {
    for (const file of ['segments.parquet', 'scores.parquet']) {
      for (const at of [8, -12]) {
        const copy = path.join(root, `copy-${file}-${at}`);
        cpSync(path.join(root, 'r1'), copy, { recursive: true });
        const full = path.join(copy, file);
        flipByte(full, at > 0 ? at : readFileSync(full).length + at);
        const report = await verifyRunFolder(copy, { publicKey });
        expect(report.ok).toBe(false);
        expect(report.problems.map((p) => p.path)).toEqual([file]);
        expect(report.problems[0]!.problem).toMatch(/sha256 [0-9a-f]{64} differs/);
      }
    }
  });

  it('catches an edited manifest: a row count that no longer matches the footer, and the signature', async () => {
    const file = path.join(root, 'r1', MANIFEST_FILE);
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    manifest.stages[0].files[0].rows = 29;
    writeFileSync(file, JSON.stringify(manifest, null, 2) + '\n');
    const report = await verifyRunFolder(path.join(root, 'r1'), { publicKey });
    expect(report.signature).toBe('invalid');
    expect(report.problems).toEqual([
      { path: 'segments.parquet', problem: 'Parquet footer has 30 rows, the manifest says 29' },
      { path: SIGNATURE_FILE, problem: expect.stringMatching(/does not match/) },
    ]);
  });

  it('catches a deleted file and an extra file', async () => {
    unlinkSync(path.join(root, 'r1', 'deliveries', 'c1', 'c1_sms.csv'));
    writeFileSync(path.join(root, 'r1', 'deliveries', 'c1', 'extra.csv'), 'x\n');
    const report = await verifyRunFolder(path.join(root, 'r1'), { publicKey });
    expect(report.problems).toEqual([
      { path: 'deliveries/c1/c1_sms.csv', problem: 'listed in the manifest but missing' },
      { path: 'deliveries/c1/extra.csv', problem: 'present in the folder but not listed in the manifest' },
    ]);
  });

  it('catches a bad signature: another key, a wrong public key, a removed signature', async () => {
    const body = readFileSync(path.join(root, 'r1', MANIFEST_FILE));
    expect((await verifyRunFolder(path.join(root, 'r1'), { publicKey: other.publicKey })).signature).toBe('invalid');
    writeFileSync(path.join(root, 'r1', SIGNATURE_FILE), signManifest(body, other.privateKey));
    expect((await verifyRunFolder(path.join(root, 'r1'), { publicKey })).signature).toBe('invalid');
    unlinkSync(path.join(root, 'r1', SIGNATURE_FILE));
    const removed = await verifyRunFolder(path.join(root, 'r1'), { publicKey });
    expect(removed).toMatchObject({ ok: false, signature: 'absent' });
    expect(removed.problems[0]!.path).toBe(SIGNATURE_FILE);
  });

  it('catches a broken chain link: a rewritten or a deleted past run shows at the run after it', async () => {
    expect((await verifyChain(root, { publicKey })).ok).toBe(true);
    // Rewritten and even re-signed by someone holding the key: the next run's recorded link still differs.
    const file = path.join(root, 'r1', MANIFEST_FILE);
    const forged = { ...JSON.parse(readFileSync(file, 'utf8')), seed: 8 };
    const body = JSON.stringify(forged, null, 2) + '\n';
    writeFileSync(file, body);
    writeFileSync(path.join(root, 'r1', SIGNATURE_FILE), signManifest(body, privateKey));
    const rewritten = await verifyChain(root, { publicKey });
    expect(rewritten.problems).toEqual([{ path: `r2/${MANIFEST_FILE}`, problem: expect.stringMatching(/^previous run r1 was rewritten/) }]);
    expect((await verifyRunFolder(path.join(root, 'r2'), { publicKey, checkPreviousBeside: true })).ok).toBe(false);

    rmSync(path.join(root, 'r1'), { recursive: true });
    const deleted = await verifyChain(root, { publicKey });
    expect(deleted.problems).toEqual([{ path: `r2/${MANIFEST_FILE}`, problem: 'previous run r1 is missing (deleted?)' }]);
    expect(deleted.runs.map((r) => r.run_id)).toEqual(['r2']);
  });

  it('keeps the chain link when only the outcomes stage of a past run is rewritten (outcomes arrive weeks later)', async () => {
    const file = path.join(root, 'r1', MANIFEST_FILE);
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    manifest.stages.push({ stage: 'outcomes', files: [] });
    writeFileSync(file, JSON.stringify(manifest, null, 2) + '\n');
    unlinkSync(path.join(root, 'r1', SIGNATURE_FILE));
    unlinkSync(path.join(root, 'r2', SIGNATURE_FILE));
    expect((await verifyChain(root, {})).problems).toEqual([]);
  });

  it('portrait verify: JSON as documented, exit 0 / 1, one line per bad file; bad use exits 2', async () => {
    const writes: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    const keyFile = path.join(root, 'pub.pem');
    writeFileSync(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
    try {
      expect(await main(['verify', path.join(root, 'r2'), '--public-key', keyFile, '--json'])).toBe(0);
      expect(JSON.parse(writes.join(''))).toEqual({ ok: true, files_checked: 3, signature: 'valid', problems: [] });
      writes.length = 0;
      flipByte(path.join(root, 'r2', 'scores.parquet'), 20);
      writeFileSync(path.join(root, 'r2', 'notes.txt'), 'x');
      // The public key from the environment when --public-key is not given.
      expect(await withEnv({ PORTRAIT_SIGNING_PUBLIC_KEY_FILE: keyFile }, () => main(['verify', path.join(root, 'r2')]))).toBe(1);
      const lines = writes.join('').trim().split('\n');
      expect(lines[0]).toMatch(/^FAILED: run r2, 3 files checked, signature valid, 2 problem\(s\)$/);
      expect(lines.slice(1)).toEqual([expect.stringMatching(/^  scores\.parquet: sha256 /), '  notes.txt: present in the folder but not listed in the manifest']);
      writes.length = 0;
      const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
      expect(await withEnv({ PORTRAIT_SIGNING_PUBLIC_KEY: pem }, () => main(['verify', path.join(root, 'r1'), '--json']))).toBe(0);
      expect(JSON.parse(writes.join(''))).toMatchObject({ ok: true, signature: 'valid' });
      writes.length = 0;
      // On the machine that signs, the signing key's own public half.
      expect(await withEnv({ PORTRAIT_SIGNING_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string }, () => main(['verify', path.join(root, 'r1'), '--json']))).toBe(0);
      expect(JSON.parse(writes.join(''))).toMatchObject({ ok: true, signature: 'valid' });
      writes.length = 0;
      // Signed and no key from anywhere: a usage error, never "ok".
      const noKey = new UsageError(`${SIGNATURE_FILE} is present: pass --public-key FILE to check it`);
      await expect(withEnv({}, () => main(['verify', path.join(root, 'r1'), '--json']))).rejects.toEqual(noKey);
      await expect(withEnv({}, () => main(['verify', '--chain', root]))).rejects.toEqual(noKey);
      expect(writes).toEqual([]);
      // Usage errors become one line and exit 2 in the entry point.
      await expect(main(['verify', path.join(root, 'r2'), '--from', '2026-11-20'])).rejects.toEqual(new UsageError('--from and --to go with --chain'));
      await expect(main(['verify', path.join(root, 'r2'), '--public-key', path.join(root, 'none.pem')])).rejects.toBeInstanceOf(UsageError);
    } finally {
      spy.mockRestore();
    }
    expect(readdirSync(root).sort()).toEqual(['pub.pem', 'r1', 'r2']);
  });
});
