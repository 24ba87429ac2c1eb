import type { Knex } from 'knex';

/**
 * An exact bigint sum with a bigint state. PostgreSQL's sum(int8) keeps a palloc'd 128-bit state per group and returns
 * numeric; in a hash aggregate over a million customer keys those states are about half of each group's memory, so the
 * tags' transaction partials spilled 1.4 GB to disk. int8pl adds in place and raises "bigint out of range" on overflow
 * (a customer's cents over 180 days would need 9.2·10^16 currency units), so the sum is exact or an error, never wrapped.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('create aggregate mart.sum_int8(int8) (sfunc = int8pl, stype = int8, combinefunc = int8pl, parallel = safe)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop aggregate mart.sum_int8(int8)');
}
