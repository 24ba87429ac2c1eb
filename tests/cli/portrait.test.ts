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

  test.each(['demo', 'worker', 'run', 'status', 'generate', 'tags', 'model', 'report'])('%s --help prints its usage', async (command) => {
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
    await expect(main(['model'])).rejects.toThrow('model needs a subcommand: list, show or evaluate');
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
