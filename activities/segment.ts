import { StringDecoder } from 'node:string_decoder';
import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { ActivityDeps } from './deps';
import { materialize, rebuild, snapshotRun } from '../relations/materialize';
import { clusters, INTEGER_TAGS, PROFILE_MEDIANS, segmentProfiles, segments } from '../relations/snapshots';
import { csvLine } from './ingest';
import { bulkSessionSql, copyWriter, withTransaction } from './pg';
import { checkSegmentRules, compileRules, compileSegments } from '../transforms/segmentRules';
import { FEATURE_TAGS, TAGS } from '../transforms/tagCatalogue';
import { chooseK, fitStandardiser, relabelBySize, standardise } from '../models/kmeans';
import { ErrorType, type StageResult } from '../shared';
import { phaseTimer } from './phaseTimer';
import type { PortraitConfig, SegmentRule } from '../config/schema';

const BOOLEAN_TAGS = new Set(TAGS.filter((t) => t.type === 'boolean').map((t) => t.id));
/** A numeric view of a tag column (booleans as 0/1); ids come from the catalogue, so quoting is safe. */
const num = (id: string) => (BOOLEAN_TAGS.has(id) ? `t."${id}"::int::float8` : `t."${id}"::float8`);
/**
 * A tag as its means and deviations take it: a float8 sum depends on the order rows arrive in (plan, parallel
 * workers), so doubles become numeric (float8 -> numeric prints and parses each value: most of the cost). Counts
 * and booleans stay int4, whose avg and stddev_pop sum exactly in integers and give the same numeric results.
 */
const exact = (id: string) => (BOOLEAN_TAGS.has(id) || INTEGER_TAGS.has(id) ? `t."${id}"::int` : `t."${id}"::numeric`);

export function createSegmentActivities(deps: ActivityDeps) {
  const { db, log, databaseUrl } = deps;
  return {
    /**
     * Primary segment = the first rule (priority order) a customer matches; memberships = every rule matched.
     * Then per-segment profiles and, when enabled, seeded exploratory k-means clusters.
     */
    async assignSegments({ runId, rules, clustering, seed }: { runId: string; rules: SegmentRule[]; clustering: PortraitConfig['clustering']; seed: number }): Promise<StageResult> {
      const startedAt = new Date();
      const lap = phaseTimer();
      const problems = checkSegmentRules(rules);
      if (problems.length) throw ApplicationFailure.nonRetryable(`invalid segment rules: ${problems.join('; ')}`, ErrorType.InvalidConfig);
      const primary = compileSegments(rules);
      // Dispatch and outcomes join this run's segments: rebuild analyzes them, so their plans see its rows.
      try {
        await rebuild(db, runId, ['mart.segments', 'mart.segment_memberships'], async (trx) => {
          await trx.raw(bulkSessionSql(deps.env.workMem));
          await trx.raw(`insert into mart.segments (run_id, golden_id, segment) select run_id, golden_id, ${primary.sql} from mart.tags where run_id = ?`, [...primary.bindings, runId]);
          // Every rule in one pass over the run's tags (a statement per rule read them once per rule); the primary
          // segment computed beside them, not joined back from mart.segments (1M: 11.2-12.0 -> 8.4-8.6 s of CPU).
          const compiled = compileRules(rules);
          await trx.raw(
            `insert into mart.segment_memberships (run_id, golden_id, segment, is_primary)
             select t.run_id, t.golden_id, m.segment, m.segment = t.primary_segment
             from (select *, ${primary.sql} as primary_segment from mart.tags where run_id = ? offset 0 /* once per customer */) t
             cross join lateral (values ${compiled.map((rule) => `(?::text, (${rule.sql})::boolean)`).join(', ')}) m(segment, hit)
             where m.hit`,
            [...primary.bindings, runId, ...compiled.flatMap((rule) => [rule.id, ...rule.bindings])],
          );
        });
      } catch (err) {
        // mart.segments.segment is not null: a customer no rule matches stops the insert. Retrying cannot help.
        const { code, column } = err as { code?: string; column?: string };
        if (code === '23502' && column === 'segment') {
          const [{ n }] = (await db.raw(`select count(*)::int as n from mart.tags where run_id = ? and (${primary.sql}) is null`, [runId, ...primary.bindings])).rows as { n: number }[];
          throw ApplicationFailure.nonRetryable(`${n} customers matched no segment; the last rule must be the catch-all 'true'`, ErrorType.InvalidConfig);
        }
        throw err;
      }
      lap('assign');
      const profiles = await writeProfiles(runId, rules);
      lap('profiles');
      let clusterDetails: Record<string, unknown> | undefined;
      // The tables were rebuilt and analyzed above (profiles need them committed); the rest is the common path.
      return materialize(deps, {
        runId,
        stage: 'segment',
        startedAt,
        tables: [],
        snapshots: [segments, segmentProfiles],
        moreFiles: async () => {
          lap('snapshots');
          if (!clustering.enabled) return [];
          const result = await assignClusters(runId, clustering, seed);
          clusterDetails = result.details;
          lap('clusters');
          return [result.file];
        },
        details: async () => {
          const segmentSizes = Object.fromEntries(profiles.map((p) => [p.segment, p.primary_size]));
          log.info({ run_id: runId, stage: 'segment', segments: segmentSizes }, 'segments assigned');
          return { segments: segmentSizes, profiles, clusters: clusterDetails, phase_seconds: lap.phases };
        },
      });
    },
  };

  /** Size, share, medians of key tags and the tags that most set each segment apart (standardised mean difference). */
  async function writeProfiles(runId: string, rules: SegmentRule[]) {
    // One pass: each value converted to numeric once (the conversion is most of the cost), segments and population
    // aggregated together; then the medians, which need no numeric.
    const stats = (await db.raw(
      `select grouping(segment) = 1 as population, segment, count(*)::int as n,
              ${FEATURE_TAGS.map((id) => `avg(v."${id}") as "${id}", stddev_pop(v."${id}") as "sd_${id}"`).join(', ')}
       from (select s.segment, ${FEATURE_TAGS.map((id) => `${exact(id)} as "${id}"`).join(', ')}
             from mart.tags t join mart.segments s on s.run_id = t.run_id and s.golden_id = t.golden_id where t.run_id = ? offset 0) v
       group by grouping sets ((segment), ())`,
      [runId],
    )).rows as (Record<string, number | string | null> & { population: boolean })[];
    const population = stats.find((r) => r.population)!;
    const medians = (await db.raw(
      `select s.segment, ${PROFILE_MEDIANS.map((id) => `percentile_cont(0.5) within group (order by ${num(id)}) as "median_${id}"`).join(', ')}
       from mart.tags t join mart.segments s on s.run_id = t.run_id and s.golden_id = t.golden_id where t.run_id = ? group by s.segment`,
      [runId],
    )).rows as Record<string, number | string | null>[];
    const bySegment = stats.filter((r) => !r.population).map((r) => ({ ...r, ...medians.find((m) => m.segment === r.segment) }));
    const members = await db('mart.segment_memberships').where({ run_id: runId }).select('segment').count('* as n').groupBy('segment');
    const total = Number(population.n);
    const profiles = rules.map((rule, priority) => {
      const row = bySegment.find((r) => r.segment === rule.id);
      const size = row ? Number(row.n) : 0;
      const distinguishing = row
        ? FEATURE_TAGS.filter((id) => Number(population[`sd_${id}`]) > 0 && row[id] !== null)
            .map((id) => ({ tag: id, segment_mean: round(Number(row[id])), population_mean: round(Number(population[id])), smd: round((Number(row[id]) - Number(population[id])) / Number(population[`sd_${id}`])) }))
            .sort((a, b) => Math.abs(b.smd) - Math.abs(a.smd) || a.tag.localeCompare(b.tag))
            .slice(0, 5)
        : [];
      const medians = Object.fromEntries(PROFILE_MEDIANS.map((id) => [id, row && row[`median_${id}`] !== null ? round(Number(row[`median_${id}`])) : null]));
      return { segment: rule.id, priority: priority + 1, primary_size: size, members: Number(members.find((m) => m.segment === rule.id)?.n ?? 0), share: total ? round(size / total) : 0, medians, distinguishing };
    });
    await db.transaction(async (trx) => {
      await trx('mart.segment_profiles').where({ run_id: runId }).delete();
      await trx('mart.segment_profiles').insert(profiles.map((p) => ({ run_id: runId, ...p, medians: JSON.stringify(p.medians), distinguishing: JSON.stringify(p.distinguishing) })));
    });
    return profiles;
  }

  /**
   * k chosen by silhouette on a deterministic sample (smallest md5 of golden_id), then every customer is streamed
   * and assigned to the nearest centroid: memory is bounded by the sample, not the customer base.
   */
  async function assignClusters(runId: string, clustering: PortraitConfig['clustering'], seed: number) {
    // config/schema.ts refuses these at load; a run started with an unparsed config still stops here.
    const unknown = clustering.features.filter((f) => !FEATURE_TAGS.includes(f));
    if (unknown.length) throw ApplicationFailure.nonRetryable(`clustering.features: not numeric tags: ${unknown.join(', ')}`, ErrorType.InvalidConfig);
    const features = clustering.features;
    const select = features.map((f) => `${num(f)} as "${f}"`).join(', ');
    const sampleRows = (await db.raw(`select ${select} from mart.tags t where run_id = ? order by md5(golden_id || ?), golden_id limit ?`, [runId, String(seed), clustering.sampleSize])).rows as Record<string, number | null>[];
    const toRow = (r: Record<string, number | null>) => features.map((f) => (r[f] === null ? null : Number(r[f])));
    const standardiser = fitStandardiser(sampleRows.map(toRow), features);
    const sample = standardise(sampleRows.map(toRow), standardiser);
    const ks = clustering.k.filter((k) => k < sample.length);
    const { best, scores } = chooseK(sample, ks, `${seed}:clusters`);
    const model = relabelBySize(best);
    const sizes = new Array<number>(model.k).fill(0);
    const reader = new Client({ connectionString: databaseUrl });
    await reader.connect();
    try {
      await withTransaction(databaseUrl, async (client) => {
        await client.query('delete from mart.clusters where run_id = $1', [runId]);
        const copy = copyWriter(client, 'copy mart.clusters (run_id, golden_id, cluster) from stdin with (format csv)');
        // COPY text, not row objects: at 1M customers the objects and a write per row took most of the stage.
        const rows = reader.query(copyTo(`copy (${db.raw(`select golden_id, ${select} from mart.tags t where run_id = ? order by golden_id`, [runId]).toQuery()}) to stdout`));
        let out = '';
        let n = 0;
        for await (const line of copyLines(rows)) {
          const fields = line.split('\t');
          // Numbers as node-postgres would parse them (parseFloat of the same text); \N is COPY's null.
          const [point] = standardise([fields.slice(1).map((v) => (v === '\\N' ? null : Number(v)))], standardiser);
          let bestCluster = 0;
          let bestDistance = Infinity;
          model.centroids.forEach((c, k) => {
            let dist = 0;
            for (let j = 0; j < c.length; j++) dist += (point![j]! - c[j]!) ** 2;
            if (dist < bestDistance) {
              bestDistance = dist;
              bestCluster = k;
            }
          });
          sizes[bestCluster]!++;
          out += csvLine([runId, fields[0]!, String(bestCluster)]);
          if (out.length > 1 << 20) {
            await copy.write(out);
            out = '';
          }
          if (++n % 50_000 === 0) heartbeat({ clustered: n });
        }
        await copy.write(out);
        await copy.end();
      }, { lockKey: `clusters:${runId}` });
    } finally {
      await reader.end();
    }
    await db.raw('analyze mart.clusters');
    const [file] = await snapshotRun(deps, runId, [clusters]);
    const details = { k: model.k, features, sizes, silhouette_by_k: Object.fromEntries(scores.map((s) => [s.k, round(s.silhouette)])), sample: sample.length };
    return { file: file!, details };
  }
}

/** The lines of a COPY … TO STDOUT (text format) stream, without their line breaks. */
async function* copyLines(stream: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of stream) {
    const text = rest + decoder.write(chunk);
    const lines = text.split('\n');
    rest = lines.pop()!;
    yield* lines;
  }
  rest += decoder.end();
  if (rest) yield rest;
}

function round(x: number): number {
  return Number(x.toFixed(4));
}
