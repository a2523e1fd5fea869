/**
 * One client's link to one relay: the hello/welcome exchange with the fingerprint check,
 * signed commands matched to their answers, subscriptions that survive reconnects, and
 * reconnection with exponential backoff and jitter.
 */
import {
  CHALLENGE_BYTES,
  ProtocolError,
  RELAY_PROTOCOL_VERSION,
  TimeoutError,
  TransportError,
  VerificationError,
  commandSigningBytes,
  decodeRelayFrame,
  encodeFrame,
  errorFromCode,
  fingerprintMatches,
  parseRelayAddress,
  relayWebSocketUrl,
  sign,
  verify,
  welcomeSigningBytes,
  type ClientFrame,
  type RelayAddress,
  type RelayFrame,
  type SignedCommand,
  type Random,
} from '@parus/core';
import type { Transport, TransportConnection } from './transport.ts';

/** Commands as callers give them: without the request id and the signature. */
export type CommandInput = SignedCommand extends infer C
  ? C extends SignedCommand
    ? Omit<C, 'id' | 'sig'>
    : never
  : never;

export interface RelayConnectionOptions {
  address: string;
  transport: Transport;
  rng: Random;
  /** Called for every delivered message; resolve once it is durably processed (then we ack). */
  onMessage: (rid: Uint8Array, mid: Uint8Array, body: Uint8Array) => Promise<void> | void;
  onEnd?: (rid: Uint8Array) => void;
  onState?: (state: 'connected' | 'disconnected') => void;
  requestTimeoutMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

interface Pending {
  resolve: (f: RelayFrame) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface Subscription {
  rid: Uint8Array;
  rk: Uint8Array; // Ed25519 secret key of the queue's recipient
}

export class RelayConnection {
  readonly address: RelayAddress;
  private conn: TransportConnection | undefined;
  private session: Uint8Array | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly subs = new Map<string, Subscription>();
  private readonly waiters: Array<() => void> = [];
  private closed = false;
  private backoff: number;
  private connecting: Promise<void> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Serialises message handling so acks follow processing order. */
  private inbound: Promise<void> = Promise.resolve();

  constructor(private readonly opts: RelayConnectionOptions) {
    this.address = parseRelayAddress(opts.address);
    this.backoff = opts.minBackoffMs ?? 250;
  }

  get connected(): boolean {
    return this.conn !== undefined && this.session !== undefined;
  }

  /** Starts connecting (and keeps reconnecting until close()). Resolves on the first welcome. */
  start(): Promise<void> {
    if (!this.connecting) this.connecting = this.connectLoop();
    return this.whenConnected();
  }

  whenConnected(timeoutMs?: number): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => reject(new TimeoutError('relay not reachable in time')), timeoutMs);
      this.waiters.push(() => {
        if (timer) clearTimeout(timer);
        resolve();
      });
    });
  }

  private async connectLoop(): Promise<void> {
    while (!this.closed && !this.connected) {
      try {
        await this.connectOnce();
        this.backoff = this.opts.minBackoffMs ?? 250;
        return;
      } catch {
        if (this.closed) return;
        const max = this.opts.maxBackoffMs ?? 30_000;
        const delay = this.backoff / 2 + (this.opts.rng.bytes(1)[0]! / 255) * (this.backoff / 2);
        this.backoff = Math.min(this.backoff * 2, max);
        await new Promise<void>((r) => {
          this.reconnectTimer = setTimeout(r, delay);
        });
      }
    }
  }

  private async connectOnce(): Promise<void> {
    const conn = await this.opts.transport.connect(relayWebSocketUrl(this.address));
    const challenge = this.opts.rng.bytes(CHALLENGE_BYTES);
    const welcome = await new Promise<RelayFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        conn.close();
        reject(new TimeoutError('relay did not answer hello'));
      }, this.opts.requestTimeoutMs ?? 15_000);
      conn.onMessage((data) => {
        clearTimeout(timer);
        try {
          resolve(decodeRelayFrame(data));
        } catch (e) {
          conn.close();
          reject(e as Error);
        }
      });
      conn.onClose(() => {
        clearTimeout(timer);
        reject(new TransportError('relay closed during hello'));
      });
      conn.send(encodeFrame({ t: 'hello', v: RELAY_PROTOCOL_VERSION, challenge }));
    });
    if (welcome.t !== 'welcome') {
      conn.close();
      throw new ProtocolError('relay did not welcome us');
    }
    // An impostor relay cannot produce the key behind the address's fingerprint.
    if (
      !fingerprintMatches(this.address, welcome.key) ||
      !verify(welcome.key, welcomeSigningBytes(challenge, welcome.session), welcome.sig)
    ) {
      conn.close();
      this.closed = true; // never retry an impostor automatically
      throw new VerificationError('relay key does not match the fingerprint in its address');
    }
    this.conn = conn;
    this.session = welcome.session;
    this.nextId = 1;
    conn.onMessage((data) => this.onFrame(data));
    conn.onClose(() => this.onDisconnect());
    for (const sub of this.subs.values()) {
      this.command({ t: 'sub', rid: sub.rid }, sub.rk).catch(() => conn.close());
    }
    this.opts.onState?.('connected');
    for (const w of this.waiters.splice(0)) w();
  }

  private onDisconnect(): void {
    this.conn = undefined;
    this.session = undefined;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new TransportError('connection to relay lost'));
    }
    this.pending.clear();
    this.opts.onState?.('disconnected');
    if (!this.closed) {
      this.connecting = this.connectLoop();
    }
  }

  private onFrame(data: Uint8Array): void {
    let frame: RelayFrame;
    try {
      frame = decodeRelayFrame(data);
    } catch {
      return; // a relay that sends garbage is ignored frame by frame
    }
    switch (frame.t) {
      case 'msg': {
        const { rid, mid, body } = frame;
        this.inbound = this.inbound.then(async () => {
          const sub = this.subs.get(hexKey(rid));
          if (!sub) return;
          try {
            await this.opts.onMessage(rid, mid, body);
          } catch {
            return; // not processed: no ack, the relay redelivers on the next subscription
          }
          await this.command({ t: 'ack', rid, mid }, sub.rk).catch(() => undefined);
        });
        return;
      }
      case 'end':
        this.subs.delete(hexKey(frame.rid));
        this.opts.onEnd?.(frame.rid);
        return;
      case 'welcome':
        return;
      default: {
        if (frame.id === undefined) return;
        const p = this.pending.get(frame.id);
        if (!p) return;
        this.pending.delete(frame.id);
        clearTimeout(p.timer);
        if (frame.t === 'err') p.reject(errorFromCode(frame.code, `relay: ${frame.msg}`));
        else p.resolve(frame);
      }
    }
  }

  /** Sends a command, signed with `signer` (an Ed25519 secret key) when given, and awaits its answer. */
  async command(input: CommandInput | { t: 'ping' }, signer?: Uint8Array): Promise<RelayFrame> {
    const conn = this.conn;
    const session = this.session;
    if (!conn || !session) throw new TransportError('not connected to the relay');
    const id = this.nextId++;
    let frame: ClientFrame;
    if (input.t === 'ping') frame = { t: 'ping', id };
    else {
      const unsigned = { ...input, id } as SignedCommand;
      frame = signer
        ? ({ ...unsigned, sig: sign(signer, commandSigningBytes(session, unsigned)) } as SignedCommand)
        : unsigned;
    }
    return new Promise<RelayFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TimeoutError('relay did not answer in time'));
      }, this.opts.requestTimeoutMs ?? 15_000);
      this.pending.set(id, { resolve, reject, timer });
      try {
        conn.send(encodeFrame(frame));
      } catch (e) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(e as Error);
      }
    });
  }

  /** Subscribes (now and after every reconnect). Returns how many messages wait. */
  async subscribe(rid: Uint8Array, rk: Uint8Array): Promise<number> {
    this.subs.set(hexKey(rid), { rid, rk });
    const answer = await this.command({ t: 'sub', rid }, rk);
    return answer.t === 'ok' ? (answer.pending ?? 0) : 0;
  }

  unsubscribeLocal(rid: Uint8Array): void {
    this.subs.delete(hexKey(rid));
  }

  /** Resolves once every delivered message so far has been handled and acked. */
  async drained(): Promise<void> {
    let last: Promise<void> | undefined;
    while (last !== this.inbound) {
      last = this.inbound;
      await last;
    }
  }

  close(): void {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.conn?.close();
  }
}

function hexKey(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
