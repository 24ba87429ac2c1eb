/**
 * Scores batches of COPY text (models/scoreText.ts) on a pool of worker threads, or in the calling thread with 0
 * threads. Every row is scored on its own, so the output is the same whatever the number of threads; callers write
 * the results in submission order. Workers are unref'd while they have nothing to do (they never keep a process alive).
 */
import type { Worker } from 'worker_threads';
import { spawnModuleWorker } from '../services/moduleWorker';
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

interface PoolWorker {
  worker: Worker;
  models: Set<string>;
  pending: Map<number, { resolve: (scored: ScoredBatch) => void; reject: (err: Error) => void }>;
  failure: Error | null;
}

/** Scores one batch in this thread. */
export function scoreBatch(forest: HistForest, batch: ScoreBatch): ScoredBatch {
  const parsed = parseCopyText(batch.text, batch.columns);
  const csv = Buffer.from(scoreLines(forest, parsed, batch.context), 'utf8');
  return { csv: new Uint8Array(csv.buffer, csv.byteOffset, csv.byteLength), rows: parsed.rows };
}

export class ScorePool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 0;

  /** `threads` worker threads (0: score in the calling thread). */
  constructor(readonly threads: number) {
    if (!(Number.isInteger(threads) && threads >= 0)) throw new Error(`score threads must be an integer >= 0, got ${threads}`);
  }

  /**
   * The batch scored. Rejects with ScoreInputError when the model cannot read the
   * input (a missing or re-typed column), with another Error when a worker failed.
   */
  score(model: ScoreModel, batch: ScoreBatch): Promise<ScoredBatch> {
    if (this.threads === 0) {
      try {
        return Promise.resolve(scoreBatch(model.forest, batch));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const pw = this.leastBusy();
    if (pw.failure) return Promise.reject(pw.failure);
    if (!pw.models.has(model.version)) {
      const req: ScoreWorkerRequest = { model: { version: model.version, json: model.json } };
      pw.worker.postMessage(req);
      pw.models.add(model.version);
    }
    const id = this.nextId++;
    return new Promise<ScoredBatch>((resolve, reject) => {
      if (pw.pending.size === 0) pw.worker.ref();
      pw.pending.set(id, { resolve, reject });
      const req: ScoreWorkerRequest = { job: { id, version: model.version, columns: batch.columns, text: batch.text, context: batch.context } };
      pw.worker.postMessage(req);
    });
  }

  /** Stops the workers (pending batches fail). */
  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((pw) => pw.worker.terminate()));
  }

  private leastBusy(): PoolWorker {
    // Replace a failed worker (its batches were rejected) before choosing.
    for (let i = 0; i < this.workers.length; i++) if (this.workers[i]!.failure) this.workers.splice(i--, 1);
    while (this.workers.length < this.threads) this.workers.push(this.spawn());
    let best = this.workers[0]!;
    for (const pw of this.workers) if (pw.pending.size < best.pending.size) best = pw;
    return best;
  }

  private spawn(): PoolWorker {
    const pw: PoolWorker = { worker: spawnModuleWorker(__dirname, 'scoreWorker', __filename), models: new Set(), pending: new Map(), failure: null };
    const fail = (err: Error) => {
      pw.failure ??= err;
      for (const p of pw.pending.values()) p.reject(pw.failure);
      pw.pending.clear();
    };
    pw.worker.on('error', fail);
    pw.worker.on('exit', (code) => fail(new Error(`score worker exited with code ${code}`)));
    pw.worker.on('message', (reply: ScoreWorkerReply) => {
      const p = pw.pending.get(reply.id);
      if (!p) return;
      pw.pending.delete(reply.id);
      if (pw.pending.size === 0) pw.worker.unref();
      if ('scored' in reply) p.resolve(reply.scored);
      else p.reject(reply.invalidInput ? new ScoreInputError(reply.error) : new Error(reply.error));
    });
    pw.worker.unref();
    return pw;
  }
}
