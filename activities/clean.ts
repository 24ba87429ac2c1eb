import QueryStream from 'pg-query-stream';
import type { Client } from 'pg';
import { Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps';
import type { RawCustomer } from '../transforms/customerRecord';
import { CLEAN_COLUMNS, CleanPool } from '../transforms/cleanBatch';
import { clusterEdges, MATCH_THRESHOLD, scorePair, type MatchEdge, type MatchRecord } from '../transforms/entityResolution';
import { csvLine } from './ingest';
import { bulkSessionSql, copyWriter, withTransaction } from './pg';
import { previousSuccessfulRun } from '../db/previousRun';
import { materialize } from '../relations/materialize';
import { customers as customersSnapshot, identityChanges as identityChangesSnapshot } from '../relations/snapshots';
import type { StageResult } from '../shared';
import { phaseTimer } from './phaseTimer';

/**
 * The run's cleaned records. rid follows (source_system, customer_key) order, so "the smallest key" of a
 * cluster is the same whatever else was loaded. base_key, the deterministic rule: records with the same valid
 * ID number and the same name are one person. The same ID under another name (a keying error in one of them,
 * or a name change) is a separate base that the scored match joins when the other evidence agrees.
 */
const CREATE_STAGE = `
create temp table clean_stage (
  rid bigint generated always as identity primary key,
  source_system text not null, customer_key text not null, seed_golden_id text not null,
  name_masked text, name_hash text, id_hash text, id_body_hash text, phone_hash text, id_valid boolean not null, phone_valid boolean not null,
  birth_date date, gender text, city text, city_tier int, occupation text, annual_income numeric(18,2), opened_at date, findings text,
  base_key text generated always as (case when id_hash is not null then 'id:' || id_hash || ':' || coalesce(name_hash, '') else 'sk:' || source_system || ':' || customer_key end) stored,
  name_initial text generated always as (left(name_masked, 1)) stored
) on commit drop`;

const FEATURES = 'base_key, id_hash, id_body_hash, name_hash, phone_hash, birth_date::text as birth_date, gender, city';

/**
 * Candidate pairs by blocking: records sharing a phone hash, an ID body hash, or a birth date and the first
 * character of the name, plus records of one valid ID under different names. Otherwise only pairs with at least
 * one record lacking a valid ID are compared: two different valid IDs are two persons. Each pair appears once
 * (a is the record without an ID, or the smaller rid when neither has one).
 */
const CANDIDATE_PAIRS = `
with probe as (select * from clean_stage where id_hash is null),
pair as (
  select a.rid as ra, b.rid as rb from er_renamed i join clean_stage a using (id_hash) join clean_stage b using (id_hash)
   where a.base_key < b.base_key
  union
  select a.rid, b.rid from probe a join clean_stage b on b.phone_hash = a.phone_hash
   where b.base_key <> a.base_key and (b.id_hash is not null or a.rid < b.rid)
  union
  select a.rid, b.rid from probe a join clean_stage b on b.id_body_hash = a.id_body_hash
   where b.base_key <> a.base_key and (b.id_hash is not null or a.rid < b.rid)
  union
  select a.rid, b.rid from probe a join clean_stage b on b.birth_date = a.birth_date and b.name_initial = a.name_initial
   where b.base_key <> a.base_key and (b.id_hash is not null or a.rid < b.rid)
)
select row_to_json(a) as a, row_to_json(b) as b
from pair p
join lateral (select ${FEATURES} from clean_stage where rid = p.ra) a on true
join lateral (select ${FEATURES} from clean_stage where rid = p.rb) b on true
order by p.ra, p.rb`;

/**
 * Golden ids. Every record's cluster; the previous run's golden_id of its source key. A previous golden_id
 * stays with the cluster holding the smallest of its source keys (so a split keeps it on one side); a cluster
 * holding several keeps the one of its smallest source key (a merge). A cluster holding none is new and takes
 * the keyed hash of its smallest source key, unless that id is already in use (a key that left a cluster and
 * came back), in which case a hash of that id and the cluster.
 */
const ASSIGN_GOLDEN_IDS = [
  `create temp table er_rec on commit drop as
select s.rid, s.source_system, s.customer_key, coalesce(l.cluster_key, s.base_key) as cluster, s.seed_golden_id, p.golden_id as prev_golden
from clean_stage s
left join er_links l on l.base_key = s.base_key
left join core.customer_sources p on p.run_id = $1 and p.source_system = s.source_system and p.customer_key = s.customer_key`,
  'create index on er_rec (cluster)',
  `create temp table er_owner on commit drop as
select distinct on (prev_golden) prev_golden, cluster, rid from er_rec where prev_golden is not null order by prev_golden, rid`,
  `create temp table er_golden on commit drop as
select cluster, (array_agg(prev_golden order by rid))[1] as golden_id, array_agg(prev_golden order by prev_golden) as absorbed
from er_owner group by cluster`,
  `insert into er_golden (cluster, golden_id)
select r.cluster, (array_agg(r.seed_golden_id order by r.rid))[1] from er_rec r
where not exists (select 1 from er_golden g where g.cluster = r.cluster) group by r.cluster`,
  `update er_golden n set golden_id = 'G' || left(md5(n.golden_id || '|' || n.cluster), 20)
where n.absorbed is null and exists (select 1 from er_golden o where o.absorbed is not null and o.golden_id = n.golden_id)`,
  'create unique index on er_golden (cluster)',
  'create unique index on er_golden (golden_id)',
];

const RECORD_IDENTITY_CHANGES = [
  `insert into core.identity_changes (run_id, previous_run_id, kind, golden_id, golden_ids)
select $1, $2, 'merge', golden_id, absorbed from er_golden where cardinality(absorbed) > 1`,
  `insert into core.identity_changes (run_id, previous_run_id, kind, golden_id, golden_ids)
select $1, $2, 'split', r.prev_golden, array_agg(distinct g.golden_id order by g.golden_id)
from er_rec r join er_golden g using (cluster) where r.prev_golden is not null
group by r.prev_golden having count(distinct r.cluster) > 1`,
];

const WRITE_LINEAGE = `
insert into core.customer_sources (run_id, source_system, customer_key, golden_id, match_rule, match_score, name_masked, name_hash, id_hash, id_body_hash,
  phone_hash, id_valid, phone_valid, birth_date, gender, city, city_tier, occupation, annual_income, opened_at, findings)
select $1, s.source_system, s.customer_key, g.golden_id,
       case when l.base_key is not null then 'scored' when s.id_hash is not null then 'id_number' else 'source_key' end, l.score,
       s.name_masked, s.name_hash, s.id_hash, s.id_body_hash, s.phone_hash, s.id_valid, s.phone_valid, s.birth_date, s.gender, s.city, s.city_tier,
       s.occupation, s.annual_income, s.opened_at,
       case when r.id_hash is null then s.findings
            else array_to_string(array(select unnest(string_to_array(s.findings, ',') || 'id_name_conflict'::text) order by 1), ',') end
from clean_stage s
left join er_renamed r on r.id_hash = s.id_hash
left join er_links l on l.base_key = s.base_key
join er_golden g on g.cluster = coalesce(l.cluster_key, s.base_key)
order by s.rid`;

/**
 * Survivorship, attribute by attribute: the first non-null value by source priority (core banking before the
 * card system), then records with a valid ID, then the most recently opened, then the key. Birth date and
 * gender of a valid ID already won inside each record (cleanCustomer); customer since = the earliest opening.
 * Each attribute is an aggregate over the person's whole partition of window `w`: "the ORDER BY clause determines
 * the order in which the rows of a partition are processed by the window function" (PostgreSQL manual, 4.2.8), so
 * the first element of the non-null values is the survivor, and one sort serves every attribute. Ten ordered
 * aggregates each sorted every person's rows (PostgreSQL 15): 17.5-21.1 s against 10.8 s at 1M, the same rows.
 */
const PRIORITY = `case source_system when 'core' then 0 when 'card' then 1 else 2 end, id_valid desc, opened_at desc nulls last, customer_key, source_system`;
const SURVIVING = ['name_masked', 'id_hash', 'phone_hash', 'birth_date', 'gender', 'city', 'city_tier', 'occupation', 'annual_income'];
const survivors = (when: (column: string) => string) => SURVIVING.map((c) => `array_agg(${c}) filter (where ${when(c)}) over w as ${c}`).join(',\n       ');
const WRITE_GOLDEN = `
insert into core.customers (run_id, golden_id, source_keys, ${SURVIVING.join(', ')}, id_valid, opened_at)
select distinct on (golden_id) run_id, golden_id, source_keys, ${SURVIVING.map((c) => `${c}[1]`).join(', ')}, id_valid, opened_at
from (
  select run_id, golden_id,
       string_agg(source_system || ':' || customer_key, ',') over k as source_keys,
       ${survivors((c) => (c === 'city_tier' ? 'city is not null' : `${c} is not null`))},
       bool_or(id_valid) over w as id_valid, min(opened_at) over w as opened_at
  from core.customer_sources where run_id = $1
  window k as (partition by golden_id order by source_system, customer_key rows between unbounded preceding and unbounded following),
         w as (partition by golden_id order by ${PRIORITY} rows between unbounded preceding and unbounded following)
) person
order by golden_id`;

/** Worker threads normalising records: the 2 cores this is sized for (PostgreSQL takes the COPY meanwhile). */
const CLEAN_THREADS = 2;
const CLEAN_BATCH_ROWS = 5_000;
const CLEAN_BATCHES_IN_FLIGHT = 4;

interface ResolutionSummary {
  source_records: number;
  candidate_pairs: number;
  scored_links: number;
  previous_run_id: string | null;
  /** Wall-clock seconds per phase (normalise, match, assign, write), for operators; never part of a snapshot. */
  phase_seconds: Record<string, number>;
}

/** Streams the candidate pairs through scorePair and clusters the accepted ones; only edges are held. */
async function linkCandidates(client: Client, heartbeat: (details: unknown) => void): Promise<{ pairs: number; edges: MatchEdge[] }> {
  const edges: MatchEdge[] = [];
  let pairs = 0;
  const stream = client.query(new QueryStream(CANDIDATE_PAIRS, [], { batchSize: 2000 }));
  for await (const row of stream as AsyncIterable<{ a: MatchRecord; b: MatchRecord }>) {
    pairs++;
    if (pairs % 50_000 === 0) heartbeat({ stage: 'match', pairs });
    const score = scorePair(row.a, row.b);
    if (score !== null && score >= MATCH_THRESHOLD) edges.push({ a: row.a.base_key, b: row.b.base_key, score });
  }
  return { pairs, edges };
}

/**
 * Normalises the run's landed customer records, resolves them into persons and writes the lineage
 * (core.customer_sources), the merges and splits against the previous run (core.identity_changes) and one
 * golden record per person (core.customers). All inside one transaction on one connection.
 */
async function resolveCustomers(deps: ActivityDeps, runId: string, previousRunId: string | null, heartbeat: (details: unknown) => void): Promise<ResolutionSummary> {
  const { db, databaseUrl, env } = deps;
  return withTransaction(databaseUrl, async (client) => {
    await client.query(bulkSessionSql(env.workMem));
    for (const table of ['customer_sources', 'customers', 'identity_changes']) await client.query(`delete from core.${table} where run_id = $1`, [runId]);
    const lap = phaseTimer();
    await client.query(CREATE_STAGE);
    let rows = 0;
    const copy = copyWriter(client, `copy clean_stage (${CLEAN_COLUMNS.join(', ')}) from stdin with (format csv)`);
    const source = db('landing.customers')
      .select('source_system', 'customer_key', 'name', 'id_number', 'phone', 'birth_date', 'gender', 'city', 'occupation', 'annual_income', 'opened_at')
      .where({ run_id: runId })
      .orderBy(['source_system', 'customer_key'])
      .stream() as AsyncIterable<RawCustomer>;
    // Batches cleaned on worker threads, written in the order read: rid follows (source_system, customer_key).
    const pool = new CleanPool(CLEAN_THREADS, env.piiKey);
    const inFlight: Promise<string>[] = [];
    let batch: RawCustomer[] = [];
    const submit = async () => {
      inFlight.push(pool.clean(batch));
      batch = [];
      while (inFlight.length > CLEAN_BATCHES_IN_FLIGHT) await copy.write(await inFlight.shift()!);
    };
    try {
      for await (const raw of source) {
        batch.push(raw);
        if (++rows % 50_000 === 0) heartbeat({ stage: 'normalise', rows });
        if (batch.length === CLEAN_BATCH_ROWS) await submit();
      }
      if (batch.length) await submit();
      while (inFlight.length) await copy.write(await inFlight.shift()!);
      await copy.end();
    } catch (err) {
      await copy.abort(err as Error);
      // Settle what is still in flight before the pool goes, so nothing rejects unobserved.
      await Promise.allSettled(inFlight);
      throw err;
    } finally {
      await pool.close();
    }
    await client.query(`create index on clean_stage (phone_hash); create index on clean_stage (id_body_hash);
                        create index on clean_stage (birth_date, name_initial); create index on clean_stage (base_key); create index on clean_stage (id_hash);
                        analyze clean_stage`);
    // Valid IDs carried by records under different names: compared by the scored match, and a finding on each.
    await client.query(`create temp table er_renamed on commit drop as
                        select id_hash from clean_stage where id_hash is not null group by id_hash having count(distinct base_key) > 1`);

    lap('normalise');
    const { pairs, edges } = await linkCandidates(client, heartbeat);
    const links = clusterEdges(edges);
    await client.query('create temp table er_links (base_key text primary key, cluster_key text not null, score smallint not null) on commit drop');
    const linkCopy = copyWriter(client, 'copy er_links (base_key, cluster_key, score) from stdin with (format csv)');
    for (const l of links) await linkCopy.write(csvLine([l.base_key, l.cluster_key, String(l.score)]));
    await linkCopy.end();

    lap('match');
    for (const statement of ASSIGN_GOLDEN_IDS) await client.query(statement, statement.includes('$1') ? [previousRunId] : []);
    if (previousRunId !== null) {
      for (const statement of RECORD_IDENTITY_CHANGES) await client.query(statement, [runId, previousRunId]);
    }
    lap('assign');
    await client.query(WRITE_LINEAGE, [runId]);
    await client.query(WRITE_GOLDEN, [runId]);
    lap('write');
    return { source_records: rows, candidate_pairs: pairs, scored_links: edges.length, previous_run_id: previousRunId, phase_seconds: lap.phases };
  }, { lockKey: `clean:${runId}` });
}

export function createCleanActivities(deps: ActivityDeps) {
  const { db, env, log } = deps;
  return {
    /**
     * Normalises every landed customer record, resolves the records into persons (same valid ID number, then a
     * scored match within blocks, clustered transitively), keeps each person's golden_id from the previous run,
     * records merges and splits, and builds one golden record per person by survivorship.
     */
    async cleanCustomers({ runId }: { runId: string }): Promise<StageResult> {
      const startedAt = new Date();
      // Stream callbacks run outside the activity's async context: keep a handle for heartbeats.
      const activity = Context.current();
      const heartbeat = (details: unknown) => activity.heartbeat(details);
      const run = await db('audit.runs').where({ run_id: runId }).first('as_of');
      if (!run) throw new Error(`cleanCustomers: run ${runId} has no audit row`);
      // The golden ids to keep: those of the latest successful run of an earlier date (as trigger events compare).
      const summary = await resolveCustomers(deps, runId, await previousSuccessfulRun(db, runId, run.as_of, 'core.customer_sources'), heartbeat);

      // resolveCustomers rebuilt the tables on its own connection (COPY, temp tables); the rest is the common path.
      return materialize(deps, {
        runId,
        stage: 'clean',
        startedAt,
        tables: ['core.customer_sources', 'core.customers'],
        snapshots: [customersSnapshot, identityChangesSnapshot],
        details: async (files) => {
          const byRule = await db('core.customer_sources').where({ run_id: runId }).select('match_rule').count('* as n').groupBy('match_rule').orderBy('match_rule');
          const findings = await db.raw<{ rows: { finding: string; n: string }[] }>(
            `select f as finding, count(*) as n from core.customer_sources, unnest(string_to_array(findings, ',')) f where run_id = ? group by f order by f`,
            [runId],
          );
          const changes = await db('core.identity_changes').where({ run_id: runId }).select('kind').count('* as n').groupBy('kind').orderBy('kind');
          const goldenCount = files[0]!.rows;
          const identityChanges = Object.fromEntries(changes.map((c) => [c.kind, Number(c.n)]));
          log.info({ run_id: runId, stage: 'clean', source_records: summary.source_records, golden: goldenCount, scored_links: summary.scored_links, identity_changes: identityChanges }, 'customers resolved');
          return {
            ...summary,
            golden_customers: goldenCount,
            match_rules: Object.fromEntries(byRule.map((r) => [r.match_rule, Number(r.n)])),
            findings: Object.fromEntries(findings.rows.map((r) => [r.finding, Number(r.n)])),
            identity_changes: identityChanges,
          };
        },
      });
    },
  };
}
