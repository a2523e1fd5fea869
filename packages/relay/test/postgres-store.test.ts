// The PostgreSQL stores as several relay processes use them (decision 0047): two stores on one
// database, each with its own pool, writing the same queues at once in opposite orders (their
// batches deadlock, PostgreSQL aborts one, it runs again): every message stored exactly once,
// each queue's seqs strictly growing with no gap, acks taken by the other store, quotas exact.
import { NotFoundError, QuotaError, initCrypto } from '@parus/core';
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
