// Private groups end to end: in-process accounts over real WebSockets to a real relay
// (port 0, temporary data). No part of the engine is replaced.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  NotFoundError,
  UsageError,
  createGroupEvent,
  encodeGroupEvent,
  generateSignKeyPair,
  initCrypto,
  systemRandom,
  toHex,
} from '@parus/core';
import { startRelay } from '@parus/relay';
import { Account, MemoryStore, type MessageInfo } from '../src/index.ts';
import { nodeTransport } from '../src/node/index.ts';

type Relay = Awaited<ReturnType<typeof startRelay>>;
let relay: Relay;
let dataDir: string;
const open: Account[] = [];

beforeAll(async () => {
  await initCrypto();
  dataDir = mkdtempSync(join(tmpdir(), 'parus-groups-'));
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

/** Makes `b` a contact of `a` (known to a as `aliasOfB`, to b as `aliasOfA`). */
async function befriend(a: Account, b: Account, aliasOfA: string): Promise<void> {
  const { link } = await a.createInvite();
  await b.acceptInvite(link, { alias: aliasOfA });
  await b.sync();
  await a.sync();
  await b.sync();
}

/** Syncs everyone until a round changes nothing anybody can see. */
async function settle(accounts: Account[], rounds = 12): Promise<void> {
  let before = '';
  for (let i = 0; i < rounds; i++) {
    for (const a of accounts) await a.sync({ timeoutMs: 60_000 });
    const now = JSON.stringify(
      await Promise.all(
        accounts.map(async (a) =>
          a.groups.list().map((g) => [g, a.groups.members(g.id).map((m) => [m.key, m.linked]), ...[]]),
        ),
      ),
    );
    const outbox = await Promise.all(accounts.map((a) => a.outboxSize()));
    if (now === before && outbox.every((o) => o.queued === 0)) return;
    before = now;
  }
}

function texts(list: MessageInfo[]): string[] {
  return list.map((m) => m.text);
}

describe('private groups', () => {
  it('creates, invites, joins, introduces, sends, reads and kicks with sender keys', async () => {
    const alice = await account('Alice');
    const bob = await account('Bob');
    const carol = await account('Carol');
    await befriend(alice, bob, 'alice');
    await befriend(alice, carol, 'alice');
    const g = await alice.groups.create('Birds');
    await alice.groups.invite(g.id, 'Bob');
    await alice.groups.invite(g.id, 'Carol');
    await settle([alice, bob, carol]);
    expect(bob.groups.list()).toMatchObject([{ id: g.id, status: 'invited', name: 'Birds', invitedBy: 'alice' }]);
    await bob.groups.join(g.id);
    await carol.groups.join(g.id);
    await settle([alice, bob, carol]);
    for (const a of [alice, bob, carol]) {
      const members = a.groups.members(g.id);
      expect(members).toHaveLength(3);
      expect(members.every((m) => m.linked)).toBe(true);
    }
    // Bob and Carol are not contacts of each other.
    expect(bob.contacts().map((c) => c.alias)).toEqual(['alice']);
    expect(carol.contacts().map((c) => c.alias)).toEqual(['alice']);

    await bob.groups.send(g.id, 'hello from bob');
    await settle([alice, bob, carol]);
    await carol.groups.send(g.id, 'hi bob', { kind: 'action' });
    await settle([alice, bob, carol]);
    for (const a of [alice, bob, carol]) {
      expect(texts(await a.groups.history(g.id))).toEqual(['hello from bob', 'hi bob']);
    }
    expect(texts(await alice.takeUnshown())).toEqual(['hello from bob', 'hi bob']);
    await alice.groups.markRead(g.id);
    await carol.groups.markRead(g.id);
    await settle([alice, bob, carol]);
    const [mine] = await bob.groups.history(g.id);
    expect(mine).toMatchObject({ dir: 'out', deliveredCount: 2, readCount: 2, status: 'read' });

    await alice.groups.kick(g.id, toHex(carol.groups.resolved(g.id).members.get(meKey(carol, g.id))!.key));
    await settle([alice, bob, carol]);
    expect(bob.groups.members(g.id)).toHaveLength(2);
    expect(carol.groups.get(g.id).status).toBe('left');
    await bob.groups.send(g.id, 'after the kick');
    await settle([alice, bob, carol]);
    expect(texts(await alice.groups.history(g.id))).toContain('after the kick');
    expect(texts(await carol.groups.history(g.id))).not.toContain('after the kick');
  });
});

function meKey(a: Account, g: string): string {
  return a.groups.members(g).find((m) => m.me)!.key;
}
void NotFoundError;
void UsageError;
void createGroupEvent;
void encodeGroupEvent;
void generateSignKeyPair;
void systemRandom;
