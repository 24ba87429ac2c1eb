/** Names and payload types shared by workflows, activities and clients. Types only: safe in the workflow bundle. */
import type { Channel, PortraitConfig } from './config/schema';

export const WORKFLOW_DAILY_RUN = 'dailyRun';
export const WORKFLOW_COLLECT_OUTCOMES = 'collectOutcomes';
/** Query of dailyRun answering RunProgress. */
export const QUERY_PROGRESS = 'progress';
/** Signal to collectOutcomes: stop waiting and attribute now. */
export const SIGNAL_COLLECT_NOW = 'collectNow';

/** Error types that must never be retried; set explicitly because bundlers mangle class names. */
export const ErrorType = {
  InvalidInput: 'InvalidInput',
  InvalidConfig: 'InvalidConfig',
  QualityGateFailed: 'QualityGateFailed',
} as const;

export const STAGES = ['ingest', 'clean', 'tags', 'segment', 'score', 'dispatch', 'outcomes'] as const;
export type Stage = (typeof STAGES)[number];

export interface DailyRunInput {
  runId: string;
  /** Partition key, YYYY-MM-DD in the configured time zone. */
  asOf: string;
  /** Folder holding the source extracts for asOf. */
  inputDir: string;
  config: PortraitConfig;
  configSha256: string;
  /** Overrides config.seed when set (e.g. a replay with another seed). */
  seed?: number;
  /** When false the outcome workflows are started but not awaited. */
  awaitOutcomes?: boolean;
  /**
   * Set by `portrait replay`: the run re-executed. Its registration time (the cut-off for earlier-run state and
   * suppressions) is carried over, no outcome workflows are started, and nothing reads the replay as an earlier run.
   */
  replayOf?: string;
  replayStateAsOf?: string;
  /** Model version per product to score with instead of refreshing the champion (a replay pins its original's). */
  pinnedModels?: Record<string, string>;
  /**
   * A replay's outcomes: the campaigns whose outcomes its original collected, each re-attributed (after the report,
   * as the original's were) from the data run the original's attribution pinned (null: it found none).
   */
  replayOutcomes?: { campaignId: string; dataRunId: string | null }[];
}

/** A file written into the run's snapshot folder, relative to that folder. */
export interface SnapshotFile {
  path: string;
  rows: number;
  sha256: string;
}

export interface StageResult {
  stage: Stage;
  rows: number;
  files: SnapshotFile[];
  /** Small per-stage facts for the summary (counts by key); never row data. */
  details?: Record<string, unknown>;
  /** ISO timestamps taken by the activity that recorded the stage (absent in histories recorded before them). */
  startedAt?: string;
  finishedAt?: string;
}

export interface ShardRef {
  runId: string;
  shard: number;
  shards: number;
}

export interface DispatchRef {
  runId: string;
  asOf: string;
  campaignId: string;
  /** Absent in dispatches recorded before webhook delivery existed. */
  channel?: Channel;
  treatment: number;
  control: number;
}

export interface CollectOutcomesInput {
  runId: string;
  asOf: string;
  campaignId: string;
  attributionWindow: string;
  /** Timer before attributing (default: the attribution window); the window itself still sets which openings count. */
  collectAfter?: string;
  /** Set by a replay: attribute at once from this data run (null: none), not from the latest run loaded. */
  dataRunId?: string | null;
}

export interface DailyRunResult {
  runId: string;
  asOf: string;
  snapshotDir: string;
  manifestSha256: string;
  stages: StageResult[];
  outcomeWorkflowIds: string[];
}

/** Run statuses in audit.runs. */
export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** One finished stage as the progress query reports it. */
export interface StageProgress {
  stage: Stage;
  rows: number;
  /** From the activity's own timestamps; null when the stage result carries none (older histories). */
  seconds: number | null;
}

/** One ingested source, reported as soon as its load finishes (the others may still be loading). */
export interface SourceProgress {
  source: string;
  loaded: number;
  quarantined: number;
}

/** Answer of dailyRun's `progress` query. */
export interface RunProgress {
  runId: string;
  asOf?: string;
  currentStage: Stage | 'done' | 'failed' | 'cancelled' | 'starting';
  /** Names of the finished stages, in order (kept for older clients; `stages` has their rows and seconds). */
  completed: Stage[];
  stages?: StageProgress[];
  sources?: SourceProgress[];
}

export const WORKFLOW_SCHEDULED_RUN = 'scheduledRun';
export const WORKFLOW_BACKFILL = 'backfill';
/** Query of backfill answering BackfillProgress. */
export const QUERY_BACKFILL_PROGRESS = 'backfillProgress';

/** Where a run's inputs come from: an input-folder pattern with `{as_of}` and a config file, both absolute. */
export interface RunSource {
  inputPattern: string;
  /** Read by the worker at each run, so an edited config applies to the next run (its sha256 is recorded per run). */
  configFile: string;
}

/** Arguments of the scheduledRun workflow, fixed when the schedule is created. */
export interface ScheduledRunInput extends RunSource {
  scheduleId: string;
  timezone: string;
  /** Days between the scheduled local date and the as-of date (1: the day that closed before). */
  asOfOffsetDays: number;
}

export interface ScheduledRunResult {
  scheduleId: string;
  /** The scheduled (nominal) time the as-of date was derived from, ISO UTC. */
  nominalTime: string;
  asOf: string;
  runId: string;
  status: 'succeeded' | 'skipped';
  /** Why the date was skipped (e.g. it already has a successful run). */
  reason?: string;
}

export const BACKFILL_ON_FAILURE = ['stop', 'continue'] as const;
export type BackfillOnFailure = (typeof BACKFILL_ON_FAILURE)[number];

export interface BackfillInput extends RunSource {
  from: string;
  to: string;
  rerun: boolean;
  onFailure: BackfillOnFailure;
  /** Dates done before a continue-as-new (empty at the start). */
  done?: BackfillDate[];
}

export type BackfillDateStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'not_run' | 'cancelled';

/** One date of a backfill, as `backfill --json` prints it. */
export interface BackfillDate {
  as_of: string;
  run_id: string | null;
  status: BackfillDateStatus;
  duration_s: number | null;
  /** One line: why the date failed, was skipped or was not run. */
  error?: string | null;
}

export interface BackfillResult {
  from: string;
  to: string;
  dates: BackfillDate[];
}

/** What the run-preparation activity decided for one date. */
export type PreparedRun =
  | { kind: 'run'; input: DailyRunInput }
  | { kind: 'skip'; runId: string; reason: string }
  | { kind: 'missing'; reason: string };
