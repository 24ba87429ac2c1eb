import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
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

/** How rows travel from their source to DuckDB: a named pipe (read while written), or a CSV spool file on disk. */
export type Transport = 'fifo' | 'spool';

export interface WriteOptions {
  file?: string;
  /** Default: a fifo where mkfifo exists (POSIX), else a spool file. Both give byte-identical files. */
  transport?: Transport;
  /**
   * Filled with seconds (benchmarks). With a spool: rows to the spool, then Parquet. With a fifo both run at once:
   * `spoolSeconds` is the time until the source finished sending, `parquetSeconds` the rest.
   */
  timing?: { spoolSeconds: number; parquetSeconds: number };
}

/**
 * Writes `<runDir>/<file>` for a declared relation: rows stream from PostgreSQL (COPY … TO STDOUT of the relation's
 * select, in its sort order) or from memory as CSV through a named pipe that DuckDB reads as it is written (a spool
 * file next to the target where there is no mkfifo), with the declared types, and DuckDB writes zstd Parquet with
 * statistics. Memory stays bounded whatever the row count. Written under a temporary name and renamed, so a retried
 * activity never leaves half a file. Non-nullable columns are checked against the file's null counts. DuckDB's
 * errors come back as one line naming the file.
 */
export async function writeSnapshot<R extends RelationDef>(runDir: string, def: R, source: SnapshotSource<R>, opts: WriteOptions = {}): Promise<WrittenSnapshot> {
  const file = opts.file ?? def.file;
  const target = path.join(runDir, file);
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.partial`;
  const fromMemory = 'rows' in source;
  const send = (out: Writable) => (fromMemory ? pipeline(Readable.from(csvChunks(def, source.rows)), out) : copyQuery(def, source, out));
  const fifoDir = (opts.transport ?? 'fifo') === 'fifo' ? await makeFifoDir() : undefined;
  const t0 = performance.now();
  let sent = t0;
  try {
    let rows: number;
    if (fifoDir) {
      rows = await throughFifo(path.join(fifoDir, 'rows.csv'), (out) => send(out).then(() => void (sent = performance.now())), (csv) => csvToParquet(def, csv, tmp, file, fromMemory));
    } else {
      const spool = `${target}.csv.partial`;
      try {
        await send(createWriteStream(spool));
        sent = performance.now();
        rows = await csvToParquet(def, spool, tmp, file, fromMemory);
      } finally {
        await rm(spool, { force: true });
      }
    }
    if (opts.timing) Object.assign(opts.timing, { spoolSeconds: (sent - t0) / 1000, parquetSeconds: (performance.now() - sent) / 1000 });
    await rename(tmp, target);
    return { path: file, rows, sha256: await sha256File(target), columns: manifestColumns(def) };
  } finally {
    await rm(tmp, { force: true });
    if (fifoDir) await rm(fifoDir, { recursive: true, force: true });
  }
}

/** A private temporary folder holding a fifo `rows.csv`, or undefined where mkfifo is not available. */
async function makeFifoDir(): Promise<string | undefined> {
  if (process.platform === 'win32') return undefined;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'portrait-snapshot-'));
  const made = spawnSync('mkfifo', ['-m', '600', path.join(dir, 'rows.csv')], { stdio: 'ignore' });
  if (made.status === 0) return dir;
  await rm(dir, { recursive: true, force: true });
  return undefined;
}

/**
 * Rows held in memory between PostgreSQL and DuckDB. DuckDB stops reading while it encodes and compresses a row group;
 * with a pipe's 64 kB PostgreSQL then stalls too, and the two take turns instead of overlapping. 1M tags rows through
 * the fifo: 10.4–12.4 s with the default 16 kB, 8.9–10.1 s with this (docs/PERFORMANCE.md "Snapshot writer").
 */
const FIFO_BUFFER_BYTES = 64 << 20;

/**
 * Runs the sender (writing the fifo) and the reader (DuckDB reading it) at once. Opening a fifo blocks until both ends
 * are open, so whichever side fails first, the other is released: a failed sender closes its end (DuckDB sees the
 * end of the rows; the reader's result is then discarded), a failed reader is replaced by a drain that reads and
 * discards until the sender has finished.
 */
async function throughFifo<T>(fifo: string, send: (out: Writable) => Promise<void>, read: (fifo: string) => Promise<T>): Promise<T> {
  // Opened before anything can fail, so DuckDB always finds a writer (the open completes when DuckDB opens its end).
  const out = createWriteStream(fifo, { highWaterMark: FIFO_BUFFER_BYTES });
  let sent = false;
  const sending = send(out).then(
    () => void (sent = true),
    (err: unknown) => {
      sent = true;
      out.destroy();
      throw err;
    },
  );
  const reading = read(fifo).catch(async (err: unknown) => {
    await drain(fifo, () => sent);
    throw err;
  });
  const [sendResult, readResult] = await Promise.allSettled([sending, reading]);
  if (sendResult.status === 'rejected') throw sendResult.reason;
  if (readResult.status === 'rejected') throw readResult.reason;
  return readResult.value;
}

/**
 * Reads and discards a fifo until `done()`: non-blocking, because the writer may have finished already (a blocking
 * open would then wait for ever) or not have opened yet (a read then returns 0 bytes without it being the end).
 */
async function drain(fifo: string, done: () => boolean): Promise<void> {
  const fd = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const buf = Buffer.alloc(1 << 16);
  try {
    while (!done()) {
      const n = await fd.read(buf, 0, buf.length, null).then(
        (r) => r.bytesRead,
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'EAGAIN') return 0;
          throw err;
        },
      );
      if (n === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    await fd.close();
  }
}

/**
 * Session settings under which PostgreSQL's text output is unambiguous: ISO dates, instants in UTC with their offset,
 * doubles in their shortest exact form. Plain casts then print values DuckDB parses as the declared types, which costs
 * PostgreSQL far less than to_char per value.
 */
const COPY_SETTINGS = ["set local DateStyle = 'ISO, YMD'", "set local TimeZone = 'UTC'", 'set local extra_float_digits = 1'];

/** The relation's SELECT on PostgreSQL, every value cast to the type whose text DuckDB reads (under COPY_SETTINGS). */
export function selectSql(def: RelationDef): string {
  if (!def.from) throw new Error(`relation ${def.name} is built in memory; it has no query`);
  const exprs = def.columns.map((c) => `${pgExpr(c)} as ${quoteIdent(c.name)}`).join(', ');
  // Plain names in ORDER BY are the output columns (typed values: dates and instants sort as their ISO/UTC text would).
  const order = def.orderBySql ?? def.sortBy.map(quoteIdent).join(', ');
  return `select ${exprs} from ${def.from}${def.where ? ` where ${def.where}` : ''} order by ${order}`;
}

/** The COPY statement that streams a relation's rows as CSV, and the settings to run in its transaction first. */
export function copySql(db: Knex, def: RelationDef, params: Record<string, unknown>): { settings: string[]; copy: string } {
  // COPY takes no bind parameters: knex renders them as escaped literals.
  return { settings: COPY_SETTINGS, copy: `copy (${db.raw(selectSql(def), params).toQuery()}) to stdout with (format csv)` };
}

function sourceExpr(c: ColumnDef): string {
  return c.sql ?? quoteIdent(c.name);
}

/** Money read from PostgreSQL's numeric as exact decimal text; any other money value is a double (moneyExpr). */
const moneyIsNumeric = (c: ColumnDef, fromQuery: boolean) => fromQuery && /^numeric\b/.test(c.pg);

function pgExpr(c: ColumnDef): string {
  const e = `(${sourceExpr(c)})`;
  if (c.fromText) return `${e}::text`;
  if (isComposite(c.type)) return `to_jsonb${e}::text`;
  switch (c.type) {
    case 'DATE':
      return `${e}::date`;
    case 'TIMESTAMP':
      return `${e}::timestamptz`;
    case 'DECIMAL(18,2)':
      return moneyIsNumeric(c, true) ? `${e}::numeric(18,2)` : `${e}::float8`;
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

async function copyQuery(def: RelationDef, source: { db: Knex; databaseUrl: string; params: Record<string, unknown> }, out: Writable): Promise<void> {
  const { settings, copy } = copySql(source.db, def, source.params);
  await withTransaction(source.databaseUrl, async (client) => {
    await client.query(settings.join('; '));
    await pipeline(client.query(copyTo(copy)), out);
  });
}

/** In-memory rows as CSV text in chunks of about 1 MB. */
async function* csvChunks<R extends RelationDef>(def: R, rows: AsyncIterable<RowOf<R>> | Iterable<RowOf<R>>): AsyncGenerator<string> {
  let buf = '';
  for await (const row of rows as AsyncIterable<Record<string, unknown>>) {
    buf += def.columns.map((c) => csvField(row[c.name], c.type)).join(',') + '\n';
    if (buf.length > 1 << 20) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
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
    // Money from memory is a double, rounded by the writer like PostgreSQL's numeric(18,2) (moneyExpr).
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

/**
 * DECIMAL(18,2) from a double exactly as PostgreSQL's `float8::numeric(18,2)`: the double printed with 15 significant
 * digits (float8_numeric's DBL_DIG), then rounded half away from zero to cents (DuckDB's VARCHAR → DECIMAL cast).
 */
export function moneyExpr(doubleExpr: string): string {
  return `printf('%.15g', ${doubleExpr})::DECIMAL(18,2)`;
}

/** zstd level: 1 writes several times faster than DuckDB's default (3) for a few per cent more bytes (docs/PERFORMANCE.md). */
export const ZSTD_LEVEL = 1;

/** The column types DuckDB reads the CSV with, and the expressions that turn them into the declared types. */
function readPlan(def: RelationDef, fromQuery: boolean): { columns: string; exprs: string } {
  const read = (c: ColumnDef) => (isComposite(c.type) ? 'VARCHAR' : c.type === 'DECIMAL(18,2)' && !moneyIsNumeric(c, fromQuery) ? 'DOUBLE' : duckType(c.type));
  const expr = (c: ColumnDef) => {
    const name = quoteIdent(c.name);
    if (c.fromText) {
      if (!fromQuery) throw new Error(`relation ${def.name}: column ${c.name} is built from the select's text; rows from memory cannot carry it`);
      const built = `(${c.fromText})::${duckType(c.type)}`;
      return `${c.sorted ? `list_sort(${built})` : built} as ${name}`;
    }
    // Composite values arrive as JSON text and are cast to their LIST/STRUCT type.
    if (isComposite(c.type)) return `${c.sorted ? `list_sort(${name}::JSON::${duckType(c.type)})` : `${name}::JSON::${duckType(c.type)}`} as ${name}`;
    if (read(c) !== duckType(c.type)) return `${moneyExpr(name)} as ${name}`;
    return name;
  };
  return { columns: `{${def.columns.map((c) => `${sqlString(c.name)}: ${sqlString(read(c))}`).join(', ')}}`, exprs: def.columns.map(expr).join(', ') };
}

/**
 * DuckDB's message as one line naming the file: its first paragraph (later ones list reader options, the query with a
 * caret, sometimes a stack trace), without the offending CSV line (row values stay out of logs) or the temporary path.
 */
function duckError(file: string, def: RelationDef, csv: string, err: unknown): Error {
  const message = String((err as Error)?.message ?? err).trim();
  const lines = message.split(/\n\s*\n/)[0]!.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('Original Line'));
  return new Error(`snapshot ${file} (relation ${def.name}): DuckDB could not write it: ${lines.join('; ').split(csv).join('<rows>') || 'unknown error'}`);
}

async function csvToParquet(def: RelationDef, csv: string, target: string, file: string, fromMemory: boolean): Promise<number> {
  const connection = await (await duckdb()).connect();
  try {
    const { columns, exprs } = readPlan(def, !fromMemory);
    const read = `read_csv(${sqlString(csv)}, columns = ${columns}, header = false, auto_detect = false, delim = ',', quote = '"', escape = '"', new_line = '\\n', allow_quoted_nulls = false, parallel = false)`;
    const kv = `{'portrait.created_by': ${sqlString(`Portrait ${packageVersion()}`)}, 'portrait.contract_version': '${CONTRACT_VERSION}', 'portrait.relation': ${sqlString(def.name)}}`;
    // Rows from memory are sorted here (byte order); rows from PostgreSQL arrive in the relation's order already.
    const order = fromMemory ? ` order by ${def.sortBy.map(quoteIdent).join(', ')}` : '';
    try {
      await connection.run(
        `copy (select ${exprs} from ${read}${order}) to ${sqlString(target)} (format parquet, compression zstd, compression_level ${ZSTD_LEVEL}, row_group_size ${ROW_GROUP_SIZE}, kv_metadata ${kv})`,
      );
    } catch (err) {
      throw duckError(file, def, csv, err);
    }
    const [meta] = (await connection.runAndReadAll(`select num_rows::bigint as n from parquet_file_metadata(${sqlString(target)})`)).getRowObjectsJS() as { n: bigint }[];
    const required = def.columns.filter((c) => !c.nullable && !isComposite(c.type)).map((c) => c.name);
    if (required.length) {
      const nulls = (await connection.runAndReadAll(
        `select path_in_schema as name, sum(stats_null_count)::bigint as n from parquet_metadata(${sqlString(target)}) group by 1 having sum(stats_null_count) > 0`,
      )).getRowObjectsJS() as { name: string; n: bigint }[];
      const bad = nulls.filter((r) => required.includes(r.name));
      if (bad.length) throw new Error(`snapshot ${file}: null values in non-nullable columns ${bad.map((r) => `${r.name} (${r.n})`).join(', ')}; the declaration in relations/ and the data disagree`);
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
