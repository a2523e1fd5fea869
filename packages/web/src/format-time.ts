/**
 * Dates and times the way people in Taiwan read them: 上午/下午 with a 12-hour clock,
 * 今天/昨天 for the last two days, then 3月5日 or 2025年3月5日. The words and patterns come
 * from the locale catalog, so English gets "3:05 PM", "Yesterday", "Mar 5". Local time.
 */
import { fill, type Translate } from './i18n.ts';

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** 0 for today, 1 for yesterday, … (calendar days in local time, safe across DST). */
export function daysAgo(date: Date, now: Date): number {
  const a = Date.UTC(date.getFullYear(), date.getMonth(), date.getDate());
  const b = Date.UTC(now.getFullYear(), now.getMonth(), now.getDate());
  return Math.round((b - a) / 86_400_000);
}

/** "下午3:05" / "3:05 PM". Midnight is 上午12:00, noon 下午12:00. */
export function formatClock(date: Date, t: Translate): string {
  const hours = date.getHours();
  const h = hours % 12 === 0 ? 12 : hours % 12;
  return fill(t('time.clock'), {
    period: hours < 12 ? t('time.am') : t('time.pm'),
    h,
    mm: pad2(date.getMinutes()),
  });
}

function dateParts(date: Date, t: Translate): Record<string, string | number> {
  const months = t('time.months').split(',');
  return {
    y: date.getFullYear(),
    m: date.getMonth() + 1,
    d: date.getDate(),
    mon: months[date.getMonth()] ?? String(date.getMonth() + 1),
  };
}

/** A day heading in a conversation: 今天, 昨天, 3月5日, or 2025年3月5日 in another year. */
export function formatDay(date: Date, now: Date, t: Translate): string {
  const ago = daysAgo(date, now);
  if (ago === 0) return t('time.today');
  if (ago === 1) return t('time.yesterday');
  const parts = dateParts(date, t);
  return fill(date.getFullYear() === now.getFullYear() ? t('time.monthDay') : t('time.yearMonthDay'), parts);
}

/** The time in the chat list: the clock today, 昨天, 3/5 this year, 2025/3/5 before. */
export function formatListTime(date: Date, now: Date, t: Translate): string {
  if (sameDay(date, now)) return formatClock(date, t);
  if (daysAgo(date, now) === 1) return t('time.yesterday');
  const parts = dateParts(date, t);
  return fill(
    date.getFullYear() === now.getFullYear() ? t('time.shortDate') : t('time.shortYearDate'),
    parts,
  );
}
