/**
 * Public rooms (docs/decisions/0013 and 0017), the group engine's part for them: the door's room
 * link, joining by link, the door keeper's checks and admission of a joiner, the refusal a door
 * sends back and its receipt, and the join that follows the keeper's invitation by itself.
 * Records: room-records.ts; the door's checks: room-door.ts; rates: room-limits.ts.
 */
import {
  ProtocolError,
  QuotaError,
  UsageError,
  cardId,
  cardToLink,
  checkCardUsable,
  createRoomLink,
  encodeCard,
  equalBytes,
  generateSignKeyPair,
  groupMemberPower,
  parseRoomLink,
  toHex,
  type CborValue,
  type RendezvousCard,
  nameFault,
} from '@parus/core';
import type { ContactRecord } from '../records.ts';
import type { StoreOp } from '../store.ts';
import { MAX_GROUPS, type GroupContext, type GroupInfo, type Loaded, type Tx } from './engine-context.ts';
import type { GroupRecord } from './group-records.ts';
import { checkRoomAdmission, decodeRoomJoinRequest, roomJoinRequest } from './room-door.ts';
import { JoinLimiter } from './room-limits.ts';
import {
  MAX_ROOM_NICK_CHARS,
  RC,
  decodeRoomRecord,
  encodeRoomRecord,
  type RoomRecord,
} from './room-records.ts';
import { decodeRoomRefusal, refusalOf, refusing, type RoomRefusal } from './room-refusal.ts';

/** What rooms use of the engine. */
export type RoomContext = Pick<
  GroupContext,
  | 'host'
  | 'groups'
  | 'find'
  | 'state'
  | 'me'
  | 'groupName'
  | 'info'
  | 'change'
  | 'snapshot'
  | 'putRec'
  | 'forget'
  | 'event'
  | 'addEvents'
  | 'spread'
  | 'sendAllEvents'
  | 'bindOp'
  | 'joinTx'
  | 'scheduleMaintain'
>;

const hex = toHex;

export class GroupRooms {
  private readonly joinLimiter: JoinLimiter;
  /** Refusals a door answers count apart from its joins, within the same rate (decision 0017). */
  private readonly refusalLimiter: JoinLimiter;
  /** Rooms whose door refused my join by link, and why (from `grooms`, kept in memory for info). */
  private readonly refusedJoins = new Map<string, RoomRefusal>();

  constructor(private readonly ctx: RoomContext) {
    this.joinLimiter = new JoinLimiter(ctx.host.roomLimits);
    this.refusalLimiter = new JoinLimiter(ctx.host.roomLimits);
  }

  /** Reads which joins by link their door refused. */
  async load(): Promise<void> {
    for (const { key, value } of await this.ctx.host.store.list(RC.rooms)) {
      const why = decodeRoomRecord(value).join?.refused?.why;
      if (why) this.refusedJoins.set(key, why);
    }
  }

  /** Why the door refused my join by link to `group` (hex), if it did. */
  refused(group: string): RoomRefusal | undefined {
    return this.refusedJoins.get(group);
  }

  /** Declining a room joined by link: a refusal kept for it goes with the invitation. */
  async forgetJoin(tx: Tx, l: Loaded): Promise<void> {
    const room = this.refusedJoins.has(hex(l.rec.id)) ? await this.roomRecord(l.rec.id) : undefined;
    if (room?.join) tx.ops.push(this.roomOp({ g: room.g, ...(room.door ? { door: room.door } : {}) }));
    tx.after.push(() => this.refusedJoins.delete(hex(l.rec.id)));
  }

  /**
   * Joining by link: the first hidden peer session of the room is the one my join request opens,
   * the one a refusal may come in (kept with the join).
   */
  async joinSessionOps(l: Loaded, c: ContactRecord): Promise<StoreOp[]> {
    const room = l.rec.status === 'invited' ? await this.roomRecord(l.rec.id) : undefined;
    if (room?.join && !room.join.c) return [this.roomOp({ ...room, join: { ...room.join, c: c.id } })];
    return [];
  }

  private async roomRecord(group: Uint8Array): Promise<RoomRecord | undefined> {
    const raw = await this.ctx.host.store.get(RC.rooms, hex(group));
    return raw ? decodeRoomRecord(raw) : undefined;
  }

  private roomOp(r: RoomRecord): StoreOp {
    return { type: 'put', collection: RC.rooms, key: hex(r.g), value: encodeRoomRecord(r) };
  }

  /**
   * The room link of my door (made at the first call), or with `rotate` a new room secret for
   * it: links handed out before stop working. Any member with the power to invite keeps a door.
   */
  async roomLink(ref: string, opts: { rotate?: boolean } = {}): Promise<string> {
    const l = this.ctx.find(ref);
    if (l.rec.status !== 'joined') throw new UsageError('you are not a member of this group');
    const st = this.ctx.state(l);
    if (!st.settings.public) throw new UsageError('this group is not a public room; invite people instead');
    const me = this.ctx.me(l);
    if (groupMemberPower(st, me.publicKey) < st.settings.power.invite)
      throw new UsageError('only members who may invite keep a room link');
    const room = await this.roomRecord(l.rec.id);
    if (room?.door && !opts.rotate) return room.door.link;
    const now = this.ctx.host.now();
    let card: RendezvousCard | undefined;
    if (room?.door) {
      // A new secret on the same door card, while that card stays usable for a while.
      const old = parseRoomLink(room.door.link).door;
      if (old.expires > now + 30 * 24 * 60 * 60 * 1000) card = old;
    }
    card ??= await this.ctx.host.makeDoorCard(l.rec.id);
    const secret = this.ctx.host.rng.bytes(32);
    const link = createRoomLink(
      { group: l.rec.id, name: this.ctx.groupName(l), keeper: me.publicKey, card: encodeCard(card), secret },
      me,
    );
    await this.ctx.host.run(async () => {
      const current = (await this.roomRecord(l.rec.id)) ?? { g: l.rec.id };
      await this.ctx.host.store.batch([
        this.roomOp({ ...current, door: { id: cardId(card), s: secret, link } }),
      ]);
    });
    return link;
  }

  /**
   * Joins a public room from its link: a fresh member key for this join (seed 004's short-term
   * key pair; never a contact key, another one on every join), and a join request, proven with
   * the room secret, answering the door card. The door keeper invites that key; the join
   * follows by itself when the invitation arrives (status `invited` until then).
   */
  async joinRoom(link: string, opts: { nick?: string } = {}): Promise<GroupInfo> {
    const room = parseRoomLink(link);
    checkCardUsable(room.door, this.ctx.host.now());
    const nick = opts.nick === undefined ? undefined : opts.nick.trim();
    const fault = nick === undefined ? undefined : nameFault(nick, MAX_ROOM_NICK_CHARS);
    if (fault !== undefined) throw new UsageError(`nick ${fault}`);
    const g = hex(room.group);
    const before = this.ctx.groups.get(g);
    const beforeRec = before?.rec;
    // A join the door refused may start over (with this link or a newer one).
    if (
      beforeRec &&
      (beforeRec.status === 'joined' || beforeRec.status === 'invited') &&
      !this.refusedJoins.has(g)
    )
      throw new UsageError('you are already in this room (or joining it)');
    if (!before && this.ctx.groups.size >= MAX_GROUPS) throw new QuotaError(`at most ${MAX_GROUPS} groups`);
    const me = generateSignKeyPair(this.ctx.host.rng);
    await this.ctx.change(async (tx) => {
      const now = this.ctx.host.now();
      const rec: GroupRecord = {
        id: room.group,
        status: 'invited',
        name: room.name,
        me: me.secretKey,
        // A new key: the sessions bound to my old one speak for it, not for me now.
        links: [],
        invitees: [],
        intros: [],
        accept: [],
        forwards: [],
        chainAt: now,
        rotate: false,
        created: beforeRec?.created ?? now,
      };
      if (beforeRec?.alias) rec.alias = beforeRec.alias;
      const l: Loaded = before ?? { rec, events: new Map() };
      this.ctx.putRec(tx, l, rec);
      const prev = (await this.roomRecord(room.group)) ?? { g: room.group };
      tx.ops.push(this.roomOp({ ...prev, join: { k: room.keeper, ...(nick ? { nick } : {}) } }));
      this.ctx.groups.set(g, l);
      tx.after.push(() => this.refusedJoins.delete(g));
    });
    try {
      await this.ctx.host.answerRoomDoor(cardToLink(room.door), room.group, (conv) =>
        roomJoinRequest(room.secret, room.group, me, conv),
      );
    } catch (e) {
      await this.ctx.change(async (tx) => {
        const l = this.ctx.groups.get(g);
        if (!l) return;
        if (beforeRec) this.ctx.putRec(tx, l, beforeRec);
        else this.ctx.forget(tx, l);
      });
      throw e;
    }
    return this.ctx.info(this.ctx.groups.get(g)!);
  }

  /**
   * The door keeper's side of a join request (ContactSetup.receiveContactRequest, under the lock,
   * before anything is made for the joiner): the checks of room-door.ts and the door's join
   * rate. Returns the joiner's member key.
   */
  async checkRoomJoin(
    group: Uint8Array,
    door: Uint8Array,
    body: CborValue | undefined,
    conv: Uint8Array,
  ): Promise<Uint8Array> {
    const request = decodeRoomJoinRequest(body);
    const l = this.ctx.groups.get(hex(group));
    const room = l ? await this.roomRecord(group) : undefined;
    const stale = (message: string): Error => refusing('link-invalid', new ProtocolError(message));
    if (!l || !room?.door || !equalBytes(room.door.id, door))
      throw stale('a join request at a door this device no longer keeps');
    if (l.rec.status !== 'joined') throw stale('a join request for a room I am not in');
    checkRoomAdmission({ state: this.ctx.state(l), secret: room.door.s, conv, request });
    try {
      this.joinLimiter.admit(hex(door), this.ctx.host.now());
    } catch (e) {
      throw refusing('too-many-joins', e);
    }
    return request.m;
  }

  /**
   * Whether the door `door` answers the join request that `error` refused, and with what
   * (decision 0017): only errors of the checks above are answered, and no more of them per
   * window than the door admits joins.
   */
  roomRefusal(door: Uint8Array, error: unknown): RoomRefusal | undefined {
    const refusal = refusalOf(error);
    if (!refusal) return undefined;
    try {
      this.refusalLimiter.admit(hex(door), this.ctx.host.now());
    } catch {
      return undefined;
    }
    return refusal;
  }

  /**
   * The joiner's side: a refusal from the door of a room I am joining by link, in the session my
   * join request opened (DirectReceiving.receiveFromContact, under the lock; the account then drops
   * that session). The room stays `invited`, marked refused, until I decline it or join again.
   */
  async receiveRoomRefusal(c: ContactRecord, body: CborValue): Promise<Tx> {
    const r = decodeRoomRefusal(body);
    const l = this.ctx.groups.get(hex(r.g));
    const room = l ? await this.roomRecord(r.g) : undefined;
    const join = room?.join;
    if (
      !l ||
      !room ||
      !join?.c ||
      !c.peer ||
      !equalBytes(c.peer, r.g) ||
      !equalBytes(join.c, c.id) ||
      l.rec.status !== 'invited'
    )
      throw new ProtocolError('a room refusal from a door I am not waiting for');
    const g = hex(r.g);
    return {
      ops: [
        this.roomOp({ ...room, join: { ...join, refused: { why: r.refusal, at: this.ctx.host.now() } } }),
      ],
      after: [
        () => this.refusedJoins.set(g, r.refusal),
        () => this.ctx.host.emit({ group: g, change: 'refused' }),
      ],
    };
  }

  /**
   * Admits `member`, whose join request came in and checked out, on the new hidden peer session
   * `c`: an invite event for the key (spread to everyone), my binding, and every event so far.
   * The operations go into the caller's batch; `after` runs once it is stored.
   */
  admitToRoom(c: ContactRecord, member: Uint8Array): { ops: StoreOp[]; after: Array<() => void> } {
    const l = c.peer ? this.ctx.groups.get(hex(c.peer)) : undefined;
    if (!l) throw new ProtocolError('a join request for an unknown room');
    const tx: Tx = { ops: [], after: [] };
    const restore = this.ctx.snapshot(hex(l.rec.id));
    try {
      const e = this.ctx.event(l, 'invite', { member });
      this.ctx.addEvents(tx, l, [e]);
      this.ctx.spread(tx, l, [e]);
      this.ctx.putRec(tx, l, {
        ...l.rec,
        invitees: [...l.rec.invitees.filter((k) => !equalBytes(k, member)), member],
        links: [...l.rec.links.filter((x) => !equalBytes(x.m, member)), { m: member, c: c.id }],
      });
      tx.ops.push(this.ctx.bindOp(l, c));
      this.ctx.sendAllEvents(tx, l, c);
    } catch (e) {
      restore();
      throw e;
    }
    tx.after.push(() => this.ctx.scheduleMaintain());
    return tx;
  }

  /** Joining by link: once the door keeper's invitation for my key is here, I join (and set my nick). */
  async roomAutoJoin(tx: Tx, l: Loaded, door: ContactRecord): Promise<void> {
    if (l.rec.status !== 'invited' || l.events.size === 0) return;
    const room = await this.roomRecord(l.rec.id);
    const join = room?.join;
    if (!room || !join) return;
    const st = this.ctx.state(l);
    const me = this.ctx.me(l).publicKey;
    if (!st.settings.public || !st.invited.has(hex(me))) return;
    // The invitation must come from the keeper the link named (it signed the link).
    const byKeeper = [...l.events.values()].some(
      (e) => e.type === 'invite' && equalBytes(e.content.member, me) && equalBytes(e.author, join.k),
    );
    if (!byKeeper) return;
    this.ctx.putRec(tx, l, { ...l.rec, inviter: door.id });
    this.ctx.joinTx(tx, l);
    if (join.nick) {
      const e = this.ctx.event(l, 'nick', { nick: join.nick });
      this.ctx.addEvents(tx, l, [e]);
      this.ctx.spread(tx, l, [e]);
    }
    const next: RoomRecord = { ...room };
    delete next.join;
    tx.ops.push(this.roomOp(next));
  }
}
