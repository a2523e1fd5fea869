import {
  MAX_BODY_BYTES,
  MAX_FRAME_BYTES,
  decodeRelayFrame,
  encodeCbor,
  encodeFrame,
  RELAY_PROTOCOL_VERSION,
  generateDhKeyPair,
  initCrypto,
  systemRandom,
  utf8,
} from '@parus/core';
import type { RelayFrame } from '@parus/core';
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HARD_FRAME_BYTES } from '../src/index.ts';
import type { Relay } from '../src/index.ts';
import { tempRelays } from './temp-relay.ts';
import { Recipient, TestClient, send, sendFrame, withTimeout } from './test-client.ts';

const relays = tempRelays();
beforeAll(() => initCrypto());
afterEach(() => relays.cleanup());

/** A relay with one queue holding one message, and a bystander subscribed to it. */
async function scene(): Promise<{ relay: Relay; client: TestClient; bystander: TestClient; q: Recipient }> {
  const relay = await relays.start();
  const client = await TestClient.connect(relay.address);
  const bystander = await TestClient.connect(relay.address);
  const q = new Recipient();
  await q.create(bystander);
  await send(bystander, q.sid, utf8('before'));
  await q.sub(bystander);
  await bystander.messages(q.rid, 1);
  return { relay, client, bystander, q };
}

/** The connection still works, the bystander is unaffected, and nothing stored changed. */
async function stillFine(s: Awaited<ReturnType<typeof scene>>): Promise<void> {
  expect(await s.client.ping()).toMatchObject({ t: 'ok' });
  expect(s.relay.stats()).toMatchObject({ queues: 1, messages: 1 });
  expect(await send(s.bystander, s.q.sid, utf8('after'))).toMatchObject({ t: 'ok' });
  const [msg] = await s.bystander.messages(s.q.rid, 1);
  expect(await s.q.ack(s.bystander, msg!.mid)).toMatchObject({ t: 'ok' });
}

function errOf(client: TestClient): Promise<RelayFrame> {
  return client.waitFor((f) => f.t === 'err', 'err frame');
}

describe('replays', () => {
  it('refuses a repeated or lower request id and executes nothing', async () => {
    const s = await scene();
    const frame = sendFrame(s.client, s.q.sid, utf8('once'));
    expect(await s.client.request(frame)).toMatchObject({ t: 'ok' });
    expect(await s.client.request(frame)).toMatchObject({ t: 'err', code: 'REPLAY', id: frame.id });
    expect(await s.client.request({ ...frame, id: frame.id - 1 })).toMatchObject({
      t: 'err',
      code: 'REPLAY',
    });
    expect(s.relay.stats().messages).toBe(2);
    await s.bystander.messages(s.q.rid, 1);
    expect(await s.client.request({ t: 'ping', id: frame.id })).toMatchObject({ t: 'err', code: 'REPLAY' });
    expect(await s.client.request({ t: 'ping', id: frame.id + 1 })).toMatchObject({ t: 'ok' });
  });

  it('a command captured on one connection fails on another', async () => {
    const s = await scene();
    const other = await TestClient.connect(s.relay.address);
    // A del authenticated for the bystander's session, replayed by someone else.
    const del = s.bystander.authed({ t: 'del', rid: s.q.rid }, s.q.rk);
    expect(await other.request(del)).toMatchObject({ t: 'err', code: 'AUTH', id: del.id });
    const sub = s.bystander.authed({ t: 'sub', rid: s.q.rid }, s.q.rk);
    expect(await other.request(sub)).toMatchObject({ t: 'err', code: 'AUTH' });
    await stillFine(s);
  });

  it('an authenticated send captured on one connection is refused on another', async () => {
    const relay = await relays.start();
    const alice = await TestClient.connect(relay.address);
    const bob = await TestClient.connect(relay.address);
    const eve = await TestClient.connect(relay.address);
    const sk = generateDhKeyPair(systemRandom);
    const q = new Recipient();
    await q.create(alice, sk);
    const frame = sendFrame(bob, q.sid, utf8('authenticated'), sk);
    expect(await bob.request(frame)).toMatchObject({ t: 'ok' });
    expect(await eve.request(frame)).toMatchObject({ t: 'err', code: 'AUTH' });
    expect(relay.stats().messages).toBe(1);
  });
});

describe('malformed frames', () => {
  it('random bytes → DECODE', async () => {
    const s = await scene();
    s.client.sendRaw(systemRandom.bytes(100));
    expect(await errOf(s.client)).toMatchObject({ code: 'DECODE' });
    await stillFine(s);
  });

  it('truncated CBOR → DECODE', async () => {
    const s = await scene();
    const whole = encodeFrame(sendFrame(s.client, s.q.sid, utf8('cut short')));
    s.client.sendRaw(whole.subarray(0, whole.length - 3));
    expect(await errOf(s.client)).toMatchObject({ code: 'DECODE' });
    await stillFine(s);
  });

  it('wrong types and sizes → DECODE with the request id', async () => {
    const s = await scene();
    const cases: Array<Record<string, unknown>> = [
      { t: 'sub', id: 101, rid: 'not bytes', auth: new Uint8Array(32) },
      { t: 'sub', id: 102, rid: new Uint8Array(23), auth: new Uint8Array(32) },
      { t: 'send', id: 103, sid: s.q.sid, body: 42 },
      { t: 'ack', id: 104, rid: s.q.rid, mid: new Uint8Array(15), auth: new Uint8Array(32) },
      { t: 'new', id: 105, rk: new Uint8Array(32), rdh: new Uint8Array(32), auth: new Uint8Array(31) },
      { t: 'bogus', id: 106 },
      { t: 'send', id: 107, sid: s.q.sid, body: new Uint8Array(MAX_BODY_BYTES + 1) },
      // Version 1's Ed25519 signature in place of an authenticator.
      { t: 'del', id: 108, rid: s.q.rid, sig: new Uint8Array(64) },
      { t: 'send', id: 109, sid: s.q.sid, body: new Uint8Array(1), auth: new Uint8Array(64) },
    ];
    for (const c of cases) {
      s.client.sendRaw(encodeCbor(c as never));
      expect(await s.client.replyTo(c.id as number)).toMatchObject({ t: 'err', code: 'DECODE' });
    }
    s.client.sendRaw(encodeCbor({ t: 'ping', id: -1 }));
    expect(await errOf(s.client)).toMatchObject({ code: 'DECODE' });
    s.client.sendRaw(encodeCbor([1, 2, 3]));
    expect(await errOf(s.client)).toMatchObject({ code: 'DECODE' });
    // Non-canonical CBOR: {id: 200, t: 'ping'} with "id" before "t" (canonical order is "t" first).
    s.client.sendRaw(
      Uint8Array.from([0xa2, 0x62, 0x69, 0x64, 0x18, 0xc8, 0x61, 0x74, 0x64, 0x70, 0x69, 0x6e, 0x67]),
    );
    expect(await errOf(s.client)).toMatchObject({ code: 'DECODE' });
    await stillFine(s);
  });

  it('a text message → DECODE', async () => {
    const s = await scene();
    s.client.sendRaw('{"t":"ping","id":1}');
    expect(await errOf(s.client)).toMatchObject({ code: 'DECODE' });
    await stillFine(s);
  });

  it('a frame over MAX_FRAME_BYTES → QUOTA, and the connection stays', async () => {
    const s = await scene();
    s.client.sendRaw(randomBytes(MAX_FRAME_BYTES + 1));
    expect(await errOf(s.client)).toMatchObject({ code: 'QUOTA' });
    await stillFine(s);
  });

  it('a frame over the hard cap closes only that connection', async () => {
    const s = await scene();
    s.client.sendRaw(new Uint8Array(HARD_FRAME_BYTES + 1));
    expect((await s.client.closed).code).toBe(1009);
    s.client = await TestClient.connect(s.relay.address);
    await stillFine(s);
  });

  it('commands before hello → PROTOCOL; a bad hello → PROTOCOL; then hello works', async () => {
    const s = await scene();
    const url = `ws://127.0.0.1:${s.relay.port}/ws`;
    const ws = new WebSocket(url);
    const frames: RelayFrame[] = [];
    let wake: (() => void) | undefined;
    ws.on('message', (data: Buffer) => {
      frames.push(decodeRelayFrame(new Uint8Array(data)));
      wake?.();
    });
    const next = async (): Promise<RelayFrame> => {
      while (frames.length === 0)
        await withTimeout(new Promise<void>((resolve) => (wake = resolve)), 'frame');
      return frames.shift()!;
    };
    await withTimeout(new Promise((resolve) => ws.once('open', resolve)), 'open');

    ws.send(encodeFrame({ t: 'ping', id: 1 }));
    expect(await next()).toMatchObject({ t: 'err', code: 'PROTOCOL', id: 1 });
    // Version 1 (Ed25519 command signatures) is refused at hello, as is a version from the future.
    ws.send(encodeFrame({ t: 'hello', v: 1, challenge: systemRandom.bytes(32) }));
    expect(await next()).toMatchObject({ t: 'err', code: 'PROTOCOL' });
    ws.send(encodeFrame({ t: 'hello', v: RELAY_PROTOCOL_VERSION + 1, challenge: systemRandom.bytes(32) }));
    expect(await next()).toMatchObject({ t: 'err', code: 'PROTOCOL' });
    ws.send(encodeFrame({ t: 'hello', v: RELAY_PROTOCOL_VERSION, challenge: systemRandom.bytes(32) }));
    expect(await next()).toMatchObject({ t: 'welcome' });
    ws.send(encodeFrame({ t: 'hello', v: RELAY_PROTOCOL_VERSION, challenge: systemRandom.bytes(32) }));
    expect(await next()).toMatchObject({ t: 'err', code: 'PROTOCOL' });
    ws.send(encodeFrame({ t: 'ping', id: 1 }));
    expect(await next()).toMatchObject({ t: 'ok', id: 1 });
    ws.close();
    await stillFine(s);
  });

  it('unknown queues → NOT_FOUND', async () => {
    const s = await scene();
    const ghost = new Recipient();
    ghost.rid = systemRandom.bytes(24);
    expect(await ghost.sub(s.client)).toMatchObject({ t: 'err', code: 'NOT_FOUND' });
    expect(await send(s.client, systemRandom.bytes(24), utf8('x'))).toMatchObject({
      t: 'err',
      code: 'NOT_FOUND',
    });
    await stillFine(s);
  });

  it('a queue whose rdh is a low-order point is refused with VERIFICATION', async () => {
    const s = await scene();
    const q = new Recipient();
    const frame = s.client.authed({ t: 'new', rk: q.rk.publicKey, rdh: new Uint8Array(32) }, q.rk);
    expect(await s.client.request(frame)).toMatchObject({ t: 'err', code: 'VERIFICATION' });
    await stillFine(s);
  });

  it('a new whose rk is a low-order point is refused with VERIFICATION, and no queue', async () => {
    const s = await scene();
    const q = new Recipient();
    // No secret agrees on K with a low-order key, so the relay cannot even check the frame.
    const lowOrder = new Uint8Array(32);
    lowOrder[0] = 1; // u = 1, a point of order 4 (RFC 7748 §6.1 / libsodium's blocklist)
    const frame = { t: 'new' as const, id: s.client.nextId(), rk: lowOrder, rdh: q.rdh.publicKey };
    expect(await s.client.request({ ...frame, auth: new Uint8Array(32) })).toMatchObject({
      t: 'err',
      code: 'VERIFICATION',
    });
    await stillFine(s);
  });

  it('a new authenticated with another key than its rk → AUTH and no queue', async () => {
    const s = await scene();
    const q = new Recipient();
    const other = new Recipient();
    const frame = s.client.authed({ t: 'new', rk: q.rk.publicKey, rdh: q.rdh.publicKey }, other.rk);
    expect(await s.client.request(frame)).toMatchObject({ t: 'err', code: 'AUTH' });
    // An authenticator of the right key over another frame is no better.
    const good = s.client.authed({ t: 'new', rk: q.rk.publicKey, rdh: q.rdh.publicKey }, q.rk);
    const tampered = { ...good, id: s.client.nextId(), rdh: other.rdh.publicKey };
    expect(await s.client.request(tampered)).toMatchObject({ t: 'err', code: 'AUTH' });
    await stillFine(s);
  });
});
