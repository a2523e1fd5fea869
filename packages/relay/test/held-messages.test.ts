/**
 * Messages accepted and held for their acks (held-messages.ts, docs/decisions/0034): a
 * message acked within its wait never reaches the disk; one that is not is written and
 * fsynced before its sender's wait ends; none ends before either. Store-level with a scripted
 * clock where the wait matters, and through a real relay on loopback.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotFoundError, QuotaError, UsageError, initCrypto, utf8 } from '@parus/core';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SqliteQueueStore, resolveLimits } from '../src/index.ts';
import type { Accepted, QueueRecord, SqliteQueueStoreOptions } from '../src/index.ts';
import { tempRelays } from './temp-relay.ts';
import { Recipient, TestClient, containsBytes, sendFrame } from './test-client.ts';

let dir: string;
const open: SqliteQueueStore[] = [];
/** The scripted clock of the stores (ms). */
let now = 0;

function store(opts: Partial<SqliteQueueStoreOptions> = {}): SqliteQueueStore {
  const s = new SqliteQueueStore({
    path: join(dir, 'q.sqlite'),
    maxQueueMessages: 10_000,
    maxQueueBytes: 64 * 1024 * 1024,
    ackWaitMs: 60_000,
    clock: () => now,
    ...opts,
  });
  open.push(s);
  return s;
}

function bytes(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

function queue(): QueueRecord {
  return { rid: bytes(24), sid: bytes(24), rk: bytes(32), sk: null, queueKey: bytes(32), created: 1 };
}

function message(q: QueueRecord) {
  return { rid: q.rid, mid: bytes(16), ts: 1000, body: bytes(40), expires: 10_000_000 };
}

/** Whether `p` has settled (after the turns already queued ran). */
async function settledYet(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

/** Rows of 1:1 messages in the database. */
function rows(s: SqliteQueueStore): number {
  return (s.database.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n;
}

/** Whether any file of the folder (database, WAL) holds `needle`. */
function onDisk(folder: string, needle: Uint8Array): boolean {
  return readdirSync(folder)
    .map((f) => join(folder, f))
    .some((f) => statSync(f).isFile() && containsBytes(readFileSync(f), needle));
}

const relays = tempRelays();
beforeAll(() => initCrypto());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'parus-held-test-'));
  now = 0;
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
  await relays.cleanup();
});

describe('held messages in the store', () => {
  it('a message acked within its wait never reaches the disk, and its wait ends with the ack', async () => {
    const s = store();
    const q = queue();
    await s.createQueue(q);
    const m = message(q);
    const accepted: Accepted = await s.accept(m, { checkedSk: null });
    // Readable at once: a subscription's backlog and its pending count see it.
    expect(await s.messagesAfter(q.rid, 0, 10, 0)).toEqual([accepted.message]);
    expect(await s.pendingCount(q.rid, 0)).toBe(1);
    expect(s.counts().messages).toBe(1);
    await s.createQueue(queue()); // another commit goes by
    expect(await settledYet(accepted.settled)).toBe(false);
    expect(rows(s)).toBe(0);

    await s.deleteMessage(q.rid, m.mid, accepted.message.seq);
    await expect(accepted.settled).resolves.toBeUndefined();
    expect(s.counts().messages).toBe(0);
    expect(await s.messagesAfter(q.rid, 0, 10, 0)).toEqual([]);
    expect(s.heldCounts).toEqual({ acked: 1, written: 0 });
    await s.close();
    expect(onDisk(dir, m.body)).toBe(false);
  });

  it('acks a held message by its id alone, and a second ack of it is NOT_FOUND', async () => {
    const s = store();
    const q = queue();
    await s.createQueue(q);
    const m = message(q);
    const accepted = await s.accept(m, { checkedSk: null });
    await s.deleteMessage(q.rid, m.mid);
    await accepted.settled;
    await expect(s.deleteMessage(q.rid, m.mid)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('one not acked in time is written and fsynced with the first commit after its wait, then its wait ends', async () => {
    const s = store({ ackWaitMs: 5 });
    const q = queue();
    await s.createQueue(q);
    const m = message(q);
    const accepted = await s.accept(m, { checkedSk: null });
    now = 3;
    await s.createQueue(queue());
    expect(await settledYet(accepted.settled)).toBe(false);
    expect(rows(s)).toBe(0);
    now = 6;
    await s.createQueue(queue());
    await expect(accepted.settled).resolves.toBeUndefined();
    expect(rows(s)).toBe(1);
    expect(s.database.pragma('synchronous', { simple: true })).toBe(2); // FULL: fsynced
    expect(s.heldCounts).toEqual({ acked: 0, written: 1 });
    expect(onDisk(dir, m.body)).toBe(true);
    // Acked once written: deleted from the database as any stored message.
    await s.deleteMessage(q.rid, m.mid, accepted.message.seq);
    expect(rows(s)).toBe(0);
    expect(s.counts().messages).toBe(0);
  });

  it('with ackWaitMs 0 a message is written with the commit that takes it, as append does', async () => {
    const s = store({ ackWaitMs: 0 });
    const q = queue();
    await s.createQueue(q);
    const accepted = await s.accept(message(q), { checkedSk: null });
    expect(rows(s)).toBe(1);
    await accepted.settled;
    expect(s.heldCounts).toEqual({ acked: 0, written: 0 });
    expect(resolveLimits({ ackWaitMs: 0 }).ackWaitMs).toBe(0);
    expect(() => resolveLimits({ ackWaitMs: -1 })).toThrow(UsageError);
    expect(() => resolveLimits({ maxHeldBytes: 0 })).toThrow(UsageError);
  });

  it('writes a message nobody took with the next commit, whatever its wait (writeSoon)', async () => {
    const s = store();
    const q = queue();
    await s.createQueue(q);
    const accepted = await s.accept(message(q), { checkedSk: null });
    s.writeSoon(accepted.message);
    await accepted.settled;
    expect(rows(s)).toBe(1);
    expect(s.heldCounts).toEqual({ acked: 0, written: 1 });
  });

  it('writes a held message on its own timer, with no other commit to carry it', async () => {
    const s = store({ ackWaitMs: 5, clock: () => performance.now() });
    const q = queue();
    await s.createQueue(q);
    const accepted = await s.accept(message(q), { checkedSk: null });
    await accepted.settled;
    expect(rows(s)).toBe(1);
  });

  it('counts held messages in the quota, and a queue deleted takes them (their waits end)', async () => {
    const s = store({ maxQueueMessages: 2 });
    const q = queue();
    await s.createQueue(q);
    const a = await s.accept(message(q), { checkedSk: null });
    const b = await s.accept(message(q), { checkedSk: null });
    await expect(s.accept(message(q), { checkedSk: null })).rejects.toBeInstanceOf(QuotaError);
    await s.deleteQueue(q.rid);
    await expect(Promise.all([a.settled, b.settled])).resolves.toBeDefined();
    expect(s.counts()).toEqual({ queues: 0, messages: 0 });
    await s.flush();
    expect(rows(s)).toBe(0);
  });

  it('a refused batch of acks leaves its held message held', async () => {
    const s = store();
    const q = queue();
    await s.createQueue(q);
    const m = message(q);
    const accepted = await s.accept(m, { checkedSk: null });
    await expect(s.deleteMessages(q.rid, [{ mid: m.mid }, { mid: bytes(16) }])).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect(await s.messagesAfter(q.rid, 0, 10, 0)).toEqual([accepted.message]);
    expect(await settledYet(accepted.settled)).toBe(false);
    await s.deleteMessages(q.rid, [{ mid: m.mid }]);
    await accepted.settled;
  });

  it('close() writes every held message: it is there after reopening', async () => {
    const s = store();
    const q = queue();
    await s.createQueue(q);
    const accepted = await s.accept(message(q), { checkedSk: null });
    await s.close();
    await accepted.settled;
    const again = store();
    expect(await again.messagesAfter(q.rid, 0, 10, 0)).toEqual([accepted.message]);
    expect(again.counts().messages).toBe(1);
  });

  it('a relay that stops before the write has answered nothing, and kept nothing', async () => {
    const s = store();
    const q = queue();
    await s.createQueue(q);
    const m = message(q);
    const accepted = await s.accept(m, { checkedSk: null });
    // A crash: the database goes without the store's close.
    open.splice(open.indexOf(s), 1);
    s.database.close();
    expect(await settledYet(accepted.settled)).toBe(false);
    const again = store();
    expect(await again.messagesAfter(q.rid, 0, 10, 0)).toEqual([]);
    expect(onDisk(dir, m.body)).toBe(false);
  });
});

describe('held messages through the relay', () => {
  it("a send's ok follows the recipient's ack, and the message never reaches the disk", async () => {
    const dataDir = relays.dir();
    const relay = await relays.start({ dataDir, limits: { ackWaitMs: 60_000 } });
    const alice = await TestClient.connect(relay.address);
    const bob = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(alice);
    await q.sub(alice);

    const body = utf8('held for its ack');
    const frame = sendFrame(bob, q.sid, body);
    const reply = bob.replyTo(frame.id);
    bob.sendFrame(frame);
    const [msg] = await alice.messages(q.rid, 1);
    await bob.ping();
    expect(bob.pendingFrames()).toEqual([]);
    expect(await q.ack(alice, msg!.mid)).toMatchObject({ t: 'ok' });
    expect(await reply).toMatchObject({ t: 'ok', id: frame.id });
    expect(relay.stats().messages).toBe(0);
    expect(onDisk(dataDir, msg!.body)).toBe(false);
    await relay.close();
    expect(onDisk(dataDir, msg!.body)).toBe(false);
  });

  it('with nobody subscribed, the message is written at once, the ok follows, and it survives a restart', async () => {
    const dataDir = relays.dir();
    // A minute of wait for online recipients: an offline one's message does not wait at all.
    const relay = await relays.start({ dataDir, limits: { ackWaitMs: 60_000 } });
    const alice = await TestClient.connect(relay.address);
    const bob = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(alice);
    expect(await bob.request(sendFrame(bob, q.sid, utf8('for later')))).toMatchObject({ t: 'ok' });
    await alice.close();
    await bob.close();
    await relay.close();

    const again = await relays.start({ dataDir });
    const client = await TestClient.connect(again.address);
    expect(await q.sub(client)).toMatchObject({ t: 'ok', pending: 1 });
    await client.messages(q.rid, 1);
    await client.close();
  });
});
