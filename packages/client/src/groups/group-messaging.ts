/**
 * Group messages on the live path, the group engine's part for them (DESIGN.md "Groups";
 * docs/decisions/0012): my Sender Key chain and its distribution, sending (sender-key encrypted
 * once, handed to deliverToMembers), reading and marking read, and receiving sender keys,
 * messages and receipts. Stored records: message-store.ts; history bundles, late confirmations
 * and owed messages: message-catch-up.ts.
 */
import {
  NotFoundError,
  ProtocolError,
  QuotaError,
  ReplayError,
  UsageError,
  VerificationError,
  createEnvelope,
  decodeEnvelope,
  decodeSenderChain,
  decodeSenderKeyDistribution,
  decodeSenderMessage,
  decodeSenderReceiverState,
  encodeEnvelope,
  encodeSenderChain,
  encodeSenderKeyDistribution,
  encodeSenderReceiverState,
  equalBytes,
  fromHex,
  groupMemberPower,
  padToBucket,
  rotateSenderChain,
  senderChainNeedsRotation,
  senderDecrypt,
  senderEncrypt,
  senderKeyDistribution,
  senderReceiverFromDistribution,
  toHex,
  unpad,
  wipe,
  type FileBody,
} from '@parus/core';
import type { MessageInfo } from '../public-shapes.ts';
import type { ContactRecord } from '../records.ts';
import type { StoreOp } from '../store.ts';
import {
  BACKDATE_WINDOW_MS,
  MAX_CHAINS_PER_MEMBER,
  MAX_LAMPORT_JUMP,
  MAX_STASHED,
  type GroupContext,
  type Loaded,
  type Tx,
} from './engine-context.ts';
import {
  GC,
  decodeGroupMessage,
  decodeReceiver,
  decodeStash,
  encodeGroupRecord,
  type GroupMessageKind,
  type GroupMessageRecord,
} from './group-records.ts';
import { MAX_RECEIPT_IDS, encodeGroupFanoutFrame, encodeGroupPayload } from './group-wire.ts';
import type { MessageCatchUp } from './message-catch-up.ts';
import {
  RECEIPT_DELIVERED,
  RECEIPT_READ,
  countReceipt,
  receiptLevel,
  receiptOp,
} from './message-receipts.ts';
import { goneRecord } from './own-group-sync.ts';
import { GroupMessageStore, incomingRecord } from './message-store.ts';
import { decodeGroupBody, encodeGroupBody, type GroupBody } from './group-body.ts';

/** A message id as the account shows it (64 hex digits); UsageError otherwise. */
export function messageId(s: string): Uint8Array {
  if (typeof s !== 'string' || !/^[0-9a-f]{64}$/u.test(s)) throw new UsageError('not a message id');
  return fromHex(s);
}
import { checkReceiveRate, checkSendRate } from './room-limits.ts';

/** What messaging uses of the engine. */
export type MessagingContext = Pick<
  GroupContext,
  'host' | 'groups' | 'find' | 'state' | 'me' | 'linkOf' | 'change' | 'putRec' | 'putChain' | 'keepPending'
>;

const hex = toHex;

export class GroupMessaging {
  /** Per group: the members a message goes to, for the links, state and contacts seen. */
  private readonly recipients = new WeakMap<Loaded, { inputs: unknown[]; members: ContactRecord[] }>();

  constructor(
    private readonly ctx: MessagingContext,
    private readonly messages: GroupMessageStore,
    private readonly catchUp: MessageCatchUp,
  ) {}

  // ---- Sender keys -----------------------------------------------------------------------------

  /** My chain's distribution to the members I reach, or `only` that member (also when invited). */
  distribute(tx: Tx, l: Loaded, chain: ReturnType<typeof rotateSenderChain>, only?: Uint8Array): void {
    const st = this.ctx.state(l);
    const d = encodeSenderKeyDistribution(senderKeyDistribution(chain, l.rec.id));
    for (const link of l.rec.links) {
      if (only && !equalBytes(link.m, only)) continue;
      if (!st.members.has(hex(link.m)) && !(only && st.invited.has(hex(link.m)))) continue;
      const c = this.ctx.host.contactById(link.c);
      if (c) tx.ops.push(this.ctx.host.sendOp(c, encodeGroupPayload({ t: 'skd', g: l.rec.id, d })));
    }
  }

  /** My chain, replaced first when the policy says so (removal, 100 messages, 7 days). */
  private sendingChain(tx: Tx, l: Loaded): ReturnType<typeof rotateSenderChain> {
    const now = this.ctx.host.now();
    if (l.rec.chain) {
      const chain = decodeSenderChain(l.rec.chain);
      if (!l.rec.rotate && !senderChainNeedsRotation(chain, now, l.rec.chainAt)) return chain;
      wipe(chain.chainKey, chain.signingKey.secretKey);
    }
    const chain = rotateSenderChain(this.ctx.host.rng);
    this.ctx.putRec(tx, l, { ...l.rec, chain: encodeSenderChain(chain), chainAt: now, rotate: false });
    this.distribute(tx, l, chain);
    return chain;
  }

  /** Sends a text, a `/me` action or a ping to everyone in the group, maybe as a reply. */
  async send(
    ref: string,
    text: string,
    opts: { kind?: GroupMessageKind; replyTo?: string } = {},
  ): Promise<MessageInfo> {
    const kind = opts.kind ?? 'text';
    if (kind !== 'text' && kind !== 'action' && kind !== 'ping') throw new UsageError('unknown message kind');
    return this.sendBody(ref, { kind, text }, opts.replyTo);
  }

  /**
   * Sends any group message (group-body.ts): a reply must answer a message of this group, an
   * unsend must take back a message of mine, a reaction must be to a message shown here
   * (UsageError otherwise, nothing sent).
   */
  async sendBody(ref: string, body: GroupBody, replyTo?: string): Promise<MessageInfo> {
    const b: GroupBody = { ...body };
    if (replyTo !== undefined) b.replyTo = messageId(replyTo);
    const wire = encodeGroupBody(b); // UsageError for a malformed one, before any change
    return this.ctx.change(async (tx) => {
      const l = this.writable(ref);
      const st = this.ctx.state(l);
      const me = this.ctx.me(l);
      for (const id of [b.replyTo, b.target]) {
        if (!id) continue;
        const raw = await this.ctx.host.store.get(GC.messages(l.rec.id), hex(id));
        const m = raw && decodeGroupMessage(raw);
        if (!m || !GroupMessageStore.shown(m)) throw new UsageError('no such message in this group');
        if (b.kind === 'unsend' && (m.dir !== 'out' || m.unsent))
          throw new UsageError('only your own messages can be unsent');
        if (b.kind === 'reaction' && m.unsent) throw new UsageError('that message was unsent');
      }
      const index = await this.messages.index(l);
      if (st.settings.public)
        checkSendRate(
          this.ctx.host.roomLimits,
          index.timesOf(me.publicKey),
          me.publicKey,
          this.ctx.host.now(),
        );
      const env = createEnvelope({
        device: me,
        conv: l.rec.id,
        ...index.next(),
        ts: this.ctx.host.now(),
        kind: wire.kind,
        body: wire.body,
      });
      const chain = this.sendingChain(tx, l);
      const enc = senderEncrypt(chain, padToBucket(encodeEnvelope(env)), l.rec.id);
      this.ctx.putChain(tx, l, encodeSenderChain(enc.chain));
      wipe(chain.chainKey, chain.signingKey.secretKey); // stored in its next state; shares nothing
      const record: GroupMessageRecord = {
        ...b,
        id: env.id,
        author: me.publicKey,
        dir: 'out',
        parents: env.parents,
        lamport: env.lamport,
        ts: env.ts,
        received: env.ts,
        delivered: 0,
        read: 0,
        shown: true,
        readByMe: true,
      };
      const changed = await this.messages.effects(tx, l, record);
      this.messages.put(tx, l, record);
      tx.ops.push(...(await this.catchUp.keepHistory(l, env)));
      this.deliverToMembers(tx, l, env.id, enc.message);
      await this.catchUp.oweUnlinked(tx, l, env);
      // My other devices show it as mine (decision 0054).
      if (this.ctx.host.ownDevices())
        tx.ops.push(...(await this.ctx.host.syncOps([{ t: 'sent', env: encodeEnvelope(env) }])));
      if (changed) tx.after.push(() => this.ctx.host.emit({ group: hex(l.rec.id), change: 'messages' }));
      return this.messages.info(l, record);
    });
  }

  /** The group, when I may write in it (a member with the power to); UsageError otherwise. */
  writable(ref: string): Loaded {
    const l = this.ctx.find(ref);
    if (l.rec.status !== 'joined') throw new UsageError('you are not a member of this group');
    const st = this.ctx.state(l);
    const me = this.ctx.me(l);
    if (!st.members.get(hex(me.publicKey))) throw new UsageError('you are not a member of this group');
    if (groupMemberPower(st, me.publicKey) < st.settings.power.message)
      throw new UsageError('only moderators may write in this group');
    return l;
  }

  /**
   * The file a group message carries (its place, keys and hash), for downloading it:
   * NotFoundError for a message the group lacks, deleted or unsent; UsageError for one that
   * is not a file.
   */
  async fileOf(ref: string, messageIdHex: string): Promise<FileBody> {
    const id = messageId(messageIdHex);
    const l = this.ctx.find(ref);
    const raw = await this.ctx.host.store.get(GC.messages(l.rec.id), hex(id));
    const m = raw && decodeGroupMessage(raw);
    if (!m || m.gone || !GroupMessageStore.shown(m)) throw new NotFoundError('no such message in this group');
    if (m.unsent) throw new NotFoundError('the message was unsent');
    if (!m.file) throw new UsageError('this message is not a file');
    return m.file;
  }

  /**
   * Deletes a message on this device only: its contents go, the record stays (without them)
   * so that the message graph keeps its place. NotFoundError for a message the group lacks.
   */
  async deleteForMe(ref: string, messageIdHex: string): Promise<void> {
    const id = messageId(messageIdHex);
    await this.ctx.change(async (tx) => {
      const l = this.ctx.find(ref);
      const raw = await this.ctx.host.store.get(GC.messages(l.rec.id), hex(id));
      const m = raw && decodeGroupMessage(raw);
      if (!m || m.gone) throw new NotFoundError('no such message in this group');
      this.messages.put(tx, l, goneRecord(m));
      // Deleted on my other devices too (decision 0054).
      tx.ops.push(...(await this.ctx.host.syncOps([{ t: 'del', conv: l.rec.id, id: m.id, at: m.lamport }])));
      tx.after.push(() => this.ctx.host.emit({ group: hex(l.rec.id), change: 'messages' }));
    });
  }

  /**
   * THE place where a group message goes on the wire (docs/decisions/0012 "Delivery"). The
   * sender-key ciphertext is the same for every member, so it goes out once per relay by relay
   * fan-out: the host writes, in this batch, the fan-out frame once and a small outbox entry
   * per member (kept until that member's delivery receipt), and its flush uploads the frame
   * once per relay to my fan-out list there. A member the upload did not reach (queue full or
   * gone, not on the list) or whose receipt does not come within the backoff gets the message
   * again over our 1:1 session, as the `msg` payload below.
   */
  private deliverToMembers(tx: Tx, l: Loaded, id: Uint8Array, ciphertext: Uint8Array): void {
    const st = this.ctx.state(l);
    const me = this.ctx.me(l).publicKey;
    // Who it goes to changes with the links, the state and the contacts, not per message.
    const inputs = [l.rec.links, st, this.ctx.host.contactsVersion()];
    let known = this.recipients.get(l);
    if (!known || known.inputs.some((x, i) => x !== inputs[i])) {
      const members: ContactRecord[] = [];
      for (const link of l.rec.links) {
        if (equalBytes(link.m, me) || !st.members.has(hex(link.m))) continue;
        const c = this.ctx.host.contactById(link.c);
        if (c) members.push(c);
      }
      known = { inputs, members };
      this.recipients.set(l, known);
    }
    const members = known.members;
    if (members.length === 0) return;
    tx.ops.push(
      ...this.ctx.host.fanoutOps(members, {
        group: l.rec.id,
        message: id,
        frame: encodeGroupFanoutFrame({ g: l.rec.id, m: me, id, c: ciphertext }),
        payload: encodeGroupPayload({ t: 'msg', g: l.rec.id, id, c: ciphertext }),
      }),
    );
  }

  /** The group's messages in causal order (late ones where they arrived). */
  async history(ref: string): Promise<MessageInfo[]> {
    const l = this.ctx.find(ref);
    return this.messages
      .ordered(await this.messages.records(l))
      .filter((m) => GroupMessageStore.shown(m))
      .map((m) => this.messages.info(l, m));
  }

  /** Called by Account.takeUnshown under the lock: unshown incoming messages, marked shown. */
  async takeUnshown(ops: StoreOp[]): Promise<MessageInfo[]> {
    const out: MessageInfo[] = [];
    for (const l of [...this.ctx.groups.values()].sort((a, b) => a.rec.created - b.rec.created)) {
      for (const m of this.messages.ordered(await this.messages.records(l))) {
        if (m.dir !== 'in' || m.shown) continue;
        if (GroupMessageStore.shown(m)) out.push(this.messages.info(l, m));
        ops.push(this.messages.op(l.rec.id, { ...m, shown: true })); // the index does not change
      }
    }
    return out;
  }

  /** Sends read receipts to the authors of every message not read yet; returns how many. */
  async markRead(ref: string): Promise<number> {
    return this.ctx.change(async (tx) => {
      const l = this.ctx.find(ref);
      const unread = (await this.messages.records(l)).filter((m) => m.dir === 'in' && !m.readByMe);
      const byAuthor = new Map<string, Uint8Array[]>();
      for (const m of unread) {
        this.messages.put(tx, l, { ...m, readByMe: true });
        const list = byAuthor.get(hex(m.author)) ?? [];
        list.push(m.id);
        byAuthor.set(hex(m.author), list);
      }
      // 已讀 on my other devices (decision 0054).
      if (unread.length)
        tx.ops.push(
          ...(await this.ctx.host.syncOps([
            { t: 'read', conv: l.rec.id, upto: Math.max(...unread.map((m) => m.lamport)) },
          ])),
        );
      for (const [author, ids] of byAuthor) {
        const c = this.ctx.linkOf(l, fromHex(author));
        if (!c) continue;
        for (let i = 0; i < ids.length; i += MAX_RECEIPT_IDS)
          tx.ops.push(
            this.ctx.host.sendOp(
              c,
              encodeGroupPayload({ t: 'rcpt', g: l.rec.id, s: 'r', ids: ids.slice(i, i + MAX_RECEIPT_IDS) }),
            ),
          );
      }
      return unread.length;
    });
  }

  // ---- Receiving -------------------------------------------------------------------------------

  async receiveDistribution(
    tx: Tx,
    l: Loaded,
    from: Uint8Array,
    c: ContactRecord,
    bytes: Uint8Array,
  ): Promise<void> {
    const d = decodeSenderKeyDistribution(bytes);
    if (!equalBytes(d.group, l.rec.id)) throw new ProtocolError('sender key for another group');
    const st = this.ctx.state(l);
    if (!st.members.has(hex(from)) && !st.invited.has(hex(from))) {
      // A member let back in hands me their new key over our old session, which may overtake
      // the events that let them in (those come from whoever invited them): kept until the
      // state admits them (onStateChange replays it), within the pending payloads' bound.
      this.ctx.keepPending(tx, c, { t: 'skd', g: l.rec.id, d: bytes }, 'sender key from a non-member');
      return;
    }
    const col = GC.receivers(l.rec.id);
    const mine = (await this.ctx.host.store.list(col))
      .map((e) => ({ key: e.key, r: decodeReceiver(e.value) }))
      .filter((x) => equalBytes(x.r.m, from));
    if (mine.some((x) => x.key === hex(d.chainId))) return;
    const state = senderReceiverFromDistribution(d);
    tx.ops.push({
      type: 'put',
      collection: col,
      key: hex(d.chainId),
      value: encodeGroupRecord({ m: from, state: encodeSenderReceiverState(state), at: this.ctx.host.now() }),
    });
    mine.sort((a, b) => a.r.at - b.r.at);
    for (const old of mine.slice(0, Math.max(0, mine.length - (MAX_CHAINS_PER_MEMBER - 1))))
      tx.ops.push({ type: 'del', collection: col, key: old.key });
    // Messages that waited for this key, opened one after the other with the advancing state.
    const fresh = { [hex(d.chainId)]: state };
    for (const { key, value } of await this.ctx.host.store.list(GC.stash(l.rec.id))) {
      const s = decodeStash(value);
      if (!equalBytes(s.c, c.id)) continue;
      try {
        if (!equalBytes(decodeSenderMessage(s.w).chainId, d.chainId)) continue;
      } catch {
        // damaged: drop it below
      }
      tx.ops.push({ type: 'del', collection: GC.stash(l.rec.id), key });
      try {
        await this.open(tx, l, from, c, s.id, s.w, fresh);
      } catch {
        // A waiting message that does not open is dropped; the key it waited for still counts.
      }
    }
  }

  async receiveMessage(
    tx: Tx,
    l: Loaded,
    from: Uint8Array,
    c: ContactRecord,
    id: Uint8Array,
    wire: Uint8Array,
  ): Promise<void> {
    if (await this.ctx.host.store.get(GC.messages(l.rec.id), hex(id))) {
      tx.ops.push(this.ctx.host.sendOp(c, encodeGroupPayload({ t: 'rcpt', g: l.rec.id, s: 'd', ids: [id] })));
      return;
    }
    await this.open(tx, l, from, c, id, wire, {});
  }

  /** Decrypts, checks and stores one group message; stashes it if its sender key is not here yet. */
  private async open(
    tx: Tx,
    l: Loaded,
    from: Uint8Array,
    c: ContactRecord,
    id: Uint8Array,
    wire: Uint8Array,
    fresh: Record<string, ReturnType<typeof senderReceiverFromDistribution>>,
  ): Promise<void> {
    const chainId = hex(decodeSenderMessage(wire).chainId);
    let state = fresh[chainId];
    if (!state) {
      const raw = await this.ctx.host.store.get(GC.receivers(l.rec.id), chainId);
      if (raw) {
        const r = decodeReceiver(raw);
        if (!equalBytes(r.m, from)) throw new VerificationError('message under another member’s sender key');
        state = decodeSenderReceiverState(r.state);
      }
    }
    if (!state) {
      const stash = await this.ctx.host.store.list(GC.stash(l.rec.id));
      if (stash.length >= MAX_STASHED) throw new QuotaError('too many group messages wait for a sender key');
      tx.ops.push({
        type: 'put',
        collection: GC.stash(l.rec.id),
        key: hex(id),
        value: encodeGroupRecord({ c: c.id, id, w: wire, at: this.ctx.host.now() }),
      });
      return;
    }
    let dec;
    try {
      dec = senderDecrypt(state, wire, l.rec.id);
    } catch (e) {
      if (e instanceof ReplayError) return;
      throw e;
    }
    // The new state shares no byte array with the old one, whose keys are of no further use.
    wipe(state.chainKey, ...state.skipped.map((k) => k.messageKey));
    fresh[chainId] = dec.state;
    const env = decodeEnvelope(unpad(dec.plaintext));
    if (!equalBytes(env.id, id) || !equalBytes(env.conv, l.rec.id) || !equalBytes(env.device, from))
      throw new VerificationError('group message does not match its sender');
    const body = decodeGroupBody(env.kind, env.body);
    const st = this.ctx.state(l);
    if (!st.members.has(hex(from)) || groupMemberPower(st, from) < st.settings.power.message)
      throw new ProtocolError('group message from someone who may not write');
    const index = await this.messages.index(l);
    if (env.lamport > index.nextLamport() + MAX_LAMPORT_JUMP)
      throw new ProtocolError('message clock jumps too far ahead');
    const now = this.ctx.host.now();
    // Public rooms: a member sending beyond the room's rate is not shown (room-limits.ts).
    if (st.settings.public)
      checkReceiveRate(this.ctx.host.roomLimits, index.timesOf(from), from, env.ts, now);
    let record = incomingRecord(env, from, body, now);
    // Read or deleted already on another device of mine (decision 0054).
    if (env.lamport <= (this.ctx.host.ownRead(l.rec.id) ?? -1))
      record = { ...record, readByMe: true, shown: true };
    if (this.ctx.host.ownDeleted(l.rec.id, env.id, env.lamport)) record = goneRecord(record);
    // Seed 003 anti-backdating: a message claiming a place others superseded long ago is
    // placed where it arrived and marked.
    if (index.backdated(env.parents, now, BACKDATE_WINDOW_MS)) record.place = index.nextPlaced();
    // An unsend of someone else's message is refused here, before anything is written.
    const changed = await this.messages.effects(tx, l, record);
    tx.ops.push(...(await this.catchUp.lateArrival(l, record)), ...(await this.catchUp.keepHistory(l, env)));
    tx.ops.push(
      {
        type: 'put',
        collection: GC.receivers(l.rec.id),
        key: chainId,
        value: encodeGroupRecord({ m: from, state: encodeSenderReceiverState(dec.state), at: now }),
      },
      this.ctx.host.sendOp(c, encodeGroupPayload({ t: 'rcpt', g: l.rec.id, s: 'd', ids: [id] })),
    );
    this.messages.put(tx, l, record);
    if (GroupMessageStore.shown(record))
      tx.after.push(() => this.ctx.host.emitMessage(this.messages.info(l, record)));
    if (changed) tx.after.push(() => this.ctx.host.emit({ group: hex(l.rec.id), change: 'messages' }));
  }

  async receiveReceipt(
    tx: Tx,
    l: Loaded,
    from: Uint8Array,
    c: ContactRecord,
    s: 'd' | 'r',
    ids: Uint8Array[],
  ): Promise<void> {
    tx.ops.push(...(await this.ctx.host.settleOps(c, ids)));
    let counted = false;
    const level = s === 'r' ? RECEIPT_READ : RECEIPT_DELIVERED;
    for (const id of new Map(ids.map((x) => [hex(x), x])).values()) {
      const raw = await this.ctx.host.store.get(GC.messages(l.rec.id), hex(id));
      if (!raw) continue;
      const m = decodeGroupMessage(raw);
      if (m.dir !== 'out') continue;
      const was = await receiptLevel(this.ctx.host.store, l.rec.id, id, from);
      const next = countReceipt(m, was, level);
      if (!next) continue;
      tx.ops.push(receiptOp(l.rec.id, id, from, level));
      this.messages.put(tx, l, next);
      counted = true;
    }
    if (counted) tx.after.push(() => this.ctx.host.emit({ group: hex(l.rec.id), change: 'receipts' }));
  }
}
