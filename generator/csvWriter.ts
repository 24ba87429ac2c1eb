/** Buffered CSV file sink that counts rows and bytes and hashes exactly what it writes. */
import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';

const NEEDS_QUOTES = /[",\r\n]/;

/** RFC 4180 field: quoted (with doubled quotes) only when it contains a comma, quote or line break. */
export function csvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export interface CsvFileStats {
  /** Data rows (header excluded; a duplicated line counts twice). */
  rows: number;
  bytes: number;
  sha256: string;
}

// Batch small row strings into ~64 KB writes: one Buffer + one hash update per batch, not per row.
const FLUSH_AT = 1 << 16;

export class CsvSink {
  private readonly stream: WriteStream;
  private readonly hash: Hash = createHash('sha256');
  private buffer: string;
  private rowCount = 0;
  private byteCount = 0;
  private drained: Promise<unknown> | null = null;
  private failure: Error | null = null;

  constructor(
    readonly path: string,
    columns: readonly string[],
  ) {
    this.stream = createWriteStream(path);
    this.stream.on('error', (err) => {
      this.failure = err;
    });
    this.buffer = `${columns.join(',')}\n`;
  }

  /** Appends one already-encoded CSV line (no trailing newline). */
  line(row: string): void {
    this.buffer += row;
    this.buffer += '\n';
    this.rowCount++;
    if (this.buffer.length >= FLUSH_AT) this.flush();
  }

  private flush(): void {
    if (this.buffer.length === 0) return;
    const chunk = Buffer.from(this.buffer, 'utf8');
    this.buffer = '';
    this.hash.update(chunk);
    this.byteCount += chunk.length;
    if (!this.stream.write(chunk) && this.drained === null) {
      // events.once rejects if the stream emits 'error' while we wait.
      const drained = once(this.stream, 'drain').finally(() => {
        this.drained = null;
      });
      drained.catch(() => undefined); // the error is also in this.failure; avoid an unhandled rejection
      this.drained = drained;
    }
  }

  /** Resolves when the file can take more data (backpressure); throws a pending write error. */
  async ready(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.drained) await this.drained;
  }

  /** True when the caller should `await ready()` before producing more rows. */
  get blocked(): boolean {
    return this.drained !== null || this.failure !== null;
  }

  /** Flushes, closes the file and returns its stats. */
  async close(): Promise<CsvFileStats> {
    this.flush();
    await this.ready();
    await new Promise<void>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.stream.once('error', reject);
      this.stream.end(() => resolve());
    });
    if (this.failure) throw this.failure;
    return { rows: this.rowCount, bytes: this.byteCount, sha256: this.hash.digest('hex') };
  }

  /** Closes the file without reporting, for clean-up after another failure. */
  destroy(): void {
    this.stream.destroy();
  }
}
