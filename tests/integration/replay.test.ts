import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
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
  await runFollowUpDay({ db: ctx.db, client: ctx.client, taskQueue: ctx.taskQueue, day0, config, customers: CUSTOMERS, seed: SEED, dataDir: ctx.workDir, newRunInput: (d, dir) => runInput('rp-day1', d, dir) });
});

afterAll(async () => {
  await ctx?.close();
});

test('portrait replay re-executes a run through dailyRun and gets every snapshot byte for byte, a later suppression notwithstanding', async () => {
  const originalManifest = readFileSync(path.join(day0.snapshotDir, MANIFEST_FILE));
  const originalRow = await ctx.db('audit.runs').where({ run_id: 'rp-day0' }).first();
  const originalDispatch = await ctx.db('campaign.dispatch').where({ run_id: 'rp-day0' }).count<{ n: string }[]>('* as n');

  const { code, stdout, stderr } = await cli(['replay', 'rp-day0', '--json']);
  expect(stderr).toBe('');
  const report = JSON.parse(stdout);
  expect(report.files.filter((f: { identical: boolean }) => !f.identical)).toEqual([]);
  expect(code).toBe(0);
  expect(report).toMatchObject({ run_id: 'rp-day0', identical: true, code_version: { original: originalRow.code_version, now: expect.any(String) } });
  const listed = JSON.parse(originalManifest.toString('utf8')).stages.filter((s: { stage: string }) => s.stage !== 'outcomes').flatMap((s: { files: { path: string; sha256: string }[] }) => s.files);
  expect(report.files.map((f: { path: string; replay_sha256: string }) => [f.path, f.replay_sha256])).toEqual(listed.map((f: { path: string; sha256: string }) => [f.path, f.sha256]).sort((a: string[], b: string[]) => a[0]!.localeCompare(b[0]!)));

  // The replay is a run of its own; the original's files and rows are as they were.
  const replay = await ctx.db('audit.runs').where({ run_id: report.replay_run_id }).first();
  expect(replay).toMatchObject({ replay_of: 'rp-day0', status: 'succeeded', as_of: AS_OF });
  expect(readFileSync(path.join(day0.snapshotDir, MANIFEST_FILE))).toEqual(originalManifest);
  expect(await ctx.db('audit.runs').where({ run_id: 'rp-day0' }).first()).toEqual(originalRow);
  expect(await ctx.db('campaign.dispatch').where({ run_id: 'rp-day0' }).count<{ n: string }[]>('* as n')).toEqual(originalDispatch);
  // The customer suppressed after the run is in the replay's treatment arm, as in the original's.
  const replayed = await ctx.db('campaign.dispatch as d').join('core.customer_sources as s', function () {
    this.on('s.run_id', '=', 'd.run_id').andOn('s.golden_id', '=', 'd.golden_id');
  }).where({ 'd.run_id': report.replay_run_id, 's.customer_key': suppressedKey }).first('d.arm');
  expect(replayed).toEqual({ arm: 'treatment' });
  // Outside the chain: the chain of real runs still verifies.
  const chain = await verifyChain(ctx.env.snapshotDir);
  expect(chain.runs.map((r) => r.run_id)).toEqual(['rp-day0', 'rp-day1']);
  expect(chain.problems).toEqual([]);
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
