/**
 * What each queue command does (relay-protocol.ts). The connection has already checked
 * the framing, the session and the request id; here each command checks its authenticator
 * against the key that owns the queue, changes the store, answers, and only then tells
 * the subscriptions, so an `ok` goes out before the frames it caused. A `send` is the
 * exception: its message goes out as soon as the store took it, and its `ok` once the
 * message is durable or acked by its recipient (docs/decisions/0034).
 *
 * Every failure is thrown as a typed ParusError and becomes the `err` frame's code.
 */
import {
  AuthError,
  DecodeError,
  MESSAGE_ID_BYTES,
  NotFoundError,
  QUEUE_ID_BYTES,
  QuotaError,
  generateDhKeyPair,
  queueKey,
  encodeDeliveryPlaintext,
  wipe,
} from '@parus/core';
import type {
  AckFrame,
  DelFrame,
  FanoutCommand,
  ForwardFrame,
  KeyRecordRequest,
  NewFrame,
  Random,
  SecureFrame,
  SendFrame,
  SubFrame,
  TurnFrame,
} from '@parus/core';
import type { ClusterDelivery } from './bus/cluster.ts';
import { deliverySlab } from './byte-slab.ts';
import type { CommandContext } from './command-context.ts';
import { DELIVERY_NONCE_BYTES, sealDeliveryNative } from './delivery-seal.ts';
import type { FanoutHandler } from './fanout.ts';
import type { QueueRecord, QueueStore, StoredMessage } from './queue-store.ts';
import type { StorageBudget } from './storage-budget.ts';
import type { Subscriptions } from './subscriptions.ts';
import { turnCredentials, type TurnConfig } from './turn.ts';

export type QueueCommand =
  | ForwardFrame
  | KeyRecordRequest
  | NewFrame
  | SecureFrame
  | SubFrame
  | SendFrame
  | AckFrame
  | DelFrame
  | TurnFrame
  | FanoutCommand;

export interface CommandHandlerOptions {
  store: QueueStore;
  subscriptions: Subscriptions;
  rng: Random;
  /** Message ids and delivery nonces: values that go on the wire (node-random.ts pooledRandom). */
  wireRng: Random;
  now: () => number;
  messageTtlMs: number;
  maxSubscriptionsPerConnection: number;
  /** Counts each stored message, for the relay's stats. */
  onStored: () => void;
  /** The fan-out commands (fanout.ts). */
  fanout: FanoutHandler;
  /** The relay's storage budget: a full relay creates no queue. */
  storage: StorageBudget;
  /** Forwarded sends and key records (mesh/mesh.ts), set once the mesh part is wired. */
  mesh?: { run(ctx: CommandContext, frame: ForwardFrame | KeyRecordRequest): Promise<void> };
  /** TURN for calls (turn.ts, decision 0046), when the operator set it up. */
  turn?: TurnConfig;
  /** The other processes of this relay (bus/cluster.ts), when it runs several. */
  cluster?: ClusterDelivery;
}

const takeSlabBytes = (size: number): Uint8Array => deliverySlab.take(size);

export class CommandHandler {
  constructor(private readonly opts: CommandHandlerOptions) {}

  async run(ctx: CommandContext, frame: QueueCommand): Promise<void> {
    switch (frame.t) {
      case 'new':
        return this.create(ctx, frame);
      case 'secure':
        return this.secure(ctx, frame);
      case 'sub':
        return this.subscribe(ctx, frame);
      case 'send':
        return this.send(ctx, frame);
      case 'ack':
        return this.ack(ctx, frame);
      case 'del':
        return this.delete(ctx, frame);
      case 'turn': {
        // Only the relay's own users: the caller proves it holds one of its queues.
        await this.ownedQueue(ctx, frame);
        if (!this.opts.turn) throw new NotFoundError('this relay offers no TURN server');
        ctx.reply({ t: 'turnc', id: frame.id, ...turnCredentials(this.opts.turn, this.opts.now()) });
        return;
      }
      case 'fwd':
      case 'rkey':
        if (!this.opts.mesh) throw new NotFoundError('this relay forwards to no other relay');
        return this.opts.mesh.run(ctx, frame);
      default:
        return this.opts.fanout.run(ctx, frame);
    }
  }

  private async create(ctx: CommandContext, frame: NewFrame): Promise<void> {
    // Authenticated with the rk it creates the queue for: proof that the caller holds it.
    ctx.auth.check(frame.rk, frame, frame.auth, ctx.received);
    this.opts.storage.check('queues');
    const { rng } = this.opts;
    const rid = rng.bytes(QUEUE_ID_BYTES);
    const sid = rng.bytes(QUEUE_ID_BYTES);
    // A key pair for this queue alone; only the derived queue key is kept.
    const relayDh = generateDhKeyPair(rng);
    let key: Uint8Array;
    try {
      key = queueKey(relayDh.secretKey, frame.rdh, rid);
    } finally {
      wipe(relayDh.secretKey);
    }
    await this.opts.store.createQueue({
      rid,
      sid,
      rk: frame.rk,
      sk: frame.sk ?? null,
      queueKey: key,
      created: this.opts.now(),
    });
    ctx.reply({ t: 'ids', id: frame.id, rid, sid, sdh: relayDh.publicKey });
  }

  private async secure(ctx: CommandContext, frame: SecureFrame): Promise<void> {
    await this.ownedQueue(ctx, frame);
    await this.opts.store.secureQueue(frame.rid, frame.sk);
    ctx.reply({ t: 'ok', id: frame.id });
  }

  private async subscribe(ctx: CommandContext, frame: SubFrame): Promise<void> {
    await this.ownedQueue(ctx, frame);
    const pending = await this.opts.store.pendingCount(frame.rid, this.opts.now());
    if (!ctx.isOpen()) return;
    const { subscriptions } = this.opts;
    if (
      !subscriptions.holds(ctx.subscriber, frame.rid) &&
      subscriptions.countFor(ctx.subscriber) >= this.opts.maxSubscriptionsPerConnection
    ) {
      throw new QuotaError('too many subscriptions on this connection');
    }
    subscriptions.subscribe(ctx.subscriber, frame.rid);
    this.opts.cluster?.subscribed(frame.rid);
    ctx.reply({ t: 'ok', id: frame.id, pending });
    subscriptions.pump(frame.rid);
  }

  private async send(ctx: CommandContext, frame: SendFrame): Promise<void> {
    const queue = await this.opts.store.queueBySid(frame.sid);
    if (!queue) throw new NotFoundError('no such queue');
    // An unsecured queue takes unauthenticated sends (the first message is how a sender
    // introduces itself); an authenticator on one is not checked, as there is no key yet.
    if (queue.sk !== null) {
      if (!frame.auth) throw new AuthError('send to a secured queue must be authenticated');
      ctx.auth.check(queue.sk, frame, frame.auth, ctx.received);
    }
    const { settled } = await this.deposit(queue, frame.body);
    await settled;
    ctx.reply({ t: 'ok', id: frame.id });
  }

  /**
   * Seals `sent` under the queue's key and takes it into the store; also the last hop of a
   * forwarded send (mesh/forwarder.ts). It goes out to a caught-up subscriber at once; the
   * caller answers once `settled`: the message is durable or its recipient acked it
   * (held-messages.ts, decision 0034), so the answer may follow the `msg`.
   */
  async deposit(
    queue: QueueRecord,
    sent: Uint8Array,
  ): Promise<{ message: StoredMessage; settled: Promise<void> }> {
    const { wireRng, now } = this.opts;
    const mid = wireRng.bytes(MESSAGE_ID_BYTES);
    const ts = now();
    const body = sealDeliveryNative(
      queue.queueKey,
      wireRng.bytes(DELIVERY_NONCE_BYTES),
      mid,
      // Sealed at once and dropped: carved from the slab rather than an array of its own.
      encodeDeliveryPlaintext(ts, sent, takeSlabBytes),
    );
    const { message, settled } = await this.opts.store.accept(
      { rid: queue.rid, mid, ts, body, expires: ts + this.opts.messageTtlMs },
      { checkedSk: queue.sk },
    );
    this.opts.onStored();
    // One that nobody took now is not going to be acked soon: it is written with the next commit.
    if (!this.opts.subscriptions.stored(message)) this.opts.store.writeSoon(message);
    this.opts.cluster?.deposited(message, settled);
    return { message, settled };
  }

  private async ack(ctx: CommandContext, frame: AckFrame): Promise<void> {
    await this.ownedQueue(ctx, frame);
    // One id, or a batch (core ack-batch.ts: 1 to MAX_ACK_BATCH distinct ids, checked when decoded).
    const mids: Uint8Array[] = [];
    if (frame.mids) {
      for (let at = 0; at < frame.mids.length; at += MESSAGE_ID_BYTES)
        mids.push(frame.mids.subarray(at, at + MESSAGE_ID_BYTES));
    } else if (frame.mid) mids.push(frame.mid);
    if (mids.length === 0) throw new DecodeError('ack without a message id');
    const { subscriptions } = this.opts;
    const delivered = subscriptions.inflightOf(ctx.subscriber, frame.rid, mids);
    const acks = mids.map((mid, i) => {
      const seq = delivered.seqs[i];
      return seq === undefined ? { mid } : { mid, seq };
    });
    try {
      await this.opts.store.deleteMessages(frame.rid, acks);
    } finally {
      // Even when a message is already gone (expired, acked twice), the recipient is done
      // with it: it must not hold a place in the delivery window.
      subscriptions.ackedKeys(frame.rid, delivered.keys);
      // Delivered by another process of this relay: its window frees these places.
      const { cluster } = this.opts;
      if (cluster && !subscriptions.holds(ctx.subscriber, frame.rid)) cluster.ackedHere(frame.rid, mids);
    }
    ctx.reply({ t: 'ok', id: frame.id });
  }

  private async delete(ctx: CommandContext, frame: DelFrame): Promise<void> {
    await this.ownedQueue(ctx, frame);
    await this.opts.store.deleteQueue(frame.rid);
    this.opts.subscriptions.queueDeleted(frame.rid);
    this.opts.cluster?.queueDeleted(frame.rid);
    ctx.reply({ t: 'ok', id: frame.id });
  }

  /** The queue named by `rid`, once the command's authenticator checks under its `rk`. */
  private async ownedQueue(
    ctx: CommandContext,
    frame: SecureFrame | SubFrame | AckFrame | DelFrame | TurnFrame,
  ): Promise<QueueRecord> {
    const queue = await this.opts.store.queueByRid(frame.rid);
    if (!queue) throw new NotFoundError('no such queue');
    ctx.auth.check(queue.rk, frame, frame.auth, ctx.received);
    return queue;
  }
}
