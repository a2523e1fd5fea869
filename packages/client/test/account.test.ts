// The account engine against a real relay over real WebSockets (port 0, temporary data).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, UsageError, initCrypto, systemRandom } from '@parus/core';
import { startRelay } from '@parus/relay';
import { Account, MemoryStore, RelayConnection, type MessageInfo } from '../src/index.ts';
import { nodeTransport } from '../src/node/index.ts';
import { befriend } from './support/group-harness.ts';

type Relay = Awaited<ReturnType<typeof startRelay>>;
let relay: Relay;
let dataDir: string;
const open: Account[] = [];

beforeAll(async () => {
  await initCrypto();
  dataDir = mkdtempSync(join(tmpdir(), 'parus-account-'));
  relay = await startRelay({ host: '127.0.0.1', port: 0, dataDir });
});

afterEach(async () => {
  for (const a of open.splice(0)) await a.close();
});

afterAll(async () => {
  await relay.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function account(name: string, store = new MemoryStore()): Promise<Account> {
  const a = await Account.create({ store, transport: nodeTransport(), name, relay: relay.address });
  open.push(a);
  await a.start();
  return a;
}

async function pair(): Promise<[Account, Account]> {
  const alice = await account('Alice');
  const bob = await account('Bob');
  await befriend(alice, bob, 'alice');
  return [alice, bob];
}

function texts(list: MessageInfo[]): string[] {
  return list.map((m) => m.text);
}

describe('Account', () => {
  it('connects two people through a rendez-vous card and shows matching safety numbers', async () => {
    const [alice, bob] = await pair();
    expect(alice.contacts()).toMatchObject([{ alias: 'Bob', status: 'active', state: 'unvalidated' }]);
    expect(bob.contacts()).toMatchObject([{ alias: 'alice', status: 'active', state: 'unvalidated' }]);
    expect(alice.safetyNumber('Bob').digits).toBe(bob.safetyNumber('alice').digits);
    await bob.setContactState('alice', 'validated');
    expect(bob.contact('alice').state).toBe('validated');
  });

  it('delivers both ways exactly once, in causal order, with receipts', async () => {
    const [alice, bob] = await pair();
    const receipts: string[] = [];
    bob.events.on('receipt', (r) => receipts.push(r.status));
    await bob.sendText('alice', '你好 1');
    await bob.sendText('alice', 'hello 2');
    await bob.sync();
    await alice.sync();
    expect(texts(await alice.takeUnshown())).toEqual(['你好 1', 'hello 2']);
    expect(await alice.takeUnshown()).toEqual([]);
    await alice.sendText('Bob', 'reply 3');
    await alice.sync();
    await bob.sync();
    expect(texts(await bob.takeUnshown())).toEqual(['reply 3']);
    const history = await bob.history('alice');
    expect(texts(history)).toEqual(['你好 1', 'hello 2', 'reply 3']);
    expect(history.filter((m) => m.dir === 'out').map((m) => m.status)).toEqual(['delivered', 'delivered']);
    expect(receipts).toContain('delivered');
    expect(await bob.outboxSize()).toEqual({ queued: 0, relayed: 0 });
  });

  it('sends read receipts', async () => {
    const [alice, bob] = await pair();
    const m = await bob.sendText('alice', 'read me');
    await bob.sync();
    await alice.sync();
    expect(await alice.markRead('Bob')).toBe(1);
    await alice.sync();
    await bob.sync();
    expect((await bob.history('alice')).find((x) => x.id === m.id)?.status).toBe('read');
  });

  it('keeps messages for an offline recipient and survives reopening the store', async () => {
    const store = new MemoryStore();
    const alice = await account('Alice', store);
    const bob = await account('Bob');
    await befriend(alice, bob, 'alice');
    await alice.close();
    open.splice(open.indexOf(alice), 1);
    for (let i = 0; i < 5; i++) await bob.sendText('alice', `offline ${i}`);
    await bob.sync();
    // MemoryStore refuses use after close, so reopen over a copy of its data.
    const reopened = await Account.open({ store: cloneStore(store), transport: nodeTransport() });
    open.push(reopened);
    await reopened.sync();
    expect(texts(await reopened.takeUnshown())).toEqual([0, 1, 2, 3, 4].map((i) => `offline ${i}`));
  });

  it('sends again when no receipt comes, and the receiver shows the message once', async () => {
    let clock = Date.now();
    const now = (): number => clock;
    const aliceStore = new MemoryStore();
    const alice = await Account.create({
      store: aliceStore,
      transport: nodeTransport(),
      name: 'Alice',
      relay: relay.address,
      now,
    });
    const bob = await Account.create({
      store: new MemoryStore(),
      transport: nodeTransport(),
      name: 'Bob',
      relay: relay.address,
      now,
      resendMs: 60_000,
    });
    open.push(alice, bob);
    await alice.start();
    await bob.start();
    await befriend(alice, bob, 'alice');
    await alice.close();
    open.splice(open.indexOf(alice), 1);
    const stored = relay.stats().messagesStored;
    await bob.sendText('alice', 'once only');
    await bob.sync();
    expect(await bob.outboxSize()).toEqual({ queued: 0, relayed: 1 });
    expect(relay.stats().messagesStored).toBe(stored + 1);
    await bob.sync();
    expect(relay.stats().messagesStored).toBe(stored + 1); // not yet due
    clock += 61_000; // no receipt within the resend delay: encrypted afresh and sent again
    await bob.sync();
    expect(await bob.outboxSize()).toEqual({ queued: 0, relayed: 1 });
    expect(relay.stats().messagesStored).toBe(stored + 2);
    const back = await Account.open({ store: cloneStore(aliceStore), transport: nodeTransport(), now });
    open.push(back);
    await back.sync();
    expect(texts(await back.takeUnshown())).toEqual(['once only']);
    expect(texts(await back.history('Bob'))).toEqual(['once only']);
    await bob.sync();
    expect(await bob.outboxSize()).toEqual({ queued: 0, relayed: 0 });
    expect((await bob.history('alice'))[0]?.status).toBe('delivered');
  });

  it('rejects unknown aliases, empty and oversized messages, and a second accept of one card', async () => {
    const [alice, bob] = await pair();
    await expect(bob.sendText('nobody', 'x')).rejects.toThrow(NotFoundError);
    await expect(bob.sendText('alice', '')).rejects.toThrow(UsageError);
    await expect(bob.sendText('alice', 'x'.repeat(20_000))).rejects.toThrow(UsageError);
    const { link } = await alice.createInvite();
    await expect(bob.acceptInvite(link, { alias: 'alice' })).rejects.toThrow(UsageError);
  });

  it('warns loudly when a contact comes back with a different key', async () => {
    const [, bob] = await pair();
    await bob.setContactState('alice', 'validated');
    const impostor = await account('Alice');
    const { link } = await impostor.createInvite();
    await expect(bob.acceptInvite(link, { alias: 'alice' })).rejects.toThrow(UsageError);
    expect(bob.contact('alice').state).toBe('validated');
    const changes: string[] = [];
    bob.events.on('contact', (c) => changes.push(c.change));
    const replaced = await bob.acceptInvite(link, { alias: 'alice', replace: true });
    expect(changes).toContain('key-changed');
    expect(replaced).toMatchObject({ alias: 'alice', state: 'unvalidated', keyChanged: true });
    await bob.setContactState('alice', 'validated');
    expect(bob.contact('alice').keyChanged).toBe(false);
  });

  it('refuses to send to a contact marked compromised', async () => {
    const [, bob] = await pair();
    await bob.setContactState('alice', 'compromised');
    await expect(bob.sendText('alice', 'x')).rejects.toThrow(UsageError);
  });

  it('drops garbage written into its queue without losing later messages', async () => {
    const [alice, bob] = await pair();
    const errors: string[] = [];
    alice.events.on('error', (e) => errors.push(e.error.name));
    // Anyone holding a rendez-vous card may write into that (unsecured) queue: try garbage.
    const { card } = await alice.createInvite({ oneTime: false });
    await rawSend(card.queue.relay, card.queue.sid, systemRandom.bytes(300));
    await bob.sendText('alice', 'after garbage');
    await bob.sync();
    await alice.sync();
    expect(texts(await alice.takeUnshown())).toEqual(['after garbage']);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('reads a message whose same bytes come twice once, after its chain moved on too, reporting nothing', async () => {
    const [alice, bob] = await pair();
    const errors: string[] = [];
    bob.events.on('error', (e) => errors.push(`${e.context}: ${e.error.message}`));
    // Keep what Alice's account hands its relay, as a send whose answer was lost would be sent again.
    const r = (alice as unknown as { relays: Map<string, RelayConnection> }).relays.get(relay.address)!;
    const sent: Array<{ frame: { t: 'send'; sid: Uint8Array; body: Uint8Array }; key?: Uint8Array }> = [];
    const command = r.command.bind(r);
    r.command = ((frame: Parameters<RelayConnection['command']>[0], key?: Uint8Array) => {
      if (frame.t === 'send') sent.push({ frame: { ...frame }, ...(key ? { key } : {}) });
      return command(frame, key);
    }) as RelayConnection['command'];
    await alice.sendText('Bob', 'first');
    await alice.sync();
    await bob.sync();
    const first = sent.at(-1)!;
    await command(first.frame, first.key); // the same bytes again, stored under a new relay id
    await bob.sync();
    await bob.sendText('alice', 'reply'); // Alice's next message starts a new chain
    await bob.sync();
    await alice.sync();
    await alice.sendText('Bob', 'second');
    await alice.sync();
    await bob.sync();
    await command(first.frame, first.key); // and again, once Bob's ratchet has moved past it
    await bob.sync();
    expect(texts(await bob.history('alice'))).toEqual(['first', 'reply', 'second']);
    expect(texts(await bob.takeUnshown())).toEqual(['first', 'second']);
    expect(errors).toEqual([]);
  });
});

function cloneStore(source: MemoryStore): MemoryStore {
  // Reach into the memory store's map: test-only helper to simulate a device restart.
  const copy = new MemoryStore();
  const data = (source as unknown as { data: Map<string, Map<string, Uint8Array>> }).data;
  (copy as unknown as { data: Map<string, Map<string, Uint8Array>> }).data.clear();
  for (const [c, m] of data) {
    (copy as unknown as { data: Map<string, Map<string, Uint8Array>> }).data.set(c, new Map(m));
  }
  return copy;
}

async function rawSend(address: string, sid: Uint8Array, body: Uint8Array): Promise<void> {
  const r = new RelayConnection({
    address,
    transport: nodeTransport(),
    rng: systemRandom,
    onMessage: () => {},
  });
  await r.start();
  await r.command({ t: 'send', sid, body });
  r.close();
}
