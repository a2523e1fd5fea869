// The fan-out store on its own: the set-based fan-out, quotas, shared bodies and their
// references, purging unused lists and expired copies, usage counted once per commit, and
// opening queue databases of schema versions 1, 2 and 3.
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { NotFoundError, QuotaError, toHex } from '@parus/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteFanoutStore } from '../src/stores/sqlite/sqlite-fanout-store.ts';
import type { SharedMessage } from '../src/stores/sqlite/sqlite-fanout-store.ts';
import { SqliteQueueStore } from '../src/stores/sqlite/sqlite-queue-store.ts';
import type { QueueRecord } from '../src/queue-store.ts';

let dir: string;
const open: SqliteQueueStore[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'parus-fanout-store-test-'));
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

/** Seals by prefixing a marker, so that a test sees which body and key went out. */
function stores(maxQueueMessages = 100): { queues: SqliteQueueStore; lists: SqliteFanoutStore } {
  const queues = new SqliteQueueStore({
    path: join(dir, 'q.sqlite'),
    maxQueueMessages,
    maxQueueBytes: 1 << 20,
    sealShared: (key, _mid, plaintext) => new Uint8Array([...key.subarray(0, 2), ...plaintext]),
  });
  open.push(queues);
  const lists = new SqliteFanoutStore(queues, {
    maxLists: 2,
    maxEntries: 50,
    maxQueueMessages,
    maxQueueBytes: 1 << 20,
  });
  return { queues, lists };
}

function queue(): QueueRecord {
  return { rid: bytes(24), sid: bytes(24), rk: bytes(32), sk: bytes(32), queueKey: bytes(32), created: 1 };
}

function shared(plaintext: Uint8Array, ts = 1000): SharedMessage {
  return { ts, expires: ts + 1000, plaintext, newMids: (n) => bytes(16 * n) };
}

describe('SqliteFanoutStore', () => {
  it('stores one body and a message per queue, sealed per queue when read back', async () => {
    const { queues, lists } = stores();
    const qs = [queue(), queue(), queue()];
    for (const q of qs) await queues.createQueue(q);
    const lid = bytes(24);
    await lists.createList(lid, bytes(32), 1);
    expect(
      await lists.addEntries(
        lid,
        qs.map((q) => q.sid),
        1,
      ),
    ).toBe(3);
    const body = bytes(40);
    const result = await lists.fanout(lid, shared(body));
    expect(result.stored.map((s) => toHex(s.rid)).sort()).toEqual(qs.map((q) => toHex(q.rid)).sort());
    expect(new Set(result.stored.map((s) => toHex(s.mid))).size).toBe(3);
    expect(queues.counts().messages).toBe(3);
    for (const q of qs) {
      const [m] = await queues.messagesAfter(q.rid, 0, 10, 1000);
      expect(m!.body).toEqual(new Uint8Array([...q.queueKey.subarray(0, 2), ...body]));
    }
    // Acks delete the copies; the last one takes the body with it.
    for (const s of result.stored) await queues.deleteMessage(s.rid, s.mid);
    const db = queues.database;
    expect(db.prepare('SELECT COUNT(*) AS n FROM bodies').get()).toEqual({ n: 0 });
    expect(db.prepare('SELECT SUM(msg_count) AS c, SUM(msg_bytes) AS b FROM queues').get()).toEqual({
      c: 0,
      b: 0,
    });
  });

  it('skips full and deleted queues, purging expired messages of a full one first', async () => {
    const { queues, lists } = stores(1);
    const [full, expiring, gone, fine] = [queue(), queue(), queue(), queue()];
    for (const q of [full, expiring, gone, fine]) await queues.createQueue(q!);
    const lid = bytes(24);
    await lists.createList(lid, bytes(32), 1);
    await lists.addEntries(
      lid,
      [full!, expiring!, gone!, fine!].map((q) => q.sid),
      1,
    );
    await queues.append(
      { rid: full!.rid, mid: bytes(16), ts: 5000, body: bytes(4), expires: 9000 },
      { checkedSk: full!.sk },
    );
    await queues.append(
      { rid: expiring!.rid, mid: bytes(16), ts: 1, body: bytes(4), expires: 2 },
      { checkedSk: expiring!.sk },
    );
    await queues.deleteQueue(gone!.rid);
    const result = await lists.fanout(lid, shared(bytes(8), 5000));
    expect(result.stored.map((s) => toHex(s.rid)).sort()).toEqual(
      [expiring!, fine!].map((q) => toHex(q.rid)).sort(),
    );
    expect(result.full.map(toHex)).toEqual([toHex(full!.sid)]);
    expect(result.gone.map(toHex)).toEqual([toHex(gone!.sid)]);
  });

  it('bounds entries and lists, and refuses what changes a missing list', async () => {
    const { queues, lists } = stores();
    const qs = Array.from({ length: 51 }, queue);
    for (const q of qs) await queues.createQueue(q);
    const lid = bytes(24);
    await lists.createList(lid, bytes(32), 1);
    await expect(
      lists.addEntries(
        lid,
        qs.map((q) => q.sid),
        1,
      ),
    ).rejects.toThrow(QuotaError);
    expect((await lists.list(lid))?.entries).toBe(0);
    await lists.createList(bytes(24), bytes(32), 1);
    await expect(lists.createList(bytes(24), bytes(32), 1)).rejects.toThrow(QuotaError);
    const missing = bytes(24);
    await expect(lists.addEntries(missing, [qs[0]!.sid], 1)).rejects.toThrow(NotFoundError);
    await expect(lists.removeEntries(missing, [qs[0]!.sid], 1)).rejects.toThrow(NotFoundError);
    await expect(lists.dropList(missing)).rejects.toThrow(NotFoundError);
    await expect(lists.fanout(missing, shared(bytes(3)))).rejects.toThrow(NotFoundError);
  });

  it('purges lists unused since a time, with their entries', async () => {
    const { queues, lists } = stores();
    const q = queue();
    await queues.createQueue(q);
    const old = bytes(24);
    const recent = bytes(24);
    await lists.createList(old, bytes(32), 100);
    await lists.createList(recent, bytes(32), 100);
    await lists.addEntries(old, [q.sid], 100);
    await lists.fanout(recent, shared(bytes(3), 500));
    expect(await lists.purgeUnused(200)).toBe(1);
    expect(await lists.list(old)).toBeUndefined();
    expect(await lists.list(recent)).toBeDefined();
    expect(lists.size).toBe(1);
    expect(queues.database.prepare('SELECT COUNT(*) AS n FROM fanout_entries').get()).toEqual({ n: 0 });
  });
});

describe('queue database schema', () => {
  it('opens a version 1 database, keeps its messages, and fans out into it', async () => {
    const path = join(dir, 'q.sqlite');
    const q = queue();
    const old = new Database(path);
    old.exec(`
      CREATE TABLE queues (rid BLOB PRIMARY KEY NOT NULL, sid BLOB NOT NULL UNIQUE, rk BLOB NOT NULL, sk BLOB,
        qkey BLOB NOT NULL, created INTEGER NOT NULL, msg_count INTEGER NOT NULL DEFAULT 0,
        msg_bytes INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
      CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT,
        rid BLOB NOT NULL REFERENCES queues(rid) ON DELETE CASCADE, mid BLOB NOT NULL UNIQUE,
        ts INTEGER NOT NULL, expires INTEGER NOT NULL, body BLOB NOT NULL);
      CREATE INDEX messages_by_queue ON messages(rid, seq);
      CREATE INDEX messages_by_expiry ON messages(expires);
      PRAGMA user_version = 1;
    `);
    old
      .prepare(
        'INSERT INTO queues (rid, sid, rk, sk, qkey, created, msg_count, msg_bytes) VALUES (?, ?, ?, ?, ?, 1, 1, 3)',
      )
      .run(q.rid, q.sid, q.rk, q.sk, q.queueKey);
    old
      .prepare("INSERT INTO messages (rid, mid, ts, expires, body) VALUES (?, ?, 1, 99999, x'010203')")
      .run(q.rid, bytes(16));
    old.close();

    const { queues, lists } = stores();
    expect(queues.database.pragma('user_version', { simple: true })).toBe(4);
    const [m] = await queues.messagesAfter(q.rid, 0, 10, 10);
    expect(m!.body).toEqual(new Uint8Array([1, 2, 3]));
    const lid = bytes(24);
    await lists.createList(lid, bytes(32), 1);
    await lists.addEntries(lid, [q.sid], 1);
    expect((await lists.fanout(lid, shared(bytes(5)))).stored).toHaveLength(1);
    expect(await queues.messagesAfter(q.rid, 0, 10, 10)).toHaveLength(2);
  });

  it('migrates a version 2 database in place: its queues, messages and fan-out copies stay', async () => {
    const path = join(dir, 'q.sqlite');
    const q = queue();
    const other = queue();
    const old = new Database(path);
    old.exec(`
      CREATE TABLE queues (rid BLOB PRIMARY KEY NOT NULL, sid BLOB NOT NULL UNIQUE, rk BLOB NOT NULL, sk BLOB,
        qkey BLOB NOT NULL, created INTEGER NOT NULL, msg_count INTEGER NOT NULL DEFAULT 0,
        msg_bytes INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
      CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT,
        rid BLOB NOT NULL REFERENCES queues(rid) ON DELETE CASCADE, mid BLOB NOT NULL UNIQUE,
        ts INTEGER NOT NULL, expires INTEGER NOT NULL, body BLOB NOT NULL, bid INTEGER);
      CREATE INDEX messages_by_queue ON messages(rid, seq);
      CREATE INDEX messages_by_expiry ON messages(expires);
      CREATE TABLE bodies (bid INTEGER PRIMARY KEY, refs INTEGER NOT NULL, expires INTEGER NOT NULL, body BLOB NOT NULL);
      CREATE INDEX bodies_by_expiry ON bodies(expires);
      PRAGMA user_version = 2;
    `);
    const insertQueue = old.prepare(
      'INSERT INTO queues (rid, sid, rk, sk, qkey, created, msg_count, msg_bytes) VALUES (?, ?, ?, ?, ?, 1, ?, ?)',
    );
    insertQueue.run(q.rid, q.sid, q.rk, q.sk, q.queueKey, 2, 3 + 2);
    insertQueue.run(other.rid, other.sid, other.rk, other.sk, other.queueKey, 1, 2);
    old.prepare("INSERT INTO bodies (bid, refs, expires, body) VALUES (7, 2, 99999, x'0a0b')").run();
    const insertMessage = old.prepare(
      'INSERT INTO messages (rid, mid, ts, expires, body, bid) VALUES (?, ?, 5, 99999, ?, ?)',
    );
    const oneToOne = bytes(16);
    const copyMid = bytes(16);
    insertMessage.run(q.rid, oneToOne, new Uint8Array([1, 2, 3]), null);
    insertMessage.run(q.rid, copyMid, new Uint8Array(0), 7);
    insertMessage.run(other.rid, bytes(16), new Uint8Array(0), 7);
    old.close();

    const { queues, lists } = stores();
    const db = queues.database;
    expect(db.pragma('user_version', { simple: true })).toBe(4);
    expect(db.prepare('SELECT COUNT(*) AS n FROM copies').get()).toEqual({ n: 2 });
    expect(queues.counts()).toEqual({ queues: 2, messages: 3 });
    const before = await queues.messagesAfter(q.rid, 0, 10, 10);
    expect(before.map((m) => m.body)).toEqual([
      new Uint8Array([1, 2, 3]),
      new Uint8Array([...q.queueKey.subarray(0, 2), 0x0a, 0x0b]),
    ]);
    expect(before[1]!.ts).toBe(5);
    // A copy stored before the upgrade is acked without a seq hint (found by its id).
    await queues.deleteMessage(q.rid, copyMid);
    await queues.deleteMessage(q.rid, oneToOne);
    expect(db.prepare('SELECT msg_count AS c, msg_bytes AS b FROM queues WHERE rid = ?').get(q.rid)).toEqual({
      c: 0,
      b: 0,
    });
    const lid = bytes(24);
    await lists.createList(lid, bytes(32), 1);
    await lists.addEntries(lid, [q.sid, other.sid], 1);
    const sent = await lists.fanout(lid, shared(bytes(5)));
    expect(sent.stored).toHaveLength(2);
    // New seqs come after every seq the old database gave.
    expect(Math.min(...sent.stored.map((c) => c.seq))).toBeGreaterThan(before[1]!.seq);
    expect(await queues.messagesAfter(other.rid, 0, 10, 10)).toHaveLength(2);
  });

  it('migrates a version 3 database in place: copies keyed by seq, usage of 1:1 messages in queue rows', async () => {
    const path = join(dir, 'q.sqlite');
    const q = queue();
    const other = queue();
    const old = new Database(path);
    old.exec(`
      CREATE TABLE queues (rid BLOB PRIMARY KEY NOT NULL, sid BLOB NOT NULL UNIQUE, rk BLOB NOT NULL, sk BLOB,
        qkey BLOB NOT NULL, created INTEGER NOT NULL, msg_count INTEGER NOT NULL DEFAULT 0,
        msg_bytes INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
      CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT,
        rid BLOB NOT NULL REFERENCES queues(rid) ON DELETE CASCADE, mid BLOB NOT NULL UNIQUE,
        ts INTEGER NOT NULL, expires INTEGER NOT NULL, body BLOB NOT NULL);
      CREATE INDEX messages_by_queue ON messages(rid, seq);
      CREATE INDEX messages_by_expiry ON messages(expires);
      CREATE TABLE bodies (bid INTEGER PRIMARY KEY, refs INTEGER NOT NULL, expires INTEGER NOT NULL,
        body BLOB NOT NULL, ts INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX bodies_by_expiry ON bodies(expires);
      CREATE TABLE copies (rid BLOB NOT NULL, seq INTEGER NOT NULL, mid BLOB NOT NULL, bid INTEGER NOT NULL,
        PRIMARY KEY (rid, seq)) WITHOUT ROWID;
      CREATE INDEX copies_by_body ON copies(bid);
      PRAGMA user_version = 3;
    `);
    const insertQueue = old.prepare(
      'INSERT INTO queues (rid, sid, rk, sk, qkey, created, msg_count, msg_bytes) VALUES (?, ?, ?, ?, ?, 1, ?, ?)',
    );
    // Version 3 counted copies in the queue rows: q holds a 1:1 message of 3 bytes and two copies of 2.
    insertQueue.run(q.rid, q.sid, q.rk, q.sk, q.queueKey, 3, 3 + 2 + 2);
    insertQueue.run(other.rid, other.sid, other.rk, other.sk, other.queueKey, 1, 2);
    const oneToOne = bytes(16);
    old
      .prepare(
        "INSERT INTO messages (seq, rid, mid, ts, expires, body) VALUES (3, ?, ?, 5, 99999, x'010203')",
      )
      .run(q.rid, oneToOne);
    old.prepare("INSERT INTO bodies (bid, refs, expires, body, ts) VALUES (7, 2, 99999, x'0a0b', 6)").run();
    old.prepare("INSERT INTO bodies (bid, refs, expires, body, ts) VALUES (8, 2, 99999, x'0c0d', 7)").run();
    const insertCopy = old.prepare('INSERT INTO copies (rid, seq, mid, bid) VALUES (?, ?, ?, ?)');
    const mids = [bytes(16), bytes(16), bytes(16)];
    insertCopy.run(q.rid, 1, mids[0], 7);
    insertCopy.run(other.rid, 2, mids[1], 7);
    insertCopy.run(q.rid, 4, mids[2], 8);
    old.exec("UPDATE sqlite_sequence SET seq = 5 WHERE name = 'messages'");
    old.close();

    const { queues, lists } = stores();
    const db = queues.database;
    expect(db.pragma('user_version', { simple: true })).toBe(4);
    expect(db.prepare('SELECT seq, bid FROM copies ORDER BY seq').all()).toEqual([
      { seq: 1, bid: 7 },
      { seq: 2, bid: 7 },
      { seq: 4, bid: 8 },
    ]);
    expect(db.prepare('SELECT bid, first, last FROM bodies ORDER BY bid').all()).toEqual([
      { bid: 7, first: 1, last: 2 },
      { bid: 8, first: 4, last: 4 },
    ]);
    expect(db.prepare('SELECT msg_count AS c, msg_bytes AS b FROM queues WHERE rid = ?').get(q.rid)).toEqual({
      c: 1,
      b: 3,
    });
    expect(queues.counts()).toEqual({ queues: 2, messages: 4 });
    expect(queues.heldBy(toHex(q.rid), q.rid)).toEqual({ n: 3, b: 3 + 2 + 2 });
    const held = await queues.messagesAfter(q.rid, 0, 10, 10);
    expect(held.map((m) => m.seq)).toEqual([1, 3, 4]);
    expect(held[0]!.body).toEqual(new Uint8Array([...q.queueKey.subarray(0, 2), 0x0a, 0x0b]));
    // Copies stored before the upgrade are acked without a seq hint (found by their id).
    await queues.deleteMessage(q.rid, mids[2]!);
    await queues.deleteMessage(q.rid, mids[0]!);
    await queues.deleteMessage(q.rid, oneToOne);
    expect(queues.heldBy(toHex(q.rid), q.rid)).toEqual({ n: 0, b: 0 });
    // Purging after the expiry takes the other queue's copy with its body.
    expect(await queues.purgeExpired(100_000)).toBe(1);
    expect(db.prepare('SELECT COUNT(*) AS n FROM copies').get()).toEqual({ n: 0 });
    const lid = bytes(24);
    await lists.createList(lid, bytes(32), 1);
    await lists.addEntries(lid, [q.sid], 1);
    const sent = await lists.fanout(lid, shared(bytes(5)));
    expect(sent.stored[0]!.seq).toBeGreaterThan(5);
  });
});

describe('fan-out copies', () => {
  it('counts usage per commit, undoes a failed write, and purges expired copies with their body', async () => {
    const { queues, lists } = stores();
    const qs = [queue(), queue()];
    for (const q of qs) await queues.createQueue(q);
    const lid = bytes(24);
    await lists.createList(lid, bytes(32), 1);
    await lists.addEntries(
      lid,
      qs.map((q) => q.sid),
      1,
    );
    // Several fan-outs and a failing write in one commit.
    const writes = [
      lists.fanout(lid, shared(bytes(10), 1000)),
      lists.fanout(lid, shared(bytes(20), 1000)),
      lists.fanout(lid, { ...shared(bytes(30), 1000), newMids: () => bytes(3) }),
      lists.fanout(lid, shared(bytes(40), 5000)),
    ];
    const settled = await Promise.allSettled(writes);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const db = queues.database;
    // Copies are counted in memory (copy-index.ts), not in the queue rows.
    const usage = (): unknown => qs.map((q) => queues.heldBy(toHex(q.rid), q.rid));
    expect(db.prepare('SELECT SUM(msg_count) AS c FROM queues').get()).toEqual({ c: 0 });
    expect(usage()).toEqual([
      { n: 3, b: 70 },
      { n: 3, b: 70 },
    ]);
    expect(queues.counts().messages).toBe(6);
    // Bodies of the first two expire at 2000: the purge takes their copies, not the last one's.
    expect(await queues.purgeExpired(2500)).toBe(4);
    expect(usage()).toEqual([
      { n: 1, b: 40 },
      { n: 1, b: 40 },
    ]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM bodies').get()).toEqual({ n: 1 });
    expect(queues.counts().messages).toBe(2);
    const [left] = await queues.messagesAfter(qs[0]!.rid, 0, 10, 2500);
    expect(left!.body.length).toBe(2 + 40);
  });

  it('acks of one copy in one commit: a wrong id or seq changes nothing, the others go through', async () => {
    const { queues, lists } = stores();
    const qs = [queue(), queue(), queue()];
    for (const q of qs) await queues.createQueue(q);
    const lid = bytes(24);
    await lists.createList(lid, bytes(32), 1);
    await lists.addEntries(
      lid,
      qs.map((q) => q.sid),
      1,
    );
    const { stored } = await lists.fanout(lid, shared(bytes(10)));
    const [a, b, c] = stored;
    // All in one group commit, each ack a batch of one (no savepoint of its own).
    const settled = await Promise.allSettled([
      queues.deleteMessage(a!.rid, bytes(16), a!.seq), // right seq, another id
      queues.deleteMessage(b!.rid, b!.mid, b!.seq),
      queues.deleteMessage(c!.rid, c!.mid, a!.seq), // its id, another queue's seq
      queues.deleteMessage(a!.rid, b!.mid, b!.seq), // another queue's copy
    ]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'fulfilled', 'fulfilled', 'rejected']);
    expect((settled[0] as PromiseRejectedResult).reason).toBeInstanceOf(NotFoundError);
    expect((settled[3] as PromiseRejectedResult).reason).toBeInstanceOf(NotFoundError);
    // a's copy stays; b's is gone; c's was found by its id among its queue's copies.
    expect((await queues.messagesAfter(a!.rid, 0, 10, 1000)).map((m) => m.seq)).toEqual([a!.seq]);
    expect(await queues.messagesAfter(b!.rid, 0, 10, 1000)).toEqual([]);
    expect(await queues.messagesAfter(c!.rid, 0, 10, 1000)).toEqual([]);
    expect(queues.counts().messages).toBe(1);
    expect(queues.heldBy(toHex(a!.rid), a!.rid)).toEqual({ n: 1, b: 10 });
    // The body's last reference goes with a's ack.
    await queues.deleteMessage(a!.rid, a!.mid, a!.seq);
    expect(queues.database.prepare('SELECT COUNT(*) AS n FROM bodies').get()).toEqual({ n: 0 });
  });

  it('keeps seqs growing across a restart after every copy was acked', async () => {
    let { queues, lists } = stores();
    const q = queue();
    await queues.createQueue(q);
    const lid = bytes(24);
    await lists.createList(lid, bytes(32), 1);
    await lists.addEntries(lid, [q.sid], 1);
    const first = await lists.fanout(lid, shared(bytes(4)));
    const copy = first.stored[0]!;
    await queues.deleteMessage(copy.rid, copy.mid, copy.seq);
    await queues.close();
    open.splice(0);
    ({ queues, lists } = stores());
    const again = await lists.fanout(lid, shared(bytes(4)));
    expect(again.stored[0]!.seq).toBeGreaterThan(copy.seq);
    await queues.append(
      { rid: q.rid, mid: bytes(16), ts: 1000, body: bytes(4), expires: 9000 },
      { checkedSk: q.sk },
    );
    const all = await queues.messagesAfter(q.rid, 0, 10, 1000);
    expect(all.map((m) => m.seq)).toEqual([...all.map((m) => m.seq)].sort((a, b) => a - b));
    expect(all).toHaveLength(2);
  });

  it('reads past expired copies to fill a read, so a subscription never stops short', async () => {
    const { queues, lists } = stores();
    const q = queue();
    await queues.createQueue(q);
    const lid = bytes(24);
    await lists.createList(lid, bytes(32), 1);
    await lists.addEntries(lid, [q.sid], 1);
    // The middle copy expires first (its upload was stamped earlier).
    const a = await lists.fanout(lid, shared(bytes(1), 1000));
    await lists.fanout(lid, shared(bytes(2), 500));
    const c = await lists.fanout(lid, shared(bytes(3), 1000));
    const read = await queues.messagesAfter(q.rid, 0, 2, 1700);
    expect(read.map((m) => m.seq)).toEqual([a.stored[0]!.seq, c.stored[0]!.seq]);
    expect(await queues.pendingCount(q.rid, 1700)).toBe(2);
  });

  it("rebuilds each queue's copies and usage when the database is opened again", async () => {
    let { queues, lists } = stores();
    const qs = [queue(), queue()];
    for (const q of qs) await queues.createQueue(q);
    const lid = bytes(24);
    await lists.createList(lid, bytes(32), 1);
    await lists.addEntries(
      lid,
      qs.map((q) => q.sid),
      1,
    );
    const a = await lists.fanout(lid, shared(bytes(10)));
    await lists.fanout(lid, shared(bytes(20)));
    await queues.append(
      { rid: qs[0]!.rid, mid: bytes(16), ts: 1000, body: bytes(7), expires: 9000 },
      { checkedSk: qs[0]!.sk },
    );
    const acked = a.stored.find((c) => toHex(c.rid) === toHex(qs[1]!.rid))!;
    await queues.deleteMessage(acked.rid, acked.mid, acked.seq);
    const before = await queues.messagesAfter(qs[0]!.rid, 0, 10, 1000);
    await queues.close();
    open.splice(0);
    ({ queues, lists } = stores());
    expect(queues.counts()).toEqual({ queues: 2, messages: 4 });
    expect(queues.heldBy(toHex(qs[0]!.rid), qs[0]!.rid)).toEqual({ n: 3, b: 10 + 20 + 7 });
    expect(queues.heldBy(toHex(qs[1]!.rid), qs[1]!.rid)).toEqual({ n: 1, b: 20 });
    const after = await queues.messagesAfter(qs[0]!.rid, 0, 10, 1000);
    expect(after.map((m) => [m.seq, toHex(m.mid)])).toEqual(before.map((m) => [m.seq, toHex(m.mid)]));
    expect(await queues.pendingCount(qs[0]!.rid, 1000)).toBe(3);
    // A limit smaller than the backlog reads in seq order from a cursor.
    const [one] = await queues.messagesAfter(qs[0]!.rid, 0, 1, 1000);
    const rest = await queues.messagesAfter(qs[0]!.rid, one!.seq, 10, 1000);
    expect([one!, ...rest].map((m) => m.seq)).toEqual(after.map((m) => m.seq));
    // Deleting a queue takes its copies with it, in memory and on disk.
    await queues.deleteQueue(qs[0]!.rid);
    expect(queues.counts().messages).toBe(1);
    expect(queues.database.prepare('SELECT COUNT(*) AS n FROM copies').get()).toEqual({ n: 1 });
  });
});
