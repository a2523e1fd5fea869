/**
 * Fuzzing a real relay over real WebSockets (docs/decisions/0029): at least 100,000 frames
 * (× PARUS_FUZZ_ITERATIONS) from several connections, opened anew as old ones close or use
 * up their request ids. The frames are valid commands of every kind (authenticated with keys
 * the fuzzer holds: hello, new, secure, sub, send, ack, del, ping, the blob and fan-out
 * commands), the same mutated byte by byte or CBOR-aware (fuzz-support.ts), field-level
 * mutations authenticated again so that they reach the command behind the authenticator,
 * random bytes and CBOR, text frames, empty and oversized frames.
 *
 * Afterwards the relay must be alive and right: every answer decoded as a relay frame, no
 * INTERNAL error, no "internal error" in its log, no uncaught exception or rejection; a
 * queue filled before the fuzz still holds its messages intact; an honest client creates a
 * queue, sends, receives and acks. Seed: PARUS_FUZZ_SEED (printed).
 */
import {
  BLOB_CHUNK_BYTES,
  MAX_FRAME_BYTES,
  RELAY_PROTOCOL_VERSION,
  authenticateCommand,
  decodeClientFrame,
  decodeRelayFrame,
  deriveCommandAuthKey,
  encodeCbor,
  encodeFrame,
  fanoutEntryProof,
  generateDhKeyPair,
  initCrypto,
  openDelivery,
  packAckIds,
  parseRelayAddress,
  relayWebSocketUrl,
  systemRandom,
  toHex,
  utf8,
  verify,
  welcomeSigningBytes,
  type AuthenticatedCommand,
  type CborMap,
  type DhKeyPair,
  type MsgFrame,
  type RelayFrame,
} from '@parus/core';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HARD_FRAME_BYTES } from '../src/index.ts';
import type { Relay } from '../src/index.ts';
import {
  FuzzRng,
  concat,
  deepNesting,
  fuzzSettings,
  mutate,
  mutateValue,
  randomValue,
} from '../../core/test/fuzz-support.ts';
import { tempRelays } from './temp-relay.ts';
import { Recipient, TestClient, send, withTimeout } from './test-client.ts';

const { seed, scale } = fuzzSettings();
const FRAMES = Math.round(100_000 * scale);
const CONNECTIONS = 4;
/** Frames one connection sends before it is closed and another opened. */
const FRAMES_PER_CONNECTION = 2_500;
/** Frames between two pings that wait for the relay to catch up. */
const BATCH = 250;
/** Generous: a loaded 2-core machine. */
const REPLY_MS = 60_000;
/** Valid `new` frames the fuzzer sends unmutated: queues it really creates. */
const NEW_QUEUE_BUDGET = 6;
const BLOB_SIZE = 2 * BLOB_CHUNK_BYTES + 100;

const relays = tempRelays();
let relay: Relay;
const logLines: string[] = [];
const uncaught: unknown[] = [];
const onUncaught = (error: unknown): void => {
  uncaught.push(error);
};

/** A queue the fuzzer holds the keys of. */
interface FuzzQueue {
  q: Recipient;
  sk: DhKeyPair;
}
let fuzzQueues: FuzzQueue[] = [];
/** The queue filled before the fuzz, whose keys the fuzzer never sees. */
let kept: Recipient;
const keptBodies = [utf8('kept one'), utf8('kept two'), new Uint8Array(3000).fill(7)];
let newQueuesLeft = NEW_QUEUE_BUDGET;
/** Keys of no queue: strangers' authenticators (a few, so the relay's cache of keys K is exercised, not bypassed). */
let strangerKeys: DhKeyPair[] = [];

beforeAll(async () => {
  await initCrypto();
  console.log(
    `fuzz-relay: seed ${seed} (PARUS_FUZZ_SEED), ${FRAMES} frames (PARUS_FUZZ_ITERATIONS ×${scale})`,
  );
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  relay = await relays.start({
    // The fuzz measures robustness, not the rate limit: frames are not refused for speed.
    // Small queues and delivery windows: full queues are fuzzed too, and each `sub` redelivers little.
    limits: { framesPerSecond: 1_000_000, frameBurst: 1_000_000, maxQueueMessages: 40, deliveryWindow: 16 },
    log: (line) => logLines.push(line),
  });
  const setup = await TestClient.connect(relay.address);
  kept = new Recipient();
  const keptSk = generateDhKeyPair(systemRandom);
  await kept.create(setup, keptSk);
  for (const body of keptBodies) expect(await send(setup, kept.sid, body, keptSk)).toMatchObject({ t: 'ok' });
  fuzzQueues = [];
  strangerKeys = Array.from({ length: 8 }, () => generateDhKeyPair(systemRandom));
  for (let i = 0; i < 3; i++) {
    const q = new Recipient();
    const sk = generateDhKeyPair(systemRandom);
    await q.create(setup, i === 0 ? undefined : sk);
    if (i === 0) expect(await q.secure(setup, sk)).toMatchObject({ t: 'ok' });
    fuzzQueues.push({ q, sk });
  }
  await setup.close();
});

afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
  await relays.cleanup();
});

/** What the fuzzing connections saw, all together. */
const seen = {
  framesSent: 0,
  replies: 0,
  byCode: {} as Record<string, number>,
  byType: {} as Record<string, number>,
  connections: 0,
  closedByRelay: 0,
};

/**
 * One fuzzing connection: a lean client (no inbox) that checks every answer decodes, keeps
 * the message ids it is given (for acks that name real messages) and waits on pings.
 */
class FuzzConnection {
  private waiting: { id: number; resolve: () => void } | undefined;
  lastId = 0;
  private readonly authKeys = new Map<string, Uint8Array>();
  readonly mids: Uint8Array[] = [];
  readonly closed: Promise<void>;
  isClosed = false;
  lid: Uint8Array | undefined;
  bid: Uint8Array | undefined;
  readonly fk = generateDhKeyPair(systemRandom);
  readonly uk = generateDhKeyPair(systemRandom);
  readonly dk = generateDhKeyPair(systemRandom);
  private readonly replies = new Map<number, (f: RelayFrame) => void>();

  private constructor(
    readonly ws: WebSocket,
    readonly session: Uint8Array,
    readonly relayDh: Uint8Array,
  ) {
    this.closed = new Promise((resolve) =>
      ws.on('close', () => {
        this.isClosed = true;
        this.waiting?.resolve();
        resolve();
      }),
    );
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onFrame(new Uint8Array(data), isBinary));
  }

  static async open(address: string): Promise<FuzzConnection> {
    const parsed = parseRelayAddress(address);
    const ws = new WebSocket(relayWebSocketUrl(parsed), {
      perMessageDeflate: false,
      maxPayload: HARD_FRAME_BYTES,
    });
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
      'open',
      REPLY_MS,
    );
    const challenge = systemRandom.bytes(32);
    const welcome = withTimeout(
      new Promise<RelayFrame>((resolve) =>
        ws.once('message', (data: Buffer) => resolve(decodeRelayFrame(new Uint8Array(data)))),
      ),
      'welcome',
      REPLY_MS,
    );
    ws.send(encodeFrame({ t: 'hello', v: RELAY_PROTOCOL_VERSION, challenge }));
    const w = await welcome;
    if (w.t !== 'welcome' || !verify(w.key, welcomeSigningBytes(challenge, w.session, w.dh), w.sig))
      throw new Error('bad welcome');
    seen.connections += 1;
    return new FuzzConnection(ws, w.session, w.dh);
  }

  nextId(): number {
    // Past 2^40 the connection is retired at the end of its batch; until then ids repeat (REPLAY).
    if (this.lastId >= 2 ** 40) return this.lastId;
    return ++this.lastId;
  }

  authKey(key: DhKeyPair): Uint8Array {
    const hex = toHex(key.publicKey);
    let k = this.authKeys.get(hex);
    if (!k) {
      k = deriveCommandAuthKey(key.secretKey, this.relayDh, this.session, key.publicKey);
      this.authKeys.set(hex, k);
    }
    return k;
  }

  /** A command with a fresh id, authenticated under `key`; any fields may be given. */
  authed(frame: CborMap, key: DhKeyPair): CborMap {
    const out: CborMap = { ...frame, id: frame.id ?? this.nextId() };
    delete out.auth;
    out.auth = authenticateCommand(this.authKey(key), this.session, out as unknown as AuthenticatedCommand);
    return out;
  }

  send(data: Uint8Array | string): void {
    if (this.isClosed || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(data, { binary: typeof data !== 'string' });
    seen.framesSent += 1;
    // The relay's rule: a frame that decodes uses its id up. Ours continue above it.
    if (typeof data === 'string' || data.length > MAX_FRAME_BYTES) return;
    try {
      const f = decodeClientFrame(data);
      if (f.t !== 'hello' && f.id > this.lastId) this.lastId = f.id;
    } catch {
      // not a command: no id used up
    }
  }

  /** Whether request ids ran so high that a fresh connection serves the fuzz better. */
  idsUsedUp(): boolean {
    return this.lastId > 2 ** 40;
  }

  /** Sends an honest command and waits for its answer. */
  async request(frame: CborMap): Promise<RelayFrame> {
    const id = frame.id as number;
    const answer = withTimeout(
      new Promise<RelayFrame>((resolve) => this.replies.set(id, resolve)),
      `reply to ${id}`,
      REPLY_MS,
    );
    this.ws.send(encodeCbor(frame));
    return answer;
  }

  /** Pings and waits for the answer (ok, or an error naming the ping's id), or for the close. */
  async barrier(): Promise<void> {
    if (this.isClosed) return;
    const id = this.nextId();
    const done = new Promise<void>((resolve) => (this.waiting = { id, resolve }));
    this.ws.send(encodeFrame({ t: 'ping', id }));
    await withTimeout(done, `ping ${id}`, REPLY_MS);
    this.waiting = undefined;
  }

  private onFrame(data: Uint8Array, isBinary: boolean): void {
    if (!isBinary) throw new Error('the relay sent a text frame');
    // Every answer must be a valid relay frame; a throw here is an uncaught exception.
    const f = decodeRelayFrame(data);
    seen.replies += 1;
    seen.byType[f.t] = (seen.byType[f.t] ?? 0) + 1;
    if (f.t === 'err') seen.byCode[f.code] = (seen.byCode[f.code] ?? 0) + 1;
    if (f.t === 'msg') {
      this.mids.push((f as MsgFrame).mid);
      if (this.mids.length > 32) this.mids.shift();
    }
    const id = 'id' in f ? f.id : undefined;
    if (id !== undefined) {
      const reply = this.replies.get(id);
      if (reply) {
        this.replies.delete(id);
        reply(f);
      }
      if (this.waiting?.id === id) this.waiting.resolve();
    }
  }

  async close(): Promise<void> {
    if (!this.isClosed) this.ws.close();
    await withTimeout(this.closed, 'close', REPLY_MS);
  }
}

/** The valid frames of every command, for connection `c` (fresh ids, real authenticators). */
function validFrame(rng: FuzzRng, c: FuzzConnection, sentAsIs = false): { frame: CborMap; key?: DhKeyPair } {
  const fq = rng.pick(fuzzQueues);
  const randomKey = (): DhKeyPair => rng.pick(strangerKeys);
  const mid = (): Uint8Array => (c.mids.length > 0 && rng.chance(0.7) ? rng.pick(c.mids) : rng.bytes(16));
  const bid = c.bid ?? rng.bytes(32);
  const lid = c.lid ?? rng.bytes(24);
  switch (rng.int(20)) {
    case 0:
      return { frame: { t: 'hello', v: RELAY_PROTOCOL_VERSION, challenge: rng.bytes(32) } };
    case 1: {
      const rk =
        sentAsIs && newQueuesLeft > 0 && rng.chance(0.1)
          ? (newQueuesLeft--, generateDhKeyPair(systemRandom))
          : undefined;
      if (rk)
        return { frame: c.authed({ t: 'new', rk: rk.publicKey, rdh: randomKey().publicKey }, rk), key: rk };
      // A new queue refused: its authenticator is not rk's.
      return {
        frame: c.authed({ t: 'new', rk: rng.bytes(32), rdh: rng.bytes(32), sk: rng.bytes(32) }, fq.sk),
        key: fq.sk,
      };
    }
    case 2:
      return {
        frame: c.authed({ t: 'secure', rid: fq.q.rid, sk: randomKey().publicKey }, fq.q.rk),
        key: fq.q.rk,
      };
    case 3:
      return { frame: c.authed({ t: 'sub', rid: fq.q.rid }, fq.q.rk), key: fq.q.rk };
    case 4:
    case 5:
    case 6:
      return {
        frame: c.authed({ t: 'send', sid: fq.q.sid, body: rng.bytes(rng.length(600)) }, fq.sk),
        key: fq.sk,
      };
    case 7:
      return { frame: c.authed({ t: 'ack', rid: fq.q.rid, mid: mid() }, fq.q.rk), key: fq.q.rk };
    case 8: {
      const mids = [mid(), rng.bytes(16)].filter(
        (m, i, all) => all.findIndex((o) => toHex(o) === toHex(m)) === i,
      );
      return { frame: c.authed({ t: 'ack', rid: fq.q.rid, mids: packAckIds(mids) }, fq.q.rk), key: fq.q.rk };
    }
    case 9: {
      // Deleting: a stranger's queue (refused) — the fuzz queues stay for the rest of the run.
      const k = randomKey();
      return { frame: c.authed({ t: 'del', rid: rng.pick([fq.q.rid, kept.rid, rng.bytes(24)]) }, k), key: k };
    }
    case 10:
      return { frame: { t: 'ping', id: c.nextId() } };
    case 11:
      return {
        frame: c.authed(
          { t: 'bput', bid, n: rng.int(3), data: rng.bytes(rng.chance(0.5) ? 100 : rng.length(300)) },
          c.uk,
        ),
        key: c.uk,
      };
    case 12:
      return { frame: c.authed({ t: 'bstat', bid }, c.uk), key: c.uk };
    case 13:
      return { frame: c.authed({ t: 'bget', bid, n: rng.int(3) }, c.dk), key: c.dk };
    case 14:
      return { frame: c.authed({ t: 'bfin', bid, hash: rng.bytes(32) }, c.uk), key: c.uk };
    case 15: {
      const entries = fuzzQueues.slice(0, 1 + rng.int(fuzzQueues.length)).map((f) => ({
        sid: f.q.sid,
        proof: fanoutEntryProof(c.authKey(f.sk), c.session, lid, f.q.sid),
      }));
      const ents = concat(...entries.map((e) => concat(e.sid, e.proof)));
      return { frame: c.authed({ t: 'fadd', lid, ents }, c.fk), key: c.fk };
    }
    case 16:
      return { frame: c.authed({ t: 'frem', lid, sids: rng.pick(fuzzQueues).q.sid }, c.fk), key: c.fk };
    case 17:
      return { frame: c.authed({ t: 'fsend', lid, body: rng.bytes(rng.length(400)) }, c.fk), key: c.fk };
    case 18: {
      const roll = rng.int(10);
      if (roll === 0) return { frame: c.authed({ t: 'fdrop', lid }, c.fk), key: c.fk };
      // Someone else's queue: refused.
      const k = randomKey();
      if (roll > 1) return { frame: c.authed({ t: 'sub', rid: kept.rid }, k), key: k };
      // A new blob is a durable write (the blob store syncs each): few of them.
      return {
        frame: c.authed(
          { t: 'bnew', uk: c.uk.publicKey, dk: c.dk.publicKey, size: 1 + rng.int(BLOB_SIZE) },
          c.uk,
        ),
        key: c.uk,
      };
    }
    default:
      return rng.chance(0.1)
        ? { frame: c.authed({ t: 'bdel', bid }, c.uk), key: c.uk }
        : { frame: c.authed({ t: 'fnew', fk: c.fk.publicKey }, c.fk), key: c.fk };
  }
}

/** One fuzz frame for connection `c`: valid, mutated, re-authenticated, random, text or oversized. */
function fuzzFrame(rng: FuzzRng, c: FuzzConnection, corpus: Uint8Array[]): Uint8Array | string {
  const roll = rng.int(1000);
  if (roll < 250) {
    const bytes = encodeCbor(validFrame(rng, c, true).frame);
    if (corpus.length < 64) corpus.push(bytes);
    else corpus[rng.int(corpus.length)] = bytes;
    return bytes;
  }
  if (roll < 600) return mutate(rng, encodeCbor(validFrame(rng, c).frame), corpus);
  if (roll < 800) {
    // A field changed, then authenticated again: past the authenticator, into the command.
    const { frame, key } = validFrame(rng, c);
    const changed = mutateValue(rng, frame);
    if (
      key &&
      changed &&
      typeof changed === 'object' &&
      !Array.isArray(changed) &&
      !(changed instanceof Uint8Array)
    ) {
      try {
        return encodeCbor(c.authed(changed, key));
      } catch {
        return encodeCbor(changed);
      }
    }
    return encodeCbor(changed);
  }
  if (roll < 880) return rng.bytes(rng.length(200));
  if (roll < 940) {
    const m = randomValue(rng) as CborMap;
    const map: CborMap =
      m !== null && typeof m === 'object' && !Array.isArray(m) && !(m instanceof Uint8Array) ? m : {};
    map.t = rng.pick([
      'hello',
      'new',
      'send',
      'sub',
      'ack',
      'bput',
      'fadd',
      'fsend',
      'msg',
      'welcome',
      'err',
      '',
    ]);
    if (rng.chance(0.7)) map.id = rng.chance(0.5) ? c.nextId() : rng.int(2 ** 31);
    return encodeCbor(map);
  }
  if (roll < 970)
    return rng.pick(['', 'hello', '{"t":"ping","id":1}', 'x'.repeat(rng.length(300)), '\u0000\u202e']);
  if (roll < 998)
    return rng.pick([new Uint8Array(0), deepNesting(rng.pick([5, 17, 100, 10_000])), deepNesting(50, 5)]);
  // Oversized (1 in 500, they are big): just past the protocol's limit (refused, the connection stays).
  const big = new Uint8Array(MAX_FRAME_BYTES + 1 + rng.int(1000));
  big.set(encodeCbor(validFrame(rng, c).frame));
  return big;
}

/** One fuzzing worker: connection after connection until it has sent its share. */
async function worker(index: number, frames: number): Promise<void> {
  const rng = new FuzzRng(seed, `relay worker ${index}`);
  const corpus: Uint8Array[] = [encodeFrame({ t: 'ping', id: 1 })];
  let sent = 0;
  while (sent < frames) {
    const c = await FuzzConnection.open(relay.address);
    // Honest setup: a fan-out list and a blob of this connection's, for the commands that need one.
    const fnew = await c.request(c.authed({ t: 'fnew', fk: c.fk.publicKey }, c.fk));
    if (fnew.t === 'flist') c.lid = fnew.lid;
    const bnew = await c.request(
      c.authed({ t: 'bnew', uk: c.uk.publicKey, dk: c.dk.publicKey, size: BLOB_SIZE }, c.uk),
    );
    if (bnew.t === 'blob') c.bid = bnew.bid;
    const quota = Math.min(FRAMES_PER_CONNECTION, frames - sent);
    let here = 0;
    while (here < quota && !c.isClosed && !c.idsUsedUp()) {
      for (let i = 0; i < BATCH && here < quota; i++, here++) c.send(fuzzFrame(rng, c, corpus));
      await c.barrier();
    }
    sent += here;
    if (c.isClosed) seen.closedByRelay += 1;
    else {
      // Once in a while a frame past the WebSocket limit: the relay drops the connection.
      if (rng.chance(0.1)) c.send(new Uint8Array(HARD_FRAME_BYTES + 1));
      await c.close();
    }
  }
}

describe('fuzzing the relay', () => {
  it(
    `survives ${FRAMES} mutated and random frames and still serves honest clients`,
    async () => {
      const per = Math.ceil(FRAMES / CONNECTIONS);
      // Most fuzz frames are refused with a typed error, and capturing each error's stack trace
      // took a fifth of the run's CPU: none while the fuzz runs (messages and classes are kept).
      const stackTraceLimit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      try {
        await Promise.all(
          Array.from({ length: CONNECTIONS }, (_, i) => worker(i, Math.min(per, FRAMES - i * per))),
        );
      } finally {
        Error.stackTraceLimit = stackTraceLimit;
      }
      console.log('fuzz-relay:', { ...seen, stats: relay.stats() });

      expect(seen.framesSent).toBeGreaterThanOrEqual(FRAMES);
      expect(relay.stats().framesReceived).toBeGreaterThanOrEqual(FRAMES);
      expect(seen.byCode.INTERNAL ?? 0, 'INTERNAL errors (relay bugs)').toBe(0);
      expect(logLines.filter((l) => /internal error|uncaught|TypeError/i.test(l))).toEqual([]);
      expect(uncaught).toEqual([]);
      // The fuzz reached the commands, not only the decoder.
      for (const t of ['ok', 'ids', 'err', 'msg', 'blob', 'flist', 'fsent'])
        expect(seen.byType[t] ?? 0, `answers of type ${t}`).toBeGreaterThan(0);

      // The queue filled before the fuzz is intact.
      const honest = await TestClient.connect(relay.address);
      expect(await kept.sub(honest)).toMatchObject({ t: 'ok', pending: keptBodies.length });
      const msgs = await honest.messages(kept.rid, keptBodies.length);
      expect(msgs.map((m) => toHex(openDelivery(kept.key, m.mid, m.body).body))).toEqual(
        keptBodies.map(toHex),
      );
      for (const m of msgs) expect(await kept.ack(honest, m.mid)).toMatchObject({ t: 'ok' });

      // An honest client creates a queue, sends, receives and acks.
      const q = new Recipient();
      const sk = generateDhKeyPair(systemRandom);
      await q.create(honest, sk);
      expect(await send(honest, q.sid, utf8('after the fuzz'), sk)).toMatchObject({ t: 'ok' });
      expect(await q.sub(honest)).toMatchObject({ t: 'ok' });
      const [msg] = await honest.messages(q.rid, 1);
      expect(openDelivery(q.key, msg!.mid, msg!.body).body).toEqual(utf8('after the fuzz'));
      expect(await q.ack(honest, msg!.mid)).toMatchObject({ t: 'ok' });
      expect(await honest.ping()).toMatchObject({ t: 'ok' });
      await honest.close();
      expect(uncaught).toEqual([]);
    },
    600_000 * scale,
  );
});
