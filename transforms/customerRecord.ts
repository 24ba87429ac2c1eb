import { birthDateFromId, genderFromId, normalizeIdNumber } from './idNumber';
import { keyedHash, maskName, normalizeGender, normalizePhone, parseDate, toHalfWidth } from './normalize';

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

/** The cleaned, PII-free view of one source record plus the golden_id it resolves to. */
export interface CleanCustomer {
  source_system: string;
  customer_key: string;
  golden_id: string;
  match_rule: 'id_number' | 'phone_birth' | 'source_key';
  name_masked: string | null;
  id_hash: string | null;
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
}

const CITY_TIERS: Record<string, number> = {
  北京: 1, 上海: 1, 广州: 1, 深圳: 1,
  杭州: 2, 成都: 2, 南京: 2, 武汉: 2, 西安: 2, 苏州: 2, 重庆: 2, 天津: 2, 长沙: 2, 郑州: 2, 青岛: 2, 宁波: 2,
};

/** City tier 1–2 from the list above; any other known city name is tier 3. */
export function cityTier(city: string | null): number | null {
  if (!city) return null;
  return CITY_TIERS[city.replace(/市$/, '')] ?? 3;
}

/**
 * Normalises one source record and derives its golden_id. Matching is deterministic: a valid resident ID
 * number identifies the person; without one, the normalised mobile plus birth date; otherwise the record
 * stands alone. The golden_id is a keyed hash of that match key, so it is stable from one day's run to the next.
 */
export function cleanCustomer(raw: RawCustomer, piiKey: string): CleanCustomer {
  const id = normalizeIdNumber(raw.id_number);
  const phone = normalizePhone(raw.phone);
  const idValid = id.value !== null;
  let birthDate = parseDate(raw.birth_date);
  let gender = normalizeGender(raw.gender);
  if (id.value) {
    // The ID number is the authoritative source of birth date and gender when KYC fields are missing or malformed.
    birthDate = birthDate ?? birthDateFromId(id.value);
    gender = gender ?? genderFromId(id.value);
  }
  let matchRule: CleanCustomer['match_rule'];
  let matchKey: string;
  if (id.value) {
    matchRule = 'id_number';
    matchKey = `id:${id.value}`;
  } else if (phone && birthDate) {
    matchRule = 'phone_birth';
    matchKey = `pb:${phone}|${birthDate}`;
  } else {
    matchRule = 'source_key';
    matchKey = `sk:${raw.source_system}:${raw.customer_key}`;
  }
  const name = raw.name ? toHalfWidth(raw.name).trim().replace(/\s+/g, '') : null;
  const city = raw.city ? toHalfWidth(raw.city).trim() || null : null;
  const income = raw.annual_income === null || raw.annual_income === '' ? null : Number(raw.annual_income);
  return {
    source_system: raw.source_system,
    customer_key: raw.customer_key,
    golden_id: `G${keyedHash(piiKey, `golden|${matchKey}`).slice(0, 20)}`,
    match_rule: matchRule,
    name_masked: name ? maskName(name) : null,
    id_hash: id.value ? keyedHash(piiKey, `id|${id.value}`) : null,
    phone_hash: phone ? keyedHash(piiKey, `phone|${phone}`) : null,
    id_valid: idValid,
    phone_valid: phone !== null,
    birth_date: birthDate,
    gender,
    city,
    city_tier: cityTier(city),
    occupation: raw.occupation ? toHalfWidth(raw.occupation).trim() || null : null,
    annual_income: income !== null && Number.isFinite(income) ? income : null,
    opened_at: raw.opened_at,
  };
}
