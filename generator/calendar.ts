/**
 * Integer day arithmetic for the generator: a "day" is the number of days since 1970-01-01 in the
 * civil calendar (Asia/Shanghai has no DST, so a local date and a day number map one to one).
 */
import { MID_AUTUMN, SPRING_FESTIVAL } from './vocabulary';

/** Day number of a civil date (Howard Hinnant's days_from_civil). */
export function dayFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** [year, month 1-12, day 1-31] of a day number. */
export function civilFromDay(day: number): [number, number, number] {
  const z = day + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d];
}

const PAD2: readonly string[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : String(i)));
export const pad2 = (n: number): string => PAD2[n] as string;

/** Day-number → 'YYYY-MM-DD' strings, memoised (bounded by the number of distinct days, a few tens of thousands). */
export class DayFormatter {
  private readonly cache = new Map<number, string>();
  private readonly compactCache = new Map<number, string>();

  /** 'YYYY-MM-DD' */
  iso(day: number): string {
    let s = this.cache.get(day);
    if (s === undefined) {
      const [y, m, d] = civilFromDay(day);
      s = `${y}-${pad2(m)}-${pad2(d)}`;
      this.cache.set(day, s);
    }
    return s;
  }

  /** 'YYYYMMDD' */
  compact(day: number): string {
    let s = this.compactCache.get(day);
    if (s === undefined) {
      s = this.iso(day).replace(/-/g, '');
      this.compactCache.set(day, s);
    }
    return s;
  }

  /** 'YYYY-MM-DDTHH:mm:ss+08:00' for a second of the (China) day. */
  timestamp(day: number, secondOfDay: number): string {
    const h = Math.floor(secondOfDay / 3600);
    const mi = Math.floor((secondOfDay % 3600) / 60);
    return `${this.iso(day)}T${PAD2[h]}:${PAD2[mi]}:${PAD2[secondOfDay % 60]}+08:00`;
  }
}

/** Day of week, 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday). */
export function weekday(day: number): number {
  return (((day + 4) % 7) + 7) % 7;
}

/** Last day (number) of the month containing the given day. */
export function monthEnd(day: number): number {
  const [y, m] = civilFromDay(day);
  return m === 12 ? dayFromCivil(y + 1, 1, 1) - 1 : dayFromCivil(y, m + 1, 1) - 1;
}

/** First day (number) of the month that is `monthsBack` months before the month containing `day`. */
export function monthStart(day: number, monthsBack = 0): number {
  const [y, m] = civilFromDay(day);
  const idx = y * 12 + (m - 1) - monthsBack;
  return dayFromCivil(Math.floor(idx / 12), (idx % 12) + 1, 1);
}

function mdDay(year: number, md: string | undefined): number | null {
  if (md === undefined) return null;
  return dayFromCivil(year, Number(md.slice(0, 2)), Number(md.slice(3, 5)));
}

/**
 * Relative retail-spending intensity of a day: weekends, month ends (pay cycle), public holidays,
 * the run-up to Spring Festival (年货) and the 618 / 双11 / 双12 shopping festivals.
 */
export function spendingWeight(day: number): number {
  const [y, m, d] = civilFromDay(day);
  let w = 1;
  const wd = weekday(day);
  if (wd === 0 || wd === 6) w *= 1.3;
  const last = monthEnd(day);
  if (last - day < 3 || d <= 2) w *= 1.25;
  if ((m === 1 && d === 1) || (m === 5 && d <= 5) || (m === 10 && d <= 7)) w *= 1.5;
  if ((m === 6 && d === 18) || (m === 12 && d === 12)) w *= 1.8;
  if (m === 11 && d >= 10 && d <= 11) w *= 2.5;
  for (const yr of [y, y + 1]) {
    const sf = mdDay(yr, SPRING_FESTIVAL[yr]);
    if (sf !== null && day >= sf - 14 && day < sf) w *= 1.6;
    if (sf !== null && day >= sf && day <= sf + 6) w *= 1.3;
  }
  const ma = mdDay(y, MID_AUTUMN[y]);
  if (ma !== null && day >= ma - 5 && day <= ma) w *= 1.3;
  return w;
}

/** Samples indexes 0..n-1 (day offsets of a window, hours of a day) with probability proportional to weights. */
export class IndexSampler {
  private readonly cumulative: Float64Array;

  constructor(weights: readonly number[]) {
    this.cumulative = new Float64Array(weights.length);
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      total += weights[i] as number;
      this.cumulative[i] = total;
    }
  }

  /** Index for a uniform u in [0, 1). */
  sample(u: number): number {
    const c = this.cumulative;
    const target = u * (c[c.length - 1] as number);
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((c[mid] as number) > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
