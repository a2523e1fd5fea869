/**
 * A tiny relay client for the tests: real WebSocket, real handshake (the welcome signature
 * and the address fingerprint are checked), authenticated commands, replies awaited by
 * request id, pushed frames awaited by predicate. Every wait has a timeout that fails the test.
 */
import {
  RELAY_PROTOCOL_VERSION,
  VerificationError,
  authenticateCommand,
  decodeRelayFrame,
  deriveCommandAuthKey,
  encodeFrame,
  fingerprintMatches,
  generateDhKeyPair,
  parseRelayAddress,
  queueKey,
  relayWebSocketUrl,
  systemRandom,
  verify,
  welcomeSigningBytes,
} from '@parus/core';
import type {
  AuthenticatedCommand,
  ClientFrame,
  DhKeyPair,
  IdsFrame,
  MsgFrame,
  RelayFrame,
  SendFrame,
} from '@parus/core';
import { WebSocket } from 'ws';

export const WAIT_MS = 5_000;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A command as the caller writes it; `authed` adds the request id and the authenticator. */
export type BareCommand = DistributiveOmit<AuthenticatedCommand, 'auth' | 'id'>;

export class TestClient {
  /** Frames received and not yet taken by a wait. */
  private readonly inbox: RelayFrame[] = [];
  private readonly waiters: Array<{ match: (f: RelayFrame) => boolean; resolve: (f: RelayFrame) => void }> =
    [];
  private lastId = 0;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Raw bytes of every frame received, in order. */
  readonly raw: Uint8Array[] = [];

  private constructor(
    readonly ws: WebSocket,
    readonly session: Uint8Array,
    readonly relayKey: Uint8Array,
    /** The relay's X25519 key for this connection (`dh` in welcome). */
    readonly relayDh: Uint8Array,
  ) {
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    ws.on('message', (data) => this.onFrame(toBytes(data)));
  }

  /**
   * Connects and greets the relay at `address`; throws VerificationError for an impostor.
   * `oks`: the hello asks for coalesced answers (core ok-batch.ts); each id of an `oks` frame
   * then reaches the waits as a plain `ok` (the frame itself stays in `raw`).
   */
  static async connect(address: string, opts: { oks?: boolean } = {}): Promise<TestClient> {
    const parsed = parseRelayAddress(address);
    const ws = new WebSocket(relayWebSocketUrl(parsed), { perMessageDeflate: false });
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
      'open',
    );
    const challenge = systemRandom.bytes(32);
    const welcomeBytes = withTimeout(
      new Promise<Uint8Array>((resolve) => ws.once('message', (data) => resolve(toBytes(data)))),
      'welcome',
    );
    ws.send(
      encodeFrame({ t: 'hello', v: RELAY_PROTOCOL_VERSION, challenge, ...(opts.oks ? { oks: 1 } : {}) }),
    );
    const welcome = decodeRelayFrame(await welcomeBytes);
    try {
      if (welcome.t !== 'welcome') throw new VerificationError(`expected welcome, got ${welcome.t}`);
      if (!verify(welcome.key, welcomeSigningBytes(challenge, welcome.session, welcome.dh), welcome.sig)) {
        throw new VerificationError('welcome signature does not verify');
      }
      if (!fingerprintMatches(parsed, welcome.key)) {
        throw new VerificationError('relay key does not match the address fingerprint');
      }
    } catch (error) {
      ws.terminate();
      throw error;
    }
    return new TestClient(ws, welcome.session, welcome.key, welcome.dh);
  }

  nextId(): number {
    return ++this.lastId;
  }

  /** The authenticator a command needs on this connection under the queue key `key`. */
  authenticator(frame: AuthenticatedCommand, key: DhKeyPair): Uint8Array {
    const k = deriveCommandAuthKey(key.secretKey, this.relayDh, this.session, key.publicKey);
    return authenticateCommand(k, this.session, frame);
  }

  /** Builds an authenticated command with a fresh request id. */
  authed(bare: BareCommand, key: DhKeyPair, id = this.nextId()): AuthenticatedCommand {
    const frame = { ...bare, id } as AuthenticatedCommand;
    frame.auth = this.authenticator(frame, key);
    return frame;
  }

  sendFrame(frame: ClientFrame): void {
    this.ws.send(encodeFrame(frame));
  }

  sendRaw(data: Uint8Array | string): void {
    this.ws.send(data, { binary: typeof data !== 'string' });
  }

  /** Sends a frame that has an id and waits for the reply carrying that id. */
  async request(frame: ClientFrame & { id: number }): Promise<RelayFrame> {
    const reply = this.replyTo(frame.id);
    this.sendFrame(frame);
    return reply;
  }

  replyTo(id: number): Promise<RelayFrame> {
    return this.waitFor(
      (f) =>
        (f.t === 'ok' ||
          f.t === 'ids' ||
          f.t === 'err' ||
          f.t === 'blob' ||
          f.t === 'chunk' ||
          f.t === 'flist' ||
          f.t === 'fsent') &&
        f.id === id,
      `reply to ${id}`,
    );
  }

  /** Takes the first received frame that matches, waiting for it if need be. */
  waitFor(match: (f: RelayFrame) => boolean, what = 'frame', ms = WAIT_MS): Promise<RelayFrame> {
    const index = this.inbox.findIndex(match);
    if (index >= 0) return Promise.resolve(this.inbox.splice(index, 1)[0]!);
    return withTimeout(
      new Promise<RelayFrame>((resolve) => this.waiters.push({ match, resolve })),
      what,
      ms,
      () => {
        const at = this.waiters.findIndex((w) => w.match === match);
        if (at >= 0) this.waiters.splice(at, 1);
      },
    );
  }

  /** Waits for `n` msg frames of queue `rid`, in arrival order. */
  async messages(rid: Uint8Array, n: number): Promise<MsgFrame[]> {
    const out: MsgFrame[] = [];
    for (let i = 0; i < n; i++) {
      out.push(
        (await this.waitFor((f) => f.t === 'msg' && sameBytes(f.rid, rid), `msg ${i + 1}/${n}`)) as MsgFrame,
      );
    }
    return out;
  }

  /** Frames received and not taken (for "nothing else arrived" checks after a ping). */
  pendingFrames(): readonly RelayFrame[] {
    return this.inbox;
  }

  async ping(): Promise<RelayFrame> {
    return this.request({ t: 'ping', id: this.nextId() });
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await withTimeout(this.closed, 'close');
  }

  private onFrame(bytes: Uint8Array): void {
    this.raw.push(bytes);
    const frame = decodeRelayFrame(bytes);
    if (frame.t === 'oks') {
      for (const id of frame.ids) this.take({ t: 'ok', id });
      return;
    }
    this.take(frame);
  }

  private take(frame: RelayFrame): void {
    const at = this.waiters.findIndex((w) => w.match(frame));
    if (at >= 0) this.waiters.splice(at, 1)[0]!.resolve(frame);
    else this.inbox.push(frame);
  }
}

/** A queue's recipient side: its keys and, once created, its ids and queue key. */
export class Recipient {
  readonly rk: DhKeyPair = generateDhKeyPair(systemRandom);
  readonly rdh: DhKeyPair = generateDhKeyPair(systemRandom);
  rid: Uint8Array = new Uint8Array(0);
  sid: Uint8Array = new Uint8Array(0);
  key: Uint8Array = new Uint8Array(0);

  /** Creates the queue on `client`'s relay; `sk` secures it at once. */
  async create(client: TestClient, sk?: DhKeyPair): Promise<IdsFrame> {
    const bare = { t: 'new' as const, rk: this.rk.publicKey, rdh: this.rdh.publicKey };
    const frame = client.authed(sk ? { ...bare, sk: sk.publicKey } : bare, this.rk);
    const reply = await client.request(frame);
    if (reply.t !== 'ids') throw new Error(`new failed: ${JSON.stringify(reply)}`);
    this.rid = reply.rid;
    this.sid = reply.sid;
    this.key = queueKey(this.rdh.secretKey, reply.sdh, reply.rid);
    return reply;
  }

  sub(client: TestClient): Promise<RelayFrame> {
    return client.request(client.authed({ t: 'sub', rid: this.rid }, this.rk));
  }

  ack(client: TestClient, mid: Uint8Array): Promise<RelayFrame> {
    return client.request(client.authed({ t: 'ack', rid: this.rid, mid }, this.rk));
  }

  secure(client: TestClient, sk: DhKeyPair): Promise<RelayFrame> {
    return client.request(client.authed({ t: 'secure', rid: this.rid, sk: sk.publicKey }, this.rk));
  }

  del(client: TestClient): Promise<RelayFrame> {
    return client.request(client.authed({ t: 'del', rid: this.rid }, this.rk));
  }
}

/** A send to `sid`, authenticated with `sk` when given. */
export function sendFrame(client: TestClient, sid: Uint8Array, body: Uint8Array, sk?: DhKeyPair): SendFrame {
  if (!sk) return { t: 'send', id: client.nextId(), sid, body };
  return client.authed({ t: 'send', sid, body }, sk) as SendFrame;
}

export function send(
  client: TestClient,
  sid: Uint8Array,
  body: Uint8Array,
  sk?: DhKeyPair,
): Promise<RelayFrame> {
  return client.request(sendFrame(client, sid, body, sk));
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Whether `needle` occurs anywhere in `haystack`. */
export function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  return (
    Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(Buffer.from(needle)) >= 0
  );
}

export function withTimeout<T>(
  p: Promise<T>,
  what: string,
  ms = WAIT_MS,
  onTimeout?: () => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`timed out waiting for ${what}`));
    }, ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function toBytes(data: WebSocket.RawData): Uint8Array {
  const b = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice();
}
