import { addDays, datesInRange, daysInRange, inputDirFor, isTimeZone, localDate, parseClock, rangesOverlap, scheduledAsOf } from '../../transforms/scheduleDate';

describe('scheduledAsOf', () => {
  test('02:00 on 6 Dec in Shanghai processes 5 Dec, whatever the UTC date', () => {
    // 02:00 Asia/Shanghai (UTC+8) on 6 Dec is 18:00 UTC on 5 Dec.
    expect(scheduledAsOf(new Date('2026-12-05T18:00:00Z'), 'Asia/Shanghai')).toBe('2026-12-05');
    expect(scheduledAsOf(new Date('2026-12-05T18:00:00Z'), 'UTC')).toBe('2026-12-04');
  });

  test('midnight boundaries: the last second of a day and the first of the next', () => {
    expect(localDate(new Date('2026-12-05T15:59:59Z'), 'Asia/Shanghai')).toBe('2026-12-05');
    expect(localDate(new Date('2026-12-05T16:00:00Z'), 'Asia/Shanghai')).toBe('2026-12-06');
    expect(scheduledAsOf(new Date('2026-12-05T15:59:59Z'), 'Asia/Shanghai')).toBe('2026-12-04');
    expect(scheduledAsOf(new Date('2026-12-05T16:00:00Z'), 'Asia/Shanghai')).toBe('2026-12-05');
  });

  test('offsets: 0 is the scheduled date itself, 3 goes back three days across a month and a year end', () => {
    const nominal = new Date('2027-01-01T18:00:00Z'); // 02:00 on 2 Jan in Shanghai
    expect(scheduledAsOf(nominal, 'Asia/Shanghai', 0)).toBe('2027-01-02');
    expect(scheduledAsOf(nominal, 'Asia/Shanghai', 3)).toBe('2026-12-30');
    expect(scheduledAsOf(new Date('2028-03-01T01:00:00Z'), 'UTC', 1)).toBe('2028-02-29');
  });

  test('DST: the local date follows the zone on the days clocks change', () => {
    // New York springs forward on 8 Mar 2026 (02:00 EST → 03:00 EDT) and falls back on 1 Nov 2026.
    expect(scheduledAsOf(new Date('2026-03-08T07:30:00Z'), 'America/New_York')).toBe('2026-03-07'); // 03:30 EDT
    expect(scheduledAsOf(new Date('2026-03-09T04:30:00Z'), 'America/New_York')).toBe('2026-03-08'); // 00:30 EDT on 9 Mar
    expect(scheduledAsOf(new Date('2026-11-01T04:30:00Z'), 'America/New_York')).toBe('2026-10-31'); // 00:30 EDT on 1 Nov
    expect(scheduledAsOf(new Date('2026-11-02T04:30:00Z'), 'America/New_York')).toBe('2026-10-31'); // 23:30 EST on 1 Nov
    // London at 00:30 local on the day it springs forward.
    expect(scheduledAsOf(new Date('2026-03-29T00:30:00Z'), 'Europe/London')).toBe('2026-03-28');
  });
});

describe('date ranges and patterns', () => {
  test('addDays crosses months, leap days and years both ways', () => {
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2024-03-01', -1)).toBe('2024-02-29');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(() => addDays('2026-1-1', 1)).toThrow('not a date');
  });

  test('datesInRange is closed, ordered and empty when backwards', () => {
    expect(datesInRange('2026-12-30', '2027-01-02')).toEqual(['2026-12-30', '2026-12-31', '2027-01-01', '2027-01-02']);
    expect(datesInRange('2026-12-05', '2026-12-05')).toEqual(['2026-12-05']);
    expect(daysInRange('2026-12-06', '2026-12-05')).toBe(0);
    expect(daysInRange('2024-01-01', '2024-12-31')).toBe(366);
  });

  test('patterns, clock times, time zones and overlaps', () => {
    expect(inputDirFor('/data/{as_of}/extracts-{as_of}', '2026-12-05')).toBe('/data/2026-12-05/extracts-2026-12-05');
    expect(parseClock('02:00')).toEqual({ hour: 2, minute: 0 });
    expect(parseClock('23:59')).toEqual({ hour: 23, minute: 59 });
    expect(parseClock('24:00')).toBeUndefined();
    expect(parseClock('2:00')).toBeUndefined();
    expect(isTimeZone('Asia/Shanghai')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
    expect(rangesOverlap({ from: '2026-12-01', to: '2026-12-05' }, { from: '2026-12-05', to: '2026-12-09' })).toBe(true);
    expect(rangesOverlap({ from: '2026-12-01', to: '2026-12-04' }, { from: '2026-12-05', to: '2026-12-09' })).toBe(false);
  });
});
