// Group delivery by relay fan-out (docs/decisions/0012 "Delivery"): in-process accounts over
// real WebSockets to two real relays (port 0, temporary data). The sender's frames are counted
// on the wire: one `fsend` per relay per message, no per-member `send`; a full queue and a
// relay that was down still end with every message delivered exactly once, in causal order.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  VerificationError,
  asMap,
  asText,
  decodeCbor,
  encodeCbor,
  initCrypto,
  parseRelayAddress,
  toHex,
} from '@parus/core';
import { startRelay } from '@parus/relay';
import { Account, MemoryStore, type Transport } from '../src/index.ts';
import { nodeTransport } from '../src/node/index.ts';
import { decodeOutbox, encodeRecord, type OutboxRecord } from '../src/records.ts';
import {
  FANOUT_COLLECTIONS,
  decodeFanoutMessage,
  decodeFanoutRoster,
  encodeFanoutMessage,
  hasRoster,
} from '../src/groups/fanout-outbox.ts';
import { GC, decodeGroupRecord } from '../src/groups/group-records.ts';
import { decodeGroupFanoutFrame, encodeGroupFanoutFrame } from '../src/groups/group-wire.ts';
import { KeptStore, befriend, settle } from './support/group-harness.ts';

type Relay = Awaited<ReturnType<typeof startRelay>>;
const open: Account[] = [];
const relays: Relay[] = [];
const dirs: string[] = [];
const dirOf = new Map<Relay, string>();

beforeAll(async () => {
  await initCrypto();
});

afterEach(async () => {
  for (const a of open.splice(0)) await a.close();
  for (const r of relays.splice(0)) await r.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function relay(
  opts: {
    maxQueueMessages?: number;
    maxFanoutEntries?: number;
    dataDir?: string;
    port?: number;
  } = {},
): Promise<Relay> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'parus-gfan-'));
  if (!opts.dataDir) dirs.push(dataDir);
  const r = await startRelay({
    host: '127.0.0.1',
    port: opts.port ?? 0,
    dataDir,
    limits: {
      ...(opts.maxQueueMessages ? { maxQueueMessages: opts.maxQueueMessages } : {}),
      ...(opts.maxFanoutEntries !== undefined ? { maxFanoutEntries: opts.maxFanoutEntries } : {}),
    },
  });
  relays.push(r);
  dirOf.set(r, dataDir);
  return r;
}

/** Counts the frames an account sends, by type. */
function counting(inner: Transport): {
  transport: Transport;
  frames: Map<string, number>;
  bodies: Uint8Array[];
} {
  const frames = new Map<string, number>();
  const bodies: Uint8Array[] = [];
  return {
    frames,
    bodies,
    transport: {
      async connect(url, signal) {
        const conn = await inner.connect(url, signal);
        return {
          send: (data) => {
            const frame = asMap(decodeCbor(data), 'frame');
            const t = asText(frame.t, 't', 16);
            frames.set(t, (frames.get(t) ?? 0) + 1);
            if (t === 'fsend') bodies.push(frame.body as Uint8Array);
            conn.send(data);
          },
          close: () => conn.close(),
          onMessage: (h) => conn.onMessage(h),
          onClose: (h) => conn.onClose(h),
        };
      },
    },
  };
}

async function account(
  name: string,
  at: Relay,
  transport: Transport = nodeTransport(),
  store = new MemoryStore(),
): Promise<Account> {
  const a = await Account.create({ store, transport, name, relay: at.address });
  open.push(a);
  await a.start();
  return a;
}

const reset = (m: Map<string, number>): void => m.clear();
const count = (m: Map<string, number>, t: string): number => m.get(t) ?? 0;

/** Alice (relay A) with Bob (A), Carol and Dave (B) in one group, every pair linked. */
async function fourOnTwoRelays(opts: { maxQueueMessages?: number; maxFanoutEntries?: number } = {}) {
  const relayA = await relay();
  const relayB = await relay(opts);
  const wire = counting(nodeTransport());
  const daveStore = new KeptStore();
  const alice = await account('Alice', relayA, wire.transport);
  const bob = await account('Bob', relayA);
  const carol = await account('Carol', relayB);
  const dave = await account('Dave', relayB, nodeTransport(), daveStore);
  const all = [alice, bob, carol, dave];
  for (const x of [bob, carol, dave]) await befriend(alice, x, 'alice');
  const g = (await alice.groups.create('Fan')).id;
  for (const name of ['Bob', 'Carol', 'Dave']) await alice.groups.invite(g, name);
  await settle(all);
  for (const x of [bob, carol, dave]) await x.groups.join(g);
  await settle(all);
  for (const a of all) expect(a.groups.members(g).every((m) => m.linked)).toBe(true);
  // The first message also distributes Alice's sender key (over the 1:1 sessions).
  await alice.groups.send(g, 'first');
  await settle(all);
  return { relayA, relayB, wire, alice, bob, carol, dave, all, g, daveStore };
}

async function texts(a: Account, g: string): Promise<string[]> {
  return (await a.groups.history(g)).map((m) => m.text);
}

describe('group delivery by relay fan-out', () => {
  it('uploads each message once per relay, and every member gets it once', async () => {
    const { wire, alice, bob, carol, dave, all, g } = await fourOnTwoRelays();
    reset(wire.frames);
    for (const t of ['two', 'three', 'four']) await alice.groups.send(g, t);
    await settle(all);
    // Two relays, three messages: six uploads, and no message sent member by member.
    expect(count(wire.frames, 'fsend')).toBe(6);
    expect(count(wire.frames, 'send')).toBe(0);
    expect(count(wire.frames, 'fadd')).toBe(0); // the lists already hold everyone
    for (const x of [bob, carol, dave]) expect(await texts(x, g)).toEqual(['first', 'two', 'three', 'four']);
    const mine = await alice.groups.history(g);
    expect(mine.map((m) => m.deliveredCount)).toEqual([3, 3, 3, 3]);
    expect(await alice.outboxSize()).toEqual({ queued: 0, relayed: 0 });
    // The lists are kept in the group record: one per relay, with that relay's members.
    const rec = decodeGroupRecord((await aliceStore(alice).get(GC.groups, g))!);
    expect(rec.fan?.map((f) => f.s.length).sort()).toEqual([1, 2]);

    // A copy put into another member's queue (by a relay, or by that member) is refused:
    // it names Alice, and Alice's sender key is registered to Alice alone.
    const frame = decodeGroupFanoutFrame(wire.bodies.at(-1)!);
    const bobRec = decodeGroupRecord((await aliceStore(bob).get(GC.groups, g))!);
    const aliceKey = alice.groups.members(g).find((m) => m.me)!.key;
    const other = bobRec.links.find((l) => toHex(l.m) !== aliceKey)!;
    const peer = (bob as unknown as { contactsById: Map<string, unknown> }).contactsById.get(toHex(other.c));
    const fresh = { ...frame, id: new Uint8Array(32).fill(7) };
    const inject = (f: typeof frame) =>
      bob.groups.receiveFanout(peer as never, encodeGroupFanoutFrame(f), [], []);
    await expect(inject(fresh)).rejects.toBeInstanceOf(VerificationError);
    await expect(inject({ ...fresh, m: other.m })).rejects.toBeInstanceOf(VerificationError);
    expect(await texts(bob, g)).toEqual(['first', 'two', 'three', 'four']);
  }, 120_000);

  it('resends over the 1:1 session to a member whose queue was full, once it has room', async () => {
    const { wire, alice, bob, carol, dave, all, g, daveStore, relayB } = await fourOnTwoRelays({
      maxQueueMessages: 6,
    });
    await dave.close();
    open.splice(open.indexOf(dave), 1);
    reset(wire.frames);
    const sent = Array.from({ length: 10 }, (_, i) => `m${i}`);
    for (const t of sent) await alice.groups.send(g, t);
    await alice.sync();
    // Dave's queue took six; the rest wait in Alice's outbox for the 1:1 path.
    expect(count(wire.frames, 'fsend')).toBe(20);
    const waiting = (await listOutbox(alice)).filter((e) => e.state === 'queued');
    expect(waiting.length).toBe(4);
    // Each was tried by fan-out, then over the 1:1 session (its envelope made), refused again.
    expect(waiting.every((e) => e.fan && e.attempts >= 2 && e.envelope.length > 0)).toBe(true);
    const dave2 = await Account.open({ store: daveStore, transport: nodeTransport() });
    open.push(dave2);
    await dave2.start();
    await settle([alice, bob, carol, dave2]);
    expect(count(wire.frames, 'send')).toBeGreaterThanOrEqual(4);
    for (const x of [bob, carol, dave2]) expect(await texts(x, g)).toEqual(['first', ...sent]);
    expect((await alice.groups.history(g)).every((m) => m.deliveredCount === 3)).toBe(true);
    expect(await alice.outboxSize()).toEqual({ queued: 0, relayed: 0 });
    expect(relayB.address).toBeTruthy();
    void all;
  }, 180_000);

  it('sends what waited while a relay was down to the same list once it is back', async () => {
    const { wire, alice, bob, carol, dave, g, relayA, relayB } = await fourOnTwoRelays();
    const { port } = parseRelayAddress(relayB.address);
    const dataDir = dirOf.get(relayB)!;
    await relayB.close();
    relays.splice(relays.indexOf(relayB), 1);
    reset(wire.frames);
    await alice.groups.send(g, 'while down');
    await alice.sync();
    await bob.sync();
    expect(count(wire.frames, 'fsend')).toBe(1); // relay A only
    expect(await texts(bob, g)).toEqual(['first', 'while down']);
    const back = await relay({ dataDir, port });
    expect(back.address).toBe(relayB.address);
    await settle([alice, bob, carol, dave]);
    // The list survived on the relay: no new list, no entries added again.
    expect(count(wire.frames, 'fsend')).toBe(2);
    expect(count(wire.frames, 'fnew')).toBe(0);
    expect(count(wire.frames, 'fadd')).toBe(0);
    expect(count(wire.frames, 'send')).toBe(0);
    for (const x of [carol, dave]) expect(await texts(x, g)).toEqual(['first', 'while down']);
    expect((await alice.groups.history(g)).map((m) => m.deliveredCount)).toEqual([3, 3]);
    void relayA;
  }, 180_000);
});

describe('group delivery when a relay refuses part of a list', () => {
  it('sends to the members it will not take over the 1:1 sessions, and nothing waits', async () => {
    // Relay B takes one entry per list: of Carol and Dave, one is left off.
    const { wire, alice, bob, carol, dave, g } = await fourOnTwoRelays({ maxFanoutEntries: 1 });
    reset(wire.frames);
    await alice.groups.send(g, 'second');
    await settle([alice, bob, carol, dave]);
    expect(count(wire.frames, 'fsend')).toBe(2);
    expect(count(wire.frames, 'send')).toBe(1);
    for (const x of [bob, carol, dave]) expect(await texts(x, g)).toEqual(['first', 'second']);
    expect((await alice.groups.history(g)).map((m) => m.deliveredCount)).toEqual([3, 3]);
    expect(await alice.outboxSize()).toEqual({ queued: 0, relayed: 0 });
    const rec = decodeGroupRecord((await aliceStore(alice).get(GC.groups, g))!);
    expect(rec.fan?.map((f) => f.s.length).sort()).toEqual([1, 1]);
  }, 120_000);
});

describe('group fan-out framing', () => {
  it('round-trips and refuses anything else', () => {
    const f = {
      g: new Uint8Array(16).fill(1),
      m: new Uint8Array(32).fill(2),
      id: new Uint8Array(32).fill(3),
      c: new Uint8Array(90).fill(4),
    };
    const bytes = encodeGroupFanoutFrame(f);
    expect(bytes[0]).toBe(0x80);
    expect(decodeGroupFanoutFrame(bytes)).toEqual(f);
    expect(() => decodeGroupFanoutFrame(Uint8Array.of(1, ...bytes.subarray(1)))).toThrow();
    expect(() => decodeGroupFanoutFrame(bytes.subarray(0, bytes.length - 1))).toThrow();
  });
});

/** Alice and Bob (relay A), Carol (relay B) in one group, every store kept across reopening. */
async function threeKept() {
  const relayA = await relay();
  const relayB = await relay();
  const wire = counting(nodeTransport());
  const stores = { alice: new KeptStore(), bob: new KeptStore(), carol: new KeptStore() };
  const alice = await account('Alice', relayA, wire.transport, stores.alice);
  const bob = await account('Bob', relayA, nodeTransport(), stores.bob);
  const carol = await account('Carol', relayB, nodeTransport(), stores.carol);
  for (const x of [bob, carol]) await befriend(alice, x, 'alice');
  const g = (await alice.groups.create('Kept')).id;
  for (const name of ['Bob', 'Carol']) await alice.groups.invite(g, name);
  await settle([alice, bob, carol]);
  for (const x of [bob, carol]) await x.groups.join(g);
  await settle([alice, bob, carol]);
  await alice.groups.send(g, 'first');
  await settle([alice, bob, carol]);
  return { relayA, relayB, wire, stores, alice, bob, carol, g };
}

async function closeAll(...accounts: Account[]): Promise<void> {
  for (const a of accounts) {
    await a.close();
    open.splice(open.indexOf(a), 1);
  }
}

async function reopen(store: KeptStore, transport: Transport = nodeTransport()): Promise<Account> {
  const a = await Account.open({ store, transport });
  open.push(a);
  await a.start();
  return a;
}

describe('the group outbox across restarts', () => {
  it('keeps one record per message, whatever the group size, until every receipt is in', async () => {
    const { stores, alice, bob, carol, g } = await threeKept();
    await closeAll(bob, carol);
    await alice.groups.send(g, 'second');
    await alice.sync();
    // One record (and one roster), no per-member entries: both members were reached.
    expect(await stores.alice.list('outbox')).toEqual([]);
    const records = await stores.alice.list(FANOUT_COLLECTIONS.messages);
    expect(records.length).toBe(1);
    expect((await stores.alice.list(FANOUT_COLLECTIONS.rosters)).length).toBe(1);
    expect(await alice.outboxSize()).toEqual({ queued: 0, relayed: 1 });
    const bob2 = await reopen(stores.bob);
    await settle([alice, bob2]);
    // Bob's receipt took him out of the waiting set; the record waits for Carol alone.
    const rec = decodeFanoutMessage((await stores.alice.get(FANOUT_COLLECTIONS.messages, records[0]!.key))!);
    const roster = hasRoster(rec)
      ? decodeFanoutRoster((await stores.alice.get(FANOUT_COLLECTIONS.rosters, toHex(rec.ro)))!)
      : undefined;
    expect(roster?.c.length).toBe(2);
    expect((await alice.groups.history(g)).map((m) => m.deliveredCount)).toEqual([2, 1]);
    const carol2 = await reopen(stores.carol);
    await settle([alice, bob2, carol2]);
    expect((await alice.groups.history(g)).map((m) => m.deliveredCount)).toEqual([2, 2]);
    expect(await stores.alice.list(FANOUT_COLLECTIONS.messages)).toEqual([]);
    // The roster stays while it is the group's current one (the next message reuses it).
    expect((await stores.alice.list(FANOUT_COLLECTIONS.rosters)).length).toBe(1);
    await alice.groups.send(g, 'third');
    await settle([alice, bob2, carol2]);
    expect((await stores.alice.list(FANOUT_COLLECTIONS.rosters)).length).toBe(1);
    expect(await stores.alice.list(FANOUT_COLLECTIONS.messages)).toEqual([]);
  }, 180_000);

  it('uploads again after a crash between the upload and its record, and nobody sees it twice', async () => {
    const { stores, wire, alice, bob, carol, g } = await threeKept();
    await closeAll(bob, carol);
    await alice.groups.send(g, 'once');
    await alice.sync();
    await closeAll(alice);
    // As a crash right after the upload would leave it: the record does not know it went out.
    const [entry] = await stores.alice.list(FANOUT_COLLECTIONS.messages);
    const rec = decodeFanoutMessage(entry!.value);
    if (!hasRoster(rec)) throw new Error('expected a record with a roster');
    const { u: _u, ...unsent } = rec;
    await stores.alice.batch([
      {
        type: 'put',
        collection: FANOUT_COLLECTIONS.messages,
        key: entry!.key,
        value: encodeFanoutMessage({ ...unsent, at: 0 }),
      },
    ]);
    reset(wire.frames);
    const alice2 = await reopen(stores.alice, wire.transport);
    await alice2.sync();
    expect(count(wire.frames, 'fsend')).toBe(2); // again, on both relays
    const bob2 = await reopen(stores.bob);
    const carol2 = await reopen(stores.carol);
    await settle([alice2, bob2, carol2]);
    for (const x of [bob2, carol2]) expect(await texts(x, g)).toEqual(['first', 'once']);
    expect((await alice2.groups.history(g)).map((m) => m.deliveredCount)).toEqual([2, 2]);
    expect(await alice2.outboxSize()).toEqual({ queued: 0, relayed: 0 });
  }, 180_000);

  it('sends and settles the per-member entries of a store written before rosters', async () => {
    const { relayA, relayB, stores, alice, bob, carol, g } = await threeKept();
    // Both relays down: the message is written and waits.
    const downs = [relayA, relayB].map((r) => ({
      port: parseRelayAddress(r.address).port,
      dataDir: dirOf.get(r)!,
    }));
    for (const r of [relayA, relayB]) {
      await r.close();
      relays.splice(relays.indexOf(r), 1);
    }
    await alice.groups.send(g, 'from before');
    await closeAll(alice, bob, carol);
    // Rewrite it as the engine wrote it before rosters: the shared frame and payload alone,
    // and one entry per member, without an envelope — one never tried, one tried and overdue.
    const [entry] = await stores.alice.list(FANOUT_COLLECTIONS.messages);
    const rec = decodeFanoutMessage(entry!.value);
    if (!hasRoster(rec)) throw new Error('expected a record with a roster');
    const roster = decodeFanoutRoster((await stores.alice.get(FANOUT_COLLECTIONS.rosters, toHex(rec.ro)))!);
    const seq = Math.max(0, ...(await stores.alice.list('outbox')).map((e) => decodeOutbox(e.value).seq));
    const legacy: OutboxRecord[] = roster.c.map((contact, i) => ({
      seq: seq + 1 + i,
      contact,
      envelope: new Uint8Array(0),
      message: Uint8Array.from(Buffer.from(entry!.key, 'hex')),
      state: i === 0 ? 'queued' : 'relayed',
      attempts: i,
      nextAt: 0,
      fan: true,
    }));
    await stores.alice.batch([
      {
        type: 'put',
        collection: FANOUT_COLLECTIONS.messages,
        key: entry!.key,
        value: encodeCbor({ g: rec.g, frame: rec.frame, p: rec.p }),
      },
      { type: 'del', collection: FANOUT_COLLECTIONS.rosters, key: toHex(rec.ro) },
      ...legacy.map((e) => ({
        type: 'put' as const,
        collection: 'outbox',
        key: e.seq.toString().padStart(12, '0'),
        value: encodeRecord(e),
      })),
    ]);
    for (const d of downs) await relay(d);
    const [alice2, bob2, carol2] = [
      await reopen(stores.alice),
      await reopen(stores.bob),
      await reopen(stores.carol),
    ];
    await settle([alice2, bob2, carol2]);
    for (const x of [bob2, carol2]) expect(await texts(x, g)).toEqual(['first', 'from before']);
    expect((await alice2.groups.history(g)).map((m) => m.deliveredCount)).toEqual([2, 2]);
    expect(await alice2.outboxSize()).toEqual({ queued: 0, relayed: 0 });
    expect(await stores.alice.list(FANOUT_COLLECTIONS.messages)).toEqual([]);
  }, 180_000);
});

function aliceStore(a: Account): MemoryStore {
  return (a as unknown as { store: MemoryStore }).store;
}

async function listOutbox(a: Account) {
  return (await aliceStore(a).list('outbox')).map((e) => decodeOutbox(e.value));
}
