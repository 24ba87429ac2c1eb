import type { Transferable, Worker } from 'worker_threads';

/** A worker's reply decoded: the request it answers, and its result or error. */
export type PoolOutcome<R> = { id: number; result: R } | { id: number; error: Error };

interface Thread<R> {
  worker: Worker;
  /** Setup keys this thread was sent. */
  sent: Set<string>;
  pending: Map<number, { resolve: (result: R) => void; reject: (err: Error) => void }>;
  failure: Error | null;
}

/**
 * Worker threads answering requests by id; each request goes to the least busy thread. A thread that fails or exits
 * rejects what it had pending and is replaced on the next request. Threads are unref'd while idle, so they never keep
 * a process alive. Callers that need results in order await them in submission order.
 * With `idleMs`, a pool that has answered everything and been asked nothing for that long stops its threads (new ones
 * start on the next request, and are sent their setups again): a process-wide pool used by one stage of a daily run
 * would otherwise keep its threads' heaps for the rest of the run (1M: the ingest and scoring threads were still
 * resident in dispatch, where the worker peaks).
 */
export class ThreadPool<R> {
  private readonly threads: Thread<R>[] = [];
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly size: number,
    private readonly spawnWorker: () => Worker,
    private readonly decode: (reply: unknown) => PoolOutcome<R>,
    private readonly name: string,
    private readonly idleMs?: number,
  ) {
    if (!(Number.isInteger(size) && size >= 1)) throw new Error(`${name} threads must be an integer >= 1, got ${size}`);
  }

  /** Live threads (for tests and diagnostics). */
  get threadCount(): number {
    return this.threads.length;
  }

  /**
   * Posts the message `build` makes for the request id to the least busy thread; resolves with the reply's result.
   * `setup` (a model, a file's parse context) is posted first to a thread that was not yet sent its key. Callers keep
   * several requests in flight and await them in submission order, so a rejection may wait for its turn: the promise
   * is marked handled here (awaiting it still throws), or one failed batch behind another would be an unhandled
   * rejection that ends the process.
   */
  request(build: (id: number) => { message: unknown; transfer?: Transferable[] }, setup?: { key: string; message: unknown }): Promise<R> {
    this.cancelIdleStop();
    const t = this.leastBusy();
    if (t.failure) return Promise.reject(t.failure);
    const id = this.nextId++;
    const reply = new Promise<R>((resolve, reject) => {
      if (t.pending.size === 0) t.worker.ref();
      t.pending.set(id, { resolve, reject });
      if (setup && !t.sent.has(setup.key)) {
        t.worker.postMessage(setup.message);
        t.sent.add(setup.key);
      }
      const { message, transfer } = build(id);
      t.worker.postMessage(message, transfer ?? []);
    });
    reply.catch(() => undefined);
    return reply;
  }

  /** Posts `message` to every live thread that was sent setup `key`, and forgets that it was (a finished job's setup). */
  forget(key: string, message: unknown): void {
    for (const t of this.threads) {
      if (t.failure || !t.sent.delete(key)) continue;
      t.worker.postMessage(message);
    }
  }

  /** Stops the threads (pending requests fail). */
  async close(): Promise<void> {
    this.cancelIdleStop();
    await Promise.all(this.threads.splice(0).map((t) => t.worker.terminate()));
  }

  private cancelIdleStop(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /** After a reply: when nothing is pending any more, stop the threads once idleMs pass without a request. */
  private scheduleIdleStop(): void {
    if (this.idleMs === undefined || this.threads.some((t) => t.pending.size > 0)) return;
    this.cancelIdleStop();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.threads.some((t) => t.pending.size > 0)) return;
      for (const t of this.threads.splice(0)) void t.worker.terminate();
    }, this.idleMs);
    this.idleTimer.unref();
  }

  private leastBusy(): Thread<R> {
    for (let i = 0; i < this.threads.length; i++) if (this.threads[i]!.failure) this.threads.splice(i--, 1);
    while (this.threads.length < this.size) this.threads.push(this.spawn());
    let best = this.threads[0]!;
    for (const t of this.threads) if (t.pending.size < best.pending.size) best = t;
    return best;
  }

  private spawn(): Thread<R> {
    const t: Thread<R> = { worker: this.spawnWorker(), sent: new Set(), pending: new Map(), failure: null };
    const fail = (err: Error) => {
      t.failure ??= err;
      for (const p of t.pending.values()) p.reject(t.failure);
      t.pending.clear();
    };
    t.worker.on('error', fail);
    t.worker.on('exit', (code) => fail(new Error(`${this.name} worker exited with code ${code}`)));
    t.worker.on('message', (reply: unknown) => {
      const outcome = this.decode(reply);
      const p = t.pending.get(outcome.id);
      if (!p) return;
      t.pending.delete(outcome.id);
      if (t.pending.size === 0) t.worker.unref();
      if ('result' in outcome) p.resolve(outcome.result);
      else p.reject(outcome.error);
      this.scheduleIdleStop();
    });
    t.worker.unref();
    return t;
  }
}
