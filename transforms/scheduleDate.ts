/**
 * Date arithmetic of schedules and backfills. Pure (no clock, no I/O): also used inside workflows.
 * Dates are YYYY-MM-DD partition keys; instants are absolute; time zones are explicit IANA names.
 */

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

/** Whether `name` is an IANA time zone this runtime knows (Asia/Shanghai, America/New_York, UTC). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return /\//.test(name) || name === 'UTC';
  } catch {
    return false;
  }
}

/** The calendar date of an instant in a time zone, as YYYY-MM-DD. */
export function localDate(instant: Date, timeZone: string): string {
  // en-CA formats as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(instant);
}

/** `date` plus `days` calendar days (negative goes back). */
export function addDays(date: string, days: number): string {
  const m = DATE.exec(date);
  if (!m) throw new Error(`not a date YYYY-MM-DD: "${date}"`);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Number of dates in the closed range [from, to]; 0 when `to` is before `from`. */
export function daysInRange(from: string, to: string): number {
  const span = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS;
  return span < 0 ? 0 : span + 1;
}

/** Every date of the closed range [from, to], in order. */
export function datesInRange(from: string, to: string): string[] {
  return Array.from({ length: daysInRange(from, to) }, (_, i) => addDays(from, i));
}

/**
 * As-of date of a scheduled run: the local date of its *nominal* (scheduled) time in `timeZone`, minus
 * `offsetDays` (default 1: a run scheduled at 02:00 on 6 Dec processes the day that closed, 5 Dec).
 * Never the time the run happened to start, so a late or caught-up start processes the same day.
 */
export function scheduledAsOf(nominal: Date, timeZone: string, offsetDays = 1): string {
  return addDays(localDate(nominal, timeZone), -offsetDays);
}

/** Parses a wall-clock time HH:MM (24 h); undefined when it is not one. */
export function parseClock(text: string): { hour: number; minute: number } | undefined {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return m ? { hour: Number(m[1]), minute: Number(m[2]) } : undefined;
}

/** HH:MM of an hour and minute. */
export function formatClock(hour: number, minute: number): string {
  return `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
}

/** Placeholder of an input-folder pattern that becomes the as-of date. */
export const AS_OF_PLACEHOLDER = '{as_of}';

/** The input folder of a date: every `{as_of}` of the pattern replaced by the date. */
export function inputDirFor(pattern: string, asOf: string): string {
  return pattern.split(AS_OF_PLACEHOLDER).join(asOf);
}

/** Whether two closed date ranges share a date. */
export function rangesOverlap(a: { from: string; to: string }, b: { from: string; to: string }): boolean {
  return a.from <= b.to && b.from <= a.to;
}
