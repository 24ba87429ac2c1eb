import { main } from '../../cli/portrait';
import { UsageError } from '../../cli/args';
import { interruptedLine, progressPayload, stageLine, stagesDone } from '../../cli/progress';
import { newRunId, parseRunsFlags, runsTable, type RunListEntry } from '../../cli/runs';
import { STAGES, type RunProgress } from '../../shared';

/** Argument handling of runs, cancel and rerun: these paths fail before any service is contacted. */
describe('portrait runs / cancel / rerun arguments', () => {
  let out: jest.SpyInstance;
  beforeEach(() => {
    out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => out.mockRestore());

  test.each(['runs', 'cancel', 'rerun'])('%s --help prints its usage and exits 0', async (command) => {
    await expect(main([command, '--help'])).resolves.toBe(0);
    expect(String(out.mock.calls[0]![0])).toMatch(new RegExp(`^Usage: portrait ${command}`));
  });

  test('run and rerun --help say what Ctrl-C does while waiting', async () => {
    for (const command of ['run', 'rerun']) {
      out.mockClear();
      await expect(main([command, '--help'])).resolves.toBe(0);
      expect(String(out.mock.calls[0]![0]).replace(/\s+/g, ' ')).toContain('Ctrl-C stops the waiting, not the run: the run keeps going on the workers');
    }
  });

  test('runs: a bad status, date, limit or a backwards range is a usage error', async () => {
    await expect(main(['runs', '--status', 'done'])).rejects.toThrow(new UsageError('--status must be one of running, succeeded, failed, cancelled, got "done"'));
    await expect(main(['runs', '--from', '2026-12-01', '--to', '2026-11-30'])).rejects.toThrow(new UsageError('--from 2026-12-01 is after --to 2026-11-30'));
    await expect(main(['runs', '--from', '2026-13-01'])).rejects.toThrow('--from must be a real date as YYYY-MM-DD, got "2026-13-01"');
    await expect(main(['runs', '--to', 'yesterday'])).rejects.toThrow('--to must be a real date as YYYY-MM-DD, got "yesterday"');
    await expect(main(['runs', '--limit', '0'])).rejects.toThrow('--limit must be an integer ≥ 1, got "0"');
    await expect(main(['runs', 'extra'])).rejects.toThrow(UsageError);
    await expect(main(['runs', '--state', 'failed'])).rejects.toThrow(UsageError);
  });

  test('runs: flags parse into a filter; the same date on both ends is a one-day range', () => {
    expect(parseRunsFlags([])).toEqual({ from: undefined, to: undefined, status: undefined, limit: 50, json: false });
    expect(parseRunsFlags(['--from', '2026-11-20', '--to', '2026-11-20', '--status', 'cancelled', '--limit', '3', '--json'])).toEqual({ from: '2026-11-20', to: '2026-11-20', status: 'cancelled', limit: 3, json: true });
  });

  test('cancel and rerun need exactly one RUN_ID and know their flags', async () => {
    await expect(main(['cancel'])).rejects.toThrow(new UsageError('RUN_ID is required'));
    await expect(main(['rerun'])).rejects.toThrow(new UsageError('RUN_ID is required'));
    await expect(main(['cancel', 'a', 'b'])).rejects.toThrow(new UsageError('unexpected argument "b"'));
    await expect(main(['rerun', 'a', '--now'])).rejects.toThrow(UsageError);
    await expect(main(['cancel', 'a', '--force'])).rejects.toThrow(UsageError);
  });
});

describe('run ids', () => {
  test('a new id per call, sortable by its as-of date', () => {
    const a = newRunId('2026-11-20');
    expect(a).toMatch(/^20261120-[0-9a-f]{8}$/);
    expect(newRunId('2026-11-20')).not.toBe(a);
  });
});

describe('runs table', () => {
  const run = (over: Partial<RunListEntry>): RunListEntry => ({ run_id: '20261120-aaaaaaaa', as_of: '2026-11-20', status: 'succeeded', started_at: '2026-11-21T02:00:00.000Z', finished_at: '2026-11-21T02:01:30.500Z', duration_s: 90.5, stages: [], ...over });

  test('one aligned line per run; each stage shows seconds and rows, missing stages a dash', () => {
    const lines = runsTable([
      run({ stages: [{ stage: 'ingest', rows: 41_710, seconds: 3.25 }, { stage: 'clean', rows: 1500, seconds: 1.5 }] }),
      run({ run_id: '20261121-bbbbbbbb', as_of: '2026-11-21', status: 'running', finished_at: null, duration_s: null }),
    ]);
    expect(lines).toHaveLength(3);
    expect(lines[0]!.split(/\s{2,}/)).toEqual(['run_id', 'as_of', 'status', 'started (UTC)', 'duration', ...STAGES]);
    expect(lines[1]!.split(/\s{2,}/)).toEqual(['20261120-aaaaaaaa', '2026-11-20', 'succeeded', '2026-11-21 02:00:00', '90.5 s', '3.3s 41.7K', '1.5s 1.5K', '-', '-', '-', '-', '-']);
    expect(lines[2]!.split(/\s{2,}/)).toEqual(['20261121-bbbbbbbb', '2026-11-21', 'running', '2026-11-21 02:00:00', '-', '-', '-', '-', '-', '-', '-', '-']);
    // Columns line up: every stage header starts where its cells start.
    const at = lines[0]!.indexOf('ingest');
    expect(lines[1]!.slice(at, at + 9)).toBe('3.3s 41.7');
  });
});

describe('progress display', () => {
  const progress = (over: Partial<RunProgress>): RunProgress => ({ runId: 'r', currentStage: 'starting', completed: [], stages: [], sources: [], ...over });

  test('during ingest the bar counts loaded sources and rows; later it names the last finished stage', () => {
    expect(progressPayload(progress({ currentStage: 'ingest', sources: [{ source: 'customers', loaded: 1500, quarantined: 3 }, { source: 'loans', loaded: 2500, quarantined: 0 }] }))).toEqual({ stage: 'ingest', rows: '2 sources, 4,000 rows' });
    expect(progressPayload(progress({ currentStage: 'tags', stages: [{ stage: 'ingest', rows: 40_000, seconds: 3 }, { stage: 'clean', rows: 1500, seconds: 1 }] }))).toEqual({ stage: 'tags', rows: 'clean: 1,500 rows' });
    expect(progressPayload(progress({}))).toEqual({ stage: 'starting', rows: '' });
  });

  test('stages done: finished stages, all seven once the run is done; histories without stage rows use the names', () => {
    expect(stagesDone(progress({ currentStage: 'tags', stages: [{ stage: 'ingest', rows: 1, seconds: 1 }, { stage: 'clean', rows: 1, seconds: 1 }] }))).toBe(2);
    expect(stagesDone(progress({ currentStage: 'done', stages: [] }))).toBe(STAGES.length);
    expect(stagesDone({ runId: 'r', currentStage: 'segment', completed: ['ingest', 'clean', 'tags'] })).toBe(3);
  });

  test('a finished stage line has its rows and seconds; an older result without timestamps has no seconds', () => {
    expect(stageLine({ stage: 'ingest', rows: 41_710, seconds: 3.25 })).toMatch(/^ {2}ingest\s+41,710 rows\s+3\.3 s$/);
    expect(stageLine({ stage: 'clean', rows: 1500, seconds: null })).toMatch(/^ {2}clean\s+1,500 rows\s*$/);
  });

  test('after Ctrl-C the line says the run goes on and how to stop it', () => {
    expect(interruptedLine('20261120-aaaaaaaa')).toBe('stopped waiting; run 20261120-aaaaaaaa keeps running on the workers (portrait status 20261120-aaaaaaaa; portrait cancel 20261120-aaaaaaaa stops it)');
  });
});
