/**
 * Scores batches of COPY text (models/scoreText.ts) on a pool of worker threads, or in the calling thread with 0
 * threads. Every row is scored on its own, so the output is the same whatever the number of threads; callers write
 * the results in submission order. Workers are unref'd while they have nothing to do (they never keep a process alive).
 */
import { spawnModuleWorker } from '../services/moduleWorker';
import { ThreadPool, type PoolOutcome } from '../services/threadPool';
import type { HistForest } from './histForest';
import { parseCopyText, scoreLines, ScoreInputError, type CopyColumn, type ScoreLineContext } from './scoreText';

export interface ScoreModel {
  version: string;
  /** The model file's text, sent once to each worker that scores with it. */
  json: string;
  /** The same model loaded here (scores in this thread with 0 threads). */
  forest: HistForest;
}

export interface ScoreBatch {
  columns: readonly CopyColumn[];
  /** Whole lines of COPY text (id, then `columns`). */
  text: Uint8Array;
  context: ScoreLineContext;
}

/** A scored batch: its mart.scores COPY csv as UTF-8 bytes, and how many rows that is. */
export interface ScoredBatch {
  csv: Uint8Array;
  rows: number;
}

export type ScoreWorkerRequest =
  | { model: { version: string; json: string } }
  | { job: { id: number; version: string; columns: readonly CopyColumn[]; text: Uint8Array; context: ScoreLineContext } };
export type ScoreWorkerReply = { id: number; scored: ScoredBatch } | { id: number; error: string; invalidInput: boolean };

/** Scores one batch in this thread. */
export function scoreBatch(forest: HistForest, batch: ScoreBatch): ScoredBatch {
  const parsed = parseCopyText(batch.text, batch.columns);
  const csv = Buffer.from(scoreLines(forest, parsed, batch.context), 'utf8');
  return { csv: new Uint8Array(csv.buffer, csv.byteOffset, csv.byteLength), rows: parsed.rows };
}

export class ScorePool {
  private readonly pool: ThreadPool<ScoredBatch> | null;

  /** `threads` worker threads (0: score in the calling thread), stopped after `idleMs` without work (ThreadPool). */
  constructor(
    readonly threads: number,
    idleMs?: number,
  ) {
    if (!(Number.isInteger(threads) && threads >= 0)) throw new Error(`score threads must be an integer >= 0, got ${threads}`);
    this.pool = threads === 0 ? null : new ThreadPool(threads, () => spawnModuleWorker(__dirname, 'scoreWorker', __filename), decodeReply, 'score', idleMs);
  }

  /**
   * The batch scored. Rejects with ScoreInputError when the model cannot read the
   * input (a missing or re-typed column), with another Error when a worker failed.
   */
  score(model: ScoreModel, batch: ScoreBatch): Promise<ScoredBatch> {
    if (!this.pool) {
      try {
        return Promise.resolve(scoreBatch(model.forest, batch));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    // Each thread is sent a model once, before its first batch.
    const load: ScoreWorkerRequest = { model: { version: model.version, json: model.json } };
    return this.pool.request((id) => {
      const job: ScoreWorkerRequest = { job: { id, version: model.version, columns: batch.columns, text: batch.text, context: batch.context } };
      return { message: job };
    }, { key: model.version, message: load });
  }

  /** Stops the workers (pending batches fail). */
  async close(): Promise<void> {
    await this.pool?.close();
  }
}

function decodeReply(reply: unknown): PoolOutcome<ScoredBatch> {
  const r = reply as ScoreWorkerReply;
  if ('scored' in r) return { id: r.id, result: r.scored };
  return { id: r.id, error: r.invalidInput ? new ScoreInputError(r.error) : new Error(r.error) };
}
