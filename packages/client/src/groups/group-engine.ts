/**
 * Private groups on top of the account's 1:1 sessions (issue 4; DESIGN.md "Groups";
 * docs/decisions/0009 and 0012).
 *
 * - State: signed events (core group-event.ts) kept as received and resolved by every member
 *   with core group-state.ts. Local actions are refused (UsageError) unless the resolved state
 *   with the new event accepts it; events from others that do not count change nothing.
 * - Sessions: the inviter and the invitee are contacts. Every other pair of members gets a
 *   session through the group: the member who joined later makes a fresh one-time card for the
 *   other, a member both already reach forwards it (DESIGN.md "Introductions"), and each side
 *   binds the session to its member key with a signature. Such peers are not contacts.
 * - Encryption: Sender Keys (core sender-key.ts). My chain's distribution goes to every member
 *   over the pairwise sessions; it is replaced after every removal, after 100 messages and after
 *   7 days; a new member gets the chain at its current iteration, so earlier messages stay closed
 *   unless the group shares history: then one member sends a newcomer the signed envelopes
 *   written since it was turned on (history-share.ts). Late messages are confirmed in
 *   late-confirm.ts.
 * - Messages: envelopes (core envelope.ts) with the group id as conversation, signed with the
 *   member key, DAG parents and Lamport clocks across members; sender-key encrypted once and
 *   handed to deliverToMembers — the single place that puts a group message on the wire.
 *
 * This file is the facade: loading, lookups, the state events (create, invite, join, leave, kick,
 * roles, topic …) and the change helpers its parts use. The parts, each handed only what it uses
 * of the engine (engine-context.ts): what members send me and where it goes (group-receiving.ts),
 * messages on the live path (group-messaging.ts) and as stored (message-store.ts), history
 * bundles, late confirmations and owed messages (message-catch-up.ts), introductions and the
 * background pass (group-introductions.ts), public rooms (group-rooms.ts) and private chat
 * requests (chat-requests.ts).
 */
import {
  GROUP_AVATAR_BOUNDS,
  avatarInfo,
  GROUP_ROLES,
  NotFoundError,
  QuotaError,
  UsageError,
  VerificationError,
  compareBytes,
  createGroup,
  createGroupEvent,
  memberKeyChange,
  memberKeyCommitment,
  signKeyPairFromSeed,
  wipe,
  decodeGroupEvent,
  decodeSenderChain,
  encodeGroupEvent,
  encodeSenderChain,
  equalBytes,
  fromHex,
  generateSignKeyPair,
  resolveGroupState,
  rotateSenderChain,
  sign,
  toHex,
  defaultGroupSettings,
  type AssignableGroupRole,
  type CborMap,
  type CborValue,
  type GroupEvent,
  type GroupEventContents,
  type GroupEventType,
  type GroupState,
  type SignKeyPair,
  nameFault,
  type FileBody,
  MAX_SYNC_GROUP_EVENTS,
  type Envelope,
  type SyncOp,
  type SyncOpBody,
} from '@parus/core';
import type { ContactInfo, MessageInfo } from '../public-shapes.ts';
import type { ContactRecord, InviteRecord } from '../records.ts';
import type { StoreOp } from '../store.ts';
import { ChatRequests, type ChatRequestInfo } from './chat-requests.ts';
import { GroupCallSignalling } from './group-call-signalling.ts';
import {
  MAX_GROUPS,
  MAX_GROUP_EVENTS,
  MAX_GROUP_MEMBERS,
  has,
  type GroupContext,
  type GroupHost,
  type GroupInfo,
  type GroupMemberInfo,
  type Loaded,
  type Tx,
} from './engine-context.ts';
import { GroupIntroductions } from './group-introductions.ts';
import { GroupMessaging, messageId as hexId } from './group-messaging.ts';
import {
  GC,
  GROUP_RECORDS_VERSION,
  MAX_FANOUT_LISTS,
  decodeGroupMessage,
  decodeGroupRecord,
  decodeReceiver,
  encodeGroupRecord,
  type GroupFanoutList,
  type GroupMessageKind,
  type GroupRecord,
} from './group-records.ts';
import { GroupReceiver } from './group-receiving.ts';
import { GroupRooms } from './group-rooms.ts';
import { MAX_EVENTS_PER_PAYLOAD, bindMessage, encodeGroupPayload, type GroupPayload } from './group-wire.ts';
import { linkIndex } from './link-index.ts';
import { openMemberSeed, sealMemberSeed } from './member-rotation.ts';
import { MessageCatchUp } from './message-catch-up.ts';
import { OwnGroupSync } from './own-group-sync.ts';
import { upgradeReceiptOps } from './message-receipts.ts';
import { GroupMessageStore } from './message-store.ts';
import type { RoomRefusal } from './room-refusal.ts';
import type { SnapshotGroup, SnapshotGroupPeer } from '../snapshot-groups.ts';
import {
  RESTORED_LINKS,
  decodeRestoredLinks,
  encodeRestoredLinksRecord,
  restoreGroupOps,
  snapshotGroups,
} from './group-snapshot.ts';

export {
  BACKDATE_WINDOW_MS,
  MAX_CHAINS_PER_MEMBER,
  MAX_GROUPS,
  MAX_GROUP_EVENTS,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_TEXT,
  MAX_PENDING_INVITES,
  MAX_PENDING_PAYLOADS,
  MAX_STASHED,
} from './engine-context.ts';
export type { GroupChange, GroupHost, GroupInfo, GroupMemberInfo } from './engine-context.ts';
export type { ChatRequestInfo } from './chat-requests.ts';

const hex = toHex;

function keyPair(secret: Uint8Array): SignKeyPair {
  return { secretKey: secret, publicKey: secret.slice(32, 64) };
}

export class GroupEngine {
  private readonly groups = new Map<string, Loaded>();
  private readonly messages: GroupMessageStore;
  private readonly catchUp: MessageCatchUp;
  private readonly messaging: GroupMessaging;
  private readonly intros: GroupIntroductions;
  private readonly rooms: GroupRooms;
  private readonly chats: ChatRequests;
  private readonly receiver: GroupReceiver;
  /** Small group calls' signalling (group-call-signalling.ts, decision 0053). */
  readonly calls: GroupCallSignalling;
  private readonly own: OwnGroupSync;

  constructor(private readonly host: GroupHost) {
    // The parts see the engine through these (each through its own Pick of them).
    const ctx: GroupContext = {
      host,
      groups: this.groups,
      closed: () => this.intros.isClosed,
      state: (l) => this.state(l),
      me: (l) => this.me(l),
      find: (ref) => this.find(ref),
      findMember: (l, ref) => this.findMember(l, ref),
      groupName: (l) => this.groupName(l),
      displayName: (l, key) => this.displayName(l, key),
      linkOf: (l, member) => this.linkOf(l, member),
      memberOfContact: (l, c) => this.memberOfContact(l, c),
      info: (l) => this.info(l),
      change: (fn) => this.change(fn),
      snapshot: (only) => this.snapshot(only),
      putRec: (tx, l, rec) => this.putRec(tx, l, rec),
      putChain: (tx, l, chain) => this.putChain(tx, l, chain),
      forget: (tx, l) => this.forget(tx, l),
      event: (l, type, content) => this.event(l, type, content),
      addEvents: (tx, l, events) => this.addEvents(tx, l, events),
      spread: (tx, l, events, targets) => this.spread(tx, l, events, targets),
      sendAllEvents: (tx, l, c) => this.sendAllEvents(tx, l, c),
      bindOp: (l, c) => this.bindOp(l, c),
      joinTx: (tx, l) => this.joinTx(tx, l),
      keepPending: (tx, c, p, why) => this.receiver.keepPending(tx, c, p, why),
      scheduleMaintain: () => this.scheduleMaintain(),
    };
    this.messages = new GroupMessageStore(ctx);
    this.catchUp = new MessageCatchUp(ctx, this.messages);
    this.messaging = new GroupMessaging(ctx, this.messages, this.catchUp);
    this.intros = new GroupIntroductions(ctx, this.catchUp);
    this.rooms = new GroupRooms(ctx);
    this.chats = new ChatRequests(ctx);
    this.calls = new GroupCallSignalling(ctx, (ref, body) => this.messaging.sendBody(ref, body));
    this.receiver = new GroupReceiver(ctx, {
      messaging: this.messaging,
      catchUp: this.catchUp,
      intros: this.intros,
      chats: this.chats,
      rooms: this.rooms,
    });
    this.own = new OwnGroupSync(ctx, this.messages);
  }

  async load(): Promise<void> {
    await this.receiver.load();
    for (const { value } of await this.host.store.list(GC.groups)) {
      let rec = decodeGroupRecord(value);
      const chain = await this.host.store.get(GC.chains, hex(rec.id));
      if (chain) rec.chain = chain;
      if ((rec.v ?? 1) < GROUP_RECORDS_VERSION) rec = await this.upgradeRecords(rec);
      const events = new Map<string, GroupEvent>();
      let create: GroupEvent | undefined;
      for (const e of await this.host.store.list(GC.events(rec.id))) {
        try {
          const ev = decodeGroupEvent(e.value, { group: rec.id });
          // One create per group (receiveEvents keeps the first); of two stored before that
          // rule, the smaller id is the one the group resolved with then.
          if (ev.type === 'create') {
            if (create !== undefined && compareBytes(create.id, ev.id) < 0) continue;
            if (create !== undefined) events.delete(hex(create.id));
            create = ev;
          }
          events.set(hex(ev.id), ev);
        } catch {
          // Kept as received; one that does not decode never counted.
        }
      }
      this.groups.set(hex(rec.id), { rec, events });
    }
    await this.rooms.load();
  }

  /**
   * Version 1 → 2: receipts move out of the message records (message-receipts.ts) and my
   * sending chain out of the group record (GC.chains), in one batch per group.
   */
  private async upgradeRecords(rec: GroupRecord): Promise<GroupRecord> {
    const ops: StoreOp[] = [];
    for (const { value } of await this.host.store.list(GC.messages(rec.id))) {
      const m = decodeGroupMessage(value);
      if (!m.legacy) continue;
      ops.push(...upgradeReceiptOps(rec.id, m), this.messages.op(rec.id, m));
    }
    const next: GroupRecord = { ...rec, v: GROUP_RECORDS_VERSION };
    ops.push(...this.recordOps(next));
    await this.host.store.batch(ops);
    return next;
  }

  /** Stops background work (the account closes). */
  close(): Promise<void> {
    return this.intros.close();
  }

  /** Whether introduction work is running or due. */
  get busy(): boolean {
    return this.intros.busy;
  }

  /** Resolves when no introduction work is running. */
  idle(): Promise<void> {
    return this.intros.idle();
  }

  // ---- Lookups --------------------------------------------------------------------------------

  private state(l: Loaded): GroupState {
    if (!l.state) l.state = resolveGroupState([...l.events.values()], { group: l.rec.id });
    return l.state;
  }

  private me(l: Loaded): SignKeyPair {
    return keyPair(l.rec.me);
  }

  /** A group by id (hex, or a prefix of 8+ hex digits), local alias, or name. */
  private find(ref: string): Loaded {
    if (typeof ref !== 'string' || ref.length === 0 || ref.length > 128)
      throw new UsageError('group must be an id, alias or name');
    const byId = this.groups.get(ref);
    if (byId) return byId;
    const matches = [...this.groups.values()].filter(
      (l) =>
        l.rec.alias === ref ||
        (/^[0-9a-f]{8,32}$/.test(ref) && hex(l.rec.id).startsWith(ref)) ||
        this.groupName(l) === ref,
    );
    if (matches.length === 0) throw new NotFoundError(`no group named ${ref}`);
    if (matches.length > 1) throw new UsageError(`${ref} names several groups; use the id`);
    return matches[0]!;
  }

  private groupName(l: Loaded): string {
    if (l.events.size === 0) return l.rec.name;
    try {
      return this.state(l).name;
    } catch {
      return l.rec.name;
    }
  }

  private linkOf(l: Loaded, member: Uint8Array): ContactRecord | undefined {
    const c = linkIndex(l.rec.links).byMember.get(hex(member));
    return c ? this.host.contactById(c) : undefined;
  }

  private memberOfContact(l: Loaded, c: ContactRecord): Uint8Array | undefined {
    return linkIndex(l.rec.links).byContact.get(hex(c.id));
  }

  private displayName(l: Loaded, key: Uint8Array): string {
    if (equalBytes(key, this.me(l).publicKey)) return 'me';
    const member = l.events.size ? this.state(l).members.get(hex(key)) : undefined;
    if (member?.nick) return member.nick;
    const c = this.linkOf(l, key);
    if (c) return c.peer ? c.name : c.alias;
    return hex(key).slice(0, 8);
  }

  /** A member by nick, contact alias, name, or key (hex or a prefix of 8+ digits). */
  private findMember(l: Loaded, ref: string): Uint8Array {
    const st = this.state(l);
    const matches = [...st.members.values(), ...[...st.invited].map((k) => ({ key: fromHex(k) }))].filter(
      (m) =>
        ('nick' in m && m.nick === ref) ||
        this.displayName(l, m.key) === ref ||
        (/^[0-9a-f]{8,64}$/.test(ref) && hex(m.key).startsWith(ref)),
    );
    let keys = matches.map((m) => m.key);
    if (keys.length === 0) {
      // Not (or no longer) a member: a banned key, or a contact known by alias.
      for (const k of st.banned) if (/^[0-9a-f]{8,64}$/.test(ref) && k.startsWith(ref)) keys.push(fromHex(k));
      if (keys.length === 0) {
        try {
          const c = this.host.contactByAlias(ref);
          const m = this.memberOfContact(l, c);
          keys.push(m ?? c.theirIdentity);
        } catch {
          // not a contact either
        }
      }
    }
    keys = keys.filter((k, i) => keys.findIndex((x) => equalBytes(x, k)) === i);
    if (keys.length === 0) throw new NotFoundError(`no member named ${ref}`);
    if (keys.length > 1) throw new UsageError(`${ref} names several members; use the key`);
    return keys[0]!;
  }

  // ---- Reading the groups -----------------------------------------------------------------------

  list(): GroupInfo[] {
    return [...this.groups.values()].sort((a, b) => a.rec.created - b.rec.created).map((l) => this.info(l));
  }

  get(ref: string): GroupInfo {
    return this.info(this.find(ref));
  }

  private info(l: Loaded): GroupInfo {
    let st: GroupState | undefined;
    try {
      st = l.events.size ? this.state(l) : undefined;
    } catch {
      st = undefined;
    }
    const info: GroupInfo = {
      id: hex(l.rec.id),
      name: st?.name ?? l.rec.name,
      topic: st?.topic ?? '',
      status: l.rec.status,
      members: st?.members.size ?? 0,
    };
    if (st?.pinned) info.pinned = st.pinned.text;
    if (st?.avatar) info.avatar = true;
    if (st?.settings.public) info.public = true;
    if (st) info.shareHistory = st.settings.shareHistory;
    if (l.rec.alias) info.alias = l.rec.alias;
    const role = st?.members.get(hex(this.me(l).publicKey))?.role;
    if (role) info.role = role;
    if (l.rec.status === 'invited' && l.rec.inviter) {
      const c = this.host.contactById(l.rec.inviter);
      if (c) info.invitedBy = c.alias;
    }
    const refused = l.rec.status === 'invited' ? this.rooms.refused(hex(l.rec.id)) : undefined;
    if (refused) info.refused = refused;
    return info;
  }

  members(ref: string): GroupMemberInfo[] {
    const l = this.find(ref);
    if (l.events.size === 0) return []; // an invitation whose events are still on their way
    const st = this.state(l);
    const me = this.me(l).publicKey;
    return [...st.members.values()]
      .sort((a, b) => GROUP_ROLES.indexOf(a.role) - GROUP_ROLES.indexOf(b.role) || a.joinedAt - b.joinedAt)
      .map((m) => {
        const info: GroupMemberInfo = {
          key: hex(m.key),
          name: this.displayName(l, m.key),
          role: m.role,
          me: equalBytes(m.key, me),
          linked: equalBytes(m.key, me) || this.linkOf(l, m.key) !== undefined,
        };
        if (m.nick) info.nick = m.nick;
        return info;
      });
  }

  /** The resolved state (for tools and tests). */
  resolved(ref: string): GroupState {
    return this.state(this.find(ref));
  }

  // ---- Local actions ----------------------------------------------------------------------------

  /**
   * The engine updates its in-memory view as it builds a change; if the change fails before
   * it is stored, this puts the view back as it was.
   */
  private snapshot(only?: string): () => void {
    const saved = [...this.groups.entries()]
      .filter(([k]) => only === undefined || k === only)
      // By reference: addEvents replaces the map rather than changing it.
      .map(([k, l]) => ({ k, l, rec: l.rec, events: l.events }));
    const existed = new Set(this.groups.keys());
    return () => {
      for (const { k, l, rec, events } of saved) {
        l.rec = rec;
        l.events = events;
        l.state = undefined;
        this.groups.set(k, l);
      }
      if (only === undefined)
        for (const k of [...this.groups.keys()]) if (!existed.has(k)) this.groups.delete(k);
    };
  }

  private async change<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const result = await this.host.run(async () => {
      const tx: Tx = { ops: [], after: [] };
      const restore = this.snapshot();
      let r: T;
      try {
        r = await fn(tx);
        if (tx.mine?.size) tx.ops.push(...(await this.mineToOwnDevices(tx)));
        if (tx.ops.length) await this.host.store.batch(tx.ops);
      } catch (e) {
        restore();
        throw e;
      }
      for (const f of tx.after) f();
      return r;
    });
    this.host.kick();
    this.scheduleMaintain();
    return result;
  }

  /** The events I signed in a change, for my other devices (decision 0054). */
  private async mineToOwnDevices(tx: Tx): Promise<StoreOp[]> {
    if (!tx.mine?.size) return [];
    const bodies: SyncOpBody[] = [];
    for (const [g, events] of tx.mine) {
      const bytes = events.map(encodeGroupEvent);
      for (let i = 0; i < bytes.length; i += MAX_SYNC_GROUP_EVENTS)
        bodies.push({ t: 'group', g: fromHex(g), ev: bytes.slice(i, i + MAX_SYNC_GROUP_EVENTS) });
    }
    return this.host.syncOps(bodies);
  }

  private putRec(tx: Tx, l: Loaded, rec: GroupRecord): void {
    tx.ops.push(...this.recordOps(rec));
    l.rec = rec;
    // My other devices get the group when what they need of it changed (decision 0060).
    this.own.touched(rec.id);
  }

  /** The group record (members' links and all, written when they change) and my chain apart. */
  private recordOps(rec: GroupRecord): StoreOp[] {
    const { chain, ...stored } = rec;
    return [
      {
        type: 'put',
        collection: GC.groups,
        key: hex(rec.id),
        value: encodeGroupRecord({ ...stored, v: GROUP_RECORDS_VERSION }),
      },
      this.chainOp(rec.id, chain),
    ];
  }

  private chainOp(group: Uint8Array, chain: Uint8Array | undefined): StoreOp {
    return chain
      ? { type: 'put', collection: GC.chains, key: hex(group), value: chain }
      : { type: 'del', collection: GC.chains, key: hex(group) };
  }

  /** My sending chain moved on by a message: only the chain's own small record is written. */
  private putChain(tx: Tx, l: Loaded, chain: Uint8Array): void {
    tx.ops.push(this.chainOp(l.rec.id, chain));
    l.rec = { ...l.rec, chain };
  }

  /** Creates a private group (or with `public`, a public room) with me as its creator. */
  async create(name: string, opts: { public?: boolean } = {}): Promise<GroupInfo> {
    if (typeof name !== 'string' || name.trim().length === 0) throw new UsageError('a group needs a name');
    if (this.groups.size >= MAX_GROUPS) throw new QuotaError(`at most ${MAX_GROUPS} groups`);
    // A fresh member key for the creator: the group links nothing else of mine.
    const me = generateSignKeyPair(this.host.rng);
    const next = await this.nextMemberKey();
    const create = createGroup({
      author: me,
      name: name.trim(),
      ts: this.host.now(),
      rng: this.host.rng,
      ...(opts.public ? { settings: defaultGroupSettings({ public: true }) } : {}),
      ...(next ? { next: next.commitment } : {}),
    });
    return this.change(async (tx) => {
      const now = this.host.now();
      const chain = rotateSenderChain(this.host.rng);
      const rec: GroupRecord = {
        id: create.group,
        status: 'joined',
        name: create.content.name,
        me: me.secretKey,
        links: [],
        invitees: [],
        intros: [],
        accept: [],
        forwards: [],
        chain: encodeSenderChain(chain),
        chainAt: now,
        rotate: false,
        created: now,
        ...(next ? { nx: next.sealed } : {}),
      };
      const l: Loaded = { rec, events: new Map() };
      this.putRec(tx, l, rec);
      this.addEvents(tx, l, [create]);
      this.groups.set(hex(rec.id), l);
      this.host.emit({ group: hex(rec.id), change: 'joined' });
      return this.info(l);
    });
  }

  /** Signs an event as me, refusing it unless the state with it accepts it. */
  private event<T extends GroupEventType>(l: Loaded, type: T, content: GroupEventContents[T]): GroupEvent {
    if (l.rec.status !== 'joined' && !(l.rec.status === 'invited' && (type === 'join' || type === 'leave')))
      throw new UsageError('you are not a member of this group');
    const st = this.state(l);
    const e = createGroupEvent({
      author: this.me(l),
      group: l.rec.id,
      parents: st.heads.slice(-32),
      lamport: st.lamport + 1,
      ts: this.host.now(),
      type,
      content,
    }) as GroupEvent;
    const next = resolveGroupState([...l.events.values(), e], { group: l.rec.id });
    const refused = next.rejected.find((r) => equalBytes(r.id, e.id));
    if (refused) throw new UsageError(`not allowed: ${refused.detail}`);
    return e;
  }

  /** Records events (mine or received), spreads nothing; returns the ones that were new. */
  private addEvents(tx: Tx, l: Loaded, events: GroupEvent[]): GroupEvent[] {
    const fresh: GroupEvent[] = [];
    for (const e of events) {
      if (l.events.has(hex(e.id)) || fresh.some((f) => equalBytes(f.id, e.id))) continue;
      if (l.events.size + fresh.length >= MAX_GROUP_EVENTS) break;
      fresh.push(e);
    }
    if (fresh.length === 0) return [];
    const me = this.me(l).publicKey;
    const mine = fresh.filter((e) => equalBytes(e.author, me));
    // Only when I have other devices: a change of a single-device account stays as it was.
    if (mine.length && this.host.ownDevices()) {
      tx.mine ??= new Map();
      // Appended in place: a change that takes events in many times stays linear (decision 0060).
      const held = tx.mine.get(hex(l.rec.id));
      if (held) held.push(...mine);
      else tx.mine.set(hex(l.rec.id), mine);
    }
    const before = l.events.size ? this.state(l) : undefined;
    // Copied, not changed in place: a snapshot (change, receive) holds the map it saw.
    l.events = new Map(l.events);
    for (const e of fresh) {
      l.events.set(hex(e.id), e);
      tx.ops.push({
        type: 'put',
        collection: GC.events(l.rec.id),
        key: hex(e.id),
        value: encodeGroupEvent(e),
      });
    }
    l.state = undefined;
    const after = this.state(l);
    if (after.members.size > MAX_GROUP_MEMBERS) {
      // Refuse growth past the limit: the batch is dropped and the events forgotten.
      for (const e of fresh) l.events.delete(hex(e.id));
      l.state = undefined;
      throw new QuotaError(`a group has at most ${MAX_GROUP_MEMBERS} members`);
    }
    if (before) this.onStateChange(tx, l, before, after);
    return fresh;
  }

  private onStateChange(tx: Tx, l: Loaded, before: GroupState, after: GroupState): void {
    const me = hex(this.me(l).publicKey);
    let removed = [...before.members.keys()].filter((k) => !after.members.has(k));
    const rekeyed = this.rekeys(l, removed, after);
    if (rekeyed.size > 0) {
      // The same members under their committed next keys (docs/decisions/0040): the sessions
      // that spoke for the old keys speak for the new ones. The old key is gone all the same, so
      // my chain is replaced below as after any removal (the revoked device read the old one).
      const links = l.rec.links.map((x) => {
        const to = rekeyed.get(hex(x.m));
        return to ? { m: to, c: x.c } : x;
      });
      this.putRec(tx, l, { ...l.rec, links });
      // My own key replaced by another device of mine: this device cannot sign for me any more
      // until it learns the new key (not built: own-device sync); it is not removed.
      if (rekeyed.has(me)) removed = removed.filter((k) => k !== me);
    }
    if (removed.includes(me) && l.rec.status === 'joined') {
      // Only my own leave makes it 'left': a kick or a ban removed me.
      const rec: GroupRecord = {
        ...l.rec,
        status: this.leftByMe(l, before, after) ? 'left' : 'removed',
        rotate: true,
      };
      delete rec.chain;
      this.putRec(tx, l, rec);
      tx.after.push(() => {
        this.calls.groupGone(l.rec.id);
        this.host.emit({ group: hex(l.rec.id), change: 'removed' });
      });
      return;
    }
    // Members removed or gone are out of the group's call too (decision 0053).
    // (A member moved to its next key by a rekey leaves too: its fingerprints were signed by the old one.)
    if (removed.length > 0) {
      const gone = [...removed];
      tx.after.push(() => this.calls.membersGone(l, gone));
    }
    if (!before.members.has(me) && after.members.has(me) && l.rec.status === 'invited') {
      this.putRec(tx, l, { ...l.rec, status: 'joined' });
    }
    if (removed.length > 0) {
      // Sender Keys: a removed member must not read what comes next (issue 4).
      if (!l.rec.rotate) this.putRec(tx, l, { ...l.rec, rotate: true });
      tx.after.push(() => void this.dropReceivers(l, removed).catch(() => undefined));
    }
    // Someone let in (again): what their session sent ahead of the events that admit them
    // (receiveDistribution keeps it) counts now.
    const inGroup = (st: GroupState, k: string): boolean => st.members.has(k) || st.invited.has(k);
    for (const k of [...after.members.keys(), ...after.invited.keys()]) {
      if (inGroup(before, k)) continue;
      const c = this.linkOf(l, fromHex(k));
      if (c) tx.after.push(() => void this.receiver.replayPending(c.id).catch(() => undefined));
    }
    tx.after.push(() => this.host.emit({ group: hex(l.rec.id), change: 'state' }));
  }

  /** Whether an admitted leave of mine, since my last join, took me out. */
  private leftByMe(l: Loaded, before: GroupState, after: GroupState): boolean {
    const me = this.me(l).publicKey;
    const since = before.members.get(hex(me))?.joinedAt ?? 0;
    const refused = new Set(after.rejected.map((r) => hex(r.id)));
    for (const e of l.events.values())
      if (e.type === 'leave' && equalBytes(e.author, me) && e.lamport > since && !refused.has(hex(e.id)))
        return true;
    return false;
  }

  private async dropReceivers(l: Loaded, members: string[]): Promise<void> {
    await this.host.run(async () => {
      const ops: StoreOp[] = [];
      for (const { key, value } of await this.host.store.list(GC.receivers(l.rec.id))) {
        if (members.includes(hex(decodeReceiver(value).m)))
          ops.push({ type: 'del', collection: GC.receivers(l.rec.id), key });
      }
      if (ops.length) await this.host.store.batch(ops);
    });
  }

  /** Sends events to members: those I reach, or `only` those. */
  private spread(tx: Tx, l: Loaded, events: GroupEvent[], targets?: Uint8Array[]): void {
    if (events.length === 0) return;
    const me = this.me(l).publicKey;
    const bytes = events.map(encodeGroupEvent);
    // Nothing more for those who are out (left, kicked, banned), but the event that put them out.
    const st = this.state(l);
    const concerned = (m: Uint8Array): boolean =>
      st.members.has(hex(m)) ||
      st.invited.has(hex(m)) ||
      events.some(
        (e) =>
          'member' in e.content && e.content.member instanceof Uint8Array && equalBytes(e.content.member, m),
      );
    for (const link of l.rec.links) {
      if (equalBytes(link.m, me) || !concerned(link.m)) continue;
      if (targets && !has(targets, link.m)) continue;
      const c = this.host.contactById(link.c);
      if (!c) continue;
      for (let i = 0; i < bytes.length; i += MAX_EVENTS_PER_PAYLOAD) {
        tx.ops.push(
          this.host.sendOp(
            c,
            this.payload({ t: 'ev', g: l.rec.id, ev: bytes.slice(i, i + MAX_EVENTS_PER_PAYLOAD) }),
          ),
        );
      }
    }
  }

  /** Every event so far to `c`, in clock order: how a newcomer learns the group. */
  private sendAllEvents(tx: Tx, l: Loaded, c: ContactRecord): void {
    const all = [...l.events.values()].sort((a, b) => a.lamport - b.lamport).map(encodeGroupEvent);
    for (let i = 0; i < all.length; i += MAX_EVENTS_PER_PAYLOAD)
      tx.ops.push(
        this.host.sendOp(
          c,
          this.payload({ t: 'ev', g: l.rec.id, ev: all.slice(i, i + MAX_EVENTS_PER_PAYLOAD) }),
        ),
      );
  }

  private payload(p: GroupPayload): CborMap {
    return encodeGroupPayload(p);
  }

  private async act<T extends GroupEventType>(
    ref: string,
    type: T,
    content: (l: Loaded) => GroupEventContents[T],
  ): Promise<GroupInfo> {
    return this.change(async (tx) => {
      const l = this.find(ref);
      const e = this.event(l, type, content(l));
      this.addEvents(tx, l, [e]);
      this.spread(tx, l, [e]);
      return this.info(l);
    });
  }

  /** Invites a contact: an invite event for the key they know me by, and the group's events to them. */
  async invite(ref: string, alias: string): Promise<GroupInfo> {
    return this.change(async (tx) => {
      const l = this.find(ref);
      const c = this.host.contactByAlias(alias);
      if (c.status !== 'active') throw new UsageError(`${alias} has not answered your invitation yet`);
      const st = this.state(l);
      const member = c.theirIdentity;
      if (st.members.has(hex(member))) throw new UsageError(`${alias} is already a member`);
      const events: GroupEvent[] = [];
      if (!st.invited.has(hex(member))) {
        const e = this.event(l, 'invite', { member });
        this.addEvents(tx, l, [e]);
        this.spread(tx, l, [e]);
        events.push(e);
      }
      const me = this.me(l);
      tx.ops.push(
        this.host.sendOp(
          c,
          this.payload({
            t: 'invite',
            g: l.rec.id,
            name: this.state(l).name,
            m: me.publicKey,
            sig: sign(me.secretKey, bindMessage(l.rec.id, c.conv)),
          }),
        ),
      );
      this.sendAllEvents(tx, l, c);
      const rec = { ...l.rec };
      if (!has(rec.invitees, member)) rec.invitees = [...rec.invitees, member];
      if (!rec.links.some((x) => equalBytes(x.m, member))) rec.links = [...rec.links, { m: member, c: c.id }];
      this.putRec(tx, l, rec);
      return this.info(l);
    });
  }

  /** Joins a group I was invited to. */
  async join(ref: string): Promise<GroupInfo> {
    await this.refreshAccountKey();
    return this.change(async (tx) => {
      const l = this.find(ref);
      if (l.rec.status !== 'invited') throw new UsageError('there is no pending invitation to this group');
      if (l.events.size === 0)
        throw new UsageError('the invitation has not fully arrived yet; try again after parus read');
      const st = this.state(l);
      const me = this.me(l);
      if (!st.invited.has(hex(me.publicKey)))
        throw new UsageError('the invitation has not fully arrived yet; try again after parus read');
      this.joinTx(tx, l);
      return this.info(l);
    });
  }

  /** My join event, my bindings, my sender key (the invitation is here; `join` checked it). */
  private joinTx(tx: Tx, l: Loaded): void {
    const next = this.nextMemberKeySync();
    const e = this.event(l, 'join', next ? { next: next.commitment } : {});
    const now = this.host.now();
    const chain = rotateSenderChain(this.host.rng);
    const rec: GroupRecord = {
      ...l.rec,
      status: 'joined',
      chain: encodeSenderChain(chain),
      chainAt: now,
      rotate: false,
    };
    if (next) rec.nx = next.sealed;
    else delete rec.nx;
    this.putRec(tx, l, rec);
    this.addEvents(tx, l, [e]);
    // My inviter first learns my key's session binding, then my join, then my sender key.
    for (const link of l.rec.links) {
      const c = this.host.contactById(link.c);
      if (!c) continue;
      tx.ops.push(this.bindOp(l, c));
    }
    this.spread(tx, l, [e]);
    this.messaging.distribute(tx, l, chain);
    tx.after.push(() => this.host.emit({ group: hex(l.rec.id), change: 'joined' }));
  }

  /** Declines an invitation: a leave event to the inviter, and the group is forgotten. */
  async decline(ref: string): Promise<void> {
    await this.change(async (tx) => {
      const l = this.find(ref);
      if (l.rec.status !== 'invited') throw new UsageError('there is no pending invitation to this group');
      if (l.events.size > 0 && this.state(l).invited.has(hex(this.me(l).publicKey))) {
        const e = this.event(l, 'leave', {});
        this.spread(tx, l, [e]);
      }
      this.forget(tx, l);
      await this.rooms.forgetJoin(tx, l);
      tx.after.push(() => this.host.emit({ group: hex(l.rec.id), change: 'declined' }));
    });
  }

  private forget(tx: Tx, l: Loaded): void {
    tx.ops.push(
      { type: 'del', collection: GC.groups, key: hex(l.rec.id) },
      this.chainOp(l.rec.id, undefined),
    );
    for (const e of l.events.keys()) tx.ops.push({ type: 'del', collection: GC.events(l.rec.id), key: e });
    tx.after.push(() => this.groups.delete(hex(l.rec.id)));
  }

  async leave(ref: string): Promise<GroupInfo> {
    await this.calls.leave(ref).catch(() => undefined);
    return this.change(async (tx) => {
      const l = this.find(ref);
      const e = this.event(l, 'leave', {});
      this.addEvents(tx, l, [e]);
      this.spread(tx, l, [e]);
      const rec: GroupRecord = { ...l.rec, status: 'left' };
      delete rec.chain;
      this.putRec(tx, l, rec);
      return this.info(l);
    });
  }

  kick(ref: string, member: string, reason?: string): Promise<GroupInfo> {
    return this.act(ref, 'kick', (l) => ({
      member: this.findMember(l, member),
      ...(reason ? { reason } : {}),
    }));
  }

  ban(ref: string, member: string, reason?: string): Promise<GroupInfo> {
    return this.act(ref, 'ban', (l) => ({
      member: this.findMember(l, member),
      ...(reason ? { reason } : {}),
    }));
  }

  unban(ref: string, member: string): Promise<GroupInfo> {
    return this.act(ref, 'unban', (l) => ({ member: this.findMember(l, member) }));
  }

  setRole(ref: string, member: string, role: string): Promise<GroupInfo> {
    if (role !== 'admin' && role !== 'moderator' && role !== 'member')
      throw new UsageError('role must be admin, moderator or member');
    return this.act(ref, 'role', (l) => ({
      member: this.findMember(l, member),
      role: role as AssignableGroupRole,
    }));
  }

  setTopic(ref: string, topic: string): Promise<GroupInfo> {
    return this.act(ref, 'topic', () => ({ topic }));
  }

  setName(ref: string, name: string): Promise<GroupInfo> {
    return this.act(ref, 'name', () => ({ name }));
  }

  /**
   * Sets the group's picture (a JPEG or PNG of at most 6 KiB and 128×128, core
   * GROUP_AVATAR_BOUNDS; the UIs shrink a photo to fit) or takes it down with null: a signed
   * `avatar` event, allowed from the group's `avatar` power (admins by default, as for the name;
   * decision 0066). DecodeError when it is not a JPEG or PNG, QuotaError when it is too large.
   */
  async setAvatar(ref: string, avatar: Uint8Array | null): Promise<GroupInfo> {
    if (avatar !== null) avatarInfo(avatar, GROUP_AVATAR_BOUNDS);
    return this.act(ref, 'avatar', () => ({ avatar }));
  }

  /** The group's picture (JPEG or PNG bytes), if it has one. */
  avatar(ref: string): Uint8Array | undefined {
    const l = this.find(ref);
    if (l.events.size === 0) return undefined;
    try {
      return this.state(l).avatar ?? undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Pins an announcement (公告) shown above the chat, or takes it down with null: a signed
   * `pin` event, allowed from the group's `pin` power (moderators by default, as for topic).
   */
  async setPinned(ref: string, text: string | null): Promise<GroupInfo> {
    if (text !== null && (typeof text !== 'string' || text.trim().length === 0))
      throw new UsageError('an announcement needs some text');
    return this.act(ref, 'pin', () => ({ pin: text === null ? null : { text: text.trim() } }));
  }

  setNick(ref: string, nick: string): Promise<GroupInfo> {
    return this.act(ref, 'nick', () => ({ nick }));
  }

  /**
   * Turns history sharing on or off (a `settings` event, the group's `settings` power: admins
   * by default). While on, a newcomer receives the messages written since it was turned on
   * (docs/decisions/0014). Setting what is already set changes nothing.
   */
  async setShareHistory(ref: string, on: boolean): Promise<GroupInfo> {
    if (typeof on !== 'boolean') throw new UsageError('history sharing is either on or off');
    const l = this.find(ref);
    if (l.rec.status === 'joined' && this.state(l).settings.shareHistory === on) return this.info(l);
    return this.act(ref, 'settings', (x) => {
      const s = this.state(x).settings;
      return { settings: { public: s.public, shareHistory: on, power: { ...s.power } } };
    });
  }

  /** A local name for a group (only on this device). */
  async setAlias(ref: string, alias: string): Promise<GroupInfo> {
    const a = typeof alias === 'string' ? alias.trim() : '';
    if (a.length < 1 || a.length > 64) throw new UsageError('alias must be 1-64 characters');
    const fault = nameFault(a, 64);
    if (fault !== undefined) throw new UsageError(`alias ${fault}`);
    return this.change(async (tx) => {
      const l = this.find(ref);
      for (const other of this.groups.values())
        if (other !== l && other.rec.alias === a) throw new UsageError(`${a} is already taken`);
      this.putRec(tx, l, { ...l.rec, alias: a });
      return this.info(l);
    });
  }

  /**
   * Sends encoded events to every member this device reaches, as they are, without checking
   * them (members relay each other's events; tests use it to show that bad ones count nothing).
   */
  async relayEvents(ref: string, events: Uint8Array[]): Promise<void> {
    await this.change(async (tx) => {
      const l = this.find(ref);
      for (const link of l.rec.links) {
        const c = this.host.contactById(link.c);
        if (c)
          tx.ops.push(
            this.host.sendOp(
              c,
              this.payload({ t: 'ev', g: l.rec.id, ev: events.slice(0, MAX_EVENTS_PER_PAYLOAD) }),
            ),
          );
      }
    });
  }

  // ---- Messages (group-messaging.ts, message-catch-up.ts) -----------------------------------------

  /** Sends a text, a `/me` action or a ping to everyone in the group, maybe as a reply. */
  send(
    ref: string,
    text: string,
    opts: { kind?: GroupMessageKind; replyTo?: string } = {},
  ): Promise<MessageInfo> {
    return this.messaging.send(ref, text, opts);
  }

  /** Sends a sticker (names as for 1:1 stickers), maybe as a reply. */
  sendSticker(ref: string, pack: string, id: string, opts: { replyTo?: string } = {}): Promise<MessageInfo> {
    return this.messaging.sendBody(ref, { kind: 'sticker', text: '', sticker: { pack, id } }, opts.replyTo);
  }

  /** UsageError unless I may write in the group now (before a file is uploaded for it). */
  checkWritable(ref: string): void {
    this.messaging.writable(ref);
  }

  /** The file a group message carries (NotFoundError, UsageError: group-messaging.ts fileOf). */
  fileOf(ref: string, messageId: string): Promise<FileBody> {
    return this.messaging.fileOf(ref, messageId);
  }

  /** Sends a file message whose blob is already uploaded (Account.sendGroupFile uploads it). */
  sendFileBody(ref: string, file: FileBody, opts: { replyTo?: string } = {}): Promise<MessageInfo> {
    return this.messaging.sendBody(ref, { kind: 'file', text: '', file }, opts.replyTo);
  }

  /** Takes one of my messages back from everyone (收回); UsageError for someone else's. */
  unsend(ref: string, messageId: string): Promise<MessageInfo> {
    return this.messaging.sendBody(ref, { kind: 'unsend', text: '', target: hexId(messageId) });
  }

  /** Reacts to a message with one of REACTIONS, or takes my reaction back with ''. */
  react(ref: string, messageId: string, emoji: string): Promise<MessageInfo> {
    return this.messaging.sendBody(ref, { kind: 'reaction', text: '', target: hexId(messageId), emoji });
  }

  /** Deletes a message on this device only. */
  deleteForMe(ref: string, messageId: string): Promise<void> {
    return this.messaging.deleteForMe(ref, messageId);
  }

  /** My fan-out list for the group on `relay`, if I made one (the host's flush keeps them). */
  fanoutList(group: Uint8Array, relay: string): GroupFanoutList | undefined {
    return this.groups.get(hex(group))?.rec.fan?.find((f) => f.r === relay);
  }

  /**
   * Records (or with `list` undefined, forgets) my fan-out list for the group on `relay`.
   * Called under the host's lock; the caller writes the ops. Empty when the group is gone.
   */
  setFanoutList(group: Uint8Array, relay: string, list: GroupFanoutList | undefined): StoreOp[] {
    const l = this.groups.get(hex(group));
    if (!l) return [];
    const others = (l.rec.fan ?? []).filter((f) => f.r !== relay);
    const fan = list ? [...others, list] : others;
    if (fan.length > MAX_FANOUT_LISTS) throw new QuotaError('too many relays for one group');
    const rec: GroupRecord = { ...l.rec, fan };
    if (fan.length === 0) delete rec.fan;
    const tx: Tx = { ops: [], after: [] };
    this.putRec(tx, l, rec);
    return tx.ops;
  }

  /** The group's messages in causal order (late ones where they arrived). */
  history(ref: string): Promise<MessageInfo[]> {
    return this.messaging.history(ref);
  }

  /** Called by Account.takeUnshown under the lock: unshown incoming messages, marked shown. */
  takeUnshown(ops: StoreOp[]): Promise<MessageInfo[]> {
    return this.messaging.takeUnshown(ops);
  }

  /** Sends read receipts to the authors of every message not read yet; returns how many. */
  markRead(ref: string): Promise<number> {
    return this.messaging.markRead(ref);
  }

  /** Confirms a late message (seed 003; message-catch-up.ts). */
  confirmLate(ref: string, messageId: string): Promise<MessageInfo> {
    return this.catchUp.confirmLate(ref, messageId);
  }

  // ---- Receiving (group-receiving.ts) ----------------------------------------------------------

  /** A group message that came by relay fan-out into the pairwise queue from `c`. */
  receiveFanout(
    c: ContactRecord,
    bytes: Uint8Array,
    ops: StoreOp[],
    after: Array<() => void>,
  ): Promise<void> {
    return this.receiver.receiveFanout(c, bytes, ops, after);
  }

  /**
   * A `group` envelope from contact or peer `c` (DirectReceiving.receiveFromContact, under the lock):
   * store operations go to `ops`, in-memory updates and events to `after`, run once stored.
   */
  receive(c: ContactRecord, body: CborValue, ops: StoreOp[], after: Array<() => void>): Promise<void> {
    return this.receiver.receive(c, body, ops, after);
  }

  // ---- My other devices (own-group-sync.ts, decision 0054) --------------------------------------

  /** Whether `id` names a group this device holds (own-device sync routes group operations here). */
  holds(id: Uint8Array): boolean {
    return this.own.has(id);
  }

  /** A copy of a group message another device of mine sent (under the lock, into `ops`). */
  ownSent(env: Envelope, deleted: boolean, ops: StoreOp[], after: Array<() => void>): Promise<void> {
    return this.own.sent(env, deleted, ops, after);
  }

  /** Reads and deletes another device of mine made in group `g` (under the lock, into `ops`). */
  ownConversation(
    g: Uint8Array,
    read: number,
    deleted: (id: Uint8Array, lamport: number) => boolean,
    ops: StoreOp[],
    after: Array<() => void>,
  ): Promise<void> {
    return this.own.conversation(g, read, deleted, ops, after);
  }

  /**
   * A group's section, my state events and member key from another device of mine (under the
   * lock, into `ops`). Returns the room doors a section brought (the account serves them).
   */
  ownGroup(
    op: Extract<SyncOp, { t: 'group' }>,
    ops: StoreOp[],
    after: Array<() => void>,
  ): Promise<InviteRecord[]> {
    return this.own.group(op, ops, after);
  }

  /** Puts the loaded groups back as they are now, if a sync message is refused after changing them. */
  restorePoint(): () => void {
    return this.snapshot();
  }

  /**
   * The groups made, joined or newly linked here go to my other devices (decision 0060), as
   * sync operations in the outbox; `sessions` names my own-device sessions (a new one gets
   * every group). The account's flush runs it.
   */
  async ownSections(sessions: string, fresh: boolean): Promise<void> {
    if (fresh) this.own.touchAll();
    if (!this.own.due()) return;
    // Without another device of mine nothing is built (a new session touches every group again).
    if (sessions === '') return this.own.untouchAll();
    await this.host.run(async () => {
      const { bodies, ops } = await this.own.sectionsDue(sessions);
      if (bodies.length === 0) return;
      await this.host.store.batch([...ops, ...(await this.host.syncOps(bodies))]);
    });
  }

  /**
   * Links the waiting members of restored or synced groups to the sessions this device has with
   * the contacts and peers that reach them (`linkRestored` for each).
   */
  async linkWaiting(): Promise<number> {
    let n = 0;
    const seen = new Set<string>();
    for (const { key, value } of await this.host.store.list(RESTORED_LINKS)) {
      for (const x of decodeRestoredLinks(value).links) {
        const c = this.host.contactByIdentity(x.t, fromHex(key));
        if (!c || seen.has(hex(c.id))) continue;
        seen.add(hex(c.id));
        n += await this.linkRestored(c);
      }
    }
    return n;
  }

  /** Hidden peer sessions bind themselves to my member key in their first message. */
  async peerSessionOps(c: ContactRecord): Promise<StoreOp[]> {
    const l = c.peer ? this.groups.get(hex(c.peer)) : undefined;
    if (!l) return [];
    const joining = await this.rooms.joinSessionOps(l, c);
    return [this.bindOp(l, c), ...joining];
  }

  private bindOp(l: Loaded, c: ContactRecord): StoreOp {
    const me = this.me(l);
    return this.host.sendOp(
      c,
      this.payload({
        t: 'bind',
        g: l.rec.id,
        m: me.publicKey,
        sig: sign(me.secretKey, bindMessage(l.rec.id, c.conv)),
      }),
    );
  }

  // ---- Introductions (group-introductions.ts) ---------------------------------------------------

  /** Runs the introduction pass (outside the lock: it takes the network) soon, or again once it ends. */
  scheduleMaintain(): void {
    this.intros.scheduleMaintain();
  }

  // ---- Public rooms (group-rooms.ts; docs/decisions/0013 and 0017) ---------------------------------

  /** The room link of my door, or with `rotate` a new room secret for it. */
  roomLink(ref: string, opts: { rotate?: boolean } = {}): Promise<string> {
    return this.rooms.roomLink(ref, opts);
  }

  /** Joins a public room from its link (status `invited` until the door keeper's invitation). */
  joinRoom(link: string, opts: { nick?: string } = {}): Promise<GroupInfo> {
    return this.rooms.joinRoom(link, opts);
  }

  /** The door keeper's checks of a join request; returns the joiner's member key. */
  checkRoomJoin(
    group: Uint8Array,
    door: Uint8Array,
    body: CborValue | undefined,
    conv: Uint8Array,
  ): Promise<Uint8Array> {
    return this.rooms.checkRoomJoin(group, door, body, conv);
  }

  /** Whether the door `door` answers the join request that `error` refused, and with what. */
  roomRefusal(door: Uint8Array, error: unknown): RoomRefusal | undefined {
    return this.rooms.roomRefusal(door, error);
  }

  /** The joiner's side: a refusal from the door of a room I am joining by link. */
  receiveRoomRefusal(c: ContactRecord, body: CborValue): Promise<Tx> {
    return this.rooms.receiveRoomRefusal(c, body);
  }

  /** Admits `member`, whose join request checked out, on the new hidden peer session `c`. */
  admitToRoom(c: ContactRecord, member: Uint8Array): { ops: StoreOp[]; after: Array<() => void> } {
    return this.rooms.admitToRoom(c, member);
  }

  // ---- Private chat requests (chat-requests.ts; docs/decisions/0013) -------------------------------

  /** Asks a member for a private 1:1 chat (seed 001). */
  requestChat(ref: string, member: string, opts: { note?: string } = {}): Promise<{ expires: number }> {
    return this.chats.requestChat(ref, member, opts);
  }

  /** Private chat requests waiting for an answer, oldest first. */
  chatRequests(): Promise<ChatRequestInfo[]> {
    return this.chats.chatRequests();
  }

  /** Requests not shown yet (parus read), marked shown. */
  takeChatRequests(): Promise<ChatRequestInfo[]> {
    return this.chats.takeChatRequests();
  }

  /** Accepts a chat request: its card is answered, and the member becomes an ordinary contact. */
  acceptChatRequest(id: string, opts: { alias?: string } = {}): Promise<ContactInfo> {
    return this.chats.acceptChatRequest(id, opts);
  }

  /** Declines a chat request: it is forgotten, and the member is told nothing. */
  declineChatRequest(id: string): Promise<void> {
    return this.chats.declineChatRequest(id);
  }

  // ---- The account snapshot (group-snapshot.ts, decision 0040) ---------------------------------

  /** The groups section of the account snapshot: no chain, list or session of this device. */
  snapshotSection(inSnapshot: (identity: Uint8Array) => boolean): Promise<SnapshotGroup[]> {
    return snapshotGroups(
      { store: this.host.store, contactById: (id) => this.host.contactById(id), inSnapshot },
      this.groups.values(),
    );
  }

  /**
   * Makes a snapshot's groups this device's (a restored or linked device): each with a sender
   * chain drawn here, links to the contacts `contactOf` finds, the others waiting for
   * `linkRestored`. Returns the room doors' cards, which the account serves from now on.
   */
  async adoptSnapshot(
    groups: readonly SnapshotGroup[],
    contactOf: (identity: Uint8Array) => ContactRecord | undefined,
  ): Promise<InviteRecord[]> {
    const doors = await this.host.run(async () => {
      const { ops, doors } = restoreGroupOps(groups, {
        rng: this.host.rng,
        now: this.host.now(),
        has: (g) => this.groups.has(hex(g)),
        contactOf,
      });
      if (this.groups.size + groups.length > MAX_GROUPS) throw new QuotaError(`at most ${MAX_GROUPS} groups`);
      await this.host.store.batch(ops);
      return doors;
    });
    await this.load();
    for (const g of groups)
      this.host.emit({ group: hex(g.id), change: g.status === 'joined' ? 'joined' : 'state' });
    return doors;
  }

  /** The hidden peers restored groups wait for, by group (their sessions come from the account). */
  async restoredPeers(): Promise<Array<{ group: Uint8Array; peer: SnapshotGroupPeer }>> {
    const out: Array<{ group: Uint8Array; peer: SnapshotGroupPeer }> = [];
    for (const { key, value } of await this.host.store.list(RESTORED_LINKS)) {
      for (const peer of decodeRestoredLinks(value).peers) out.push({ group: fromHex(key), peer });
    }
    return out;
  }

  /**
   * A session with `c` now exists on this device (a restored contact, or a restored group peer):
   * the restored groups' members it reaches are linked to it, my session binds to my member key,
   * and my chain goes to them; what was owed to them follows (decision 0019).
   */
  async linkRestored(c: ContactRecord): Promise<number> {
    let linked = 0;
    const waiting = await this.host.store.list(RESTORED_LINKS);
    if (waiting.length === 0) return 0;
    await this.change(async (tx) => {
      for (const { key, value } of waiting) {
        const l = this.groups.get(key);
        if (!l) continue;
        if (c.peer && !equalBytes(c.peer, l.rec.id)) continue;
        const r = decodeRestoredLinks(value);
        const mine = r.links.filter((x) => equalBytes(x.t, c.theirIdentity));
        if (mine.length === 0) continue;
        const rest = r.links.filter((x) => !equalBytes(x.t, c.theirIdentity));
        const links = [...l.rec.links.filter((x) => !mine.some((y) => equalBytes(y.m, x.m)))];
        for (const x of mine) links.push({ m: x.m, c: c.id });
        this.putRec(tx, l, { ...l.rec, links });
        tx.ops.push(
          rest.length > 0 || r.peers.length > 0
            ? {
                type: 'put',
                collection: RESTORED_LINKS,
                key,
                value: encodeRestoredLinksRecord({ ...r, links: rest }),
              }
            : { type: 'del', collection: RESTORED_LINKS, key },
        );
        if (l.rec.status !== 'joined') continue;
        tx.ops.push(this.bindOp(l, c));
        const chain = l.rec.chain ? decodeSenderChain(l.rec.chain) : undefined;
        if (chain) for (const x of mine) this.messaging.distribute(tx, l, chain, x.m);
        linked += mine.length;
      }
    });
    if (linked > 0) this.scheduleMaintain();
    return linked;
  }

  // ---- Member key pre-rotation (member-rotation.ts, decision 0040) ----------------------------

  /** The account key, read before a change (the engine's changes cannot wait on the store). */
  private accountKey?: Uint8Array | undefined;

  private async refreshAccountKey(): Promise<void> {
    this.accountKey = await this.host.accountKeyPublic();
  }

  /** A next member key: its commitment and its seed sealed to the account key (none without a log). */
  private async nextMemberKey(): Promise<{ commitment: Uint8Array; sealed: Uint8Array } | undefined> {
    await this.refreshAccountKey();
    return this.nextMemberKeySync();
  }

  private nextMemberKeySync(): { commitment: Uint8Array; sealed: Uint8Array } | undefined {
    if (!this.accountKey) return undefined;
    const seed = this.host.rng.bytes(32);
    try {
      return {
        commitment: memberKeyCommitment(signKeyPairFromSeed(seed).publicKey),
        sealed: sealMemberSeed(this.host.rng, this.accountKey, seed),
      };
    } finally {
      wipe(seed);
    }
  }

  /**
   * Contact `c`'s devices changed (a device added, or one revoked): in every group where `c`
   * reaches a member, my chain is replaced before my next message and goes to every device they
   * have now (removal rotation, decision 0012; a revoked device must not read what comes next).
   */
  async memberDevicesChanged(c: ContactRecord): Promise<void> {
    // A hidden peer's device set is part of its group's section (decision 0060).
    if (c.peer) this.own.touched(c.peer);
    const concerned = [...this.groups.values()].filter(
      (l) => l.rec.status === 'joined' && !l.rec.rotate && this.memberOfContact(l, c) !== undefined,
    );
    if (concerned.length === 0) return;
    await this.change(async (tx) => {
      for (const l of concerned) this.putRec(tx, l, { ...l.rec, rotate: true });
    });
  }

  /** Old member key (hex) → new one, for the removed keys an applied rekey replaced. */
  private rekeys(l: Loaded, removed: string[], after: GroupState): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    if (removed.length === 0) return out;
    for (const e of l.events.values()) {
      if (e.type !== 'rekey') continue;
      const from = hex(e.author);
      if (removed.includes(from) && after.members.has(hex(e.content.key))) out.set(from, e.content.key);
    }
    return out;
  }

  /**
   * After one of my devices was revoked (decision 0030 "Revocation" step 3): in every group I
   * am a member of with a sealed next key, my member key becomes that key by a `rekey` signed by
   * it, a new next key is committed to, and my sender chain is replaced before the next message.
   * `accountKey` is the account key pair (from the passphrase). Returns the groups rekeyed.
   */
  async rotateMemberKeys(accountKey: SignKeyPair): Promise<number> {
    this.accountKey = accountKey.publicKey;
    let n = 0;
    for (const l of [...this.groups.values()]) {
      if (l.rec.status !== 'joined') continue;
      if (!l.rec.nx) {
        // No commitment (joined before the account had a device log): the chain is replaced.
        if (!l.rec.rotate) await this.change(async (tx) => this.putRec(tx, l, { ...l.rec, rotate: true }));
        continue;
      }
      await this.change(async (tx) => {
        const current = this.groups.get(hex(l.rec.id));
        if (!current?.rec.nx || current.rec.status !== 'joined') return;
        const seed = openMemberSeed(accountKey, current.rec.nx);
        const nextKey = signKeyPairFromSeed(seed);
        wipe(seed);
        const following = this.nextMemberKeySync()!;
        const old = this.me(current);
        const content = memberKeyChange({
          group: current.rec.id,
          author: old.publicKey,
          next: nextKey,
          following: following.commitment,
        });
        const e = this.event(current, 'rekey', content);
        // From here on I am the new key (so the state change does not read as my removal).
        this.putRec(tx, current, {
          ...current.rec,
          me: nextKey.secretKey,
          nx: following.sealed,
          rotate: true,
        });
        this.addEvents(tx, current, [e]);
        this.spread(tx, current, [e]);
        // My other devices take the new key too, so they still write for me here (decision 0054).
        tx.ops.push(
          ...(await this.host.syncOps([
            {
              t: 'group',
              g: current.rec.id,
              ev: [encodeGroupEvent(e)],
              key: nextKey.secretKey,
              nx: following.sealed,
            },
          ])),
        );
        tx.after.push(() => this.host.emit({ group: hex(current.rec.id), change: 'state' }));
        n++;
      });
    }
    return n;
  }

  /**
   * After an account passphrase change (decision 0061): each group's next member seed sealed to
   * `from` is sealed again to `to` (one sealed to another key is left as it is). Store operations
   * for the caller's batch (it holds the account lock); `commit` keeps the records once written.
   */
  resealNextKeys(from: SignKeyPair, to: Uint8Array): { ops: StoreOp[]; commit: () => void } {
    const ops: StoreOp[] = [];
    const changed: Array<[Loaded, GroupRecord]> = [];
    for (const l of this.groups.values()) {
      if (!l.rec.nx) continue;
      let seed: Uint8Array;
      try {
        seed = openMemberSeed(from, l.rec.nx);
      } catch (e) {
        if (e instanceof VerificationError) continue;
        throw e;
      }
      const rec: GroupRecord = { ...l.rec, nx: sealMemberSeed(this.host.rng, to, seed) };
      wipe(seed);
      ops.push(...this.recordOps(rec));
      changed.push([l, rec]);
    }
    return {
      ops,
      commit: () => {
        for (const [l, rec] of changed) l.rec = rec;
        this.accountKey = to;
      },
    };
  }
}
