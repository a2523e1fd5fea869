/**
 * One compliance suite for every store backend (issue 17): what the relay relies on from a
 * QueueStore and a FanoutStore, run against SQLite and PostgreSQL alike
 * (store-compliance.test.ts). A backend gives fresh, empty stores and opens them again.
 */
import { randomBytes } from 'node:crypto';
import {
  AuthError,
  ExpiredError,
  NotFoundError,
  ProtocolError,
  QuotaError,
  StorageError,
  encodeDeliveryPlaintext,
  initCrypto,
  openDelivery,
} from '@parus/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DELIVERY_NONCE_BYTES, sealDeliveryNative } from '../src/delivery-seal.ts';
import type { CardRecords } from '../src/card-records.ts';
import type { SharedMessage } from '../src/fanout-store.ts';
import type { NewMessage, QueueRecord } from '../src/queue-store.ts';
import type { RelayStores } from '../src/stores/open-stores.ts';

export interface StoreLimits {
  maxQueueMessages: number;
  maxQueueBytes: number;
  maxLists: number;
  maxEntries: number;
}

export const sealShared = (key: Uint8Array, mid: Uint8Array, plaintext: Uint8Array): Uint8Array =>
  sealDeliveryNative(key, new Uint8Array(randomBytes(DELIVERY_NONCE_BYTES)), mid, plaintext).slice();

export interface StoreBackend {
  name: string;
  /** Once per file (start a server). */
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** A new empty place for stores; open() opens stores there (again after a close). */
  fresh(): Promise<void>;
  open(limits: StoreLimits): Promise<RelayStores>;
  /** Card records at the same place; `close` releases what they hold. */
  openCards(maxRecords: number): Promise<{ cards: CardRecords; close(): Promise<void> }>;
}

const DEFAULT_LIMITS: StoreLimits = {
  maxQueueMessages: 10_000,
  maxQueueBytes: 64 * 1024 * 1024,
  maxLists: 3,
  maxEntries: 5,
};

export function bytes(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

export function queue(sk: Uint8Array | null = null): QueueRecord {
  return { rid: bytes(24), sid: bytes(24), rk: bytes(32), sk, queueKey: bytes(32), created: 1 };
}

export function message(q: QueueRecord, ts = 1000, size = 10, ttl = 1000): NewMessage {
  return { rid: q.rid, mid: bytes(16), ts, body: bytes(size), expires: ts + ttl };
}

function shared(ts: number, body: Uint8Array, ttl = 1000): SharedMessage {
  return {
    ts,
    expires: ts + ttl,
    plaintext: encodeDeliveryPlaintext(ts, body),
    newMids: (n) => bytes(n * 16),
  };
}

export function storeCompliance(backend: StoreBackend): void {
  describe(`store compliance: ${backend.name}`, () => {
    const opened: RelayStores[] = [];
    const open = async (limits: Partial<StoreLimits> = {}): Promise<RelayStores> => {
      const s = await backend.open({ ...DEFAULT_LIMITS, ...limits });
      opened.push(s);
      return s;
    };
    const closeAll = async (): Promise<void> => {
      for (const s of opened.splice(0)) await s.close().catch(() => {});
    };

    beforeAll(async () => {
      await initCrypto();
      await backend.setup();
    }, 120_000);
    afterAll(async () => {
      await closeAll();
      await backend.teardown();
    }, 60_000);
    beforeEach(async () => {
      await backend.fresh();
    }, 60_000);
    afterEach(closeAll, 60_000);

    it('stores queues and messages and reads them back in seq order', async () => {
      const { queues: s } = await open();
      const q = queue();
      await s.createQueue(q);
      expect(await s.queueByRid(q.rid)).toEqual(q);
      expect(await s.queueBySid(q.sid)).toEqual(q);
      expect(await s.queueByRid(bytes(24))).toBeUndefined();
      const written = await Promise.all([1, 2, 3].map(() => s.append(message(q), { checkedSk: null })));
      const seqs = written.map((m) => m.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(3);
      expect(await s.messagesAfter(q.rid, 0, 10, 0)).toEqual(written);
      expect(await s.messagesAfter(q.rid, written[0]!.seq, 1, 0)).toEqual([written[1]]);
      expect(await s.pendingCount(q.rid, 0)).toBe(3);
      expect(s.counts()).toEqual({ queues: 1, messages: 3 });
    });

    it('refuses a queue whose rid or sid is taken (StorageError), changing nothing', async () => {
      const { queues: s } = await open();
      const q = queue();
      await s.createQueue(q);
      await expect(s.createQueue({ ...queue(), rid: q.rid })).rejects.toBeInstanceOf(StorageError);
      await expect(s.createQueue({ ...queue(), sid: q.sid })).rejects.toBeInstanceOf(StorageError);
      expect(s.counts().queues).toBe(1);
      expect(await s.queueBySid(q.sid)).toEqual(q);
    });

    it('commits one turn together; one failing write does not spoil the others', async () => {
      const { queues: s } = await open({ maxQueueMessages: 2 });
      const q = queue();
      await s.createQueue(q);
      const results = await Promise.allSettled([
        s.append(message(q), { checkedSk: null }),
        s.append(message(q), { checkedSk: null }),
        s.append(message(q), { checkedSk: null }),
        s.append(message(queue()), { checkedSk: null }),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
      expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(QuotaError);
      expect((results[3] as PromiseRejectedResult).reason).toBeInstanceOf(NotFoundError);
      expect(await s.pendingCount(q.rid, 0)).toBe(2);
      expect(s.counts().messages).toBe(2);
    });

    it('a write refused by the database in a turn leaves the others of the turn stored', async () => {
      const { queues: s } = await open();
      const q = queue();
      await s.createQueue(q);
      const [sent, dup, after] = await Promise.allSettled([
        s.append(message(q), { checkedSk: null }),
        s.createQueue({ ...queue(), sid: q.sid }),
        s.append(message(q), { checkedSk: null }),
      ]);
      expect(sent.status).toBe('fulfilled');
      expect((dup as PromiseRejectedResult).reason).toBeInstanceOf(StorageError);
      expect(after.status).toBe('fulfilled');
      await s.flush();
      expect(await s.pendingCount(q.rid, 0)).toBe(2);
      expect(s.counts()).toEqual({ queues: 1, messages: 2 });
    });

    it('secures once: the same key is unchanged, another is ProtocolError, no queue is NotFound', async () => {
      const { queues: s } = await open();
      const q = queue();
      await s.createQueue(q);
      const sk = bytes(32);
      expect(await s.secureQueue(q.rid, sk)).toBe('secured');
      expect(await s.secureQueue(q.rid, sk)).toBe('unchanged');
      await expect(s.secureQueue(q.rid, bytes(32))).rejects.toBeInstanceOf(ProtocolError);
      await expect(s.secureQueue(bytes(24), sk)).rejects.toBeInstanceOf(NotFoundError);
      expect((await s.queueByRid(q.rid))!.sk).toEqual(sk);
    });

    it('a send checked against the old sender key loses the race to a secure (AuthError)', async () => {
      const { queues: s } = await open();
      const q = queue();
      await s.createQueue(q);
      const sk = bytes(32);
      const [secured, late] = await Promise.allSettled([
        s.secureQueue(q.rid, sk),
        s.append(message(q), { checkedSk: null }),
      ]);
      expect(secured.status).toBe('fulfilled');
      expect((late as PromiseRejectedResult).reason).toBeInstanceOf(AuthError);
      await expect(s.append(message(q), { checkedSk: bytes(32) })).rejects.toBeInstanceOf(AuthError);
      await s.append(message(q), { checkedSk: sk });
      expect(await s.pendingCount(q.rid, 0)).toBe(1);
    });

    it('counts bytes against the quota, and frees expired messages before refusing', async () => {
      const { queues: s } = await open({ maxQueueBytes: 100 });
      const q = queue();
      await s.createQueue(q);
      await s.append(message(q, 1000, 60, 10), { checkedSk: null });
      // The first one has expired at ts 2000: it makes room.
      await s.append(message(q, 2000, 60), { checkedSk: null });
      await expect(s.append(message(q, 2000, 41), { checkedSk: null })).rejects.toBeInstanceOf(QuotaError);
      await s.append(message(q, 2000, 40), { checkedSk: null });
      expect(await s.pendingCount(q.rid, 2000)).toBe(2);
    });

    it('hides expired messages and purges them', async () => {
      const { queues: s } = await open();
      const q = queue();
      await s.createQueue(q);
      await s.append(message(q, 1000, 10, 100), { checkedSk: null });
      const alive = await s.append(message(q, 1000, 10, 10_000), { checkedSk: null });
      expect(await s.messagesAfter(q.rid, 0, 10, 1100)).toEqual([alive]);
      expect(await s.pendingCount(q.rid, 1100)).toBe(1);
      expect(await s.purgeExpired(1100)).toBe(1);
      expect(await s.purgeExpired(1100)).toBe(0);
      expect(s.counts().messages).toBe(1);
      expect(await s.messagesAfter(q.rid, 0, 10, 0)).toEqual([alive]);
    });

    it('deleting a queue deletes its messages; a second delete is NotFound', async () => {
      const { queues: s } = await open();
      const q = queue();
      const other = queue();
      await s.createQueue(q);
      await s.createQueue(other);
      await s.append(message(q), { checkedSk: null });
      await s.append(message(other), { checkedSk: null });
      await s.deleteQueue(q.rid);
      await expect(s.deleteQueue(q.rid)).rejects.toBeInstanceOf(NotFoundError);
      expect(await s.queueByRid(q.rid)).toBeUndefined();
      expect(await s.messagesAfter(q.rid, 0, 10, 0)).toEqual([]);
      expect(s.counts()).toEqual({ queues: 1, messages: 1 });
    });

    it('acks only a message of the named queue; a batch of acks is all or nothing', async () => {
      const { queues: s } = await open();
      const q = queue();
      const other = queue();
      await s.createQueue(q);
      await s.createQueue(other);
      const m = await Promise.all([1, 2, 3].map(() => s.append(message(q), { checkedSk: null })));
      const o = await s.append(message(other), { checkedSk: null });
      await expect(s.deleteMessage(q.rid, o.mid)).rejects.toBeInstanceOf(NotFoundError);
      await expect(
        s.deleteMessages(q.rid, [{ mid: m[0]!.mid }, { mid: bytes(16) }, { mid: m[1]!.mid }]),
      ).rejects.toBeInstanceOf(NotFoundError);
      expect(await s.pendingCount(q.rid, 0)).toBe(3);
      await s.deleteMessages(q.rid, [{ mid: m[0]!.mid, seq: m[0]!.seq }, { mid: m[2]!.mid }]);
      expect((await s.messagesAfter(q.rid, 0, 10, 0)).map((x) => x.seq)).toEqual([m[1]!.seq]);
      await s.deleteMessage(q.rid, m[1]!.mid, m[1]!.seq);
      await expect(s.deleteMessage(q.rid, m[1]!.mid)).rejects.toBeInstanceOf(NotFoundError);
      expect(s.counts().messages).toBe(1);
      expect(await s.pendingCount(other.rid, 0)).toBe(1);
    });

    it('accept: readable at once, settled, acked exactly once, quota counted', async () => {
      const { queues: s } = await open({ maxQueueMessages: 2 });
      const q = queue();
      await s.createQueue(q);
      const a = await s.accept(message(q), { checkedSk: null });
      expect(await s.messagesAfter(q.rid, 0, 10, 0)).toEqual([a.message]);
      const b = await s.accept(message(q), { checkedSk: null });
      s.writeSoon(b.message);
      await expect(s.accept(message(q), { checkedSk: null })).rejects.toBeInstanceOf(QuotaError);
      await s.deleteMessage(q.rid, a.message.mid, a.message.seq);
      await a.settled;
      await b.settled;
      await expect(s.deleteMessage(q.rid, a.message.mid)).rejects.toBeInstanceOf(NotFoundError);
      expect(await s.messagesAfter(q.rid, 0, 10, 0)).toEqual([b.message]);
      await s.flush();
      expect(s.counts().messages).toBe(1);
    });

    it('keeps everything across close and reopen; a closed store refuses with StorageError', async () => {
      const first = await open();
      const q = queue(bytes(32));
      await first.queues.createQueue(q);
      const m = await first.queues.append(message(q), { checkedSk: q.sk });
      const lid = bytes(16);
      await first.lists.createList(lid, bytes(32), 1000);
      await first.lists.addEntries(lid, [q.sid], 1000);
      const fanned = await first.lists.fanout(lid, shared(1000, bytes(5)));
      await first.queues.flush();
      await first.close();
      await expect(first.queues.append(message(q), { checkedSk: q.sk })).rejects.toBeInstanceOf(StorageError);
      const again = await open();
      expect(await again.queues.queueByRid(q.rid)).toEqual(q);
      const read = await again.queues.messagesAfter(q.rid, 0, 10, 0);
      expect(read.map((x) => x.seq)).toEqual([m.seq, fanned.stored[0]!.seq]);
      expect(read[0]).toEqual(m);
      expect(again.queues.counts()).toEqual({ queues: 1, messages: 2 });
      expect((await again.lists.list(lid))!.entries).toBe(1);
      expect(again.lists.size).toBe(1);
      // Seqs keep growing after a reopen.
      const next = await again.queues.append(message(q), { checkedSk: q.sk });
      expect(next.seq).toBeGreaterThan(fanned.stored[0]!.seq);
    });

    it('fan-out lists: create, entries within bounds, drop, NotFound and Quota errors', async () => {
      const { lists } = await open({ maxLists: 2, maxEntries: 3 });
      const [a, b, c] = [bytes(16), bytes(16), bytes(16)];
      await lists.createList(a, bytes(32), 1000);
      await expect(lists.createList(a, bytes(32), 1000)).rejects.toBeInstanceOf(StorageError);
      await lists.createList(b, bytes(32), 1000);
      await expect(lists.createList(c, bytes(32), 1000)).rejects.toBeInstanceOf(QuotaError);
      expect(lists.size).toBe(2);
      const sids = [bytes(24), bytes(24), bytes(24)];
      expect(await lists.addEntries(a, sids.slice(0, 2), 1000)).toBe(2);
      expect(await lists.addEntries(a, sids.slice(1, 3), 1000)).toBe(3);
      // All or nothing: the fourth does not fit, so the list keeps its three.
      await expect(lists.addEntries(a, [bytes(24)], 1000)).rejects.toBeInstanceOf(QuotaError);
      expect((await lists.list(a))!.entries).toBe(3);
      await lists.removeEntries(a, [sids[0]!, bytes(24)], 1000);
      expect((await lists.list(a))!.entries).toBe(2);
      await expect(lists.addEntries(c, sids, 1000)).rejects.toBeInstanceOf(NotFoundError);
      await expect(lists.removeEntries(c, sids, 1000)).rejects.toBeInstanceOf(NotFoundError);
      await lists.dropList(b);
      await expect(lists.dropList(b)).rejects.toBeInstanceOf(NotFoundError);
      expect(await lists.list(b)).toBeUndefined();
      expect(lists.size).toBe(1);
    });

    it('fans out one body to every secured queue, sealed per queue, reporting full and gone ones', async () => {
      const { queues: s, lists } = await open({ maxQueueMessages: 1 });
      const live = queue(bytes(32));
      const full = queue(bytes(32));
      const unsecured = queue();
      const deleted = queue(bytes(32));
      for (const q of [live, full, unsecured, deleted]) await s.createQueue(q);
      await s.append(message(full), { checkedSk: full.sk });
      await s.deleteQueue(deleted.rid);
      const lid = bytes(16);
      await lists.createList(lid, bytes(32), 1000);
      await lists.addEntries(lid, [live.sid, full.sid, unsecured.sid, deleted.sid], 1000);
      await expect(lists.fanout(bytes(16), shared(1000, bytes(5)))).rejects.toBeInstanceOf(NotFoundError);
      const body = bytes(7);
      const out = await lists.fanout(lid, shared(1000, body));
      expect(out.stored.map((x) => x.rid)).toEqual([live.rid]);
      expect(out.full).toEqual([full.sid]);
      expect(new Set(out.gone.map((x) => Buffer.from(x).toString('hex')))).toEqual(
        new Set([unsecured.sid, deleted.sid].map((x) => Buffer.from(x).toString('hex'))),
      );
      const [copy] = await s.messagesAfter(live.rid, 0, 10, 0);
      expect(copy!.seq).toBe(out.stored[0]!.seq);
      expect(copy!.mid).toEqual(out.stored[0]!.mid);
      expect(openDelivery(live.queueKey, copy!.mid, copy!.body)).toEqual({ ts: 1000, body });
      expect(s.counts().messages).toBe(2);
      // A copy counts in its queue's quota and is acked like a 1:1 message.
      await expect(s.append(message(live), { checkedSk: live.sk })).rejects.toBeInstanceOf(QuotaError);
      await s.deleteMessage(live.rid, copy!.mid, copy!.seq);
      await expect(s.deleteMessage(live.rid, copy!.mid, copy!.seq)).rejects.toBeInstanceOf(NotFoundError);
      expect(await s.pendingCount(live.rid, 0)).toBe(0);
    });

    it("keeps a queue's 1:1 messages and copies in one order, and expires copies", async () => {
      const { queues: s, lists } = await open();
      const q = queue(bytes(32));
      await s.createQueue(q);
      const lid = bytes(16);
      await lists.createList(lid, bytes(32), 1000);
      await lists.addEntries(lid, [q.sid], 1000);
      const one = await s.append(message(q, 1000, 10, 10_000), { checkedSk: q.sk });
      const copy = (await lists.fanout(lid, shared(1000, bytes(3), 100))).stored[0]!;
      const two = await s.append(message(q, 1000, 10, 10_000), { checkedSk: q.sk });
      expect(one.seq < copy.seq && copy.seq < two.seq).toBe(true);
      expect((await s.messagesAfter(q.rid, 0, 10, 0)).map((x) => x.seq)).toEqual([
        one.seq,
        copy.seq,
        two.seq,
      ]);
      expect((await s.messagesAfter(q.rid, 0, 10, 1200)).map((x) => x.seq)).toEqual([one.seq, two.seq]);
      expect(await s.purgeExpired(1200)).toBe(1);
      expect(s.counts().messages).toBe(2);
    });

    it('card records: put, get, expired, deleted once after the check, bounded, purged, kept across reopen', async () => {
      const first = await backend.openCards(2);
      const record = { cid: bytes(16), ck: bytes(32), data: bytes(40), expires: 5000 };
      try {
        await first.cards.put(record);
        expect(await first.cards.get(record.cid, 1000)).toEqual(record);
        expect(first.cards.storedBytes).toBe(40);
        await expect(Promise.resolve().then(() => first.cards.get(bytes(16), 1000))).rejects.toBeInstanceOf(
          NotFoundError,
        );
        await expect(Promise.resolve().then(() => first.cards.get(record.cid, 5000))).rejects.toBeInstanceOf(
          ExpiredError,
        );
        await first.cards.put({ ...record, cid: bytes(16), expires: 2000 });
        await expect(
          Promise.resolve().then(() => first.cards.put({ ...record, cid: bytes(16) })),
        ).rejects.toBeInstanceOf(QuotaError);
        expect(await first.cards.purgeExpired(3000)).toBe(1);
      } finally {
        await first.close();
      }
      const again = await backend.openCards(2);
      try {
        expect(await again.cards.get(record.cid, 1000)).toEqual(record);
        // The check (the owner's authenticator) refuses: nothing is deleted.
        const refuse = (): void => {
          throw new AuthError('not the owner');
        };
        await expect(
          Promise.resolve().then(() => again.cards.delete(record.cid, refuse)),
        ).rejects.toBeInstanceOf(AuthError);
        await again.cards.delete(record.cid, () => {});
        await expect(
          Promise.resolve().then(() => again.cards.delete(record.cid, () => {})),
        ).rejects.toBeInstanceOf(NotFoundError);
        expect(again.cards.storedBytes).toBe(0);
      } finally {
        await again.close();
      }
    });

    it('purges lists unused since a time', async () => {
      const { lists } = await open();
      const [old, used] = [bytes(16), bytes(16)];
      await lists.createList(old, bytes(32), 1000);
      await lists.createList(used, bytes(32), 1000);
      await lists.addEntries(used, [bytes(24)], 5000);
      expect(await lists.purgeUnused(2000)).toBe(1);
      expect(await lists.list(old)).toBeUndefined();
      expect(await lists.list(used)).toBeDefined();
      expect(lists.size).toBe(1);
    });
  });
}
