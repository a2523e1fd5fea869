// A turn's frames written by the connection itself, and coalesced answers (decision 0064): a
// client whose hello asked for `oks` gets the plain `ok`s of one turn in one frame, placed where
// the first of them was; a client that did not ask gets every `ok` alone, as before; frames of
// every WebSocket header size arrive whole.
import type { Socket } from 'node:net';
import { decodeRelayFrame, initCrypto, openDelivery, systemRandom, utf8 } from '@parus/core';
import type { RelayFrame } from '@parus/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tempRelays } from './temp-relay.ts';
import { Recipient, TestClient, send } from './test-client.ts';

const relays = tempRelays();
beforeAll(() => initCrypto());
afterEach(() => relays.cleanup());

/** Sends `frames` in one TCP write, so that the relay reads them in one turn. */
function sendTogether(client: TestClient, frames: Parameters<TestClient['sendFrame']>[0][]): void {
  const socket = (client.ws as unknown as { _socket: Socket })._socket;
  socket.cork();
  for (const frame of frames) client.sendFrame(frame);
  socket.uncork();
}

function decoded(client: TestClient): RelayFrame[] {
  return client.raw.map((bytes) => decodeRelayFrame(bytes));
}

describe('coalesced oks', () => {
  it('answers the pings of one turn in one oks frame, and an id of 2^32 or more alone', async () => {
    const relay = await relays.start();
    const client = await TestClient.connect(relay.address, { oks: true });
    const ids = [1, 2, 3, 4, 5];
    const answers = ids.map((id) => client.replyTo(id));
    sendTogether(
      client,
      ids.map((id) => ({ t: 'ping', id })),
    );
    expect(await Promise.all(answers)).toEqual(ids.map((id) => ({ t: 'ok', id })));
    const big = 2 ** 32 + 1;
    expect(await client.request({ t: 'ping', id: big })).toEqual({ t: 'ok', id: big });

    const frames = decoded(client); // the welcome is not in raw
    // Every id answered once, and the five in fewer frames than five.
    expect(frames.flatMap((f) => (f.t === 'oks' ? f.ids : f.t === 'ok' ? [f.id] : []))).toEqual([
      ...ids,
      big,
    ]);
    expect(frames.some((f) => f.t === 'oks')).toBe(true);
    expect(frames.at(-1)).toEqual({ t: 'ok', id: big });
    await client.close();
  });

  it('answers a client that did not ask with one ok per command', async () => {
    const relay = await relays.start();
    const client = await TestClient.connect(relay.address);
    const ids = [1, 2, 3, 4, 5];
    const answers = ids.map((id) => client.replyTo(id));
    sendTogether(
      client,
      ids.map((id) => ({ t: 'ping', id })),
    );
    await Promise.all(answers);
    expect(decoded(client)).toEqual(ids.map((id) => ({ t: 'ok', id })));
    await client.close();
  });

  it('coalesces the oks of sends taken in one commit, and an ack is answered before the delivery it lets go', async () => {
    const relay = await relays.start({ limits: { deliveryWindow: 1 } });
    const alice = await TestClient.connect(relay.address, { oks: true });
    const q = new Recipient();
    await q.create(alice);
    // Nobody subscribed: each send is written in the group commit, and answered after it.
    const sends = [0, 1, 2].map((i) => ({
      t: 'send' as const,
      id: alice.nextId(),
      sid: q.sid,
      body: utf8(`m${i}`),
    }));
    const answers = sends.map((f) => alice.replyTo(f.id));
    sendTogether(alice, sends);
    expect((await Promise.all(answers)).map((a) => a.t)).toEqual(['ok', 'ok', 'ok']);
    expect(decoded(alice).some((f) => f.t === 'oks' && f.ids.length >= 2)).toBe(true);

    expect(await q.sub(alice)).toMatchObject({ t: 'ok', pending: 3 });
    const [first] = await alice.messages(q.rid, 1);
    const before = alice.raw.length;
    const ack = q.ack(alice, first!.mid);
    const [second] = await alice.messages(q.rid, 1);
    expect(await ack).toMatchObject({ t: 'ok' });
    const after = decoded(alice).slice(before);
    const answeredAt = after.findIndex((f) => f.t === 'ok' || f.t === 'oks');
    const deliveredAt = after.findIndex((f) => f.t === 'msg');
    expect(answeredAt).toBeGreaterThanOrEqual(0);
    expect(answeredAt).toBeLessThan(deliveredAt);
    expect(new TextDecoder().decode(openDelivery(q.key, second!.mid, second!.body).body)).toBe('m1');
    await alice.close();
  });

  it('delivers frames of every WebSocket header size whole (2, 4 and 10 bytes)', async () => {
    const relay = await relays.start();
    const alice = await TestClient.connect(relay.address, { oks: true });
    const q = new Recipient();
    await q.create(alice);
    expect(await q.sub(alice)).toMatchObject({ t: 'ok', pending: 0 });
    const bodies = [1, 60, 300, 70_000, 150_000].map((n) => systemRandom.bytes(n));
    for (const body of bodies) expect(await send(alice, q.sid, body)).toMatchObject({ t: 'ok' });
    const got = await alice.messages(q.rid, bodies.length);
    expect(got.map((m) => Buffer.from(openDelivery(q.key, m.mid, m.body).body).toString('hex'))).toEqual(
      bodies.map((b) => Buffer.from(b).toString('hex')),
    );
    await alice.close();
  });
});
