import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EndFrame, MsgFrame } from '@parus/core';
import { SqliteQueueStore } from '../src/stores/sqlite/sqlite-queue-store.ts';
import { Subscriptions } from '../src/subscriptions.ts';
import type { Subscriber } from '../src/subscriptions.ts';

/** A holder that keeps what it is pushed. */
function holder(): Subscriber & { frames: Array<MsgFrame | EndFrame> } {
  const frames: Array<MsgFrame | EndFrame> = [];
  return { frames, push: (frame) => frames.push(frame) };
}

const rid = (n: number): Uint8Array => new Uint8Array(24).fill(n);

describe('Subscriptions: the queues of a holder (one key alone, or a set: docs/decisions/0042)', () => {
  let dir: string;
  let store: SqliteQueueStore;
  let subs: Subscriptions;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'parus-subs-'));
    store = new SqliteQueueStore({ path: join(dir, 'q.sqlite'), maxQueueMessages: 100, maxQueueBytes: 1e6 });
    subs = new Subscriptions({ store, window: 4, now: () => 0, onError: () => {} });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts and drops one, two and three queues of a holder, and again after one went', () => {
    const a = holder();
    expect(subs.countFor(a)).toBe(0);
    subs.subscribe(a, rid(1));
    subs.subscribe(a, rid(1));
    expect(subs.countFor(a)).toBe(1);
    subs.subscribe(a, rid(2));
    subs.subscribe(a, rid(3));
    expect(subs.countFor(a)).toBe(3);
    expect(subs.holds(a, rid(2))).toBe(true);
    subs.queueDeleted(rid(2));
    subs.queueDeleted(rid(3));
    expect(subs.countFor(a)).toBe(1);
    expect(subs.holds(a, rid(1))).toBe(true);
    expect(subs.holds(a, rid(2))).toBe(false);
    subs.subscribe(a, rid(4));
    expect(subs.countFor(a)).toBe(2);
    expect(subs.size).toBe(2);
    subs.dropAll(a);
    expect(subs.countFor(a)).toBe(0);
    expect(subs.size).toBe(0);
    expect(a.frames.map((f) => f.t)).toEqual(['end', 'end']);
  });

  it('a queue taken over by another holder leaves the first with the rest', () => {
    const a = holder();
    const b = holder();
    subs.subscribe(a, rid(1));
    subs.subscribe(a, rid(2));
    subs.subscribe(b, rid(1));
    expect(subs.countFor(a)).toBe(1);
    expect(subs.countFor(b)).toBe(1);
    expect(a.frames).toEqual([{ t: 'end', rid: rid(1) }]);
    subs.subscribe(b, rid(2));
    expect(subs.countFor(a)).toBe(0);
    expect(subs.countFor(b)).toBe(2);
    subs.dropAll(a);
    expect(subs.size).toBe(2);
  });

  it('an idle subscription takes its first messages into the window when they come', async () => {
    const a = holder();
    await store.createQueue({
      rid: rid(7),
      sid: rid(8),
      rk: new Uint8Array(32),
      sk: null,
      queueKey: new Uint8Array(32),
      created: 0,
    });
    subs.subscribe(a, rid(7));
    subs.pump(rid(7));
    for (let i = 0; i < 6; i++) {
      const m = await store.append(
        { rid: rid(7), mid: new Uint8Array(16).fill(i), ts: 0, body: new Uint8Array(8), expires: 1e15 },
        { checkedSk: null },
      );
      subs.stored(m);
    }
    await expect.poll(() => a.frames.length).toBe(4);
    const { seqs, keys } = subs.inflightOf(a, rid(7), [
      new Uint8Array(16).fill(0),
      new Uint8Array(16).fill(5),
    ]);
    expect(seqs[0]).toBeTypeOf('number');
    expect(seqs[1]).toBeUndefined();
    subs.ackedKeys(rid(7), keys);
    await expect.poll(() => a.frames.length).toBe(5);
  });
});
