// Shared by the group scenario tests: accounts that outlive their store, befriending, and
// waiting until group traffic has settled. Waiting is bounded by time, not by rounds, and a
// wait that runs out throws: a test never goes on silently with traffic still on its way.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { initCrypto, toHex, type CborValue } from '@parus/core';
import { startRelay, type RelayLimits } from '@parus/relay';
import { Account, MemoryStore, type AccountOptions, type StoreOp } from '../../src/index.ts';
import { nodeTransport } from '../../src/node/index.ts';
import type { ContactRecord } from '../../src/records.ts';
import { GC, decodeGroupRecord } from '../../src/groups/group-records.ts';

type Relay = Awaited<ReturnType<typeof startRelay>>;

/**
 * Every account of these tests connects from 127.0.0.1, where a relay's limits per source
 * address (docs/decisions/0023) are sized for one person's address: a 50-member group links
 * every pair of members, about 2,500 queues from "one address" within minutes.
 */
export const CROWD_ON_LOOPBACK = {
  maxConnectionsPerAddress: 10_000,
  addressQueueCreationBurst: 1_000_000,
  addressStoredByteBurst: 1e12,
  addressStoredBytesPerMinute: 1e12,
};

/**
 * One real relay for a test file (port 0, a temporary data folder) and accounts on it, each
 * closed after its test. Call at the top level of the file: it registers the vitest hooks.
 */
export function relayWorld(
  name: string,
  /** Relay limits beside CROWD_ON_LOOPBACK. */
  limits: Partial<RelayLimits> = {},
): {
  relay(): Relay;
  account(who: string, opts?: Partial<AccountOptions>): Promise<Account>;
  /** Opens an account again from its store (not started), closed after the test. */
  reopen(opts: Partial<AccountOptions> & { store: MemoryStore }): Promise<Account>;
  /** An account the test closed itself: not closed again after it. */
  closed(a: Account): void;
} {
  let relay: Relay | undefined;
  let dataDir = '';
  const open: Account[] = [];
  beforeAll(async () => {
    await initCrypto();
    dataDir = mkdtempSync(join(tmpdir(), `parus-${name}-`));
    relay = await startRelay({
      host: '127.0.0.1',
      port: 0,
      dataDir,
      limits: { ...CROWD_ON_LOOPBACK, ...limits },
    });
  });
  afterEach(async () => {
    for (const a of open.splice(0)) await a.close();
  });
  afterAll(async () => {
    await relay?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const current = (): Relay => {
    if (!relay) throw new Error('the relay starts in beforeAll');
    return relay;
  };
  return {
    relay: current,
    async account(who, opts = {}) {
      const a = await Account.create({
        store: new MemoryStore(),
        transport: nodeTransport(),
        name: who,
        relay: current().address,
        ...opts,
      });
      open.push(a);
      await a.start();
      return a;
    },
    async reopen(opts) {
      const a = await Account.open({ transport: nodeTransport(), ...opts });
      open.push(a);
      return a;
    },
    closed(a) {
      const i = open.indexOf(a);
      if (i >= 0) open.splice(i, 1);
    },
  };
}

/**
 * Hands a group payload to `to`'s engine as if it came over its session with member `from`
 * (a hex member key): for payloads no honest member would send.
 */
export async function deliverFromMember(
  to: Account,
  store: MemoryStore,
  g: string,
  from: string,
  body: CborValue,
): Promise<void> {
  const rec = decodeGroupRecord((await store.get(GC.groups, g))!);
  const link = rec.links.find((x) => toHex(x.m) === from)!;
  const internals = to as unknown as {
    contactsById: Map<string, ContactRecord>;
    lock: { run: <T>(f: () => Promise<T>) => Promise<T> };
  };
  const c = internals.contactsById.get(toHex(link.c))!;
  await internals.lock.run(async () => {
    const ops: StoreOp[] = [];
    const after: Array<() => void> = [];
    await to.groups.receive(c, body, ops, after);
    await store.batch(ops);
    for (const f of after) f();
  });
}

/** A memory store that outlives its account, so the account can be opened again. */
export class KeptStore extends MemoryStore {
  override async close(): Promise<void> {}
}

/** Makes `b` a contact of `a` (known to b as `aliasOfA`). */
export async function befriend(a: Account, b: Account, aliasOfA: string): Promise<void> {
  const { link } = await a.createInvite();
  await b.acceptInvite(link, { alias: aliasOfA });
  await b.sync();
  await a.sync();
  await b.sync();
}

/** The resolved state of a group as one account computes it, in a comparable form. */
export function stateOf(a: Account, g: string, withHeads = true): unknown {
  const s = a.groups.resolved(g);
  return {
    members: [...s.members.values()].map((m) => [toHex(m.key), m.role, m.nick ?? null]),
    banned: [...s.banned],
    invited: [...s.invited],
    name: s.name,
    topic: s.topic,
    heads: withHeads ? s.heads.map(toHex) : null,
  };
}

/**
 * Everything each account can see of its groups: invitations, resolved state, sessions and
 * messages with their delivery counts.
 */
export async function groupView(accounts: Account[]): Promise<string> {
  return JSON.stringify(
    await Promise.all(
      accounts.map(async (a) =>
        Promise.all(
          a.groups.list().map(async (g) => {
            let resolved: unknown = null;
            try {
              resolved = stateOf(a, g.id);
            } catch {
              // an invitation whose events have not arrived
            }
            const members = a.groups.members(g.id).map((m) => [m.key, m.linked]);
            const messages = (await a.groups.history(g.id)).map((m) => [m.id, m.deliveredCount ?? 0]);
            return [g, resolved, members, messages];
          }),
        ),
      ),
    ),
  );
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface SettleOptions {
  /** Sync every account at once instead of one after the other. */
  parallel?: boolean;
  /** How long to wait before giving up with an error (default two minutes). */
  timeoutMs?: number;
}

/**
 * Syncs everyone until two rounds in a row change nothing anybody can see and no outbox entry
 * is waiting to be sent (an entry for a relay that is reconnecting is waiting too).
 */
export async function settle(accounts: Account[], opts: SettleOptions = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  let before = '';
  let stable = 0;
  while (stable < 2) {
    if (opts.parallel) await Promise.all(accounts.map((a) => a.sync({ timeoutMs: 120_000 })));
    else for (const a of accounts) await a.sync({ timeoutMs: 60_000 });
    const now = await groupView(accounts);
    const outbox = await Promise.all(accounts.map((a) => a.outboxSize()));
    const quiet = now === before && outbox.every((o) => o.queued === 0);
    stable = quiet ? stable + 1 : 0;
    before = now;
    if (stable >= 2) return;
    if (Date.now() > deadline) throw new Error('group traffic did not settle in time');
    if (!quiet) await pause(25);
  }
}

/** Syncs everyone, round after round, until `done` holds; throws if it does not in time. */
export async function until(
  accounts: Account[],
  done: () => boolean | Promise<boolean>,
  timeoutMs = 300_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('the awaited condition did not hold in time');
    await Promise.all(accounts.map((a) => a.sync({ timeoutMs: 120_000 })));
  }
}
