import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthError, NotFoundError, ProtocolError, QuotaError, StorageError } from '@parus/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteQueueStore } from '../src/index.ts';
import type { QueueRecord, SqliteQueueStoreOptions } from '../src/index.ts';

let dir: string;
const open: SqliteQueueStore[] = [];

function store(opts: Partial<SqliteQueueStoreOptions> = {}): SqliteQueueStore {
  const s = new SqliteQueueStore({
    path: join(dir, 'q.sqlite'),
    maxQueueMessages: 10_000,
    maxQueueBytes: 64 * 1024 * 1024,
    ...opts,
  });
  open.push(s);
  return s;
}

function bytes(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

function queue(sk: Uint8Array | null = null): QueueRecord {
  return { rid: bytes(24), sid: bytes(24), rk: bytes(32), sk, queueKey: bytes(32), created: 1 };
}

function message(q: QueueRecord, ts = 1000, size = 10) {
  return { rid: q.rid, mid: bytes(16), ts, body: bytes(size), expires: ts + 1000 };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'parus-store-test-'));
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteQueueStore', () => {
  it('stores queues and messages and reads them back in order', async () => {
    const s = store();
    const q = queue();
    await s.createQueue(q);
    expect(await s.queueByRid(q.rid)).toEqual(q);
    expect(await s.queueBySid(q.sid)).toEqual(q);
    const written = await Promise.all([1, 2, 3].map(() => s.append(message(q), { checkedSk: null })));
    expect(written.map((m) => m.seq)).toEqual([...written.map((m) => m.seq)].sort((a, b) => a - b));
    const read = await s.messagesAfter(q.rid, 0, 10, 0);
    expect(read).toEqual(written);
    expect(await s.messagesAfter(q.rid, written[0]!.seq, 1, 0)).toEqual([written[1]]);
    expect(s.counts()).toEqual({ queues: 1, messages: 3 });
  });

  it('commits a batch together, and one failing write does not spoil the others', async () => {
    const s = store({ maxQueueMessages: 2 });
    const q = queue();
    await s.createQueue(q);
    const ghost = queue();
    const results = await Promise.allSettled([
      s.append(message(q), { checkedSk: null }),
      s.append(message(ghost), { checkedSk: null }),
      s.append(message(q), { checkedSk: null }),
      s.append(message(q), { checkedSk: null }),
      s.createQueue({ ...queue(), rid: q.rid }),
      s.deleteMessage(q.rid, bytes(16)),
    ]);
    expect(results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as Error).constructor))).toEqual([
      'ok',
      NotFoundError,
      'ok',
      QuotaError,
      StorageError,
      NotFoundError,
    ]);
    expect(s.counts()).toEqual({ queues: 1, messages: 2 });
    expect(await s.messagesAfter(q.rid, 0, 10, 0)).toHaveLength(2);
  });

  it('secures once; the same key is unchanged; another key is a protocol error', async () => {
    const s = store();
    const q = queue();
    await s.createQueue(q);
    const sk = bytes(32);
    expect(await s.secureQueue(q.rid, sk)).toBe('secured');
    expect(await s.secureQueue(q.rid, sk)).toBe('unchanged');
    await expect(s.secureQueue(q.rid, bytes(32))).rejects.toBeInstanceOf(ProtocolError);
    await expect(s.secureQueue(bytes(24), sk)).rejects.toBeInstanceOf(NotFoundError);
    // A send checked before the secure committed is refused.
    await expect(s.append(message(q), { checkedSk: null })).rejects.toBeInstanceOf(AuthError);
    await expect(s.append(message(q), { checkedSk: sk })).resolves.toMatchObject({ rid: q.rid });
  });

  it('its cache of queue records follows secure and delete', async () => {
    const s = store();
    const q = queue();
    await s.createQueue(q);
    expect((await s.queueBySid(q.sid))?.sk).toBeNull(); // now cached, by sid and by rid
    expect((await s.queueByRid(q.rid))?.sk).toBeNull();
    const sk = bytes(32);
    await s.secureQueue(q.rid, sk);
    expect((await s.queueBySid(q.sid))?.sk).toEqual(sk);
    expect((await s.queueByRid(q.rid))?.sk).toEqual(sk);
    await s.deleteQueue(q.rid);
    expect(await s.queueBySid(q.sid)).toBeUndefined();
    expect(await s.queueByRid(q.rid)).toBeUndefined();
  });

  it('checks a send against the cached record only while it says what the database does', async () => {
    // A send's check reads the cached record, not the database (decision 0051): a secure or a
    // delete queued in the same commit ahead of the send must still refuse it.
    const s = store({ ackWaitMs: 10_000 });
    const q = queue();
    await s.createQueue(q);
    expect((await s.queueByRid(q.rid))?.sk).toBeNull(); // cached
    const sk = bytes(32);
    const [secured, stale, fresh] = await Promise.allSettled([
      s.secureQueue(q.rid, sk),
      s.accept(message(q), { checkedSk: null }),
      s.accept(message(q), { checkedSk: sk }),
    ]);
    expect(secured).toMatchObject({ status: 'fulfilled', value: 'secured' });
    expect(stale.status === 'rejected' && stale.reason).toBeInstanceOf(AuthError);
    expect(fresh.status).toBe('fulfilled');
    expect((await s.queueByRid(q.rid))?.sk).toEqual(sk); // cached again, secured
    await expect(s.accept(message(q), { checkedSk: null })).rejects.toBeInstanceOf(AuthError);
    const [deleted, gone] = await Promise.allSettled([
      s.deleteQueue(q.rid),
      s.accept(message(q), { checkedSk: sk }),
    ]);
    expect(deleted.status).toBe('fulfilled');
    expect(gone.status === 'rejected' && gone.reason).toBeInstanceOf(NotFoundError);
  });

  it('counts bytes against the quota', async () => {
    const s = store({ maxQueueBytes: 100 });
    const q = queue();
    await s.createQueue(q);
    await s.append(message(q, 1000, 60), { checkedSk: null });
    await expect(s.append(message(q, 1000, 60), { checkedSk: null })).rejects.toBeInstanceOf(QuotaError);
    await s.append(message(q, 1000, 40), { checkedSk: null });
  });

  it('hides expired messages and purges them in chunks', async () => {
    const s = store();
    const q = queue();
    await s.createQueue(q);
    const writes = [];
    for (let i = 0; i < 6_000; i++) writes.push(s.append(message(q, 1000, 1), { checkedSk: null }));
    await Promise.all(writes);
    const fresh = await s.append(message(q, 5000), { checkedSk: null });
    expect(await s.pendingCount(q.rid, 1999)).toBe(6_001);
    expect(await s.pendingCount(q.rid, 2000)).toBe(1);
    expect(await s.messagesAfter(q.rid, 0, 10, 2000)).toEqual([fresh]);
    expect(await s.purgeExpired(2000)).toBe(6_000);
    expect(s.counts()).toEqual({ queues: 1, messages: 1 });
    expect(await s.purgeExpired(2000)).toBe(0);
  });

  it('deleting a queue deletes its messages', async () => {
    const s = store();
    const q = queue();
    const other = queue();
    await s.createQueue(q);
    await s.createQueue(other);
    await s.append(message(q), { checkedSk: null });
    const kept = await s.append(message(other), { checkedSk: null });
    await s.deleteQueue(q.rid);
    await expect(s.deleteQueue(q.rid)).rejects.toBeInstanceOf(NotFoundError);
    expect(await s.queueByRid(q.rid)).toBeUndefined();
    expect(await s.messagesAfter(q.rid, 0, 10, 0)).toEqual([]);
    expect(await s.messagesAfter(other.rid, 0, 10, 0)).toEqual([kept]);
    expect(s.counts()).toEqual({ queues: 1, messages: 1 });
  });

  it('acks only a message of the named queue', async () => {
    const s = store();
    const q = queue();
    const other = queue();
    await s.createQueue(q);
    await s.createQueue(other);
    const m = await s.append(message(q), { checkedSk: null });
    await expect(s.deleteMessage(other.rid, m.mid)).rejects.toBeInstanceOf(NotFoundError);
    await s.deleteMessage(q.rid, m.mid);
    expect(await s.pendingCount(q.rid, 0)).toBe(0);
  });

  it('deletes a batch of acks all or nothing, and fsyncs every commit that stores', async () => {
    const s = store();
    const q = queue();
    await s.createQueue(q);
    const ms = [message(q), message(q), message(q)];
    for (const m of ms) await s.append(m, { checkedSk: null });
    const sync = (): unknown => s.database.pragma('synchronous', { simple: true });
    expect(sync()).toBe(2); // FULL
    await expect(s.deleteMessages(q.rid, [{ mid: ms[0]!.mid }, { mid: bytes(16) }])).rejects.toThrow(
      NotFoundError,
    );
    expect(s.counts().messages).toBe(3);
    expect(await s.messagesAfter(q.rid, 0, 10, 1000)).toHaveLength(3);
    await s.deleteMessages(q.rid, [{ mid: ms[0]!.mid }, { mid: ms[1]!.mid }]);
    // A commit of acks alone is not fsynced (synchronous = NORMAL); it is made durable by the
    // next commit that stores, which is (FULL).
    expect(sync()).toBe(1);
    expect(s.counts().messages).toBe(1);
    await s.append(message(q), { checkedSk: null });
    expect(sync()).toBe(2);
    // A commit with acks and a store together is fsynced too.
    await Promise.all([s.deleteMessage(q.rid, ms[2]!.mid), s.append(message(q), { checkedSk: null })]);
    expect(sync()).toBe(2);
    expect(s.counts().messages).toBe(2);
  });

  it('keeps everything, and its totals, across close and reopen', async () => {
    const s = store();
    const q = queue(bytes(32));
    await s.createQueue(q);
    const m = s.append(message(q), { checkedSk: q.sk });
    await s.close(); // flushes the queued append first
    await expect(m).resolves.toMatchObject({ rid: q.rid });
    await expect(s.queueByRid(q.rid)).rejects.toBeInstanceOf(StorageError);
    await expect(s.createQueue(queue())).rejects.toBeInstanceOf(StorageError);

    const again = store();
    expect(again.counts()).toEqual({ queues: 1, messages: 1 });
    expect(await again.queueByRid(q.rid)).toEqual(q);
  });

  it('refuses a second store on the same file', () => {
    store();
    expect(() => store()).toThrow(StorageError);
  });
});
