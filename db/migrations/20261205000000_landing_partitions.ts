import type { Knex } from 'knex';
import { landingPartitionName, sqlLiteral } from '../landing';

/**
 * Landing tables become partitioned by list on run_id, one partition per run (see db/landing.ts). Rows already
 * loaded move into a partition of their run. The BRIN index on run_id goes: every partition holds one run.
 */
export async function up(knex: Knex): Promise<void> {
  for (const table of await landingTables(knex, 'r')) {
    const old = `${table}__unpartitioned`;
    await knex.raw(`alter table landing.${table} rename to ${old}`);
    await knex.raw(`drop index if exists landing.${table}_run_id_brin`);
    await knex.raw(`create table landing.${table} (like landing.${old} including defaults) partition by list (run_id)`);
    const { rows } = await knex.raw(`select distinct run_id from landing.${old} order by run_id`);
    for (const { run_id: runId } of rows as { run_id: string }[]) {
      const part = landingPartitionName(table, runId);
      await knex.raw(`create table landing.${part} partition of landing.${table} for values in (${sqlLiteral(runId)})`);
      await knex.raw(`insert into landing.${part} select * from landing.${old} where run_id = ${sqlLiteral(runId)}`);
    }
    await knex.raw(`drop table landing.${old}`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of await landingTables(knex, 'p')) {
    const old = `${table}__partitioned`;
    await knex.raw(`alter table landing.${table} rename to ${old}`);
    await knex.raw(`create table landing.${table} (like landing.${old} including defaults)`);
    await knex.raw(`insert into landing.${table} select * from landing.${old}`);
    await knex.raw(`drop table landing.${old}`);
    await knex.raw(`create index ${table}_run_id_brin on landing.${table} using brin (run_id) with (autosummarize = on)`);
  }
}

/** Source tables of the landing schema: plain ('r') or partitioned ('p') parents, not partitions or work tables. */
async function landingTables(knex: Knex, kind: 'r' | 'p'): Promise<string[]> {
  const { rows } = await knex.raw(
    `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'landing' and c.relkind = ? and not c.relispartition and c.relname not like 'dup\\_%'
      order by c.relname`,
    [kind],
  );
  return (rows as { relname: string }[]).map((r) => r.relname);
}
