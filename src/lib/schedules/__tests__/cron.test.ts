/**
 * Cron through croner: time zones and daylight saving, 6-field expressions, and the 400s a bad
 * expression or zone gets.
 */
import { describe, expect, it } from 'vitest';
import { checkCronSpec, lastTickAtOrBefore, nextTick } from '../cron';

const ticks = (cron: string, timezone: string, from: string, n: number) => {
  const out: string[] = [];
  let at = new Date(from);
  for (let i = 0; i < n; i++) {
    at = nextTick({ cron, timezone }, at)!;
    out.push(at.toISOString());
  }
  return out;
};

describe('time zones and daylight saving (croner)', () => {
  it('reads the expression in its zone: 09:00 in Berlin is 08:00 UTC in winter, 07:00 in summer', () => {
    expect(ticks('0 9 * * *', 'Europe/Berlin', '2026-01-10T00:00:00Z', 1)).toEqual(['2026-01-10T08:00:00.000Z']);
    expect(ticks('0 9 * * *', 'Europe/Berlin', '2026-07-10T00:00:00Z', 1)).toEqual(['2026-07-10T07:00:00.000Z']);
    expect(ticks('0 9 * * *', 'America/New_York', '2026-07-10T00:00:00Z', 1)).toEqual(['2026-07-10T13:00:00.000Z']);
  });

  it('spring forward: 02:30 does not exist on 29 March 2026 in Berlin, so that day runs at 03:00 CEST, once', () => {
    expect(ticks('30 2 * * *', 'Europe/Berlin', '2026-03-28T00:00:00Z', 3)).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // the gap: 03:00 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
  });

  it('fall back: 02:30 happens twice on 25 October 2026 in Berlin, and runs once', () => {
    expect(ticks('30 2 * * *', 'Europe/Berlin', '2026-10-24T00:00:00Z', 3)).toEqual([
      '2026-10-24T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T00:30:00.000Z', // the first 02:30 (CEST); the second (CET, 01:30Z) does not run
      '2026-10-26T01:30:00.000Z', // 02:30 CET
    ]);
  });

  it('an hourly schedule keeps firing every real hour across the change (UTC-based hours do not double)', () => {
    const hours = ticks('0 * * * *', 'Europe/Berlin', '2026-10-24T23:30:00Z', 4);
    expect(hours).toEqual(['2026-10-25T00:00:00.000Z', '2026-10-25T01:00:00.000Z', '2026-10-25T02:00:00.000Z', '2026-10-25T03:00:00.000Z']);
  });
});

describe('expressions', () => {
  it('6 fields put seconds first', () => {
    expect(ticks('*/15 * * * * *', 'UTC', '2026-01-01T00:00:01Z', 3)).toEqual(['2026-01-01T00:00:15.000Z', '2026-01-01T00:00:30.000Z', '2026-01-01T00:00:45.000Z']);
  });

  it('lastTickAtOrBefore includes a tick exactly at the instant', () => {
    expect(lastTickAtOrBefore({ cron: '*/2 * * * * *', timezone: 'UTC' }, new Date('2026-01-01T00:00:04.000Z'))?.toISOString()).toBe('2026-01-01T00:00:04.000Z');
    expect(lastTickAtOrBefore({ cron: '*/2 * * * * *', timezone: 'UTC' }, new Date('2026-01-01T00:00:05.500Z'))?.toISOString()).toBe('2026-01-01T00:00:04.000Z');
  });

  it.each([
    ['61 * * * *', 'UTC', 'cron'],
    ['* * * *', 'UTC', 'cron'],
    ['0 0 0 * * * *', 'UTC', 'cron'],
    ['every day', 'UTC', 'cron'],
    ['0 9 * * *', 'Mars/Olympus', 'timezone'],
  ])('refuses %s in %s with a 400 naming the %s', (cron, timezone, field) => {
    let error: any;
    try {
      checkCronSpec({ cron, timezone });
    } catch (e) {
      error = e;
    }
    expect(error?.code).toBe('validation_failed');
    expect(error.details[0].field).toBe(field);
  });
});
