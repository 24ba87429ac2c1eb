import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import knex from 'knex';
import path from 'node:path';
import { loadConfig, configSha256 } from '../../config/load';
import type { PortraitConfig } from '../../config/schema';
import { generateSourceExtracts } from '../../generator/generate';
import { createSegmentActivities } from '../../activities/segment';
import { chainSha256, MANIFEST_FILE, SIGNATURE_FILE } from '../../audit/manifest';
import { verifyChain, verifyRunFolder } from '../../audit/verify';
import { createLogger } from '../../services/logger';
import { runFollowUpDay } from '../../cli/followUp';
import { WORKFLOW_DAILY_RUN, type DailyRunInput, type DailyRunResult } from '../../shared';
import { createTestContext, type TestContext } from '../helpers/testContext';
import { duckQuery } from '../helpers/duck';
import { explainCustomer, NotFound } from '../../audit/explain';
import { main } from '../../cli/portrait';

const AS_OF = '2026-11-20';
const CUSTOMERS = 1200;
const SEED = 5;
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
let ctx: TestContext;
let config: PortraitConfig;
let day0: DailyRunResult;
let day1: DailyRunResult;

function runInput(runId: string, asOf: string, inputDir: string): DailyRunInput {
  return { runId, asOf, inputDir, config, configSha256: configSha256(config), awaitOutcomes: false };
}

beforeAll(async () => {
  // Runs are signed by the worker: the key reaches it through the environment, as in production.
  const before = process.env.PORTRAIT_SIGNING_KEY;
  process.env.PORTRAIT_SIGNING_KEY = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  try {
    ctx = await createTestContext('audit');
  } finally {
    if (before === undefined) delete process.env.PORTRAIT_SIGNING_KEY;
    else process.env.PORTRAIT_SIGNING_KEY = before;
  }
  const inputDir = path.join(ctx.workDir, 'extracts');
  await generateSourceExtracts({ customers: CUSTOMERS, seed: SEED, outDir: inputDir, asOf: AS_OF });
  const base = loadConfig();
  // Outcomes wait on their timer until the follow-up day is loaded, as in the demo and in production.
  config = { ...base, outcomes: { ...base.outcomes, collectAfter: '1h' } } as PortraitConfig;
  await ctx.startWorker();
  day0 = await (await ctx.client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue: ctx.taskQueue, workflowId: `dailyRun-au-day0`, args: [runInput('au-day0', AS_OF, inputDir)] })).result();
  day1 = await runFollowUpDay({ db: ctx.db, client: ctx.client, taskQueue: ctx.taskQueue, day0, config, customers: CUSTOMERS, seed: SEED, dataDir: ctx.workDir, newRunInput: (d, dir) => runInput('au-day1', d, dir) });
});

const onTeardown: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const f of onTeardown) await f();
  await ctx?.close();
});

describe('verify on real runs', () => {
  test('each run is signed and links to the run before it, also after outcomes rewrote the earlier manifest', async () => {
    const m0 = JSON.parse(readFileSync(path.join(day0.snapshotDir, MANIFEST_FILE), 'utf8'));
    const m1 = JSON.parse(readFileSync(path.join(day1.snapshotDir, MANIFEST_FILE), 'utf8'));
    // Day 0's outcomes were attributed after day 1 finalized: its manifest now lists them.
    expect(m0.stages.map((s: { stage: string }) => s.stage)).toContain('outcomes');
    expect(m0.previous_run_id).toBeNull();
    expect(m1).toMatchObject({ previous_run_id: 'au-day0', previous_manifest_sha256: chainSha256(m0) });
    const runs = await ctx.db('audit.runs').whereIn('run_id', ['au-day0', 'au-day1']).orderBy('run_id').select('run_id', 'previous_run_id', 'previous_manifest_sha256');
    expect(runs[1]).toEqual({ run_id: 'au-day1', previous_run_id: 'au-day0', previous_manifest_sha256: m1.previous_manifest_sha256 });

    for (const dir of [day0.snapshotDir, day1.snapshotDir]) {
      const report = await verifyRunFolder(dir, { publicKey, checkPreviousBeside: true });
      expect(report.problems).toEqual([]);
      expect(report.signature).toBe('valid');
      const manifest = dir === day0.snapshotDir ? m0 : m1;
      expect(report.files_checked).toBe(manifest.stages.flatMap((s: { files: unknown[] }) => s.files).length);
    }
    const chain = await verifyChain(ctx.env.snapshotDir, { publicKey });
    expect(chain.problems).toEqual([]);
    expect(chain.runs.map((r) => r.run_id)).toEqual(['au-day0', 'au-day1']);
  });

  test('a copied folder with one Parquet byte flipped fails, naming the file', async () => {
    const copy = path.join(mkdtempSync(path.join(os.tmpdir(), 'portrait-audit-copy-')), 'au-day0');
    cpSync(day0.snapshotDir, copy, { recursive: true });
    const file = path.join(copy, 'dispatch.parquet');
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0x40;
    writeFileSync(file, bytes);
    const report = await verifyRunFolder(copy, { publicKey });
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.path)).toEqual(['dispatch.parquet']);
    expect(report.signature).toBe('valid');
    expect(readFileSync(path.join(copy, SIGNATURE_FILE), 'utf8')).toBe(readFileSync(path.join(day0.snapshotDir, SIGNATURE_FILE), 'utf8'));
  });
});

describe('aggregates reaching a snapshot do not depend on physical row order', () => {
  test('segment profiles are byte-identical when the tags table holds the same rows in another order', async () => {
    // Two copies of day 0's tags, inserted in different physical orders, with loan amounts whose float8 sum depends
    // on the order it is taken in (±1e16 plus small parts): only an exact aggregate gives the same means.
    const copy = async (runId: string, order: string) => {
      await ctx.db('audit.runs').insert(ctx.db('audit.runs').where({ run_id: 'au-day0' }).select(ctx.db.raw('? as run_id', [runId]), 'as_of', 'workflow_id', 'input_dir', 'config_sha256', 'config', 'code_version', 'model_versions', 'seed', 'status', 'error', ctx.db.raw('? as snapshot_dir', [path.join(ctx.workDir, 'order', runId)]), 'manifest_sha256', 'started_at', 'finished_at'));
      await ctx.db.raw(
        `insert into mart.tags
         select (jsonb_populate_record(null::mart.tags, to_jsonb(t) || jsonb_build_object('run_id', ?::text, 'loan_outstanding',
                 (case when n % 2 = 0 then 1e16 else -1e16 end + (n % 7) * 0.37)::float8))).*
         from (select t.*, row_number() over (order by golden_id) as n from mart.tags t where run_id = 'au-day0') t
         order by ${order}`,
        [runId],
      );
    };
    await copy('au-order-a', 'golden_id');
    await copy('au-order-b', 'md5(golden_id)');
    const physical = async (runId: string) => (await ctx.db.raw(`select md5(string_agg(golden_id, ',' order by ctid)) as h from mart.tags where run_id = ?`, [runId])).rows[0].h;
    expect(await physical('au-order-a')).not.toBe(await physical('au-order-b'));

    // Sequential scans only, so the aggregates see the rows in their physical order (an index would sort them).
    const db = knex({ client: 'pg', connection: ctx.databaseUrl, pool: { min: 0, max: 4, afterCreate: (conn: { query: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, c: unknown) => void) => conn.query('set enable_indexscan = off; set enable_bitmapscan = off', (err) => done(err, conn)) } });
    onTeardown.push(() => db.destroy());
    const activities = createSegmentActivities({ db, databaseUrl: ctx.databaseUrl, log: createLogger('warn'), env: { ...ctx.env, snapshotDir: path.join(ctx.workDir, 'order') }, codeVersion: 'test' });
    const args = { rules: [...config.segments], clustering: { ...config.clustering, enabled: false }, seed: config.seed };
    const a = await activities.assignSegments({ runId: 'au-order-a', ...args });
    const b = await activities.assignSegments({ runId: 'au-order-b', ...args });
    expect(a.files.map((f) => f.path)).toEqual(['segments.parquet', 'segment_profiles.parquet']);
    expect(b.files).toEqual(a.files);
    const profiles = await ctx.db('mart.segment_profiles').where({ run_id: 'au-order-a' }).select('distinguishing');
    expect(JSON.stringify(profiles)).toContain('loan_outstanding');
  });
});

describe('explain agrees with the snapshots of the run', () => {
  const parquet = (file: string) => `'${path.join(day0.snapshotDir, file)}'`;

  test('a selected (treatment) and a control customer: arm, holdout, idempotency key, consent, segment, scores, outcome', async () => {
    const picks = await duckQuery(`select * from (select *, row_number() over (partition by arm order by golden_id) as n from read_parquet(${parquet('dispatch.parquet')})) where n = 1 order by arm`);
    expect(picks.map((p) => p.arm)).toEqual(['control', 'treatment']);
    for (const pick of picks) {
      // The treated customer is asked for by a source key, as the bank knows them; the control one by golden id.
      const sourceKeys = (await duckQuery(`select source_keys from read_parquet(${parquet('customers.parquet')}) where golden_id = '${pick.golden_id}'`))[0]!.source_keys as string;
      const key = pick.arm === 'treatment' ? sourceKeys.split(',')[0]!.split(':')[1]! : String(pick.golden_id);
      const e = await explainCustomer(ctx.db, 'au-day0', key);
      expect(e.customer).toMatchObject({ golden_id: pick.golden_id, matched_as: pick.arm === 'treatment' ? 'source_key' : 'golden_id' });
      expect(e.sources.map((s) => `${s.system}:${s.key}`).sort().join(',')).toBe(sourceKeys.split(',').sort().join(','));
      const c = e.campaigns.find((x) => x.campaign_id === pick.campaign_id)!;
      expect(c).toMatchObject({ evaluated: true, eligible: true, reason: null, selected: true, arm: pick.arm, holdout: pick.holdout ?? null, idempotency_key: pick.idempotency_key, score: pick.score, consent_id: pick.consent_id });
      expect(c.consent_id).toBeTruthy();
      const outcome = (await duckQuery(`select converted from read_parquet(${parquet('outcomes.parquet')}) where golden_id = '${pick.golden_id}' and campaign_id = '${pick.campaign_id}'`))[0]!;
      expect(c.outcome?.converted).toBe(outcome.converted);
      const segment = (await duckQuery(`select segment from read_parquet(${parquet('segments.parquet')}) where golden_id = '${pick.golden_id}'`))[0]!.segment;
      expect(e.segment?.id).toBe(segment);
      expect(e.segment?.rule).toBe(config.segments.find((r) => r.id === segment)!.when);
      const scores = await duckQuery(`select product, model_version, score, decile from read_parquet(${parquet('scores.parquet')}) where golden_id = '${pick.golden_id}' order by product`);
      expect(e.scores.map(({ product, model_version, score, decile }) => ({ product, model_version, score, decile }))).toEqual(scores);
      const tags = (await duckQuery(`select age, lifecycle from read_parquet(${parquet('tags.parquet')}) where golden_id = '${pick.golden_id}'`))[0]!;
      expect(e.tags.find((t) => t.id === 'lifecycle')).toMatchObject({ value: tags.lifecycle, name_zh: expect.any(String), name_en: expect.any(String) });
    }
  });

  test('an excluded customer: the first failed policy and the facts that failed it, as the ledger stored them', async () => {
    const excluded = await duckQuery(`select campaign_id, golden_id, reason from read_parquet(${parquet('eligibility.parquet')}) where not eligible and reason = 'no_consent' order by campaign_id, golden_id limit 1`);
    expect(excluded).toHaveLength(1);
    const pick = excluded[0]!;
    const e = await explainCustomer(ctx.db, 'au-day0', String(pick.golden_id));
    const c = e.campaigns.find((x) => x.campaign_id === pick.campaign_id)!;
    expect(c).toMatchObject({ evaluated: true, eligible: false, reason: 'no_consent', selected: false, arm: null });
    const campaign = config.campaigns.find((x) => x.id === pick.campaign_id)!;
    expect(c.facts).toMatchObject({ channel: campaign.channel, status: expect.stringMatching(/^(refused|no_record)$/) });
    if (c.facts!.status === 'refused') {
      const record = await ctx.db('landing.consent').where({ run_id: 'au-day0', consent_id: c.facts!.consent_id }).first('granted', 'channel');
      expect(record).toEqual({ granted: false, channel: campaign.channel });
    } else {
      expect(c.facts!.consent_id).toBeNull();
    }
    // A campaign that never judged the customer says why.
    for (const other of e.campaigns.filter((x) => !x.evaluated)) expect(other.reason).toMatch(/not targeted|not active/);
  });

  test('an unknown run or customer: one line, exit 1', async () => {
    await expect(explainCustomer(ctx.db, 'no-such-run', 'x')).rejects.toEqual(new NotFound('no run with id no-such-run'));
    await expect(explainCustomer(ctx.db, 'au-day0', 'nobody')).rejects.toBeInstanceOf(NotFound);
    const before = process.env.DATABASE_URL;
    process.env.DATABASE_URL = ctx.databaseUrl;
    const errors: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      errors.push(String(chunk));
      return true;
    });
    try {
      expect(await main(['explain', '--run', 'au-day0', '--customer', 'nobody'])).toBe(1);
    } finally {
      spy.mockRestore();
      process.env.DATABASE_URL = before;
    }
    expect(errors.filter((l) => l.startsWith('portrait: '))).toEqual(['portrait: no customer nobody in run au-day0 (neither a golden id nor a source customer key)\n']);
  });
});
