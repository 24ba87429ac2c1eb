/**
 * Source contracts (config/sources.yaml): how each extract is read and the columns it must carry. A row that breaks
 * the contract is quarantined with a reason; a file that cannot be read as its source fails the run. The YAML is
 * validated once, at import, so a bad contract stops the worker at start with the exact field.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { ConfigError } from './load';
import { SOURCE_NAMES, type SourceName } from './sourceNames';

export { SOURCE_NAMES, type SourceName };

export const COLUMN_TYPES = ['text', 'int', 'decimal', 'date', 'timestamp', 'bool'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];
export const ENCODINGS = ['utf-8', 'gbk', 'gb18030'] as const;
export type Encoding = (typeof ENCODINGS)[number];

const identifier = z.string().regex(/^[a-z_][a-z0-9_]*$/, 'lower-case SQL identifier');
const severity = z.enum(['fail', 'warn']);

const columnSchema = z
  .object({
    name: identifier,
    type: z.enum(COLUMN_TYPES),
    required: z.boolean().default(true),
    /** Allowed values (text columns). */
    values: z.array(z.string()).min(1).optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    /** Personal data: masked in quarantine and never logged. */
    pii: z.boolean().default(false),
    /** Invalid value becomes NULL instead of quarantining the row (soft attributes). */
    nullOnInvalid: z.boolean().default(false),
    /** A date/time after the end of the as-of day rejects the row (future_date). */
    notAfterAsOf: z.boolean().default(false),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.values && c.type !== 'text') ctx.addIssue({ code: 'custom', path: ['values'], message: 'allowed values apply to text columns only' });
    if ((c.min !== undefined || c.max !== undefined) && c.type !== 'int' && c.type !== 'decimal') ctx.addIssue({ code: 'custom', path: ['min'], message: 'min/max apply to int and decimal columns only' });
    if (c.notAfterAsOf && c.type !== 'date' && c.type !== 'timestamp') ctx.addIssue({ code: 'custom', path: ['notAfterAsOf'], message: 'notAfterAsOf applies to date and timestamp columns only' });
  });

const csvSchema = z
  .object({
    delimiter: z.string().length(1, 'one character, e.g. "," or "|" or "\\t"'),
    quote: z.string().length(1),
    encoding: z.enum(ENCODINGS),
    header: z.boolean(),
  })
  .strict();

const qualitySchema = z
  .object({
    maxRejectRate: z.object({ max: z.number().min(0).max(1), severity }).strict(),
    minRows: z.object({ min: z.number().int().min(0), severity }).strict(),
    volumeDrop: z.object({ minRatio: z.number().min(0), severity }).strict(),
    freshness: z.object({ column: identifier, maxAgeDays: z.number().int().min(0), severity }).strict(),
    nullRates: z.object({ columns: z.array(identifier).min(1), max: z.number().min(0).max(1), severity }).strict(),
    duplicateKeys: z.object({ maxRate: z.number().min(0).max(1), severity }).strict(),
  })
  .partial()
  .strict();

const sourceSchema = z
  .object({
    format: z.enum(['csv', 'parquet', 'sql']).optional(),
    path: z.string().min(1).optional(),
    csv: csvSchema.partial().optional(),
    sql: z.object({ connectionEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'environment variable name'), query: z.string().min(1) }).strict().optional(),
    primaryKey: z.array(identifier).min(1),
    columns: z.array(columnSchema).min(1),
    quality: qualitySchema.optional(),
  })
  .strict();

const fileSchema = z
  .object({
    version: z.union([z.string(), z.number()]).transform(String),
    defaults: z.object({ format: z.enum(['csv', 'parquet', 'sql']), csv: csvSchema, quality: qualitySchema.default({}) }).strict(),
    sources: z.object(Object.fromEntries(SOURCE_NAMES.map((s) => [s, sourceSchema])) as Record<SourceName, typeof sourceSchema>).strict(),
  })
  .strict();

export interface ColumnContract {
  name: string;
  type: ColumnType;
  required: boolean;
  values?: readonly string[];
  min?: number;
  max?: number;
  pii?: boolean;
  nullOnInvalid?: boolean;
  notAfterAsOf?: boolean;
}
export type CsvOptions = z.infer<typeof csvSchema>;
export type QualityGates = z.infer<typeof qualitySchema>;

export interface SourceContract {
  name: SourceName;
  format: 'csv' | 'parquet' | 'sql';
  /** Path pattern relative to the input folder ({as_of}, {as_of_compact}); unused for sql. */
  path: string;
  csv: CsvOptions;
  sql?: { connectionEnv: string; query: string };
  primaryKey: readonly string[];
  columns: readonly ColumnContract[];
  quality: QualityGates;
}

export interface SourceContracts {
  version: string;
  /** sha256 of the contract file, recorded with each run's quality checks. */
  sha256: string;
  file: string;
  sources: Readonly<Record<SourceName, SourceContract>>;
}

/** Validates parsed YAML; throws ConfigError naming every bad field (`sources.loans.columns.3.type: …`). */
export function parseSourceContracts(raw: unknown, label: string, sha256 = ''): SourceContracts {
  const result = fileSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid ${label}: ${problems.join('; ')}`);
  }
  const { version, defaults, sources } = result.data;
  const problems: string[] = [];
  const contracts = {} as Record<SourceName, SourceContract>;
  for (const name of SOURCE_NAMES) {
    const s = sources[name];
    const at = `sources.${name}`;
    const format = s.format ?? defaults.format;
    const names = s.columns.map((c) => c.name);
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i) problems.push(`${at}.columns.${i}.name: duplicate column "${n}"`);
    });
    s.primaryKey.forEach((k, i) => {
      if (!names.includes(k)) problems.push(`${at}.primaryKey.${i}: "${k}" is not a column`);
    });
    if (format === 'sql' && !s.sql) problems.push(`${at}.sql: required when format is sql`);
    if (format !== 'sql' && !s.path) problems.push(`${at}.path: required when format is ${format}`);
    const quality = { ...defaults.quality, ...s.quality };
    if (quality.freshness) {
      const col = s.columns.find((c) => c.name === quality.freshness!.column);
      if (!col || (col.type !== 'date' && col.type !== 'timestamp')) problems.push(`${at}.quality.freshness.column: "${quality.freshness.column}" is not a date or timestamp column`);
    }
    quality.nullRates?.columns.forEach((c, i) => {
      if (!names.includes(c)) problems.push(`${at}.quality.nullRates.columns.${i}: "${c}" is not a column`);
    });
    contracts[name] = { name, format, path: s.path ?? '', csv: { ...defaults.csv, ...s.csv }, sql: s.sql, primaryKey: s.primaryKey, columns: s.columns, quality };
  }
  if (problems.length) throw new ConfigError(`invalid ${label}: ${problems.join('; ')}`);
  return deepFreeze({ version, sha256, file: label, sources: contracts });
}

export function loadSourceContracts(file = resolveSourcesPath()): SourceContracts {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read source contracts ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (err) {
    throw new ConfigError(`source contracts ${file} are not valid YAML: ${(err as Error).message}`);
  }
  return parseSourceContracts(raw, `source contracts ${file}`, createHash('sha256').update(text).digest('hex'));
}

/** PORTRAIT_SOURCES, else sources.yaml beside this module (sources) or one level up (dist build). */
export function resolveSourcesPath(): string {
  if (process.env.PORTRAIT_SOURCES) return path.resolve(process.env.PORTRAIT_SOURCES);
  for (const candidate of [path.resolve(__dirname, 'sources.yaml'), path.resolve(__dirname, '..', '..', 'config', 'sources.yaml')]) {
    try {
      readFileSync(candidate);
      return candidate;
    } catch {
      // try the next location
    }
  }
  return path.resolve(__dirname, 'sources.yaml');
}

/** The contracts in force for this process, validated when first imported. */
export const CONTRACTS: SourceContracts = loadSourceContracts();
export const SOURCES: Readonly<Record<SourceName, SourceContract>> = CONTRACTS.sources;

/** The file of a source for an as-of date, relative to the input folder. */
export function sourcePath(contract: SourceContract, asOf: string): string {
  return contract.path.replace(/\{as_of\}/g, asOf).replace(/\{as_of_compact\}/g, asOf.replace(/-/g, ''));
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    Object.values(value as Record<string, unknown>).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}
