import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadConfig, configSha256 } from '../../config/load';
import type { PortraitConfig } from '../../config/schema';
import { generateSourceExtracts } from '../../generator/generate';
import { runFollowUpDay } from '../../cli/followUp';
import { main } from '../../cli/portrait';
import { verifyChain } from '../../audit/verify';
import { MANIFEST_FILE } from '../../audit/manifest';
import { WORKFLOW_DAILY_RUN, type DailyRunInput, type DailyRunResult } from '../../shared';
import { createTestContext, type TestContext } from '../helpers/testContext';

const AS_OF = '2026-11-20';
const CUSTOMERS = 1200;
const SEED = 9;
let ctx: TestContext;
let config: PortraitConfig;
let inputDir: string;
let day0: DailyRunResult;
let day2: DailyRunResult;
let suppressedKey: string;

function runInput(runId: string, asOf: string, dir: string): DailyRunInput {
  return { runId, asOf, inputDir: dir, config, configSha256: configSha256(config), awaitOutcomes: false };
}

/** Runs the CLI in this process against the test's database, Temporal server and folders; returns exit code and output. */
async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const saved = { ...process.env };
  Object.assign(process.env, { DATABASE_URL: ctx.databaseUrl, TEMPORAL_ADDRESS: process.env.PORTRAIT_TEST_TEMPORAL_ADDRESS, PORTRAIT_SNAPSHOT_DIR: ctx.env.snapshotDir, PORTRAIT_HOME: ctx.env.home, LOG_LEVEL: 'warn' });
  const out: string[] = [];
  const err: string[] = [];
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => (out.push(String(c)), true));
  const e = jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => (err.push(String(c)), true));
  try {
    return { code: await main(argv), stdout: out.join(''), stderr: err.join('') };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.env = saved;
  }
}

beforeAll(async () => {
  ctx = await createTestContext('replay');
  inputDir = path.join(ctx.workDir, 'extracts');
  await generateSourceExtracts({ customers: CUSTOMERS, seed: SEED, outDir: inputDir, asOf: AS_OF });
  const base = loadConfig();
  config = { ...base, outcomes: { ...base.outcomes, collectAfter: '1h' } } as PortraitConfig;
  await ctx.startWorker();
  day0 = await (await ctx.client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue: ctx.taskQueue, workflowId: 'dailyRun-rp-day0', args: [runInput('rp-day0', AS_OF, inputDir)] })).result();
  // After the run: a treated customer asks not to be contacted, and a later day runs (its outcomes, maybe a new champion).
  const treated = await ctx.db('campaign.dispatch as d').join('core.customer_sources as s', function () {
    this.on('s.run_id', '=', 'd.run_id').andOn('s.golden_id', '=', 'd.golden_id');
  }).where({ 'd.run_id': 'rp-day0', 'd.arm': 'treatment' }).orderBy('d.golden_id').first('s.customer_key');
  suppressedKey = treated.customer_key;
  await ctx.db('campaign.suppressions').insert({ list: 'do_not_contact', customer_key: suppressedKey });
  const day1 = await runFollowUpDay({ db: ctx.db, client: ctx.client, taskQueue: ctx.taskQueue, day0, config, customers: CUSTOMERS, seed: SEED, dataDir: ctx.workDir, newRunInput: (d, dir) => runInput('rp-day1', d, dir) });
  // Then a later run becomes the latest data run: the bank a day after day 1 as if nobody had been contacted (organic
  // openings only), so a replay that took "the latest run now" instead of the pinned one would credit other
  // conversions. Its own outcomes stay uncollected (pending).
  const asOf2 = new Date(Date.parse(`${day1.asOf}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  const dir2 = path.join(ctx.workDir, 'extracts-day2');
  await generateSourceExtracts({ customers: CUSTOMERS, seed: SEED, outDir: dir2, asOf: asOf2, followUp: { baseAsOf: AS_OF, contacts: [] } });
  day2 = await (await ctx.client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue: ctx.taskQueue, workflowId: 'dailyRun-rp-day2', args: [runInput('rp-day2', asOf2, dir2)] })).result();
});

afterAll(async () => {
  await ctx?.close();
});

/** The original run's rows that a replay must leave as they are. */
async function originalRows(runId: string) {
  const rows = async (table: string) => ctx.db(table).where({ run_id: runId }).orderBy(table === 'campaign.outcomes' ? ['campaign_id', 'golden_id'] : table === 'campaign.results' ? ['campaign_id', 'dimension', 'dimension_value'] : ['campaign_id']);
  return {
    run: await ctx.db('audit.runs').where({ run_id: runId }).first(),
    dispatch: await ctx.db('campaign.dispatch').where({ run_id: runId }).count<{ n: string }[]>('* as n'),
    outcomes: await rows('campaign.outcomes'),
    results: await rows('campaign.results'),
    outcomeResults: await rows('campaign.outcome_results'),
  };
}

test('portrait replay re-executes a run through dailyRun and gets every snapshot byte for byte, outcomes and report included, a later suppression notwithstanding', async () => {
  const originalManifest = readFileSync(path.join(day0.snapshotDir, MANIFEST_FILE));
  const before = await originalRows('rp-day0');
  const originalRow = before.run;
  // The outcomes were collected from the later day's data, which converted some customers.
  expect(before.outcomeResults.map((r: { data_as_of: string }) => r.data_as_of)).toEqual(before.outcomeResults.map(() => 'rp-day1'));
  expect(before.outcomes.filter((o: { converted: boolean }) => o.converted).length).toBeGreaterThan(0);
  // Conversions of the original that the latest data run (rp-day2) does not show: a replay reading it would differ.
  const [{ n: unseen }] = (await ctx.db.raw(
    `select count(*)::int as n from campaign.outcomes o join campaign.dispatch d using (run_id, campaign_id, golden_id)
     where o.run_id = 'rp-day0' and o.converted and not exists (
       select 1 from landing.loans l join core.customer_sources k on k.run_id = l.run_id and k.customer_key = l.customer_key
       where l.run_id = 'rp-day2' and k.golden_id = o.golden_id and l.product = d.product and l.opened_at > o.contacted_on and l.opened_at <= o.converted_at)`,
  )).rows;
  expect(unseen).toBeGreaterThan(0);

  const { code, stdout, stderr } = await cli(['replay', 'rp-day0', '--json']);
  expect(stderr).toBe('');
  const report = JSON.parse(stdout);
  expect(report.files.filter((f: { identical: boolean }) => !f.identical)).toEqual([]);
  expect(code).toBe(0);
  expect(report).toMatchObject({ run_id: 'rp-day0', identical: true, code_version: { original: originalRow.code_version, now: expect.any(String) } });
  const listed = JSON.parse(originalManifest.toString('utf8')).stages.flatMap((s: { files: { path: string; sha256: string }[] }) => s.files);
  expect(report.files.map((f: { path: string; replay_sha256: string }) => [f.path, f.replay_sha256])).toEqual(listed.map((f: { path: string; sha256: string }) => [f.path, f.sha256]).sort((a: string[], b: string[]) => a[0]!.localeCompare(b[0]!)));
  expect(report.files.map((f: { path: string }) => f.path)).toEqual(expect.arrayContaining(['outcomes.parquet', 'results.parquet', 'report.html']));
  // Re-attributed from the data run the original pinned, not from whatever is latest now.
  const replayOutcomes = await ctx.db('campaign.outcome_results').where({ run_id: report.replay_run_id }).orderBy('campaign_id');
  expect(replayOutcomes.map((r) => [r.campaign_id, r.data_as_of])).toEqual(before.outcomeResults.map((r: { campaign_id: string; data_as_of: string }) => [r.campaign_id, r.data_as_of]));
  expect(await ctx.db('campaign.outcome_labels').where({ run_id: report.replay_run_id }).count<{ n: string }[]>('* as n')).toEqual([{ n: '0' }]);

  // The replay is a run of its own; the original's files and rows are as they were.
  const replay = await ctx.db('audit.runs').where({ run_id: report.replay_run_id }).first();
  expect(replay).toMatchObject({ replay_of: 'rp-day0', status: 'succeeded', as_of: AS_OF });
  expect(readFileSync(path.join(day0.snapshotDir, MANIFEST_FILE))).toEqual(originalManifest);
  expect(await originalRows('rp-day0')).toEqual(before);
  // The customer suppressed after the run is in the replay's treatment arm, as in the original's.
  const replayed = await ctx.db('campaign.dispatch as d').join('core.customer_sources as s', function () {
    this.on('s.run_id', '=', 'd.run_id').andOn('s.golden_id', '=', 'd.golden_id');
  }).where({ 'd.run_id': report.replay_run_id, 's.customer_key': suppressedKey }).first('d.arm');
  expect(replayed).toEqual({ arm: 'treatment' });
  // Outside the chain: the chain of real runs still verifies.
  const chain = await verifyChain(ctx.env.snapshotDir);
  expect(chain.runs.map((r) => r.run_id)).toEqual(['rp-day0', 'rp-day1', 'rp-day2']);
  expect(chain.problems).toEqual([]);
});

test('a replay attributes outcomes from the data run the original pinned: altered landing rows of that run show as the first differing row', async () => {
  // A treatment conversion of the original, credited from a loan in rp-day1's extracts.
  const [hit] = (await ctx.db.raw(
    `select o.campaign_id, o.golden_id, d.product from campaign.outcomes o join campaign.dispatch d using (run_id, campaign_id, golden_id)
     where o.run_id = 'rp-day0' and o.converted and d.product <> 'time_deposit' order by o.campaign_id, o.golden_id limit 1`,
  )).rows;
  expect(hit).toBeDefined();
  const keys = (await ctx.db('core.customer_sources').where({ run_id: 'rp-day1', golden_id: hit.golden_id }).select('customer_key')).map((k) => k.customer_key);
  const before = await originalRows('rp-day0');
  const removed = await ctx.db('landing.loans').where({ run_id: 'rp-day1', product: hit.product }).whereIn('customer_key', keys).delete().returning('*');
  expect(removed.length).toBeGreaterThan(0);
  let result: Awaited<ReturnType<typeof cli>>;
  try {
    result = await cli(['replay', 'rp-day0', '--json']);
  } finally {
    await ctx.db('landing.loans').insert(removed);
  }
  expect(result.code).toBe(1);
  const report = JSON.parse(result.stdout);
  const differing = report.files.filter((f: { identical: boolean }) => !f.identical);
  expect(differing.map((f: { path: string }) => f.path)).toEqual(['outcomes.parquet', 'report.html', 'results.parquet']);
  // The first differing row of outcomes.parquet is that customer's contact: converted in the original, not now.
  const duck = await (await DuckDBInstance.create(':memory:')).connect();
  const file = path.join(day0.snapshotDir, 'outcomes.parquet').replace(/'/g, "''");
  const [row] = (await duck.runAndReadAll(`select file_row_number as rn from read_parquet('${file}', file_row_number = true) where campaign_id = '${hit.campaign_id}' and golden_id = '${hit.golden_id}'`)).getRowObjectsJS();
  duck.closeSync();
  expect(differing[0].first_difference).toEqual({ row: Number(row!.rn), column: 'converted', original: true, replay: false });
  expect(differing[1].first_difference).toEqual({ line: expect.any(Number) });
  expect(await originalRows('rp-day0')).toEqual(before);
});

test('a run whose outcomes were never collected replays with its pending outcome files and report', async () => {
  expect(await ctx.db('campaign.outcome_results').where({ run_id: 'rp-day2' })).toEqual([]);
  const pending = await ctx.db('campaign.results').where({ run_id: 'rp-day2', dimension: 'campaign' }).select('status');
  expect(pending.length).toBeGreaterThan(0);
  expect(pending.every((r) => r.status === 'pending')).toBe(true);
  const before = await originalRows('rp-day2');
  const { code, stdout } = await cli(['replay', 'rp-day2', '--json']);
  const report = JSON.parse(stdout);
  expect(report.files.filter((f: { identical: boolean }) => !f.identical)).toEqual([]);
  expect(code).toBe(0);
  expect(report.files.map((f: { path: string }) => f.path)).toEqual(expect.arrayContaining(['outcomes.parquet', 'results.parquet', 'report.html']));
  expect(await originalRows('rp-day2')).toEqual(before);
});

test('a replay whose pinned data run lost its landing rows refuses, naming the campaigns and the run', async () => {
  const removed = await ctx.db('landing.campaign_contacts').where({ run_id: 'rp-day1' }).delete().returning('*');
  expect(removed.length).toBeGreaterThan(0);
  let result: Awaited<ReturnType<typeof cli>>;
  try {
    result = await cli(['replay', 'rp-day0']);
  } finally {
    await ctx.db('landing.campaign_contacts').insert(removed);
  }
  const campaigns = (await ctx.db('campaign.outcome_results').where({ run_id: 'rp-day0' }).orderBy('campaign_id').select('campaign_id')).map((c) => c.campaign_id).join(', ');
  expect(result.code).toBe(1);
  expect(result.stderr).toBe(`portrait: replay refused: outcomes of ${campaigns} were attributed from run rp-day1, whose campaign_contacts rows are gone (landing retention?)\n`);
});

test('a replay with one input file changed refuses, naming the source and the file', async () => {
  const file = path.join(inputDir, 'consent.csv');
  const body = readFileSync(file);
  writeFileSync(file, Buffer.concat([body, Buffer.from('\n')]));
  try {
    const { code, stdout, stderr } = await cli(['replay', 'rp-day0']);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.split('\n').filter(Boolean)).toEqual([expect.stringMatching(new RegExp(`^portrait: replay refused: input of source consent changed: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} has sha256 [0-9a-f]{64}, the run read [0-9a-f]{64}$`))]);
  } finally {
    writeFileSync(file, body);
  }
  expect((await cli(['replay', 'no-such-run'])).stderr).toBe('portrait: replay refused: no run with id no-such-run\n');
});
