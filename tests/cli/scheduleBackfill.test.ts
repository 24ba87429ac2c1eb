import path from 'node:path';
import { main } from '../../cli/portrait';
import { UsageError } from '../../cli/args';
import { parseBackfillFlags } from '../../cli/backfill';
import { parseCreateFlags } from '../../cli/schedule';
import { readEnv } from '../../config/env';

/** Argument handling of `schedule` and `backfill`: these fail before any service is contacted. */
const env = readEnv({ PORTRAIT_HOME: '/srv/portrait', PORTRAIT_BACKFILL_MAX_DAYS: '31' });

describe('portrait schedule arguments', () => {
  test('create: defaults, and the values given', () => {
    const a = parseCreateFlags(['--id', 'daily', '--at', '02:00'], env);
    expect(a).toMatchObject({ id: 'daily', at: '02:00', hour: 2, minute: 0, timezone: undefined, inputPattern: '/srv/portrait/data/{as_of}', asOfOffsetDays: 1, catchupWindow: '7d', paused: false });
    const b = parseCreateFlags(['--id', 'eod', '--at', '23:30', '--timezone', 'Europe/London', '--input', '/in/{as_of}/x', '--as-of-offset-days', '0', '--catchup-window', '12h', '--config', 'my.yaml', '--paused'], env);
    expect(b).toMatchObject({ timezone: 'Europe/London', inputPattern: '/in/{as_of}/x', asOfOffsetDays: 0, catchupWindow: '12h', configFile: path.resolve('my.yaml'), paused: true });
  });

  test.each([
    [[], '--id is required'],
    [['--id', 'bad id'], '--id must be letters, digits, ".", "_" or "-" (at most 100), got "bad id"'],
    [['--id', 'x'], '--at is required (HH:MM, 24 h)'],
    [['--id', 'x', '--at', '25:00'], '--at must be HH:MM (24 h), got "25:00"'],
    [['--id', 'x', '--at', '02:00', '--timezone', 'Shanghai'], '--timezone must be an IANA time zone such as Asia/Shanghai, got "Shanghai"'],
    [['--id', 'x', '--at', '02:00', '--input', '/data/today'], '--input must contain {as_of} (each run reads its own date\'s folder), got "/data/today"'],
    [['--id', 'x', '--at', '02:00', '--as-of-offset-days=-1'], '--as-of-offset-days must be an integer ≥ 0, got "-1"'],
    [['--id', 'x', '--at', '02:00', '--catchup-window', 'a week'], '--catchup-window must be a duration such as 7d, 12h or 30m, got "a week"'],
    [['--id', 'x', '--at', '02:00', '--catchup-window', '5s'], '--catchup-window must be at least 1m, got "5s"'],
  ])('create %j → %s', (argv, message) => {
    expect(() => parseCreateFlags(argv as string[], env)).toThrow(new UsageError(message));
  });

  test('subcommands and ids are checked before Temporal is reached', async () => {
    await expect(main(['schedule'])).rejects.toThrow(new UsageError('schedule needs a subcommand: create, list, describe, pause, unpause, trigger, delete'));
    await expect(main(['schedule', 'stop', 'x'])).rejects.toThrow('unknown schedule subcommand "stop"; one of create, list, describe, pause, unpause, trigger, delete');
    await expect(main(['schedule', 'trigger'])).rejects.toThrow(new UsageError('schedule trigger needs a schedule ID (portrait schedule list lists them)'));
    await expect(main(['schedule', 'delete', 'a', 'b'])).rejects.toThrow(new UsageError('unexpected argument "b"'));
    await expect(main(['schedule', 'trigger', 'x', '--note', 'n'])).rejects.toThrow(UsageError);
  });
});

describe('portrait backfill arguments', () => {
  test('defaults and flags', () => {
    expect(parseBackfillFlags(['--from', '2026-12-01', '--to', '2026-12-31'], env)).toMatchObject({ from: '2026-12-01', to: '2026-12-31', inputPattern: '/srv/portrait/data/{as_of}', rerun: false, onFailure: 'stop', wait: false, json: false });
    expect(parseBackfillFlags(['--from', '2026-12-01', '--to', '2026-12-01', '--input', '/one/folder', '--rerun', '--on-failure', 'continue', '--wait', '--json'], env)).toMatchObject({ inputPattern: '/one/folder', rerun: true, onFailure: 'continue', wait: true, json: true });
  });

  test.each([
    [['--to', '2026-12-01'], '--from is required (YYYY-MM-DD)'],
    [['--from', '2026-12-01', '--to', '2026-11-31'], '--to must be a real date as YYYY-MM-DD, got "2026-11-31"'],
    [['--from', '2026-12-02', '--to', '2026-12-01'], '--from 2026-12-02 is after --to 2026-12-01'],
    [['--from', '2026-12-01', '--to', '2027-01-01'], '2026-12-01..2027-01-01 is 32 dates, more than the 31 one backfill may run (PORTRAIT_BACKFILL_MAX_DAYS); split the range'],
    [['--from', '2026-12-01', '--to', '2026-12-02', '--on-failure', 'retry'], '--on-failure must be one of stop, continue, got "retry"'],
    [['--from', '2026-12-01', '--to', '2026-12-02', '--input', '/one/folder'], '--input must contain {as_of} when the range has more than one date, got "/one/folder"'],
  ])('%j → %s', (argv, message) => {
    expect(() => parseBackfillFlags(argv as string[], env)).toThrow(new UsageError(message));
  });

  test('the maximum comes from PORTRAIT_BACKFILL_MAX_DAYS (default 366) and a bad value is refused', () => {
    expect(readEnv({}).backfillMaxDays).toBe(366);
    expect(() => readEnv({ PORTRAIT_BACKFILL_MAX_DAYS: '0' })).toThrow('PORTRAIT_BACKFILL_MAX_DAYS');
  });
});
