import path from 'node:path';
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleDescription, type ScheduleHandle } from '@temporalio/client';
import { readEnv, type PortraitEnv } from '../config/env';
import { loadConfig, resolveConfigPath } from '../config/load';
import { WORKFLOW_SCHEDULED_RUN, type ScheduledRunInput } from '../shared';
import { durationMs } from '../transforms/duration';
import { AS_OF_PLACEHOLDER, formatClock, isTimeZone, parseClock, scheduledAsOf } from '../transforms/scheduleDate';
import { parseFlags, requireInt, UsageError } from './args';
import { out, withServices } from './runs';

export const DEFAULT_CATCHUP_WINDOW = '7d';

export const SCHEDULE_HELP = `Usage: portrait schedule create --id ID --at HH:MM [--timezone ZONE] [--input PATTERN] [--config FILE]
                                [--as-of-offset-days N] [--catchup-window DURATION] [--paused] [--note TEXT] [--json]
       portrait schedule list [--json]
       portrait schedule describe ID [--json]
       portrait schedule pause|unpause ID [--note TEXT] [--json]
       portrait schedule trigger ID [--json]
       portrait schedule delete ID [--json]

A Temporal Schedule that starts the daily run every day at HH:MM in ZONE (default: the config's timezone). The
as-of date is the schedule's nominal time's local date minus --as-of-offset-days (default 1: the run at 02:00 on
6 Dec processes 5 Dec), whenever the run actually starts. --input is the input folder with {as_of} for the date
(default $PORTRAIT_HOME/data/{as_of}); --config is read by the worker at each run (default: the shipped config).
Runs never overlap: a start that falls due while a run is going is buffered and runs after it, in order.
Starts missed while Temporal was down are made up when they are within --catchup-window (default ${DEFAULT_CATCHUP_WINDOW}).
A date that already has a successful run is skipped. trigger starts a run now (as-of from now, same rules).
list --json prints [{id, paused, at, timezone, next_runs: [ISO times]}].`;

export interface ScheduleCreateArgs {
  id: string;
  at: string;
  hour: number;
  minute: number;
  timezone?: string;
  inputPattern: string;
  configFile: string;
  asOfOffsetDays: number;
  catchupWindow: string;
  paused: boolean;
  note?: string;
  json: boolean;
}

const SUBCOMMANDS = ['create', 'list', 'describe', 'pause', 'unpause', 'trigger', 'delete'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

/** Flags of `schedule create`, checked before any service is touched (the config file is read, not the zone default). */
export function parseCreateFlags(argv: string[], env: PortraitEnv): ScheduleCreateArgs {
  const { values } = parseFlags(argv, {
    id: { type: 'string' },
    at: { type: 'string' },
    timezone: { type: 'string' },
    input: { type: 'string' },
    config: { type: 'string' },
    'as-of-offset-days': { type: 'string' },
    'catchup-window': { type: 'string' },
    paused: { type: 'boolean' },
    note: { type: 'string' },
  });
  if (!values.id) throw new UsageError('--id is required');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(values.id)) throw new UsageError(`--id must be letters, digits, ".", "_" or "-" (at most 100), got "${values.id}"`);
  if (!values.at) throw new UsageError('--at is required (HH:MM, 24 h)');
  const clock = parseClock(values.at);
  if (!clock) throw new UsageError(`--at must be HH:MM (24 h), got "${values.at}"`);
  if (values.timezone !== undefined && !isTimeZone(values.timezone)) throw new UsageError(`--timezone must be an IANA time zone such as Asia/Shanghai, got "${values.timezone}"`);
  const inputPattern = path.resolve(values.input ?? path.join(env.home, 'data', AS_OF_PLACEHOLDER));
  if (!inputPattern.includes(AS_OF_PLACEHOLDER)) throw new UsageError(`--input must contain ${AS_OF_PLACEHOLDER} (each run reads its own date's folder), got "${values.input}"`);
  const catchupWindow = values['catchup-window'] ?? DEFAULT_CATCHUP_WINDOW;
  let catchupMs: number;
  try {
    catchupMs = durationMs(catchupWindow);
  } catch {
    throw new UsageError(`--catchup-window must be a duration such as 7d, 12h or 30m, got "${catchupWindow}"`);
  }
  if (catchupMs < 60_000) throw new UsageError(`--catchup-window must be at least 1m, got "${catchupWindow}"`);
  return {
    id: values.id,
    at: formatClock(clock.hour, clock.minute),
    ...clock,
    timezone: values.timezone,
    inputPattern,
    configFile: values.config ? path.resolve(values.config) : resolveConfigPath(),
    asOfOffsetDays: requireInt(values['as-of-offset-days'], '--as-of-offset-days', 0, 1),
    catchupWindow,
    paused: !!values.paused,
    note: values.note,
    json: !!values.json,
  };
}

/** `portrait schedule <subcommand>`: arguments are checked first, then Temporal is reached. */
export async function scheduleCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || !(SUBCOMMANDS as readonly string[]).includes(sub)) {
    throw new UsageError(sub ? `unknown schedule subcommand "${sub}"; one of ${SUBCOMMANDS.join(', ')}` : `schedule needs a subcommand: ${SUBCOMMANDS.join(', ')}`);
  }
  const env = readEnv();
  if (sub === 'create') {
    const args = parseCreateFlags(rest, env);
    // The config is read now so a bad file is refused before a schedule exists; the worker reads it again per run.
    const config = loadConfig(args.configFile);
    const timezone = args.timezone ?? config.timezone;
    if (!isTimeZone(timezone)) throw new UsageError(`the config's timezone "${timezone}" is not an IANA time zone; pass --timezone`);
    return withServices({ temporal: true }, async ({ client }) => createSchedule(client!, env, { ...args, timezone }));
  }
  if (sub === 'list') {
    const { values } = parseFlags(rest, {});
    return withServices({ temporal: true }, async ({ client }) => {
      const schedules = await listSchedules(client!, env);
      if (values.json) out(schedules);
      else if (!schedules.length) process.stdout.write(`no schedules on task queue ${env.taskQueue}\n`);
      else for (const s of schedules) process.stdout.write(`${s.id}  ${s.paused ? 'paused' : 'active'}  daily at ${s.at} ${s.timezone}  next ${s.next_runs[0] ?? '-'}\n`);
      return 0;
    });
  }
  const { values, positionals } = parseFlags(rest, sub === 'pause' || sub === 'unpause' ? { note: { type: 'string' } } : {}, 1);
  const id = positionals[0];
  if (!id) throw new UsageError(`schedule ${sub} needs a schedule ID (portrait schedule list lists them)`);
  const note = (values as { note?: string }).note;
  return withServices({ temporal: true }, async ({ client }) => {
    const handle = client!.schedule.getHandle(id);
    const described = await describeOrRefuse(handle, env);
    const result = await act(sub as Exclude<Subcommand, 'create' | 'list'>, handle, described, note);
    if (values.json) out(result);
    else process.stdout.write(describeText(result) + '\n');
    return 0;
  });
}

async function createSchedule(client: Client, env: PortraitEnv, args: ScheduleCreateArgs & { timezone: string }): Promise<number> {
  const input: ScheduledRunInput = { scheduleId: args.id, timezone: args.timezone, asOfOffsetDays: args.asOfOffsetDays, inputPattern: args.inputPattern, configFile: args.configFile };
  let handle: ScheduleHandle;
  try {
    handle = await client.schedule.create({
      scheduleId: args.id,
      spec: { calendars: [{ hour: args.hour, minute: args.minute, comment: `daily at ${args.at}` }], timezone: args.timezone },
      action: { type: 'startWorkflow', workflowType: WORKFLOW_SCHEDULED_RUN, taskQueue: env.taskQueue, workflowId: `scheduledRun-${args.id}`, args: [input] },
      // Each run reads the latest successful earlier run: never two at once, and every due date runs, in order.
      policies: { overlap: ScheduleOverlapPolicy.BUFFER_ALL, catchupWindow: durationMs(args.catchupWindow) },
      state: { paused: args.paused, note: args.note },
      memo: { portrait: { at: args.at, catchupWindow: args.catchupWindow } },
    });
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) throw new Error(`schedule ${args.id} already exists; portrait schedule delete ${args.id} first, or pick another --id`);
    throw err;
  }
  const entry = scheduleEntry(await handle.describe());
  if (args.json) out(entry);
  else process.stdout.write(`created schedule ${args.id}: ${describeText(entry)}\n`);
  return 0;
}

/** One schedule as `schedule describe --json` prints it (list prints the first five fields). */
export interface ScheduleEntry {
  id: string;
  paused: boolean;
  at: string;
  timezone: string;
  next_runs: string[];
  note: string | null;
  input: string;
  config: string;
  as_of_offset_days: number;
  catchup_window: string;
  overlap: string;
  /** As-of date of each next run, in the order of next_runs. */
  next_as_of: string[];
  recent_runs: { scheduled_at: string; started_at: string; workflow_id: string }[];
  running: string[];
}

function scheduleEntry(d: ScheduleDescription): ScheduleEntry {
  const action = d.action as Extract<ScheduleDescription['action'], { type: 'startWorkflow' }>;
  const input = action.args![0] as ScheduledRunInput;
  const memo = (d.memo?.portrait ?? {}) as { at?: string; catchupWindow?: string };
  const next = d.info.nextActionTimes.slice(0, 5);
  return {
    id: d.scheduleId,
    paused: d.state.paused,
    at: memo.at ?? '?',
    timezone: d.spec.timezone ?? 'UTC',
    next_runs: next.map((t) => t.toISOString()),
    note: d.state.note || null,
    input: input.inputPattern,
    config: input.configFile,
    as_of_offset_days: input.asOfOffsetDays,
    catchup_window: memo.catchupWindow ?? `${d.policies.catchupWindow / 1000}s`,
    overlap: d.policies.overlap ?? 'BUFFER_ALL',
    next_as_of: next.map((t) => scheduledAsOf(t, input.timezone, input.asOfOffsetDays)),
    recent_runs: d.info.recentActions.map((a) => ({ scheduled_at: a.scheduledAt.toISOString(), started_at: a.takenAt.toISOString(), workflow_id: a.action.workflow.workflowId ?? '' })),
    running: d.info.runningActions.map((a) => a.workflow.workflowId),
  };
}

/** Portrait's schedules on this task queue (others, e.g. another team's, are left out). */
export async function listSchedules(client: Client, env: PortraitEnv): Promise<Pick<ScheduleEntry, 'id' | 'paused' | 'at' | 'timezone' | 'next_runs'>[]> {
  const ids: string[] = [];
  for await (const s of client.schedule.list()) if (s.action?.type === 'startWorkflow' && s.action.workflowType === WORKFLOW_SCHEDULED_RUN) ids.push(s.scheduleId);
  const entries = [];
  // The list comes from visibility, which lags; each schedule's own description is current.
  for (const id of ids.sort()) {
    const d = await client.schedule.getHandle(id).describe().catch((err) => (err instanceof ScheduleNotFoundError ? undefined : Promise.reject(err)));
    if (!d || (d.action as { taskQueue?: string }).taskQueue !== env.taskQueue) continue;
    const { id: sid, paused, at, timezone, next_runs } = scheduleEntry(d);
    entries.push({ id: sid, paused, at, timezone, next_runs });
  }
  return entries;
}

/** The schedule's description; an unknown id (or another tool's schedule) is a usage error, like an unknown run id. */
async function describeOrRefuse(handle: ScheduleHandle, env: PortraitEnv): Promise<ScheduleDescription> {
  try {
    const d = await handle.describe();
    const action = d.action as { type: string; workflowType?: string; taskQueue?: string };
    if (action.workflowType !== WORKFLOW_SCHEDULED_RUN || action.taskQueue !== env.taskQueue) throw new ScheduleNotFoundError('not a Portrait schedule', handle.scheduleId);
    return d;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new UsageError(`no schedule with id ${handle.scheduleId} (portrait schedule list lists them)`);
    throw err;
  }
}

type ActionResult = ScheduleEntry | { id: string; deleted: true } | { id: string; triggered_at: string; as_of: string };

async function act(sub: Exclude<Subcommand, 'create' | 'list'>, handle: ScheduleHandle, d: ScheduleDescription, note: string | undefined): Promise<ActionResult> {
  switch (sub) {
    case 'describe':
      return scheduleEntry(d);
    case 'pause':
      await handle.pause(note ?? 'paused with portrait schedule pause');
      return scheduleEntry(await handle.describe());
    case 'unpause':
      await handle.unpause(note ?? 'unpaused with portrait schedule unpause');
      return scheduleEntry(await handle.describe());
    case 'trigger': {
      const input = (d.action as { args: unknown[] }).args[0] as ScheduledRunInput;
      const now = new Date();
      // The SDK's trigger defaults to ALLOW_ALL, which would let a manual run overlap a scheduled one.
      await handle.trigger(ScheduleOverlapPolicy.BUFFER_ALL);
      // The run takes its as-of from the trigger's nominal time, which is now (unless it waits behind a running one).
      return { id: d.scheduleId, triggered_at: now.toISOString(), as_of: scheduledAsOf(now, input.timezone, input.asOfOffsetDays) };
    }
    case 'delete':
      await handle.delete();
      return { id: d.scheduleId, deleted: true };
  }
}

function describeText(r: ActionResult): string {
  if ('deleted' in r) return `deleted schedule ${r.id} (runs it already started go on)`;
  if ('triggered_at' in r) return `triggered schedule ${r.id} at ${r.triggered_at}: a run for as-of ${r.as_of} starts (after any run still going)`;
  const next = r.next_runs.map((t, i) => `${t} (as-of ${r.next_as_of[i]})`);
  return [
    `${r.id}: ${r.paused ? 'PAUSED' : 'active'}${r.note ? ` (${r.note})` : ''}, daily at ${r.at} ${r.timezone}, as-of = scheduled date - ${r.as_of_offset_days} day(s)`,
    `  input ${r.input}`,
    `  config ${r.config}`,
    `  overlap ${r.overlap}, catch-up window ${r.catchup_window}`,
    `  next runs: ${next.length ? next.join(', ') : '-'}`,
    ...(r.recent_runs.length ? [`  recent: ${r.recent_runs.map((a) => `${a.scheduled_at} → ${a.workflow_id}`).join(', ')}`] : []),
    ...(r.running.length ? [`  running: ${r.running.join(', ')}`] : []),
  ].join('\n');
}
