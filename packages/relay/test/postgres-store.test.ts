// The PostgreSQL stores as several relay processes use them (decision 0047): two stores on one
// database, each with its own pool, writing the same queues at once in opposite orders (their
// batches deadlock, PostgreSQL aborts one, it runs again): every message stored exactly once,
// each queue's seqs strictly growing with no gap, acks taken by the other store, quotas exact.
import { AuthError, NotFoundError, QuotaError, initCrypto } from '@parus/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresBackend } from '../src/stores/open-stores.ts';
import type { RelayStores } from '../src/stores/open-stores.ts';
import type { PostgresQueueStore } from '../src/stores/postgres/postgres-queue-store.ts';
import { POSTGRES_MISSING, postgresAvailable, startPostgresServer } from './support/postgres-server.ts';
import type { PostgresServer } from './support/postgres-server.ts';
import { message, queue, sealShared } from './store-compliance.ts';

const limits = { maxQueueMessages: 10_000, maxQueueBytes: 1 << 26, maxLists: 10, maxEntries: 10 };

describe.skipIf(!postgresAvailable)('two PostgreSQL stores on one database', () => {
  let server: PostgresServer;
  const opened: RelayStores[] = [];
  const open = async (url: string, over = {}): Promise<RelayStores> => {
    const s = await (await PostgresBackend.connect(url)).stores({ ...limits, ...over, sealShared });
    opened.push(s);
    return s;
  };
  beforeAll(async () => {
    await initCrypto();
    server = await startPostgresServer();
  }, 120_000);
  afterAll(async () => {
    for (const s of opened) await s.close().catch(() => {});
    await server?.stop();
  }, 60_000);

  it('interleaved writes in opposite orders: each stored once, seqs without gaps, acked across', async () => {
    const url = await server.createDatabase('two_stores');
    const [a, b] = [await open(url), await open(url)];
    const qs = [queue(), queue(), queue(), queue()];
    for (const q of qs) await a.queues.createQueue(q);
    const sent: Array<Promise<unknown>> = [];
    for (let round = 0; round < 30; round++) {
      // One turn each: a writes the queues in one order, b in the other.
      for (const q of qs) sent.push(a.queues.append(message(q), { checkedSk: null }));
      for (const q of [...qs].reverse()) sent.push(b.queues.append(message(q), { checkedSk: null }));
      await new Promise((r) => setImmediate(r));
    }
    const results = await Promise.allSettled(sent);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    for (const q of qs) {
      const stored = await b.queues.messagesAfter(q.rid, 0, 1000, 0);
      expect(stored).toHaveLength(60);
      expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      // Acked through the other store, once.
      const [first] = stored;
      await a.queues.deleteMessage(q.rid, first!.mid);
      await expect(b.queues.deleteMessage(q.rid, first!.mid)).rejects.toBeInstanceOf(NotFoundError);
    }
    // Totals as all processes made them, read again from the database.
    await (a.queues as PostgresQueueStore).refresh();
    expect(a.queues.counts()).toEqual({ queues: 4, messages: 4 * 59 });
  });

  it('one turn of sends and acks across queues, done together: each answered as if alone, in call order', async () => {
    const url = await server.createDatabase('one_turn');
    const { queues } = await open(url, { maxQueueMessages: 4 });
    const sk = new Uint8Array(32).fill(1);
    const [q1, q2, full, acked] = [queue(), queue(sk), queue(), queue()];
    for (const q of [q1, q2, full, acked]) await queues.createQueue(q);
    for (let i = 0; i < 4; i++) await queues.append(message(full), { checkedSk: null });
    const toAck = [message(acked), message(acked), message(acked)];
    for (const m of toAck) await queues.append(m, { checkedSk: null });
    // One turn: the store gathers all of these into one transaction.
    const turn = [
      queues.append(message(q1), { checkedSk: null }),
      queues.append(message(queue()), { checkedSk: null }),
      queues.append(message(q2), { checkedSk: new Uint8Array(32).fill(2) }),
      queues.append(message(q2), { checkedSk: sk }),
      queues.append(message(full), { checkedSk: null }),
      queues.deleteMessages(acked.rid, [{ mid: toAck[0]!.mid }, { mid: new Uint8Array(16) }]),
      queues.deleteMessage(acked.rid, toAck[1]!.mid),
      queues.deleteMessage(acked.rid, new Uint8Array(16).fill(3)),
      queues.append(message(q1), { checkedSk: null }),
      queues.append(message(q1), { checkedSk: null }),
    ];
    const results = await Promise.allSettled(turn);
    const reason = (i: number): unknown => (results[i] as PromiseRejectedResult).reason;
    const seq = (i: number): number => (results[i] as PromiseFulfilledResult<{ seq: number }>).value.seq;
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(reason(1)).toBeInstanceOf(NotFoundError);
    expect(reason(2)).toBeInstanceOf(AuthError);
    expect(reason(4)).toBeInstanceOf(QuotaError);
    expect(reason(5)).toBeInstanceOf(NotFoundError);
    expect(reason(7)).toBeInstanceOf(NotFoundError);
    expect([seq(0), seq(8), seq(9)]).toEqual([1, 2, 3]);
    expect(seq(3)).toBe(1);
    expect((await queues.messagesAfter(q1.rid, 0, 10, 0)).map((m) => m.seq)).toEqual([1, 2, 3]);
    // The batched ack missing an id changed nothing; the single one went.
    expect((await queues.messagesAfter(acked.rid, 0, 10, 0)).map((m) => m.seq)).toEqual([1, 3]);
    expect(await queues.pendingCount(full.rid, 0)).toBe(4);
    await (queues as PostgresQueueStore).refresh();
    expect(queues.counts()).toEqual({ queues: 4, messages: 3 + 1 + 4 + 2 });
  });

  it("a queue's quota is exact when two stores fill it at once", async () => {
    const url = await server.createDatabase('two_quotas');
    const [a, b] = [await open(url, { maxQueueMessages: 25 }), await open(url, { maxQueueMessages: 25 })];
    const q = queue();
    await a.queues.createQueue(q);
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).queues.append(message(q), { checkedSk: null })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(25);
    for (const r of results.filter((x) => x.status === 'rejected'))
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(QuotaError);
    expect(await b.queues.pendingCount(q.rid, 0)).toBe(25);
  });
});

describe.skipIf(postgresAvailable)('two PostgreSQL stores on one database', () => {
  it.skip(POSTGRES_MISSING, () => {});
});
