import type { Knex } from 'knex';

/** The facts behind each exclusion (consent record, contacts counted, ...), so explain reads them, not recomputes them. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('campaign').alterTable('eligibility', (t) => {
    t.jsonb('facts');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('campaign').alterTable('eligibility', (t) => {
    t.dropColumn('facts');
  });
}
