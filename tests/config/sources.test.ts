import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { SOURCES, SOURCE_NAMES, parseSourceContracts, sourcePath } from '../../config/sources';
import { ConfigError } from '../../config/load';

const shipped = () => YAML.parse(readFileSync(path.resolve(__dirname, '..', '..', 'config', 'sources.yaml'), 'utf8'));

describe('source contracts (config/sources.yaml)', () => {
  it('the shipped file has a contract for every source, with defaults merged', () => {
    expect(Object.keys(SOURCES).sort()).toEqual([...SOURCE_NAMES].sort());
    expect(SOURCES.transactions).toMatchObject({ format: 'csv', path: 'transactions.csv', csv: { delimiter: ',', encoding: 'utf-8', header: true }, primaryKey: ['txn_id'] });
    expect(SOURCES.transactions.quality).toMatchObject({ freshness: { column: 'txn_ts' }, volumeDrop: { minRatio: 0.5 } });
    expect(SOURCES.customers.columns.filter((c) => c.pii).map((c) => c.name)).toEqual(['name', 'id_number', 'phone']);
  });

  it('path patterns take the as-of date', () => {
    expect(sourcePath({ ...SOURCES.loans, path: 'core/{as_of}/loans_{as_of_compact}.csv' }, '2026-11-20')).toBe('core/2026-11-20/loans_20261120.csv');
  });

  it.each([
    ['a bad column type', (raw: any) => (raw.sources.loans.columns[3].type = 'money'), /sources\.loans\.columns\.3\.type: Invalid enum value/],
    ['an unknown encoding', (raw: any) => (raw.sources.customers.csv = { encoding: 'latin1' }), /sources\.customers\.csv\.encoding: Invalid enum value/],
    ['a primary key that is not a column', (raw: any) => (raw.sources.accounts.primaryKey = ['acct']), /sources\.accounts\.primaryKey\.0: "acct" is not a column/],
    ['a missing source', (raw: any) => delete raw.sources.consent, /sources\.consent: Required/],
    ['an unknown field', (raw: any) => (raw.sources.balances.columns[0].nullable = true), /sources\.balances\.columns\.0: Unrecognized key\(s\) in object: 'nullable'/],
    ['freshness on a text column', (raw: any) => (raw.sources.transactions.quality.freshness.column = 'channel'), /sources\.transactions\.quality\.freshness\.column: "channel" is not a date or timestamp column/],
    ['a sql source without a query', (raw: any) => (raw.sources.loans.format = 'sql'), /sources\.loans\.sql: required when format is sql/],
    ['a two-character delimiter', (raw: any) => (raw.defaults.csv.delimiter = ';;'), /defaults\.csv\.delimiter: one character/],
  ])('rejects %s naming the exact field', (_name, mutate, message) => {
    const raw = shipped();
    mutate(raw);
    expect(() => parseSourceContracts(raw, 'sources.yaml')).toThrow(ConfigError);
    expect(() => parseSourceContracts(raw, 'sources.yaml')).toThrow(message);
  });
});
