import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bad invocation: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Strict flag parsing: unknown flags and stray positionals are usage errors. */
export function parseFlags<O extends Options>(argv: string[], options: O, positionals = 0) {
  try {
    const parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' } }, allowPositionals: positionals > 0, strict: true });
    if (parsed.positionals.length > positionals) throw new UsageError(`unexpected argument "${parsed.positionals[positionals]}"`);
    return parsed;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message.split('\n')[0]!);
  }
}

export function requireDate(value: string | undefined, flag: string): string {
  if (!value) throw new UsageError(`${flag} is required (YYYY-MM-DD)`);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!m || !d || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) throw new UsageError(`${flag} must be a real date as YYYY-MM-DD, got "${value}"`);
  return value;
}

export function requireInt(value: string | undefined, flag: string, min: number, fallback?: number): number {
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw new UsageError(`${flag} is required`);
  }
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`${flag} must be an integer ≥ ${min}, got "${value}"`);
  return Number(value);
}
