import type { Knex } from 'knex';

/** Suppression lists, the holdout kind and send schedule on the dispatch ledger, and per-contact delivery status. */
export async function up(knex: Knex): Promise<void> {
  // Kept by compliance (do-not-contact requests, deceased notices, staff); complaints come from the complaints source.
  await knex.schema.withSchema('campaign').createTable('suppressions', (t) => {
    t.text('list').notNullable();
    t.text('customer_key').notNullable();
    t.text('note');
    t.timestamp('added_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('removed_at', { useTz: true });
    t.primary(['list', 'customer_key']);
    t.index(['customer_key']);
  });
  await knex.raw(`alter table campaign.suppressions add constraint suppressions_list_check check (list in ('deceased', 'do_not_contact', 'staff'))`);
  await knex.schema.withSchema('campaign').alterTable('dispatch', (t) => {
    // 'global' or 'campaign' for control rows, null for treatment.
    t.text('holdout');
    t.text('template_id');
    t.timestamp('send_at', { useTz: true });
  });
  // One row per contact and sink, keyed by the contact's idempotency key: a re-run of the same date finds it delivered.
  await knex.schema.withSchema('campaign').createTable('deliveries', (t) => {
    t.text('idempotency_key').notNullable();
    t.text('sink').notNullable();
    t.text('run_id').notNullable();
    t.date('as_of').notNullable();
    t.text('campaign_id').notNullable();
    t.text('golden_id').notNullable();
    t.text('channel').notNullable();
    t.text('status').notNullable();
    t.text('batch_key');
    t.integer('attempts').notNullable().defaultTo(0);
    t.integer('http_status');
    t.text('error');
    t.timestamp('delivered_at', { useTz: true });
    t.primary(['idempotency_key', 'sink']);
    t.index(['campaign_id', 'as_of']);
  });
  await knex.raw(`alter table campaign.deliveries add constraint deliveries_status_check check (status in ('pending', 'delivered', 'rejected'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('campaign').dropTableIfExists('deliveries');
  await knex.schema.withSchema('campaign').alterTable('dispatch', (t) => {
    t.dropColumns('holdout', 'template_id', 'send_at');
  });
  await knex.schema.withSchema('campaign').dropTableIfExists('suppressions');
}
