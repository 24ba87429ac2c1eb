import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { ParquetSchema, ParquetWriter } from '@dsnp/parquetjs';
import type { SnapshotFile } from '../shared';

export type ParquetColumnType = 'UTF8' | 'DOUBLE' | 'INT64' | 'INT32' | 'BOOLEAN';
export type SnapshotSchema = Record<string, { type: ParquetColumnType; optional?: boolean }>;

/**
 * Streams rows into `<runDir>/<file>` as Parquet. Rows must arrive in a deterministic order (callers sort in
 * SQL); the file is written under a temporary name and renamed, so a retried activity never leaves half a file.
 */
export async function writeParquetSnapshot(runDir: string, file: string, schema: SnapshotSchema, rows: AsyncIterable<Record<string, unknown>>): Promise<SnapshotFile> {
  const target = path.join(runDir, file);
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.partial`;
  const writer = await ParquetWriter.openFile(new ParquetSchema(schema), tmp, { rowGroupSize: 8192 });
  let count = 0;
  const columns = Object.entries(schema);
  try {
    for await (const row of rows) {
      const out: Record<string, unknown> = {};
      for (const [name, def] of columns) out[name] = coerce(row[name], def.type);
      await writer.appendRow(out);
      count++;
    }
    await writer.close();
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await rename(tmp, target);
  return { path: file, rows: count, sha256: await sha256File(target) };
}

function coerce(value: unknown, type: ParquetColumnType): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'UTF8':
      return value instanceof Date ? value.toISOString() : String(value);
    case 'DOUBLE':
      return Number(value);
    case 'INT64':
    case 'INT32':
      return Number(value);
    case 'BOOLEAN':
      return Boolean(value);
  }
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

export function runSnapshotDir(snapshotRoot: string, runId: string): string {
  return path.join(snapshotRoot, runId);
}
