/**
 * Spam control in public rooms (seed 004; docs/decisions/0013): how many joins a door admits
 * and how many messages one member may send, with the checks both sides run.
 *
 * Messages are judged on the signed envelope timestamps, so that every receiver judges a
 * message the same way whenever it arrives (a device that was offline gets a day's messages
 * at once): within any window of `windowMs` of its author's claimed time, at most
 * `messages` messages of one member, and no claimed time further than MAX_CLOCK_SKEW_MS in
 * the receiver's future. The sender refuses to go beyond the same limit (QuotaError).
 */
import { QuotaError, equalBytes } from '@parus/core';

export interface RoomLimits {
  /** Messages one member may send in a public room per window. */
  messages: number;
  /** Joins one door admits per window. */
  joins: number;
  windowMs: number;
}

export const DEFAULT_ROOM_LIMITS: RoomLimits = { messages: 20, joins: 30, windowMs: 60_000 };
/** How far in the future a room message's claimed time may be. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export interface TimedMessage {
  author: Uint8Array;
  ts: number;
}

/** The sender's side: QuotaError if one more message now would go beyond the limit. */
export function checkSendRate(
  limits: RoomLimits,
  mine: readonly TimedMessage[],
  me: Uint8Array,
  now: number,
): void {
  const recent = mine.filter((m) => equalBytes(m.author, me) && m.ts > now - limits.windowMs).length;
  if (recent >= limits.messages)
    throw new QuotaError(
      `at most ${limits.messages} messages per ${limits.windowMs / 1000} s in a public room`,
    );
}

/** The receiver's side: QuotaError if `ts` from `author` goes beyond the limit of what is stored. */
export function checkReceiveRate(
  limits: RoomLimits,
  stored: readonly TimedMessage[],
  author: Uint8Array,
  ts: number,
  now: number,
): void {
  if (ts > now + MAX_CLOCK_SKEW_MS) throw new QuotaError('room message claims a time in the future');
  const near = stored
    .filter((m) => equalBytes(m.author, author) && Math.abs(m.ts - ts) < limits.windowMs)
    .map((m) => m.ts)
    .sort((a, b) => a - b);
  // Every window of windowMs that holds ts: the number already in it, plus this one.
  for (const start of [ts - limits.windowMs + 1, ...near.filter((t) => t <= ts)]) {
    const inWindow = near.filter((t) => t >= start && t < start + limits.windowMs).length;
    if (start <= ts && ts < start + limits.windowMs && inWindow + 1 > limits.messages)
      throw new QuotaError('room member sends faster than the room allows');
  }
}

/** Joins a door admitted recently (in memory: a restart forgets them). */
export class JoinLimiter {
  private readonly admitted = new Map<string, number[]>();

  constructor(private readonly limits: RoomLimits) {}

  /** QuotaError if the door `door` admitted its quota in the window; else counts one join. */
  admit(door: string, now: number): void {
    const recent = (this.admitted.get(door) ?? []).filter((t) => t > now - this.limits.windowMs);
    if (recent.length >= this.limits.joins) throw new QuotaError('this room door admits no more joins now');
    recent.push(now);
    this.admitted.set(door, recent);
  }
}
