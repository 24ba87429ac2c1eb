import type { Knex } from 'knex';

/** Landing (validated source rows), core (golden customers), mart (tags, segments, scores), campaign, audit. */
export async function up(knex: Knex): Promise<void> {
  for (const schema of ['landing', 'core', 'mart', 'campaign', 'audit']) await knex.raw(`create schema if not exists ${schema}`);

  await knex.schema.withSchema('audit').createTable('runs', (t) => {
    t.text('run_id').primary();
    t.date('as_of').notNullable();
    t.text('workflow_id');
    t.text('input_dir').notNullable();
    t.text('config_sha256').notNullable();
    t.jsonb('config').notNullable();
    t.text('code_version').notNullable();
    t.jsonb('model_versions').notNullable().defaultTo('{}');
    t.bigInteger('seed').notNullable();
    t.text('status').notNullable();
    t.text('error');
    t.text('snapshot_dir').notNullable();
    t.text('manifest_sha256');
    t.timestamp('started_at', { useTz: true }).notNullable();
    t.timestamp('finished_at', { useTz: true });
    t.index(['as_of']);
  });
  await knex.schema.withSchema('audit').createTable('stage_runs', (t) => {
    t.text('run_id').notNullable().references('run_id').inTable('audit.runs').onDelete('CASCADE');
    t.text('stage').notNullable();
    t.bigInteger('rows').notNullable();
    t.jsonb('files').notNullable();
    t.jsonb('details').notNullable().defaultTo('{}');
    t.timestamp('started_at', { useTz: true }).notNullable();
    t.timestamp('finished_at', { useTz: true }).notNullable();
    t.integer('duration_ms').notNullable();
    t.primary(['run_id', 'stage']);
  });
  await knex.schema.withSchema('audit').createTable('source_loads', (t) => {
    t.text('run_id').notNullable().references('run_id').inTable('audit.runs').onDelete('CASCADE');
    t.text('source').notNullable();
    t.text('file').notNullable();
    t.text('file_sha256').notNullable();
    t.bigInteger('rows_in').notNullable();
    t.bigInteger('loaded').notNullable();
    t.bigInteger('quarantined').notNullable();
    t.primary(['run_id', 'source']);
  });
  await knex.schema.withSchema('audit').createTable('quarantine', (t) => {
    t.text('run_id').notNullable();
    t.text('source').notNullable();
    t.bigInteger('row_number').notNullable();
    t.text('reason_code').notNullable();
    t.text('message').notNullable();
    t.jsonb('raw_masked');
    t.primary(['run_id', 'source', 'row_number']);
  });
  await knex.schema.withSchema('audit').createTable('models', (t) => {
    t.text('model_version').primary();
    t.text('product').notNullable();
    t.text('algorithm').notNullable();
    t.jsonb('params').notNullable();
    t.bigInteger('seed').notNullable();
    t.jsonb('features').notNullable();
    t.integer('training_rows').notNullable();
    t.text('training_sha256').notNullable();
    t.jsonb('metrics').notNullable();
    t.text('path').notNullable();
    t.text('sha256').notNullable();
    t.text('status').notNullable();
    t.text('trained_by_run');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`create unique index models_one_champion on audit.models (product) where status = 'champion'`);

  // Landing: one table per source, partitioned logically by run_id; row_number is the 1-based data row in the file.
  const landing = (name: string, cols: (t: Knex.CreateTableBuilder) => void) =>
    knex.schema.withSchema('landing').createTable(name, (t) => {
      t.text('run_id').notNullable();
      t.bigInteger('row_number').notNullable();
      cols(t);
      t.index(['run_id']);
    });
  await landing('customers', (t) => {
    t.text('source_system').notNullable();
    t.text('customer_key').notNullable();
    for (const c of ['name', 'id_number', 'phone', 'birth_date', 'gender', 'city', 'occupation']) t.text(c);
    t.decimal('annual_income', 18, 2);
    t.date('opened_at');
  });
  await landing('accounts', (t) => {
    t.text('account_id').notNullable();
    t.text('customer_key').notNullable();
    t.text('product').notNullable();
    t.date('opened_at');
    t.date('maturity_date');
  });
  await landing('balances', (t) => {
    t.text('account_id').notNullable();
    t.date('balance_date').notNullable();
    t.decimal('balance', 18, 2).notNullable();
  });
  await landing('loans', (t) => {
    t.text('loan_id').notNullable();
    t.text('customer_key').notNullable();
    t.text('product').notNullable();
    t.decimal('principal', 18, 2).notNullable();
    t.decimal('outstanding', 18, 2).notNullable();
    t.integer('overdue_days').notNullable();
    t.date('opened_at').notNullable();
  });
  await landing('transactions', (t) => {
    t.text('txn_id').notNullable();
    t.text('account_id').notNullable();
    t.text('customer_key').notNullable();
    t.timestamp('txn_ts', { useTz: true }).notNullable();
    t.decimal('amount', 18, 2).notNullable();
    t.text('direction').notNullable();
    t.text('channel').notNullable();
    t.text('category').notNullable();
  });
  await landing('app_events', (t) => {
    t.text('event_id').notNullable();
    t.text('customer_key').notNullable();
    t.timestamp('event_ts', { useTz: true }).notNullable();
    t.text('event_type').notNullable();
  });
  await landing('consent', (t) => {
    t.text('consent_id').notNullable();
    t.text('customer_key').notNullable();
    t.text('channel').notNullable();
    t.boolean('granted').notNullable();
    t.timestamp('recorded_at', { useTz: true }).notNullable();
  });
  await landing('campaign_contacts', (t) => {
    t.text('contact_id').notNullable();
    t.text('customer_key').notNullable();
    t.text('campaign_id').notNullable();
    t.text('product').notNullable();
    t.text('channel').notNullable();
    t.timestamp('contacted_at', { useTz: true }).notNullable();
    t.boolean('converted').notNullable();
    t.timestamp('converted_at', { useTz: true });
    t.decimal('value', 18, 2);
  });

  await knex.schema.withSchema('core').createTable('customer_sources', (t) => {
    t.text('run_id').notNullable();
    t.text('source_system').notNullable();
    t.text('customer_key').notNullable();
    t.text('golden_id').notNullable();
    t.text('match_rule').notNullable();
    t.text('name_masked');
    t.text('id_hash');
    t.text('phone_hash');
    t.boolean('id_valid').notNullable();
    t.boolean('phone_valid').notNullable();
    t.date('birth_date');
    t.text('gender');
    t.text('city');
    t.integer('city_tier');
    t.text('occupation');
    t.decimal('annual_income', 18, 2);
    t.date('opened_at');
    t.primary(['run_id', 'source_system', 'customer_key']);
    t.index(['run_id', 'golden_id']);
  });
  await knex.schema.withSchema('core').createTable('customers', (t) => {
    t.text('run_id').notNullable();
    t.text('golden_id').notNullable();
    t.text('source_keys').notNullable();
    t.text('name_masked');
    t.text('id_hash');
    t.text('phone_hash');
    t.boolean('id_valid').notNullable();
    t.date('birth_date');
    t.text('gender');
    t.text('city');
    t.integer('city_tier');
    t.text('occupation');
    t.decimal('annual_income', 18, 2);
    t.date('opened_at');
    t.primary(['run_id', 'golden_id']);
  });

  await knex.schema.withSchema('mart').createTable('tags', (t) => {
    t.text('run_id').notNullable();
    t.text('golden_id').notNullable();
    t.integer('age');
    t.text('age_band');
    t.text('gender');
    t.integer('city_tier');
    t.text('occupation');
    t.double('tenure_years');
    t.double('annual_income');
    t.double('total_deposits').notNullable();
    t.double('deposit_trend_90d');
    t.boolean('has_time_deposit').notNullable();
    t.boolean('time_deposit_maturing_30d').notNullable();
    t.double('loan_outstanding').notNullable();
    t.boolean('has_consumer_loan').notNullable();
    t.boolean('has_credit_card').notNullable();
    t.boolean('has_mortgage').notNullable();
    t.integer('products_held').notNullable();
    t.integer('max_overdue_days').notNullable();
    t.integer('txn_count_30d').notNullable();
    t.double('txn_amount_30d').notNullable();
    t.integer('txn_count_90d').notNullable();
    t.boolean('salary_credit').notNullable();
    t.integer('days_since_last_txn');
    t.integer('app_logins_30d').notNullable();
    t.integer('loan_views_7d').notNullable();
    t.integer('loan_views_30d').notNullable();
    t.integer('calculator_uses_30d').notNullable();
    t.integer('application_starts_30d').notNullable();
    t.text('lifecycle').notNullable();
    t.primary(['run_id', 'golden_id']);
  });
  await knex.schema.withSchema('mart').createTable('segments', (t) => {
    t.text('run_id').notNullable();
    t.text('golden_id').notNullable();
    t.text('segment').notNullable();
    t.primary(['run_id', 'golden_id']);
  });
  await knex.schema.withSchema('mart').createTable('scores', (t) => {
    t.text('run_id').notNullable();
    t.text('golden_id').notNullable();
    t.text('product').notNullable();
    t.text('model_version').notNullable();
    t.double('score').notNullable();
    t.integer('shard').notNullable();
    t.primary(['run_id', 'product', 'golden_id']);
  });

  await knex.schema.withSchema('campaign').createTable('eligibility', (t) => {
    t.text('run_id').notNullable();
    t.text('campaign_id').notNullable();
    t.text('golden_id').notNullable();
    t.boolean('eligible').notNullable();
    t.text('reason');
    t.primary(['run_id', 'campaign_id', 'golden_id']);
  });
  await knex.schema.withSchema('campaign').createTable('dispatch', (t) => {
    t.text('run_id').notNullable();
    t.date('as_of').notNullable();
    t.text('campaign_id').notNullable();
    t.text('golden_id').notNullable();
    t.text('channel').notNullable();
    t.text('arm').notNullable();
    t.double('score').notNullable();
    // Same for every re-run of the same date, so a sink can drop a repeated delivery.
    t.text('idempotency_key').notNullable().index();
    t.text('consent_id');
    t.timestamp('consent_recorded_at', { useTz: true });
    t.text('delivery_status').notNullable();
    t.unique(['campaign_id', 'run_id', 'golden_id']);
    t.index(['golden_id', 'as_of']);
  });
  await knex.schema.withSchema('campaign').createTable('outcomes', (t) => {
    t.text('run_id').notNullable();
    t.text('campaign_id').notNullable();
    t.text('golden_id').notNullable();
    t.text('arm').notNullable();
    t.boolean('converted').notNullable();
    t.date('converted_at');
    t.double('value');
    t.primary(['run_id', 'campaign_id', 'golden_id']);
  });
  await knex.schema.withSchema('campaign').createTable('outcome_results', (t) => {
    t.text('run_id').notNullable();
    t.text('campaign_id').notNullable();
    t.text('data_as_of');
    t.jsonb('result').notNullable();
    t.primary(['run_id', 'campaign_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const schema of ['campaign', 'mart', 'core', 'landing', 'audit']) await knex.raw(`drop schema if exists ${schema} cascade`);
}
