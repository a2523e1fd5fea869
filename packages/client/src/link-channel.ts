/**
 * The relay side of linking a device (core device-link.ts, docs/decisions/0030 "Linking"): one
 * fresh inbound queue on the link's relay for each of the two devices, nothing else. A
 * `LinkChannel` makes its queue, hands over what arrives in it one body at a time, and sends
 * to the other device's queue. The queue is unsecured (the other side has no key for it yet),
 * so anyone who learns its sid can write to it: every body is checked by the handshake and the
 * secretstream frames, and the queue is deleted when the channel closes.
 */
import {
  ProtocolError,
  TimeoutError,
  generateDhKeyPair,
  openDelivery,
  queueKey,
  wipe,
  type Random,
} from '@parus/core';
import { RelayConnection } from './relay-connection.ts';
import type { Transport } from './transport.ts';

/** Bodies waiting to be read; a sender that floods the queue is cut off here. */
const MAX_WAITING = 4096;

export class LinkChannel {
  private readonly waiting: Uint8Array[] = [];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly relay: RelayConnection,
    readonly address: string,
    readonly sid: Uint8Array,
    private readonly rid: Uint8Array,
    private readonly rk: Uint8Array,
  ) {}

  /** Connects to `address` and makes this side's queue there. */
  static async open(opts: {
    address: string;
    transport: Transport;
    rng: Random;
    timeoutMs?: number;
  }): Promise<LinkChannel> {
    let channel: LinkChannel | undefined;
    let key: Uint8Array | undefined;
    const early: Array<[Uint8Array, Uint8Array]> = [];
    const relay = new RelayConnection({
      address: opts.address,
      transport: opts.transport,
      rng: opts.rng,
      onMessage: (_rid, mid, sealed) => {
        if (!channel || !key) {
          early.push([mid, sealed]);
          return;
        }
        channel.deliver(key, mid, sealed);
      },
    });
    relay.connect();
    try {
      await relay.whenConnected(opts.timeoutMs ?? 15_000);
      const rk = generateDhKeyPair(opts.rng);
      const rdh = generateDhKeyPair(opts.rng);
      const answer = await relay.command({ t: 'new', rk: rk.publicKey, rdh: rdh.publicKey }, rk.secretKey);
      if (answer.t !== 'ids') throw new ProtocolError('relay answered new with something else');
      key = queueKey(rdh.secretKey, answer.sdh, answer.rid);
      wipe(rdh.secretKey);
      channel = new LinkChannel(relay, opts.address, answer.sid, answer.rid, rk.secretKey);
      for (const [mid, sealed] of early) channel.deliver(key, mid, sealed);
      await relay.subscribe(answer.rid, rk.secretKey);
      return channel;
    } catch (e) {
      relay.close();
      throw e;
    }
  }

  private deliver(key: Uint8Array, mid: Uint8Array, sealed: Uint8Array): void {
    if (this.waiting.length >= MAX_WAITING) {
      this.failure = new ProtocolError('too many messages on the link queue');
    } else {
      try {
        this.waiting.push(openDelivery(key, mid, sealed).body);
      } catch {
        return; // not sealed by the relay for this queue: dropped (and acked)
      }
    }
    this.wake?.();
  }

  /** The next body that arrived, waiting until `deadline` (Date.now() ms) at most. */
  async next(deadline: number, signal?: AbortSignal): Promise<Uint8Array> {
    for (;;) {
      if (this.failure) throw this.failure;
      const body = this.waiting.shift();
      if (body) return body;
      const left = deadline - Date.now();
      if (left <= 0) throw new TimeoutError('the other device did not answer in time');
      if (signal?.aborted) throw new TimeoutError('link cancelled');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Sends `body` to the other device's queue on this relay. */
  async send(sid: Uint8Array, body: Uint8Array): Promise<void> {
    await this.relay.command({ t: 'send', sid, body });
  }

  /** Deletes this side's queue (best effort) and closes the connection. */
  async close(): Promise<void> {
    try {
      if (this.relay.connected) await this.relay.command({ t: 'del', rid: this.rid }, this.rk);
    } catch {
      // the relay expires a forgotten queue anyway
    }
    await this.relay.drained().catch(() => undefined);
    this.relay.close();
    wipe(this.rk);
  }
}
