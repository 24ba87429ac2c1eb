import { CleanPool, cleanBatch, CLEAN_COLUMNS } from '../../transforms/cleanBatch';
import { cleanCustomer, type RawCustomer } from '../../transforms/customerRecord';
import { idCheckChar } from '../../transforms/idNumber';

const KEY = 'test-pii-key-0123456789abcdef0123';

/** Records with every kind of value cleanCustomer handles: valid, mistyped and missing IDs, phones, dates, full-width text. */
function records(n: number): RawCustomer[] {
  return Array.from({ length: n }, (_, i) => {
    const body = `1101051990${String(1 + (i % 12)).padStart(2, '0')}${String(1 + (i % 28)).padStart(2, '0')}${String(i % 1000).padStart(3, '0')}`;
    const id = i % 7 === 0 ? body + 'X' : i % 11 === 0 ? null : body + idCheckChar(body);
    return {
      source_system: i % 3 === 0 ? 'card' : 'core',
      customer_key: `K${String(i).padStart(6, '0')}`,
      name: i % 13 === 0 ? null : `张${'三四五六'[i % 4]}${i}`,
      id_number: i % 5 === 0 && id ? id.toLowerCase() : id,
      phone: i % 9 === 0 ? '12345' : i % 4 === 0 ? `139 0013 ${String(i % 10000).padStart(4, '0')}` : `1380013${String(i % 10000).padStart(4, '0')}`,
      birth_date: i % 6 === 0 ? '1990/01/02' : i % 17 === 0 ? 'not a date' : '1990-01-02',
      gender: ['M', 'F', '女', null][i % 4] ?? null,
      city: i % 8 === 0 ? '深圳市' : 'ＢＪ北京',
      occupation: i % 10 === 0 ? '' : '工程师',
      annual_income: i % 15 === 0 ? null : String(1000 * i),
      opened_at: '2020-01-01',
    } as RawCustomer;
  });
}

test('a batch is its records cleaned one by one, as CSV lines of the staging columns', () => {
  const rows = records(50);
  const lines = cleanBatch(rows, KEY).split('\n');
  expect(lines).toHaveLength(51);
  rows.forEach((raw, i) => {
    const c = cleanCustomer(raw, KEY);
    // Each line starts with the record's key and carries its keyed name hash when it has a name.
    expect(lines[i]!.startsWith(`"${raw.source_system}","${raw.customer_key}","${c.seed_golden_id}"`)).toBe(true);
    if (c.name_hash) expect(lines[i]).toContain(c.name_hash);
  });
  expect(CLEAN_COLUMNS).toHaveLength(18);
});

test('worker threads give the same bytes as the calling thread, in submission order, however the batches are cut', async () => {
  const rows = records(3_000);
  const expected = cleanBatch(rows, KEY);
  for (const [threads, size] of [[2, 250], [1, 1_000], [3, 7]] as const) {
    const pool = new CleanPool(threads, KEY);
    try {
      const batches: Promise<string>[] = [];
      for (let i = 0; i < rows.length; i += size) batches.push(pool.clean(rows.slice(i, i + size)));
      expect((await Promise.all(batches)).join('')).toBe(expected);
    } finally {
      await pool.close();
    }
  }
}, 60_000);
