import type { Knex } from 'knex';

/**
 * The dispatch ledger keeps every run's contacts for the audit, so each run's reads must find their rows by index:
 * a run's rows (ledger rebuild, snapshot files, per-campaign outcome and delivery reads: the unique key starts with
 * campaign_id and cannot serve `run_id = ?` alone), and the contacts of the frequency-cap window by date.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('create index dispatch_run_campaign_golden on campaign.dispatch (run_id, campaign_id, golden_id)');
  await knex.raw('create index dispatch_as_of on campaign.dispatch (as_of)');
  await knex.raw('analyze campaign.dispatch');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index campaign.dispatch_as_of');
  await knex.raw('drop index campaign.dispatch_run_campaign_golden');
}
