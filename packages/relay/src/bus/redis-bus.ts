/**
 * The bus over Redis pub/sub (docs/decisions/0049): one channel per relay (its
 * fingerprint), every process of the relay publishing on it and subscribed to it, and one
 * channel per process (the fingerprint and the process's origin) for what only that process
 * needs to hear (decision 0065). Events of one event-loop turn go out as few messages as they
 * can (the `stored` items of a turn for one destination in one). A message sent to one
 * process that nobody received (PUBLISH answers 0: the process is gone) is sent to every
 * process instead. Nothing is queued while Redis is away: events are hints (bus.ts), and when
 * the bus is back the relay reads its subscriptions' queues again (`onReconnect`).
 */
import { Redis } from 'ioredis';
import { TransportError, toHex } from '@parus/core';
import type { Random } from '@parus/core';
import { MAX_STORED_ITEMS, ORIGIN_BYTES, checkBusUrl, decodeBusEvent, encodeBusEvent } from './bus.ts';
import type { BusEvent, BusHandlers, BusStatus, RelayBus } from './bus.ts';

export interface RedisBusOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS). */
  url: string;
  rng: Random;
  log?: (line: string) => void;
  /** How long start() waits for Redis. Default 10 s. */
  connectTimeoutMs?: number;
}

/** After a reconnect, the second read of every subscription's queue (see start()). */
const REREAD_AGAIN_MS = 1_000;

export class RedisBus implements RelayBus {
  readonly kind = 'redis';
  readonly shared = true;
  readonly origin: string;
  private readonly originBytes: Uint8Array;
  private readonly where: string;
  private pub: Redis | undefined;
  private sub: Redis | undefined;
  /** The relay's channel (every process) and this process's own. */
  private channel = '';
  private ownChannel = '';
  private pending: Array<{ event: BusEvent; to: string | undefined }> = [];
  private flushing = false;
  private onGone: ((origin: string) => void) | undefined;
  private published = 0;
  private publishedDirect = 0;
  private received = 0;
  private receivedDirect = 0;
  private missed = 0;
  private dropped = 0;
  private ready = false;
  private closed = false;

  constructor(private readonly opts: RedisBusOptions) {
    const url = checkBusUrl(opts.url);
    // Only host and port are ever logged: the URL may carry a password.
    this.where = `${url.hostname}:${url.port || '6379'}`;
    this.originBytes = opts.rng.bytes(ORIGIN_BYTES);
    this.origin = toHex(this.originBytes);
  }

  async start(relay: string, handlers: BusHandlers): Promise<void> {
    const { onEvent, onReconnect } = handlers;
    this.onGone = handlers.onGone;
    this.channel = `parus:bus:${relay}`;
    this.ownChannel = this.directChannel(this.origin);
    const options = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: this.opts.connectTimeoutMs ?? 10_000,
      retryStrategy: (times: number): number => Math.min(50 * times, 2_000),
    };
    const pub = new Redis(this.opts.url, options);
    const sub = new Redis(this.opts.url, { ...options, enableOfflineQueue: true });
    this.pub = pub;
    this.sub = sub;
    const log = this.opts.log ?? ((): void => {});
    let started = false;
    let lastError = '';
    const onError = (error: Error): void => {
      // ioredis reconnects by itself; one line per kind of failure, not one per retry.
      const line = `bus (redis ${this.where}): ${error.name}: ${error.message}`;
      if (line !== lastError) log(line);
      lastError = line;
    };
    pub.on('error', onError);
    sub.on('error', onError);
    const ownChannel = Buffer.from(this.ownChannel);
    sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      let decoded;
      try {
        decoded = decodeBusEvent(new Uint8Array(message.buffer, message.byteOffset, message.byteLength));
      } catch {
        log('bus: a message that is not a relay bus event was ignored');
        return;
      }
      if (sameBytes(decoded.origin, this.originBytes)) return;
      const direct = channel.equals(ownChannel);
      this.received += 1;
      if (direct) this.receivedDirect += 1;
      onEvent(decoded.event, { origin: toHex(decoded.origin), direct });
    });
    sub.on('close', () => {
      this.ready = false;
    });
    sub.on('ready', () => {
      const again = !this.ready && started;
      this.ready = true;
      lastError = '';
      // Hints published while this process was cut off are lost: read the store again, now and
      // once more a moment later (the channel's SUBSCRIBE goes out again after 'ready': a hint
      // published in between is covered by the second read).
      if (again && !this.closed) {
        onReconnect();
        setTimeout(() => {
          if (!this.closed) onReconnect();
        }, REREAD_AGAIN_MS).unref();
      }
    });
    try {
      await Promise.all([pub.connect(), sub.connect()]);
      await sub.subscribe(this.channel, this.ownChannel);
    } catch (cause) {
      this.closed = true;
      pub.disconnect();
      sub.disconnect();
      throw new TransportError(`cannot reach the bus at redis ${this.where}`, { cause });
    }
    started = true;
    this.ready = true;
  }

  publish(event: BusEvent, to?: string): void {
    if (this.closed) return;
    this.pending.push({ event, to: to === this.origin ? undefined : to });
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
  }

  status(): BusStatus {
    return {
      kind: 'redis',
      connected: this.ready && this.pub?.status === 'ready',
      published: this.published,
      received: this.received,
      publishedDirect: this.publishedDirect,
      receivedDirect: this.receivedDirect,
      missed: this.missed,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    await Promise.allSettled([this.pub?.quit(), this.sub?.quit()]);
    this.pub?.disconnect();
    this.sub?.disconnect();
  }

  private directChannel(origin: string): string {
    return `${this.channel}:${origin}`;
  }

  /**
   * Sends what this turn published: the `stored` items for one destination as one message,
   * where the first of them was (the other events keep their order).
   */
  private flush(): void {
    this.flushing = false;
    const events = this.pending;
    this.pending = [];
    const pub = this.pub;
    if (!pub) return;
    const out: Array<{ event: BusEvent; to: string | undefined }> = [];
    const stored = new Map<string | undefined, Array<{ rid: Uint8Array; seq: number }>>();
    for (const { event, to } of events) {
      if (event.t !== 'stored') {
        out.push({ event, to });
        continue;
      }
      let items = stored.get(to);
      if (!items) {
        stored.set(to, (items = []));
        out.push({ event: { t: 'stored', items }, to });
      }
      for (const item of event.items) items.push(item);
    }
    for (const { event, to } of out) {
      if (event.t !== 'stored' || event.items.length <= MAX_STORED_ITEMS) this.send(pub, event, to);
      else
        for (let at = 0; at < event.items.length; at += MAX_STORED_ITEMS)
          this.send(pub, { t: 'stored', items: event.items.slice(at, at + MAX_STORED_ITEMS) }, to);
    }
  }

  private send(pub: Redis, event: BusEvent, to: string | undefined): void {
    const bytes = encodeBusEvent(this.originBytes, event);
    const message = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.published += 1;
    if (to === undefined) {
      pub.publish(this.channel, message).catch(() => {
        // Redis is away: the hint is lost, and the subscribers read the store when it is back.
        this.dropped += 1;
      });
      return;
    }
    this.publishedDirect += 1;
    pub.publish(this.directChannel(to), message).then(
      (receivers) => {
        if (receivers > 0 || this.closed) return;
        // That process is gone (its subscribers come back elsewhere): every process hears it.
        this.missed += 1;
        this.onGone?.(to);
        this.published += 1;
        pub.publish(this.channel, message).catch(() => {
          this.dropped += 1;
        });
      },
      () => {
        this.dropped += 1;
      },
    );
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
