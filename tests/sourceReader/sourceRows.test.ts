import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CsvCopyBuffer } from '../../activities/pg';
import { readSourceRows, type RowOutcome } from '../../sourceReader/sourceRows';
import { SOURCES } from '../../config/sources';
import { endOfDayMs } from '../../transforms/validateRow';

const dir = mkdtempSync(path.join(os.tmpdir(), 'portrait-sourcerows-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function read(name: string, text: string, source: 'transactions' | 'app_events' = 'transactions'): Promise<RowOutcome[]> {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  const out: RowOutcome[] = [];
  const context = { asOf: '2026-11-20', asOfEndMs: endOfDayMs('2026-11-20', 'Asia/Shanghai') };
  for await (const batch of readSourceRows({ contract: SOURCES[source], file, context })) out.push(...batch);
  return out;
}

const HEADER = 'txn_id,account_id,customer_key,txn_ts,amount,direction,channel,category';

describe('COPY pass-through lines', () => {
  it('a record validation leaves untouched goes to COPY as it is; any change falls back to encoding the values', async () => {
    const rows = await read(
      'tx.csv',
      [
        HEADER,
        'T1,A1,C1,2026-11-19T10:00:00+08:00,10.00,credit,online,salary',
        'T2,A1, C1 ,2026-11-19T10:00:00+08:00,10.00,credit,online,salary',
        'T3,A1,C1,2026-11-19T10:00:00+08:00,10.5,credit,online,salary',
        'T4,A1,C1,2026-11-19 10:00:00,10.00,credit,online,salary',
        '"T5",A1,C1,2026-11-19T10:00:00+08:00,10.00,credit,online,salary',
        'T6,A1,C1,2026-11-19T10:00:00+08:00,10.00,credit,online,salary\r',
      ].join('\n') + '\n',
    );
    const lines = rows.map((r) => (r.ok ? r.copyLine ?? null : 'rejected'));
    expect(lines).toEqual(['T1,A1,C1,2026-11-19T10:00:00+08:00,10.00,credit,online,salary', null, null, null, null, 'T6,A1,C1,2026-11-19T10:00:00+08:00,10.00,credit,online,salary']);
    // Both ways give the same COPY bytes for the same values.
    const viaLine = new CsvCopyBuffer();
    const viaValues = new CsvCopyBuffer();
    const first = rows[0]!;
    if (!first.ok) throw new Error('row 1 should be valid');
    viaLine.row(['r', '1'], first.values, first.copyLine!);
    viaValues.row(['r', '1'], first.values);
    expect(viaLine.take().toString().replace(/"/g, '')).toBe(viaValues.take().toString().replace(/"/g, ''));
  });

  it('columns in another order than the contract are never passed through', async () => {
    const rows = await read('reordered.csv', 'account_id,txn_id,customer_key,txn_ts,amount,direction,channel,category\nA1,T1,C1,2026-11-19T10:00:00+08:00,10.00,credit,online,salary\n');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ ok: true, values: ['T1', 'A1', 'C1', '2026-11-19T10:00:00+08:00', '10.00', 'credit', 'online', 'salary'] });
    expect((rows[0] as { copyLine?: string }).copyLine).toBeUndefined();
  });
});
