import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { interruption } from './interrupt';
import { CancelledFailure, WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { QUERY_PROGRESS, STAGES, type DailyRunResult, type RunProgress, type StageProgress } from '../shared';

/** How often `--wait` asks the workflow for its progress. */
const POLL_MS = 1000;
/** A query waits for a worker; past this the bar keeps its last state rather than freezing the poll loop. */
const QUERY_DEADLINE_MS = 5000;

const count = new Intl.NumberFormat('en-US');

/** The bar's text fields for one progress answer: the stage in progress and what is known of its rows. */
export function progressPayload(p: RunProgress): { stage: string; rows: string } {
  const sources = p.sources ?? [];
  if (p.currentStage === 'ingest' && sources.length) {
    const loaded = sources.reduce((n, s) => n + s.loaded, 0);
    return { stage: 'ingest', rows: `${sources.length} sources, ${count.format(loaded)} rows` };
  }
  const last = p.stages?.at(-1);
  return { stage: p.currentStage, rows: last ? `${last.stage}: ${count.format(last.rows)} rows` : '' };
}

/** One line per finished stage, printed above the bar. */
export function stageLine(s: StageProgress): string {
  const seconds = s.seconds === null ? '' : `${s.seconds.toFixed(1)} s`;
  return `  ${s.stage.padEnd(9)} ${count.format(s.rows).padStart(12)} rows ${seconds.padStart(9)}`;
}

/** Stages finished so far, out of the seven; a finished run fills the bar. */
export function stagesDone(p: RunProgress): number {
  return p.currentStage === 'done' ? STAGES.length : (p.stages?.length ?? p.completed.length);
}

/** The live view: one cli-progress bar over the seven stages, each finished stage logged above it. */
class ProgressView {
  private readonly bars = new MultiBar(
    { format: ' {bar} {value}/{total} stages | {stage} | {duration_formatted} | {rows}', barsize: 20, hideCursor: true, clearOnComplete: false, fps: 5, gracefulExit: false },
    Presets.shades_classic,
  );
  private readonly bar: SingleBar;
  private logged = 0;

  constructor(runId: string) {
    this.bars.log(`run ${runId}\n`);
    this.bar = this.bars.create(STAGES.length, 0, { stage: 'starting', rows: '' });
  }

  show(p: RunProgress): void {
    for (const s of (p.stages ?? []).slice(this.logged)) this.bars.log(stageLine(s) + '\n');
    this.logged = p.stages?.length ?? 0;
    this.bar.update(stagesDone(p), progressPayload(p));
  }

  stop(): void {
    // Lines logged since the last redraw are only written by a redraw: flush them before the final picture.
    this.bars.update();
    this.bars.stop();
  }
}

export type WaitOutcome = { interrupted: false; result: DailyRunResult } | { interrupted: true };

/**
 * Waits for a daily run to end. With `live`, polls its progress query and draws it; Ctrl-C stops the waiting
 * (never the run, which belongs to the workers) and reports `interrupted`.
 */
export async function waitForRun(client: Client, handle: WorkflowHandle, runId: string, opts: { live: boolean }): Promise<WaitOutcome> {
  const view = opts.live ? new ProgressView(runId) : undefined;
  const interrupt = interruption();
  const interrupted = interrupt.signalled.then(() => 'interrupted' as const);
  const result = handle.result() as Promise<DailyRunResult>;
  try {
    const finished = result.then(() => 'finished' as const, () => 'finished' as const);
    for (;;) {
      const waits: Promise<'finished' | 'interrupted' | 'tick'>[] = [finished, interrupted];
      if (view) waits.push(new Promise((resolve) => setTimeout(() => resolve('tick'), POLL_MS).unref()));
      const next = await Promise.race(waits);
      if (next === 'interrupted') return { interrupted: true };
      if (view) await queryProgress(client, handle).then((p) => p && view.show(p));
      if (next === 'finished') return { interrupted: false, result: await result.catch((err) => Promise.reject(runEndError(err, runId))) };
    }
  } finally {
    interrupt.dispose();
    view?.stop();
  }
}

async function queryProgress(client: Client, handle: WorkflowHandle): Promise<RunProgress | undefined> {
  try {
    return await client.connection.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query<RunProgress>(QUERY_PROGRESS));
  } catch {
    // No worker answered in time (or the run has not started yet): keep the last picture.
    return undefined;
  }
}

/** A cancelled run is not a crash: say so in one line; other failures keep their own cause. */
function runEndError(err: unknown, runId: string): unknown {
  if (err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure) return new Error(`run ${runId} was cancelled`);
  return err;
}

/** What to print when Ctrl-C stops the waiting: the run itself goes on. */
export function interruptedLine(runId: string): string {
  return `stopped waiting; run ${runId} keeps running on the workers (portrait status ${runId}; portrait cancel ${runId} stops it)`;
}
