// The client's pacing of relay frames (frame-pacer.ts), on a scripted clock.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FramePacer } from '../src/frame-pacer.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('FramePacer', () => {
  it('lets half the announced burst go at once, then 90 % of the rate, in the order asked', async () => {
    const pacer = new FramePacer({ rate: 100, burst: 8 }, () => Date.now());
    const gone: number[] = [];
    for (let i = 0; i < 8; i++) void Promise.resolve(pacer.turn()).then(() => gone.push(i));
    await vi.advanceTimersByTimeAsync(0);
    expect(gone).toEqual([0, 1, 2, 3]); // burst 8 announced: 4 at once
    expect(pacer.queued).toBe(4);
    await vi.advanceTimersByTimeAsync(12); // 90 per second: one every 11.1 ms
    expect(gone).toEqual([0, 1, 2, 3, 4]);
    await vi.advanceTimersByTimeAsync(34);
    expect(gone).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(pacer.queued).toBe(0);
  });

  it('lets everything waiting go when the connection ends, and a new turn after a pause at once', async () => {
    const pacer = new FramePacer({ rate: 1, burst: 2 }, () => Date.now());
    const gone: number[] = [];
    for (let i = 0; i < 5; i++) void Promise.resolve(pacer.turn()).then(() => gone.push(i));
    await vi.advanceTimersByTimeAsync(0);
    expect(gone).toEqual([0]);
    pacer.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(gone).toEqual([0, 1, 2, 3, 4]);
    expect(vi.getTimerCount()).toBe(0); // nothing left to keep the process alive
    await vi.advanceTimersByTimeAsync(5_000);
    let next = false;
    void Promise.resolve(pacer.turn()).then(() => (next = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(next).toBe(true);
  });
});
