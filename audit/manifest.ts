import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../transforms/canonicalJson';

export const MANIFEST_FILE = 'manifest.json';
/** Detached Ed25519 signature of manifest.json's bytes (base64), so the manifest's own sha256 is unchanged by signing. */
export const SIGNATURE_FILE = 'manifest.json.sig';

/** One file as every manifest version lists it; later versions may add fields (e.g. columns). */
export interface ListedFile {
  path: string;
  rows: number;
  sha256: string;
}

/**
 * The part of a manifest verify relies on: any manifest listing its files under stages[].files[] {path, rows, sha256}
 * (v1 without contract_version, and later versions adding fields) is read the same way.
 */
export interface ManifestLike {
  run_id?: string;
  as_of?: string;
  stages?: { stage?: string; files?: ListedFile[] }[];
  previous_run_id?: string | null;
  previous_manifest_sha256?: string | null;
  [key: string]: unknown;
}

export function listedFiles(manifest: ManifestLike): ListedFile[] {
  return (manifest.stages ?? []).flatMap((s) => s.files ?? []);
}

/**
 * The sha256 that links a run into the chain: the canonical manifest without its outcomes stage. Outcomes are
 * attributed weeks later from later runs' data and rewrite that stage (and the manifest) long after the next runs
 * have linked to this one; everything the run itself produced stays covered.
 */
export function chainSha256(manifest: ManifestLike): string {
  const sealed = { ...manifest, stages: (manifest.stages ?? []).filter((s) => s.stage !== 'outcomes') };
  return createHash('sha256').update(canonicalJson(sealed)).digest('hex');
}

/** An Ed25519 key from PEM text; any other key type is refused, so a run is never signed or checked with something else. */
export function ed25519Key(pem: string, origin: string, kind: 'private' | 'public'): KeyObject {
  let key: KeyObject;
  try {
    key = kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
  } catch (err) {
    throw new Error(`${origin}: not a PEM ${kind} key (${(err as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${origin}: an Ed25519 key is needed, got ${key.asymmetricKeyType}`);
  return key;
}

/** Base64 signature text (one line) of the manifest bytes. */
export function signManifest(body: Buffer | string, key: KeyObject): string {
  return sign(null, Buffer.from(body), key).toString('base64') + '\n';
}

export function signatureValid(body: Buffer, signatureText: string, key: KeyObject): boolean {
  const sig = Buffer.from(signatureText.trim(), 'base64');
  if (sig.length !== 64) return false;
  return verify(null, body, key, sig);
}
