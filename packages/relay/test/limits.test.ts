import { RELAY_PROTOCOL_VERSION, encodeFrame, initCrypto, openDelivery, utf8 } from '@parus/core';
import type { MsgFrame, RelayFrame } from '@parus/core';
import { DEFAULT_RELAY_LIMITS, SMALL_RELAY_LIMITS } from '../src/index.ts';
import { WebSocket } from 'ws';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tempRelays } from './temp-relay.ts';
import { Recipient, TestClient, send, withTimeout } from './test-client.ts';

const relays = tempRelays();
beforeAll(() => initCrypto());
afterEach(() => relays.cleanup());

/** Resolves when `log` receives a line that matches. */
function logWatcher(): {
  log: (line: string) => void;
  when: (re: RegExp) => Promise<string>;
  lines: () => string[];
} {
  const lines: string[] = [];
  const waiting: Array<{ re: RegExp; resolve: (line: string) => void }> = [];
  return {
    lines: () => [...lines],
    log(line) {
      lines.push(line);
      for (const w of waiting.splice(0)) {
        if (w.re.test(line)) w.resolve(line);
        else waiting.push(w);
      }
    },
    when(re) {
      const seen = lines.find((l) => re.test(l));
      if (seen) return Promise.resolve(seen);
      return withTimeout(new Promise((resolve) => waiting.push({ re, resolve })), `log ${re}`);
    },
  };
}

describe('queue quota', () => {
  it('refuses a send over the message count, until an ack makes room', async () => {
    const relay = await relays.start({ limits: { maxQueueMessages: 3 } });
    const client = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(client);
    for (let i = 0; i < 3; i++) expect(await send(client, q.sid, utf8(`m${i}`))).toMatchObject({ t: 'ok' });
    expect(await send(client, q.sid, utf8('m3'))).toMatchObject({ t: 'err', code: 'QUOTA' });
    expect(relay.stats().messages).toBe(3);

    await q.sub(client);
    const [first] = await client.messages(q.rid, 1);
    await q.ack(client, first!.mid);
    expect(await send(client, q.sid, utf8('m3'))).toMatchObject({ t: 'ok' });
  });

  it('refuses a send over the byte quota', async () => {
    const relay = await relays.start({ limits: { maxQueueBytes: 2_000 } });
    const client = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(client);
    expect(await send(client, q.sid, new Uint8Array(1_200))).toMatchObject({ t: 'ok' });
    expect(await send(client, q.sid, new Uint8Array(1_200))).toMatchObject({ t: 'err', code: 'QUOTA' });
    expect(await send(client, q.sid, new Uint8Array(100))).toMatchObject({ t: 'ok' });
  });

  it('limits subscriptions per connection', async () => {
    const relay = await relays.start({ limits: { maxSubscriptionsPerConnection: 2 } });
    const client = await TestClient.connect(relay.address);
    const queues = [new Recipient(), new Recipient(), new Recipient()];
    for (const q of queues) await q.create(client);
    expect(await queues[0]!.sub(client)).toMatchObject({ t: 'ok' });
    expect(await queues[1]!.sub(client)).toMatchObject({ t: 'ok' });
    expect(await queues[2]!.sub(client)).toMatchObject({ t: 'err', code: 'QUOTA' });
    // Subscribing again to a held queue is not a new subscription.
    expect(await queues[1]!.sub(client)).toMatchObject({ t: 'ok' });
    // Another connection has its own allowance.
    const other = await TestClient.connect(relay.address);
    expect(await queues[2]!.sub(other)).toMatchObject({ t: 'ok' });
  });

  it('limits connections', async () => {
    const relay = await relays.start({ limits: { maxConnections: 2 } });
    await TestClient.connect(relay.address);
    await TestClient.connect(relay.address);
    const ws = new WebSocket(`ws://127.0.0.1:${relay.port}/ws`);
    const status = await withTimeout(
      new Promise<number>((resolve) => {
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', () => resolve(-1));
      }),
      'refusal',
    );
    expect(status).toBe(503);
  });
});

describe('small profile (relay --small, docs/decisions/0035)', () => {
  it('delivers within the small delivery window, and explicit limits apply on top of it', async () => {
    expect(SMALL_RELAY_LIMITS.deliveryWindow).toBeLessThan(DEFAULT_RELAY_LIMITS.deliveryWindow);
    const window = SMALL_RELAY_LIMITS.deliveryWindow!;
    const relay = await relays.start({ small: true, limits: { maxConnectionsPerAddress: 2 } });
    const bob = await TestClient.connect(relay.address);
    const alice = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(bob);
    for (let i = 0; i < window + 8; i++)
      expect(await send(alice, q.sid, utf8(`m${i}`))).toMatchObject({ t: 'ok' });
    expect(await q.sub(bob)).toMatchObject({ t: 'ok', pending: window + 8 });
    const first = await bob.messages(q.rid, window);
    await bob.ping();
    // The window is full: nothing more until an ack.
    expect(bob.pendingFrames().filter((f: RelayFrame) => f.t === 'msg')).toHaveLength(0);
    expect(await q.ack(bob, first[0]!.mid)).toMatchObject({ t: 'ok' });
    expect(openDelivery(q.key, ...midBody(await bob.messages(q.rid, 1)))).toMatchObject({
      body: utf8(`m${window}`),
    });
    // maxConnectionsPerAddress: 2 given explicitly wins over the profile's 32.
    const third = new WebSocket(`ws://127.0.0.1:${relay.port}/ws`);
    const status = await withTimeout(
      new Promise<number>((resolve) => {
        third.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        third.on('error', () => resolve(-1));
      }),
      'refusal',
    );
    expect(status).toBe(429);
  });
});

function midBody(frames: MsgFrame[]): [Uint8Array, Uint8Array] {
  return [frames[0]!.mid, frames[0]!.body];
}

describe('rate limit', () => {
  it('handles frames over the rate later, in order and all of them, never faster than the rate', async () => {
    const rate = 10;
    const relay = await relays.start({ limits: { frameBurst: 5, framesPerSecond: rate } });
    const client = await TestClient.connect(relay.address); // the hello took one token
    const q = new Recipient();
    await q.create(client); // and this one
    const frames = Array.from({ length: 20 }, (_, i) => ({
      t: 'send' as const,
      id: client.nextId(),
      sid: q.sid,
      body: utf8(`flood ${i}`),
    }));
    const started = performance.now();
    const replies = frames.map((f) => client.replyTo(f.id));
    for (const f of frames) client.sendFrame(f);
    const answers = await Promise.all(replies);
    const seconds = (performance.now() - started) / 1000;
    expect(answers.every((a) => a.t === 'ok')).toBe(true);
    expect(relay.stats().messages).toBe(20);
    // At most the burst's 5 tokens at once (3 were left), then `rate` a second: the last of
    // the 20 cannot have been handled before (20 - 3) / rate seconds.
    expect(seconds).toBeGreaterThanOrEqual((20 - 5) / rate);
  });

  it('reads a flooding connection at the rate, without closing it or logging more than once; others are unaffected', async () => {
    const watch = logWatcher();
    const relay = await relays.start({ log: watch.log, limits: { frameBurst: 3, framesPerSecond: 20 } });
    const flooder = await TestClient.connect(relay.address);
    const calm = await TestClient.connect(relay.address);
    const ids = Array.from({ length: 60 }, () => flooder.nextId());
    const answers = ids.map((id) => flooder.replyTo(id));
    for (const id of ids) flooder.sendFrame({ t: 'ping', id });
    expect(await calm.ping()).toMatchObject({ t: 'ok' });
    expect(await Promise.all(answers)).toEqual(ids.map((id) => ({ t: 'ok', id })));
    expect(flooder.ws.readyState).toBe(WebSocket.OPEN);
    expect(watch.lines().filter((l) => /frame rate/.test(l))).toHaveLength(1);
  });
});

describe('expiry', () => {
  it('never delivers an expired message, and purges it', async () => {
    let now = 1_700_000_000_000;
    const watch = logWatcher();
    const day = 24 * 60 * 60 * 1000;
    const relay = await relays.start({
      now: () => now,
      log: watch.log,
      limits: { messageTtlMs: day, purgeIntervalMs: 20 },
    });
    const client = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(client);
    await send(client, q.sid, utf8('old'));
    now += day; // exactly at expiry: gone
    await send(client, q.sid, utf8('new'));

    const sub = await q.sub(client);
    expect(sub).toMatchObject({ t: 'ok', pending: 1 });
    const [msg] = await client.messages(q.rid, 1);
    const opened = openDelivery(q.key, msg!.mid, msg!.body);
    expect(new TextDecoder().decode(opened.body)).toBe('new');
    expect(opened.ts).toBe(now);
    await client.ping();
    expect(client.pendingFrames().filter((f: RelayFrame) => f.t === 'msg')).toHaveLength(0);

    await watch.when(/^purged 1 expired message/);
    expect(relay.stats()).toMatchObject({ messages: 1, messagesExpired: 1 });
  });

  it('expired messages do not count against a full queue', async () => {
    let now = 1_700_000_000_000;
    const relay = await relays.start({
      now: () => now,
      limits: { messageTtlMs: 1_000, maxQueueMessages: 2, purgeIntervalMs: 1_000_000 },
    });
    const client = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(client);
    await send(client, q.sid, utf8('a'));
    await send(client, q.sid, utf8('b'));
    expect(await send(client, q.sid, utf8('c'))).toMatchObject({ t: 'err', code: 'QUOTA' });
    now += 1_000;
    expect(await send(client, q.sid, utf8('c'))).toMatchObject({ t: 'ok' });
    expect(relay.stats().messages).toBe(1);
  });
});

describe('slow readers', () => {
  it('hello timeout closes a silent connection', async () => {
    const relay = await relays.start({ limits: { helloTimeoutMs: 50 } });
    const ws = new WebSocket(`ws://127.0.0.1:${relay.port}/ws`);
    const code = await withTimeout(
      new Promise<number>((resolve) => ws.on('close', (c) => resolve(c))),
      'close',
    );
    expect(code).toBe(1008);
  });

  it('a connection that stops answering pings is dropped', async () => {
    const relay = await relays.start({ limits: { heartbeatMs: 30 } });
    // autoPong off: this client never answers the relay's pings.
    const ws = new WebSocket(`ws://127.0.0.1:${relay.port}/ws`, { autoPong: false });
    ws.on('open', () =>
      ws.send(encodeFrame({ t: 'hello', v: RELAY_PROTOCOL_VERSION, challenge: new Uint8Array(32) })),
    );
    const code = await withTimeout(
      new Promise<number>((resolve) => ws.on('close', (c) => resolve(c))),
      'close',
    );
    expect(code).toBe(1006);
  });
});
