import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { openTargetListXlsx, type XlsxColumn } from '../../activities/targetListXlsx';

const columns: XlsxColumn[] = [
  { key: 'idempotency_key', header: '幂等键', width: 34 },
  { key: 'send_at', header: '发送时间（Asia/Shanghai）', width: 21, localTime: true },
  { key: 'phone_token', header: '手机号令牌', width: 34 },
];
// Tokens that a spreadsheet would happily turn into numbers or dates if they were not text cells.
const rows = [
  { idempotency_key: '0012345678901234567890', send_at: '2026-12-21T10:00:00+08:00', phone_token: '1e5' },
  { idempotency_key: '2026-12-21', send_at: '2026-12-21T23:30:00+08:00', phone_token: '00042' },
];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'xlsx-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function write(file: string) {
  const w = await openTargetListXlsx(file, 'cl_q4_sms', columns, new Date('2026-12-20T00:00:00Z'));
  for (const r of rows) w.add(r);
  return w.finish();
}

test('a target list reads back with Chinese headers, text tokens and local date-times, frozen and filtered', async () => {
  const file = path.join(dir, 'a.xlsx');
  expect((await write(file)).rows).toBe(2);
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(file);
  const sheet = wb.worksheets[0]!;
  expect((sheet.getRow(1).values as unknown[]).slice(1)).toEqual(columns.map((c) => c.header));
  expect(sheet.getCell('A2').value).toBe('0012345678901234567890');
  expect(sheet.getCell('A3').value).toBe('2026-12-21');
  expect(sheet.getCell('C2').value).toBe('1e5');
  expect(sheet.getCell('C3').value).toBe('00042');
  expect(sheet.getCell('B2').type).toBe(ExcelJS.ValueType.Date);
  expect((sheet.getCell('B3').value as Date).toISOString()).toBe('2026-12-21T23:30:00.000Z');
  expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
  expect(sheet.autoFilter).toBe('A1:C3');
});

test('the same rows give the same bytes at another time', async () => {
  const a = path.join(dir, 'same-a.xlsx');
  const b = path.join(dir, 'same-b.xlsx');
  const first = await write(a);
  await new Promise((resolve) => setTimeout(resolve, 2100));
  const second = await write(b);
  expect(second.sha256).toBe(first.sha256);
  expect(readFileSync(b).equals(readFileSync(a))).toBe(true);
});
