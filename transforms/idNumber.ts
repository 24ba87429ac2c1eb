/** Chinese resident identity numbers (GB 11643-1999). Pure functions. */
import { daysInMonth, toHalfWidth } from './normalize';

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const CHECK_CHARS = '10X98765432';

export type IdNumberError = 'empty' | 'bad_format' | 'bad_checksum' | 'bad_birth_date';

/** The 18th (check) character for the first 17 digits: sum(d_i * w_i) mod 11 mapped to 1,0,X,9,...,2. */
export function idCheckChar(first17: string): string {
  if (!/^\d{17}$/.test(first17)) {
    throw new RangeError(`idCheckChar expects exactly 17 digits, got ${first17.length} characters`);
  }
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * (WEIGHTS[i] as number);
  return CHECK_CHARS.charAt(sum % 11);
}

/** A real calendar date in 1900-2099 (the plausible range for a living person's ID). */
function plausibleBirthDate(yyyymmdd: string): boolean {
  const y = Number(yyyymmdd.slice(0, 4));
  const m = Number(yyyymmdd.slice(4, 6));
  const d = Number(yyyymmdd.slice(6, 8));
  return y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
}

/** True for an 18-character ID with a real birth date and a correct check character (uppercase X only). */
export function isValidIdNumber(id: string): boolean {
  if (!/^[1-9]\d{16}[\dX]$/.test(id)) return false;
  if (!plausibleBirthDate(id.slice(6, 14))) return false;
  return idCheckChar(id.slice(0, 17)) === id.charAt(17);
}

/** 15-digit legacy ID (AAAAAAYYMMDDSSS, issued before 2000 for births in 19xx) → 18-digit form. */
export function upgradeLegacyId(id15: string): string {
  if (!/^\d{15}$/.test(id15)) {
    throw new RangeError(`upgradeLegacyId expects exactly 15 digits, got ${id15.length} characters`);
  }
  const first17 = `${id15.slice(0, 6)}19${id15.slice(6)}`;
  return first17 + idCheckChar(first17);
}

export interface NormalizedIdNumber {
  /** The 18-character ID when it can be trusted (format, checksum and birth date all valid), else null. */
  value: string | null;
  error?: IdNumberError;
  /**
   * The first 17 digits when only the check character is wrong: a typo there leaves the rest usable as
   * evidence for a scored match, never as an identity on its own.
   */
  body?: string;
}

/**
 * Clean a raw ID as found in source systems: trims, removes inner spaces, full-width → half-width,
 * lowercase x → X, upgrades 15-digit legacy IDs. value is null when the ID cannot be trusted.
 */
export function normalizeIdNumber(raw: string | null | undefined): NormalizedIdNumber {
  const s = toHalfWidth(raw ?? '').replace(/\s+/g, '').toUpperCase();
  if (s === '') return { value: null, error: 'empty' };
  let id: string;
  if (/^\d{15}$/.test(s)) {
    if (!plausibleBirthDate(`19${s.slice(6, 12)}`)) return { value: null, error: 'bad_birth_date' };
    id = upgradeLegacyId(s);
  } else if (/^[1-9]\d{16}[\dX]$/.test(s)) {
    id = s;
  } else {
    return { value: null, error: 'bad_format' };
  }
  if (!plausibleBirthDate(id.slice(6, 14))) return { value: null, error: 'bad_birth_date' };
  if (idCheckChar(id.slice(0, 17)) !== id.charAt(17)) return { value: null, error: 'bad_checksum', body: id.slice(0, 17) };
  return { value: id };
}

/** Birth date (YYYY-MM-DD) encoded in positions 7-14 of an 18-digit ID. */
export function birthDateFromId(id18: string): string {
  return `${id18.slice(6, 10)}-${id18.slice(10, 12)}-${id18.slice(12, 14)}`;
}

/** Gender encoded by the 17th digit: odd = male, even = female. */
export function genderFromId(id18: string): 'M' | 'F' {
  return (id18.charCodeAt(16) - 48) % 2 === 1 ? 'M' : 'F';
}

export type IdCrossCheckFinding = 'id_birth_date_mismatch' | 'id_gender_mismatch';

/**
 * Compares the birth date and gender encoded in a valid ID with the KYC fields of the same record. A
 * mismatch is a data-quality finding to record (one of them is wrong), not a reason to reject the record.
 * Missing KYC values are not mismatches.
 */
export function crossCheckId(id18: string, kycBirthDate: string | null, kycGender: 'M' | 'F' | null): IdCrossCheckFinding[] {
  const findings: IdCrossCheckFinding[] = [];
  if (kycBirthDate !== null && kycBirthDate !== birthDateFromId(id18)) findings.push('id_birth_date_mismatch');
  if (kycGender !== null && kycGender !== genderFromId(id18)) findings.push('id_gender_mismatch');
  return findings;
}
