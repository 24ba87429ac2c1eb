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
  const workbook = pinnedTimeWorkbook({ filename: tmp, useStyles: true, useSharedStrings: false }, fixedTime);
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

type ZipOwner = { zip: { append: (source: unknown, data: Record<string, unknown>) => unknown; pinned?: boolean } };
const StreamingWorkbook = ExcelJS.stream.xlsx.WorkbookWriter as unknown as new (options: Partial<ExcelJS.stream.xlsx.WorkbookStreamWriterOptions>) => ExcelJS.stream.xlsx.WorkbookWriter & { addThemes(): Promise<void>; addOfficeRels(): Promise<void> };

/**
 * exceljs stamps every zip entry with the current time, the first two (theme, rels) from inside its constructor; the
 * entries are pinned to `fixedTime` from the first append on, so the same rows give a byte-identical file.
 */
function pinnedTimeWorkbook(options: Partial<ExcelJS.stream.xlsx.WorkbookStreamWriterOptions>, fixedTime: Date): ExcelJS.stream.xlsx.WorkbookWriter {
  const pin = (owner: ZipOwner) => {
    if (owner.zip.pinned) return;
    const append = owner.zip.append.bind(owner.zip);
    owner.zip.append = (source, data) => append(source, { ...data, date: fixedTime });
    owner.zip.pinned = true;
  };
  class PinnedWorkbook extends StreamingWorkbook {
    override addThemes() {
      pin(this as unknown as ZipOwner);
      return super.addThemes();
    }
    override addOfficeRels() {
      pin(this as unknown as ZipOwner);
      return super.addOfficeRels();
    }
  }
  return new PinnedWorkbook(options);
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
