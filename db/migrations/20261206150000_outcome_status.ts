import type { Knex } from 'knex';

/**
 * Outcome status per results row: `final` once the attribution window is observed to its end, `pending` before
 * (window still open, or outcomes not collected yet) with the date it becomes final. A pending row has no lift, ROI
 * or value, and a campaign whose outcomes were never collected has no conversion counts at all (null, not 0).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('campaign').alterTable('results', (t) => {
    t.text('status').notNullable().defaultTo('final');
    t.date('final_on');
    t.date('observed_through');
  });
  await knex.raw('alter table campaign.results alter column treatment_conversions drop not null, alter column control_conversions drop not null, alter column value drop not null');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('campaign').alterTable('results', (t) => {
    t.dropColumns('status', 'final_on', 'observed_through');
  });
}
