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
