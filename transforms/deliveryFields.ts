import type { Channel } from '../config/schema';

/** What every channel receives: the contact's idempotency key, the campaign, the template and when to send. */
const COMMON = ['idempotency_key', 'campaign_id', 'campaign_name', 'template_id', 'send_at'] as const;

/**
 * The fields each channel gets, and nothing more. Phone channels get the keyed phone token the bank's gateway
 * resolves (never the number); a call also gets the masked name for the greeting; app, WeChat and e-mail get a
 * keyed per-channel customer reference.
 */
export const CHANNEL_FIELDS: Readonly<Record<Channel, readonly string[]>> = {
  sms: [...COMMON, 'phone_token'],
  call: [...COMMON, 'phone_token', 'name_masked'],
  app_push: [...COMMON, 'customer_ref'],
  wechat: [...COMMON, 'customer_ref'],
  email: [...COMMON, 'customer_ref'],
};

/** Everything any channel might need for one contact; contactRecord keeps only the channel's fields. */
export interface ContactFacts {
  idempotency_key: string;
  campaign_id: string;
  campaign_name: string;
  template_id: string;
  /** ISO-8601 instant. */
  send_at: string;
  phone_token: string | null;
  name_masked: string | null;
  customer_ref: string;
}

/** The record a channel receives, with its fields in CHANNEL_FIELDS order. */
export function contactRecord(channel: Channel, facts: ContactFacts): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const field of CHANNEL_FIELDS[channel]) out[field] = facts[field as keyof ContactFacts];
  return out;
}

/**
 * The instant of local time `sendTime` (HH:MM) on the day after `asOf` in an IANA time zone, as ISO-8601 UTC.
 * The offset is read from Intl at the guessed instant and re-read once, which settles DST transitions.
 */
export function sendAtIso(asOf: string, sendTime: string, timeZone: string): string {
  const [y, m, d] = asOf.split('-').map(Number) as [number, number, number];
  const [hh, mm] = sendTime.split(':').map(Number) as [number, number];
  const wall = Date.UTC(y, m - 1, d + 1, hh, mm);
  let instant = wall - offsetMs(wall, timeZone);
  instant = wall - offsetMs(instant, timeZone);
  return new Date(instant).toISOString();
}

/**
 * An instant as local time in an IANA zone with its offset, to the second: `2026-12-21T10:00:00+08:00`. What a
 * person in the bank reads as the time, and still one exact instant for a machine.
 */
export function localIsoWithOffset(instant: Date, timeZone: string): string {
  const ms = Math.floor(instant.getTime() / 1000) * 1000;
  const offset = offsetMs(ms, timeZone);
  const local = new Date(ms + offset).toISOString().slice(0, 19);
  const minutes = Math.round(Math.abs(offset) / 60_000);
  return `${local}${offset < 0 ? '-' : '+'}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

/** The zone's UTC offset at an instant, in ms (positive east of Greenwich). */
function offsetMs(instant: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(instant / 1000) * 1000;
}
