// Call signalling (account/call-signalling.ts, decision 0046) between real accounts on a real
// relay over loopback WebSockets: ringing, answering, candidates, hang-up and the call-log
// entry on both sides, every device of a contact ringing and the first answer taking the call,
// and the refusals (oversized SDP, unknown signal, an answer for a call never offered, a
// fingerprint the SDP does not carry).
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DecodeError,
  ProtocolError,
  UsageError,
  VerificationError,
  formatFingerprint,
  initCrypto,
  systemRandom,
  type CborMap,
  type ParusError,
} from '@parus/core';
import { startRelay } from '@parus/relay';
import { Account, MemoryStore, type CallEvent } from '../src/index.ts';
import { nodeTransport } from '../src/node/index.ts';
import { befriend } from './support/group-harness.ts';
import { waitFor } from './support/wait-for.ts';
import { media } from './support/call-sdp.ts';

type Relay = Awaited<ReturnType<typeof startRelay>>;
let relay: Relay;
let dataDir: string;
const open: Account[] = [];
const LIGHT = { opsLimit: 1, memLimit: 8192 };
const PASS = 'alice passphrase 一二三';

beforeAll(async () => {
  await initCrypto();
  dataDir = mkdtempSync(join(tmpdir(), 'parus-calls-'));
  relay = await startRelay({ host: '127.0.0.1', port: 0, dataDir });
});

afterEach(async () => {
  for (const a of open.splice(0)) await a.close();
});

afterAll(async () => {
  await relay.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function account(name: string): Promise<Account> {
  const a = await Account.create({
    store: new MemoryStore(),
    transport: nodeTransport(),
    name,
    relay: relay.address,
  });
  open.push(a);
  return a;
}

interface Watched {
  calls: CallEvent[];
  errors: ParusError[];
}

function watch(a: Account): Watched {
  const w: Watched = { calls: [], errors: [] };
  a.events.on('call', (e) => w.calls.push(e));
  a.events.on('error', (e) => w.errors.push(e.error));
  return w;
}

/** A raw `call` signal sent through the engine's session, bypassing the sender's own checks. */
async function sendRaw(from: Account, alias: string, body: CborMap): Promise<void> {
  const engine = (
    from as unknown as { calls: { sendTo(c: string, d: Uint8Array, b: CborMap): Promise<void> } }
  ).calls;
  const c = (from as unknown as { byAlias(a: string): { id: Uint8Array; device: Uint8Array } }).byAlias(
    alias,
  );
  const hex = Buffer.from(c.id).toString('hex');
  await engine.sendTo(hex, c.device, body);
}

async function pair(): Promise<{ alice: Account; bob: Account; wa: Watched; wb: Watched }> {
  const alice = await account('Alice');
  const bob = await account('Bob');
  await befriend(alice, bob, 'alice');
  const wa = watch(alice);
  const wb = watch(bob);
  await alice.start();
  await bob.start();
  return { alice, bob, wa, wb };
}

/** Polls `read` until it gives a non-empty list (or 20 s pass). */
async function eventually<T>(read: () => Promise<T[]>): Promise<T[]> {
  const until = Date.now() + 20_000;
  for (;;) {
    const v = await read();
    if (v.length > 0 || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const of = (w: Watched, type: CallEvent['type']): CallEvent[] => w.calls.filter((e) => e.type === type);

describe('1:1 call signalling', () => {
  it('rings, is answered, carries candidates, hangs up; both sides keep one call-log entry and nothing else', async () => {
    const { alice, bob, wa, wb } = await pair();
    const mine = media();
    const call = await alice.startCall('Bob', { video: true, ...mine });
    await waitFor(() => of(wb, 'incoming').length === 1, 20_000, 'ringing');
    const ring = of(wb, 'incoming')[0]!;
    expect(ring).toMatchObject({ alias: 'alice', call, video: true, sdp: mine.sdp });
    // Signals are never chat text.
    expect(await bob.history('alice')).toEqual([]);

    const theirs = media();
    await bob.answerCall(call, theirs);
    await waitFor(() => of(wa, 'answer').length === 1, 20_000, 'answer');
    expect(of(wa, 'answer')[0]!.sdp).toBe(theirs.sdp);
    await alice.sendCallCandidates(call, [
      { c: 'candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host', mid: '0', i: 0 },
    ]);
    await bob.sendCallCandidates(call, [
      { c: 'candidate:2 1 udp 2122260223 127.0.0.1 40001 typ host', mid: '0', i: 0 },
    ]);
    await waitFor(() => of(wa, 'ice').length === 1 && of(wb, 'ice').length === 1, 20_000, 'candidates');
    // The media path each side applied is checked against what the other signed.
    await alice.checkCallFingerprint(call, theirs.sdp, formatFingerprint(theirs.fp));
    await bob.checkCallFingerprint(call, mine.sdp, formatFingerprint(mine.fp));
    alice.callConnected(call);
    bob.callConnected(call);
    expect(alice.activeCalls().map((c) => c.state)).toEqual(['active']);

    await alice.hangUpCall(call);
    await waitFor(() => of(wb, 'ended').length === 1, 20_000, 'hang-up');
    expect(of(wb, 'ended')[0]).toMatchObject({ reason: 'hangup' });
    expect(of(wb, 'ended')[0]!.missed).toBeUndefined();
    const bobLog = await eventually(async () =>
      (await bob.history('alice')).filter((m) => m.kind === 'call-log'),
    );
    const aliceLog = (await alice.history('Bob')).filter((m) => m.kind === 'call-log');
    expect(aliceLog).toHaveLength(1);
    expect(aliceLog[0]!.call).toMatchObject({ video: true, outcome: 'answered' });
    expect(bobLog).toHaveLength(1);
    expect(bobLog[0]!.call).toMatchObject({ video: true, outcome: 'answered' });
    expect((await bob.history('alice')).map((m) => m.kind)).toEqual(['call-log']);
    expect(wa.errors).toEqual([]);
    expect(wb.errors).toEqual([]);
  });

  it('a call hung up before it is answered is a missed call on both sides', async () => {
    const { alice, bob, wb } = await pair();
    const call = await alice.startCall('Bob', { video: false, ...media() });
    await waitFor(() => of(wb, 'incoming').length === 1, 20_000, 'ringing');
    await alice.hangUpCall(call);
    await waitFor(() => of(wb, 'ended').length === 1, 20_000, 'cancelled');
    expect(of(wb, 'ended')[0]).toMatchObject({ reason: 'hangup', missed: true });
    const logs = await eventually(async () =>
      (await bob.history('alice')).filter((m) => m.kind === 'call-log').map((m) => m.call),
    );
    expect(logs).toEqual([{ video: false, outcome: 'missed' }]);
    expect((await alice.history('Bob')).map((m) => m.call)).toEqual([{ video: false, outcome: 'missed' }]);
  });

  it('a declined call ends at the caller; a second call while one is under way is answered busy', async () => {
    const { alice, bob, wa, wb } = await pair();
    const call = await alice.startCall('Bob', { video: false, ...media() });
    await waitFor(() => of(wb, 'incoming').length === 1, 20_000, 'ringing');
    await bob.declineCall(call);
    await waitFor(() => of(wa, 'ended').length === 1, 20_000, 'declined');
    expect(of(wa, 'ended')[0]).toMatchObject({ reason: 'declined' });

    // Bob is in a call with Carol: Alice's call is answered busy.
    const carol = await account('Carol');
    await befriend(carol, bob, 'carol');
    await carol.start();
    const first = await carol.startCall('Bob', { video: false, ...media() });
    await waitFor(() => of(wb, 'incoming').length === 2, 20_000, 'Carol ringing');
    await bob.answerCall(first, media());
    await alice.startCall('Bob', { video: false, ...media() });
    await waitFor(() => of(wa, 'ended').length === 2, 20_000, 'busy');
    expect(of(wa, 'ended')[1]).toMatchObject({ reason: 'busy' });
    expect(of(wb, 'incoming')).toHaveLength(2);
    await expect(
      alice.startCall('Bob', { video: false, sdp: 'x'.repeat(16 * 1024 + 1), fp: media().fp }),
    ).rejects.toBeInstanceOf(UsageError);
  });
});

describe('every device of the callee rings; the first to answer takes the call', () => {
  it('the other device stops ringing (taken) and the call goes on with the one that answered', async () => {
    const laptop = await account('Alice');
    const bob = await account('Bob');
    await laptop.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
    await befriend(laptop, bob, 'alice');
    for (let i = 0; i < 2; i++) for (const a of [laptop, bob]) await a.sync();
    const phone = await account('Alice');
    await phone.restoreSnapshot(await laptop.snapshot(), { passphrase: PASS, deviceName: 'phone' });
    await phone.sync();
    for (let i = 0; i < 2; i++) for (const a of [bob, phone, laptop]) await a.sync();
    expect(bob.contactDeviceList('alice')).toHaveLength(2);
    const [wl, wp, wb] = [watch(laptop), watch(phone), watch(bob)];
    for (const a of [laptop, phone, bob]) await a.start();

    const call = await bob.startCall('alice', { video: true, ...media() });
    await waitFor(
      () => of(wl, 'incoming').length === 1 && of(wp, 'incoming').length === 1,
      20_000,
      'both ring',
    );
    await phone.answerCall(call, media());
    await waitFor(() => of(wb, 'answer').length === 1, 20_000, 'answer');
    await waitFor(() => of(wl, 'ended').length === 1, 20_000, 'laptop stops');
    expect(of(wl, 'ended')[0]).toMatchObject({ reason: 'taken' });
    expect(of(wl, 'ended')[0]!.missed).toBeUndefined();
    // The laptop answering late is told the call is taken, and the caller keeps the phone.
    await expect(laptop.answerCall(call, media())).rejects.toBeInstanceOf(UsageError);
    await bob.sendCallCandidates(call, [{ c: 'candidate:1 1 udp 1 127.0.0.1 1 typ host', mid: '0' }]);
    await waitFor(() => of(wp, 'ice').length === 1, 20_000, 'phone candidates');
    await bob.hangUpCall(call);
    await waitFor(() => of(wp, 'ended').length === 1, 20_000, 'phone hang-up');
    expect(of(wl, 'ice')).toHaveLength(0);
    expect([...wl.errors, ...wp.errors, ...wb.errors]).toEqual([]);
  });
});

describe('refusals change nothing', () => {
  it('an answer for a call never offered, an unknown signal and an oversized SDP are dropped with an error', async () => {
    const { bob, wa } = await pair();
    const { fp, sdp } = media();
    const call = systemRandom.bytes(16);
    await sendRaw(bob, 'alice', { call, op: 'answer', n: 0, sdp, fp });
    await waitFor(() => wa.errors.length === 1, 20_000, 'refusal');
    expect(wa.errors[0]).toBeInstanceOf(ProtocolError);
    await sendRaw(bob, 'alice', { call, op: 'ring' });
    await waitFor(() => wa.errors.length === 2, 20_000, 'refusal');
    expect(wa.errors[1]).toBeInstanceOf(DecodeError);
    await sendRaw(bob, 'alice', {
      call,
      op: 'offer',
      n: 0,
      sdp: sdp + 'a='.padEnd(16 * 1024, 'x'),
      fp,
      video: false,
    });
    await waitFor(() => wa.errors.length === 3, 20_000, 'refusal');
    expect(wa.errors[2]).toBeInstanceOf(DecodeError);
    await sendRaw(bob, 'alice', { call, op: 'ice', cands: Array.from({ length: 33 }, () => ({ c: '' })) });
    await waitFor(() => wa.errors.length === 4, 20_000, 'refusal');
    expect(wa.errors[3]).toBeInstanceOf(DecodeError);
    expect(wa.calls).toEqual([]);
  });

  it('an offer whose SDP names another fingerprint than the signalled one ends with a warning, never rings', async () => {
    const { alice, bob, wa, wb } = await pair();
    const real = media();
    await sendRaw(bob, 'alice', {
      call: systemRandom.bytes(16),
      op: 'offer',
      n: 0,
      sdp: real.sdp,
      fp: media().fp,
      video: false,
    });
    await waitFor(() => of(wa, 'ended').length === 1, 20_000, 'warning');
    expect(of(wa, 'ended')[0]).toMatchObject({ reason: 'fingerprint' });
    expect(of(wa, 'incoming')).toHaveLength(0);
    // A media path whose certificate is not the signed one ends an answered call.
    const call = await alice.startCall('Bob', { video: false, ...media() });
    await waitFor(() => of(wb, 'incoming').length === 1, 20_000, 'ringing');
    const theirs = media();
    await bob.answerCall(call, theirs);
    await waitFor(() => of(wa, 'answer').length === 1, 20_000, 'answer');
    await expect(
      alice.checkCallFingerprint(call, theirs.sdp, formatFingerprint(media().fp)),
    ).rejects.toBeInstanceOf(VerificationError);
    expect(of(wa, 'ended')[1]).toMatchObject({ reason: 'fingerprint' });
    await waitFor(() => of(wb, 'ended').length === 1, 20_000, 'the other side hears the end');
    expect(alice.activeCalls()).toEqual([]);
  });
});

describe('TURN credentials from the home relay', () => {
  it('a relay with TURN hands its users coturn REST credentials; one without hands none', async () => {
    const secret = 'the coturn static-auth-secret';
    const turnDir = mkdtempSync(join(tmpdir(), 'parus-calls-turn-'));
    const withTurn = await startRelay({
      host: '127.0.0.1',
      port: 0,
      dataDir: turnDir,
      turn: { urls: ['turn:127.0.0.1:3478?transport=udp'], secret, ttlSeconds: 7200 },
    });
    try {
      const mk = async (name: string): Promise<Account> => {
        const a = await Account.create({
          store: new MemoryStore(),
          transport: nodeTransport(),
          name,
          relay: withTurn.address,
        });
        open.push(a);
        return a;
      };
      const alice = await mk('Alice');
      // No queue on the relay yet (no contact): nothing to prove membership with.
      expect(await alice.turnServers()).toEqual([]);
      const bob = await mk('Bob');
      await befriend(alice, bob, 'alice');
      const [server] = await alice.turnServers();
      expect(server!.urls).toEqual(['turn:127.0.0.1:3478?transport=udp']);
      const [expiry, id] = server!.username.split(':');
      expect(Number(expiry)).toBeGreaterThan(Date.now() / 1000 + 7000);
      expect(id).toMatch(/^[0-9a-f]{16}$/);
      expect(server!.credential).toBe(createHmac('sha1', secret).update(server!.username).digest('base64'));
      // The relay of the other tests offers none.
      const { alice: a2 } = await pair();
      expect(await a2.turnServers()).toEqual([]);
      const status = (await (await fetch(`http://127.0.0.1:${withTurn.port}/status.json`)).json()) as {
        turn: boolean;
      };
      expect(status.turn).toBe(true);
      const plain = (await (await fetch(`http://127.0.0.1:${relay.port}/status.json`)).json()) as {
        turn: boolean;
      };
      expect(plain.turn).toBe(false);
    } finally {
      for (const a of open.splice(0)) await a.close();
      await withTurn.close();
      rmSync(turnDir, { recursive: true, force: true });
    }
  });
});
