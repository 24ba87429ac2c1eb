import type { Knex } from 'knex';

/**
 * The manifest chain: each run records which succeeded run preceded it and that run's chain sha256, fixed at
 * finalize so a later rewrite of its own manifest (outcomes) keeps the same link.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('audit').alterTable('runs', (t) => {
    t.text('previous_run_id');
    t.text('previous_manifest_sha256');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('audit').alterTable('runs', (t) => {
    t.dropColumn('previous_manifest_sha256');
    t.dropColumn('previous_run_id');
  });
}
