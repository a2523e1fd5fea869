/**
 * A bare relay-protocol client for the load generator: the hello/welcome exchange with the
 * fingerprint and signature checks, awaited commands for setting up (new, sub), and
 * fire-and-forget authenticated sends and acks for the measured traffic, whose answers are
 * only counted. The MAC key K of each queue key is derived once per connection, as the
 * account engine does. The account engine's RelayConnection does much more (reconnects, retries,
 * timeouts per request); a benchmark wants the protocol and nothing in the way.
 */
import {
  CHALLENGE_BYTES,
  MAX_ACK_BATCH,
  MAX_FRAME_BYTES,
  ProtocolError,
  RELAY_PROTOCOL_VERSION,
  TimeoutError,
  TransportError,
  VerificationError,
  authenticateCommand,
  decodeRelayFrame,
  deriveCommandAuthKey,
  dhKeyPairFromSecret,
  encodeFrame,
  fingerprintMatches,
  packAckIds,
  toHex,
  relayWebSocketUrl,
  verify,
  welcomeSigningBytes,
} from '@parus/core';
import type {
  AckFrame,
  AuthenticatedCommand,
  ClientFrame,
  IdsFrame,
  MsgFrame,
  NewFrame,
  OkFrame,
  Random,
  RelayAddress,
  RelayFrame,
  SendFrame,
  SubFrame,
} from '@parus/core';
import WebSocket from 'ws';

const NO_AUTH = new Uint8Array(0);

/** What a welcome gave: the session nonce and the relay's X25519 key for this connection. */
interface Session {
  nonce: Uint8Array;
  relayDh: Uint8Array;
}

interface Waiter {
  resolve(frame: RelayFrame): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class BenchRelayClient {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();
  /** Called for every pushed `msg` frame. */
  onMsg: (frame: MsgFrame) => void = () => {};
  /** `ok` answers to fire-and-forget commands. */
  oks = 0;
  /** Message ids acknowledged by those `ok`s (a batched ack counts each of its ids). */
  ackedIds = 0;
  private readonly ackBatches = new Map<
    string,
    { rid: Uint8Array; rkSecret: Uint8Array; mids: Uint8Array[] }
  >();
  private readonly batchSizes = new Map<number, number>();
  private ackFlush: NodeJS.Immediate | undefined;
  /** Fire-and-forget commands sent. */
  fired = 0;
  /** `err` frames and other surprises, by code. */
  readonly errors = new Map<string, number>();
  /** K by queue secret key (the load generator keeps each key's array for the whole run). */
  private readonly authKeys = new Map<Uint8Array, Uint8Array>();

  private constructor(
    private readonly ws: WebSocket,
    private readonly session: Session,
    private readonly timeoutMs: number,
  ) {
    ws.on('message', (data: WebSocket.RawData) => this.receive(data));
    ws.on('close', () => {
      for (const [id, w] of this.waiting) {
        clearTimeout(w.timer);
        this.waiting.delete(id);
        w.reject(new TransportError('connection closed'));
      }
    });
  }

  /** Connects, says hello, and checks that the relay holds the key the address names. */
  static async connect(address: RelayAddress, rng: Random, timeoutMs: number): Promise<BenchRelayClient> {
    const ws = new WebSocket(relayWebSocketUrl(address), {
      perMessageDeflate: false,
      maxPayload: 2 * MAX_FRAME_BYTES,
    });
    const challenge = rng.bytes(CHALLENGE_BYTES);
    const session = await new Promise<Session>((resolve, reject) => {
      const fail = (error: Error): void => {
        clearTimeout(timer);
        ws.terminate();
        reject(error);
      };
      const timer = setTimeout(() => fail(new TimeoutError('no welcome from the relay')), timeoutMs);
      ws.once('error', (cause) => fail(new TransportError('cannot connect to the relay', { cause })));
      // oks: as the account engine's RelayConnection, it reads several answers in one frame.
      ws.once('open', () =>
        ws.send(encodeFrame({ t: 'hello', v: RELAY_PROTOCOL_VERSION, challenge, oks: 1 })),
      );
      ws.once('message', (data: WebSocket.RawData) => {
        clearTimeout(timer);
        ws.removeAllListeners('error');
        try {
          const frame = decodeRelayFrame(asBytes(data));
          if (frame.t !== 'welcome') throw new ProtocolError(`expected welcome, got ${frame.t}`);
          if (!fingerprintMatches(address, frame.key))
            throw new VerificationError('relay key does not match the address');
          if (!verify(frame.key, welcomeSigningBytes(challenge, frame.session, frame.dh), frame.sig)) {
            throw new VerificationError('bad welcome signature');
          }
          resolve({ nonce: frame.session, relayDh: frame.dh });
        } catch (error) {
          fail(error as Error);
        }
      });
    });
    ws.on('error', () => ws.terminate());
    return new BenchRelayClient(ws, session, timeoutMs);
  }

  /** Creates a queue owned by `rk`, secured at once with the sender key `sk`. */
  async createQueue(
    rk: Uint8Array,
    rkSecret: Uint8Array,
    rdh: Uint8Array,
    sk: Uint8Array,
  ): Promise<IdsFrame> {
    const frame: NewFrame = { t: 'new', id: this.takeId(), rk, rdh, sk, auth: NO_AUTH };
    const answer = await this.request(this.authed(frame, rkSecret));
    if (answer.t !== 'ids') throw new ProtocolError(`new answered with ${answer.t}`);
    return answer;
  }

  async subscribe(rid: Uint8Array, rkSecret: Uint8Array): Promise<OkFrame> {
    const frame: SubFrame = { t: 'sub', id: this.takeId(), rid, auth: NO_AUTH };
    const answer = await this.request(this.authed(frame, rkSecret));
    if (answer.t !== 'ok') throw new ProtocolError(`sub answered with ${answer.t}`);
    return answer;
  }

  /** An authenticated send; returns once the frame is handed to the socket. */
  send(sid: Uint8Array, body: Uint8Array, skSecret: Uint8Array): void {
    const frame: SendFrame = { t: 'send', id: this.takeId(), sid, body, auth: NO_AUTH };
    this.fire(this.authed(frame, skSecret));
  }

  ack(rid: Uint8Array, mid: Uint8Array, rkSecret: Uint8Array): void {
    const frame: AckFrame = { t: 'ack', id: this.takeId(), rid, mid, auth: NO_AUTH };
    this.batchSizes.set(frame.id, 1);
    this.fire(this.authed(frame, rkSecret));
  }

  /**
   * Acks `mid` with the others of this event-loop turn: one batched `ack` per queue (core
   * ack-batch.ts), as the account engine's RelayConnection acks a burst of deliveries.
   */
  ackBatched(rid: Uint8Array, mid: Uint8Array, rkSecret: Uint8Array): void {
    const key = toHex(rid);
    let batch = this.ackBatches.get(key);
    if (!batch) this.ackBatches.set(key, (batch = { rid, rkSecret, mids: [] }));
    batch.mids.push(mid);
    if (batch.mids.length >= MAX_ACK_BATCH) this.sendAcks(key, batch);
    if (!this.ackFlush) this.ackFlush = setImmediate(() => this.flushAcks());
  }

  private flushAcks(): void {
    this.ackFlush = undefined;
    for (const [key, batch] of this.ackBatches) this.sendAcks(key, batch);
  }

  private sendAcks(key: string, batch: { rid: Uint8Array; rkSecret: Uint8Array; mids: Uint8Array[] }): void {
    this.ackBatches.delete(key);
    const frame: AckFrame = {
      t: 'ack',
      id: this.takeId(),
      rid: batch.rid,
      mids: packAckIds(batch.mids),
      auth: NO_AUTH,
    };
    this.batchSizes.set(frame.id, batch.mids.length);
    this.fire(this.authed(frame, batch.rkSecret));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }

  terminate(): void {
    this.ws.terminate();
  }

  private takeId(): number {
    return this.nextId++;
  }

  private authed<F extends AuthenticatedCommand>(frame: F, secretKey: Uint8Array): F {
    let key = this.authKeys.get(secretKey);
    if (!key) {
      const { publicKey } = dhKeyPairFromSecret(secretKey);
      key = deriveCommandAuthKey(secretKey, this.session.relayDh, this.session.nonce, publicKey);
      this.authKeys.set(secretKey, key);
    }
    frame.auth = authenticateCommand(key, this.session.nonce, frame);
    return frame;
  }

  private fire(frame: ClientFrame): void {
    this.fired += 1;
    this.ws.send(encodeFrame(frame));
  }

  private request(frame: AuthenticatedCommand): Promise<RelayFrame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(frame.id);
        reject(new TimeoutError(`no answer to ${frame.t}`));
      }, this.timeoutMs);
      this.waiting.set(frame.id, { resolve, reject, timer });
      this.ws.send(encodeFrame(frame));
    });
  }

  private receive(data: WebSocket.RawData): void {
    let frame: RelayFrame;
    try {
      frame = decodeRelayFrame(asBytes(data));
    } catch {
      return this.count('undecodable');
    }
    if (frame.t === 'msg') return this.onMsg(frame);
    if (frame.t === 'oks') {
      for (const id of frame.ids) this.answered({ t: 'ok', id });
      return;
    }
    if (frame.t === 'ok' || frame.t === 'ids' || frame.t === 'err') return this.answered(frame);
    this.count(`unexpected ${frame.t}`);
  }

  private answered(frame: Extract<RelayFrame, { t: 'ok' | 'ids' | 'err' }>): void {
    const waiter = frame.id === undefined ? undefined : this.waiting.get(frame.id);
    if (waiter) {
      clearTimeout(waiter.timer);
      this.waiting.delete(frame.id!);
      if (frame.t === 'err')
        return waiter.reject(new ProtocolError(`relay error ${frame.code}: ${frame.msg}`));
      return waiter.resolve(frame);
    }
    if (frame.t === 'ok') {
      this.oks += 1;
      // Only a batched ack's answer acknowledges ids (a send's answers none).
      this.ackedIds += this.batchSizes.get(frame.id) ?? 0;
    }
    if (frame.id !== undefined) this.batchSizes.delete(frame.id);
    else this.count(frame.t === 'err' ? frame.code : 'unexpected ids');
  }

  private count(what: string): void {
    this.errors.set(what, (this.errors.get(what) ?? 0) + 1);
  }
}

export function asBytes(data: WebSocket.RawData): Uint8Array {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
