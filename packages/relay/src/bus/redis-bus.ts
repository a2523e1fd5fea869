/**
 * The bus over Redis pub/sub (docs/decisions/0049): one channel per relay (its
 * fingerprint), every process of the relay publishing on it and subscribed to it. Events
 * of one event-loop turn go out as few messages as they can (the `stored` items of a turn in
 * one). Nothing is queued while Redis is away: events are hints (bus.ts), and when the bus is
 * back the relay reads its subscriptions' queues again (`onReconnect`).
 */
import { Redis } from 'ioredis';
import { TransportError } from '@parus/core';
import type { Random } from '@parus/core';
import { MAX_STORED_ITEMS, ORIGIN_BYTES, checkBusUrl, decodeBusEvent, encodeBusEvent } from './bus.ts';
import type { BusEvent, BusStatus, RelayBus } from './bus.ts';

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
  private readonly origin: Uint8Array;
  private readonly where: string;
  private pub: Redis | undefined;
  private sub: Redis | undefined;
  private channel = '';
  private pending: BusEvent[] = [];
  private flushing = false;
  private published = 0;
  private received = 0;
  private dropped = 0;
  private ready = false;
  private closed = false;

  constructor(private readonly opts: RedisBusOptions) {
    const url = checkBusUrl(opts.url);
    // Only host and port are ever logged: the URL may carry a password.
    this.where = `${url.hostname}:${url.port || '6379'}`;
    this.origin = opts.rng.bytes(ORIGIN_BYTES);
  }

  async start(relay: string, onEvent: (event: BusEvent) => void, onReconnect: () => void): Promise<void> {
    this.channel = `parus:bus:${relay}`;
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
    sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
      let decoded;
      try {
        decoded = decodeBusEvent(new Uint8Array(message.buffer, message.byteOffset, message.byteLength));
      } catch {
        log('bus: a message that is not a relay bus event was ignored');
        return;
      }
      if (sameBytes(decoded.origin, this.origin)) return;
      this.received += 1;
      onEvent(decoded.event);
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
      await sub.subscribe(this.channel);
    } catch (cause) {
      this.closed = true;
      pub.disconnect();
      sub.disconnect();
      throw new TransportError(`cannot reach the bus at redis ${this.where}`, { cause });
    }
    started = true;
    this.ready = true;
  }

  publish(event: BusEvent): void {
    if (this.closed) return;
    this.pending.push(event);
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

  /** Sends what this turn published: consecutive `stored` events as one message. */
  private flush(): void {
    this.flushing = false;
    const events = this.pending;
    this.pending = [];
    const out: BusEvent[] = [];
    for (const event of events) {
      const last = out[out.length - 1];
      if (
        event.t === 'stored' &&
        last?.t === 'stored' &&
        last.items.length + event.items.length <= MAX_STORED_ITEMS
      )
        last.items = [...last.items, ...event.items];
      else if (event.t === 'stored' && event.items.length > MAX_STORED_ITEMS)
        for (let at = 0; at < event.items.length; at += MAX_STORED_ITEMS)
          out.push({ t: 'stored', items: event.items.slice(at, at + MAX_STORED_ITEMS) });
      else out.push(event.t === 'stored' ? { t: 'stored', items: [...event.items] } : event);
    }
    const pub = this.pub;
    if (!pub) return;
    for (const event of out) {
      const bytes = encodeBusEvent(this.origin, event);
      this.published += 1;
      pub.publish(this.channel, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).catch(() => {
        // Redis is away: the hint is lost, and the subscribers read the store when it is back.
        this.dropped += 1;
      });
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
