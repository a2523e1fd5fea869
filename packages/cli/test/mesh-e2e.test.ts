// Seven relay processes (`parus relay --join …`) on loopback form one cloud; Alice, whose
// relay is the first, and Bob, whose relay is the seventh, chat, each with one connection to
// their own relay, the messages forwarded along the route status.json shows. Two relays are
// killed (SIGKILL); the cloud heals to bridgeless with at least 3 links each, and the
// conversation goes on with nothing lost or duplicated, including what was sent meanwhile.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Account, MemoryStore } from '@parus/client';
import { nodeTransport } from '@parus/client/node';
import { initCrypto, parseRelayAddress, toBase64Url } from '@parus/core';

const BIN = resolve(import.meta.dirname, '../bin/parus.js');
const RELAYS = 7;

interface RelayProcess {
  child: ChildProcess;
  address: string;
  port: number;
  id: string;
}

interface Status {
  relay: { fingerprint: string };
  users: number;
  relays: Array<{ fingerprint: string }>;
  links: Array<{ from: string; to: string }>;
  neighbours: string[];
  routes: Array<{ to: string; nextHop: string; hops: number; path: string[] }>;
  bridges: unknown[];
}

const root = mkdtempSync(join(tmpdir(), 'parus-mesh-e2e-'));
const relays: RelayProcess[] = [];
const accounts: Account[] = [];

function startRelay(i: number, joinTo: string[]): Promise<RelayProcess> {
  const args = [BIN, 'relay', '--port', '0', '--data', join(root, `relay-${i}`), '--json'];
  for (const a of joinTo) args.push('--join', a);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.resume();
  return new Promise((ready, fail) => {
    createInterface({ input: child.stdout! }).once('line', (line) => {
      const { address, port } = JSON.parse(line) as { address: string; port: number };
      ready({ child, address, port, id: toBase64Url(parseRelayAddress(address).fingerprint) });
    });
    child.once('exit', (code) => fail(new Error(`relay ${i} exited early with ${code}`)));
  });
}

async function status(r: RelayProcess): Promise<Status> {
  const res = await fetch(`http://127.0.0.1:${r.port}/status.json`, { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as Status;
}

/** Waits, polling, until `check` holds (no fixed sleep decides anything), up to `ms`. */
async function until(check: () => Promise<boolean>, what: string, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The live relays' views agree: each knows every live relay's links, none has a bridge, each has ≥ 3 links. */
async function healthy(live: RelayProcess[]): Promise<boolean> {
  const ids = new Set(live.map((r) => r.id));
  const views = await Promise.all(live.map(status));
  return views.every((s) => {
    const links = s.links.filter((l) => ids.has(l.from) && ids.has(l.to));
    if (links.length !== s.links.length) return false; // a link to a dead relay is still counted
    const degree = new Map<string, number>();
    for (const l of links) {
      degree.set(l.from, (degree.get(l.from) ?? 0) + 1);
      degree.set(l.to, (degree.get(l.to) ?? 0) + 1);
    }
    return (
      s.bridges.length === 0 &&
      [...ids].every((id) => (degree.get(id) ?? 0) >= 3) &&
      [...ids].every((id) => id === s.relay.fingerprint || s.routes.some((r) => r.to === id))
    );
  });
}

async function account(name: string, relay: RelayProcess): Promise<Account> {
  const a = await Account.create({
    store: new MemoryStore(),
    transport: nodeTransport(),
    name,
    relay: relay.address,
  });
  accounts.push(a);
  await a.start();
  return a;
}

/** Both sync until `reader` has read `n` messages from `alias` in all. */
async function exchange(writer: Account, reader: Account, alias: string, n: number): Promise<string[]> {
  let texts: string[] = [];
  await until(async () => {
    await writer.sync({ timeoutMs: 60_000 });
    await reader.sync({ timeoutMs: 60_000 });
    texts = (await reader.history(alias)).filter((m) => m.dir === 'in').map((m) => m.text);
    return texts.length >= n;
  }, `${n} messages for ${reader.name}`);
  return texts;
}

beforeAll(async () => {
  await initCrypto();
  // Each relay joins through the one before it.
  for (let i = 0; i < RELAYS; i++) relays.push(await startRelay(i, i === 0 ? [] : [relays[i - 1]!.address]));
  await until(() => healthy(relays), 'seven relays in one bridgeless cloud');
}, 180_000);

afterAll(async () => {
  for (const a of accounts) await a.close().catch(() => undefined);
  await Promise.all(
    relays.map(
      (r) =>
        new Promise<void>((done) => {
          if (r.child.exitCode !== null || r.child.signalCode !== null) return done();
          r.child.once('exit', () => done());
          r.child.kill('SIGTERM');
        }),
    ),
  );
  rmSync(root, { recursive: true, force: true });
}, 60_000);

describe('a cloud of seven relay processes', () => {
  it('carries a conversation between relays 1 and 7, through a failure of two relays', async () => {
    const first = relays[0]!;
    const last = relays[RELAYS - 1]!;
    const alice = await account('Alice', first);
    const bob = await account('Bob', last);
    const { link } = await alice.createInvite();
    await bob.acceptInvite(link, { alias: 'alice' });
    await until(async () => {
      await bob.sync({ timeoutMs: 60_000 });
      await alice.sync({ timeoutMs: 60_000 });
      return alice.contacts().some((c) => c.status === 'active');
    }, 'alice and bob befriended');

    // The route from relay 1 to relay 7, as relay 1 shows it: each step a link of the cloud.
    const s1 = await status(first);
    const route = s1.routes.find((r) => r.to === last.id)!;
    expect(route.path[0]).toBe(first.id);
    expect(route.path.at(-1)).toBe(last.id);
    expect(route.hops).toBe(route.path.length - 1);
    for (let i = 1; i < route.path.length; i++) {
      const [a, b] = [route.path[i - 1]!, route.path[i]!];
      expect(s1.links.some((l) => (l.from === a && l.to === b) || (l.from === b && l.to === a))).toBe(true);
    }

    const sent = { alice: [] as string[], bob: [] as string[] };
    const say = async (who: 'alice' | 'bob', text: string): Promise<void> => {
      sent[who].push(text);
      if (who === 'alice') await alice.sendText('Bob', text);
      else await bob.sendText('alice', text);
    };
    for (let i = 1; i <= 5; i++) {
      await say('alice', `a${i} 你好`);
      await say('bob', `b${i} hello`);
    }
    expect(await exchange(alice, bob, 'alice', 5)).toEqual(sent.alice);
    expect(await exchange(bob, alice, 'Bob', 5)).toEqual(sent.bob);
    // One connection each, to their own relay: the messages were forwarded.
    expect((await status(first)).users).toBe(1);
    expect((await status(last)).users).toBe(1);

    // Kill two relays other than theirs, those on the route first.
    const middle = relays.slice(1, RELAYS - 1);
    const onRoute = middle.filter((r) => route.path.includes(r.id));
    const victims = [...onRoute, ...middle.filter((r) => !onRoute.includes(r))].slice(0, 2);
    for (const v of victims) {
      const gone = new Promise((done) => v.child.once('exit', done));
      v.child.kill('SIGKILL');
      await gone;
    }
    // Sent while the cloud heals: delayed, not lost.
    for (let i = 6; i <= 8; i++) {
      await say('alice', `a${i} during`);
      await say('bob', `b${i} during`);
    }
    const live = relays.filter((r) => !victims.includes(r));
    await until(() => healthy(live), 'the cloud healed to bridgeless, ≥ 3 links each');
    const healedRoute = (await status(first)).routes.find((r) => r.to === last.id)!;
    for (const v of victims) expect(healedRoute.path).not.toContain(v.id);
    // `parus relay status` prints the same, as lines or as JSON.
    const run = promisify(execFile);
    const json = JSON.parse(
      (await run(process.execPath, [BIN, 'relay', 'status', first.address, '--json'])).stdout,
    ) as Status;
    expect(json.relay.fingerprint).toBe(first.id);
    expect(json.routes.find((r) => r.to === last.id)?.path).toEqual(healedRoute.path);
    const lines = (await run(process.execPath, [BIN, 'relay', 'status', `127.0.0.1:${first.port}`])).stdout;
    expect(lines).toContain(first.address);
    expect(lines).toContain(`${last.id.slice(0, 8)}… via`);
    expect(lines).toContain('bridges:   none');

    for (let i = 9; i <= 12; i++) {
      await say('alice', `a${i} after`);
      await say('bob', `b${i} after`);
    }
    expect(await exchange(alice, bob, 'alice', 12)).toEqual(sent.alice);
    expect(await exchange(bob, alice, 'Bob', 12)).toEqual(sent.bob);
    // Nothing more comes: no duplicate on either side.
    await alice.sync({ timeoutMs: 60_000 });
    await bob.sync({ timeoutMs: 60_000 });
    expect((await bob.history('alice')).filter((m) => m.dir === 'in').map((m) => m.text)).toEqual(sent.alice);
    expect((await alice.history('Bob')).filter((m) => m.dir === 'in').map((m) => m.text)).toEqual(sent.bob);
  }, 600_000);
});
