import type { Knex } from 'knex';

/** Complaints source; tag catalogue 2026.11.2 columns, trigger events, segment memberships and profiles, clusters. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('landing').createTable('complaints', (t) => {
    t.text('run_id').notNullable();
    t.bigInteger('row_number').notNullable();
    t.text('complaint_id').notNullable();
    t.text('customer_key').notNullable();
    t.timestamp('complaint_ts', { useTz: true }).notNullable();
    t.text('category').notNullable();
    t.text('status').notNullable();
    t.index(['run_id']);
  });
  await knex.schema.withSchema('mart').alterTable('tags', (t) => {
    t.text('income_band');
    t.text('aum_band');
    t.double('deposit_trend_30d');
    t.double('time_deposit_balance');
    t.boolean('deposit_loan_gap');
    t.double('txn_amount_90d');
    t.double('inflow_30d');
    t.double('outflow_30d');
    t.text('preferred_channel');
    t.text('active_time_band');
    t.double('salary_amount_avg');
    t.integer('app_logins_7d');
    t.integer('days_since_last_login');
    t.integer('overdue_loan_count');
    t.text('credit_band');
    t.integer('rfm_recency_score');
    t.integer('rfm_frequency_score');
    t.integer('rfm_monetary_score');
    t.text('rfm_cell');
    t.double('clv_proxy');
    t.integer('cross_sell_count');
    t.integer('calculator_uses_7d');
    t.integer('application_starts_7d');
    t.integer('complaints_90d');
  });
  await knex.schema.withSchema('mart').createTable('trigger_events', (t) => {
    t.text('run_id').notNullable();
    t.text('golden_id').notNullable();
    t.text('event').notNullable();
    t.text('previous_run_id').notNullable();
    t.double('previous_value');
    t.double('current_value');
    t.primary(['run_id', 'golden_id', 'event']);
  });
  await knex.schema.withSchema('mart').createTable('segment_memberships', (t) => {
    t.text('run_id').notNullable();
    t.text('golden_id').notNullable();
    t.text('segment').notNullable();
    t.boolean('is_primary').notNullable();
    t.primary(['run_id', 'golden_id', 'segment']);
  });
  await knex.schema.withSchema('mart').createTable('segment_profiles', (t) => {
    t.text('run_id').notNullable();
    t.text('segment').notNullable();
    t.integer('priority').notNullable();
    t.integer('primary_size').notNullable();
    t.integer('members').notNullable();
    t.double('share').notNullable();
    t.jsonb('medians').notNullable();
    t.jsonb('distinguishing').notNullable();
    t.primary(['run_id', 'segment']);
  });
  await knex.schema.withSchema('mart').createTable('clusters', (t) => {
    t.text('run_id').notNullable();
    t.text('golden_id').notNullable();
    t.integer('cluster').notNullable();
    t.primary(['run_id', 'golden_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['clusters', 'segment_profiles', 'segment_memberships', 'trigger_events']) await knex.schema.withSchema('mart').dropTableIfExists(table);
  await knex.schema.withSchema('landing').dropTableIfExists('complaints');
  await knex.schema.withSchema('mart').alterTable('tags', (t) => {
    t.dropColumns('income_band', 'aum_band', 'deposit_trend_30d', 'time_deposit_balance', 'deposit_loan_gap', 'txn_amount_90d', 'inflow_30d', 'outflow_30d',
      'preferred_channel', 'active_time_band', 'salary_amount_avg', 'app_logins_7d', 'days_since_last_login', 'overdue_loan_count', 'credit_band',
      'rfm_recency_score', 'rfm_frequency_score', 'rfm_monetary_score', 'rfm_cell', 'clv_proxy', 'cross_sell_count', 'calculator_uses_7d', 'application_starts_7d', 'complaints_90d');
  });
}
