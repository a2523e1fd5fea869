/**
 * What the fan-out commands do (core fanout-frames.ts, docs/decisions/0011-fan-out.md): a
 * group sender uploads a body once and the relay puts a copy into each queue on the
 * sender's list (DESIGN.md "Groups", seed 002 "a copy to each member").
 *
 * Authorisation is the 1:1 rule, checked once per entry instead of once per message: a
 * queue goes on a list only with a proof under its sender key, and from then on `fsend`,
 * authenticated with the list's key, stands for a send to each entry. The relay stores the
 * body once; each queue's message names it and is sealed under that queue's key when it
 * goes out, so copies of one upload look unrelated on the wire, as 1:1 deliveries do.
 *
 * Like commands.ts: every failure is a typed ParusError; the answer goes out before the
 * deliveries it causes.
 */
import {
  AuthError,
  FANOUT_ENTRY_BYTES,
  FANOUT_LIST_ID_BYTES,
  MESSAGE_ID_BYTES,
  NotFoundError,
  QuotaError,
  TokenBucket,
  concatBytes,
  checkFanoutEntryProof,
  encodeDeliveryPlaintext,
  splitSids,
} from '@parus/core';
import type {
  FanoutAddFrame,
  FanoutCommand,
  FanoutDropFrame,
  FanoutNewFrame,
  FanoutRemoveFrame,
  FanoutSendFrame,
  Random,
} from '@parus/core';
import type { ClusterDelivery } from './bus/cluster.ts';
import type { CommandContext } from './command-context.ts';
import { DELIVERY_NONCE_BYTES, sealDeliveryNative } from './delivery-seal.ts';
import type { QueueStore } from './queue-store.ts';
import type { FanoutList, FanoutStore } from './fanout-store.ts';
import type { Subscriber, Subscriptions } from './subscriptions.ts';

export interface FanoutHandlerOptions {
  queues: QueueStore;
  lists: FanoutStore;
  subscriptions: Subscriptions;
  rng: Random;
  /** Wall clock, ms since the epoch. */
  now: () => number;
  /** Monotonic ms, for the per-connection copy budget. */
  clock: () => number;
  messageTtlMs: number;
  maxListsPerConnection: number;
  maxEntries: number;
  copiesPerSecond: number;
  /** Counts stored copies, for the relay's stats. */
  onStored: (copies: number) => void;
  /** The other processes of this relay (bus/cluster.ts), when it runs several. */
  cluster?: ClusterDelivery;
}

/** What one connection has spent. */
interface Budget {
  listsCreated: number;
  copies: TokenBucket;
}

export class FanoutHandler {
  private readonly budgets = new WeakMap<Subscriber, Budget>();

  constructor(private readonly opts: FanoutHandlerOptions) {}

  run(ctx: CommandContext, frame: FanoutCommand): Promise<void> {
    switch (frame.t) {
      case 'fnew':
        return this.create(ctx, frame);
      case 'fadd':
        return this.add(ctx, frame);
      case 'frem':
        return this.remove(ctx, frame);
      case 'fdrop':
        return this.drop(ctx, frame);
      case 'fsend':
        return this.send(ctx, frame);
    }
  }

  private async create(ctx: CommandContext, frame: FanoutNewFrame): Promise<void> {
    // Authenticated with the fk it creates the list for: proof that the caller holds it.
    ctx.auth.check(frame.fk, frame, frame.auth, ctx.received);
    const budget = this.budget(ctx.subscriber);
    if (budget.listsCreated >= this.opts.maxListsPerConnection) {
      throw new QuotaError('too many fan-out lists created on this connection');
    }
    budget.listsCreated += 1;
    const lid = this.opts.rng.bytes(FANOUT_LIST_ID_BYTES);
    await this.opts.lists.createList(lid, frame.fk, this.opts.now());
    ctx.reply({ t: 'flist', id: frame.id, lid });
  }

  private async add(ctx: CommandContext, frame: FanoutAddFrame): Promise<void> {
    await this.ownedList(ctx, frame);
    const sids: Uint8Array[] = [];
    const { session } = ctx.auth;
    for (let at = 0, i = 0; at < frame.ents.length; at += FANOUT_ENTRY_BYTES, i++) {
      const sid = frame.ents.subarray(at, at + 24);
      const proof = frame.ents.subarray(at + 24, at + FANOUT_ENTRY_BYTES);
      const queue = await this.opts.queues.queueBySid(sid);
      if (!queue) throw new NotFoundError(`entry ${i}: no such queue`);
      if (queue.sk === null) throw new AuthError(`entry ${i}: queue is not secured`);
      const proven = ctx.auth.proves(queue.sk, (key) =>
        checkFanoutEntryProof(key, session, frame.lid, sid, proof),
      );
      if (!proven) throw new AuthError(`entry ${i} is not proven by its queue's sender key`);
      sids.push(sid.slice());
    }
    await this.opts.lists.addEntries(frame.lid, sids, this.opts.now());
    ctx.reply({ t: 'ok', id: frame.id });
  }

  private async remove(ctx: CommandContext, frame: FanoutRemoveFrame): Promise<void> {
    await this.ownedList(ctx, frame);
    const sids = splitSids(frame.sids).map((sid) => sid.slice());
    await this.opts.lists.removeEntries(frame.lid, sids, this.opts.now());
    ctx.reply({ t: 'ok', id: frame.id });
  }

  private async drop(ctx: CommandContext, frame: FanoutDropFrame): Promise<void> {
    await this.ownedList(ctx, frame);
    await this.opts.lists.dropList(frame.lid);
    ctx.reply({ t: 'ok', id: frame.id });
  }

  private async send(ctx: CommandContext, frame: FanoutSendFrame): Promise<void> {
    const list = await this.ownedList(ctx, frame);
    // Each copy costs the relay about what a 1:1 send does, so copies, not frames, are
    // what the budget counts. The list's size now (an `fadd` still being committed may add
    // up to one batch more).
    this.spend(ctx.subscriber, Math.max(1, list.entries));
    const { rng, now, messageTtlMs, subscriptions } = this.opts;
    const ts = now();
    const expires = ts + messageTtlMs;
    const plaintext = encodeDeliveryPlaintext(ts, frame.body);
    const result = await this.opts.lists.fanout(frame.lid, {
      ts,
      expires,
      plaintext,
      newMids: (n) => rng.bytes(n * MESSAGE_ID_BYTES),
    });
    this.opts.onStored(result.stored.length);
    ctx.reply({
      t: 'fsent',
      id: frame.id,
      n: result.stored.length,
      full: concatBytes(...result.full),
      gone: concatBytes(...result.gone),
    });
    // Live delivery: a caught-up subscriber gets its copy now, sealed under its queue's
    // key; the others read it from the store (sealed there) when their window opens.
    let nonces: Uint8Array | undefined;
    result.stored.forEach((copy, i) => {
      subscriptions.storedLazily(copy.rid, copy.seq, copy.key, () => {
        // A queue deleted since has no subscriber left (it got `end`): nothing comes here.
        const key = copy.queueKey;
        // One draw of randomness for the whole fan-out, not one per copy.
        nonces ??= rng.bytes(result.stored.length * DELIVERY_NONCE_BYTES);
        const nonce = nonces.subarray(i * DELIVERY_NONCE_BYTES, (i + 1) * DELIVERY_NONCE_BYTES);
        const body = sealDeliveryNative(key, nonce, copy.mid, plaintext);
        return { rid: copy.rid, mid: copy.mid, seq: copy.seq, ts, expires, body };
      });
    });
    // Copies for queues subscribed on another process of this relay: told, as durable now.
    this.opts.cluster?.fannedOut(result.stored);
  }

  /** The list, once the command's authenticator checks under its `fk`. */
  private async ownedList(
    ctx: CommandContext,
    frame: FanoutAddFrame | FanoutRemoveFrame | FanoutDropFrame | FanoutSendFrame,
  ): Promise<FanoutList> {
    const list = await this.opts.lists.list(frame.lid);
    if (!list) throw new NotFoundError('no such fan-out list');
    ctx.auth.check(list.fk, frame, frame.auth, ctx.received);
    return list;
  }

  private budget(holder: Subscriber): Budget {
    let budget = this.budgets.get(holder);
    if (!budget) {
      budget = {
        listsCreated: 0,
        copies: new TokenBucket(this.opts.copiesPerSecond, this.burst(), this.opts.clock),
      };
      this.budgets.set(holder, budget);
    }
    return budget;
  }

  /** A full list at once, and the sustained rate beyond it. */
  private burst(): number {
    return Math.max(this.opts.maxEntries, this.opts.copiesPerSecond);
  }

  private spend(holder: Subscriber, copies: number): void {
    if (!this.budget(holder).copies.take(copies)) throw new QuotaError('fan-out rate limit exceeded');
  }
}
