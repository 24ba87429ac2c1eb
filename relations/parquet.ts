import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Knex } from 'knex';
import { to as copyTo } from 'pg-copy-streams';
import { withTransaction } from '../activities/pg';
import { packageVersion } from '../services/codeVersion';
import { CONTRACT_VERSION } from './contract';
import { duckType, isComposite, manifestColumns, quoteIdent, type ColumnDef, type ColumnType, type ManifestColumn, type RelationDef, type RowOf } from './types';

/** A file of the run folder as a stage records it: the manifest lists path, rows, sha256 and, for snapshots, columns. */
export interface WrittenSnapshot {
  path: string;
  rows: number;
  sha256: string;
  columns?: ManifestColumn[];
}

/** Rows per row group: DuckDB's default (a multiple of its 2,048-row vectors), so a 1M-row file has 9 groups. */
export const ROW_GROUP_SIZE = 122_880;

/** Where a snapshot's rows come from: the relation's own query on PostgreSQL, or rows built in memory. */
export type SnapshotSource<R extends RelationDef> =
  | { db: Knex; databaseUrl: string; params: Record<string, unknown> }
  | { rows: AsyncIterable<RowOf<R>> | Iterable<RowOf<R>> };

let duck: Promise<DuckDBInstance> | undefined;

/**
 * One DuckDB per process, single-threaded: the Parquet bytes must not depend on scheduling (row groups are cut in
 * insertion order), and a worker shares its cores with PostgreSQL.
 */
function duckdb(): Promise<DuckDBInstance> {
  duck ??= DuckDBInstance.create(':memory:', {
    threads: '1',
    preserve_insertion_order: 'true',
    memory_limit: '512MB',
    temp_directory: path.join(os.tmpdir(), 'portrait-duckdb'),
  });
  return duck;
}

/**
 * Writes `<runDir>/<file>` for a declared relation: rows stream from PostgreSQL (COPY … TO STDOUT, the relation's
 * select in its sort order) or from memory into a CSV spool next to the target, which DuckDB reads with the declared
 * types and writes as zstd Parquet with statistics. Memory stays bounded whatever the row count (the spool is on disk,
 * DuckDB streams). Written under a temporary name and renamed, so a retried activity never leaves half a file.
 * Non-nullable columns are checked against the file's null counts.
 */
export async function writeSnapshot<R extends RelationDef>(
  runDir: string,
  def: R,
  source: SnapshotSource<R>,
  opts: { file?: string; /** Filled with seconds spent spooling rows and writing Parquet (benchmarks). */ timing?: { spoolSeconds: number; parquetSeconds: number } } = {},
): Promise<WrittenSnapshot> {
  const file = opts.file ?? def.file;
  const target = path.join(runDir, file);
  await mkdir(path.dirname(target), { recursive: true });
  const spool = `${target}.csv.partial`;
  const tmp = `${target}.partial`;
  try {
    const t0 = performance.now();
    if ('rows' in source) await spoolRows(def, source.rows, spool);
    else await spoolQuery(def, source, spool);
    const t1 = performance.now();
    // Rows from memory are sorted here (byte order); rows from PostgreSQL arrive in the relation's order already.
    const rows = await csvToParquet(def, spool, tmp, 'rows' in source);
    if (opts.timing) Object.assign(opts.timing, { spoolSeconds: (t1 - t0) / 1000, parquetSeconds: (performance.now() - t1) / 1000 });
    await rename(tmp, target);
    return { path: file, rows, sha256: await sha256File(target), columns: manifestColumns(def) };
  } finally {
    await rm(spool, { force: true });
    await rm(tmp, { force: true });
  }
}

/** The relation's SELECT on PostgreSQL with every value rendered as text DuckDB parses exactly. */
export function selectSql(def: RelationDef): string {
  if (!def.from) throw new Error(`relation ${def.name} is built in memory; it has no query`);
  const exprs = def.columns.map((c) => `${pgText(c)} as ${quoteIdent(c.name)}`).join(', ');
  // Plain names in ORDER BY are the output columns: their text forms sort like the values (ISO dates, UTC instants).
  const order = def.orderBySql ?? def.sortBy.map(quoteIdent).join(', ');
  return `select ${exprs} from ${def.from}${def.where ? ` where ${def.where}` : ''} order by ${order}`;
}

function sourceExpr(c: ColumnDef): string {
  return c.sql ?? quoteIdent(c.name);
}

/** Text PostgreSQL prints for a column, independent of session settings (DateStyle, TimeZone). */
function pgText(c: ColumnDef): string {
  const e = `(${sourceExpr(c)})`;
  if (isComposite(c.type)) return `to_jsonb${e}::text`;
  switch (c.type) {
    case 'DATE':
      return `to_char(${e}::date, 'YYYY-MM-DD')`;
    case 'TIMESTAMP':
      return `to_char(${e}::timestamptz at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
    case 'DECIMAL(18,2)':
      return `${e}::numeric(18,2)`;
    case 'DOUBLE':
      return `${e}::float8`;
    case 'INT32':
      return `${e}::int`;
    case 'INT64':
      return `${e}::bigint`;
    case 'BOOLEAN':
      return `${e}::boolean`;
    default:
      return `${e}::text`;
  }
}

async function spoolQuery(def: RelationDef, source: { db: Knex; databaseUrl: string; params: Record<string, unknown> }, spool: string): Promise<void> {
  // COPY takes no bind parameters: knex renders them as escaped literals.
  const sql = source.db.raw(selectSql(def), source.params).toQuery();
  await withTransaction(source.databaseUrl, async (client) => {
    await pipeline(client.query(copyTo(`copy (${sql}) to stdout with (format csv)`)), createWriteStream(spool));
  });
}

async function spoolRows<R extends RelationDef>(def: R, rows: AsyncIterable<RowOf<R>> | Iterable<RowOf<R>>, spool: string): Promise<void> {
  const out = createWriteStream(spool);
  const done = new Promise<void>((resolve, reject) => {
    out.once('finish', resolve);
    out.once('error', reject);
  });
  let buf = '';
  try {
    for await (const row of rows as AsyncIterable<Record<string, unknown>>) {
      buf += def.columns.map((c) => csvField(row[c.name], c.type)).join(',') + '\n';
      if (buf.length > 1 << 20) {
        await write(out, buf);
        buf = '';
      }
    }
    await write(out, buf);
  } finally {
    out.end();
  }
  await done;
}

function write(out: WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => (out.write(text) ? resolve() : out.once('drain', resolve)));
}

/** One value as CSV text: empty unquoted is NULL, strings are always quoted so an empty string stays one. */
export function csvField(value: unknown, type: ColumnType): string {
  if (value === null || value === undefined) return '';
  const quoted = (s: string) => `"${s.replace(/"/g, '""')}"`;
  if (typeof type !== 'string') return quoted(JSON.stringify(value));
  switch (type) {
    case 'DATE':
      return value instanceof Date ? value.toISOString().slice(0, 10) : String(value).slice(0, 10);
    case 'TIMESTAMP':
      return value instanceof Date ? value.toISOString() : String(value);
    case 'DECIMAL(18,2)':
      return Number(value).toFixed(2);
    case 'DOUBLE':
    case 'INT32':
    case 'INT64':
      return String(Number(value));
    case 'BOOLEAN':
      return value ? 'true' : 'false';
    default:
      return quoted(String(value));
  }
}

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

async function csvToParquet(def: RelationDef, spool: string, target: string, sort: boolean): Promise<number> {
  const connection = await (await duckdb()).connect();
  try {
    // Composite values arrive as JSON text and are cast to their LIST/STRUCT type.
    const columns = `{${def.columns.map((c) => `${sqlString(c.name)}: ${sqlString(isComposite(c.type) ? 'VARCHAR' : duckType(c.type))}`).join(', ')}}`;
    const exprs = def.columns.map((c) => (isComposite(c.type) ? `${quoteIdent(c.name)}::JSON::${duckType(c.type)} as ${quoteIdent(c.name)}` : quoteIdent(c.name))).join(', ');
    const read = `read_csv(${sqlString(spool)}, columns = ${columns}, header = false, auto_detect = false, delim = ',', quote = '"', escape = '"', new_line = '\\n', allow_quoted_nulls = false, parallel = false)`;
    const kv = `{'portrait.created_by': ${sqlString(`Portrait ${packageVersion()}`)}, 'portrait.contract_version': '${CONTRACT_VERSION}', 'portrait.relation': ${sqlString(def.name)}}`;
    const order = sort ? ` order by ${def.sortBy.map(quoteIdent).join(', ')}` : '';
    await connection.run(`copy (select ${exprs} from ${read}${order}) to ${sqlString(target)} (format parquet, compression zstd, row_group_size ${ROW_GROUP_SIZE}, kv_metadata ${kv})`);
    const [meta] = (await connection.runAndReadAll(`select num_rows::bigint as n from parquet_file_metadata(${sqlString(target)})`)).getRowObjectsJS() as { n: bigint }[];
    const required = def.columns.filter((c) => !c.nullable && !isComposite(c.type)).map((c) => c.name);
    if (required.length) {
      const nulls = (await connection.runAndReadAll(
        `select path_in_schema as name, sum(stats_null_count)::bigint as n from parquet_metadata(${sqlString(target)}) group by 1 having sum(stats_null_count) > 0`,
      )).getRowObjectsJS() as { name: string; n: bigint }[];
      const bad = nulls.filter((r) => required.includes(r.name));
      if (bad.length) throw new Error(`snapshot ${def.file}: null values in non-nullable columns ${bad.map((r) => `${r.name} (${r.n})`).join(', ')}; the declaration in relations/ and the data disagree`);
    }
    return Number(meta!.n);
  } finally {
    connection.closeSync();
  }
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
