/**
 * Normalising landed customer records in batches, on worker threads (transforms/cleanWorker.ts) or in the calling
 * thread. Every record is cleaned on its own, so the output does not depend on the number of threads; callers write
 * the batches in submission order. At 1M records the keyed hashes (five HMACs a record) were most of the clean stage's
 * Node time on one thread (docs/PERFORMANCE.md).
 */
import type { Worker } from 'worker_threads';
import { spawnModuleWorker } from '../services/moduleWorker';
import { csvLine } from './copyText';
import { cleanCustomer, type CleanCustomer, type RawCustomer } from './customerRecord';

/** Columns of a cleaned record as the clean stage copies them into its staging table, in this order. */
export const CLEAN_COLUMNS: (keyof CleanCustomer)[] = [
  'source_system', 'customer_key', 'seed_golden_id', 'name_masked', 'name_hash', 'id_hash', 'id_body_hash', 'phone_hash', 'id_valid',
  'phone_valid', 'birth_date', 'gender', 'city', 'city_tier', 'occupation', 'annual_income', 'opened_at', 'findings',
];

/** The batch's records cleaned, as COPY csv lines of CLEAN_COLUMNS. */
export function cleanBatch(rows: readonly RawCustomer[], piiKey: string): string {
  let out = '';
  for (const raw of rows) {
    const c = cleanCustomer(raw, piiKey);
    out += csvLine(CLEAN_COLUMNS.map((k) => (c[k] === null ? null : String(c[k]))));
  }
  return out;
}

export type CleanWorkerRequest = { id: number; piiKey: string; rows: RawCustomer[] };
export type CleanWorkerReply = { id: number; csv: string } | { id: number; error: string };

interface PoolWorker {
  worker: Worker;
  pending: Map<number, { resolve: (csv: string) => void; reject: (err: Error) => void }>;
  failure: Error | null;
}

export class CleanPool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 0;

  /** `threads` worker threads (0: clean in the calling thread). */
  constructor(readonly threads: number, private readonly piiKey: string) {
    if (!(Number.isInteger(threads) && threads >= 0)) throw new Error(`clean threads must be an integer >= 0, got ${threads}`);
  }

  clean(rows: RawCustomer[]): Promise<string> {
    if (this.threads === 0) {
      try {
        return Promise.resolve(cleanBatch(rows, this.piiKey));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const pw = this.leastBusy();
    if (pw.failure) return Promise.reject(pw.failure);
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      pw.pending.set(id, { resolve, reject });
      const req: CleanWorkerRequest = { id, piiKey: this.piiKey, rows };
      pw.worker.postMessage(req);
    });
  }

  /** Stops the workers (pending batches fail). */
  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((pw) => pw.worker.terminate()));
  }

  private leastBusy(): PoolWorker {
    while (this.workers.length < this.threads) this.workers.push(this.spawn());
    let best = this.workers[0]!;
    for (const pw of this.workers) if (pw.pending.size < best.pending.size) best = pw;
    return best;
  }

  private spawn(): PoolWorker {
    const pw: PoolWorker = { worker: spawnModuleWorker(__dirname, 'cleanWorker', __filename), pending: new Map(), failure: null };
    const fail = (err: Error) => {
      pw.failure ??= err;
      for (const p of pw.pending.values()) p.reject(pw.failure);
      pw.pending.clear();
    };
    pw.worker.on('error', fail);
    pw.worker.on('exit', (code) => fail(new Error(`clean worker exited with code ${code}`)));
    pw.worker.on('message', (reply: CleanWorkerReply) => {
      const p = pw.pending.get(reply.id);
      if (!p) return;
      pw.pending.delete(reply.id);
      if ('csv' in reply) p.resolve(reply.csv);
      else p.reject(new Error(reply.error));
    });
    return pw;
  }
}
