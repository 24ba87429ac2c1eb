import { SOURCES, type SourceContract } from '../../config/sources';
import { endOfDayMs, maskRecord, validateRow } from '../../transforms/validateRow';

/** A valid customers row (11 columns, contract order). */
const customerRow = (overrides: Partial<Record<number, string>> = {}): string[] => {
  const row = ['core', 'C001', '张三', '110101199001010015', '13800138000', '1990-01-01', 'M', '北京', 'engineer', '1,234,567.8', '2020/05/06'];
  for (const [i, v] of Object.entries(overrides)) row[Number(i)] = v as string;
  return row;
};

/** A valid transactions row: txn_id, account_id, customer_key, txn_ts, amount, direction, channel, category. */
const txnRow = (overrides: Partial<Record<number, string>> = {}): string[] => {
  const row = ['T1', 'A1', 'C1', '2024-03-01 10:00:00', '12,345.6', 'debit', 'mobile', 'shopping'];
  for (const [i, v] of Object.entries(overrides)) row[Number(i)] = v as string;
  return row;
};

/** A valid loans row: loan_id, customer_key, product, principal, outstanding, overdue_days, opened_at. */
const loanRow = (overrides: Partial<Record<number, string>> = {}): string[] => {
  const row = ['L1', 'C1', 'mortgage', '500000', '420,000.5', '0', '2019-07-15'];
  for (const [i, v] of Object.entries(overrides)) row[Number(i)] = v as string;
  return row;
};

function rejected(contract: SourceContract, record: string[]): { reasonCode: string; message: string } {
  const v = validateRow(contract, record);
  if (v.ok) throw new Error(`expected a rejection, got values ${JSON.stringify(v.values)}`);
  return { reasonCode: v.reasonCode, message: v.message };
}

function accepted(contract: SourceContract, record: string[]): (string | null)[] {
  const v = validateRow(contract, record);
  if (!v.ok) throw new Error(`expected acceptance, got ${v.reasonCode}: ${v.message}`);
  return v.values;
}

describe('validateRow: valid rows become typed text', () => {
  it('customers: amounts with thousands separators and slash dates are normalised, text kept as is', () => {
    expect(accepted(SOURCES.customers, customerRow())).toEqual([
      'core', 'C001', '张三', '110101199001010015', '13800138000', '1990-01-01', 'M', '北京', 'engineer', '1234567.80', '2020-05-06',
    ]);
  });

  it('transactions: local timestamp read as China time, amount "12,345.6" → "12345.60"', () => {
    expect(accepted(SOURCES.transactions, txnRow())).toEqual([
      'T1', 'A1', 'C1', '2024-03-01T10:00:00+08:00', '12345.60', 'debit', 'mobile', 'shopping',
    ]);
  });

  it('converts a UTC timestamp to +08:00 and accepts a currency prefix', () => {
    const values = accepted(SOURCES.transactions, txnRow({ 3: '2024-03-01T02:00:00Z', 4: '¥1,000' }));
    expect(values[3]).toBe('2024-03-01T10:00:00+08:00');
    expect(values[4]).toBe('1000.00');
  });

  it('trims surrounding whitespace before checking', () => {
    const values = accepted(SOURCES.transactions, txnRow({ 0: '  T9 ', 5: ' credit ' }));
    expect(values[0]).toBe('T9');
    expect(values[5]).toBe('credit');
  });

  it('compact and Chinese dates become YYYY-MM-DD', () => {
    expect(accepted(SOURCES.loans, loanRow({ 6: '20190715' }))[6]).toBe('2019-07-15');
    expect(accepted(SOURCES.loans, loanRow({ 6: '2019年7月5日' }))[6]).toBe('2019-07-05');
  });

  it('loans: integer overdue days kept, decimals get two places', () => {
    expect(accepted(SOURCES.loans, loanRow({ 5: '12' }))).toEqual(['L1', 'C1', 'mortgage', '500000.00', '420000.50', '12', '2019-07-15']);
  });

  it.each([
    ['Y', 'true'],
    ['y', 'true'],
    ['yes', 'true'],
    ['1', 'true'],
    ['TRUE', 'true'],
    ['N', 'false'],
    ['no', 'false'],
    ['0', 'false'],
    ['False', 'false'],
  ])('consent.granted %s → %s', (raw, expected) => {
    const values = accepted(SOURCES.consent, ['K1', 'C1', 'sms', raw, '2024-03-01 10:00']);
    expect(values[3]).toBe(expected);
    expect(values[4]).toBe('2024-03-01T10:00:00+08:00');
  });

  it('optional empty columns become null (SQL NULL)', () => {
    const values = accepted(SOURCES.campaign_contacts, ['K1', 'C1', 'cl_q4_sms', 'consumer_loan', 'sms', '2024-03-01 09:00:00', 'N', '', '  ']);
    expect(values).toEqual(['K1', 'C1', 'cl_q4_sms', 'consumer_loan', 'sms', '2024-03-01T09:00:00+08:00', 'false', null, null]);
  });

  it('optional PII columns may be empty', () => {
    const values = accepted(SOURCES.customers, customerRow({ 2: '', 3: '', 4: '' }));
    expect(values.slice(2, 5)).toEqual([null, null, null]);
  });
});

describe('validateRow: reason codes', () => {
  it('column_count: too few and too many columns', () => {
    expect(rejected(SOURCES.transactions, txnRow().slice(0, 7))).toEqual({ reasonCode: 'column_count', message: 'expected 8 columns, found 7' });
    expect(rejected(SOURCES.transactions, [...txnRow(), 'extra'])).toEqual({ reasonCode: 'column_count', message: 'expected 8 columns, found 9' });
  });

  it('missing_required: empty or blank required value', () => {
    expect(rejected(SOURCES.transactions, txnRow({ 0: '' }))).toEqual({ reasonCode: 'missing_required', message: 'txn_id is empty' });
    expect(rejected(SOURCES.transactions, txnRow({ 4: '   ' }))).toEqual({ reasonCode: 'missing_required', message: 'amount is empty' });
  });

  it('bad_enum: names the column, the value and the allowed values', () => {
    expect(rejected(SOURCES.transactions, txnRow({ 5: 'sideways' }))).toEqual({
      reasonCode: 'bad_enum',
      message: 'direction: "sideways" is not one of credit|debit',
    });
    expect(rejected(SOURCES.customers, customerRow({ 0: 'crm' })).reasonCode).toBe('bad_enum');
    // enums are case-sensitive
    expect(rejected(SOURCES.transactions, txnRow({ 5: 'Debit' })).reasonCode).toBe('bad_enum');
  });

  it('bad_enum: long values are shown truncated to 40 characters', () => {
    const long = 'a'.repeat(50);
    const { message } = rejected(SOURCES.transactions, txnRow({ 5: long }));
    expect(message).toContain(`"${'a'.repeat(40)}…"`);
    expect(message).not.toContain('a'.repeat(41));
  });

  it.each([['abc'], ['1.5'], ['+5'], ['1e3'], ['1234567890123456']])('bad_number: overdue_days %s is not an integer', (raw) => {
    expect(rejected(SOURCES.loans, loanRow({ 5: raw }))).toEqual({ reasonCode: 'bad_number', message: `overdue_days: ${JSON.stringify(raw)} is not an integer` });
  });

  it.each([['12,34.5'], ['1e5'], ['ten'], ['--5'], ['1000000000000000']])('bad_number: amount %s is not an amount', (raw) => {
    expect(rejected(SOURCES.transactions, txnRow({ 4: raw }))).toEqual({ reasonCode: 'bad_number', message: `amount: ${JSON.stringify(raw)} is not an amount` });
  });

  it('accepts an amount just under the 1e15 limit', () => {
    expect(accepted(SOURCES.transactions, txnRow({ 4: '999999999999999' }))[4]).toBe('999999999999999.00');
  });

  it('negative_amount: negative decimal and integer below a minimum of 0', () => {
    expect(rejected(SOURCES.transactions, txnRow({ 4: '-12.5' }))).toEqual({ reasonCode: 'negative_amount', message: 'amount: -12.5 is below the minimum 0' });
    expect(rejected(SOURCES.loans, loanRow({ 3: '-1,000' }))).toEqual({ reasonCode: 'negative_amount', message: 'principal: -1000 is below the minimum 0' });
    expect(rejected(SOURCES.loans, loanRow({ 5: '-3' }))).toEqual({ reasonCode: 'negative_amount', message: 'overdue_days: -3 is below the minimum 0' });
  });

  it('a negative balance (no minimum) is accepted', () => {
    expect(accepted(SOURCES.balances, ['A1', '2024-03-01', '-250.5'])).toEqual(['A1', '2024-03-01', '-250.50']);
  });

  it('out_of_range: non-negative value below a positive minimum', () => {
    const contract: SourceContract = { ...SOURCES.balances, columns: [{ name: 'score', type: 'int', required: true, min: 10 }] };
    expect(rejected(contract, ['5'])).toEqual({ reasonCode: 'out_of_range', message: 'score: 5 is below the minimum 10' });
    expect(accepted(contract, ['10'])).toEqual(['10']);
  });

  it.each([['2023-02-30'], ['2023-13-01'], ['01/02/2023'], ['yesterday'], ['2023-1-1-1']])('bad_date: %s', (raw) => {
    expect(rejected(SOURCES.loans, loanRow({ 6: raw }))).toEqual({ reasonCode: 'bad_date', message: `opened_at: ${JSON.stringify(raw)} is not a valid date` });
  });

  it.each([['2024-03-01'], ['2024-03-01 25:00'], ['2024-02-30 10:00'], ['03/01/2024 10:00'], ['2024-03-01T10:00:00+25:00']])('bad_timestamp: %s', (raw) => {
    expect(rejected(SOURCES.transactions, txnRow({ 3: raw }))).toEqual({
      reasonCode: 'bad_timestamp',
      message: `txn_ts: ${JSON.stringify(raw)} is not a valid timestamp`,
    });
  });

  it.each([['maybe'], ['是'], ['2'], ['t'], ['constructor'], ['__proto__'], ['toString']])('bad_bool: %s', (raw) => {
    expect(rejected(SOURCES.consent, ['K1', 'C1', 'sms', raw, '2024-03-01 10:00'])).toEqual({
      reasonCode: 'bad_bool',
      message: `granted: ${JSON.stringify(raw)} is not Y/N`,
    });
  });

  it('reports the first failing column in contract order', () => {
    const { reasonCode, message } = rejected(SOURCES.transactions, txnRow({ 3: 'not a time', 4: 'not a number' }));
    expect(reasonCode).toBe('bad_timestamp');
    expect(message.startsWith('txn_ts:')).toBe(true);
  });
});

describe('validateRow: nullOnInvalid columns', () => {
  it('customers.annual_income: unparseable or negative becomes null, row kept', () => {
    expect(accepted(SOURCES.customers, customerRow({ 9: 'lots' }))[9]).toBeNull();
    expect(accepted(SOURCES.customers, customerRow({ 9: '-100' }))[9]).toBeNull();
  });

  it('customers.opened_at and accounts.opened_at: invalid date becomes null', () => {
    expect(accepted(SOURCES.customers, customerRow({ 10: '2023-13-01' }))[10]).toBeNull();
    expect(accepted(SOURCES.accounts, ['A1', 'C1', 'time', '2023-02-29', '2025-01-01'])).toEqual(['A1', 'C1', 'time', null, '2025-01-01']);
  });

  it('a column without nullOnInvalid still rejects (accounts.maturity_date)', () => {
    expect(rejected(SOURCES.accounts, ['A1', 'C1', 'time', '2023-02-28', '2025-02-30'])).toEqual({
      reasonCode: 'bad_date',
      message: 'maturity_date: "2025-02-30" is not a valid date',
    });
  });
});

describe('validateRow: PII never echoed in messages', () => {
  const piiContract: SourceContract = {
    ...SOURCES.customers,
    columns: [
      { name: 'secret_code', type: 'text', required: true, pii: true, values: ['A', 'B'] },
      { name: 'secret_dob', type: 'date', required: true, pii: true },
      { name: 'secret_flag', type: 'bool', required: true, pii: true },
      { name: 'secret_ts', type: 'timestamp', required: true, pii: true },
      { name: 'secret_num', type: 'int', required: true, pii: true },
    ],
  };
  const good = ['A', '1990-01-01', 'Y', '2024-01-01 00:00', '7'];

  it.each([
    [0, '13800138000', 'bad_enum', 'secret_code: value is not one of A|B'],
    [1, '1990-99-99', 'bad_date', 'secret_dob: value is not a valid date'],
    [2, 'ZHANGSAN', 'bad_bool', 'secret_flag: value is not Y/N'],
    [3, '110101199001010015', 'bad_timestamp', 'secret_ts: value is not a valid timestamp'],
    [4, '11010119900101001X', 'bad_number', 'secret_num: value is not an integer'],
  ])('column %i with %s', (col, raw, reasonCode, message) => {
    const record = [...good];
    record[col] = raw;
    const verdict = rejected(piiContract, record);
    expect(verdict).toEqual({ reasonCode, message });
    expect(verdict.message).not.toContain(raw);
  });

  it('a PII numeric column below its minimum does not echo the value', () => {
    const contract: SourceContract = { ...SOURCES.customers, columns: [{ name: 'secret_amount', type: 'decimal', required: true, pii: true, min: 0 }] };
    const verdict = rejected(contract, ['-123456.78']);
    expect(verdict.reasonCode).toBe('negative_amount');
    expect(verdict.message).not.toContain('123456.78');
  });

  it('non-PII values are echoed (so operators can see them)', () => {
    expect(rejected(SOURCES.transactions, txnRow({ 6: 'fax' })).message).toContain('"fax"');
  });
});

describe('maskRecord', () => {
  const header = SOURCES.customers.columns.map((c) => c.name);

  it('masks only PII columns, keeping the first character and the length', () => {
    const masked = maskRecord(SOURCES.customers, header, customerRow());
    expect(masked).toEqual({
      source_system: 'core',
      customer_key: 'C001',
      name: '张*',
      id_number: '1' + '*'.repeat(17),
      phone: '1' + '*'.repeat(10),
      birth_date: '1990-01-01',
      gender: 'M',
      city: '北京',
      occupation: 'engineer',
      annual_income: '1,234,567.8',
      opened_at: '2020/05/06',
    });
    const text = JSON.stringify(masked);
    expect(text).not.toContain('110101199001010015');
    expect(text).not.toContain('13800138000');
    expect(text).not.toContain('张三');
  });

  it('counts characters (not UTF-16 units) for CJK names', () => {
    expect(maskRecord(SOURCES.customers, header, customerRow({ 2: '欧阳娜娜' })).name).toBe('欧***');
  });

  it('leaves empty PII values empty', () => {
    const masked = maskRecord(SOURCES.customers, header, customerRow({ 2: '', 4: '' }));
    expect(masked.name).toBe('');
    expect(masked.phone).toBe('');
  });

  it('truncates non-PII values to 200 characters', () => {
    const long = 'x'.repeat(250);
    expect(maskRecord(SOURCES.customers, header, customerRow({ 8: long })).occupation).toBe('x'.repeat(200));
  });

  it('names columns beyond the header column_<n> (column_count rejects)', () => {
    const masked = maskRecord(SOURCES.transactions, ['txn_id', 'account_id'], ['T1', 'A1', 'extra']);
    expect(masked).toEqual({ txn_id: 'T1', account_id: 'A1', column_3: 'extra' });
  });

  it('does not mask anything for a source without PII', () => {
    const h = SOURCES.transactions.columns.map((c) => c.name);
    const masked = maskRecord(SOURCES.transactions, h, txnRow());
    expect(Object.values(masked)).toEqual(txnRow());
  });
});

describe('timestamps against the end of the as-of day', () => {
  const context = { asOf: '2026-11-20', asOfEndMs: endOfDayMs('2026-11-20', 'Asia/Shanghai') };
  const verdict = (ts: string) => validateRow(SOURCES.transactions, txnRow({ 3: ts }), context);

  it('canonical and other spellings of one instant get the same verdict', () => {
    for (const [canonical, other, future] of [
      ['2026-11-20T23:59:59+08:00', '2026-11-20T15:59:59Z', false],
      ['2026-11-21T00:00:00+08:00', '2026-11-20T16:00:00Z', true],
      ['2026-11-21T00:00:01+08:00', '2026-11-21 00:00:01', true],
      ['2026-02-29T10:00:00+08:00', '2026-02-29 10:00', null],
    ] as const) {
      const a = verdict(canonical);
      const b = verdict(other);
      if (future === null) {
        expect(a).toMatchObject({ ok: false, reasonCode: 'bad_timestamp' });
        expect(b).toMatchObject({ ok: false, reasonCode: 'bad_timestamp' });
        continue;
      }
      expect(a.ok).toBe(!future);
      expect(b.ok).toBe(!future);
      if (future) expect(a).toMatchObject({ reasonCode: 'future_date' });
    }
  });

  it('rejects canonical-looking timestamps with an impossible time', () => {
    for (const ts of ['2026-11-20T24:00:00+08:00', '2026-11-20T10:60:00+08:00', '2026-13-01T10:00:00+08:00', '2026-11-2xT10:00:00+08:00']) {
      expect(verdict(ts)).toMatchObject({ ok: false, reasonCode: 'bad_timestamp' });
    }
  });
});
