import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { sha256File } from './snapshots';

/** A column of a target list workbook: its Chinese header, and whether its values are local times. */
export interface XlsxColumn {
  key: string;
  header: string;
  width: number;
  /** Values are `YYYY-MM-DDTHH:MM:SS+HH:MM` local times: written as Excel date-times showing that wall clock. */
  localTime?: boolean;
}

export interface XlsxWriter {
  add(values: Record<string, string | null>): void;
  /** Closes the workbook and renames it into place; returns the row count and sha256. */
  finish(): Promise<{ rows: number; sha256: string }>;
  abort(): Promise<void>;
}

/**
 * Streams a target list into an .xlsx with exceljs's streaming writer (each row is committed and flushed, so a
 * million rows stay in bounded memory): a frozen header row, an autofilter over the data, text cells for every
 * token (formatted '@', never turned into numbers) and local send times as date-times. The zip entries and the
 * document properties carry `fixedTime`, so the same rows give a byte-identical file.
 */
export async function openTargetListXlsx(target: string, sheetName: string, columns: readonly XlsxColumn[], fixedTime: Date): Promise<XlsxWriter> {
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.partial`;
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: tmp, useStyles: true, useSharedStrings: false });
  // exceljs stamps zip entries with the current time; a fixed time keeps the file byte-identical across re-runs.
  const zip = (workbook as unknown as { zip: { append: (source: unknown, data: Record<string, unknown>) => unknown } }).zip;
  const append = zip.append.bind(zip);
  zip.append = (source, data) => append(source, { ...data, date: fixedTime });
  workbook.creator = 'Portrait';
  workbook.lastModifiedBy = 'Portrait';
  workbook.created = fixedTime;
  workbook.modified = fixedTime;
  const sheet = workbook.addWorksheet(sheetName, { views: [{ state: 'frozen', ySplit: 1, xSplit: 0 }] });
  sheet.columns = columns.map((c) => ({ key: c.key, width: c.width, style: c.localTime ? { numFmt: 'yyyy-mm-dd hh:mm:ss' } : { numFmt: '@' } }));
  const header = sheet.addRow(columns.map((c) => c.header));
  header.font = { bold: true };
  header.commit();
  let rows = 0;
  return {
    add(values) {
      const row = sheet.addRow(columns.map((c) => {
        const v = values[c.key] ?? null;
        return v !== null && c.localTime ? wallClock(v) : v;
      }));
      row.commit();
      rows++;
    },
    async finish() {
      sheet.autoFilter = { from: { row: 1, column: 1 }, to: { row: rows + 1, column: columns.length } };
      sheet.commit();
      await workbook.commit();
      await rename(tmp, target);
      return { rows, sha256: await sha256File(target) };
    },
    async abort() {
      await rm(tmp, { force: true });
    },
  };
}

/**
 * Excel date-times have no zone: the cell must hold the local wall clock. exceljs converts a Date through its UTC
 * fields, so the local fields of `2026-12-21T10:00:00+08:00` are put into a UTC Date.
 */
function wallClock(localIso: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})/.exec(localIso);
  if (!m) throw new Error(`not a local time: ${localIso}`);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}
