import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeSnapshot } from '../../relations/parquet';
import { col, relation } from '../../relations/types';
import { compareRuns } from '../../audit/replay';

const scored = (file: string) => relation({ name: file.replace('.parquet', ''), file, doc: 'test rows', key: ['golden_id'], sortBy: ['golden_id'], columns: [col('golden_id', 'VARCHAR'), col('score', 'DOUBLE')] });
async function* rows(scores: number[]) {
  for (const [i, score] of scores.entries()) yield { golden_id: `G${i}`, score };
}

/** A run folder with one Parquet file, one CSV and an outcomes file, and the manifest listing them. */
async function folder(root: string, name: string, scores: number[], csv: string, outcome: number): Promise<string> {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const a = await writeSnapshot(dir, scored('scores.parquet'), { rows: rows(scores) });
  const o = await writeSnapshot(dir, scored('outcomes.parquet'), { rows: rows([outcome]) });
  writeFileSync(path.join(dir, 'list.csv'), csv);
  const c = { path: 'list.csv', rows: 2, sha256: require('node:crypto').createHash('sha256').update(csv).digest('hex') };
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ run_id: name, stages: [{ stage: 'score', files: [a] }, { stage: 'dispatch', files: [c] }, { stage: 'outcomes', files: [o] }] }));
  return dir;
}

describe('compareRuns', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(path.join(os.tmpdir(), 'portrait-replay-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('reports identical files, and for a differing file the first differing Parquet row and column or CSV line; outcome files are compared too', async () => {
    const original = await folder(root, 'a', [0.1, 0.2, 0.3], 'k\r\nx\r\ny\r\n', 1);
    const same = await folder(root, 'b', [0.1, 0.2, 0.3], 'k\r\nx\r\ny\r\n', 1);
    const report = await compareRuns({ runId: 'a', dir: original, codeVersion: '0.1.0+a' }, { runId: 'b', dir: same, codeVersion: '0.1.0+b' });
    expect(report).toMatchObject({ run_id: 'a', replay_run_id: 'b', identical: true, code_version: { original: '0.1.0+a', now: '0.1.0+b' } });
    expect(report.files.map((f) => f.path)).toEqual(['list.csv', 'outcomes.parquet', 'scores.parquet']);

    const other = await folder(root, 'c', [0.1, 0.2000001, 0.3], 'k\r\nx\r\nz\r\n', 2);
    const diff = await compareRuns({ runId: 'a', dir: original, codeVersion: 'v' }, { runId: 'c', dir: other, codeVersion: 'v' });
    expect(diff.identical).toBe(false);
    expect(diff.files).toEqual([
      { path: 'list.csv', identical: false, original_sha256: expect.any(String), replay_sha256: expect.any(String), first_difference: { line: 3 } },
      { path: 'outcomes.parquet', identical: false, original_sha256: expect.any(String), replay_sha256: expect.any(String), first_difference: { row: 0, column: 'score', original: 1, replay: 2 } },
      { path: 'scores.parquet', identical: false, original_sha256: expect.any(String), replay_sha256: expect.any(String), first_difference: { row: 1, column: 'score', original: 0.2, replay: 0.2000001 } },
    ]);
  });
});
