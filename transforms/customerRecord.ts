import { birthDateFromId, crossCheckId, genderFromId, normalizeIdNumber, type IdNumberError } from './idNumber';
import { keyedHash, maskName, normalizeGender, normalizeName, normalizePhone, parseDate, toHalfWidth } from './normalize';

/** A KYC row as loaded into landing.customers (raw text for the fields whose formats vary by system). */
export interface RawCustomer {
  source_system: string;
  customer_key: string;
  name: string | null;
  id_number: string | null;
  phone: string | null;
  birth_date: string | null;
  gender: string | null;
  city: string | null;
  occupation: string | null;
  annual_income: string | number | null;
  opened_at: string | null;
}

/** Data-quality findings about one source record: recorded with the lineage, never a reason to drop it. */
export type CustomerFinding =
  | 'id_missing'
  | 'id_bad_format'
  | 'id_bad_checksum'
  | 'id_bad_birth_date'
  | 'id_birth_date_mismatch'
  | 'id_gender_mismatch'
  | 'phone_invalid'
  | 'birth_date_unparsed'
  /** Set by entity resolution: another record carries the same valid ID under another name. */
  | 'id_name_conflict';

/**
 * The cleaned, PII-free view of one source record: the attributes of the golden record, and the keyed hashes
 * entity resolution compares. Which golden customer it belongs to is decided across records (entityResolution).
 */
export interface CleanCustomer {
  source_system: string;
  customer_key: string;
  /** The golden_id a new cluster gets when this record holds its smallest source key. */
  seed_golden_id: string;
  name_masked: string | null;
  name_hash: string | null;
  id_hash: string | null;
  /** Keyed hash of the ID's first 17 digits, also when only its check character is wrong. */
  id_body_hash: string | null;
  phone_hash: string | null;
  id_valid: boolean;
  phone_valid: boolean;
  birth_date: string | null;
  gender: 'M' | 'F' | null;
  city: string | null;
  city_tier: number | null;
  occupation: string | null;
  annual_income: number | null;
  opened_at: string | null;
  /** Sorted finding codes, comma-separated; null when the record is clean. */
  findings: string | null;
}

const ID_ERROR_FINDING: Record<IdNumberError, CustomerFinding> = {
  empty: 'id_missing',
  bad_format: 'id_bad_format',
  bad_checksum: 'id_bad_checksum',
  bad_birth_date: 'id_bad_birth_date',
};

const CITY_TIERS: Record<string, number> = {
  北京: 1, 上海: 1, 广州: 1, 深圳: 1,
  杭州: 2, 成都: 2, 南京: 2, 武汉: 2, 西安: 2, 苏州: 2, 重庆: 2, 天津: 2, 长沙: 2, 郑州: 2, 青岛: 2, 宁波: 2,
};

/** City tier 1–2 from the list above; any other known city name is tier 3. */
export function cityTier(city: string | null): number | null {
  if (!city) return null;
  return CITY_TIERS[city.replace(/市$/, '')] ?? 3;
}

/** 'G' + 20 hex characters of a keyed hash: the form of every golden_id. */
export function goldenIdFor(piiKey: string, stableKey: string): string {
  return `G${keyedHash(piiKey, `golden|${stableKey}`).slice(0, 20)}`;
}

/**
 * Normalises one source record: keyed hashes of the identifying fields, KYC attributes (birth date and gender
 * from a valid ID number first) and data-quality findings (an ID whose birth date or gender contradicts the
 * KYC fields is kept and flagged).
 */
export function cleanCustomer(raw: RawCustomer, piiKey: string): CleanCustomer {
  const id = normalizeIdNumber(raw.id_number);
  const phone = normalizePhone(raw.phone);
  const kycBirthDate = parseDate(raw.birth_date);
  const kycGender = normalizeGender(raw.gender);
  const findings: CustomerFinding[] = [];
  if (id.error) findings.push(ID_ERROR_FINDING[id.error]);
  if (raw.phone != null && raw.phone.trim() !== '' && phone === null) findings.push('phone_invalid');
  if (raw.birth_date != null && raw.birth_date.trim() !== '' && kycBirthDate === null) findings.push('birth_date_unparsed');
  let birthDate = kycBirthDate;
  let gender = kycGender;
  if (id.value) {
    findings.push(...crossCheckId(id.value, kycBirthDate, kycGender));
    // A valid ID (checksummed, issued by the state) wins over hand-keyed KYC fields; a disagreement is a finding.
    birthDate = birthDateFromId(id.value);
    gender = genderFromId(id.value);
  }
  const body = id.value ? id.value.slice(0, 17) : (id.body ?? null);
  const name = normalizeName(raw.name);
  const city = raw.city ? toHalfWidth(raw.city).trim() || null : null;
  const income = raw.annual_income === null || raw.annual_income === '' ? null : Number(raw.annual_income);
  return {
    source_system: raw.source_system,
    customer_key: raw.customer_key,
    seed_golden_id: goldenIdFor(piiKey, `sk:${raw.source_system}:${raw.customer_key}`),
    name_masked: name ? maskName(name) : null,
    name_hash: name ? keyedHash(piiKey, `name|${name}`) : null,
    id_hash: id.value ? keyedHash(piiKey, `id|${id.value}`) : null,
    id_body_hash: body ? keyedHash(piiKey, `idbody|${body}`) : null,
    phone_hash: phone ? keyedHash(piiKey, `phone|${phone}`) : null,
    id_valid: id.value !== null,
    phone_valid: phone !== null,
    birth_date: birthDate,
    gender,
    city,
    city_tier: cityTier(city),
    occupation: raw.occupation ? toHalfWidth(raw.occupation).trim() || null : null,
    annual_income: income !== null && Number.isFinite(income) ? income : null,
    opened_at: raw.opened_at,
    findings: findings.length ? [...findings].sort().join(',') : null,
  };
}
