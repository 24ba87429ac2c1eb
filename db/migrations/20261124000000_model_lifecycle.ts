import type { Knex } from 'knex';

/** Model lifecycle: what each model was trained and judged on, calibration, reason codes per score, and a decision log. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('audit').alterTable('models', (t) => {
    // Fingerprint of training rows + features + params + seed: the same key means nothing new to learn.
    t.text('training_key');
    t.text('training_snapshot_path');
    t.text('training_snapshot_sha256');
    t.date('training_until');
    t.date('holdout_from');
    t.jsonb('excluded_features').notNullable().defaultTo('[]');
    /** Share of positives among all labelled contacts; scores are prior-corrected to it. */
    t.double('positive_rate');
    t.timestamp('promoted_at', { useTz: true });
    t.index(['product', 'training_key']);
  });
  await knex.schema.withSchema('audit').createTable('model_events', (t) => {
    t.bigIncrements('event_id');
    t.text('model_version').notNullable();
    t.text('product').notNullable();
    // registered | promoted | kept_champion | retired
    t.text('event').notNullable();
    t.text('reason').notNullable();
    t.text('detail').notNullable();
    t.text('run_id').notNullable();
    t.text('champion_version');
    t.double('candidate_auc');
    t.double('champion_auc');
    t.integer('holdout_rows');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['model_version', 'event', 'run_id']);
    t.index(['product', 'created_at']);
  });
  await knex.schema.withSchema('mart').alterTable('scores', (t) => {
    // Top contributing features, e.g. "loan_views_30d:+0.081;total_deposits:+0.034;age:-0.012".
    t.text('reasons');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('mart').alterTable('scores', (t) => t.dropColumn('reasons'));
  await knex.schema.withSchema('audit').dropTable('model_events');
  await knex.schema.withSchema('audit').alterTable('models', (t) => {
    t.dropIndex(['product', 'training_key']);
    for (const c of ['training_key', 'training_snapshot_path', 'training_snapshot_sha256', 'training_until', 'holdout_from', 'excluded_features', 'positive_rate', 'promoted_at']) t.dropColumn(c);
  });
}
