import type { Knex } from 'knex';

/**
 * The campaign's product on every eligibility verdict and dispatch row: what was offered is part of the ledger (and of
 * the snapshots that carry it), not something a reader must look up in the run's config. Null in rows written before.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('campaign').alterTable('eligibility', (t) => t.text('product'));
  await knex.schema.withSchema('campaign').alterTable('dispatch', (t) => t.text('product'));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('campaign').alterTable('dispatch', (t) => t.dropColumn('product'));
  await knex.schema.withSchema('campaign').alterTable('eligibility', (t) => t.dropColumn('product'));
}
