import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { loadConfig, configSha256 } from '../../config/load';
import type { PortraitConfig } from '../../config/schema';
import { generateSourceExtracts } from '../../generator/generate';
import { selectSql } from '../../relations/parquet';
import { snapshotRun } from '../../relations/materialize';
import { deliveryFile, RUN_SNAPSHOTS } from '../../relations/snapshots';
import { duckType, manifestColumns, type RelationDef } from '../../relations/types';
import { CHANNEL_FIELDS } from '../../transforms/deliveryFields';
import { WORKFLOW_DAILY_RUN, type DailyRunInput, type DailyRunResult } from '../../shared';
import type { Manifest, ManifestFile } from '../../activities/runs';
import { createTestContext, type TestContext } from '../helpers/testContext';
import { duckQuery } from '../helpers/duck';

const AS_OF = '2026-11-20';
const SCHEMA = JSON.parse(readFileSync(path.join(__dirname, '../../schemas/manifest.schema.json'), 'utf8'));
let ctx: TestContext;
let config: PortraitConfig;
let run: DailyRunResult;
let manifest: Manifest;
let parquet: ManifestFile[];

/** The declaration a manifest entry was written from. */
function declarationOf(file: string): RelationDef {
  const rel = RUN_SNAPSHOTS.find((r) => r.file === file);
  if (rel) return rel;
  // deliveries/<campaign>/<campaign>_<channel>.parquet; campaign ids contain underscores too.
  const channel = (Object.keys(CHANNEL_FIELDS) as (keyof typeof CHANNEL_FIELDS)[]).find((c) => file.startsWith('deliveries/') && file.endsWith(`_${c}.parquet`));
  if (channel) return deliveryFile(CHANNEL_FIELDS[channel]);
  throw new Error(`no declaration for ${file}`);
}

/** DuckDB's spelling of a declared type in DESCRIBE output. */
const describeType = (def: RelationDef['columns'][number]) => duckType(def.type).replace(/"/g, '').replace(/TIMESTAMPTZ/g, 'TIMESTAMP WITH TIME ZONE');

beforeAll(async () => {
  ctx = await createTestContext('contract');
  const inputDir = path.join(ctx.workDir, 'extracts');
  await generateSourceExtracts({ customers: 1200, seed: 5, outDir: inputDir, asOf: AS_OF });
  config = { ...loadConfig(), outcomes: { attributionWindow: '1s' } } as PortraitConfig;
  await ctx.startWorker();
  const input: DailyRunInput = { runId: 'it-contract', asOf: AS_OF, inputDir, config, configSha256: configSha256(config), awaitOutcomes: true };
  run = await (await ctx.client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue: ctx.taskQueue, workflowId: 'dailyRun-it-contract', args: [input] })).result();
  manifest = JSON.parse(readFileSync(path.join(run.snapshotDir, 'manifest.json'), 'utf8'));
  parquet = manifest.stages.flatMap((s) => s.files).filter((f) => f.path.endsWith('.parquet'));
});

afterAll(async () => {
  await ctx?.close();
});

test('manifest.json is contract version 2, valid against schemas/manifest.schema.json, and lists every declared file with its columns', () => {
  const validate = new Ajv({ allErrors: true }).compile(SCHEMA);
  expect(validate(manifest) ? [] : validate.errors).toEqual([]);
  expect(manifest.contract_version).toBe(2);
  const files = parquet.map((f) => f.path);
  expect(files).toEqual(expect.arrayContaining(RUN_SNAPSHOTS.map((r) => r.file)));
  for (const f of parquet) expect({ file: f.path, columns: f.columns }).toEqual({ file: f.path, columns: manifestColumns(declarationOf(f.path)) });
});

test('the schema rejects a v2 manifest whose Parquet file lacks columns, and still accepts a v1 manifest', () => {
  const validate = new Ajv().compile(SCHEMA);
  const broken = JSON.parse(JSON.stringify(manifest)) as Manifest;
  delete broken.stages[0]!.files[0]!.columns;
  expect(validate(broken)).toBe(false);
  const v1 = JSON.parse(readFileSync(path.join(__dirname, '../fixtures/contract/manifest-v1.json'), 'utf8'));
  expect(v1.contract_version).toBeUndefined();
  expect(validate(v1) ? [] : validate.errors).toEqual([]);
});

test('every column of every snapshot file has its declared type as DuckDB reads it', async () => {
  for (const f of parquet) {
    const described = await duckQuery(`select column_name, column_type from (describe select * from read_parquet('${path.join(run.snapshotDir, f.path)}'))`);
    const expected = declarationOf(f.path).columns.map((c) => ({ column_name: c.name, column_type: describeType(c) }));
    expect({ file: f.path, columns: described }).toEqual({ file: f.path, columns: expected });
  }
});

test('files are zstd with statistics, and DuckDB writes low-cardinality strings with a dictionary', async () => {
  for (const f of parquet) {
    const chunks = await duckQuery(`select compression, stats_null_count is not null as has_stats from parquet_metadata('${path.join(run.snapshotDir, f.path)}')`);
    // A file without rows has no row groups, so no column chunks to compress.
    expect({ file: f.path, codecs: [...new Set(chunks.map((c) => c.compression))], unstated: chunks.filter((c) => !c.has_stats).length }).toEqual({ file: f.path, codecs: f.rows ? ['ZSTD'] : [], unstated: 0 });
  }
  const [lifecycle] = await duckQuery(`select encodings from parquet_metadata('${path.join(run.snapshotDir, 'tags.parquet')}') where path_in_schema = 'lifecycle' limit 1`);
  expect(String(lifecycle!.encodings)).toMatch(/DICTIONARY/);
});

test('rows are in the declared sort order and the key is unique', async () => {
  for (const rel of RUN_SNAPSHOTS.filter((r) => !r.orderBySql)) {
    const keys = (await duckQuery(`select ${rel.sortBy.map((k) => `"${k}"`).join(', ')} from read_parquet('${path.join(run.snapshotDir, rel.file)}')`)).map((r) => rel.sortBy.map((k) => r[k]));
    const compare = (a: unknown[], b: unknown[]) => {
      for (let i = 0; i < a.length; i++) {
        const x = a[i] as string | number;
        const y = b[i] as string | number;
        if (x < y) return -1;
        if (x > y) return 1;
      }
      return 0;
    };
    const inversions = keys.filter((k, i) => i > 0 && compare(keys[i - 1]!, k) >= 0).length;
    expect({ file: rel.file, inversions }).toEqual({ file: rel.file, inversions: 0 });
  }
});

test('rewriting every snapshot from PostgreSQL gives byte-identical files', async () => {
  const dir = mkdtempSync(path.join(ctx.workDir, 'rewrite-'));
  const again = await snapshotRun({ ...ctx, env: { ...ctx.env, snapshotDir: dir } }, 'it-contract', RUN_SNAPSHOTS.filter((r) => r.from));
  for (const f of again) expect({ file: f.path, sha256: f.sha256 }).toEqual({ file: f.path, sha256: parquet.find((p) => p.path === f.path)!.sha256 });
});

test('declared PostgreSQL types match the tables the plain columns are read from', async () => {
  const problems: string[] = [];
  for (const rel of RUN_SNAPSHOTS.filter((r) => r.from)) {
    const [schema, table] = rel.from!.trim().split(/\s+/)[0]!.split('.');
    const columns = await ctx.db('information_schema.columns').where({ table_schema: schema, table_name: table }).select('column_name', 'data_type', 'numeric_precision', 'numeric_scale');
    const pgType = (c: { data_type: string; numeric_precision: number | null; numeric_scale: number | null }) =>
      ({ 'character varying': 'text', 'timestamp with time zone': 'timestamptz', ARRAY: 'text[]', numeric: `numeric(${c.numeric_precision},${c.numeric_scale})` })[c.data_type] ?? c.data_type;
    for (const c of rel.columns.filter((c) => !c.sql)) {
      const actual = columns.find((x) => x.column_name === c.name);
      if (!actual) problems.push(`${rel.name}.${c.name}: no column in ${schema}.${table}`);
      else if (pgType(actual) !== c.pg) problems.push(`${rel.name}.${c.name}: declared ${c.pg}, table has ${pgType(actual)}`);
    }
  }
  expect(problems).toEqual([]);
});

test('dispatch, eligibility and outcomes carry the product; deciles say what they rank', async () => {
  const products = Object.fromEntries(config.campaigns.map((c) => [c.id, c.product]));
  for (const file of ['dispatch.parquet', 'eligibility.parquet', 'outcomes.parquet', 'results.parquet']) {
    const pairs = await duckQuery(`select distinct campaign_id, product from read_parquet('${path.join(run.snapshotDir, file)}') order by 1`);
    expect(pairs.length).toBeGreaterThan(0);
    for (const p of pairs) expect({ file, ...p }).toEqual({ file, campaign_id: p.campaign_id, product: products[p.campaign_id as string] });
  }
  const [scores] = await duckQuery(`select min(population_decile) as lo, max(population_decile) as hi, count(*) filter (where population_decile is null) as missing from read_parquet('${path.join(run.snapshotDir, 'scores.parquet')}')`);
  expect(scores).toEqual({ lo: 1, hi: 10, missing: 0n });
  const dbDeciles = await ctx.db('campaign.outcomes').where({ run_id: 'it-contract' }).orderBy(['campaign_id', 'golden_id']).pluck('score_decile');
  const fileDeciles = (await duckQuery(`select audience_decile from read_parquet('${path.join(run.snapshotDir, 'outcomes.parquet')}')`)).map((r) => r.audience_decile);
  expect(fileDeciles).toEqual(dbDeciles);
  const dimensions = await duckQuery(`select distinct dimension from read_parquet('${path.join(run.snapshotDir, 'results.parquet')}') order by 1`);
  expect(dimensions.map((d) => d.dimension)).toEqual(['audience_decile', 'campaign', 'channel', 'segment']);
});

test('money is exact DECIMAL(18,2) and instants are UTC: values equal the tables', async () => {
  const [fromDb] = (await ctx.db.raw(
    `select sum(annual_income)::text as income, count(*) filter (where opened_at is not null)::int as opened, min(opened_at)::text as first_opened from core.customers where run_id = 'it-contract'`,
  )).rows;
  const [fromFile] = await duckQuery(`select sum(annual_income)::varchar as income, count(opened_at)::int as opened, min(opened_at)::varchar as first_opened from read_parquet('${path.join(run.snapshotDir, 'customers.parquet')}')`);
  expect(fromFile).toEqual(fromDb);
  const [consentDb] = (await ctx.db.raw(`select count(consent_recorded_at)::int as n, to_char(max(consent_recorded_at) at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') as latest from campaign.dispatch where run_id = 'it-contract'`)).rows;
  const [consentFile] = await duckQuery(`select count(consent_recorded_at)::int as n, strftime(max(consent_recorded_at) at time zone 'UTC', '%Y-%m-%d %H:%M:%S') as latest from read_parquet('${path.join(run.snapshotDir, 'dispatch.parquet')}')`);
  expect(consentDb.n).toBeGreaterThan(0);
  expect(consentFile).toEqual(consentDb);
});

test('the selects are plain SQL over the declared tables (no unbound parameters left)', () => {
  for (const rel of RUN_SNAPSHOTS.filter((r) => r.from)) expect(ctx.db.raw(selectSql(rel), { runId: 'x' }).toQuery()).not.toMatch(/:runId/);
});

const hasPyarrow = spawnSync('python3', ['-c', 'import pyarrow'], { stdio: 'ignore' }).status === 0;
(hasPyarrow ? test : test.skip)('pyarrow reads every file with the declared Arrow types (tests/contract/check_snapshots.py)', () => {
  const out = spawnSync('python3', [path.join(__dirname, '../contract/check_snapshots.py'), run.snapshotDir], { encoding: 'utf8' });
  expect(out.stdout).toMatch(new RegExp(`^${parquet.length} passed, 0 failed$`, 'm'));
  expect(out.status).toBe(0);
});
