// Failover (decision 0037): an account with receive queues on two relays stays reachable while
// one of them is down. Real relays on loopback over real WebSockets, real SQLite where an
// account is closed and opened again; a relay is stopped and started again on its port.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DecodeError,
  ProtocolError,
  UsageError,
  VerificationError,
  cardFromLink,
  createEnvelope,
  decodeRatchetState,
  encodeEnvelope,
  encodeQueueBody,
  encodeRatchetState,
  encodeTextBody,
  generateSignKeyPair,
  initCrypto,
  padToBucket,
  ratchetEncrypt,
  systemRandom,
  toHex,
  type CborMap,
  type MessageKind,
  type ParusError,
} from '@parus/core';
import { startRelay, type Relay } from '@parus/relay';
import { Account, MemoryStore, RelayConnection, type MessageInfo, type Store } from '../src/index.ts';
import { nodeTransport } from '../src/node/index.ts';
import { SqliteStore } from '../src/node/sqlite-store.ts';
import { decodeAccount, decodeContact, encodeRecord, type ContactRecord } from '../src/records.ts';
import { befriend } from './support/group-harness.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

const dirs: string[] = [];
const relays: Relay[] = [];
const open: Account[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  await initCrypto();
});

afterEach(async () => {
  for (const a of open.splice(0)) await a.close();
  for (const r of relays.splice(0)) await r.close().catch(() => undefined);
  for (const p of proxies.splice(0)) await p.close();
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'parus-failover-'));
  dirs.push(d);
  return d;
}

/** A relay with its data folder, which `restart` starts again on the same port (same address). */
async function relay(): Promise<{ relay: Relay; restart(): Promise<Relay> }> {
  const dataDir = tempDir();
  const first = await startRelay({ host: '127.0.0.1', port: 0, dataDir });
  relays.push(first);
  return {
    relay: first,
    async restart() {
      const again = await startRelay({ host: '127.0.0.1', port: first.port, dataDir });
      relays.push(again);
      return again;
    },
  };
}

async function account(
  name: string,
  home: string,
  second?: string,
  store: Store = new MemoryStore(),
): Promise<Account> {
  const a = await Account.create({
    store,
    transport: nodeTransport(),
    name,
    relay: home,
    ...(second ? { relay2: second } : {}),
  });
  open.push(a);
  await a.start();
  return a;
}

async function reopen(path: string): Promise<Account> {
  const a = await Account.open({ store: new SqliteStore(path), transport: nodeTransport() });
  open.push(a);
  await a.start();
  return a;
}

async function closeAccount(a: Account): Promise<void> {
  open.splice(open.indexOf(a), 1);
  await a.close();
}

/** Waits (generously: the machine is shared) until `check` holds. */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves when `a`'s link to `relay` comes up next (listen before the relay comes back). */
function linkUp(a: Account, relay: string): Promise<void> {
  return new Promise((resolve) => {
    const off = a.events.on('connection', (e) => {
      if (e.relay === relay && e.state === 'connected') {
        off();
        resolve();
      }
    });
  });
}

function texts(list: MessageInfo[]): string[] {
  return list.map((m) => m.text);
}

/** The stored record of the contact `alias` in a closed account's SQLite file. */
async function storedContact(path: string, alias: string): Promise<{ store: SqliteStore; c: ContactRecord }> {
  const store = new SqliteStore(path);
  for (const { value } of await store.list('contacts')) {
    const c = decodeContact(value);
    if (c.alias === alias) return { store, c };
  }
  throw new Error(`no contact ${alias}`);
}

/**
 * What a contact running other software can put into my queues: an envelope of any kind and
 * body, signed by `device` (its real device key unless told otherwise) and encrypted in our
 * session, sent to `queue` (`send` or `send2`) with its sender key. Returns the updated session.
 */
async function sendRaw(
  path: string,
  alias: string,
  kind: MessageKind,
  body: CborMap,
  opts: { queue?: 'send' | 'send2'; device?: ReturnType<typeof generateSignKeyPair>; copies?: number } = {},
): Promise<void> {
  const { store, c } = await storedContact(path, alias);
  const self = decodeAccount((await store.get('account', 'self'))!);
  const device = opts.device ?? { secretKey: self.device, publicKey: self.device.slice(32, 64) };
  const env = createEnvelope({ device, conv: c.conv, parents: [], lamport: 1, ts: Date.now(), kind, body });
  let session = decodeRatchetState(c.session);
  const wires: Uint8Array[] = [];
  for (let i = 0; i < (opts.copies ?? 1); i++) {
    const enc = ratchetEncrypt(session, padToBucket(encodeEnvelope(env)), c.ad, systemRandom);
    session = enc.state;
    wires.push(enc.message);
  }
  await store.batch([
    {
      type: 'put',
      collection: 'contacts',
      key: toHex(c.id),
      value: encodeRecord({ ...c, session: encodeRatchetState(session) }),
    },
  ]);
  await store.close();
  const target = opts.queue === 'send2' ? c.send2! : c.send!;
  const r = new RelayConnection({
    address: target.relay,
    transport: nodeTransport(),
    rng: systemRandom,
    onMessage: () => undefined,
  });
  try {
    await r.start();
    for (const wire of wires) await r.command({ t: 'send', sid: target.sid, body: wire }, c.senderKey);
    // The same bytes once more, into the other queue too: a copy that reached both relays.
    if (opts.queue === undefined && c.send2) {
      const r2 = new RelayConnection({
        address: c.send2.relay,
        transport: nodeTransport(),
        rng: systemRandom,
        onMessage: () => undefined,
      });
      await r2.start();
      for (const wire of wires) await r2.command({ t: 'send', sid: c.send2.sid, body: wire }, c.senderKey);
      r2.close();
    }
  } finally {
    r.close();
  }
}

describe('failover between two relays (decision 0037)', () => {
  it('cards list both queues; with relay 1 down the messages arrive through relay 2 exactly once, then relay 1 again', async () => {
    const one = await relay();
    const two = await relay();
    const three = await relay();
    const alice = await account('Alice', one.relay.address, two.relay.address);
    const bob = await account('Bob', three.relay.address);
    expect(alice.relay2).toBe(two.relay.address);

    const { link } = await alice.createInvite();
    const card = cardFromLink(link);
    expect(card.queue.relay).toBe(one.relay.address);
    expect(card.queue2?.relay).toBe(two.relay.address);
    expect(card.relays).toEqual([one.relay.address, two.relay.address]);
    await bob.acceptInvite(link, { alias: 'alice' });
    await bob.sync();
    await alice.sync();
    await bob.sync();
    expect(bob.contactRelays('alice')).toEqual({
      receive: [three.relay.address],
      send: [one.relay.address, two.relay.address],
    });
    expect(alice.contactRelays('Bob')).toEqual({
      receive: [one.relay.address, two.relay.address],
      send: [three.relay.address],
    });

    const seen: string[] = [];
    alice.events.on('message', (m) => seen.push(m.text));
    await one.relay.close();
    await bob.sendText('alice', 'one');
    await bob.sendText('alice', 'two');
    await bob.sync({ timeoutMs: 60_000 });
    await alice.sync({ timeoutMs: 60_000 });
    expect(texts(await alice.takeUnshown())).toEqual(['one', 'two']);
    // Receipts come back over Bob's relay; Alice answers from relay 2's side.
    await until(async () => {
      await bob.sync({ timeoutMs: 60_000 });
      return (await bob.history('alice')).every((m) => m.status === 'delivered');
    }, 'the receipts');

    // Relay 1 is back, relay 2 goes: Bob goes back to Alice's first queue.
    const back = Promise.all([linkUp(bob, one.relay.address), linkUp(alice, one.relay.address)]);
    const oneAgain = await one.restart();
    expect(oneAgain.address).toBe(one.relay.address);
    await back;
    await two.relay.close();
    await bob.sendText('alice', 'three');
    await bob.sync({ timeoutMs: 60_000 });
    await alice.sync({ timeoutMs: 60_000 });
    expect(texts(await alice.takeUnshown())).toEqual(['three']);
    expect(texts(await alice.history('Bob'))).toEqual(['one', 'two', 'three']);
    expect(seen).toEqual(['one', 'two', 'three']);
  }, 180_000);

  it('fails over when the first relay stops answering on a link that looks up (a send times out)', async () => {
    const one = await relay();
    const two = await relay();
    const three = await relay();
    // Alice's first relay behind a path that can die silently: same relay, the proxy's port.
    const proxy = await startTcpProxy({ port: one.relay.port });
    proxies.push(proxy);
    const first = one.relay.address.replace(`:${one.relay.port}`, `:${proxy.port}`);
    const alice = await account('Alice', first, two.relay.address);
    const bob = await account('Bob', three.relay.address);
    await befriend(alice, bob, 'alice');
    expect(bob.contactRelays('alice').send).toEqual([first, two.relay.address]);
    proxy.blackhole();
    await bob.sendText('alice', 'into the silence');
    await until(
      async () => {
        await bob.sync({ timeoutMs: 120_000 }).catch(() => undefined);
        return (await bob.outboxSize()).queued === 0;
      },
      'the send to be taken by relay 2',
      180_000,
    );
    await alice.sync({ timeoutMs: 120_000 });
    expect(texts(await alice.takeUnshown())).toEqual(['into the silence']);
  }, 180_000);

  it('reads a message once whether its copies come through both queues as the same bytes or encrypted twice', async () => {
    const one = await relay();
    const two = await relay();
    const three = await relay();
    const dir = tempDir();
    const alice = await account('Alice', one.relay.address, two.relay.address);
    const bob = await account('Bob', three.relay.address, undefined, new SqliteStore(join(dir, 'bob.db')));
    await befriend(alice, bob, 'alice');
    await closeAccount(bob);
    const seen: string[] = [];
    alice.events.on('message', (m) => seen.push(m.text));
    // One envelope, encrypted twice (a resend), each copy into both of Alice's queues.
    await sendRaw(join(dir, 'bob.db'), 'alice', 'text', encodeTextBody({ text: 'twice' }), { copies: 2 });
    await alice.sync();
    await alice.sync();
    expect(texts(await alice.history('Bob'))).toEqual(['twice']);
    expect(seen).toEqual(['twice']);
  }, 180_000);

  it('refuses a malformed, oversized or misplaced second queue with a typed error, and changes nothing', async () => {
    const one = await relay();
    const two = await relay();
    const three = await relay();
    const four = await relay();
    const dir = tempDir();
    const alice = await account('Alice', one.relay.address, two.relay.address);
    const bob = await account('Bob', three.relay.address, undefined, new SqliteStore(join(dir, 'bob.db')));
    await befriend(alice, bob, 'alice');
    await closeAccount(bob);
    const before = alice.contactRelays('Bob');
    const errors: ParusError[] = [];
    alice.events.on('error', (e) => errors.push(e.error));
    const path = join(dir, 'bob.db');
    const sk = new Uint8Array(32).fill(7);
    const sid = new Uint8Array(24).fill(1);
    const good = encodeQueueBody({ queue: { relay: four.relay.address, sid }, sk, ask: false });
    const attempts: Array<[CborMap, new (...args: never[]) => Error]> = [
      [{ ...good, queue: { relay: `${four.relay.address}${'x'.repeat(2000)}`, sid } }, DecodeError],
      [{ ...good, queue: { relay: four.relay.address, sid: new Uint8Array(4000) } }, DecodeError],
      [{ ...good, note: 'x' }, DecodeError],
      [{ ...good, queue: { relay: three.relay.address, sid } }, ProtocolError],
    ];
    for (const [body, type] of attempts) {
      errors.length = 0;
      await sendRaw(path, 'alice', 'queue', body, { queue: 'send' });
      await alice.sync();
      expect(errors.map((e) => e.constructor)).toEqual([type]);
      expect(alice.contactRelays('Bob')).toEqual(before);
    }
    // A well-formed one signed by a device that is not Bob's: forged.
    errors.length = 0;
    await sendRaw(path, 'alice', 'queue', good, { queue: 'send', device: generateSignKeyPair(systemRandom) });
    await alice.sync();
    expect(errors.map((e) => e.constructor)).toEqual([VerificationError]);
    expect(alice.contactRelays('Bob')).toEqual(before);

    // Alice's second queue for Bob is secured: without Bob's sender key the relay takes nothing.
    const { store, c } = await storedContact(path, 'alice');
    await store.close();
    const r = new RelayConnection({
      address: c.send2!.relay,
      transport: nodeTransport(),
      rng: systemRandom,
      onMessage: () => undefined,
    });
    await r.start();
    await expect(r.command({ t: 'send', sid: c.send2!.sid, body: new Uint8Array(64) })).rejects.toThrow();
    r.close();
  }, 180_000);

  it('adds a second relay later: existing contacts are told in the session, new cards carry it, and it carries messages', async () => {
    const one = await relay();
    const two = await relay();
    const three = await relay();
    const dir = tempDir();
    const alicePath = join(dir, 'alice.db');
    let alice = await account('Alice', one.relay.address, undefined, new SqliteStore(alicePath));
    const bob = await account('Bob', three.relay.address);
    const carol = await account('Carol', three.relay.address);
    await befriend(alice, bob, 'alice');
    await befriend(alice, carol, 'alice');
    expect(cardFromLink((await alice.createInvite()).link).queue2).toBeUndefined();

    // Carol's contact record at Alice as a version before 0037 kept it: no sender key of hers.
    await closeAccount(alice);
    {
      const { store, c } = await storedContact(alicePath, 'Carol');
      const { theirSenderKey: _gone, ...legacy } = c;
      await store.batch([
        { type: 'put', collection: 'contacts', key: toHex(c.id), value: encodeRecord(legacy) },
      ]);
      await store.close();
    }
    alice = await reopen(alicePath);

    await expect(alice.addRelay(one.relay.address)).rejects.toThrow(UsageError);
    await expect(alice.addRelay('not a relay')).rejects.toThrow(UsageError);
    expect(await alice.addRelay(two.relay.address)).toEqual({
      relay2: two.relay.address,
      told: 2,
      failed: 0,
    });
    // The same relay again tells nobody twice; another one is refused.
    expect(await alice.addRelay(two.relay.address)).toEqual({
      relay2: two.relay.address,
      told: 0,
      failed: 0,
    });
    await expect(alice.addRelay(three.relay.address)).rejects.toThrow(UsageError);
    expect(alice.relay2).toBe(two.relay.address);
    await alice.sync();
    await bob.sync();
    await carol.sync();
    await alice.sync();
    for (const friend of [bob, carol])
      expect(friend.contactRelays('alice').send).toEqual([one.relay.address, two.relay.address]);
    expect(cardFromLink((await alice.createInvite()).link).queue2?.relay).toBe(two.relay.address);

    // Carol was asked for her sender key and answered: Alice's queue there is secured too.
    await until(async () => {
      await alice.sync();
      const { store, c } = await storedContact(alicePath, 'Carol');
      await store.close();
      return c.recv2?.secured === true && c.theirSenderKey !== undefined;
    }, "Carol's sender key");

    await one.relay.close();
    await bob.sendText('alice', 'from Bob');
    await carol.sendText('alice', 'from Carol');
    await Promise.all([bob.sync({ timeoutMs: 60_000 }), carol.sync({ timeoutMs: 60_000 })]);
    await alice.sync({ timeoutMs: 60_000 });
    const got = texts(await alice.takeUnshown()).sort();
    expect(got).toEqual(['from Bob', 'from Carol']);
  }, 180_000);

  it('makes cards and answers them with its first relay down, on the second alone', async () => {
    const one = await relay();
    const two = await relay();
    const three = await relay();
    const alice = await account('Alice', one.relay.address, two.relay.address);
    const carol = await account('Carol', three.relay.address);
    await one.relay.close();
    const { link } = await alice.createInvite();
    const card = cardFromLink(link);
    expect(card.queue.relay).toBe(two.relay.address);
    expect(card.queue2).toBeUndefined();
    expect(card.relays).toEqual([two.relay.address]);
    await carol.acceptInvite(link, { alias: 'alice' });
    await carol.sync({ timeoutMs: 60_000 });
    await alice.sync({ timeoutMs: 60_000 });
    await carol.sync({ timeoutMs: 60_000 });
    expect(carol.contactRelays('alice').send).toEqual([two.relay.address]);
    await carol.sendText('alice', 'made while relay 1 was down');
    await carol.sync({ timeoutMs: 60_000 });
    await alice.sync({ timeoutMs: 60_000 });
    expect(texts(await alice.takeUnshown())).toEqual(['made while relay 1 was down']);
  }, 180_000);

  it('a single-relay account and its single-queue cards still work with a two-relay account', async () => {
    const one = await relay();
    const two = await relay();
    const three = await relay();
    const alice = await account('Alice', one.relay.address, two.relay.address);
    const carol = await account('Carol', three.relay.address);
    const { link } = await carol.createInvite();
    expect(cardFromLink(link).queue2).toBeUndefined();
    await alice.acceptInvite(link, { alias: 'carol' });
    await alice.sync();
    await carol.sync();
    await alice.sync();
    expect(alice.contactRelays('carol')).toEqual({
      receive: [one.relay.address, two.relay.address],
      send: [three.relay.address],
    });
    await alice.sendText('carol', 'hi');
    await alice.sync();
    await carol.sync();
    expect(texts(await carol.takeUnshown())).toEqual(['hi']);
    // Alice's hello named her second queue: with relay 1 down Carol still reaches her.
    await one.relay.close();
    await carol.sendText('Alice', 'still here');
    await carol.sync({ timeoutMs: 60_000 });
    await alice.sync({ timeoutMs: 60_000 });
    expect(texts(await alice.takeUnshown())).toEqual(['still here']);
  }, 180_000);
});
