/**
 * Normalising landed customer records in batches, on worker threads (transforms/cleanWorker.ts) or in the calling
 * thread. Every record is cleaned on its own, so the output does not depend on the number of threads; callers write
 * the batches in submission order. At 1M records the keyed hashes (five HMACs a record) were most of the clean stage's
 * Node time on one thread (docs/PERFORMANCE.md).
 */
import { spawnModuleWorker } from '../services/moduleWorker';
import { ThreadPool, type PoolOutcome } from '../services/threadPool';
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

export class CleanPool {
  private readonly pool: ThreadPool<string> | null;

  /** `threads` worker threads (0: clean in the calling thread). */
  constructor(readonly threads: number, private readonly piiKey: string) {
    if (!(Number.isInteger(threads) && threads >= 0)) throw new Error(`clean threads must be an integer >= 0, got ${threads}`);
    this.pool = threads === 0 ? null : new ThreadPool(threads, () => spawnModuleWorker(__dirname, 'cleanWorker', __filename), decodeReply, 'clean');
  }

  clean(rows: RawCustomer[]): Promise<string> {
    if (!this.pool) {
      try {
        return Promise.resolve(cleanBatch(rows, this.piiKey));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.pool.request((id) => ({ message: { id, piiKey: this.piiKey, rows } satisfies CleanWorkerRequest }));
  }

  /** Stops the workers (pending batches fail). */
  async close(): Promise<void> {
    await this.pool?.close();
  }
}

function decodeReply(reply: unknown): PoolOutcome<string> {
  const r = reply as CleanWorkerReply;
  return 'csv' in r ? { id: r.id, result: r.csv } : { id: r.id, error: new Error(r.error) };
}
