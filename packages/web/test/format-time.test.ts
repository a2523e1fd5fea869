// 上午/下午 and 今天/昨天: the dates of the web client in zh-TW and in English, in local time.
import { describe, expect, it } from 'vitest';
import { daysAgo, formatClock, formatDay, formatListTime } from '../src/format-time.ts';
import { translator } from '../src/i18n.ts';

const zh = translator('zh-TW');
const en = translator('en');
const at = (y: number, mo: number, d: number, h = 12, mi = 0): Date => new Date(y, mo - 1, d, h, mi);

describe('formatClock', () => {
  it('writes 上午/下午 before a 12-hour time in zh-TW', () => {
    expect(formatClock(at(2026, 3, 5, 9, 5), zh)).toBe('上午9:05');
    expect(formatClock(at(2026, 3, 5, 15, 30), zh)).toBe('下午3:30');
    expect(formatClock(at(2026, 3, 5, 23, 59), zh)).toBe('下午11:59');
  });

  it('midnight is 上午12, noon is 下午12', () => {
    expect(formatClock(at(2026, 3, 5, 0, 0), zh)).toBe('上午12:00');
    expect(formatClock(at(2026, 3, 5, 0, 7), zh)).toBe('上午12:07');
    expect(formatClock(at(2026, 3, 5, 12, 0), zh)).toBe('下午12:00');
    expect(formatClock(at(2026, 3, 5, 11, 59), zh)).toBe('上午11:59');
  });

  it('writes AM/PM after the time in English', () => {
    expect(formatClock(at(2026, 3, 5, 9, 5), en)).toBe('9:05 AM');
    expect(formatClock(at(2026, 3, 5, 0, 0), en)).toBe('12:00 AM');
    expect(formatClock(at(2026, 3, 5, 12, 30), en)).toBe('12:30 PM');
  });
});

describe('formatDay', () => {
  const now = at(2026, 3, 5, 10, 0);

  it('says 今天 and 昨天 by calendar day, not by 24 hours', () => {
    expect(formatDay(at(2026, 3, 5, 0, 1), now, zh)).toBe('今天');
    expect(formatDay(at(2026, 3, 4, 23, 59), now, zh)).toBe('昨天');
    expect(formatDay(at(2026, 3, 4, 0, 0), now, zh)).toBe('昨天');
    expect(formatDay(at(2026, 3, 4, 23, 59), at(2026, 3, 5, 0, 0), zh)).toBe('昨天');
    expect(formatDay(at(2026, 3, 4), now, en)).toBe('Yesterday');
    expect(formatDay(at(2026, 3, 5), now, en)).toBe('Today');
  });

  it('crosses months and years for 昨天', () => {
    expect(formatDay(at(2026, 2, 28, 20), at(2026, 3, 1, 8), zh)).toBe('昨天');
    expect(formatDay(at(2025, 12, 31, 20), at(2026, 1, 1, 8), zh)).toBe('昨天');
  });

  it('writes the date for older days, with the year only when it differs', () => {
    expect(formatDay(at(2026, 3, 3), now, zh)).toBe('3月3日');
    expect(formatDay(at(2026, 1, 20), now, zh)).toBe('1月20日');
    expect(formatDay(at(2025, 12, 24), now, zh)).toBe('2025年12月24日');
    expect(formatDay(at(2026, 3, 3), now, en)).toBe('Mar 3');
    expect(formatDay(at(2025, 12, 24), now, en)).toBe('Dec 24, 2025');
  });

  it('a date ahead of the clock (a sender whose clock runs fast) is written as a date', () => {
    expect(formatDay(at(2026, 3, 6), now, zh)).toBe('3月6日');
  });
});

describe('formatListTime', () => {
  const now = at(2026, 3, 5, 10, 0);
  it('the time today, 昨天, then short dates', () => {
    expect(formatListTime(at(2026, 3, 5, 8, 15), now, zh)).toBe('上午8:15');
    expect(formatListTime(at(2026, 3, 4, 22, 0), now, zh)).toBe('昨天');
    expect(formatListTime(at(2026, 2, 14), now, zh)).toBe('2/14');
    expect(formatListTime(at(2024, 2, 14), now, zh)).toBe('2024/2/14');
    expect(formatListTime(at(2024, 2, 14), now, en)).toBe('2/14/2024');
  });
});

describe('daysAgo', () => {
  it('counts calendar days across a DST change the same as any other', () => {
    // Whatever the machine's zone, local midnights are one calendar day apart.
    expect(daysAgo(at(2026, 3, 28, 23), at(2026, 3, 30, 1))).toBe(2);
    expect(daysAgo(at(2026, 10, 24, 12), at(2026, 10, 26, 12))).toBe(2);
  });
});
