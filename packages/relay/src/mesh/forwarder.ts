/**
 * Store-and-forward of sends between relays of a cloud (docs/decisions/0033).
 *
 * A forward (a client's `fwd`, or an `lfwd` from a link) is committed to this relay's
 * forward queue before it goes on, and stays there until the destination's answer comes
 * back along the links (`ldone`), which this relay passes back to where the forward came
 * from: the previous link, or the client waiting for its `ok`. Until then it is sent again
 * to the next hop of the current shortest path whenever the route changes or a retry is
 * due, so a link outage or a restart delays a forward and never loses it. Every hop knows a
 * forward by its id (core forwardId: a hash of destination, queue and body, the same for
 * every retry), so a copy that comes twice is held once; the destination stores it once and
 * answers copies from its `done` table.
 *
 * The destination checks the forward's authenticator (core relay-forward.ts) under its own
 * X25519 key, as it checks a direct send's under a connection's key, and sees only the
 * previous hop, never the client.
 */
import {
  AuthError,
  MAX_FORWARD_HOPS,
  NotFoundError,
  ParusError,
  deriveForwardAuthKey,
  checkForwardAuth,
  equalBytes,
  errorFromCode,
  forwardId,
  toBase64Url,
  wipe,
} from '@parus/core';
import type { ErrorCode, ForwardFrame, LinkDone, LinkForward } from '@parus/core';
import type { CommandHandler } from '../commands.ts';
import type { QueueStore } from '../queue-store.ts';
import type { ServerKeys } from '../server-keys.ts';
import type { ForwardStore } from './forward-store.ts';

/** First wait before a forward is sent again without an answer; it doubles up to the cap. */
const RETRY_MS = 2_000;
const MAX_RETRY_MS = 30_000;
/** The retry pass runs this often. */
const TICK_MS = 500;

/** What the forwarder needs of the links and the routes (mesh.ts). */
export interface ForwardRoutes {
  /** The link to send a forward for relay `to` on, by the current shortest path; undefined: none now. */
  nextHop(to: Uint8Array): { send(frame: LinkForward | LinkDone): void } | undefined;
  /** The open link to the relay `fingerprint`, to send an answer back on. */
  link(fingerprint: Uint8Array): { send(frame: LinkDone): void } | undefined;
}

export interface ForwarderOptions {
  keys: ServerKeys;
  store: ForwardStore;
  queues: QueueStore;
  commands: CommandHandler;
  routes: ForwardRoutes;
  now: () => number;
  messageTtlMs: number;
  log: (line: string) => void;
}

/** A held forward's retry state, in memory (the forward itself is in the store). */
interface Pending {
  to: Uint8Array;
  nextAt: number;
  waitMs: number;
  sent: boolean;
}

type Answer = (code: ErrorCode | undefined) => void;

export class Forwarder {
  private readonly pending = new Map<string, Pending>();
  /** Clients of this relay waiting for a forward's answer, by forward id. */
  private readonly waiting = new Map<string, Answer[]>();
  /** Forwards being stored here (the last hop), so that copies arriving meanwhile wait for it. */
  private readonly storing = new Map<string, Promise<ErrorCode | undefined>>();
  private readonly timer: NodeJS.Timeout;
  /** Counters for the status page. */
  forwarded = 0;
  delivered = 0;

  constructor(private readonly opts: ForwarderOptions) {
    for (const h of opts.store.headers()) {
      this.pending.set(key(h.fid), { to: h.to, nextAt: 0, waitMs: RETRY_MS, sent: false });
    }
    this.timer = setInterval(() => this.retry(), TICK_MS);
    this.timer.unref();
  }

  get held(): number {
    return this.pending.size;
  }

  close(): void {
    clearInterval(this.timer);
    for (const answers of this.waiting.values()) for (const a of answers) a('TRANSPORT');
    this.waiting.clear();
  }

  /** A client's `fwd`: resolves with the destination's answer (throws its refusal as a typed error). */
  async fromClient(frame: ForwardFrame): Promise<void> {
    const code = await new Promise<ErrorCode | undefined>((resolve) => {
      void this.accept(
        {
          to: frame.to,
          sid: frame.sid,
          body: frame.body,
          hops: 0,
          ...(frame.auth ? { auth: frame.auth } : {}),
        },
        null,
        resolve,
      );
    });
    if (code !== undefined) throw errorFromCode(code, 'the destination relay refused the message');
  }

  /** An `lfwd` from the link to `prev`. */
  fromLink(frame: LinkForward, prev: Uint8Array): void {
    const back = (code: ErrorCode | undefined): void => {
      const fid = forwardId(frame.to, frame.sid, frame.body);
      const done: LinkDone = code === undefined ? { t: 'ldone', fid } : { t: 'ldone', fid, code };
      this.opts.routes.link(prev)?.send(done);
    };
    void this.accept(frame, prev, back);
  }

  /** An `ldone` came back: settle the forward and pass the answer on to where it came from. */
  answered(frame: LinkDone): void {
    const k = key(frame.fid);
    if (!this.pending.has(k)) return;
    const held = this.opts.store.get(frame.fid);
    this.pending.delete(k);
    this.opts.store.settle(
      frame.fid,
      frame.code === undefined ? { expires: this.opts.now() + this.opts.messageTtlMs } : undefined,
    );
    if (held?.prev) this.opts.routes.link(held.prev)?.send(frame);
    this.answerClients(k, frame.code);
  }

  /** Routes changed or a link came up: every held forward is tried again now. */
  routesChanged(): void {
    for (const p of this.pending.values()) {
      p.nextAt = 0;
      p.waitMs = RETRY_MS;
    }
    this.retry();
  }

  private async accept(f: Omit<LinkForward, 't'>, prev: Uint8Array | null, answer: Answer): Promise<void> {
    try {
      const fid = forwardId(f.to, f.sid, f.body);
      const k = key(fid);
      if (equalBytes(f.to, this.opts.keys.fingerprint)) return answer(await this.storeHere(fid, f));
      if (this.opts.store.isDone(fid)) return answer(undefined);
      if (f.hops >= MAX_FORWARD_HOPS) return answer('PROTOCOL');
      if (prev === null) this.wait(k, answer);
      if (this.pending.has(k)) return; // already held: the answer comes with the first copy's
      const fresh = await this.opts.store.hold({
        fid,
        to: f.to,
        sid: f.sid,
        body: f.body,
        auth: f.auth ?? null,
        hops: f.hops,
        prev,
        created: this.opts.now(),
      });
      if (!fresh) return; // a copy that came while the first was being committed: its answer is the first's
      this.pending.set(k, { to: f.to, nextAt: 0, waitMs: RETRY_MS, sent: false });
      // A copy from a link is answered once the destination's answer comes back (answered()).
      if (prev !== null) this.waitLink(k, prev, answer);
      this.sendOn(k, fid);
    } catch (error) {
      answer(error instanceof ParusError ? error.code : 'INTERNAL');
    }
  }

  /**
   * An answer for a copy from a link that was not the first (the first one's goes back via
   * its stored `prev`): kept in memory, like a client's.
   */
  private waitLink(k: string, prev: Uint8Array, answer: Answer): void {
    const held = this.opts.store.get(fromKey(k));
    if (held?.prev && equalBytes(held.prev, prev)) return; // answered from answered()
    this.wait(k, answer);
  }

  private wait(k: string, answer: Answer): void {
    const list = this.waiting.get(k) ?? [];
    if (list.length >= 16) list.shift()?.('TIMEOUT');
    list.push(answer);
    this.waiting.set(k, list);
  }

  private answerClients(k: string, code: ErrorCode | undefined): void {
    const list = this.waiting.get(k);
    if (!list) return;
    this.waiting.delete(k);
    for (const a of list) a(code);
  }

  /** The last hop: the queue is here. Stored once per forward id, whatever the copies. */
  private storeHere(fid: Uint8Array, f: Omit<LinkForward, 't'>): Promise<ErrorCode | undefined> {
    const k = key(fid);
    const running = this.storing.get(k);
    if (running) return running;
    const work = (async (): Promise<ErrorCode | undefined> => {
      try {
        if (this.opts.store.isDone(fid)) return undefined;
        const queue = await this.opts.queues.queueBySid(f.sid);
        if (!queue) throw new NotFoundError('no such queue');
        if (queue.sk !== null) {
          if (!f.auth) throw new AuthError('send to a secured queue must be authenticated');
          const authKey = deriveForwardAuthKey(this.opts.keys.dh.secretKey, queue.sk, f.to, queue.sk);
          try {
            if (!checkForwardAuth(authKey, f.to, f.sid, f.body, f.auth))
              throw new AuthError('forward authenticator does not verify');
          } finally {
            wipe(authKey);
          }
        }
        const { message, settled } = await this.opts.commands.deposit(queue, f.body);
        // Durable, or already acked by its recipient (decision 0034): remembered before the
        // answer goes out, so a retry finds it.
        await settled;
        await this.opts.store.markDone(fid, message.expires);
        this.delivered += 1;
        return undefined;
      } catch (error) {
        return error instanceof ParusError ? error.code : 'INTERNAL';
      } finally {
        this.storing.delete(k);
      }
    })();
    this.storing.set(k, work);
    return work;
  }

  private sendOn(k: string, fid: Uint8Array): void {
    const p = this.pending.get(k);
    if (!p) return;
    const hop = this.opts.routes.nextHop(p.to);
    const now = this.opts.now();
    if (!hop) {
      p.nextAt = now + RETRY_MS; // no route now: tried again when routes change
      return;
    }
    const held = this.opts.store.get(fid);
    if (!held) {
      this.pending.delete(k);
      return;
    }
    const frame: LinkForward = {
      t: 'lfwd',
      to: held.to,
      sid: held.sid,
      body: held.body,
      hops: held.hops + 1,
    };
    if (held.auth) frame.auth = held.auth;
    hop.send(frame);
    if (!p.sent) this.forwarded += 1;
    p.sent = true;
    p.nextAt = now + p.waitMs;
    p.waitMs = Math.min(p.waitMs * 2, MAX_RETRY_MS);
  }

  private retry(): void {
    const now = this.opts.now();
    for (const [k, p] of this.pending) if (p.nextAt <= now) this.sendOn(k, fromKey(k));
  }
}

function key(fid: Uint8Array): string {
  return toBase64Url(fid);
}

function fromKey(k: string): Uint8Array {
  return Uint8Array.from(Buffer.from(k, 'base64url'));
}
