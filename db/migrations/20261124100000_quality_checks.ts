import type { Knex } from 'knex';

/** Data-quality history (one row per check per run) and the contract version and reasons of each source load. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('audit').createTable('quality_checks', (t) => {
    t.text('run_id').notNullable().references('run_id').inTable('audit.runs').onDelete('CASCADE');
    t.text('source').notNullable();
    t.text('check_name').notNullable();
    t.text('status').notNullable();
    t.text('severity').notNullable();
    t.double('measured');
    t.double('threshold').notNullable();
    t.text('message').notNullable();
    t.date('as_of').notNullable();
    t.text('contracts_version').notNullable();
    t.timestamp('checked_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['run_id', 'source', 'check_name']);
    t.index(['source', 'check_name', 'as_of']);
  });
  await knex.raw(`alter table audit.quality_checks add constraint quality_checks_status check (status in ('pass', 'warn', 'fail'))`);
  await knex.schema.withSchema('audit').alterTable('source_loads', (t) => {
    t.jsonb('reasons').notNullable().defaultTo('{}');
    t.text('contracts_version');
    t.text('contracts_sha256');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('audit').alterTable('source_loads', (t) => t.dropColumns('reasons', 'contracts_version', 'contracts_sha256'));
  await knex.schema.withSchema('audit').dropTableIfExists('quality_checks');
}
