// Batched acks over real WebSockets (core ack-batch.ts, docs/decisions/0016): one `ack` frame
// deletes several messages of a queue and frees their places in the delivery window; a bad
// batch (too many ids, an id twice, an unknown id, a forged authenticator, a malformed id
// string) gets a typed error and deletes nothing.
import {
  MAX_ACK_BATCH,
  generateDhKeyPair,
  initCrypto,
  openDelivery,
  packAckIds,
  systemRandom,
  utf8,
} from '@parus/core';
import type { MsgFrame, RelayFrame } from '@parus/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tempRelays } from './temp-relay.ts';
import { Recipient, TestClient, send } from './test-client.ts';

const relays = tempRelays();
beforeAll(() => initCrypto());
afterEach(() => relays.cleanup());

function ackMany(client: TestClient, q: Recipient, mids: Uint8Array, key = q.rk): Promise<RelayFrame> {
  return client.request(client.authed({ t: 'ack', rid: q.rid, mids }, key));
}

function opened(q: Recipient, m: MsgFrame): string {
  return new TextDecoder().decode(openDelivery(q.key, m.mid, m.body).body);
}

/** A queue with `n` messages waiting, subscribed on `alice`, its first `window` delivered. */
async function setUp(n: number, window = 3) {
  const relay = await relays.start({ limits: { deliveryWindow: window } });
  const alice = await TestClient.connect(relay.address);
  const q = new Recipient();
  await q.create(alice);
  for (let i = 0; i < n; i++) await send(alice, q.sid, utf8(`m${i}`));
  expect(await q.sub(alice)).toMatchObject({ pending: n });
  const first = await alice.messages(q.rid, Math.min(n, window));
  return { relay, alice, q, first };
}

describe('batched acks', () => {
  it('deletes every id of the batch and frees their places in the window', async () => {
    const { relay, alice, q, first } = await setUp(7);
    expect(await ackMany(alice, q, packAckIds(first.map((m) => m.mid)))).toMatchObject({ t: 'ok' });
    expect(relay.stats().messages).toBe(4);
    const next = await alice.messages(q.rid, 3);
    expect(next.map((m) => opened(q, m))).toEqual(['m3', 'm4', 'm5']);
    // The single-id form is still accepted beside the batched one.
    expect(await q.ack(alice, next[0]!.mid)).toMatchObject({ t: 'ok' });
    expect(await ackMany(alice, q, packAckIds(next.slice(1).map((m) => m.mid)))).toMatchObject({ t: 'ok' });
    const [last] = await alice.messages(q.rid, 1);
    expect(opened(q, last!)).toBe('m6');
    expect(await ackMany(alice, q, packAckIds([last!.mid]))).toMatchObject({ t: 'ok' });
    expect(relay.stats().messages).toBe(0);
  });

  it('refuses a batch with an unknown id and deletes none of it', async () => {
    const { relay, alice, q, first } = await setUp(3);
    const mids = packAckIds([first[0]!.mid, systemRandom.bytes(16), first[1]!.mid]);
    expect(await ackMany(alice, q, mids)).toMatchObject({ t: 'err', code: 'NOT_FOUND' });
    expect(relay.stats().messages).toBe(3);
    // The recipient said it was done with them: a fresh subscription still finds all three.
    const again = await TestClient.connect(relay.address);
    expect(await q.sub(again)).toMatchObject({ t: 'ok', pending: 3 });
  });

  it('refuses too many ids, an id twice, malformed ids and a forged authenticator, changing nothing', async () => {
    const { relay, alice, q, first } = await setUp(3);
    const mids = first.map((m) => m.mid);
    const tooMany = new Uint8Array((MAX_ACK_BATCH + 1) * 16);
    for (let i = 0; i < MAX_ACK_BATCH + 1; i++) {
      tooMany[i * 16] = i & 0xff;
      tooMany[i * 16 + 1] = i >> 8;
    }
    tooMany.set(mids[0]!, 0);
    expect(await ackMany(alice, q, tooMany)).toMatchObject({ t: 'err', code: 'DECODE' });
    const twice = new Uint8Array(32);
    twice.set(mids[0]!, 0);
    twice.set(mids[0]!, 16);
    expect(await ackMany(alice, q, twice)).toMatchObject({ t: 'err', code: 'DECODE' });
    expect(await ackMany(alice, q, mids[0]!.subarray(0, 15))).toMatchObject({ t: 'err', code: 'DECODE' });
    expect(await ackMany(alice, q, new Uint8Array(0))).toMatchObject({ t: 'err', code: 'DECODE' });
    const both = alice.authed({ t: 'ack', rid: q.rid, mid: mids[0]!, mids: packAckIds([mids[1]!]) }, q.rk);
    expect(await alice.request(both)).toMatchObject({ t: 'err', code: 'DECODE' });
    const forger = generateDhKeyPair(systemRandom);
    expect(await ackMany(alice, q, packAckIds(mids), forger)).toMatchObject({ t: 'err', code: 'AUTH' });
    // Another queue's owner cannot ack this queue's messages either.
    const other = new Recipient();
    await other.create(alice);
    expect(await ackMany(alice, q, packAckIds(mids), other.rk)).toMatchObject({ t: 'err', code: 'AUTH' });
    expect(relay.stats().messages).toBe(3);
    // Nothing was acked: the window is still full, and the good batch still works.
    await alice.ping();
    expect(alice.pendingFrames().filter((f) => f.t === 'msg')).toHaveLength(0);
    expect(await ackMany(alice, q, packAckIds(mids))).toMatchObject({ t: 'ok' });
    expect(relay.stats().messages).toBe(0);
  });
});
