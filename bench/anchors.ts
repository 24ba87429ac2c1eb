/**
 * Reference points measured beside a benchmark run, on the same files and machine: what PostgreSQL's own bulk load
 * (`psql \copy`) and an embedded columnar engine (DuckDB, 2 threads) take for the work Portrait's ingest and tags do.
 * They say how far each stage is from what this hardware allows, not what Portrait must produce.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Knex } from 'knex';
import { SOURCES, sourcePath, type SourceName } from '../config/sources';
import { defaultPayloadConverter } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import type { WorkflowHandle } from '@temporalio/client';

const run = promisify(execFile);
const seconds = (ms: number) => Math.round(ms / 10) / 100;

/** The source with the largest extract in `inputDir` (by bytes). */
export function largestSource(inputDir: string, asOf: string): { source: SourceName; file: string; bytes: number } {
  let best: { source: SourceName; file: string; bytes: number } | undefined;
  for (const [name, contract] of Object.entries(SOURCES)) {
    if (contract.format === 'sql') continue;
    const file = path.join(inputDir, sourcePath(contract, asOf));
    let bytes = 0;
    try {
      bytes = statSync(file).size;
    } catch {
      continue;
    }
    if (!best || bytes > best.bytes) best = { source: name as SourceName, file, bytes };
  }
  if (!best) throw new Error(`no source extract found in ${inputDir}`);
  return best;
}

/**
 * `psql \copy` of one source's file into a scratch table with the landing table's column types (no run_id, no
 * row number, no validation): PostgreSQL's own client-side load rate on this file. The table is dropped afterwards.
 */
export async function psqlCopyAnchor(db: Knex, databaseUrl: string, source: SourceName, file: string): Promise<{ source: string; rows: number; seconds: number; mb_per_s: number } | { source: string; error: string }> {
  const contract = SOURCES[source];
  const columns = contract.columns.map((c) => c.name).join(', ');
  const scratch = `public.bench_copy_anchor_${source}`;
  await db.raw(`drop table if exists ${scratch}`);
  await db.raw(`create table ${scratch} as select ${columns} from landing.${source} where false`);
  const csv = contract.csv;
  const encoding = csv.encoding === 'utf-8' ? 'UTF8' : csv.encoding.toUpperCase();
  const quoteChar = (c: string) => `'${c.replace(/'/g, "''")}'`;
  const command = `\\copy ${scratch} (${columns}) from '${file.replace(/'/g, "''")}' with (format csv, header ${csv.header}, delimiter ${quoteChar(csv.delimiter)}, quote ${quoteChar(csv.quote)}, encoding '${encoding}')`;
  try {
    const started = performance.now();
    const { stdout } = await run('psql', [databaseUrl, '-v', 'ON_ERROR_STOP=1', '-Atqc', command], { maxBuffer: 1 << 20 });
    const ms = performance.now() - started;
    const rows = Number((await db.raw(`select count(*)::bigint as n from ${scratch}`)).rows[0].n);
    void stdout;
    return { source, rows, seconds: seconds(ms), mb_per_s: Math.round(statSync(file).size / 1e6 / (ms / 1000)) };
  } catch (err) {
    return { source, error: String((err as { stderr?: string }).stderr ?? (err as Error).message).split('\n')[0]! };
  } finally {
    await db.raw(`drop table if exists ${scratch}`);
  }
}

/**
 * DuckDB (2 threads) reading transactions.csv and computing the per-customer aggregates the tags stage computes
 * per golden customer — counts and sums by window and direction, spend, salary, preferred channel, distinct
 * categories, last transaction — then writing them as zstd Parquet. Rows DuckDB cannot parse are skipped.
 */
export async function duckdbTransactionAnchor(inputDir: string, asOf: string, timezone: string): Promise<Record<string, unknown>> {
  const file = path.join(inputDir, sourcePath(SOURCES.transactions, asOf));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portrait-anchor-'));
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const connection = await instance.connect();
  const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
  try {
    await connection.run(`set TimeZone = ${lit(timezone)}`);
    const started = performance.now();
    await connection.run(`
      create table agg as
      with t as (
        select * from read_csv(${lit(file)}, header = true, ignore_errors = true, columns = {
          'txn_id': 'varchar', 'account_id': 'varchar', 'customer_key': 'varchar', 'txn_ts': 'timestamptz',
          'amount': 'decimal(18,2)', 'direction': 'varchar', 'channel': 'varchar', 'category': 'varchar'})
      ), c as (select (${lit(asOf)}::date + 1)::timestamp::timestamptz as cutoff)
      select customer_key,
        count(*) filter (where txn_ts >= cutoff - interval 30 day) as c30,
        coalesce(sum(amount) filter (where txn_ts >= cutoff - interval 30 day), 0) as a30,
        count(*) filter (where txn_ts >= cutoff - interval 90 day) as c90,
        coalesce(sum(amount) filter (where txn_ts >= cutoff - interval 90 day), 0) as a90,
        coalesce(sum(amount) filter (where txn_ts >= cutoff - interval 30 day and direction = 'credit'), 0) as in30,
        coalesce(sum(amount) filter (where txn_ts >= cutoff - interval 30 day and direction = 'debit'), 0) as out30,
        coalesce(sum(amount) filter (where txn_ts >= cutoff - interval 90 day and direction = 'debit' and category in ('shopping', 'dining', 'utilities', 'other')), 0) as spend90,
        bool_or(category = 'salary' and direction = 'credit' and txn_ts >= cutoff - interval 35 day) as salary,
        avg(amount) filter (where category = 'salary' and direction = 'credit' and txn_ts >= cutoff - interval 90 day) as salary_avg,
        mode(channel) filter (where txn_ts >= cutoff - interval 90 day) as preferred_channel,
        count(distinct category) as categories,
        max(txn_ts) as last_ts
      from t, c
      where txn_ts < cutoff and txn_ts >= cutoff - interval 180 day
      group by customer_key`);
    const aggregated = performance.now();
    const out = path.join(dir, 'txn_agg.parquet');
    await connection.run(`copy (select * from agg order by customer_key) to ${lit(out)} (format parquet, compression zstd)`);
    const written = performance.now();
    const rows = Number((await connection.runAndReadAll('select count(*) from agg')).getRows()[0]![0]);
    return { file: path.basename(file), customers: rows, aggregate_seconds: seconds(aggregated - started), parquet_seconds: seconds(written - aggregated), threads: 2, duckdb: (await connection.runAndReadAll('select version()')).getRows()[0]![0] };
  } catch (err) {
    return { error: (err as Error).message.split('\n')[0] };
  } finally {
    connection.closeSync();
    instance.closeSync();
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ActivityTiming {
  activity: string;
  count: number;
  /** Sum of the attempts' run times (start to completion), in seconds; parallel activities overlap. */
  seconds: number;
  max_seconds: number;
}

/**
 * Per-activity run times of one workflow from its history (scheduled → started → completed): where a stage's
 * seconds go, e.g. which ingest source or score shard is the long pole. ingestSource is split by source.
 */
export async function activityTimings(handle: WorkflowHandle): Promise<ActivityTiming[]> {
  const history = await handle.fetchHistory();
  const scheduled = new Map<string, string>();
  const started = new Map<string, number>();
  const totals = new Map<string, ActivityTiming>();
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) {
      const a = e.activityTaskScheduledEventAttributes;
      let label = a.activityType?.name ?? '?';
      const arg = a.input?.payloads?.[0];
      if (label === 'ingestSource' && arg) label += `:${(defaultPayloadConverter.fromPayload(arg) as { source?: string }).source}`;
      scheduled.set(id, label);
    } else if (e.activityTaskStartedEventAttributes) {
      started.set(String(e.activityTaskStartedEventAttributes.scheduledEventId), tsToMs(e.eventTime));
    } else if (e.activityTaskCompletedEventAttributes) {
      const key = String(e.activityTaskCompletedEventAttributes.scheduledEventId);
      const label = scheduled.get(key) ?? '?';
      const s = (tsToMs(e.eventTime) - (started.get(key) ?? tsToMs(e.eventTime))) / 1000;
      const t = totals.get(label) ?? { activity: label, count: 0, seconds: 0, max_seconds: 0 };
      t.count++;
      t.seconds += s;
      t.max_seconds = Math.max(t.max_seconds, s);
      totals.set(label, t);
    }
  }
  return [...totals.values()].map((t) => ({ ...t, seconds: Math.round(t.seconds * 100) / 100, max_seconds: Math.round(t.max_seconds * 100) / 100 }));
}
