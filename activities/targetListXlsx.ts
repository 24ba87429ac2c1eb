import { mkdir, open, rename, rm } from 'node:fs/promises';
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
      await stampZipEntries(tmp, fixedTime);
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

/**
 * Sets every zip entry's DOS modification time to `fixedTime` (UTC fields), in the central directory and the local
 * headers: exceljs appends its theme and package relations in the writer's constructor, stamped with the current
 * time, before any hook can change it; without this two runs of the same rows differ in those bytes.
 */
async function stampZipEntries(file: string, fixedTime: Date): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const { size } = await handle.stat();
    const tailLength = Math.min(size, 65_557);
    const tail = Buffer.alloc(tailLength);
    await handle.read(tail, 0, tailLength, size - tailLength);
    const eocd = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    if (eocd < 0) throw new Error(`${file}: no zip end-of-central-directory record`);
    const entries = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    const cd = Buffer.alloc(cdSize);
    await handle.read(cd, 0, cdSize, cdOffset);
    const stamp = Buffer.alloc(4);
    stamp.writeUInt16LE((fixedTime.getUTCHours() << 11) | (fixedTime.getUTCMinutes() << 5) | Math.floor(fixedTime.getUTCSeconds() / 2), 0);
    stamp.writeUInt16LE(((fixedTime.getUTCFullYear() - 1980) << 9) | ((fixedTime.getUTCMonth() + 1) << 5) | fixedTime.getUTCDate(), 2);
    for (let at = 0, i = 0; i < entries; i++) {
      if (cd.readUInt32LE(at) !== 0x02014b50) throw new Error(`${file}: bad zip central directory entry ${i}`);
      stamp.copy(cd, at + 12);
      await handle.write(stamp, 0, 4, cd.readUInt32LE(at + 42) + 10);
      at += 46 + cd.readUInt16LE(at + 28) + cd.readUInt16LE(at + 30) + cd.readUInt16LE(at + 32);
    }
    await handle.write(cd, 0, cdSize, cdOffset);
  } finally {
    await handle.close();
  }
}
