import { createHash } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Knex } from 'knex';
import type { SnapshotFile } from '../shared';
import { renderReportHtml } from './html';
import type { Lang } from './messages';
import { loadReportData } from './queries';

export { LANGUAGES, type Lang } from './messages';
export const REPORT_FILE = 'report.html';

/** The report of a run as one HTML string; null when the run does not exist. */
export async function buildReportHtml(db: Knex, runId: string, lang: Lang = 'zh'): Promise<string | null> {
  const data = await loadReportData(db, runId);
  return data ? renderReportHtml(data, lang) : null;
}

/**
 * Writes `<runDir>/report.html` (Chinese) atomically and returns it as a snapshot file; `rows` counts its charts.
 * `db` may be a transaction, so the report sees the rows that are being committed with it.
 */
export async function writeRunReportFile(db: Knex, runDir: string, runId: string): Promise<SnapshotFile> {
  const html = await buildReportHtml(db, runId, 'zh');
  if (html === null) throw new Error(`report: no run ${runId}`);
  const target = path.join(runDir, REPORT_FILE);
  await mkdir(runDir, { recursive: true });
  await writeFile(`${target}.partial`, html, 'utf8');
  await rename(`${target}.partial`, target);
  return { path: REPORT_FILE, rows: (html.match(/<figure class="chart"/g) ?? []).length, sha256: createHash('sha256').update(html, 'utf8').digest('hex') };
}
