import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readCsvParallel, type ParallelReadStats } from '../../sourceReader/csvParallel';
import { readSourceRows } from '../../sourceReader/sourceRows';
import { SOURCES } from '../../config/sources';
import { CsvRecordSplitter, type CsvItem } from '../../transforms/csvRecords';
import { KeyFilter, keyOf } from '../../transforms/keyFilter';
import { endOfDayMs } from '../../transforms/validateRow';
import { messyTransactions } from '../helpers/messyCsv';

const dir = mkdtempSync(path.join(os.tmpdir(), 'portrait-csvparallel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const context = { asOf: '2026-11-20', asOfEndMs: endOfDayMs('2026-11-20', 'Asia/Shanghai') };

type Row = { row: number; values?: string[]; reason?: string; message?: string };

async function serial(file: string): Promise<Row[]> {
  const out: Row[] = [];
  for await (const batch of readSourceRows({ contract: SOURCES.transactions, file, context })) {
    for (const r of batch) out.push(r.ok ? { row: r.rowNumber, values: r.values.map((v) => v ?? '') } : { row: r.rowNumber, reason: r.reasonCode, message: r.message });
  }
  return out;
}

const keyIndex = SOURCES.transactions.primaryKey.map((k) => SOURCES.transactions.columns.findIndex((c) => c.name === k));

/**
 * The parallel reader's rows, and (as ingestSource does) the keys that may repeat: those the workers report from
 * the shared filter, and those of rows read in this thread added to it here. Every key loaded twice must be one.
 */
async function parallel(file: string, stats: ParallelReadStats): Promise<Row[]> {
  const out: Row[] = [];
  const filter = new KeyFilter(1 << 20);
  const candidates = new Set<string>();
  for await (const part of readCsvParallel({ contract: SOURCES.transactions, file, context, workers: 2, keyFilter: filter.shared, stats })) {
    if (Array.isArray(part)) {
      for (const r of part) {
        out.push(r.ok ? { row: r.rowNumber, values: r.values.map((v) => v ?? '') } : { row: r.rowNumber, reason: r.reasonCode, message: r.message });
        if (!r.ok) continue;
        const key = keyOf(r.values, keyIndex);
        if (filter.addAndCheck(key)) candidates.add(key);
      }
      continue;
    }
    // Read the COPY text back: row number, the contract's columns.
    const items: CsvItem[] = [];
    const splitter = new CsvRecordSplitter({ delimiter: ',', quote: '"', maxRecordChars: 1 << 20 });
    splitter.push(Buffer.from(part.copy).toString('utf8'), items);
    splitter.end(items);
    expect(items).toHaveLength(part.loaded);
    for (const item of items) {
      if (item.kind !== 'record') throw new Error(`unreadable COPY line: ${item.message}`);
      out.push({ row: Number(item.fields[0]), values: item.fields.slice(1) });
    }
    for (const r of part.rejects) out.push({ row: r.rowNumber, reason: r.reasonCode, message: r.message });
    for (const key of part.keyCandidates) candidates.add(key);
  }
  const loadedKeys = new Set<string>();
  for (const r of out) {
    if (!r.values) continue;
    const key = keyOf(r.values, keyIndex);
    if (loadedKeys.has(key)) expect({ repeat: key, candidate: candidates.has(key) }).toEqual({ repeat: key, candidate: true });
    loadedKeys.add(key);
  }
  return out.sort((a, b) => a.row - b.row);
}

describe('readCsvParallel', () => {
  it('gives the serial reader’s rows, row numbers, reasons and line numbers, with most units read by workers', async () => {
    const file = path.join(dir, 'messy.csv');
    const text = messyTransactions(60_000);
    writeFileSync(file, text);
    const stats: ParallelReadStats = { units: 0, serialFrom: null };
    const [a, b] = [await serial(file), await parallel(file, stats)];
    expect(b).toEqual(a);
    expect(a.filter((r) => r.reason).length).toBeGreaterThan(1000);
    expect(stats.units).toBeGreaterThan(3);
    // No line break after the last line: only the last unit is read again in this thread.
    expect(stats.serialFrom).toBeGreaterThan(Buffer.byteLength(text) - (2 << 20));
  });

  it('a unit the workers cannot read the serial way is read again here, with every unit sent after it', async () => {
    const lines = messyTransactions(90_000).split('\n');
    // A quote inside a field (a literal to the splitter, an opening quote to the cut scan), then a field opening a
    // quote that never closes: from there the scan counts itself outside quotes and the splitter inside, so the
    // next cut leaves a unit that does not end cleanly, with more units already sent behind it.
    lines[30_000] = 'T900000000001,A1,C1,2026-11-01T08:00:00+08:00,5.00,credit,online,sho"pping';
    lines[30_010] = 'T900000000002,A1,"C1,2026-11-01T08:00:00+08:00,6.00,credit,online,salary';
    const text = lines.map((line, i) => (i > 30_010 ? line.replaceAll('"', '') : line)).join('\n') + '\n';
    const file = path.join(dir, 'unclean-unit.csv');
    writeFileSync(file, text);
    const stats: ParallelReadStats = { units: 0, serialFrom: null };
    expect(await parallel(file, stats)).toEqual(await serial(file));
    // Read again from the unit holding the quotes, while the units of the next 4 MB were with the workers.
    expect(stats.units).toBeGreaterThan(0);
    expect(stats.serialFrom).toBeGreaterThan(0);
    expect(stats.serialFrom).toBeLessThanOrEqual(Buffer.byteLength(lines.slice(0, 30_000).join('\n')));
    expect(stats.serialFrom).toBeLessThan(Buffer.byteLength(text) - (4 << 20));
  });

  it('a file ending with a line break is read by the workers alone', async () => {
    const file = path.join(dir, 'clean.csv');
    writeFileSync(file, messyTransactions(30_000) + '\n');
    const stats: ParallelReadStats = { units: 0, serialFrom: null };
    expect(await parallel(file, stats)).toEqual(await serial(file));
    expect(stats.serialFrom).toBeNull();
  });

  it('files read at the same time share the threads and each gets its own rows', async () => {
    const files = [messyTransactions(60_000), messyTransactions(45_000) + '\n', messyTransactions(50_000).replace(/,debit,/g, ',credit,')].map((text, i) => {
      const file = path.join(dir, `together-${i}.csv`);
      writeFileSync(file, text);
      return file;
    });
    const stats = files.map((): ParallelReadStats => ({ units: 0, serialFrom: null }));
    const together = await Promise.all(files.map((file, i) => parallel(file, stats[i]!)));
    for (let i = 0; i < files.length; i++) {
      expect(together[i]).toEqual(await serial(files[i]!));
      expect(stats[i]!.units).toBeGreaterThan(1);
    }
    expect(together[2]!.filter((r) => r.values?.[5] === 'credit').length).toBeGreaterThan(45_000);
  });

  it('an empty file is the same clear error as for the serial reader', async () => {
    const file = path.join(dir, 'empty.csv');
    writeFileSync(file, '\n\n');
    await expect(parallel(file, { units: 0, serialFrom: null })).rejects.toThrow(/is empty: expected a header row/);
  });
});

describe('bad-input catalogue: the parallel reader gives the serial reader’s outcome for every file', () => {
  const fixtures = path.resolve(__dirname, '..', 'fixtures', 'ingest');
  const cases: [string, 'transactions' | 'customers', 'gbk' | 'gb18030' | undefined][] = [
    ['wrong_delimiter.csv', 'transactions', undefined],
    ['header_missing_column.csv', 'transactions', undefined],
    ['row_column_counts.csv', 'transactions', undefined],
    ['truncated_last_line.csv', 'transactions', undefined],
    ['truncated_open_quote.csv', 'transactions', undefined],
    ['embedded_newlines_quotes.csv', 'customers', undefined],
    ['crlf_bom.csv', 'customers', undefined],
    ['blank_lines.csv', 'transactions', undefined],
    ['invalid_utf8.csv', 'customers', undefined],
    ['customers_gbk.csv', 'customers', undefined],
    ['customers_gbk.csv', 'customers', 'gbk'],
    ['customers_gb18030.csv', 'customers', 'gb18030'],
    ['empty.csv', 'transactions', undefined],
    ['header_only.csv', 'transactions', undefined],
    ['missing_file.csv', 'transactions', undefined],
  ];
  const outcome = async (rows: AsyncIterable<unknown>): Promise<unknown> => {
    const out: unknown[] = [];
    try {
      for await (const part of rows) {
        if (!Array.isArray(part)) throw new Error('a fixture is smaller than one unit: expected no worker units');
        out.push(...part);
      }
      return out;
    } catch (err) {
      return { error: (err as Error).message };
    }
  };
  it.each(cases)('%s as %s (%s)', async (name, source, encoding) => {
    const file = path.join(fixtures, name);
    const contract = SOURCES[source];
    const expected = await outcome(readSourceRows({ contract, file, context, encoding }));
    expect(await outcome(readCsvParallel({ contract, file, context, encoding, workers: 1, keyFilter: new KeyFilter(1 << 16).shared }))).toEqual(expected);
  });
});
