import path from 'node:path';

export { sha256File } from '../relations/parquet';

export function runSnapshotDir(snapshotRoot: string, runId: string): string {
  return path.join(snapshotRoot, runId);
}
