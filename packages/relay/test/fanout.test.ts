// Relay fan-out over real WebSockets: lists, entry proofs, delivery to every queue exactly
// once (also after a restart), removal, full and deleted queues, and bad frames.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  FANOUT_ENTRY_BYTES,
  MAX_FANOUT_BATCH,
  concatBytes,
  encodeCbor,
  fanoutEntryProof,
  deriveCommandAuthKey,
  generateDhKeyPair,
  initCrypto,
  openDelivery,
  packAckIds,
  packFanoutEntries,
  systemRandom,
  toHex,
  utf8,
} from '@parus/core';
import type { DhKeyPair, FanoutSentFrame, MsgFrame, RelayFrame } from '@parus/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_DATABASE_FILE } from '../src/index.ts';
import type { Relay, RelayOptions } from '../src/index.ts';
import { tempRelays } from './temp-relay.ts';
import { Recipient, TestClient, send } from './test-client.ts';

const relays = tempRelays();
beforeAll(() => initCrypto());
afterEach(() => relays.cleanup());

/** A member's queue: created and secured with a sender key of its own. */
interface Member {
  q: Recipient;
  sk: DhKeyPair;
}

async function members(client: TestClient, n: number): Promise<Member[]> {
  const out: Member[] = [];
  for (let i = 0; i < n; i++) {
    const m = { q: new Recipient(), sk: generateDhKeyPair(systemRandom) };
    await m.q.create(client, m.sk);
    out.push(m);
  }
  return out;
}

/** The group sender's side: the list key, the list id, and the commands on it. */
class Sender {
  readonly fk = generateDhKeyPair(systemRandom);
  lid: Uint8Array = new Uint8Array(0);

  constructor(readonly client: TestClient) {}

  async create(): Promise<RelayFrame> {
    const reply = await this.client.request(
      this.client.authed({ t: 'fnew', fk: this.fk.publicKey }, this.fk),
    );
    if (reply.t === 'flist') this.lid = reply.lid;
    return reply;
  }

  /** Packed entries proven under each member's own sender key (or under `wrongKey`). */
  entries(list: Member[], wrongKey?: DhKeyPair): Uint8Array {
    const { session, relayDh } = this.client;
    return packFanoutEntries(
      list.map((m) => {
        const sk = wrongKey ?? m.sk;
        const k = deriveCommandAuthKey(sk.secretKey, relayDh, session, sk.publicKey);
        return { sid: m.q.sid, proof: fanoutEntryProof(k, session, this.lid, m.q.sid) };
      }),
    );
  }

  async add(list: Member[]): Promise<void> {
    for (let at = 0; at < list.length; at += MAX_FANOUT_BATCH) {
      const reply = await this.addRaw(this.entries(list.slice(at, at + MAX_FANOUT_BATCH)));
      expect(reply).toMatchObject({ t: 'ok' });
    }
  }

  addRaw(ents: Uint8Array): Promise<RelayFrame> {
    return this.client.request(this.client.authed({ t: 'fadd', lid: this.lid, ents }, this.fk));
  }

  remove(list: Member[]): Promise<RelayFrame> {
    const sids = concatBytes(...list.map((m) => m.q.sid));
    return this.client.request(this.client.authed({ t: 'frem', lid: this.lid, sids }, this.fk));
  }

  async send(body: Uint8Array): Promise<FanoutSentFrame> {
    const reply = await this.client.request(this.client.authed({ t: 'fsend', lid: this.lid, body }, this.fk));
    if (reply.t !== 'fsent') throw new Error(`fsend failed: ${JSON.stringify(reply)}`);
    return reply;
  }
}

/** Subscribes to every member's queue and collects the opened bodies per queue. */
async function receiveAll(client: TestClient, list: Member[], perQueue: number): Promise<string[][]> {
  const out: string[][] = [];
  for (const m of list) {
    expect(await m.q.sub(client)).toMatchObject({ t: 'ok' });
  }
  for (const m of list) {
    const msgs = await client.messages(m.q.rid, perQueue);
    const texts: string[] = [];
    for (const msg of msgs) {
      texts.push(new TextDecoder().decode(openDelivery(m.q.key, msg.mid, msg.body).body));
      expect(await m.q.ack(client, msg.mid)).toMatchObject({ t: 'ok' });
    }
    out.push(texts);
  }
  return out;
}

async function scene(
  n: number,
  opts: Partial<RelayOptions> = {},
): Promise<{ relay: Relay; client: TestClient; sender: Sender; list: Member[] }> {
  const relay = await relays.start(opts);
  const client = await TestClient.connect(relay.address);
  const list = await members(client, n);
  const sender = new Sender(client);
  expect(await sender.create()).toMatchObject({ t: 'flist' });
  await sender.add(list);
  return { relay, client, sender, list };
}

function storedSids(frame: Uint8Array): string[] {
  const out: string[] = [];
  for (let at = 0; at < frame.length; at += 24) out.push(toHex(frame.subarray(at, at + 24)));
  return out;
}

describe('fan-out', () => {
  it('takes a batched ack of copies, live and after a restart, and their bodies go with the last one', async () => {
    const dataDir = relays.dir();
    const s = await scene(3, { dataDir });
    for (const text of ['a', 'b']) await s.sender.send(utf8(text));
    await s.client.close();
    await s.relay.close();
    // Copies stored before the restart are acked without the relay knowing their seqs.
    let relay = await relays.start({ dataDir });
    let reader = await TestClient.connect(relay.address);
    for (const m of s.list) await m.q.sub(reader);
    for (const m of s.list) {
      const msgs = await reader.messages(m.q.rid, 2);
      const mids = packAckIds(msgs.map((x) => x.mid));
      expect(await reader.request(reader.authed({ t: 'ack', rid: m.q.rid, mids }, m.q.rk))).toMatchObject({
        t: 'ok',
      });
    }
    expect(relay.stats().messages).toBe(0);
    // Live copies of this run, acked in one frame per queue.
    const sender = new Sender(reader);
    sender.lid = s.sender.lid;
    Object.assign(sender, { fk: s.sender.fk });
    for (const text of ['c', 'd', 'e']) await sender.send(utf8(text));
    for (const m of s.list) {
      const msgs = await reader.messages(m.q.rid, 3);
      expect(msgs.map((x) => new TextDecoder().decode(openDelivery(m.q.key, x.mid, x.body).body))).toEqual([
        'c',
        'd',
        'e',
      ]);
      const mids = packAckIds(msgs.map((x) => x.mid));
      expect(await reader.request(reader.authed({ t: 'ack', rid: m.q.rid, mids }, m.q.rk))).toMatchObject({
        t: 'ok',
      });
    }
    expect(relay.stats().messages).toBe(0);
    await reader.close();
    await relay.close();
    const db = new Database(join(dataDir, QUEUE_DATABASE_FILE), { readonly: true });
    try {
      expect(db.prepare('SELECT COUNT(*) AS n FROM bodies').get()).toEqual({ n: 0 });
      expect(db.prepare('SELECT COUNT(*) AS n FROM copies').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
    relay = await relays.start({ dataDir });
    reader = await TestClient.connect(relay.address);
    expect(await s.list[0]!.q.sub(reader)).toMatchObject({ t: 'ok', pending: 0 });
  });

  it('puts one upload into each of 50 queues, each received exactly once after a restart', async () => {
    const dataDir = relays.dir();
    const s = await scene(50, { dataDir });
    for (const text of ['one', 'two', 'three']) {
      expect(await s.sender.send(utf8(text))).toMatchObject({ n: 50, full: new Uint8Array(0) });
    }
    expect(s.relay.stats().messages).toBe(150);
    await s.client.close();
    await s.relay.close();

    const relay = await relays.start({ dataDir });
    const reader = await TestClient.connect(relay.address);
    const received = await receiveAll(reader, s.list, 3);
    expect(received).toEqual(s.list.map(() => ['one', 'two', 'three']));
    // Nothing else came, and nothing is left.
    await reader.ping();
    expect(reader.pendingFrames().filter((f) => f.t === 'msg')).toEqual([]);
    expect(relay.stats().messages).toBe(0);
    // The shared bodies went with the last acks.
    await reader.close();
    await relay.close();
    const db = new Database(join(dataDir, QUEUE_DATABASE_FILE), { readonly: true });
    try {
      expect(db.prepare('SELECT COUNT(*) AS n FROM bodies').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });

  it('delivers live to subscribed queues, each copy sealed differently', async () => {
    const s = await scene(5);
    for (const m of s.list) await m.q.sub(s.client);
    await s.sender.send(utf8('live'));
    const copies: MsgFrame[] = [];
    for (const m of s.list) {
      const [msg] = await s.client.messages(m.q.rid, 1);
      expect(new TextDecoder().decode(openDelivery(m.q.key, msg!.mid, msg!.body).body)).toBe('live');
      copies.push(msg!);
    }
    expect(new Set(copies.map((c) => toHex(c.body))).size).toBe(5);
    expect(new Set(copies.map((c) => toHex(c.mid))).size).toBe(5);
  });

  it('interleaves copies with 1:1 messages in order, and acks delete them whether pushed live or read back', async () => {
    const dataDir = relays.dir();
    const s = await scene(2, { dataDir });
    const [live, later] = s.list;
    expect(await live!.q.sub(s.client)).toMatchObject({ t: 'ok' });
    await s.sender.send(utf8('g1'));
    expect(await send(s.client, live!.q.sid, utf8('direct'), live!.sk)).toMatchObject({ t: 'ok' });
    expect(await send(s.client, later!.q.sid, utf8('direct'), later!.sk)).toMatchObject({ t: 'ok' });
    await s.sender.send(utf8('g2'));
    const msgs = await s.client.messages(live!.q.rid, 3);
    const texts = msgs.map((m) => new TextDecoder().decode(openDelivery(live!.q.key, m.mid, m.body).body));
    expect(texts).toEqual(['g1', 'direct', 'g2']);
    // An ack of an id the queue does not hold is refused and deletes nothing.
    expect(await live!.q.ack(s.client, systemRandom.bytes(16))).toMatchObject({
      t: 'err',
      code: 'NOT_FOUND',
    });
    expect(s.relay.stats().messages).toBe(6);
    for (const m of msgs) expect(await live!.q.ack(s.client, m.mid)).toMatchObject({ t: 'ok' });
    expect(s.relay.stats().messages).toBe(3);
    // The other queue's copies are read back after a restart, in order, and acked by id.
    await s.client.close();
    await s.relay.close();
    const relay = await relays.start({ dataDir });
    const reader = await TestClient.connect(relay.address);
    expect(await receiveAll(reader, [later!], 3)).toEqual([['g1', 'direct', 'g2']]);
    expect(relay.stats().messages).toBe(0);
    await reader.close();
    await relay.close();
    const db = new Database(join(dataDir, QUEUE_DATABASE_FILE), { readonly: true });
    try {
      expect(db.prepare('SELECT COUNT(*) AS n FROM bodies').get()).toEqual({ n: 0 });
      expect(db.prepare('SELECT COUNT(*) AS n FROM copies').get()).toEqual({ n: 0 });
      expect(db.prepare('SELECT SUM(msg_count) AS c, SUM(msg_bytes) AS b FROM queues').get()).toEqual({
        c: 0,
        b: 0,
      });
    } finally {
      db.close();
    }
  });

  it('refuses an entry proven with the wrong key, and adds nothing of its batch', async () => {
    const s = await scene(0);
    const client2 = s.client;
    const list = await members(client2, 3);
    const stranger = generateDhKeyPair(systemRandom);
    const good = s.sender.entries(list.slice(0, 2));
    const bad = s.sender.entries(list.slice(2), stranger);
    expect(await s.sender.addRaw(concatBytes(good, bad))).toMatchObject({ t: 'err', code: 'AUTH' });
    expect(await s.sender.send(utf8('x'))).toMatchObject({ n: 0 });
    // A proof made on another connection does not hold on this one.
    const other = await TestClient.connect(s.relay.address);
    const elsewhere = new Sender(other);
    elsewhere.lid = s.sender.lid;
    expect(await s.sender.addRaw(elsewhere.entries(list.slice(0, 1)))).toMatchObject({ code: 'AUTH' });
    // An unknown sid is NOT_FOUND; an unsecured queue cannot be proven at all.
    const ghost = { q: new Recipient(), sk: generateDhKeyPair(systemRandom) };
    ghost.q.sid = systemRandom.bytes(24);
    expect(await s.sender.addRaw(s.sender.entries([ghost]))).toMatchObject({ code: 'NOT_FOUND' });
    const open = { q: new Recipient(), sk: generateDhKeyPair(systemRandom) };
    await open.q.create(client2);
    expect(await s.sender.addRaw(s.sender.entries([open]))).toMatchObject({ code: 'AUTH' });
    expect(await s.sender.send(utf8('y'))).toMatchObject({ n: 0 });
    await s.sender.add(list);
    expect(await s.sender.send(utf8('z'))).toMatchObject({ n: 3 });
  });

  it('stops delivering to a removed queue', async () => {
    const s = await scene(4);
    expect(await s.sender.remove(s.list.slice(1, 2))).toMatchObject({ t: 'ok' });
    expect(await s.sender.send(utf8('after removal'))).toMatchObject({ n: 3 });
    expect(await s.list[1]!.q.sub(s.client)).toMatchObject({ t: 'ok', pending: 0 });
    for (const i of [0, 2, 3]) expect(await s.list[i]!.q.sub(s.client)).toMatchObject({ pending: 1 });
    // Dropping the list: later sends find no list.
    const drop = s.client.authed({ t: 'fdrop', lid: s.sender.lid }, s.sender.fk);
    expect(await s.client.request(drop)).toMatchObject({ t: 'ok' });
    const again = s.client.authed({ t: 'fsend', lid: s.sender.lid, body: utf8('x') }, s.sender.fk);
    expect(await s.client.request(again)).toMatchObject({ t: 'err', code: 'NOT_FOUND' });
  });

  it('skips a full queue and a deleted one, reports them, and the others still get it', async () => {
    const s = await scene(4, { limits: { maxQueueMessages: 2 } });
    const [full, gone] = s.list;
    await send(s.client, full!.q.sid, utf8('1'), full!.sk);
    await send(s.client, full!.q.sid, utf8('2'), full!.sk);
    expect(await gone!.q.del(s.client)).toMatchObject({ t: 'ok' });
    const reply = await s.sender.send(utf8('group'));
    expect(reply.n).toBe(2);
    expect(storedSids(reply.full)).toEqual([toHex(full!.q.sid)]);
    expect(storedSids(reply.gone)).toEqual([toHex(gone!.q.sid)]);
    const received = await receiveAll(s.client, s.list.slice(2), 1);
    expect(received).toEqual([['group'], ['group']]);
    expect(await full!.q.sub(s.client)).toMatchObject({ pending: 2 });
  });

  it('enforces the entries per list and lists per connection', async () => {
    const s = await scene(3, { limits: { maxFanoutEntries: 3, maxFanoutListsPerConnection: 2 } });
    const more = await members(s.client, 2);
    expect(await s.sender.addRaw(s.sender.entries(more))).toMatchObject({ t: 'err', code: 'QUOTA' });
    expect(await s.sender.send(utf8('x'))).toMatchObject({ n: 3 });
    const second = new Sender(s.client);
    expect(await second.create()).toMatchObject({ t: 'flist' });
    const third = new Sender(s.client);
    expect(await third.create()).toMatchObject({ t: 'err', code: 'QUOTA' });
  });

  it('answers malformed, oversized, replayed and unauthenticated fan-out frames with errors and changes nothing', async () => {
    const s = await scene(3);
    const before = (): object => ({ messages: s.relay.stats().messages });
    expect(await s.sender.send(utf8('first'))).toMatchObject({ n: 3 });
    const state = before();
    const { client, sender } = s;

    const replayed = client.authed({ t: 'fsend', lid: sender.lid, body: utf8('again') }, sender.fk);
    expect(await client.request(replayed)).toMatchObject({ t: 'fsent' });
    expect(await client.request(replayed)).toMatchObject({ t: 'err', code: 'REPLAY' });
    expect(s.relay.stats().messages).toBe(6);

    const wrongKey = generateDhKeyPair(systemRandom);
    const forged = client.authed({ t: 'fsend', lid: sender.lid, body: utf8('forged') }, wrongKey);
    expect(await client.request(forged)).toMatchObject({ t: 'err', code: 'AUTH' });
    const tampered = { ...client.authed({ t: 'fsend', lid: sender.lid, body: utf8('a') }, sender.fk) };
    if (tampered.t === 'fsend') tampered.body = utf8('b');
    expect(await client.request(tampered)).toMatchObject({ t: 'err', code: 'AUTH' });
    const unknown = client.authed({ t: 'fsend', lid: systemRandom.bytes(24), body: utf8('x') }, sender.fk);
    expect(await client.request(unknown)).toMatchObject({ t: 'err', code: 'NOT_FOUND' });
    const removeForged = client.authed({ t: 'frem', lid: sender.lid, sids: s.list[0]!.q.sid }, wrongKey);
    expect(await client.request(removeForged)).toMatchObject({ t: 'err', code: 'AUTH' });
    const dropForged = client.authed({ t: 'fdrop', lid: sender.lid }, wrongKey);
    expect(await client.request(dropForged)).toMatchObject({ t: 'err', code: 'AUTH' });

    // Malformed and oversized: DECODE, with the request id when the frame has one.
    const raw = (frame: Record<string, unknown>): Promise<RelayFrame> => {
      const id = client.nextId();
      const reply = client.replyTo(id);
      client.sendRaw(encodeCbor({ ...frame, id } as never));
      return reply;
    };
    const auth = systemRandom.bytes(32);
    for (const frame of [
      { t: 'fadd', lid: sender.lid, ents: systemRandom.bytes(FANOUT_ENTRY_BYTES - 1), auth },
      {
        t: 'fadd',
        lid: sender.lid,
        ents: systemRandom.bytes((MAX_FANOUT_BATCH + 1) * FANOUT_ENTRY_BYTES),
        auth,
      },
      { t: 'fsend', lid: sender.lid, body: systemRandom.bytes(192 * 1024 + 1), auth },
      { t: 'fsend', lid: sender.lid.subarray(1), body: utf8('x'), auth },
      { t: 'fnew', fk: 'not bytes', auth },
    ]) {
      expect(await raw(frame)).toMatchObject({ t: 'err', code: 'DECODE' });
    }
    // A wrong `fnew` proof creates nothing.
    const fnewForged = { ...client.authed({ t: 'fnew', fk: wrongKey.publicKey }, sender.fk) };
    expect(await client.request(fnewForged)).toMatchObject({ t: 'err', code: 'AUTH' });

    expect(before()).toEqual({ messages: 6 });
    expect(state).toEqual({ messages: 3 });
    // The connection still works, and the list is intact.
    expect(await client.ping()).toMatchObject({ t: 'ok' });
    expect(await sender.send(utf8('still fine'))).toMatchObject({ n: 3 });
    const received = await receiveAll(client, s.list, 3);
    expect(received).toEqual(s.list.map(() => ['first', 'again', 'still fine']));
  });

  it('refuses sends beyond the copy budget of a connection', async () => {
    const s = await scene(10, { limits: { fanoutCopiesPerSecond: 1, maxFanoutEntries: 10 } });
    // The burst is one full list (10 copies); the next send finds no budget left.
    expect(await s.sender.send(utf8('1'))).toMatchObject({ n: 10 });
    const next = s.client.authed({ t: 'fsend', lid: s.sender.lid, body: utf8('2') }, s.sender.fk);
    expect(await s.client.request(next)).toMatchObject({ t: 'err', code: 'QUOTA' });
    expect(s.relay.stats().messages).toBe(10);
  });
});
