import type { Knex } from 'knex';

/**
 * Suppressions become an append-only log: every add and remove is an event with its time, written by a trigger on
 * campaign.suppressions (so no writer can skip it). Dispatch reads the lists as they stood when its run was first
 * registered (audit.runs.suppressions_as_of), so a suppression added after a run does not change what that run
 * would select on a retry or a replay.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('campaign').createTable('suppression_events', (t) => {
    t.bigIncrements('event_id');
    t.text('list').notNullable();
    t.text('customer_key').notNullable();
    t.text('action').notNullable();
    t.timestamp('at', { useTz: true }).notNullable();
    t.text('note');
    t.index(['customer_key']);
  });
  await knex.raw(`alter table campaign.suppression_events add constraint suppression_events_action check (action in ('add', 'remove'))`);
  await knex.raw(`
    insert into campaign.suppression_events (list, customer_key, action, at, note)
    select list, customer_key, 'add', added_at, note from campaign.suppressions
    union all
    select list, customer_key, 'remove', removed_at, null from campaign.suppressions where removed_at is not null
    order by 4, 1, 2`);
  await knex.raw(`
    create function campaign.log_suppression() returns trigger language plpgsql as $$
    begin
      if tg_op = 'INSERT' or (old.removed_at is not null and new.removed_at is null) or old.added_at is distinct from new.added_at then
        insert into campaign.suppression_events (list, customer_key, action, at, note) values (new.list, new.customer_key, 'add', new.added_at, new.note);
      end if;
      if new.removed_at is not null and (tg_op = 'INSERT' or old.removed_at is distinct from new.removed_at) then
        insert into campaign.suppression_events (list, customer_key, action, at) values (new.list, new.customer_key, 'remove', new.removed_at);
      end if;
      return null;
    end $$`);
  await knex.raw('create trigger suppressions_log after insert or update on campaign.suppressions for each row execute function campaign.log_suppression()');
  await knex.raw(`create function campaign.no_suppression_event_change() returns trigger language plpgsql as $$
    begin raise exception 'campaign.suppression_events is append-only'; end $$`);
  await knex.raw('create trigger suppression_events_append_only before update or delete on campaign.suppression_events for each row execute function campaign.no_suppression_event_change()');
  await knex.schema.withSchema('audit').alterTable('runs', (t) => {
    t.timestamp('suppressions_as_of', { useTz: true }).defaultTo(knex.fn.now());
  });
  await knex.raw('update audit.runs set suppressions_as_of = started_at');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('audit').alterTable('runs', (t) => t.dropColumn('suppressions_as_of'));
  await knex.raw('drop trigger suppressions_log on campaign.suppressions');
  await knex.raw('drop function campaign.log_suppression()');
  await knex.raw('drop table campaign.suppression_events');
  await knex.raw('drop function campaign.no_suppression_event_change()');
}
