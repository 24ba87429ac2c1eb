import type { Knex } from 'knex';

/**
 * Entity resolution: the lineage records the evidence a source record was linked by (keyed name and ID-body
 * hashes, match score) and its data-quality findings; identity_changes records golden customers merged or
 * split against the previous run.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('core').alterTable('customer_sources', (t) => {
    t.text('name_hash');
    t.text('id_body_hash');
    t.smallint('match_score');
    t.text('findings');
  });
  await knex.schema.withSchema('core').createTable('identity_changes', (t) => {
    t.text('run_id').notNullable();
    t.text('previous_run_id').notNullable();
    t.text('kind').notNullable();
    // merge: the surviving golden_id and every previous golden_id it absorbed; split: the previous golden_id
    // and every golden_id its source keys belong to now.
    t.text('golden_id').notNullable();
    t.specificType('golden_ids', 'text[]').notNullable();
    t.primary(['run_id', 'kind', 'golden_id']);
  });
  await knex.raw(`alter table core.identity_changes add constraint identity_changes_kind check (kind in ('merge', 'split'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('core').dropTableIfExists('identity_changes');
  await knex.schema.withSchema('core').alterTable('customer_sources', (t) => {
    t.dropColumns('name_hash', 'id_body_hash', 'match_score', 'findings');
  });
}
