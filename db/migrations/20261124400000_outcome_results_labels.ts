import type { Knex } from 'knex';

/**
 * Outcomes measured against the control group: per-contact breakdown columns, one results row per campaign and
 * breakdown (campaign, segment, channel, score decile), and the labelled contacts the next training set reads.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('campaign').alterTable('outcomes', (t) => {
    t.date('contacted_on');
    t.text('segment');
    t.text('channel');
    t.integer('score_decile');
  });
  await knex.schema.withSchema('campaign').createTable('results', (t) => {
    t.text('run_id').notNullable();
    t.text('campaign_id').notNullable();
    /** campaign (value 'all'), segment, channel or score_decile. */
    t.text('dimension').notNullable();
    t.text('dimension_value').notNullable();
    t.integer('treatment_contacts').notNullable();
    t.integer('treatment_conversions').notNullable();
    t.integer('control_contacts').notNullable();
    t.integer('control_conversions').notNullable();
    t.double('treatment_rate');
    t.double('control_rate');
    t.double('absolute_lift');
    t.double('absolute_lift_lo');
    t.double('absolute_lift_hi');
    t.double('absolute_lift_newcombe_lo');
    t.double('absolute_lift_newcombe_hi');
    t.double('relative_lift');
    t.double('relative_lift_lo');
    t.double('relative_lift_hi');
    t.double('incremental_conversions');
    t.double('cost').notNullable();
    t.double('value').notNullable();
    t.double('incremental_value');
    t.double('roi');
    /** score_decile rows: uplift and Qini of the contacts in this decile and the better ones. */
    t.double('uplift_at_k');
    t.double('qini');
    /** campaign row: the Qini coefficient of the score deciles. */
    t.double('qini_coefficient');
    t.primary(['run_id', 'campaign_id', 'dimension', 'dimension_value']);
  });
  await knex.schema.withSchema('campaign').createTable('outcome_labels', (t) => {
    t.text('run_id').notNullable();
    t.text('campaign_id').notNullable();
    t.text('golden_id').notNullable();
    t.text('arm').notNullable();
    t.text('product').notNullable();
    t.text('channel').notNullable();
    /** The contact date (control: the date it would have been contacted). */
    t.date('contacted_on').notNullable();
    t.integer('window_days').notNullable();
    /** Conversions are known up to this date (the as-of date of the extracts read); the label is final once ≥ contacted_on + window_days. */
    t.date('observed_through').notNullable();
    t.boolean('converted').notNullable();
    t.date('converted_at');
    t.primary(['run_id', 'campaign_id', 'golden_id']);
    t.index(['product', 'contacted_on']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('campaign').dropTable('outcome_labels');
  await knex.schema.withSchema('campaign').dropTable('results');
  await knex.schema.withSchema('campaign').alterTable('outcomes', (t) => {
    t.dropColumns('contacted_on', 'segment', 'channel', 'score_decile');
  });
}
