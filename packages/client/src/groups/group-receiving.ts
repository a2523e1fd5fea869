/**
 * What group members send me, the group engine's part that takes it in (under the account's
 * lock): the dispatch of each payload (group-wire.ts) to the part it is for, invitations,
 * session bindings and state events here, and payloads kept until what they need arrives (a
 * relay refusal and a resend can reorder a session's messages).
 */
import {
  ProtocolError,
  QuotaError,
  VerificationError,
  asMap,
  decodeCbor,
  decodeGroupEvent,
  decodeSenderChain,
  encodeCbor,
  equalBytes,
  toHex,
  verify,
  type CborValue,
  type GroupEvent,
} from '@parus/core';
import type { ContactRecord } from '../records.ts';
import type { StoreOp } from '../store.ts';
import type { ChatRequests } from './chat-requests.ts';
import {
  MAX_GROUPS,
  MAX_GROUP_MEMBERS,
  MAX_LAMPORT_JUMP,
  MAX_PENDING_INVITES,
  MAX_PENDING_PAYLOADS,
  has,
  type GroupContext,
  type Loaded,
  type Tx,
} from './engine-context.ts';
import type { GroupIntroductions } from './group-introductions.ts';
import type { GroupMessaging } from './group-messaging.ts';
import { GC, decodePending, encodeGroupRecord, type GroupRecord } from './group-records.ts';
import type { GroupRooms } from './group-rooms.ts';
import {
  bindMessage,
  decodeGroupFanoutFrame,
  decodeGroupPayload,
  encodeGroupPayload,
  type GroupPayload,
} from './group-wire.ts';
import type { MessageCatchUp } from './message-catch-up.ts';

/** What receiving uses of the engine. */
export type ReceiverContext = Pick<
  GroupContext,
  | 'host'
  | 'groups'
  | 'state'
  | 'me'
  | 'memberOfContact'
  | 'snapshot'
  | 'putRec'
  | 'addEvents'
  | 'spread'
  | 'bindOp'
  | 'scheduleMaintain'
>;

/** The engine's other parts, where the payloads for them go. */
export interface ReceiverParts {
  messaging: GroupMessaging;
  catchUp: MessageCatchUp;
  intros: GroupIntroductions;
  chats: ChatRequests;
  rooms: GroupRooms;
}

const hex = toHex;

function eventIdOf(bytes: Uint8Array): string | undefined {
  // The id only decides whether to decode (and verify) the event at all: a wrong claim costs
  // the sender its own event, nothing else.
  try {
    const id = asMap(decodeCbor(bytes), 'group event').id;
    return id instanceof Uint8Array ? hex(id) : undefined;
  } catch {
    return undefined;
  }
}

export class GroupReceiver {
  private pendingPayloads = 0;

  constructor(
    private readonly ctx: ReceiverContext,
    private readonly parts: ReceiverParts,
  ) {}

  /** Counts the payloads kept from before. */
  async load(): Promise<void> {
    this.pendingPayloads = (await this.ctx.host.store.list(GC.pending)).length;
  }

  /**
   * A `group` envelope from contact or peer `c` (DirectReceiving.receiveFromContact, under the lock):
   * store operations go to `ops`, in-memory updates and events to `after`, run once stored.
   */
  async receive(c: ContactRecord, body: CborValue, ops: StoreOp[], after: Array<() => void>): Promise<void> {
    const p = decodeGroupPayload(body);
    const restore = this.ctx.snapshot(hex(p.g));
    const mark = ops.length;
    try {
      await this.receivePayload(c, p, { ops, after });
    } catch (e) {
      ops.length = mark;
      restore();
      throw e;
    }
  }

  private async receivePayload(c: ContactRecord, p: GroupPayload, tx: Tx): Promise<void> {
    const { after } = tx;
    const l = this.ctx.groups.get(hex(p.g));
    if (c.peer && !equalBytes(c.peer, p.g)) throw new ProtocolError('a group peer spoke of another group');
    if (p.t === 'invite') {
      await this.receiveInvite(tx, c, p);
      after.push(() => void this.replayPending(c.id).catch(() => undefined));
      return;
    }
    if (!l) {
      this.keepPending(tx, c, p, 'payload for an unknown group');
      return;
    }
    if (p.t === 'bind') {
      this.receiveBind(tx, l, c, p.m, p.sig);
      after.push(() => this.ctx.scheduleMaintain());
      after.push(() => void this.replayPending(c.id).catch(() => undefined));
      return;
    }
    const from = this.ctx.memberOfContact(l, c);
    if (!from) {
      this.keepPending(tx, c, p, 'group payload over a session not bound to a member');
      return;
    }
    switch (p.t) {
      case 'ev':
        this.receiveEvents(tx, l, from, p.ev);
        break;
      case 'skd':
        await this.parts.messaging.receiveDistribution(tx, l, from, c, p.d);
        break;
      case 'msg':
        await this.parts.messaging.receiveMessage(tx, l, from, c, p.id, p.c);
        break;
      case 'rcpt':
        await this.parts.messaging.receiveReceipt(tx, l, from, c, p.s, p.ids);
        break;
      case 'intro':
        this.parts.intros.receiveIntro(tx, l, from, p.to, p.from, p.link);
        break;
      case 'chatreq':
        await this.parts.chats.receiveChatRequest(tx, l, from, p.link, p.note);
        break;
      case 'hist':
        await this.parts.catchUp.receiveHistory(tx, l, from, p.env);
        break;
      case 'lc':
        await this.parts.catchUp.receiveConfirmation(tx, l, from, p);
        break;
      case 'owe':
        await this.parts.catchUp.receiveOwed(tx, l, from, c, p.env);
        break;
    }
    if (p.t === 'ev') await this.parts.rooms.roomAutoJoin(tx, l, c);
    after.push(() => this.ctx.scheduleMaintain());
  }

  /** Keeps a payload that came before what it needs (bounded), to be read once that arrives. */
  keepPending(tx: Tx, c: ContactRecord, p: GroupPayload, why: string): void {
    if (this.pendingPayloads >= MAX_PENDING_PAYLOADS) throw new ProtocolError(why);
    const key = `${hex(c.id)}.${hex(this.ctx.host.rng.bytes(8))}`;
    tx.ops.push({
      type: 'put',
      collection: GC.pending,
      key,
      value: encodeGroupRecord({ c: c.id, p: encodeCbor(encodeGroupPayload(p)), at: this.ctx.host.now() }),
    });
    tx.after.push(() => this.pendingPayloads++);
  }

  /** Reads the payloads a session sent ahead of an invitation or binding that has now arrived. */
  async replayPending(contact: Uint8Array): Promise<void> {
    await this.ctx.host.run(async () => {
      const prefix = `${hex(contact)}.`;
      const entries = (await this.ctx.host.store.list(GC.pending)).filter((e) => e.key.startsWith(prefix));
      const sorted = entries
        .map((e) => ({ key: e.key, r: decodePending(e.value) }))
        .sort((a, b) => a.r.at - b.r.at || (a.key < b.key ? -1 : 1));
      for (const { key, r } of sorted) {
        const c = this.ctx.host.contactById(r.c);
        const tx: Tx = {
          ops: [{ type: 'del', collection: GC.pending, key }],
          after: [() => this.pendingPayloads--],
        };
        if (c) {
          const p = decodeGroupPayload(decodeCbor(r.p));
          const restore = this.ctx.snapshot(hex(p.g));
          try {
            await this.receivePayload(c, p, tx);
          } catch {
            // It does not count after all: it is dropped, as it would have been on arrival.
            restore();
            tx.ops.length = 1;
            tx.after.length = 1;
          }
        }
        await this.ctx.host.store.batch(tx.ops);
        for (const f of tx.after) f();
      }
    });
    this.ctx.host.kick();
  }

  private async receiveInvite(
    tx: Tx,
    c: ContactRecord,
    p: Extract<GroupPayload, { t: 'invite' }>,
  ): Promise<void> {
    if (c.peer) throw new ProtocolError('invitations come from contacts');
    if (!verify(p.m, bindMessage(p.g, c.conv), p.sig))
      throw new VerificationError('invitation binding does not verify');
    const existing = this.ctx.groups.get(hex(p.g));
    if (existing && (existing.rec.status === 'invited' || existing.rec.status === 'joined')) return;
    const pending = [...this.ctx.groups.values()].filter((x) => x.rec.status === 'invited').length;
    if (pending >= MAX_PENDING_INVITES || this.ctx.groups.size >= MAX_GROUPS)
      throw new QuotaError('too many pending group invitations');
    const now = this.ctx.host.now();
    const rec: GroupRecord = {
      id: p.g,
      status: 'invited',
      name: p.name.slice(0, 64),
      // My member key is the key this inviter knows me by (docs/decisions/0012).
      me: c.identity,
      inviter: c.id,
      links: [{ m: p.m, c: c.id }],
      invitees: [],
      intros: [],
      accept: [],
      forwards: [],
      chainAt: now,
      rotate: false,
      created: now,
    };
    const l: Loaded = existing ?? { rec, events: new Map() };
    if (existing?.rec.alias) rec.alias = existing.rec.alias;
    if (existing && equalBytes(existing.rec.me, rec.me)) {
      // Invited back with the same member key: the sessions with the others still speak for it.
      rec.links = [...existing.rec.links.filter((x) => !equalBytes(x.m, p.m)), ...rec.links];
      rec.invitees = existing.rec.invitees;
      rec.intros = existing.rec.intros;
      rec.created = existing.rec.created;
    }
    this.ctx.putRec(tx, l, rec);
    tx.after.push(() => {
      this.ctx.groups.set(hex(p.g), l);
      this.ctx.host.emit({ group: hex(p.g), change: 'invited' });
    });
  }

  private receiveBind(tx: Tx, l: Loaded, c: ContactRecord, m: Uint8Array, sig: Uint8Array): void {
    if (!verify(m, bindMessage(l.rec.id, c.conv), sig))
      throw new VerificationError('group session binding does not verify');
    const bound = this.ctx.memberOfContact(l, c);
    if (bound && !equalBytes(bound, m)) throw new ProtocolError('a session may speak for one member only');
    if (equalBytes(m, this.ctx.me(l).publicKey)) throw new ProtocolError('a peer bound my own key');
    if (!bound && l.rec.links.length >= 2 * MAX_GROUP_MEMBERS)
      throw new QuotaError('too many sessions bound to this group');
    const rec = { ...l.rec, links: [...l.rec.links.filter((x) => !equalBytes(x.m, m)), { m, c: c.id }] };
    this.ctx.putRec(tx, l, rec);
    if (l.rec.status !== 'joined') return;
    // A new session: my sender key and what they may have missed, and cards waiting for them.
    const chain = l.rec.chain ? decodeSenderChain(l.rec.chain) : undefined;
    if (chain && !l.rec.rotate) this.parts.messaging.distribute(tx, l, chain, m);
    // Each of us had, through our inviters, what came before the earlier of our two joins; what
    // came after may have missed the other.
    const st = this.ctx.state(l);
    let theirs = st.members.get(hex(m))?.joinedAt;
    if (theirs === undefined) {
      theirs = 0;
      for (const e of l.events.values())
        if (e.type === 'invite' && equalBytes(e.content.member, m)) theirs = Math.max(theirs, e.lamport);
    }
    const since = Math.min(theirs, st.members.get(hex(this.ctx.me(l).publicKey))?.joinedAt ?? 0);
    const missed = [...l.events.values()]
      .filter((e) => e.lamport >= since)
      .sort((a, b) => a.lamport - b.lamport);
    this.ctx.spread(tx, l, missed, [m]);
    const waiting = l.rec.forwards.filter((f) => equalBytes(f.to, m));
    if (waiting.length) {
      for (const f of waiting)
        tx.ops.push(this.ctx.host.sendOp(c, encodeGroupPayload({ t: 'intro', g: l.rec.id, ...f })));
      this.ctx.putRec(tx, l, { ...l.rec, forwards: l.rec.forwards.filter((f) => !equalBytes(f.to, m)) });
    }
  }

  private receiveEvents(tx: Tx, l: Loaded, from: Uint8Array, raw: Uint8Array[]): void {
    const decoded: GroupEvent[] = [];
    // A clock far beyond everything known would leave no room for the next event (2^53).
    const maxLamport = (l.events.size ? this.ctx.state(l).lamport : 0) + MAX_LAMPORT_JUMP;
    // A group has one create: the first I hold stays (a group made before docs/decisions/0022
    // can have a second one, signed by its creator to swap the history).
    let pinned = [...l.events.values()].some((e) => e.type === 'create');
    for (const bytes of raw) {
      const id = eventIdOf(bytes);
      if (id === undefined || l.events.has(id)) continue;
      try {
        const e = decodeGroupEvent(bytes, { group: l.rec.id });
        if (e.type === 'create' && pinned) continue;
        if (e.type === 'create') pinned = true;
        if (e.lamport <= maxLamport) decoded.push(e);
      } catch {
        // Forged or malformed: it never counts, and nothing else in the payload suffers.
      }
    }
    const fresh = this.ctx.addEvents(tx, l, decoded);
    if (fresh.length === 0 || l.rec.status !== 'joined') return;
    // Relay so that everyone gets everything: my invitees' events to all, the rest to my invitees.
    const me = this.ctx.me(l).publicKey;
    const fromInvitee = has(l.rec.invitees, from);
    const targets = l.rec.links
      .map((x) => x.m)
      .filter((m) => !equalBytes(m, from) && !equalBytes(m, me) && (fromInvitee || has(l.rec.invitees, m)));
    this.ctx.spread(tx, l, fresh, targets);
  }

  /**
   * A group message that came by relay fan-out into the pairwise queue from `c`
   * (group-wire.ts GroupFanoutFrame): read exactly like the `msg` payload it stands for, once
   * its framing names the member that queue belongs to.
   */
  async receiveFanout(
    c: ContactRecord,
    bytes: Uint8Array,
    ops: StoreOp[],
    after: Array<() => void>,
  ): Promise<void> {
    const f = decodeGroupFanoutFrame(bytes);
    const l = this.ctx.groups.get(hex(f.g));
    const from = l ? this.ctx.memberOfContact(l, c) : undefined;
    if (from && !equalBytes(from, f.m))
      throw new VerificationError('fan-out message names another sender than its queue');
    await this.receive(c, encodeGroupPayload({ t: 'msg', g: f.g, id: f.id, c: f.c }), ops, after);
  }
}
