import { createHmac } from 'node:crypto';
import {
  daysInMonth,
  keyedHash,
  maskName,
  maskPhone,
  normalizeGender,
  normalizeName,
  normalizePhone,
  parseAmount,
  parseDate,
  parseTimestamp,
  toHalfWidth,
} from '../../transforms/normalize';

describe('toHalfWidth', () => {
  it('maps full-width ASCII and the ideographic space, leaves CJK alone', () => {
    expect(toHalfWidth('１３８　ＡＢｃ，．')).toBe('138 ABc,.');
    expect(toHalfWidth('张三 abc')).toBe('张三 abc');
    expect(toHalfWidth('')).toBe('');
  });
});

describe('normalizePhone', () => {
  it.each([
    '13800138000',
    '138 0013 8000',
    '138-0013-8000',
    '+86 138 0013 8000',
    '+86-138-0013-8000',
    '+8613800138000',
    '0086138 0013 8000',
    '0086 13800138000',
    '86-138-0013-8000',
    '８６１３８００１３８０００',
    '１３８００１３８０００',
    ' (138) 0013.8000 ',
  ])('accepts %p', (raw) => {
    expect(normalizePhone(raw)).toBe('+8613800138000');
  });
  it.each([
    '',
    '   ',
    '010-12345678', // Beijing landline
    '0755-86013388', // Shenzhen landline
    '12800138000', // 12x is not a mobile prefix
    '1380013800', // 10 digits
    '138001380001', // 12 digits
    '+1 415 555 0100',
    '+85291234567',
    'abc',
  ])('rejects %p', (raw) => {
    expect(normalizePhone(raw)).toBeNull();
  });
  it('rejects null and undefined', () => {
    expect(normalizePhone(null)).toBeNull();
    expect(normalizePhone(undefined)).toBeNull();
  });
});

describe('parseDate', () => {
  it.each([
    ['1985-03-07', '1985-03-07'],
    ['1985/03/07', '1985-03-07'],
    ['1985/3/7', '1985-03-07'],
    ['19850307', '1985-03-07'],
    ['1985.03.07', '1985-03-07'],
    ['1985年3月7日', '1985-03-07'],
    ['1985年03月07日', '1985-03-07'],
    ['１９８５－０３－０７', '1985-03-07'],
    [' 2024-02-29 ', '2024-02-29'],
    ['2000-02-29', '2000-02-29'],
    ['20-11-2026', '2026-11-20'], // day first: 20 cannot be a month
    ['20/11/2026', '2026-11-20'],
    ['31.12.1999', '1999-12-31'],
    ['05/05/2026', '2026-05-05'], // both readings agree
    ['２０／１１／２０２６', '2026-11-20'],
  ])('parses %p', (raw, expected) => {
    expect(parseDate(raw)).toBe(expected);
  });
  it.each([
    '',
    'N/A',
    '2023-02-29', // not a leap year
    '2023-02-30',
    '1900-02-29', // century, not a leap year
    '2024-13-45',
    '2024-00-10',
    '2024-04-31',
    '31/02/2024',
    '07/03/1985', // 7 March or July 3: ambiguous, not guessed
    '11/12/2026',
    '20-11/2026', // mixed separators
    '1985-03/07', // mixed separators
    '198537',
    '2024-01-01T10:00:00',
  ])('rejects %p', (raw) => {
    expect(parseDate(raw)).toBeNull();
  });
  it('rejects null', () => expect(parseDate(null)).toBeNull());
  it('knows month lengths', () => {
    expect(daysInMonth(2024, 2)).toBe(29);
    expect(daysInMonth(2023, 2)).toBe(28);
    expect(daysInMonth(2000, 2)).toBe(29);
    expect(daysInMonth(2100, 2)).toBe(28);
    expect(daysInMonth(2023, 4)).toBe(30);
    expect(daysInMonth(2023, 12)).toBe(31);
  });
});

describe('parseTimestamp', () => {
  it.each([
    ['2026-11-20T09:15:00+08:00', '2026-11-20T09:15:00+08:00'],
    ['2026-11-20 09:15:00', '2026-11-20T09:15:00+08:00'],
    ['2026-11-20 09:15', '2026-11-20T09:15:00+08:00'],
    ['2026-11-20T01:15:00Z', '2026-11-20T09:15:00+08:00'],
    ['2026-11-20T01:15:00+00:00', '2026-11-20T09:15:00+08:00'],
    ['2026-11-19T20:15:00-05:00', '2026-11-20T09:15:00+08:00'],
    ['2026-11-20T06:45:00+0530', '2026-11-20T09:15:00+08:00'],
    ['2026-12-31T20:00:00Z', '2027-01-01T04:00:00+08:00'], // crosses a year boundary
    ['2026-11-20T09:15:00.250+08:00', '2026-11-20T09:15:00.250+08:00'],
    ['２０２６－１１－２０　０９：１５：００', '2026-11-20T09:15:00+08:00'],
  ])('parses %p', (raw, expected) => {
    expect(parseTimestamp(raw)).toBe(expected);
  });
  it.each([
    '',
    'N/A',
    '2026-11-20',
    '2026-02-30T09:15:00+08:00',
    '2026-11-20T24:00:00+08:00',
    '2026-11-20T09:60:00+08:00',
    '2026-11-20T09:15:61+08:00',
    '2026-11-20T09:15:00+15:00',
    '20/11/2026 09:15',
  ])('rejects %p', (raw) => {
    expect(parseTimestamp(raw)).toBeNull();
  });
});

describe('parseAmount', () => {
  it.each([
    ['12345.60', 12345.6],
    ['12,345.60', 12345.6],
    ['¥12,345.60', 12345.6],
    ['￥12,345.60', 12345.6],
    ['RMB 1,000', 1000],
    ['１２，３４５．６０', 12345.6],
    ['-12.50', -12.5],
    ['¥-12.50', -12.5],
    ['-¥12.50', -12.5],
    ['+7', 7],
    ['0', 0],
    ['1,234,567.891', 1234567.891],
    ['1,234.50元', 1234.5],
    ['１，２３４．５０', 1234.5],
    ['1.5万', 15000],
    ['¥ 12.3456万元', 123456],
    ['0.00015万', 1.5],
  ])('parses %p', (raw, expected) => {
    expect(parseAmount(raw)).toBe(expected);
  });
  it.each(['', 'abc', '12a', '1,2345.00', '12,34', '1.2.3', '--5', '-¥-5', '.5', 'N/A', '¥', '万', '1万万', '元5'])('rejects %p', (raw) => {
    expect(parseAmount(raw)).toBeNull();
  });
  it('rejects null', () => expect(parseAmount(null)).toBeNull());
});

describe('normalizeGender', () => {
  it.each([
    ['男', 'M'],
    ['女', 'F'],
    ['男性', 'M'],
    ['M', 'M'],
    ['m', 'M'],
    ['F', 'F'],
    ['f', 'F'],
    ['1', 'M'],
    ['2', 'F'],
    ['male', 'M'],
    ['Female', 'F'],
    [' Ｍ ', 'M'],
    ['先生', 'M'],
    ['女士', 'F'],
    ['女性', 'F'],
  ])('maps %p', (raw, expected) => {
    expect(normalizeGender(raw)).toBe(expected);
  });
  it.each(['', 'X', '0', '3', 'unknown', '未知'])('rejects %p', (raw) => {
    expect(normalizeGender(raw)).toBeNull();
  });
  it('rejects null', () => expect(normalizeGender(null)).toBeNull());
});

describe('normalizeName', () => {
  it.each([
    [' 张 三丰 ', '张三丰'],
    ['张\u3000三丰', '张三丰'],
    ['ＡＢＣ', 'ABC'],
    ['john smith', 'JOHNSMITH'],
    ['阿沛·阿旺晋美', '阿沛·阿旺晋美'],
    ['阿沛•阿旺晋美', '阿沛·阿旺晋美'],
    ['阿沛・阿旺晋美', '阿沛·阿旺晋美'],
    ['阿沛．阿旺晋美', '阿沛·阿旺晋美'], // full-width full stop
    ['阿沛.阿旺晋美', '阿沛·阿旺晋美'],
    ['阿沛 · 阿旺晋美', '阿沛·阿旺晋美'],
    ['买买提··艾力', '买买提·艾力'],
    ['·艾力·', '艾力'],
  ])('%p → %p', (raw, expected) => {
    expect(normalizeName(raw)).toBe(expected);
  });
  it.each([null, undefined, '', '   ', '·'])('%p → null', (raw) => {
    expect(normalizeName(raw)).toBeNull();
  });
});

describe('masking and keyed hashing', () => {
  it('masks names after the first character', () => {
    expect(maskName('张三')).toBe('张*');
    expect(maskName('王小明')).toBe('王**');
    expect(maskName('欧阳娜娜')).toBe('欧***');
    expect(maskName('李')).toBe('*');
    expect(maskName('')).toBe('');
    expect(maskName('𠮷田')).toBe('𠮷*'); // astral-plane character counts as one
  });
  it('masks the middle four digits of a mobile number', () => {
    expect(maskPhone('+8613800138000')).toBe('+86138****8000');
    expect(maskPhone('138 0013 8000')).toBe('+86138****8000');
    expect(maskPhone('010-12345678')).toBe('****');
    expect(maskPhone('')).toBe('****');
  });
  it('keyedHash is HMAC-SHA256 hex truncated to 32 chars, deterministic and key-dependent', () => {
    const expected = createHmac('sha256', 'k1').update('13800138000').digest('hex').slice(0, 32);
    expect(keyedHash('k1', '13800138000')).toBe(expected);
    expect(keyedHash('k1', '13800138000')).toMatch(/^[0-9a-f]{32}$/);
    expect(keyedHash('k2', '13800138000')).not.toBe(expected);
    expect(keyedHash('k1', '13800138001')).not.toBe(expected);
    // RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?")
    expect(keyedHash('Jefe', 'what do ya want for nothing?')).toBe('5bdcc146bf60754e6a042426089575c7');
  });
});
