import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { configSchema, type PortraitConfig } from './schema';
import { canonicalJson } from '../transforms/canonicalJson';
import { checkSegmentRules } from '../transforms/segmentRules';

export const DEFAULT_CONFIG_PATH = path.resolve(__dirname, '..', '..', 'config', 'portrait.yaml');

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Validates a parsed config object; throws ConfigError naming every bad field (path: message). */
export function parseConfig(raw: unknown, source = 'config'): PortraitConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid ${source}: ${problems.join('; ')}`);
  }
  // Segment rules are type-checked against the tag catalogue here, so a bad rule never reaches a run.
  const ruleProblems = checkSegmentRules(result.data.segments);
  if (ruleProblems.length) throw new ConfigError(`invalid ${source}: ${ruleProblems.join('; ')}`);
  return deepFreeze(result.data);
}

export function loadConfig(file = resolveConfigPath()): PortraitConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(err as Error).message}`);
  }
  return parseConfig(withCampaigns(withSegments(raw, file), file), `config file ${file}`);
}

/** Segments and clustering come from segments.yaml beside the main file unless the main file has its own. */
function withSegments(raw: unknown, file: string): unknown {
  if (!raw || typeof raw !== 'object' || 'segments' in raw) return raw;
  const segments = readSibling(file, 'segments.yaml', process.env.PORTRAIT_SEGMENTS, 'segments');
  return { ...raw, segmentsVersion: segments.version === undefined ? undefined : String(segments.version), segments: segments.segments, clustering: segments.clustering };
}

/** The campaign catalogue comes from campaigns.yaml beside the main file unless the main file has its own list. */
function withCampaigns(raw: unknown, file: string): unknown {
  if (!raw || typeof raw !== 'object' || 'campaigns' in raw) return raw;
  const catalogue = readSibling(file, 'campaigns.yaml', process.env.PORTRAIT_CAMPAIGNS, 'campaigns');
  return { ...raw, campaigns: catalogue.campaigns };
}

/** A YAML file next to the main config (or at the path an environment variable names), parsed to an object. */
function readSibling(file: string, name: string, override: string | undefined, what: string): Record<string, unknown> {
  const sibling = override ? path.resolve(override) : path.join(path.dirname(file), name);
  let text: string;
  try {
    text = readFileSync(sibling, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${what} file ${sibling}: ${(err as Error).message}`);
  }
  try {
    return YAML.parse(text) ?? {};
  } catch (err) {
    throw new ConfigError(`${what} file ${sibling} is not valid YAML: ${(err as Error).message}`);
  }
}

/** The shipped config lives next to the sources; dist/ builds look one level further up. */
export function resolveConfigPath(): string {
  if (process.env.PORTRAIT_CONFIG) return path.resolve(process.env.PORTRAIT_CONFIG);
  const fromSource = path.resolve(__dirname, 'portrait.yaml');
  try {
    readFileSync(fromSource);
    return fromSource;
  } catch {
    return DEFAULT_CONFIG_PATH;
  }
}

export function configSha256(config: PortraitConfig): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex');
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    Object.values(value as Record<string, unknown>).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}
