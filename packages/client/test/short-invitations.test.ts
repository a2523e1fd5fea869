// Short invitations (decision 0045) against real relays over real WebSockets: the card kept
// sealed on the inviter's relay, the short link fetched and checked, and every refusal typed.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import QRCode from 'qrcode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthError,
  DecodeError,
  MAX_CARD_RECORD_BYTES,
  NotFoundError,
  ProtocolError,
  QuotaError,
  TimeoutError,
  TransportError,
  UsageError,
  VerificationError,
  cardFromLink,
  generateDhKeyPair,
  initCrypto,
  parseRelayAddress,
  formatRelayAddress,
  parseShortLink,
  sealCardRecord,
  shortLinkToText,
  systemRandom,
} from '@parus/core';
import { startRelay, type RelayLimits } from '@parus/relay';
import { Account, MemoryStore, RelayConnection } from '../src/index.ts';
import { nodeTransport } from '../src/node/index.ts';
import { waitFor } from './support/wait-for.ts';

type Relay = Awaited<ReturnType<typeof startRelay>>;
const relays: Array<{ relay: Relay; dir: string }> = [];
let relay: Relay;
const open: Account[] = [];
const conns: RelayConnection[] = [];

async function relayWith(limits: Partial<RelayLimits> = {}): Promise<Relay> {
  const dir = mkdtempSync(join(tmpdir(), 'parus-short-'));
  const r = await startRelay({ host: '127.0.0.1', port: 0, dataDir: dir, limits });
  relays.push({ relay: r, dir });
  return r;
}

beforeAll(async () => {
  await initCrypto();
  relay = await relayWith();
});

afterEach(async () => {
  for (const a of open.splice(0)) await a.close();
  for (const c of conns.splice(0)) c.close();
});

afterAll(async () => {
  for (const { relay: r, dir } of relays) {
    await r.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

async function account(name: string, opts: { inviteTtlMs?: number; on?: Relay } = {}): Promise<Account> {
  const a = await Account.create({
    store: new MemoryStore(),
    transport: nodeTransport(),
    name,
    relay: (opts.on ?? relay).address,
    ...(opts.inviteTtlMs ? { inviteTtlMs: opts.inviteTtlMs } : {}),
  });
  open.push(a);
  await a.start();
  return a;
}

async function connect(r: Relay): Promise<RelayConnection> {
  const conn = new RelayConnection({
    address: r.address,
    transport: nodeTransport(),
    rng: systemRandom,
    onMessage: () => {},
  });
  conns.push(conn);
  await conn.start();
  return conn;
}

async function shortInvite(a: Account, opts: { oneTime?: boolean } = {}): Promise<string> {
  const made = await a.createInvite({ ...opts, short: true });
  expect(made.short).toBeDefined();
  return made.short!;
}

async function refusal(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('short invitations', () => {
  it('a short link is a QR code of version 10 at most and makes a friend as the long link does', async () => {
    const alice = await account('Alice');
    const bob = await account('Bob');
    const made = await alice.createInvite({ short: true });
    const short = made.short!;
    expect(short.startsWith('parus:i/')).toBe(true);
    expect(short.length).toBeLessThan(200);
    expect(made.link.length).toBeGreaterThan(2000);
    expect(QRCode.create(short, { errorCorrectionLevel: 'L' }).version).toBeLessThanOrEqual(10);
    expect(QRCode.create(short, { errorCorrectionLevel: 'M' }).version).toBeLessThanOrEqual(10);
    // The card it opens to is the one the long link carries.
    expect((await bob.resolveInvite(short)).link).toBe(made.link);
    await bob.acceptInvite(short, { alias: 'alice' });
    await bob.sync();
    await alice.sync();
    await bob.sync();
    expect(bob.contacts()).toMatchObject([{ alias: 'alice', status: 'active' }]);
    expect(alice.contacts()).toMatchObject([{ alias: 'Bob', status: 'active' }]);
  });

  it('a spent one-time short link is refused at once with ProtocolError', async () => {
    const alice = await account('Alice');
    const bob = await account('Bob');
    const carol = await account('Carol');
    const short = await shortInvite(alice);
    await bob.acceptInvite(short, { alias: 'alice' });
    await bob.sync();
    await alice.sync();
    await bob.sync();
    // The record goes once Alice took Bob's request.
    let error: unknown;
    await waitFor(
      () => {
        void refusal(carol.resolveInvite(short)).then((e) => (error = e));
        return error instanceof ProtocolError;
      },
      20_000,
      'the spent link refused',
      200,
    );
    await expect(carol.acceptInvite(short, { alias: 'alice' })).rejects.toThrow(ProtocolError);
    expect(carol.contacts()).toEqual([]);
  });

  it('pasting a friend’s old link resolves to that friend', async () => {
    const alice = await account('Alice');
    const bob = await account('Bob');
    const { link } = await alice.createInvite({ oneTime: false });
    await bob.acceptInvite(link, { alias: 'alice' });
    expect((await bob.resolveInvite(link)).friend).toBe('alice');
    await expect(bob.acceptInvite(link, { alias: 'alice' })).rejects.toThrow(UsageError);
  });

  it('an expired short link gets ProtocolError, as an expired long link does', async () => {
    const alice = await account('Alice', { inviteTtlMs: 1_500 });
    const bob = await account('Bob');
    const made = await alice.createInvite({ short: true });
    let short: unknown;
    await waitFor(
      () => {
        void refusal(bob.resolveInvite(made.short!)).then((e) => (short = e));
        return short instanceof ProtocolError;
      },
      20_000,
      'the short link refused as expired',
      250,
    );
    await expect(bob.acceptInvite(made.link, { alias: 'x' })).rejects.toThrow(ProtocolError);
    expect(bob.contacts()).toEqual([]);
  });

  it('a wrong key, a forged record and a forged card are VerificationErrors; a malformed link a DecodeError', async () => {
    const alice = await account('Alice');
    const bob = await account('Bob');
    const made = await alice.createInvite({ short: true });
    const link = parseShortLink(made.short!);
    const wrongKey = shortLinkToText({ ...link, key: systemRandom.bytes(32) });
    await expect(bob.resolveInvite(wrongKey)).rejects.toThrow(VerificationError);

    // A stranger (or the relay) serves another card under an id: it does not open with the key.
    const mallory = await connect(relay);
    const other = cardFromLink((await bob.createInvite()).link);
    const stored = await mallory.putCardRecord(
      generateDhKeyPair(systemRandom).secretKey,
      sealCardRecord(other, systemRandom.bytes(32), systemRandom),
      Date.now() + 60_000,
    );
    const swapped = shortLinkToText({ ...link, cid: stored.cid });
    await expect(bob.resolveInvite(swapped)).rejects.toThrow(VerificationError);

    // Sealed with the right key but a card whose signature fails.
    const card = cardFromLink(made.link);
    const sig = card.sig.slice();
    sig[0]! ^= 1;
    const forged = await mallory.putCardRecord(
      generateDhKeyPair(systemRandom).secretKey,
      sealCardRecord({ ...card, sig }, link.key, systemRandom),
      Date.now() + 60_000,
    );
    await expect(bob.resolveInvite(shortLinkToText({ ...link, cid: forged.cid }))).rejects.toThrow(
      VerificationError,
    );
    await expect(bob.acceptInvite(made.short!.slice(0, 40), { alias: 'a' })).rejects.toThrow(DecodeError);
    expect(bob.contacts()).toEqual([]);
  });

  it('an unreachable relay is a TransportError or TimeoutError, and nothing is added', async () => {
    const bob = await account('Bob');
    const alice = await account('Alice');
    const link = parseShortLink(await shortInvite(alice));
    // A port where nothing listens.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const gone = formatRelayAddress({ ...parseRelayAddress(link.relay), port });
    const e = await refusal(bob.acceptInvite(shortLinkToText({ ...link, relay: gone }), { alias: 'a' }));
    expect(e instanceof TransportError || e instanceof TimeoutError).toBe(true);
    expect(bob.contacts()).toEqual([]);
    // The relay met through the link alone is not kept retrying.
    expect(bob.retryAt(gone)).toBeUndefined();
  }, 30_000);

  it('my QR code stays the same until reset; after a reset the old short and long links are refused', async () => {
    const alice = await account('Alice');
    const bob = await account('Bob');
    const carol = await account('Carol');
    const first = await alice.myCode();
    expect(first.link.startsWith('parus:i/')).toBe(true);
    expect((await alice.myCode()).link).toBe(first.link);
    // Reusable: two friends through the same code.
    await bob.acceptInvite(first.link, { alias: 'alice' });
    await bob.sync();
    await alice.sync();
    expect(alice.contacts().map((c) => c.alias)).toEqual(['Bob']);
    const second = await alice.resetMyCode();
    expect(second.link).not.toBe(first.link);
    let error: unknown;
    await waitFor(
      () => {
        void refusal(carol.resolveInvite(first.link)).then((e) => (error = e));
        return error instanceof ProtocolError;
      },
      20_000,
      'the old code refused',
      200,
    );
    // The old long link: its queue is gone, so Carol is told (a `spent` event), not left waiting.
    const spent: string[] = [];
    carol.events.on('contact', (c) => c.change === 'spent' && spent.push(c.alias));
    await carol.acceptInvite(first.longLink, { alias: 'alice-old' });
    await waitFor(() => spent.length === 1, 20_000, 'carol told the card is spent');
    expect(carol.contacts()).toEqual([]);
    // The new code works.
    await carol.acceptInvite(second.link, { alias: 'alice' });
    await carol.sync();
    await alice.sync();
    await carol.sync();
    expect(carol.contacts()).toMatchObject([{ alias: 'alice', status: 'active' }]);
  });
});

describe('card records on the relay: what a stranger can make it keep', () => {
  it('refuses oversized records, past expiries, other owners and unknown ids; clamps long expiries', async () => {
    const r = await relayWith({ maxCardRecordTtlMs: 60_000 });
    const conn = await connect(r);
    const ck = generateDhKeyPair(systemRandom).secretKey;
    await expect(
      conn.putCardRecord(ck, new Uint8Array(MAX_CARD_RECORD_BYTES + 1), Date.now() + 1000),
    ).rejects.toThrow(DecodeError);
    await expect(conn.putCardRecord(ck, new Uint8Array(100), Date.now() - 1)).rejects.toThrow(UsageError);
    const { cid, exp } = await conn.putCardRecord(ck, new Uint8Array(100), Date.now() + 365 * 86_400_000);
    expect(exp).toBeLessThanOrEqual(Date.now() + 60_000);
    await expect(conn.deleteCardRecord(cid, generateDhKeyPair(systemRandom).secretKey)).rejects.toThrow(
      AuthError,
    );
    expect((await conn.getCardRecord(cid)).length).toBe(100);
    await conn.deleteCardRecord(cid, ck);
    await expect(conn.getCardRecord(cid)).rejects.toThrow(NotFoundError);
    await expect(conn.getCardRecord(systemRandom.bytes(16))).rejects.toThrow(NotFoundError);
  });

  it('bounds the records one connection makes and the records the relay holds (QuotaError, nothing kept)', async () => {
    const r = await relayWith({ queueCreationBurst: 3, queueCreationsPerMinute: 1 });
    const conn = await connect(r);
    const ck = generateDhKeyPair(systemRandom).secretKey;
    for (let i = 0; i < 3; i++) await conn.putCardRecord(ck, new Uint8Array(64), Date.now() + 60_000);
    await expect(conn.putCardRecord(ck, new Uint8Array(64), Date.now() + 60_000)).rejects.toThrow(QuotaError);

    const full = await relayWith({ maxCardRecords: 2 });
    const c1 = await connect(full);
    const c2 = await connect(full);
    await c1.putCardRecord(ck, new Uint8Array(64), Date.now() + 60_000);
    await c2.putCardRecord(ck, new Uint8Array(64), Date.now() + 60_000);
    await expect(c2.putCardRecord(ck, new Uint8Array(64), Date.now() + 60_000)).rejects.toThrow(QuotaError);
    await expect(c1.putCardRecord(ck, new Uint8Array(64), Date.now() + 60_000)).rejects.toThrow(QuotaError);
  });
});
