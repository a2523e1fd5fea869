// The relay's mesh part with real relays on loopback (docs/decisions/0033): relays that join
// link into a bridgeless cloud and say so in /status.json; a client's send forwarded to
// another relay is stored once, whatever the retries; and what a link peer may try (the wrong
// key, a forged advert, a replayed forward, a bad authenticator) is refused and changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHALLENGE_BYTES,
  MAX_LINK_FRAME_BYTES,
  RELAY_LINK_VERSION,
  authenticateForward,
  checkKeyRecord,
  createLinkStateAdvert,
  createRelayDescriptor,
  decodeLinkFrame,
  deriveForwardAuthKey,
  encodeLinkFrame,
  encodeLinkStateAdvert,
  forwardId,
  generateDhKeyPair,
  generateSignKeyPair,
  initCrypto,
  openDelivery,
  parseRelayAddress,
  relayFingerprint,
  signLinkAuth,
  systemRandom,
  toBase64Url,
  utf8,
  verifyLinkWelcome,
} from '@parus/core';
import type { DhKeyPair, LinkFrame, RelayFrame, SignKeyPair } from '@parus/core';
import { WebSocket } from 'ws';
import type { Relay } from '../src/index.ts';
import { tempRelays } from './temp-relay.ts';
import { Recipient, TestClient, sameBytes, withTimeout } from './test-client.ts';

const relays = tempRelays();
const cloud: Relay[] = [];
const logs = new Map<Relay, string[]>();

interface Status {
  relay: { fingerprint: string; address: string; version: string };
  uptime: number;
  users: number;
  queues: number;
  relays: Array<{ fingerprint: string }>;
  links: Array<{ from: string; to: string }>;
  neighbours: string[];
  routes: Array<{ to: string; nextHop: string; hops: number; path: string[] }>;
  bridges: unknown[];
  forwards: { held: number; forwarded: number; delivered: number };
}

async function status(relay: Relay): Promise<Status> {
  const res = await fetch(`http://127.0.0.1:${relay.port}/status.json`);
  return (await res.json()) as Status;
}

/** Waits (polling, no fixed sleep for the result) until `check` holds, up to `ms`. */
async function until(check: () => Promise<boolean> | boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function start(join: string[]): Promise<Relay> {
  const lines: string[] = [];
  const relay = await relays.start({ join, log: (l) => lines.push(l) });
  logs.set(relay, lines);
  return relay;
}

function idOf(relay: Relay): string {
  return toBase64Url(parseRelayAddress(relay.address).fingerprint);
}

/** A raw link peer: does the dialer's side of the handshake with `sign`, then sends what a test says. */
class RawPeer {
  readonly frames: LinkFrame[] = [];
  private readonly waiters: Array<{ match: (f: LinkFrame) => boolean; resolve: (f: LinkFrame) => void }> = [];
  closed = false;

  private constructor(
    readonly ws: WebSocket,
    readonly sign: SignKeyPair,
  ) {
    ws.on('message', (data: Buffer) => {
      const frame = decodeLinkFrame(new Uint8Array(data));
      const at = this.waiters.findIndex((w) => w.match(frame));
      if (at >= 0) this.waiters.splice(at, 1)[0]!.resolve(frame);
      else this.frames.push(frame);
    });
    ws.on('close', () => {
      this.closed = true;
    });
  }

  /** Links to `relay`; `authKey` signs the last step (another key than the one announced: a liar). */
  static async link(relay: Relay, sign: SignKeyPair, authKey: SignKeyPair = sign): Promise<RawPeer> {
    const ws = new WebSocket(`ws://127.0.0.1:${relay.port}/mesh`, { perMessageDeflate: false });
    await withTimeout(
      new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject)),
      'open',
    );
    const peer = new RawPeer(ws, sign);
    const challenge = systemRandom.bytes(CHALLENGE_BYTES);
    peer.send({ t: 'lhello', v: RELAY_LINK_VERSION, key: sign.publicKey, challenge });
    const welcome = await peer.wait((f) => f.t === 'lwelcome');
    if (welcome.t !== 'lwelcome' || !verifyLinkWelcome(welcome, challenge, sign.publicKey))
      throw new Error('bad welcome');
    peer.send({
      t: 'lauth',
      sig: signLinkAuth(authKey.secretKey, welcome.challenge, challenge, welcome.key),
    });
    return peer;
  }

  send(frame: LinkFrame): void {
    this.ws.send(encodeLinkFrame(frame));
  }

  wait(match: (f: LinkFrame) => boolean, what = 'link frame'): Promise<LinkFrame> {
    const at = this.frames.findIndex(match);
    if (at >= 0) return Promise.resolve(this.frames.splice(at, 1)[0]!);
    return withTimeout(
      new Promise<LinkFrame>((resolve) => this.waiters.push({ match, resolve })),
      what,
      20_000,
    );
  }

  close(): void {
    this.ws.terminate();
  }
}

beforeAll(async () => {
  await initCrypto();
  // Each relay joins through the one before it: a chain of joins, which the rules turn into
  // a cloud where each relay has 3 links and no bridge.
  cloud.push(await start([]));
  for (let i = 1; i < 4; i++) cloud.push(await start([cloud[i - 1]!.address]));
  await until(async () => {
    const all = await Promise.all(cloud.map(status));
    return all.every((s) => s.relays.length === 4 && s.neighbours.length >= 3 && s.bridges.length === 0);
  }, 'four relays in one bridgeless cloud');
}, 90_000);

afterAll(() => relays.cleanup());

describe('joining and status', () => {
  it('says what it is, what it knows and how it routes, in /status.json', async () => {
    const s = await status(cloud[0]!);
    expect(s.relay.fingerprint).toBe(idOf(cloud[0]!));
    expect(s.relay.address).toBe(cloud[0]!.address);
    expect(new Set(s.relays.map((r) => r.fingerprint))).toEqual(new Set(cloud.map(idOf)));
    // Every relay has at least 3 links: 4 relays, all linked.
    expect(s.links).toHaveLength(6);
    for (const l of s.links) expect(cloud.map(idOf)).toEqual(expect.arrayContaining([l.from, l.to]));
    expect(s.routes.map((r) => r.to).sort()).toEqual(cloud.slice(1).map(idOf).sort());
    for (const r of s.routes) expect(r.path).toEqual([idOf(cloud[0]!), r.to]);
    expect(typeof s.uptime).toBe('number');
    expect(typeof s.users).toBe('number');
    expect(typeof s.queues).toBe('number');
  });

  it('serves /status in Traditional Chinese and English under the web CSP, with the links drawn', async () => {
    const zh = await fetch(`http://127.0.0.1:${cloud[1]!.port}/status`);
    expect(zh.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await zh.text();
    expect(html).toContain('lang="zh-TW"');
    expect(html).toContain('中繼站');
    expect(html).toContain('<svg');
    expect((html.match(/<line /g) ?? []).length).toBe(6);
    expect(html).not.toMatch(/<script|style=|https?:\/\/(?!127|www\.w3\.org\/2000\/svg)/);
    const en = await (await fetch(`http://127.0.0.1:${cloud[1]!.port}/status?lang=en`)).text();
    expect(en).toContain('lang="en"');
    expect(en).toContain('Relays known');
    const css = await fetch(`http://127.0.0.1:${cloud[1]!.port}/status.css`);
    expect(css.headers.get('content-type')).toContain('text/css');
  });
});

/** A queue on `relay` secured with a sender key, and its subscribed recipient. */
async function queueOn(relay: Relay): Promise<{ client: TestClient; recipient: Recipient; sk: DhKeyPair }> {
  const client = await TestClient.connect(relay.address);
  const recipient = new Recipient();
  const sk = generateDhKeyPair(systemRandom);
  await recipient.create(client, sk);
  const sub = await recipient.sub(client);
  expect(sub.t).toBe('ok');
  return { client, recipient, sk };
}

function forwardAuth(
  sk: DhKeyPair,
  relayDh: Uint8Array,
  to: Uint8Array,
  sid: Uint8Array,
  body: Uint8Array,
): Uint8Array {
  return authenticateForward(deriveForwardAuthKey(sk.secretKey, relayDh, to, sk.publicKey), to, sid, body);
}

async function keyRecordOf(via: TestClient, to: Uint8Array): Promise<Uint8Array> {
  const id = via.nextId();
  via.sendFrame({ t: 'rkey', id, to });
  const answer = await via.waitFor((f) => (f.t === 'rkey' || f.t === 'err') && f.id === id, 'rkey');
  if (answer.t !== 'rkey') throw new Error(`rkey refused: ${JSON.stringify(answer)}`);
  checkKeyRecord(answer, to);
  return answer.dh;
}

function reply(client: TestClient, id: number): Promise<RelayFrame> {
  return client.waitFor(
    (f) => (f.t === 'ok' || f.t === 'err') && 'id' in f && f.id === id,
    `reply ${id}`,
    30_000,
  );
}

describe('forwarded sends', () => {
  it('stores a send forwarded from another relay once, however often it comes', async () => {
    const dest = cloud[3]!;
    const to = parseRelayAddress(dest.address).fingerprint;
    const { client: reader, recipient, sk } = await queueOn(dest);
    const sender = await TestClient.connect(cloud[0]!.address);
    const relayDh = await keyRecordOf(sender, to);
    const body = utf8('through the cloud');
    const auth = forwardAuth(sk, relayDh, to, recipient.sid, body);
    const stored = dest.stats().messagesStored;
    const first = sender.nextId();
    sender.sendFrame({ t: 'fwd', id: first, to, sid: recipient.sid, body, auth });
    expect((await reply(sender, first)).t).toBe('ok');
    const [msg] = await reader.messages(recipient.rid, 1);
    expect(openDelivery(recipient.key, msg!.mid, msg!.body).body).toEqual(body);
    // The same send again (a retry whose answer was lost, or a replay): answered, not stored again.
    const again = sender.nextId();
    sender.sendFrame({ t: 'fwd', id: again, to, sid: recipient.sid, body, auth });
    expect((await reply(sender, again)).t).toBe('ok');
    await reader.ping();
    expect(reader.pendingFrames().filter((f) => f.t === 'msg')).toHaveLength(0);
    expect(dest.stats().messagesStored).toBe(stored + 1);
    await sender.close();
    await reader.close();
  });

  it('refuses a forward whose authenticator is not the sender key’s, storing nothing', async () => {
    const dest = cloud[2]!;
    const to = parseRelayAddress(dest.address).fingerprint;
    const { client: reader, recipient } = await queueOn(dest);
    const sender = await TestClient.connect(cloud[0]!.address);
    const relayDh = await keyRecordOf(sender, to);
    const body = utf8('not yours');
    const stranger = generateDhKeyPair(systemRandom);
    const stored = dest.stats().messagesStored;
    const id = sender.nextId();
    sender.sendFrame({
      t: 'fwd',
      id,
      to,
      sid: recipient.sid,
      body,
      auth: forwardAuth(stranger, relayDh, to, recipient.sid, body),
    });
    const answer = await reply(sender, id);
    expect(answer).toMatchObject({ t: 'err', code: 'AUTH' });
    await reader.ping();
    expect(reader.pendingFrames().filter((f) => f.t === 'msg')).toHaveLength(0);
    expect(dest.stats().messagesStored).toBe(stored);
    await sender.close();
    await reader.close();
  });

  it('answers rkey for an unknown relay with NOT_FOUND (the client then sends directly)', async () => {
    const sender = await TestClient.connect(cloud[0]!.address);
    const id = sender.nextId();
    sender.sendFrame({ t: 'rkey', id, to: systemRandom.bytes(32) });
    expect(await sender.waitFor((f) => 'id' in f && f.id === id)).toMatchObject({
      t: 'err',
      code: 'NOT_FOUND',
    });
    await sender.close();
  });
});

describe('what a link peer may try', () => {
  it('does not link to a relay whose key is not the one its address pins', async () => {
    const impostorAddress = `parus://${toBase64Url(systemRandom.bytes(32))}@127.0.0.1:${cloud[0]!.port}`;
    const lone = await start([impostorAddress]);
    await until(
      () => (logs.get(lone) ?? []).some((l) => l.includes('refused during its handshake: VerificationError')),
      'the refused handshake',
    );
    expect((await status(lone)).neighbours).toEqual([]);
    expect((await status(cloud[0]!)).neighbours).not.toContain(idOf(lone));
  });

  it('refuses a peer that does not hold the key it announced', async () => {
    const announced = generateSignKeyPair(systemRandom);
    const peer = await RawPeer.link(cloud[1]!, announced, generateSignKeyPair(systemRandom));
    const refusal = await peer.wait((f) => f.t === 'lerr');
    expect(refusal).toMatchObject({ t: 'lerr', code: 'VERIFICATION' });
    await until(() => peer.closed, 'the link closed');
    const s = await status(cloud[1]!);
    expect(s.neighbours).not.toContain(toBase64Url(relayFingerprint(announced.publicKey)));
  });

  it('refuses a forged advert over a link, and keeps its database', async () => {
    const peerKey = generateSignKeyPair(systemRandom);
    const peer = await RawPeer.link(cloud[1]!, peerKey);
    await peer.wait((f) => f.t === 'lsa'); // the link is open: the relay sends its database
    const before = await status(cloud[1]!);
    // An advert in another relay's name, with links to everyone, not signed by that relay.
    const victim = generateSignKeyPair(systemRandom);
    const now = Date.now();
    const descriptor = createRelayDescriptor({
      relay: victim,
      addresses: [`parus://${toBase64Url(relayFingerprint(victim.publicKey))}@127.0.0.1:9`],
      version: 'x',
      capacity: 1,
      issued: now,
    });
    const advert = createLinkStateAdvert({
      relay: victim,
      seq: 1,
      issued: now,
      descriptor,
      links: cloud.map((r) => ({ to: idOf(r), cost: 1 })),
    });
    const forged = encodeLinkStateAdvert({ ...advert, links: [], sig: systemRandom.bytes(64) });
    peer.send({ t: 'lsa', data: forged });
    expect(await peer.wait((f) => f.t === 'lerr')).toMatchObject({ code: 'VERIFICATION' });
    const after = await status(cloud[1]!);
    expect(after.relays.map((r) => r.fingerprint).sort()).toEqual(
      before.relays.map((r) => r.fingerprint).sort(),
    );
    expect(after.relays.map((r) => r.fingerprint)).not.toContain(
      toBase64Url(relayFingerprint(victim.publicKey)),
    );
    peer.close();
  });

  it('stores a replayed forward once, and refuses one whose body was changed', async () => {
    const dest = cloud[1]!;
    const to = parseRelayAddress(dest.address).fingerprint;
    const { client: reader, recipient, sk } = await queueOn(dest);
    const sender = await TestClient.connect(cloud[0]!.address);
    const relayDh = await keyRecordOf(sender, to);
    await sender.close();
    const peer = await RawPeer.link(dest, generateSignKeyPair(systemRandom));
    const body = utf8('once only');
    const auth = forwardAuth(sk, relayDh, to, recipient.sid, body);
    const fid = forwardId(to, recipient.sid, body);
    const stored = dest.stats().messagesStored;
    for (let i = 0; i < 3; i++) {
      peer.send({ t: 'lfwd', to, sid: recipient.sid, body, auth, hops: 1 });
      const done = await peer.wait((f) => f.t === 'ldone' && sameBytes(f.fid, fid));
      expect(done).toEqual({ t: 'ldone', fid });
    }
    await reader.messages(recipient.rid, 1);
    const changed = utf8('once onlY');
    peer.send({ t: 'lfwd', to, sid: recipient.sid, body: changed, auth, hops: 1 });
    const refused = await peer.wait(
      (f) => f.t === 'ldone' && sameBytes(f.fid, forwardId(to, recipient.sid, changed)),
    );
    expect(refused).toMatchObject({ code: 'AUTH' });
    await reader.ping();
    expect(reader.pendingFrames().filter((f) => f.t === 'msg')).toHaveLength(0);
    expect(dest.stats().messagesStored).toBe(stored + 1);
    peer.close();
    await reader.close();
  });

  it('answers a frame that does not decode with a typed error and keeps the link; an oversized one ends it', async () => {
    const peer = await RawPeer.link(cloud[2]!, generateSignKeyPair(systemRandom));
    await peer.wait((f) => f.t === 'lsa');
    peer.ws.send(Uint8Array.from([0xa1, 0x61, 0x74, 0x63, 0x7a, 0x7a, 0x7a]), { binary: true });
    expect(await peer.wait((f) => f.t === 'lerr')).toMatchObject({ code: 'DECODE' });
    peer.ws.send(new Uint8Array(100 * 1024), { binary: true });
    expect(await peer.wait((f) => f.t === 'lerr')).toMatchObject({ code: 'DECODE' });
    expect(peer.closed).toBe(false);
    // Past the link's frame bound the socket is closed before the frame is read whole.
    peer.ws.send(new Uint8Array(MAX_LINK_FRAME_BYTES + 1), { binary: true });
    await until(() => peer.closed, 'the oversized frame ends the link');
  });
});

describe('store and forward', () => {
  it('holds a forward through an outage and a restart of both relays, then stores it once', async () => {
    const aDir = relays.dir();
    const bDir = relays.dir();
    let a = await relays.start({ dataDir: aDir });
    let b = await relays.start({ dataDir: bDir, join: [a.address] });
    await until(async () => (await status(a)).routes.some((r) => r.to === idOf(b)), 'a route from A to B');
    const to = parseRelayAddress(b.address).fingerprint;
    const { client: reader, recipient, sk } = await queueOn(b);
    await reader.close();
    const sender = await TestClient.connect(a.address);
    const relayDh = await keyRecordOf(sender, to);
    const body = utf8('held, not lost');
    const auth = forwardAuth(sk, relayDh, to, recipient.sid, body);

    await b.close();
    await until(async () => (await status(a)).neighbours.length === 0, 'the link down');
    const id = sender.nextId();
    const answer = reply(sender, id).catch(() => undefined);
    sender.sendFrame({ t: 'fwd', id, to, sid: recipient.sid, body, auth });
    await until(async () => (await status(a)).forwards.held === 1, 'the forward held at A');
    // A restarts with the forward on disk; B comes back later.
    await a.close();
    await answer;
    a = await relays.start({ dataDir: aDir, port: a.port });
    expect((await status(a)).forwards.held).toBe(1);
    b = await relays.start({ dataDir: bDir, port: b.port, join: [a.address] });
    await until(async () => (await status(a)).forwards.held === 0, 'the forward delivered');

    // The client, which never got its answer, sends it again: answered, not stored twice.
    const again = await TestClient.connect(a.address);
    const retry = again.nextId();
    again.sendFrame({ t: 'fwd', id: retry, to, sid: recipient.sid, body, auth });
    expect((await reply(again, retry)).t).toBe('ok');
    const back = await TestClient.connect(b.address);
    expect(await recipient.sub(back)).toMatchObject({ t: 'ok', pending: 1 });
    const [msg] = await back.messages(recipient.rid, 1);
    expect(openDelivery(recipient.key, msg!.mid, msg!.body).body).toEqual(body);
    await back.ping();
    expect(back.pendingFrames().filter((f) => f.t === 'msg')).toHaveLength(0);
    await again.close();
    await back.close();
  }, 120_000);
});

describe('a relay that can only dial out (behind NAT)', () => {
  it('is reached over the links it dialled, both ways', async () => {
    const a = await relays.start({});
    const b = await relays.start({ join: [a.address] });
    // Its address names a host nobody can reach: every link it has, it dialled.
    const nat = await relays.start({ publicHost: 'nat.invalid', join: [a.address, b.address] });
    await until(async () => {
      const s = await status(nat);
      return s.routes.length === 2 && (await status(a)).routes.some((r) => r.to === idOf(nat));
    }, 'the relay behind NAT in the cloud');
    expect(nat.address).toContain('@nat.invalid:');
    // Its own clients reach it on their side of the NAT.
    const local = { ...nat, address: nat.address.replace('@nat.invalid:', '@127.0.0.1:') };

    for (const [from, dest] of [
      [a, local],
      [local, a],
    ] as const) {
      const to = parseRelayAddress(dest.address).fingerprint;
      const { client: reader, recipient, sk } = await queueOn(dest);
      const sender = await TestClient.connect(from.address);
      const body = utf8(`from ${idOf(from).slice(0, 4)}`);
      const auth = forwardAuth(sk, await keyRecordOf(sender, to), to, recipient.sid, body);
      const id = sender.nextId();
      sender.sendFrame({ t: 'fwd', id, to, sid: recipient.sid, body, auth });
      expect((await reply(sender, id)).t).toBe('ok');
      const [msg] = await reader.messages(recipient.rid, 1);
      expect(openDelivery(recipient.key, msg!.mid, msg!.body).body).toEqual(body);
      await sender.close();
      await reader.close();
    }
  }, 120_000);
});
