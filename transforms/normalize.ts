/** Cleaning of raw source values: phones, dates, timestamps, amounts, enums, masking. Pure functions. */
import { HmacSha256 } from './hmacSha256';

/** Full-width ASCII forms (U+FF01-U+FF5E) and the ideographic space (U+3000) → half-width ASCII. */
export function toHalfWidth(s: string): string {
  let out = '';
  let changed = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xff01 && c <= 0xff5e) {
      out += String.fromCharCode(c - 0xfee0);
      changed = true;
    } else if (c === 0x3000) {
      out += ' ';
      changed = true;
    } else {
      out += s.charAt(i);
    }
  }
  return changed ? out : s;
}

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** Days in month m (1-12) of year y (proleptic Gregorian). */
export function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeapYear(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

function isRealDate(y: number, m: number, d: number): boolean {
  return y >= 1000 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
}

/**
 * A mainland-China mobile number as E.164 ('+86' + 11 digits starting 1[3-9]), or null.
 * Accepts spaces, dashes, dots, brackets, a '+86' / '0086' / '86' prefix and full-width digits.
 * Landlines and other countries give null.
 */
export function normalizePhone(raw: string | null | undefined): string | null {
  if (raw == null) return null;
  let s = toHalfWidth(raw).trim().replace(/[\s\-.()]/g, '');
  if (s.startsWith('+86')) s = s.slice(3);
  else if (s.startsWith('0086')) s = s.slice(4);
  else if (s.length === 13 && s.startsWith('86')) s = s.slice(2);
  return /^1[3-9]\d{9}$/.test(s) ? `+86${s}` : null;
}

const DATE_SEPARATED = /^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})$/;
const DATE_COMPACT = /^(\d{4})(\d{2})(\d{2})$/;
const DATE_CHINESE = /^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日$/;
const DATE_DAY_FIRST = /^(\d{1,2})([-/.])(\d{1,2})\2(\d{4})$/;

/**
 * A calendar date as 'YYYY-MM-DD', or null. Accepts YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD (one separator
 * kind), YYYYMMDD, YYYY年M月D日 and day-first DD-MM-YYYY / DD/MM/YYYY / DD.MM.YYYY, with full-width digits.
 * Day-first is only taken when it cannot be month-first: 20-11-2026 is read, 05/06/2026 (5 June or May 6?)
 * gives null rather than a guess. Impossible dates (2023-02-30, 31/02/2024) give null.
 */
export function parseDate(raw: string | null | undefined): string | null {
  if (raw == null) return null;
  const s = toHalfWidth(raw).trim();
  let y: number;
  let m: number;
  let d: number;
  let match = DATE_SEPARATED.exec(s);
  if (match) {
    y = Number(match[1]);
    m = Number(match[3]);
    d = Number(match[4]);
  } else if ((match = DATE_COMPACT.exec(s) ?? DATE_CHINESE.exec(s))) {
    y = Number(match[1]);
    m = Number(match[2]);
    d = Number(match[3]);
  } else if ((match = DATE_DAY_FIRST.exec(s))) {
    d = Number(match[1]);
    m = Number(match[3]);
    y = Number(match[4]);
    if (d <= 12 && d !== m) return null; // ambiguous with month-first
  } else {
    return null;
  }
  return isRealDate(y, m, d) ? `${y}-${pad2(m)}-${pad2(d)}` : null;
}

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/;
const SHANGHAI_OFFSET_MIN = 8 * 60;

/**
 * An instant as canonical ISO 8601 in China time: 'YYYY-MM-DDTHH:mm:ss+08:00' ('.SSS' kept when the
 * milliseconds are non-zero), or null. Accepts ISO 8601 with 'Z' or an offset, and local
 * 'YYYY-MM-DD HH:mm[:ss]' (or with 'T') without offset, which is read as Asia/Shanghai (UTC+8, no DST).
 */
export function parseTimestamp(raw: string | null | undefined): string | null {
  if (raw == null) return null;
  const match = TIMESTAMP.exec(toHalfWidth(raw).trim());
  if (!match) return null;
  const y = Number(match[1]);
  const mo = Number(match[2]);
  const d = Number(match[3]);
  const h = Number(match[4]);
  const mi = Number(match[5]);
  const sec = match[6] === undefined ? 0 : Number(match[6]);
  const ms = match[7] === undefined ? 0 : Math.floor(Number(`0.${match[7]}`) * 1000);
  if (!isRealDate(y, mo, d) || h > 23 || mi > 59 || sec > 59) return null;
  let offsetMin = SHANGHAI_OFFSET_MIN;
  const zone = match[8];
  if (zone === 'Z') {
    offsetMin = 0;
  } else if (zone !== undefined) {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (digits.length !== 2 && digits.length !== 4) return null;
    if (oh > 14 || om > 59) return null;
    offsetMin = (zone.charAt(0) === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const utcMs = Date.UTC(y, mo - 1, d, h, mi, sec, ms) - offsetMin * 60000;
  const local = new Date(utcMs + SHANGHAI_OFFSET_MIN * 60000);
  const base =
    `${local.getUTCFullYear()}-${pad2(local.getUTCMonth() + 1)}-${pad2(local.getUTCDate())}` +
    `T${pad2(local.getUTCHours())}:${pad2(local.getUTCMinutes())}:${pad2(local.getUTCSeconds())}`;
  const millis = local.getUTCMilliseconds();
  return `${base}${millis === 0 ? '' : `.${String(millis).padStart(3, '0')}`}+08:00`;
}

const AMOUNT = /^([+-]?)(?:¥|RMB|CNY)?\s*([+-]?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*(万)?\s*(?:元)?$/;

/**
 * A money amount in yuan, or null. Accepts '12345.60', '12,345.60' (grouping only in threes),
 * a '¥'/'￥'/'RMB'/'CNY' prefix, a sign before or after the currency, full-width digits and separators,
 * a '元' suffix and '万' (×10,000: '1.5万' = 15000, rounded to the fen).
 * Negative values are returned as such (flagging them is a data-quality rule, not parsing).
 */
export function parseAmount(raw: string | null | undefined): number | null {
  if (raw == null) return null;
  const s = toHalfWidth(raw).trim().replace(/\uffe5/g, '¥').toUpperCase();
  const match = AMOUNT.exec(s);
  if (!match) return null;
  if (match[1] && match[2]) return null; // two signs
  const sign = (match[1] || match[2]) === '-' ? -1 : 1;
  let value = Number(`${(match[3] as string).replace(/,/g, '')}${match[4] ?? ''}`);
  if (match[5]) value = Math.round(value * 10_000 * 100) / 100;
  return Number.isFinite(value) ? sign * value : null;
}

const MALE = new Set(['男', '男性', '先生', 'm', 'male', 'man', '1']);
const FEMALE = new Set(['女', '女性', '女士', 'f', 'female', 'woman', '2']);

/** 'M' | 'F' from 男/女(性), 先生/女士, M/F (any case), male/female, 1/2 (GB/T 2261.1 codes); otherwise null (0 and 9 = unknown). */
export function normalizeGender(raw: string | null | undefined): 'M' | 'F' | null {
  if (raw == null) return null;
  const s = toHalfWidth(raw).trim().toLowerCase();
  if (MALE.has(s)) return 'M';
  if (FEMALE.has(s)) return 'F';
  return null;
}

// Middle dots separating the parts of minority and transliterated names (阿沛·阿旺晋美), as systems write them.
const NAME_DOTS = /[\u00b7\u2022\u2027\u2219\u30fb\uff65\u318d.]/g;

/**
 * A person's name as compared across systems: full-width → half-width, whitespace removed (Chinese names have
 * none; systems pad or split them), every middle-dot variant → '·' with none at the ends, Latin letters upper-case.
 * null when nothing is left.
 */
export function normalizeName(raw: string | null | undefined): string | null {
  if (raw == null) return null;
  const s = toHalfWidth(raw)
    .replace(/\s+/g, '')
    .replace(NAME_DOTS, '·')
    .replace(/·{2,}/g, '·')
    .replace(/^·+|·+$/g, '')
    .toUpperCase();
  return s === '' ? null : s;
}

/** Keeps the first character, masks the rest one '*' per character: '张三' → '张*', '欧阳娜娜' → '欧***'. */
export function maskName(name: string): string {
  const chars = Array.from(name.trim());
  if (chars.length === 0) return '';
  if (chars.length === 1) return '*';
  return chars[0] + '*'.repeat(chars.length - 1);
}

/**
 * '+8613800138000' → '+86138****8000' (prefix and last four kept). Inputs in any format normalizePhone
 * accepts are normalised first; anything else becomes '****' so nothing of it leaks.
 */
export function maskPhone(e164: string): string {
  const phone = normalizePhone(e164);
  if (phone === null) return '****';
  return `${phone.slice(0, 6)}****${phone.slice(10)}`;
}

let hmacKey: string | null = null;
let hmac: HmacSha256 | null = null;

/** HMAC-SHA256(key, value) as hex, first 32 characters: a stable pseudonym for PII that needs the key to link. */
export function keyedHash(key: string, value: string): string {
  // One key per process in practice (PORTRAIT_PII_KEY): its pads are set up once, not per value.
  if (key !== hmacKey || hmac === null) {
    hmac = new HmacSha256(key);
    hmacKey = key;
  }
  return hmac.hex(value, 4);
}
