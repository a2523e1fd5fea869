/**
 * One client's link to one relay: the hello/welcome exchange with the fingerprint check,
 * authenticated commands matched to their answers, subscriptions that survive reconnects,
 * and reconnection: exponential backoff capped at a few seconds with full jitter, cut short
 * by `retryNow()` when the network comes back (docs/decisions/0028-reconnect-policy.md).
 *
 * Commands carry X25519 authenticators (relay-protocol.ts): the MAC key K of a queue key
 * costs one X25519 the first time the key is used on a connection and is kept until the
 * connection ends; the relay's per-connection key, and so every K, changes with each welcome.
 */
import {
  CHALLENGE_BYTES,
  DecodeError,
  FANOUT_LIST_ID_BYTES,
  MAX_FANOUT_BATCH,
  NotFoundError,
  ProtocolError,
  RELAY_PROTOCOL_VERSION,
  TimeoutError,
  TransportError,
  UsageError,
  VerificationError,
  authenticateCommand,
  authenticateForward,
  checkKeyRecord,
  concatBytes,
  deriveForwardAuthKey,
  decodeRelayFrame,
  deriveCommandAuthKey,
  dhKeyPairFromSecret,
  encodeFrame,
  errorFromCode,
  fanoutEntryProof,
  fingerprintMatches,
  packAckIds,
  packFanoutEntries,
  parseRelayAddress,
  relayWebSocketUrl,
  splitSids,
  toHex,
  verify,
  welcomeSigningBytes,
  wipe,
  type AuthenticatedCommand,
  type ClientFrame,
  type ForwardFrame,
  type KeyRecordRequest,
  type RelayAddress,
  type RelayFrame,
  type Random,
} from '@parus/core';
import { PendingAcks } from './ack-batch.ts';
import { FramePacer } from './frame-pacer.ts';
import type { Transport, TransportConnection } from './transport.ts';

/** Commands as callers give them: without the request id and the authenticator. */
export type CommandInput = AuthenticatedCommand extends infer C
  ? C extends AuthenticatedCommand
    ? Omit<C, 'id' | 'auth'>
    : never
  : never;

/** A queue to put on a fan-out list: its sender id and the X25519 secret of its sender key. */
export interface FanoutEntry {
  sid: Uint8Array;
  sk: Uint8Array;
}

/** What an `fsend` did: how many queues got the body, and the sids of those that did not. */
export interface FanoutSendResult {
  stored: number;
  /** Queues that were full (their recipients are not reading). */
  full: Uint8Array[];
  /** Queues that no longer exist (to take off the list). */
  gone: Uint8Array[];
}

/** Other relays' key records kept (relayKey). */
const MAX_RELAY_KEYS = 1_024;

/** Keys K kept per connection; far more than an account's queue keys on one relay. */
const MAX_AUTH_KEYS = 4_096;

export interface RelayConnectionOptions {
  address: string;
  transport: Transport;
  rng: Random;
  /** Called for every delivered message; resolve once it is durably processed (then we ack). */
  onMessage: (rid: Uint8Array, mid: Uint8Array, body: Uint8Array) => Promise<void> | void;
  onEnd?: (rid: Uint8Array) => void;
  onState?: (state: 'connected' | 'disconnected') => void;
  /** Called when the next attempt is scheduled, with its time (Date.now() milliseconds). */
  onRetry?: (at: number) => void;
  requestTimeoutMs?: number;
  /** The first wait's upper bound; it doubles per failed attempt up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** Reconnect waits (docs/decisions/0028-reconnect-policy.md): 0.5 s doubling to a 4 s cap. */
export const MIN_BACKOFF_MS = 500;
export const MAX_BACKOFF_MS = 4_000;
/** A connection that lasted this long resets the backoff; one dropped sooner keeps it growing. */
const STABLE_MS = 10_000;

interface Pending {
  resolve: (f: RelayFrame) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** One connection attempt: its socket once open, and how to abort it while it opens. */
interface Attempt {
  abort: AbortController;
  conn?: TransportConnection;
}

interface Subscription {
  rid: Uint8Array;
  rk: Uint8Array; // X25519 secret key of the queue's recipient
}

/** What a welcome set up: the session nonce and the relay's X25519 key for this connection. */
interface Session {
  nonce: Uint8Array;
  relayDh: Uint8Array;
  /** K by queue public key (hex), least recently used first; wiped when the session ends. */
  keys: Map<string, Uint8Array>;
}

export class RelayConnection {
  readonly address: RelayAddress;
  private conn: TransportConnection | undefined;
  private session: Session | undefined;
  /**
   * Queue public keys by their secret's array, so that a command does not pay for a scalar
   * multiplication to find its key in the cache. Public values: they outlive sessions. The
   * engine never changes a secret's array in place (that would leave a stale entry here).
   */
  private readonly publicKeys = new WeakMap<Uint8Array, Uint8Array>();
  /** Other relays' X25519 keys from checked key records (relayKey), by fingerprint (hex). */
  private readonly relayKeys = new Map<string, Uint8Array>();
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly subs = new Map<string, Subscription>();
  private readonly waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private closed = false;
  /** Set when the relay failed its identity check: the connection is given up for good. */
  private fatal: Error | undefined;
  /** Failed attempts since the last stable connection: the exponent of the backoff. */
  private failures = 0;
  /** When the current connection's welcome came (Date.now()). */
  private connectedAt = 0;
  private connecting: Promise<void> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Ends the wait before the next attempt at once (retryNow). */
  private wake: (() => void) | undefined;
  private nextRetry: number | undefined;
  /**
   * The attempt under way (socket opening, or waiting for the welcome): close() aborts it, so
   * a socket that opens after close() never outlives the connection (a command would not exit).
   */
  private attempt: Attempt | undefined;
  /** Serialises message handling so acks follow processing order. */
  private inbound: Promise<void> = Promise.resolve();
  /** Deliveries queued on `inbound` and not yet taken up. */
  private queuedInbound = 0;
  /** Acks of processed deliveries, waiting for the end of a burst. */
  private readonly acks = new PendingAcks();
  /** Keeps this connection's frames within the rate its relay announced. */
  private pacer: FramePacer | undefined;

  constructor(private readonly opts: RelayConnectionOptions) {
    this.address = parseRelayAddress(opts.address);
  }

  get connected(): boolean {
    return this.conn !== undefined && this.session !== undefined;
  }

  /** When the next attempt starts (Date.now() milliseconds) while waiting for it, else undefined. */
  get retryAt(): number | undefined {
    return this.nextRetry;
  }

  /**
   * Ends the wait before the next attempt and tries at once: the network is back, the page
   * became visible, the user asked. Nothing happens while connected, while an attempt is
   * under way, or after close(). The backoff is not reset: if this attempt fails, the next
   * wait comes from the next window, so calling this often cannot make a client flood its relay.
   */
  retryNow(): void {
    if (this.closed || this.connected) return;
    this.wake?.();
  }

  /**
   * The network changed (the browser's `online`, the page shown again): a connection that
   * looks open may be dead, its socket not yet given up by the operating system. While
   * connected, a ping must be answered within `timeoutMs`, or the connection is dropped and
   * reconnecting starts; while waiting to reconnect, the same as retryNow().
   */
  async checkAlive(timeoutMs = 5_000): Promise<void> {
    const conn = this.conn;
    if (!conn || !this.connected) return this.retryNow();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answered = await Promise.race([
      // Any answer, or the connection ending meanwhile, leaves nothing to do here.
      this.command({ t: 'ping' }).then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (answered || this.conn !== conn || this.closed) return;
    conn.onMessage(() => undefined); // whatever it still brings belongs to a dead session
    conn.close();
    this.onDisconnect();
  }

  /** Begins connecting (and keeps reconnecting until close()) without waiting for it. */
  connect(): void {
    if (!this.connecting) this.connecting = this.connectLoop();
  }

  /** Starts connecting and resolves on the first welcome. */
  start(): Promise<void> {
    this.connect();
    return this.whenConnected();
  }

  whenConnected(timeoutMs?: number): Promise<void> {
    if (this.connected) return Promise.resolve();
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.closed) return Promise.reject(new TransportError('connection closed'));
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => reject(new TimeoutError('relay not reachable in time')), timeoutMs);
      this.waiters.push({
        resolve: () => {
          if (timer) clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          if (timer) clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  private async connectLoop(): Promise<void> {
    while (!this.closed && !this.connected) {
      try {
        await this.connectOnce();
        return;
      } catch (e) {
        if (e instanceof VerificationError) {
          // An impostor (or a relay whose key changed): never retry it automatically.
          this.fatal = e;
          this.closed = true;
          for (const w of this.waiters.splice(0)) w.reject(e);
          return;
        }
        if (this.closed) return;
        await this.wait(this.nextDelay());
      }
    }
  }

  /**
   * Full jitter: uniform in [0, min(cap, base·2^failures)]. Clients cut off together (a
   * relay restart) come back spread evenly over the window rather than in waves.
   */
  private nextDelay(): number {
    const base = this.opts.minBackoffMs ?? MIN_BACKOFF_MS;
    const cap = Math.max(base, this.opts.maxBackoffMs ?? MAX_BACKOFF_MS);
    const bound = Math.min(cap, base * 2 ** Math.min(this.failures, 30));
    this.failures += 1;
    const [hi, lo] = this.opts.rng.bytes(2);
    return (((hi! << 8) | lo!) / 0xffff) * bound;
  }

  /** Waits `ms` before the next attempt, or less if retryNow() is called meanwhile. */
  private async wait(ms: number): Promise<void> {
    this.nextRetry = Date.now() + ms;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      this.reconnectTimer = setTimeout(resolve, ms);
      this.opts.onRetry?.(this.nextRetry!);
    });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.wake = undefined;
    this.nextRetry = undefined;
  }

  private async connectOnce(): Promise<void> {
    const attempt: Attempt = { abort: new AbortController() };
    this.attempt = attempt;
    try {
      await this.helloAndWelcome(attempt);
    } finally {
      if (this.attempt === attempt) this.attempt = undefined;
    }
  }

  private async helloAndWelcome(attempt: Attempt): Promise<void> {
    const conn = await this.opts.transport.connect(relayWebSocketUrl(this.address), attempt.abort.signal);
    attempt.conn = conn;
    if (this.closed) {
      // close() came while the socket was opening (a transport may ignore the signal).
      conn.close();
      throw new TransportError('connection closed');
    }
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
      // oks: this client reads the `oks` frame (several answers in one; core ok-batch.ts).
      conn.send(encodeFrame({ t: 'hello', v: RELAY_PROTOCOL_VERSION, challenge, oks: 1 }));
    });
    if (this.closed) {
      conn.close();
      throw new TransportError('connection closed');
    }
    if (welcome.t !== 'welcome') {
      conn.close();
      throw new ProtocolError('relay did not welcome us');
    }
    // An impostor relay cannot produce the key behind the address's fingerprint.
    if (
      !fingerprintMatches(this.address, welcome.key) ||
      !verify(welcome.key, welcomeSigningBytes(challenge, welcome.session, welcome.dh), welcome.sig)
    ) {
      conn.close();
      throw new VerificationError('relay key does not match the fingerprint in its address');
    }
    this.conn = conn;
    this.connectedAt = Date.now();
    this.endSession();
    this.session = { nonce: welcome.session, relayDh: welcome.dh, keys: new Map() };
    this.pacer?.release();
    this.pacer =
      welcome.rate !== undefined && welcome.burst !== undefined
        ? new FramePacer({ rate: welcome.rate, burst: welcome.burst })
        : undefined;
    this.nextId = 1;
    conn.onMessage((data) => this.onFrame(data));
    // A connection given up by checkAlive() may report its close later, when a new one is up.
    conn.onClose(() => {
      if (this.conn === conn) this.onDisconnect();
    });
    for (const sub of this.subs.values()) {
      this.command({ t: 'sub', rid: sub.rid }, sub.rk).catch(() => conn.close());
    }
    this.opts.onState?.('connected');
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  private onDisconnect(): void {
    this.conn = undefined;
    this.endSession();
    this.pacer?.release();
    this.pacer = undefined;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new TransportError('connection to relay lost'));
    }
    this.pending.clear();
    this.opts.onState?.('disconnected');
    if (this.closed) return;
    // A connection that the relay (or a proxy on the way) drops soon after its welcome is a
    // failure too: the backoff goes on growing, so such a loop cannot hammer the relay.
    if (Date.now() - this.connectedAt >= STABLE_MS) this.failures = 0;
    else this.failures += 1;
    // Every client of a restarting relay loses its connection at the same moment: even the
    // first attempt waits its jittered share of the shortest window.
    this.connecting = this.wait(this.nextDelay()).then(() => this.connectLoop());
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
        this.queuedInbound += 1;
        this.inbound = this.inbound.then(async () => {
          this.queuedInbound -= 1;
          const sub = this.subs.get(hexKey(rid));
          let full = false;
          if (sub) {
            try {
              await this.opts.onMessage(rid, mid, body);
              full = this.acks.add(rid, sub.rk, mid);
            } catch {
              // not processed: no ack, the relay redelivers on the next subscription
            }
          }
          // Acks go in batches (ack-batch.ts): when nothing else waits, or a batch is full.
          if (full || (this.queuedInbound === 0 && this.acks.size > 0)) await this.sendAcks();
        });
        return;
      }
      case 'end':
        this.subs.delete(hexKey(frame.rid));
        this.opts.onEnd?.(frame.rid);
        return;
      case 'welcome':
        return;
      case 'oks':
        // Several commands' plain `ok`s in one frame (core ok-batch.ts; asked for in hello).
        for (const id of frame.ids) this.answer(id, { t: 'ok', id });
        return;
      default: {
        if (frame.id !== undefined) this.answer(frame.id, frame);
      }
    }
  }

  /** Settles the command `id` waits on, if any, with the relay's answer. */
  private answer(id: number, frame: Exclude<RelayFrame, { t: 'oks' }>): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (frame.t === 'err') p.reject(errorFromCode(frame.code, `relay: ${frame.msg}`));
    else p.resolve(frame);
  }

  /**
   * Sends a command, authenticated with `queueSecret` (the X25519 secret of the queue key
   * the relay checks it against) when given, and awaits its answer.
   */
  async command(input: CommandInput | { t: 'ping' }, queueSecret?: Uint8Array): Promise<RelayFrame> {
    if (!this.conn || !this.session) throw new TransportError('not connected to the relay');
    // Within the relay's announced rate (frame-pacer.ts); the connection may change meanwhile.
    const turn = this.pacer?.turn();
    if (turn) await turn;
    const conn = this.conn;
    const session = this.session;
    if (!conn || !session) throw new TransportError('not connected to the relay');
    const id = this.nextId++;
    let frame: ClientFrame;
    if (input.t === 'ping') frame = { t: 'ping', id };
    else {
      const bare = { ...input, id } as AuthenticatedCommand;
      frame = queueSecret
        ? ({
            ...bare,
            auth: authenticateCommand(this.authKey(session, queueSecret), session.nonce, bare),
          } as AuthenticatedCommand)
        : bare;
    }
    return this.exchange(conn, id, frame);
  }

  /**
   * The signed key record of relay `to` (its long-term X25519 key), asked of this relay and
   * checked here against `to` (core relay-forward.ts). NOT_FOUND: this relay does not know it.
   */
  async relayKey(to: Uint8Array): Promise<Uint8Array> {
    const cached = this.relayKeys.get(toHex(to));
    if (cached) return cached;
    const answer = await this.request((id) => ({ t: 'rkey', id, to }));
    if (answer.t !== 'rkey') throw new ProtocolError('relay answered rkey with something else');
    checkKeyRecord(answer, to);
    if (this.relayKeys.size >= MAX_RELAY_KEYS) this.relayKeys.clear();
    this.relayKeys.set(toHex(to), answer.dh);
    return answer.dh;
  }

  /**
   * Sends `body` to queue `sid` on relay `to` through this relay (docs/decisions/0033): it
   * answers once the destination has stored it. Authenticated for the destination with the
   * queue's sender key when given. The same body sent again is stored once.
   */
  async forward(to: Uint8Array, sid: Uint8Array, body: Uint8Array, senderSecret?: Uint8Array): Promise<void> {
    let auth: Uint8Array | undefined;
    if (senderSecret) {
      const relayDh = await this.relayKey(to);
      const key = deriveForwardAuthKey(senderSecret, relayDh, to, this.publicKeyOf(senderSecret));
      try {
        auth = authenticateForward(key, to, sid, body);
      } finally {
        wipe(key);
      }
    }
    const answer = await this.request((id) => ({ t: 'fwd', id, to, sid, body, ...(auth ? { auth } : {}) }));
    if (answer.t !== 'ok') throw new ProtocolError('relay answered fwd with something else');
  }

  private async request(build: (id: number) => ForwardFrame | KeyRecordRequest): Promise<RelayFrame> {
    if (!this.conn || !this.session) throw new TransportError('not connected to the relay');
    const turn = this.pacer?.turn();
    if (turn) await turn;
    const conn = this.conn;
    if (!conn || !this.session) throw new TransportError('not connected to the relay');
    const id = this.nextId++;
    return this.exchange(conn, id, build(id));
  }

  private exchange(conn: TransportConnection, id: number, frame: ClientFrame): Promise<RelayFrame> {
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

  // ---- Fan-out lists (core fanout-frames.ts, docs/decisions/0011-fan-out.md) ------------
  // `fk` is always the X25519 secret of the list's key, which authenticates every command
  // on the list. Failures reject with the relay's typed error (AuthError, NotFoundError,
  // QuotaError, ...), TransportError when the connection is down, TimeoutError.

  /** Creates a fan-out list owned by `fk` on this relay; resolves to its id. */
  async createFanout(fk: Uint8Array): Promise<Uint8Array> {
    assertKey(fk, 'fk');
    const answer = await this.command({ t: 'fnew', fk: this.publicKeyOf(fk) }, fk);
    if (answer.t !== 'flist') throw new ProtocolError(`relay answered fnew with ${answer.t}`);
    return answer.lid;
  }

  /**
   * Puts queues on the list, proving for each that we hold its sender key. Sent in batches
   * of MAX_FANOUT_BATCH, each all or nothing; a failing batch rejects, and the batches
   * before it stay added (adding again is harmless).
   */
  async addToFanout(
    lid: Uint8Array,
    fk: Uint8Array,
    entries: readonly FanoutEntry[],
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    assertListId(lid);
    assertKey(fk, 'fk');
    for (const e of entries) {
      assertSid(e.sid);
      assertKey(e.sk, 'sk');
    }
    for (let at = 0; at < entries.length; at += MAX_FANOUT_BATCH) {
      opts.signal?.throwIfAborted();
      const batch = entries.slice(at, at + MAX_FANOUT_BATCH);
      const session = this.session;
      if (!session) throw new TransportError('not connected to the relay');
      // The proofs are bound to this session; command() sends on it in the same turn.
      const ents = packFanoutEntries(
        batch.map((e) => ({
          sid: e.sid,
          proof: fanoutEntryProof(this.authKey(session, e.sk), session.nonce, lid, e.sid),
        })),
      );
      await this.command({ t: 'fadd', lid, ents }, fk);
    }
  }

  /** Takes queues (by sid) off the list; sids not on it are ignored. */
  async removeFromFanout(
    lid: Uint8Array,
    fk: Uint8Array,
    sids: readonly Uint8Array[],
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    assertListId(lid);
    assertKey(fk, 'fk');
    sids.forEach(assertSid);
    for (let at = 0; at < sids.length; at += MAX_FANOUT_BATCH) {
      opts.signal?.throwIfAborted();
      await this.command({ t: 'frem', lid, sids: concatBytes(...sids.slice(at, at + MAX_FANOUT_BATCH)) }, fk);
    }
  }

  /** Deletes the list. */
  async deleteFanout(lid: Uint8Array, fk: Uint8Array): Promise<void> {
    assertListId(lid);
    assertKey(fk, 'fk');
    await this.command({ t: 'fdrop', lid }, fk);
  }

  /**
   * Uploads `body` once; the relay stores a copy in every queue on the list and answers
   * once all are durable. Full and vanished queues are reported, not fatal.
   */
  async fanoutSend(lid: Uint8Array, fk: Uint8Array, body: Uint8Array): Promise<FanoutSendResult> {
    assertListId(lid);
    assertKey(fk, 'fk');
    const answer = await this.command({ t: 'fsend', lid, body }, fk);
    if (answer.t !== 'fsent') throw new ProtocolError(`relay answered fsend with ${answer.t}`);
    return { stored: answer.n, full: splitSids(answer.full), gone: splitSids(answer.gone) };
  }

  /**
   * Sends the waiting acks, one frame per queue, and awaits their answers. A batch the
   * relay refuses as a whole (an id it no longer holds, or a relay without batched acks)
   * is acked again one id at a time, so the others are still deleted.
   */
  private async sendAcks(): Promise<void> {
    await Promise.all(
      this.acks.take().map(async ({ rid, rk, mids }) => {
        if (mids.length > 1) {
          try {
            await this.command({ t: 'ack', rid, mids: packAckIds(mids) }, rk);
            return;
          } catch (error) {
            if (!(error instanceof NotFoundError || error instanceof DecodeError)) return;
          }
        }
        for (const mid of mids) await this.command({ t: 'ack', rid, mid }, rk).catch(() => undefined);
      }),
    );
  }

  /**
   * Card records (core short-invitation.ts, decision 0045). `putCardRecord` stores a sealed card
   * owned by the X25519 key `ckSecret`, until `exp` at most; the relay's id and expiry come back.
   */
  async putCardRecord(
    ckSecret: Uint8Array,
    data: Uint8Array,
    exp: number,
  ): Promise<{ cid: Uint8Array; exp: number }> {
    const ck = this.publicKeyOf(ckSecret);
    const reply = await this.command({ t: 'cput', ck, data, exp }, ckSecret);
    if (reply.t !== 'crec') throw new ProtocolError(`unexpected answer ${reply.t} to cput`);
    return { cid: reply.cid, exp: reply.exp };
  }

  /** The sealed card under `cid`: NOT_FOUND once withdrawn, EXPIRED past its expiry. */
  async getCardRecord(cid: Uint8Array): Promise<Uint8Array> {
    if (!this.conn || !this.session) throw new TransportError('not connected to the relay');
    const turn = this.pacer?.turn();
    if (turn) await turn;
    const conn = this.conn;
    if (!conn || !this.session) throw new TransportError('not connected to the relay');
    const id = this.nextId++;
    const reply = await this.exchange(conn, id, { t: 'cget', id, cid });
    if (reply.t !== 'crec' || !reply.data) throw new ProtocolError(`unexpected answer ${reply.t} to cget`);
    return reply.data;
  }

  /** Withdraws the card record `cid` (its owner's key). */
  async deleteCardRecord(cid: Uint8Array, ckSecret: Uint8Array): Promise<void> {
    await this.command({ t: 'cdel', cid }, ckSecret);
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
    for (const w of this.waiters.splice(0)) w.reject(new TransportError('connection closed'));
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.wake?.();
    this.attempt?.abort.abort();
    this.attempt?.conn?.close();
    this.pacer?.release();
    this.pacer = undefined;
    this.conn?.close();
    this.forgetKeys();
  }

  private publicKeyOf(secret: Uint8Array): Uint8Array {
    let publicKey = this.publicKeys.get(secret);
    if (!publicKey) {
      publicKey = dhKeyPairFromSecret(secret).publicKey;
      this.publicKeys.set(secret, publicKey);
    }
    return publicKey;
  }

  /** K of a queue key on this session: derived once (one X25519), then reused. */
  private authKey(session: Session, queueSecret: Uint8Array): Uint8Array {
    const publicKey = this.publicKeyOf(queueSecret);
    const id = toHex(publicKey);
    const cached = session.keys.get(id);
    if (cached) {
      session.keys.delete(id);
      session.keys.set(id, cached);
      return cached;
    }
    const key = deriveCommandAuthKey(queueSecret, session.relayDh, session.nonce, publicKey);
    if (session.keys.size >= MAX_AUTH_KEYS) {
      const oldest = session.keys.keys().next().value;
      if (oldest !== undefined) {
        wipe(session.keys.get(oldest));
        session.keys.delete(oldest);
      }
    }
    session.keys.set(id, key);
    return key;
  }

  /** The relay's key for the session is gone with it, and so is every K. */
  private endSession(): void {
    this.forgetKeys();
    this.session = undefined;
  }

  private forgetKeys(): void {
    if (!this.session) return;
    for (const key of this.session.keys.values()) wipe(key);
    this.session.keys.clear();
  }
}

function assertKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== 32)
    throw new UsageError(`${what} must be a 32-byte X25519 secret`);
}

function assertListId(lid: Uint8Array): void {
  if (!(lid instanceof Uint8Array) || lid.length !== FANOUT_LIST_ID_BYTES) {
    throw new UsageError('fan-out list id must be 24 bytes');
  }
}

function assertSid(sid: Uint8Array): void {
  if (!(sid instanceof Uint8Array) || sid.length !== 24) throw new UsageError('sid must be 24 bytes');
}

function hexKey(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
