import { createHash } from 'node:crypto';

/**
 * Landing tables are partitioned by list on run_id, one partition per run. A run's partition is built as a
 * standalone table (COPY, duplicate pass, ANALYZE) and attached when its load commits: ATTACH takes only a SHARE
 * UPDATE EXCLUSIVE lock on the parent, so readers of other runs never wait, and a CHECK constraint equal to the
 * partition bound lets it skip the validation scan. Each partition has statistics of its own run's rows, so the
 * plans of run 365 are built for run 365 (a shared table's statistics described run 1 only).
 */

/** Anything that runs a parameterless SQL statement: a pg Client or a knex instance/transaction (via raw). */
export interface SqlRunner {
  query(sql: string): Promise<{ rows: Record<string, unknown>[] }>;
}

/** Partition table name (without schema) of a source's landing rows for one run: readable, ≤ 63 bytes, unique. */
export function landingPartitionName(source: string, runId: string): string {
  const plain = runId.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const tag = createHash('sha256').update(runId).digest('hex').slice(0, 8);
  // The hash keeps names unique when the plain form is cut or lost characters (run ids are case-sensitive).
  return `${source}__${plain.slice(0, 63 - source.length - 2 - 9)}_${tag}`;
}

/** A single-quoted SQL literal (identifiers and run ids go into DDL, which takes no bind parameters). */
export function sqlLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * Creates an empty standalone table shaped like `landing.<source>` with the partition's CHECK constraint and the run
 * id as run_id's default, to be loaded and then attached with {@link attachLandingPartition}. Drops a leftover table
 * of that name first.
 */
export async function createDetachedLandingPartition(sql: SqlRunner, source: string, runId: string): Promise<string> {
  const name = landingPartitionName(source, runId);
  await sql.query(`drop table if exists landing.${name}`);
  await sql.query(`create table landing.${name} (like landing.${source} including defaults, constraint ${name}_run check (run_id = ${sqlLiteral(runId)}))`);
  // The run id as the default: a load leaves it out of every row of its COPY text (~20 bytes a row to send and parse).
  await sql.query(`alter table landing.${name} alter column run_id set default ${sqlLiteral(runId)}`);
  return `landing.${name}`;
}

/** Attaches a table made by {@link createDetachedLandingPartition} as the run's partition (no validation scan). */
export async function attachLandingPartition(sql: SqlRunner, source: string, runId: string): Promise<void> {
  await sql.query(`alter table landing.${source} attach partition landing.${landingPartitionName(source, runId)} for values in (${sqlLiteral(runId)})`);
}

/** Is a partition of `landing.<source>` attached for the run? */
export async function landingPartitionAttached(sql: SqlRunner, source: string, runId: string): Promise<boolean> {
  const { rows } = await sql.query(
    `select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'landing' and c.relname = ${sqlLiteral(landingPartitionName(source, runId))}`,
  );
  return rows.length > 0;
}

/**
 * The run's partition of `landing.<source>`, created empty and attached if missing (tests, benchmarks and tools that
 * insert rows themselves; ingest builds its partitions detached).
 */
export async function ensureLandingPartition(sql: SqlRunner, source: string, runId: string): Promise<string> {
  const name = landingPartitionName(source, runId);
  await sql.query(`create table if not exists landing.${name} partition of landing.${source} for values in (${sqlLiteral(runId)})`);
  return `landing.${name}`;
}

/**
 * Removes the run's partition of `landing.<source>` if there is one. DETACH … CONCURRENTLY takes no lock that
 * blocks readers of other runs (a plain DETACH or DROP of an attached partition takes ACCESS EXCLUSIVE on the
 * parent); it cannot run inside a transaction, so `sql` must be a connection in autocommit mode. A detach left
 * pending by an interrupted earlier attempt is finalized first.
 */
export async function dropLandingPartition(sql: SqlRunner, source: string, runId: string): Promise<boolean> {
  const name = landingPartitionName(source, runId);
  const { rows } = await sql.query(
    `select i.inhdetachpending as pending from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'landing' and c.relname = ${sqlLiteral(name)}`,
  );
  if (rows.length > 0) {
    const pending = rows[0]!.pending === true;
    await sql.query(`alter table landing.${source} detach partition landing.${name} ${pending ? 'finalize' : 'concurrently'}`);
  }
  const { rows: exists } = await sql.query(`select to_regclass(${sqlLiteral(`landing.${name}`)}) is not null as present`);
  if (exists[0]!.present !== true) return false;
  await sql.query(`drop table landing.${name}`);
  return true;
}

/** Run ids that have at least one landing partition, with their source tables. */
export async function landingPartitions(sql: SqlRunner): Promise<{ source: string; runId: string; table: string }[]> {
  const { rows } = await sql.query(
    `select p.relname as source, c.relname as "table", pg_get_expr(c.relpartbound, c.oid) as bound
       from pg_inherits i
       join pg_class c on c.oid = i.inhrelid
       join pg_class p on p.oid = i.inhparent
       join pg_namespace n on n.oid = p.relnamespace
      where n.nspname = 'landing' and p.relkind = 'p'
      order by p.relname, c.relname`,
  );
  return rows.map((r) => ({ source: String(r.source), table: `landing.${String(r.table)}`, runId: boundRunId(String(r.bound)) }));
}

/** `FOR VALUES IN ('run-1')` → run-1. */
function boundRunId(bound: string): string {
  const m = /^FOR VALUES IN \('((?:[^']|'')*)'\)$/.exec(bound);
  if (!m) throw new Error(`unexpected landing partition bound ${bound}`);
  return m[1]!.replace(/''/g, "'");
}
