import { tagShardCount } from '../../activities/tags';

/** How many shards computeTags computes the tag base in: sized from work_mem, at least one per session. */
test('one shard per 1.5 KB × customers of half of work_mem × hash_mem_multiplier, at least two', () => {
  expect(tagShardCount(0, '256MB')).toBe(2);
  expect(tagShardCount(3, '256MB')).toBe(2);
  expect(tagShardCount(200_000, '256MB')).toBe(2);
  expect(tagShardCount(1_000_000, '256MB')).toBe(6);
  expect(tagShardCount(1_000_000, '1GB')).toBe(2);
  expect(tagShardCount(10_000_000, '256MB')).toBe(56);
  expect(tagShardCount(1_000_000, '65536kB')).toBe(23);
});

test('a work_mem that is not a PostgreSQL size says so', () => {
  expect(() => tagShardCount(1000, '256M')).toThrow(/PORTRAIT_WORK_MEM/);
});
