import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps';
import { LEGACY_TIMEZONE } from '../config/schema';
import { CONTRACTS, SOURCES, SOURCE_NAMES, sourcePath, type SourceContract, type SourceName } from '../config/sources';
import { endOfDayMs } from '../transforms/validateRow';
import { KEY_PART_SEPARATOR, KeyFilter, keyFilterBits, keyOf, NULL_KEY_PART } from '../transforms/keyFilter';
import { ingestWorkerCount, parallelReadable, readCsvParallel, type ParallelReadStats } from '../sourceReader/csvParallel';
import { describeFailures, evaluateGates, type QualityCheck } from '../transforms/qualityGates';
import { ErrorType, type StageResult } from '../shared';
import { CsvCopyBuffer, copyWriter, knexRunner, withTransaction } from './pg';
import { csvLine } from '../transforms/copyText';
import { attachLandingPartition, createDetachedLandingPartition, dropLandingPartition, landingPartitionName, sqlLiteral, type SqlRunner } from '../db/landing';
import { recordStage } from './runs';
import { runSnapshotDir } from './snapshots';
import { previousSuccessfulRun } from '../db/previousRun';
import { writeSnapshot } from '../relations/parquet';
import { snapshotRun } from '../relations/materialize';
import { quality, quarantine } from '../relations/snapshots';
import { readSourceRows, SourceReadError, type RowOutcome } from '../sourceReader/sourceRows';

export interface SourceLoadResult {
  source: SourceName;
  rowsIn: number;
  loaded: number;
  quarantined: number;
  reasons: Record<string, number>;
  /** What the quality gates measure on the loaded rows, taken as the load ends (absent from loads of older runs). */
  profile?: LoadProfile;
}

/** The age of the newest value of the freshness column and the NULL share of the nullRates columns. */
export interface LoadProfile {
  freshnessAgeDays: number | null;
  nullRates: Record<string, number>;
}

export interface IngestSourceInput {
  runId: string;
  inputDir: string;
  source: SourceName;
  /** As-of date and time zone: path pattern, future dates, freshness. Histories from before they existed lack them. */
  asOf?: string;
  timezone?: string;
}

// COPY data is handed to the socket in pieces of about this many bytes.
const COPY_FLUSH_BYTES = 1 << 20;

export function createIngestActivities(deps: ActivityDeps) {
  const { db, databaseUrl, log } = deps;
  return {
    /**
     * Streams one source into its landing table with COPY (memory bounded by one read chunk). Every data row is
     * either loaded or quarantined with a reason (rows in = loaded + quarantined). Re-running replaces the run's
     * rows for this source.
     */
    async ingestSource({ runId, inputDir, source, asOf, timezone }: IngestSourceInput): Promise<SourceLoadResult> {
      const contract = SOURCES[source];
      if (!contract) throw ApplicationFailure.nonRetryable(`unknown source "${source}"; known: ${SOURCE_NAMES.join(', ')}`, ErrorType.InvalidInput);
      const day = asOf ?? '9999-12-31';
      const file = path.join(inputDir, sourcePath(contract, day));
      const slog = log.child({ run_id: runId, stage: 'ingest', source });
      // Stream callbacks run outside the activity's async context: keep a handle for heartbeats.
      const activity = Context.current();
      const reasons: Record<string, number> = {};
      let rowsIn = 0;
      let quarantined = 0;
      const fileHash = createHash('sha256');
      const startedAt = performance.now();
      const context = { asOf: day, asOfEndMs: asOf ? endOfDayMs(asOf, timezone ?? LEGACY_TIMEZONE) : Number.POSITIVE_INFINITY };
      const keys = new DuplicateKeyCandidates(contract, contract.format === 'sql' ? null : fileSize(file));
      try {
        // A retry after a committed load replaces the run's partition; detached concurrently, readers never wait.
        if (await dropLandingPartition(knexRunner(db), source, runId)) slog.info('replacing the landing partition of an earlier attempt');
        return await withTransaction(databaseUrl, (landing) =>
          withTransaction(databaseUrl, async (rejects) => {
            const partition = await createDetachedLandingPartition(landing, source, runId);
            await rejects.query('delete from audit.quarantine where run_id = $1 and source = $2', [runId, source]);
            // run_id is the partition's column default: not a value repeated in every row of the COPY text.
            const columns = ['row_number', ...contract.columns.map((c) => c.name)];
            const readStats: ParallelReadStats = { units: 0, serialFrom: null };
            // FREEZE: the table is new in this transaction, so its rows can be written frozen (no later hint-bit writes).
            const rows = copyWriter(landing, `copy ${partition} (${columns.join(',')}) from stdin with (format csv, freeze true)`);
            const quarantine = copyWriter(rejects, 'copy audit.quarantine (run_id, source, row_number, reason_code, message, raw_masked) from stdin with (format csv)');
            try {
              const rowBytes = new CsvCopyBuffer(COPY_FLUSH_BYTES);
              let rejectText = '';
              const reject = (row: Extract<RowOutcome, { ok: false }>): void => {
                quarantined++;
                reasons[row.reasonCode] = (reasons[row.reasonCode] ?? 0) + 1;
                rejectText += csvLine([runId, source, String(row.rowNumber), row.reasonCode, row.message, row.raw ? JSON.stringify(row.raw) : null]);
              };
              const input = { contract, file, context, onBytes: (chunk: Buffer) => fileHash.update(chunk) };
              const workers = ingestWorkerCount(deps.env.ingestWorkers);
              const outcomes = workers > 0 && parallelReadable(contract, contract.csv.encoding) ? readCsvParallel({ ...input, workers, keyFilter: keys.sharedFilter, stats: readStats }) : readSourceRows(input);
              for await (const batch of outcomes) {
                if (!Array.isArray(batch)) {
                  // A unit validated and encoded in a worker thread.
                  if (rowBytes.bytes.length > 0) await rows.write(rowBytes.take());
                  rowsIn += batch.loaded + batch.rejects.length;
                  keys.addCandidates(batch.keyCandidates);
                  batch.rejects.forEach(reject);
                  await rows.write(Buffer.from(batch.copy.buffer, batch.copy.byteOffset, batch.copy.byteLength));
                } else for (const row of batch) {
                  rowsIn++;
                  if (row.ok) {
                    keys.add(row.values);
                    const lead = [String(row.rowNumber)];
                    if (rowBytes.row(lead, row.values, row.copyLine)) await rows.write(rowBytes.take());
                  } else reject(row);
                }
                if (rejectText.length >= COPY_FLUSH_BYTES) {
                  await quarantine.write(rejectText);
                  rejectText = '';
                }
                activity.heartbeat({ rows: rowsIn });
              }
              await rows.write(rowBytes.take());
              await quarantine.write(rejectText);
              await rows.end();
              await quarantine.end();
            } catch (err) {
              // A connection in COPY mode cannot roll back until the COPY is failed.
              await rows.abort(err as Error);
              await quarantine.abort(err as Error);
              throw err;
            }

            const copiedAt = performance.now();
            // Statistics of this run's rows before any plan is made over them (the duplicate pass, later stages).
            await landing.query(`analyze ${partition}`);
            const analyzedAt = performance.now();
            const duplicates = await quarantineDuplicateKeys(landing, contract, runId, keys.result(), partition);
            const dedupMs = Math.round(performance.now() - analyzedAt);
            await attachLandingPartition(landing, source, runId);
            if (duplicates > 0) {
              quarantined += duplicates;
              reasons.duplicate_key = (reasons.duplicate_key ?? 0) + duplicates;
            }
            const loaded = rowsIn - quarantined;
            // Measured here, while other sources still load, rather than by completeIngest after all of them.
            const profile = asOf ? await profileLoad(landing, contract, partition, asOf, context.asOfEndMs) : undefined;
            await landing.query(
              `insert into audit.source_loads (run_id, source, file, file_sha256, rows_in, loaded, quarantined, reasons, contracts_version, contracts_sha256)
               values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
               on conflict (run_id, source) do update set file = excluded.file, file_sha256 = excluded.file_sha256, rows_in = excluded.rows_in, loaded = excluded.loaded,
                 quarantined = excluded.quarantined, reasons = excluded.reasons, contracts_version = excluded.contracts_version, contracts_sha256 = excluded.contracts_sha256`,
              [runId, source, contract.format === 'sql' ? `sql:${contract.sql!.connectionEnv}` : file, fileHash.digest('hex'), rowsIn, loaded, quarantined, JSON.stringify(sortedCounts(reasons)), CONTRACTS.version, CONTRACTS.sha256],
            );
            slog.info({ rows_in: rowsIn, loaded, quarantined, reasons, copy_ms: Math.round(copiedAt - startedAt), analyze_ms: Math.round(analyzedAt - copiedAt), dedup_ms: dedupMs, worker_units: readStats.units, canonical_rows: readStats.canonicalRows ?? 0, serial_from_byte: readStats.serialFrom }, 'source loaded');
            return { source, rowsIn, loaded, quarantined, reasons: sortedCounts(reasons), ...(profile ? { profile } : {}) };
          }),
        );
      } catch (err) {
        if (err instanceof SourceReadError) throw ApplicationFailure.nonRetryable(err.message, ErrorType.InvalidInput);
        throw err;
      }
    },

    /**
     * Closes the ingest stage: measures and applies every quality gate of every source, keeps each check in
     * audit.quality_checks and quality.parquet, writes quarantine.parquet, and fails the run with one
     * non-retryable error listing every failed check.
     */
    async completeIngest({ runId, loads, maxRejectRate, startedAt, asOf, timezone }: { runId: string; loads: SourceLoadResult[]; maxRejectRate: number; startedAt: string; asOf?: string; timezone?: string }): Promise<StageResult> {
      const run = await db('audit.runs').where({ run_id: runId }).first('as_of');
      const day: string = asOf ?? run?.as_of;
      const asOfEndMs = endOfDayMs(day, timezone ?? LEGACY_TIMEZONE);
      const checks: QualityCheck[] = [];
      for (const load of [...loads].sort((a, b) => a.source.localeCompare(b.source))) {
        const contract = SOURCES[load.source];
        const measurements = await measureSource(db, contract, runId, day, asOfEndMs, load);
        checks.push(...evaluateGates(contract.quality, measurements, maxRejectRate));
      }
      const slog = log.child({ run_id: runId, stage: 'ingest' });
      for (const c of checks.filter((c) => c.status === 'warn')) slog.warn({ source: c.source, check: c.check, measured: c.measured, threshold: c.threshold }, `quality warning: ${c.message}`);
      await db.transaction(async (trx) => {
        await trx('audit.quality_checks').where({ run_id: runId }).delete();
        if (checks.length) {
          await trx('audit.quality_checks').insert(
            checks.map((c) => ({ run_id: runId, source: c.source, check_name: c.check, status: c.status, severity: c.severity, measured: c.measured, threshold: c.threshold, message: c.message, as_of: day, contracts_version: CONTRACTS.version })),
          );
        }
      });
      const runDir = runSnapshotDir(deps.env.snapshotDir, runId);
      const qualityFile = await writeSnapshot(runDir, quality, { rows: checks });
      const failure = describeFailures(checks);
      if (failure) throw ApplicationFailure.nonRetryable(failure, ErrorType.QualityGateFailed);
      const [quarantineFile] = await snapshotRun(deps, runId, [quarantine]);
      const loaded = loads.reduce((n, l) => n + l.loaded, 0);
      const details = {
        sources: Object.fromEntries(loads.map((l) => [l.source, { rows_in: l.rowsIn, loaded: l.loaded, quarantined: l.quarantined, reasons: l.reasons }])),
        rows_in: loads.reduce((n, l) => n + l.rowsIn, 0),
        quarantined: loads.reduce((n, l) => n + l.quarantined, 0),
        quality: { checks: checks.length, warnings: checks.filter((c) => c.status === 'warn').length, contracts_version: CONTRACTS.version },
      };
      return recordStage(db, runId, { stage: 'ingest', rows: loaded, files: [quarantineFile!, qualityFile], details }, new Date(startedAt));
    },
  };
}

function fileSize(file: string): number | null {
  try {
    return statSync(file).size;
  } catch {
    return null;
  }
}

/** Most candidate keys kept in memory; beyond this the exact pass checks every loaded row instead. */
const MAX_KEY_CANDIDATES = 1 << 20;

/**
 * Keys of loaded rows that may repeat: a key whose filter bits were all set already. Every real repeat is a
 * candidate (the filter has no false negatives), so only candidates need the exact check in SQL.
 */
class DuplicateKeyCandidates {
  private readonly keyIndex: number[];
  private readonly filter: KeyFilter;
  private readonly candidates = new Map<string, string[]>();
  private exhaustive = false;

  constructor(contract: SourceContract, inputBytes: number | null) {
    this.keyIndex = contract.primaryKey.map((k) => contract.columns.findIndex((c) => c.name === k));
    this.filter = new KeyFilter(keyFilterBits(inputBytes));
  }

  add(values: readonly (string | null)[]): void {
    const key = keyOf(values, this.keyIndex);
    if (this.filter.addAndCheck(key)) this.candidate(key);
  }

  /**
   * The filter's memory: worker threads add the keys of the units they read to the same filter and report the keys
   * it had seen (addCandidates). This thread only collects candidates; 27.9M keys tested here took a third of
   * its time and held the whole load back (docs/PERFORMANCE.md). Units that a worker read but this thread reads
   * again (readCsvParallel's replay) are in the filter twice: their keys come back as candidates, which the exact
   * check clears (at most the units in flight; past MAX_KEY_CANDIDATES the check ranks every row instead).
   */
  get sharedFilter(): SharedArrayBuffer {
    return this.filter.shared;
  }

  /** Keys a worker thread found already in the shared filter. */
  addCandidates(keys: readonly string[]): void {
    for (const key of keys) this.candidate(key);
  }

  private candidate(key: string): void {
    if (this.exhaustive || this.candidates.has(key)) return;
    const parts = key.split(KEY_PART_SEPARATOR);
    // NULL keys compare equal in the window's partitions but not in IN (...): leave them to the exhaustive pass.
    if (this.candidates.size >= MAX_KEY_CANDIDATES || parts.includes(NULL_KEY_PART)) {
      this.exhaustive = true;
      this.candidates.clear();
      return;
    }
    // Copies: a value may be a slice of a whole decoded read chunk, which it would otherwise keep alive.
    this.candidates.set(detached(key), parts.map(detached));
  }

  /** Candidate key values, or null when every loaded row must be checked. */
  result(): string[][] | null {
    return this.exhaustive ? null : [...this.candidates.values()];
  }
}

function detached(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

/**
 * Duplicate primary keys: keeps the first occurrence, quarantines the rest (set-based, bounded memory). With
 * `candidates`, only rows with those keys can repeat, and only they are ranked; null ranks every loaded row. The
 * repeats go through unlogged work tables (dropped again in this transaction) rather than a data-modifying
 * statement, so the one scan of the load may run as a parallel query (2.8M rows: 0.4 s against 1.0 s). `table` is
 * the run's own partition (attached or not): ctids are only unique within one partition.
 */
export async function quarantineDuplicateKeys(
  client: import('pg').Client,
  contract: SourceContract,
  runId: string,
  candidates: string[][] | null,
  table = `landing.${landingPartitionName(contract.name, runId)}`,
): Promise<number> {
  if (candidates !== null && candidates.length === 0) return 0;
  const pk = contract.primaryKey.join(', ');
  const lpk = contract.primaryKey.map((k) => `l.${k}`).join(', ');
  const keyJson = contract.primaryKey.map((k) => `'${k}', l.${k}`).join(', ');
  // Named after the run and source: a retry of the same load waits for the earlier attempt's transaction.
  const tag = createHash('sha256').update(`${runId}\u0000${contract.name}`).digest('hex').slice(0, 16);
  const keys = `landing.dup_keys_${tag}`;
  const repeats = `landing.dup_rows_${tag}`;
  let only = '';
  if (candidates === null) {
    // The window sorts the whole load: give it memory so big sources sort without spilling to disk.
    await client.query(`set local work_mem = '256MB'`);
  } else {
    await client.query(`create unlogged table ${keys} as select ${pk} from ${table} where false`);
    const copy = copyWriter(client, `copy ${keys} (${pk}) from stdin with (format csv)`);
    try {
      await copy.write(candidates.map((parts) => csvLine(parts)).join(''));
      await copy.end();
    } catch (err) {
      await copy.abort(err as Error);
      throw err;
    }
    await client.query(`analyze ${keys}`);
    only = ` and (${lpk}) in (select ${pk} from ${keys})`;
  }
  // CREATE TABLE AS takes no bind parameters: the run id goes in as an escaped literal.
  await client.query(
    `create unlogged table ${repeats} as
       select ctid as row_ctid, row_number, raw from (
         select l.ctid, l.row_number, jsonb_build_object(${keyJson}) as raw, row_number() over (partition by ${lpk} order by l.row_number) as rn
         from ${table} l where l.run_id = ${client.escapeLiteral(runId)}${only}) r
       where rn > 1`,
  );
  await client.query(`analyze ${repeats}`);
  await client.query(`delete from ${table} l using ${repeats} r where l.ctid = r.row_ctid`);
  const result = await client.query(
    `insert into audit.quarantine (run_id, source, row_number, reason_code, message, raw_masked) select $1, $2, row_number, 'duplicate_key', $3, raw from ${repeats}`,
    [runId, contract.name, `duplicate primary key (${contract.primaryKey.join(', ')}); first occurrence kept`],
  );
  await client.query(`drop table if exists ${keys}, ${repeats}`);
  return result.rowCount ?? 0;
}

/** Everything the gates of one source need, measured on what was loaded for the run. */
async function measureSource(db: ActivityDeps['db'], contract: SourceContract, runId: string, asOf: string, asOfEndMs: number, load: SourceLoadResult) {
  const { quality } = contract;
  const previousRunId = await previousSuccessfulRun(db, runId, asOf, 'audit.source_loads', { source: contract.name });
  const previous = previousRunId ? await db('audit.source_loads').where({ run_id: previousRunId, source: contract.name }).first('rows_in') : undefined;
  const { freshnessAgeDays, nullRates } =
    load.profile ?? (await profileLoad(knexRunner(db), contract, `landing.${contract.name} where run_id = ${sqlLiteral(runId)}`, asOf, asOfEndMs));
  return {
    source: contract.name,
    rowsIn: load.rowsIn,
    loaded: load.loaded,
    quarantined: load.quarantined,
    duplicateKeys: load.reasons.duplicate_key ?? 0,
    previousRowsIn: previous ? Number(previous.rows_in) : null,
    freshnessAgeDays,
    nullRates,
  };
}

/** The gates' measures of a source's loaded rows in `relation` (a table, optionally with a where clause). */
async function profileLoad(sql: SqlRunner, contract: SourceContract, relation: string, asOf: string, asOfEndMs: number): Promise<LoadProfile> {
  const { quality } = contract;
  const selects = [`count(*)::bigint as n`];
  const freshness = quality.freshness;
  if (freshness) selects.push(`max(${freshness.column}) as newest`);
  const nullColumns = quality.nullRates?.columns ?? [];
  // Nothing to measure: no scan of the source's rows (consent's 5.9M at 1M) for a count no gate reads.
  if (!freshness && nullColumns.length === 0) return { freshnessAgeDays: null, nullRates: {} };
  nullColumns.forEach((c, i) => selects.push(`count(*) filter (where ${c} is null)::bigint as null_${i}`));
  const stats = (await sql.query(`select ${selects.join(', ')} from ${relation}`)).rows[0]!;
  const n = Number(stats.n);
  let freshnessAgeDays: number | null = null;
  if (freshness && stats.newest !== null) {
    const type = contract.columns.find((c) => c.name === freshness.column)!.type;
    // A date column stands for its whole day: newest = the as-of date is 0 days old.
    const newestMs = type === 'date' ? endOfDayMs(isoDate(stats.newest), 'UTC') : new Date(stats.newest as string | Date).getTime();
    const endMs = type === 'date' ? endOfDayMs(asOf, 'UTC') : asOfEndMs;
    freshnessAgeDays = Math.max(0, (endMs - newestMs) / 86_400_000);
  }
  return { freshnessAgeDays, nullRates: Object.fromEntries(nullColumns.map((c, i) => [c, n > 0 ? Number(stats[`null_${i}`]) / n : 0])) };
}

function isoDate(value: unknown): string {
  if (value instanceof Date) return `${value.getFullYear()}-${String(value.getMonth() + 1).padStart(2, '0')}-${String(value.getDate()).padStart(2, '0')}`;
  return String(value).slice(0, 10);
}

function sortedCounts(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** The CSV line of COPY ... (format csv); other stages import it from here. */
export { csvLine };

