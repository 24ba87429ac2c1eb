import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SOURCES, type Encoding, type SourceName } from '../../config/sources';
import { validateSourceFile } from '../../sourceReader/validateFile';
import { MAX_RECORD_CHARS, SourceReadError } from '../../sourceReader/sourceRows';
import { main } from '../../cli/portrait';
import { UsageError } from '../../cli/args';
import { ParquetSchema, ParquetWriter } from '@dsnp/parquetjs';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'ingest');
const AS_OF = '2026-11-20';

type Expectation = { rows_in: number; valid: number; reasons: Record<string, number> } | { error: RegExp };

/** The bad-input catalogue: each file gives quarantined rows with the expected reasons, or one clear error. */
const CATALOGUE: { file: string; source: SourceName; encoding?: Encoding; expect: Expectation; why: string }[] = [
  { file: 'wrong_delimiter.csv', source: 'transactions', expect: { error: /one column: is the delimiter "," right\?/ }, why: 'semicolons where the contract says commas' },
  { file: 'header_missing_column.csv', source: 'transactions', expect: { error: /missing columns: category/ }, why: 'a contract column is absent' },
  { file: 'header_extra_column.csv', source: 'transactions', expect: { error: /unexpected columns: branch/ }, why: 'a column the contract does not know' },
  { file: 'row_column_counts.csv', source: 'transactions', expect: { rows_in: 4, valid: 2, reasons: { column_count: 2 } }, why: 'one row short of a field, one with a surplus field' },
  { file: 'truncated_last_line.csv', source: 'transactions', expect: { rows_in: 3, valid: 2, reasons: { column_count: 1 } }, why: 'the file ends in the middle of a row' },
  { file: 'truncated_open_quote.csv', source: 'transactions', expect: { rows_in: 2, valid: 1, reasons: { unterminated_quote: 1 } }, why: 'the file ends inside a quoted field' },
  { file: 'embedded_newlines_quotes.csv', source: 'customers', expect: { rows_in: 4, valid: 3, reasons: { bad_quote: 1 } }, why: 'a name with a line break, a city with a comma, doubled quotes; one stray character after a quote' },
  { file: 'crlf_bom.csv', source: 'customers', expect: { rows_in: 2, valid: 2, reasons: {} }, why: 'UTF-8 with BOM and CRLF line ends (Excel export)' },
  { file: 'blank_lines.csv', source: 'transactions', expect: { rows_in: 2, valid: 2, reasons: {} }, why: 'blank lines carry no row' },
  { file: 'invalid_utf8.csv', source: 'customers', expect: { rows_in: 3, valid: 2, reasons: { bad_encoding: 1 } }, why: 'bytes that are not UTF-8 in one row' },
  { file: 'customers_gbk.csv', source: 'customers', expect: { rows_in: 3, valid: 0, reasons: { bad_encoding: 3 } }, why: 'a GBK file declared as UTF-8: every row has Chinese text, none decodes' },
  { file: 'customers_gbk.csv', source: 'customers', encoding: 'gbk', expect: { rows_in: 3, valid: 3, reasons: {} }, why: 'the same GBK file declared as GBK' },
  { file: 'customers_gb18030.csv', source: 'customers', encoding: 'gb18030', expect: { rows_in: 2, valid: 2, reasons: {} }, why: 'GB18030 with a supplementary-plane character' },
  { file: 'huge_numbers.csv', source: 'transactions', expect: { rows_in: 4, valid: 2, reasons: { bad_number: 2 } }, why: '1e20 and 1e308 are not amounts; 1.2e14 and 12.5 are' },
  { file: 'sql_strings_in_names.csv', source: 'customers', expect: { rows_in: 3, valid: 3, reasons: {} }, why: 'SQL in a name is just text' },
  { file: 'empty.csv', source: 'transactions', expect: { error: /is empty: expected a header row for "transactions"/ }, why: 'zero bytes' },
  { file: 'header_only.csv', source: 'transactions', expect: { rows_in: 0, valid: 0, reasons: {} }, why: 'readable, no rows (the min_rows gate decides in a run)' },
  { file: 'duplicate_keys.csv', source: 'transactions', expect: { rows_in: 5, valid: 3, reasons: { duplicate_key: 2 } }, why: 'T1 three times: first kept' },
  { file: 'future_dates.csv', source: 'transactions', expect: { rows_in: 4, valid: 2, reasons: { future_date: 2 } }, why: 'after the end of 2026-11-20 in Asia/Shanghai' },
  { file: 'missing_file.csv', source: 'transactions', expect: { error: /source file for "transactions" not found: .*missing_file\.csv/ }, why: 'no such file' },
];

describe('bad-input catalogue (tests/fixtures/ingest)', () => {
  it.each(CATALOGUE.map((c) => [`${c.file} as ${c.source}${c.encoding ? ` (${c.encoding})` : ''}: ${c.why}`, c] as const))('%s', async (_name, c) => {
    const run = validateSourceFile({ contract: SOURCES[c.source], file: path.join(FIXTURES, c.file), asOf: AS_OF, timezone: 'Asia/Shanghai', encoding: c.encoding });
    if ('error' in c.expect) {
      await expect(run).rejects.toThrow(c.expect.error);
      return;
    }
    const report = await run;
    expect({ rows_in: report.rows_in, valid: report.valid, reasons: report.reasons }).toEqual(c.expect);
    expect(report.valid + report.quarantined).toBe(report.rows_in);
  });

  it('a multi-megabyte line is quarantined as record_too_long and the rows after it still load', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portrait-longline-'));
    try {
      const file = path.join(dir, 'long.csv');
      const header = 'txn_id,account_id,customer_key,txn_ts,amount,direction,channel,category\n';
      const row = (id: string) => `${id},A1,C1,2026-11-19T10:00:00+08:00,10.00,debit,mobile,shopping\n`;
      writeFileSync(file, header + row('T1') + `T2,A1,C1,2026-11-19T10:00:00+08:00,10.00,debit,mobile,${'x'.repeat(3 * MAX_RECORD_CHARS)}\n` + row('T3') + row('T4'));
      const report = await validateSourceFile({ contract: SOURCES.transactions, file, asOf: AS_OF, timezone: 'Asia/Shanghai' });
      expect(report).toMatchObject({ rows_in: 4, valid: 3, quarantined: 1, reasons: { record_too_long: 1 } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('portrait validate', () => {
  let stdout: jest.SpyInstance;
  beforeEach(() => {
    stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => stdout.mockRestore());

  it('prints the JSON report and exits 0 for a readable file with bad rows', async () => {
    await expect(main(['validate', '--source', 'transactions', '--file', path.join(FIXTURES, 'duplicate_keys.csv'), '--as-of', AS_OF, '--json'])).resolves.toBe(0);
    expect(JSON.parse(String(stdout.mock.calls[0]![0]))).toMatchObject({ rows_in: 5, valid: 3, quarantined: 2, reasons: { duplicate_key: 2 } });
  });

  it('fails (exit 1: not a usage error) with one line naming the file when it cannot be read as that source', async () => {
    const err = await main(['validate', '--source', 'transactions', '--file', path.join(FIXTURES, 'wrong_delimiter.csv')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceReadError);
    expect(err).not.toBeInstanceOf(UsageError);
    expect((err as Error).message).not.toContain('\n');
    expect((err as Error).message).toMatch(/wrong_delimiter\.csv .*does not match the "transactions" contract/);
    expect(stdout).not.toHaveBeenCalled();
  });

  it('an unknown source or encoding is a usage error (exit 2)', async () => {
    await expect(main(['validate', '--source', 'nope', '--file', 'x.csv'])).rejects.toThrow(new UsageError('unknown source "nope"; known: customers, accounts, balances, loans, transactions, app_events, consent, campaign_contacts, complaints'));
    await expect(main(['validate', '--source', 'customers', '--file', 'x.csv', '--encoding', 'latin1'])).rejects.toThrow(UsageError);
  });
});

describe('other source formats through the same validation', () => {
  it('a Parquet extract: columns read by name, typed values checked like CSV text', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portrait-parquet-'));
    try {
      const rows = [
        { txn_id: 'T1', account_id: 'A1', customer_key: 'C1', txn_ts: '2026-11-19T10:00:00+08:00', amount: 12.5, direction: 'debit', channel: 'mobile', category: 'shopping' },
        { txn_id: 'T2', account_id: 'A1', customer_key: 'C1', txn_ts: '2026-11-19T11:00:00+08:00', amount: -3, direction: 'debit', channel: 'mobile', category: 'shopping' },
        { txn_id: 'T3', account_id: 'A1', customer_key: 'C1', txn_ts: '2026-11-19T12:00:00+08:00', amount: 4, direction: 'sideways', channel: 'mobile', category: 'shopping' },
        { txn_id: 'T1', account_id: 'A1', customer_key: 'C1', txn_ts: '2026-11-19T13:00:00+08:00', amount: 5, direction: 'credit', channel: 'atm', category: 'salary' },
      ];
      // A bank's extract, not a Portrait snapshot: written with the reader's own library (snappy, untyped text).
      const text = { type: 'UTF8', compression: 'SNAPPY' } as const;
      const file = { path: 'transactions.parquet' };
      const writer = await ParquetWriter.openFile(new ParquetSchema({ txn_id: text, account_id: text, customer_key: text, txn_ts: text, amount: { type: 'DOUBLE' }, direction: text, channel: text, category: text }), path.join(dir, file.path));
      for (const row of rows) await writer.appendRow(row);
      await writer.close();
      const contract = { ...SOURCES.transactions, format: 'parquet' as const, path: 'transactions.parquet' };
      const report = await validateSourceFile({ contract, file: path.join(dir, file.path), asOf: AS_OF, timezone: 'Asia/Shanghai' });
      expect(report).toMatchObject({ rows_in: 4, valid: 1, quarantined: 3, reasons: { bad_enum: 1, duplicate_key: 1, negative_amount: 1 } });
      await expect(validateSourceFile({ contract: { ...SOURCES.customers, format: 'parquet' }, file: path.join(dir, file.path), asOf: AS_OF, timezone: 'Asia/Shanghai' })).rejects.toThrow(/does not match the "customers" contract \(missing columns: source_system/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a sql source names the environment variable it needs', async () => {
    const contract = { ...SOURCES.loans, format: 'sql' as const, sql: { connectionEnv: 'PORTRAIT_TEST_UNSET_CORE_DB', query: 'select 1' } };
    await expect(validateSourceFile({ contract, file: '', asOf: AS_OF, timezone: 'Asia/Shanghai' })).rejects.toThrow('source "loans" reads from a database: set PORTRAIT_TEST_UNSET_CORE_DB to its connection URL');
  });
});
