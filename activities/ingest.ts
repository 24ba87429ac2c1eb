import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { parse } from 'csv-parse';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps';
import { SOURCES, SOURCE_NAMES, type SourceContract, type SourceName } from '../config/sources';
import { maskRecord, validateRow } from '../transforms/validateRow';
import { ErrorType, type StageResult } from '../shared';
import { recordStage } from './runs';
import { runSnapshotDir, writeParquetSnapshot } from './snapshots';

export interface SourceLoadResult {
  source: SourceName;
  rowsIn: number;
  loaded: number;
  quarantined: number;
  reasons: Record<string, number>;
}

const HEARTBEAT_EVERY = 50_000;
const QUARANTINE_BATCH = 500;

export function createIngestActivities(deps: ActivityDeps) {
  const { db, databaseUrl, log } = deps;
  return {
    /**
     * Streams one source file into its landing table with COPY. Every data row is either loaded or quarantined
     * with a reason (rows in = loaded + quarantined). Re-running replaces the run's rows for this source.
     */
    async ingestSource({ runId, inputDir, source }: { runId: string; inputDir: string; source: SourceName }): Promise<SourceLoadResult> {
      const contract = SOURCES[source];
      if (!contract) throw ApplicationFailure.nonRetryable(`unknown source "${source}"; known: ${SOURCE_NAMES.join(', ')}`, ErrorType.InvalidInput);
      const file = path.join(inputDir, contract.file);
      if (!existsSync(file)) {
        throw ApplicationFailure.nonRetryable(`source file for "${source}" not found: ${file} (expected ${contract.file} in the input folder)`, ErrorType.InvalidInput);
      }
      const slog = log.child({ run_id: runId, stage: 'ingest', source });
      // Stream callbacks run outside the activity's async context: keep a handle for heartbeats.
      const activity = Context.current();
      const copyClient = new Client({ connectionString: databaseUrl });
      const quarantineClient = new Client({ connectionString: databaseUrl });
      await copyClient.connect();
      await quarantineClient.connect();
      const reasons: Record<string, number> = {};
      let rowsIn = 0;
      let quarantined = 0;
      let pending: unknown[][] = [];
      const fileHash = createHash('sha256');
      try {
        await copyClient.query('begin');
        await quarantineClient.query('begin');
        await copyClient.query(`delete from landing.${source} where run_id = $1`, [runId]);
        await quarantineClient.query('delete from audit.quarantine where run_id = $1 and source = $2', [runId, source]);
        const flushQuarantine = async () => {
          if (pending.length === 0) return;
          const params: unknown[] = [];
          const tuples = pending.map((row) => `(${row.map((v) => { params.push(v); return `$${params.length}`; }).join(',')})`);
          await quarantineClient.query(`insert into audit.quarantine (run_id, source, row_number, reason_code, message, raw_masked) values ${tuples.join(',')}`, params);
          pending = [];
        };
        const quarantine = async (rowNumber: number, reasonCode: string, message: string, raw: Record<string, string> | null) => {
          quarantined++;
          reasons[reasonCode] = (reasons[reasonCode] ?? 0) + 1;
          pending.push([runId, source, rowNumber, reasonCode, message, raw ? JSON.stringify(raw) : null]);
          if (pending.length >= QUARANTINE_BATCH) await flushQuarantine();
        };

        const columns = ['run_id', 'row_number', ...contract.columns.map((c) => c.name)];
        const copy = copyClient.query(copyFrom(`copy landing.${source} (${columns.join(',')}) from stdin with (format csv)`));
        let header: string[] | null = null;
        let order: number[] = [];
        const parser = parse({ bom: true, relax_column_count: true, skip_empty_lines: true, info: true });
        const toCopy = new Transform({
          writableObjectMode: true,
          transform: (item: { record: string[]; info: { lines: number } }, _enc, done) => {
            const record = item.record;
            if (!header) {
              header = record.map((h) => h.trim());
              try {
                order = checkHeader(contract, header, file);
              } catch (err) {
                return done(err as Error);
              }
              return done();
            }
            rowsIn++;
            if (rowsIn % HEARTBEAT_EVERY === 0) activity.heartbeat({ rows: rowsIn });
            const aligned = record.length === header.length ? order.map((i) => record[i]!) : record;
            const verdict = validateRow(contract, aligned);
            if (!verdict.ok) {
              quarantine(rowsIn, verdict.reasonCode, verdict.message, maskRecord(contract, header, record)).then(() => done(), done);
              return;
            }
            done(null, csvLine([runId, String(rowsIn), ...verdict.values]));
          },
        });
        const hashing = new Transform({
          transform(chunk: Buffer, _enc, done) {
            fileHash.update(chunk);
            done(null, chunk);
          },
        });
        try {
          await pipeline(createReadStream(file), hashing, parser, toCopy, copy);
        } catch (err) {
          if (err instanceof ApplicationFailure) throw err;
          const e = err as Error & { code?: string; lines?: number };
          if (e.code && e.code.startsWith('CSV_')) {
            throw ApplicationFailure.nonRetryable(`${file} cannot be read as CSV for "${source}" near line ${e.lines ?? '?'}: ${e.message}`, ErrorType.InvalidInput);
          }
          throw err;
        }
        if (!header) throw ApplicationFailure.nonRetryable(`${file} is empty: expected a header row for "${source}"`, ErrorType.InvalidInput);
        await flushQuarantine();
        await quarantineClient.query('commit');

        // Duplicate primary keys: keep the first occurrence, quarantine the rest (set-based, bounded memory).
        const pk = contract.primaryKey.join(', ');
        const dups = await copyClient.query(
          `with ranked as (
             select ctid, row_number, row_number() over (partition by ${pk} order by row_number) as rn
             from landing.${source} where run_id = $1),
           gone as (delete from landing.${source} l using ranked r where l.ctid = r.ctid and r.rn > 1 returning l.row_number)
           insert into audit.quarantine (run_id, source, row_number, reason_code, message)
           select $1, $2, row_number, 'duplicate_key', 'duplicate primary key (${contract.primaryKey.join(', ')}); first occurrence kept' from gone`,
          [runId, source],
        );
        const duplicates = dups.rowCount ?? 0;
        if (duplicates > 0) {
          quarantined += duplicates;
          reasons.duplicate_key = (reasons.duplicate_key ?? 0) + duplicates;
        }
        const loaded = rowsIn - quarantined;
        await copyClient.query(
          `insert into audit.source_loads (run_id, source, file, file_sha256, rows_in, loaded, quarantined) values ($1,$2,$3,$4,$5,$6,$7)
           on conflict (run_id, source) do update set file = excluded.file, file_sha256 = excluded.file_sha256, rows_in = excluded.rows_in, loaded = excluded.loaded, quarantined = excluded.quarantined`,
          [runId, source, file, fileHash.digest('hex'), rowsIn, loaded, quarantined],
        );
        await copyClient.query('commit');
        await copyClient.query(`analyze landing.${source}`);
        slog.info({ rows_in: rowsIn, loaded, quarantined, reasons }, 'source loaded');
        return { source, rowsIn, loaded, quarantined, reasons };
      } catch (err) {
        await copyClient.query('rollback').catch(() => undefined);
        await quarantineClient.query('rollback').catch(() => undefined);
        throw err;
      } finally {
        await copyClient.end().catch(() => undefined);
        await quarantineClient.end().catch(() => undefined);
      }
    },

    /**
     * Closes the ingest stage: applies the quality gates (all failures listed together) and writes
     * quarantine.parquet with every rejected row of the run.
     */
    async completeIngest({ runId, loads, maxRejectRate, startedAt }: { runId: string; loads: SourceLoadResult[]; maxRejectRate: number; startedAt: string }): Promise<StageResult> {
      const failures = loads
        .filter((l) => (l.rowsIn === 0 && !SOURCES[l.source].allowEmpty) || (l.rowsIn > 0 && l.quarantined / l.rowsIn > maxRejectRate))
        .map((l) => (l.rowsIn === 0 ? `${l.source}: no data rows` : `${l.source}: reject rate ${(l.quarantined / l.rowsIn * 100).toFixed(2)}% > ${(maxRejectRate * 100).toFixed(2)}% (${l.quarantined} of ${l.rowsIn})`));
      if (failures.length > 0) {
        throw ApplicationFailure.nonRetryable(`quality gates failed: ${failures.join('; ')}`, ErrorType.QualityGateFailed);
      }
      const runDir = runSnapshotDir(deps.env.snapshotDir, runId);
      const quarantineFile = await writeParquetSnapshot(
        runDir,
        'quarantine.parquet',
        { source: { type: 'UTF8' }, row_number: { type: 'INT64' }, reason_code: { type: 'UTF8' }, message: { type: 'UTF8' } },
        db('audit.quarantine').select('source', 'row_number', 'reason_code', 'message').where({ run_id: runId }).orderBy(['source', 'row_number']).stream(),
      );
      const loaded = loads.reduce((n, l) => n + l.loaded, 0);
      const details = {
        sources: Object.fromEntries(loads.map((l) => [l.source, { rows_in: l.rowsIn, loaded: l.loaded, quarantined: l.quarantined, reasons: l.reasons }])),
        rows_in: loads.reduce((n, l) => n + l.rowsIn, 0),
        quarantined: loads.reduce((n, l) => n + l.quarantined, 0),
      };
      return recordStage(db, runId, { stage: 'ingest', rows: loaded, files: [quarantineFile], details }, new Date(startedAt));
    },
  };
}

/** Maps contract column order to file column positions; a missing or unknown column fails the file. */
function checkHeader(contract: SourceContract, header: string[], file: string): number[] {
  const missing = contract.columns.filter((c) => !header.includes(c.name)).map((c) => c.name);
  const extra = header.filter((h) => !contract.columns.some((c) => c.name === h));
  if (missing.length || extra.length) {
    const parts = [missing.length ? `missing columns: ${missing.join(', ')}` : '', extra.length ? `unexpected columns: ${extra.join(', ')}` : ''].filter(Boolean);
    throw ApplicationFailure.nonRetryable(`${file} does not match the "${contract.name}" contract (${parts.join('; ')})`, ErrorType.InvalidInput);
  }
  return contract.columns.map((c) => header.indexOf(c.name));
}

/** One CSV line for COPY ... (format csv): NULL is an unquoted empty field, every value is quoted. */
export function csvLine(values: readonly (string | null)[]): string {
  return values.map((v) => (v === null ? '' : `"${v.replace(/"/g, '""')}"`)).join(',') + '\n';
}

