import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Knex } from 'knex';
import { DuckDBInstance } from '@duckdb/node-api';
import type { PortraitConfig } from '../config/schema';
import { sha256File } from '../activities/snapshots';
import type { DailyRunInput } from '../shared';
import { MANIFEST_FILE, listedFiles, type ManifestLike } from './manifest';
import { NotFound } from './explain';

/** A replay that must not start: a changed or missing input, or a run that cannot be replayed. One line. */
export class ReplayRefused extends Error {
  override readonly name = 'ReplayRefused';
}

/**
 * The dailyRun input that re-executes `runId` from what it pinned: the same input folder (each source file checked
 * against the sha256 the run recorded), its resolved config (webhooks off: a replay sends nothing), seed and champion
 * models, and its registration time as the cut-off for earlier-run state and suppressions.
 */
export async function replayInput(db: Knex, runId: string, replayRunId: string): Promise<DailyRunInput> {
  const run = await db('audit.runs').where({ run_id: runId }).first();
  if (!run) throw new NotFound(`no run with id ${runId}`);
  if (run.replay_of) throw new ReplayRefused(`run ${runId} is itself a replay of ${run.replay_of}: replay ${run.replay_of}`);
  if (run.status !== 'succeeded') throw new ReplayRefused(`run ${runId} is ${run.status}: only a succeeded run can be replayed`);
  const loads = await db('audit.source_loads').where({ run_id: runId }).orderBy('source').select('source', 'file', 'file_sha256');
  for (const load of loads) {
    if (!existsSync(load.file)) throw new ReplayRefused(`input of source ${load.source} is missing: ${load.file} (the run read sha256 ${load.file_sha256})`);
    const sha = await sha256File(load.file);
    if (sha !== load.file_sha256) throw new ReplayRefused(`input of source ${load.source} changed: ${load.file} has sha256 ${sha}, the run read ${load.file_sha256}`);
  }
  const config = run.config as PortraitConfig;
  return {
    ...(await pinnedOutcomes(db, runId, config)),
    runId: replayRunId,
    asOf: run.as_of,
    inputDir: run.input_dir,
    config: config.delivery ? { ...config, delivery: { ...config.delivery, webhooks: {} } } : config,
    configSha256: run.config_sha256,
    seed: Number(run.seed),
    awaitOutcomes: false,
    replayOf: runId,
    replayStateAsOf: new Date(run.suppressions_as_of ?? run.started_at).toISOString(),
    pinnedModels: run.model_versions ?? {},
  };
}

/** Landing tables outcome attribution reads from its data run. */
const ATTRIBUTION_SOURCES = ['loans', 'accounts', 'campaign_contacts'] as const;

/**
 * The campaigns whose outcomes the run collected, each with the data run its attribution pinned (outcome_results
 * data_as_of), checked still to hold the rows attribution reads: retention may have dropped its landing partitions.
 */
async function pinnedOutcomes(db: Knex, runId: string, config: PortraitConfig): Promise<Pick<DailyRunInput, 'replayOutcomes'>> {
  const collected = await db('campaign.outcome_results').where({ run_id: runId }).orderBy('campaign_id').select('campaign_id', 'data_as_of');
  if (!collected.length) return {};
  for (const c of collected) {
    if (!config.campaigns.some((x) => x.id === c.campaign_id)) throw new ReplayRefused(`outcomes of campaign ${c.campaign_id} were collected, but the run's config has no such campaign`);
  }
  for (const dataRun of [...new Set(collected.map((c) => c.data_as_of as string | null))].filter((d): d is string => d !== null)) {
    const campaigns = collected.filter((c) => c.data_as_of === dataRun).map((c) => c.campaign_id).join(', ');
    const loads = await db('audit.source_loads').where({ run_id: dataRun }).whereIn('source', [...ATTRIBUTION_SOURCES]).where('loaded', '>', 0).select('source');
    const missing = [];
    for (const { source } of loads) if (!(await db(`landing.${source}`).where({ run_id: dataRun }).first(db.raw('1')))) missing.push(source);
    if (!(await db('core.customer_sources').where({ run_id: dataRun }).first(db.raw('1')))) missing.push('core.customer_sources');
    if (missing.length) throw new ReplayRefused(`outcomes of ${campaigns} were attributed from run ${dataRun}, whose ${missing.join(', ')} rows are gone (landing retention?)`);
  }
  return { replayOutcomes: collected.map((c) => ({ campaignId: c.campaign_id, dataRunId: c.data_as_of ?? null })) };
}

export interface FileComparison {
  path: string;
  identical: boolean;
  original_sha256: string | null;
  replay_sha256: string | null;
  /** Parquet: the first differing row (0-based) and column; other files: the first differing line; null when identical. */
  first_difference: { row: number; column: string | null; original: unknown; replay: unknown } | { line: number } | string | null;
}

export interface ReplayReport {
  run_id: string;
  replay_run_id: string;
  identical: boolean;
  code_version: { original: string; now: string };
  files: FileComparison[];
}

/**
 * Compares every file the original's manifest lists, outcome files and report included, with the replay's, byte for
 * byte, locating the first difference of a differing file.
 */
export async function compareRuns(original: { runId: string; dir: string; codeVersion: string }, replay: { runId: string; dir: string; codeVersion: string }): Promise<ReplayReport> {
  const read = async (dir: string) => JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8')) as ManifestLike;
  const produced = (m: ManifestLike) => new Map(listedFiles(m).map((f) => [f.path, f.sha256]));
  const a = produced(await read(original.dir));
  const b = produced(await read(replay.dir));
  const files: FileComparison[] = [];
  for (const file of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const [sa, sb] = [a.get(file) ?? null, b.get(file) ?? null];
    const identical = sa !== null && sa === sb;
    let first: FileComparison['first_difference'] = null;
    if (!identical) first = sa === null ? 'not in the original run' : sb === null ? 'not produced by the replay' : await firstDifference(path.join(original.dir, file), path.join(replay.dir, file));
    files.push({ path: file, identical, original_sha256: sa, replay_sha256: sb, first_difference: first });
  }
  return { run_id: original.runId, replay_run_id: replay.runId, identical: files.every((f) => f.identical), code_version: { original: original.codeVersion, now: replay.codeVersion }, files };
}

async function firstDifference(a: string, b: string): Promise<FileComparison['first_difference']> {
  if (!existsSync(a)) return 'original file missing from its folder';
  if (a.endsWith('.parquet')) return firstParquetDifference(a, b);
  const [la, lb] = [(await readFile(a, 'utf8')).split('\n'), (await readFile(b, 'utf8')).split('\n')];
  const line = la.findIndex((l, i) => l !== lb[i]);
  return { line: (line < 0 ? la.length : line) + 1 };
}

/** The first row (in file order) whose values differ, and its first differing column, read with DuckDB (zstd pages). */
async function firstParquetDifference(a: string, b: string): Promise<FileComparison['first_difference']> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const query = async (sql: string) => (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  const file = (f: string) => `read_parquet('${f.replace(/'/g, "''")}', file_row_number = true)`;
  try {
    const [first] = await query(
      `select coalesce(x.file_row_number, y.file_row_number) as rn from ${file(a)} x full join ${file(b)} y on x.file_row_number = y.file_row_number
       where x.file_row_number is null or y.file_row_number is null or to_json(x) is distinct from to_json(y) order by rn limit 1`,
    );
    if (!first) return 'same rows and values, different bytes (encoding or metadata)';
    const row = Number(first.rn);
    const [x] = await query(`select * exclude (file_row_number) from ${file(a)} where file_row_number = ${row}`);
    const [y] = await query(`select * exclude (file_row_number) from ${file(b)} where file_row_number = ${row}`);
    if (!x || !y) return { row, column: null, original: x ? 'a row' : 'no more rows', replay: y ? 'a row' : 'no more rows' };
    const column = [...new Set([...Object.keys(x), ...Object.keys(y)])].find((c) => JSON.stringify(x[c], bigints) !== JSON.stringify(y[c], bigints)) ?? null;
    return { row, column, original: column ? plain(x[column]) : null, replay: column ? plain(y[column]) : null };
  } finally {
    connection.closeSync();
  }
}

const bigints = (_: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);
const plain = (v: unknown) => JSON.parse(JSON.stringify(v ?? null, bigints)) as unknown;
