import { main } from '../../cli/portrait';
import { UsageError, requireDate, requireInt } from '../../cli/args';

/** Argument handling only: these paths fail before any service is contacted. */
describe('portrait CLI arguments', () => {
  let out: jest.SpyInstance;
  beforeEach(() => {
    out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => out.mockRestore());

  test('no command prints help and exits 2; --help exits 0', async () => {
    await expect(main([])).resolves.toBe(2);
    await expect(main(['--help'])).resolves.toBe(0);
    expect(String(out.mock.calls[0]![0])).toContain('Commands:');
  });

  test.each(['demo', 'worker', 'run', 'status', 'generate', 'tags', 'model', 'validate', 'suppress', 'report', 'schedule', 'backfill'])('%s --help prints its usage', async (command) => {
    await expect(main([command, '--help'])).resolves.toBe(0);
    expect(String(out.mock.calls[0]![0])).toMatch(new RegExp(`^Usage: portrait ${command}`));
  });

  test('unknown commands and flags are usage errors', async () => {
    await expect(main(['deploy'])).rejects.toThrow(new UsageError('unknown command "deploy"; try portrait --help'));
    await expect(main(['generate', '--customers', '10', '--colour', 'red'])).rejects.toThrow(UsageError);
    await expect(main(['run'])).rejects.toThrow('--as-of is required (YYYY-MM-DD)');
    await expect(main(['run', '--as-of', '2026-02-30'])).rejects.toThrow('--as-of must be a real date as YYYY-MM-DD, got "2026-02-30"');
    await expect(main(['generate', '--customers', 'many', '--seed', '1', '--out', '/tmp/x'])).rejects.toThrow('--customers must be an integer ≥ 1, got "many"');
    await expect(main(['status'])).rejects.toThrow('RUN_ID is required');
    await expect(main(['report'])).rejects.toThrow('RUN_ID is required');
    await expect(main(['model'])).rejects.toThrow('model needs a subcommand: list, show, promote or evaluate');
    await expect(main(['suppress'])).rejects.toThrow('suppress needs a subcommand: add, remove or list');
    await expect(main(['suppress', 'add', '--list', 'vip', '--key', 'C1'])).rejects.toThrow('--list must be one of deceased, do_not_contact, staff');
    await expect(main(['suppress', 'add', '--list', 'staff'])).rejects.toThrow('give either --key (repeatable) or --file');
    await expect(main(['suppress', 'remove', '--list', 'staff', '--key', 'C 1'])).rejects.toThrow('--key:1: not a customer key: "C 1"');
    await expect(main(['model', 'evaluate', '--label', 'y'])).rejects.toThrow('--csv is required');
    await expect(main(['model', 'evaluate', '--csv', '/nonexistent.csv', '--label', 'y'])).rejects.toThrow('--csv /nonexistent.csv does not exist');
    await expect(main(['tags', 'show'])).rejects.toThrow('unknown tags subcommand "show"; try portrait tags list');
  });

  test('date and integer parsing', () => {
    expect(requireDate('2024-02-29', '--as-of')).toBe('2024-02-29');
    expect(() => requireDate('2023-02-29', '--as-of')).toThrow(UsageError);
    expect(() => requireDate('20240229', '--as-of')).toThrow(UsageError);
    expect(requireInt(undefined, '--seed', 0, 7)).toBe(7);
    expect(requireInt('12', '--seed', 0)).toBe(12);
    expect(() => requireInt('-1', '--seed', 0)).toThrow(UsageError);
  });
});

describe('parseKeyFile', () => {
  const { parseKeyFile } = jest.requireActual('../../cli/suppress') as typeof import('../../cli/suppress');
  test('one key per line; BOM, header, blanks and duplicates handled; a bad line is named', () => {
    expect(parseKeyFile('\uFEFFcustomer_key\r\nC1\n\nK2\nC1\n', 'keys.csv')).toEqual(['C1', 'K2']);
    expect(() => parseKeyFile('C1\nC2,extra\n', 'keys.csv')).toThrow('keys.csv:2: not a customer key: "C2,extra"');
    expect(() => parseKeyFile('customer_key\n', 'keys.csv')).toThrow('keys.csv: no customer keys');
  });
});

describe('portrait generate --follow-up-of', () => {
  const { mkdtempSync, readFileSync, rmSync, writeFileSync } = jest.requireActual<typeof import('node:fs')>('node:fs');
  const { join } = jest.requireActual<typeof import('node:path')>('node:path');
  const { tmpdir } = jest.requireActual<typeof import('node:os')>('node:os');
  let out: jest.SpyInstance;
  let root: string;
  beforeEach(() => {
    out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    root = mkdtempSync(join(tmpdir(), 'portrait-cli-followup-'));
  });
  afterEach(() => {
    out.mockRestore();
    rmSync(root, { recursive: true, force: true });
  });

  test('writes the later extract from a contacts CSV; the base files stay as they were', async () => {
    const contacts = join(root, 'contacts.csv');
    writeFileSync(contacts, '\uFEFFcustomer_key,product,contacted_on\nC00000001,consumer_loan,2026-11-20\nC00000002,credit_card,2026-11-20\n');
    await expect(main(['generate', '--customers', '300', '--seed', '5', '--out', join(root, 'd0'), '--as-of', '2026-11-20'])).resolves.toBe(0);
    await expect(main(['generate', '--customers', '300', '--seed', '5', '--out', join(root, 'd30'), '--as-of', '2026-12-20', '--follow-up-of', '2026-11-20', '--contacts', contacts])).resolves.toBe(0);
    expect(readFileSync(join(root, 'd30', 'customers.csv'))).toEqual(readFileSync(join(root, 'd0', 'customers.csv')));
    const base = readFileSync(join(root, 'd0', 'loans.csv'), 'utf8').split('\n').filter(Boolean);
    const later = readFileSync(join(root, 'd30', 'loans.csv'), 'utf8').split('\n').filter(Boolean);
    expect(later.filter((l) => !base.includes(l)).every((l) => /,(consumer_loan|credit_card),.*,2026-1[12]-\d\d$/.test(l))).toBe(true);
    expect(later.length).toBeGreaterThan(base.length);
  });

  test('bad combinations are usage errors', async () => {
    await expect(main(['generate', '--customers', '3', '--seed', '1', '--out', root, '--contacts', 'x.csv'])).rejects.toThrow('--contacts needs --follow-up-of');
    await expect(main(['generate', '--customers', '3', '--seed', '1', '--out', root, '--as-of', '2026-11-20', '--follow-up-of', '2026-11-20'])).rejects.toThrow('--follow-up-of 2026-11-20 must be before --as-of 2026-11-20');
    await expect(main(['generate', '--customers', '3', '--seed', '1', '--out', root, '--as-of', '2026-12-20', '--follow-up-of', '2026-11-20', '--contacts', join(root, 'missing.csv')])).rejects.toThrow('does not exist');
  });
});
