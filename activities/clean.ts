import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps';
import { cleanCustomer, type CleanCustomer, type RawCustomer } from '../transforms/customerRecord';
import { csvLine } from './ingest';
import { withTransaction } from './pg';
import { recordStage } from './runs';
import { runSnapshotDir, writeParquetSnapshot } from './snapshots';
import type { StageResult } from '../shared';

const SOURCE_COLUMNS: (keyof CleanCustomer)[] = [
  'source_system', 'customer_key', 'golden_id', 'match_rule', 'name_masked', 'id_hash', 'phone_hash', 'id_valid', 'phone_valid',
  'birth_date', 'gender', 'city', 'city_tier', 'occupation', 'annual_income', 'opened_at',
];

export function createCleanActivities(deps: ActivityDeps) {
  const { db, databaseUrl, env, log } = deps;
  return {
    /**
     * Normalises every landed customer record, resolves it to a golden_id (lineage in core.customer_sources),
     * then builds one golden record per person by survivorship: the core banking record first, a valid ID next.
     */
    async cleanCustomers({ runId }: { runId: string }): Promise<StageResult> {
      const startedAt = new Date();
      // Stream callbacks run outside the activity's async context: keep a handle for heartbeats.
      const activity = Context.current();
      let rows = 0;
      await withTransaction(databaseUrl, async (client) => {
        await client.query('delete from core.customer_sources where run_id = $1', [runId]);
        await client.query('delete from core.customers where run_id = $1', [runId]);
        const copy = client.query(copyFrom(`copy core.customer_sources (run_id, ${SOURCE_COLUMNS.join(', ')}) from stdin with (format csv)`));
        const source = db('landing.customers')
          .select('source_system', 'customer_key', 'name', 'id_number', 'phone', 'birth_date', 'gender', 'city', 'occupation', 'annual_income', 'opened_at')
          .where({ run_id: runId })
          .orderBy(['source_system', 'customer_key'])
          .stream();
        const toCsv = new Transform({
          writableObjectMode: true,
          transform(raw: RawCustomer, _enc, done) {
            rows++;
            if (rows % 50_000 === 0) activity.heartbeat({ rows });
            const c = cleanCustomer(raw, env.piiKey);
            done(null, csvLine([runId, ...SOURCE_COLUMNS.map((k) => (c[k] === null ? null : String(c[k])))]));
          },
        });
        await pipeline(source, toCsv, copy);
        await client.query(
          `insert into core.customers (run_id, golden_id, source_keys, name_masked, id_hash, phone_hash, id_valid, birth_date, gender, city, city_tier, occupation, annual_income, opened_at)
           select distinct on (s.golden_id) s.run_id, s.golden_id, k.source_keys, s.name_masked, s.id_hash, s.phone_hash, s.id_valid,
                  coalesce(s.birth_date, k.any_birth_date), coalesce(s.gender, k.any_gender), s.city, s.city_tier, s.occupation,
                  coalesce(s.annual_income, k.any_income), k.first_opened
           from core.customer_sources s
           join (select golden_id,
                        string_agg(source_system || ':' || customer_key, ',' order by source_system, customer_key) as source_keys,
                        min(birth_date) as any_birth_date, min(gender) as any_gender, max(annual_income) as any_income,
                        min(opened_at) as first_opened
                 from core.customer_sources where run_id = $1 group by golden_id) k using (golden_id)
           where s.run_id = $1
           order by s.golden_id, (s.source_system = 'core') desc, s.id_valid desc, s.customer_key`,
          [runId],
        );
      });
      await db.raw('analyze core.customer_sources; analyze core.customers');
      const golden = await db('core.customers').where({ run_id: runId }).count<{ count: string }[]>('* as count');
      const byRule = await db('core.customer_sources').where({ run_id: runId }).select('match_rule').count('* as n').groupBy('match_rule').orderBy('match_rule');
      const file = await writeParquetSnapshot(
        runSnapshotDir(env.snapshotDir, runId),
        'customers.parquet',
        {
          golden_id: { type: 'UTF8' },
          source_keys: { type: 'UTF8' },
          id_valid: { type: 'BOOLEAN' },
          birth_year: { type: 'INT32', optional: true },
          gender: { type: 'UTF8', optional: true },
          city: { type: 'UTF8', optional: true },
          city_tier: { type: 'INT32', optional: true },
          occupation: { type: 'UTF8', optional: true },
          annual_income: { type: 'DOUBLE', optional: true },
          opened_at: { type: 'UTF8', optional: true },
        },
        db('core.customers')
          .select('golden_id', 'source_keys', 'id_valid', db.raw('extract(year from birth_date)::int as birth_year'), 'gender', 'city', 'city_tier', 'occupation', 'annual_income', db.raw("to_char(opened_at, 'YYYY-MM-DD') as opened_at"))
          .where({ run_id: runId })
          .orderBy('golden_id')
          .stream(),
      );
      const goldenCount = Number(golden[0]!.count);
      log.info({ run_id: runId, stage: 'clean', source_records: rows, golden: goldenCount }, 'customers resolved');
      return recordStage(
        db,
        runId,
        { stage: 'clean', rows: goldenCount, files: [file], details: { source_records: rows, golden_customers: goldenCount, match_rules: Object.fromEntries(byRule.map((r) => [r.match_rule, Number(r.n)])) } },
        startedAt,
      );
    },
  };
}
