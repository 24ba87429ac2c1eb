import type { Knex } from 'knex';

/** A replay is a run of its own (own rows, own folder) that names the run it re-executes; it is nobody's earlier run. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('audit').alterTable('runs', (t) => {
    t.text('replay_of');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('audit').alterTable('runs', (t) => t.dropColumn('replay_of'));
}
