import { CHANNELS } from '../../config/schema';
import { CHANNEL_FIELDS, contactRecord, localIsoWithOffset, sendAtIso, type ContactFacts } from '../../transforms/deliveryFields';

const facts: ContactFacts = {
  idempotency_key: 'k1',
  campaign_id: 'cl_q4_sms',
  campaign_name: '消费贷',
  template_id: 'SMS_01',
  send_at: '2026-11-21T02:00:00.000Z',
  phone_token: 'ph',
  name_masked: '张*',
  customer_ref: 'ref',
};

describe('contactRecord', () => {
  it('gives each channel exactly its fields, in order', () => {
    expect(contactRecord('sms', facts)).toEqual({ idempotency_key: 'k1', campaign_id: 'cl_q4_sms', campaign_name: '消费贷', template_id: 'SMS_01', send_at: '2026-11-21T02:00:00.000Z', phone_token: 'ph' });
    expect(Object.keys(contactRecord('call', facts)).slice(-2)).toEqual(['phone_token', 'name_masked']);
    for (const channel of ['app_push', 'wechat', 'email'] as const) {
      const r = contactRecord(channel, facts);
      expect(r.customer_ref).toBe('ref');
      expect(r).not.toHaveProperty('phone_token');
      expect(r).not.toHaveProperty('name_masked');
    }
  });

  it('covers every channel and only the name goes to calls', () => {
    expect(Object.keys(CHANNEL_FIELDS).sort()).toEqual([...CHANNELS].sort());
    expect(CHANNELS.filter((c) => CHANNEL_FIELDS[c].includes('name_masked'))).toEqual(['call']);
  });
});

describe('sendAtIso', () => {
  it('is local time on the day after the as-of date', () => {
    expect(sendAtIso('2026-11-20', '10:00', 'Asia/Shanghai')).toBe('2026-11-21T02:00:00.000Z');
    expect(sendAtIso('2026-12-31', '07:30', 'Asia/Shanghai')).toBe('2026-12-31T23:30:00.000Z');
    expect(sendAtIso('2026-11-20', '10:00', 'UTC')).toBe('2026-11-21T10:00:00.000Z');
  });

  it('follows daylight saving time where the zone has it', () => {
    // Europe/Berlin: CEST (+2) until 25 Oct 2026, CET (+1) after.
    expect(sendAtIso('2026-10-23', '09:00', 'Europe/Berlin')).toBe('2026-10-24T07:00:00.000Z');
    expect(sendAtIso('2026-10-25', '09:00', 'Europe/Berlin')).toBe('2026-10-26T08:00:00.000Z');
  });
});

describe('localIsoWithOffset', () => {
  it('writes the instant as the zone\'s wall clock with its offset', () => {
    expect(localIsoWithOffset(new Date(sendAtIso('2026-12-20', '10:00', 'Asia/Shanghai')), 'Asia/Shanghai')).toBe('2026-12-21T10:00:00+08:00');
    expect(localIsoWithOffset(new Date('2026-12-31T23:30:00.000Z'), 'Asia/Shanghai')).toBe('2027-01-01T07:30:00+08:00');
    expect(localIsoWithOffset(new Date('2026-11-21T10:00:00.000Z'), 'UTC')).toBe('2026-11-21T10:00:00+00:00');
    expect(localIsoWithOffset(new Date('2026-07-01T16:00:00.000Z'), 'America/New_York')).toBe('2026-07-01T12:00:00-04:00');
  });

  it('is the same instant as the UTC form, across a DST change', () => {
    for (const asOf of ['2026-10-23', '2026-10-25']) {
      const utc = sendAtIso(asOf, '09:00', 'Europe/Berlin');
      const local = localIsoWithOffset(new Date(utc), 'Europe/Berlin');
      expect(local.slice(11, 19)).toBe('09:00:00');
      expect(Date.parse(local)).toBe(Date.parse(utc));
    }
  });
});
