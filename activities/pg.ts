import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/**
 * Runs `work` in one transaction on a dedicated connection (COPY needs one: it cannot share a pooled client with
 * other statements while it streams). Rolls back on any error, always closes the connection.
 */
export async function withTransaction<T>(databaseUrl: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface CopyWriter {
  /** Writes CSV text, waiting for the socket to drain when PostgreSQL is behind. */
  write(text: string): Promise<void>;
  /** Ends the COPY and resolves once PostgreSQL has taken every row. */
  end(): Promise<void>;
  /** Abandons the COPY (CopyFail), so the connection can roll back instead of waiting for rows forever. */
  abort(reason: Error): Promise<void>;
}

/** `COPY … FROM STDIN` as a writer with backpressure. */
export function copyWriter(client: Client, sql: string): CopyWriter {
  const stream = client.query(copyFrom(sql));
  const finished = new Promise<void>((resolve, reject) => {
    stream.once('finish', resolve);
    stream.once('error', reject);
  });
  // Observed by end(); this guard keeps an early COPY error from being an unhandled rejection meanwhile.
  finished.catch(() => undefined);
  return {
    async write(text) {
      if (text && !stream.write(text)) await new Promise((resolve) => stream.once('drain', resolve));
    },
    async end() {
      stream.end();
      await finished;
    },
    async abort(reason) {
      if (!stream.destroyed) stream.destroy(reason);
      await finished.catch(() => undefined);
    },
  };
}
