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
 */
import {
  GROUP_ROLES,
  NotFoundError,
  ProtocolError,
  QuotaError,
  ReplayError,
  UsageError,
  VerificationError,
  asMap,
  asText,
  causalOrder,
  createEnvelope,
  createGroup,
  createGroupEvent,
  decodeCbor,
  encodeCbor,
  decodeEnvelope,
  decodeGroupEvent,
  decodeSenderChain,
  decodeSenderKeyDistribution,
  decodeSenderMessage,
  decodeSenderReceiverState,
  encodeEnvelope,
  encodeGroupEvent,
  encodeSenderChain,
  encodeSenderKeyDistribution,
  encodeSenderReceiverState,
  equalBytes,
  fromHex,
  generateSignKeyPair,
  groupMemberPower,
  padToBucket,
  resolveGroupState,
  rotateSenderChain,
  senderChainNeedsRotation,
  senderDecrypt,
  senderEncrypt,
  senderKeyDistribution,
  senderReceiverFromDistribution,
  sign,
  toHex,
  unpad,
  verify,
  wipe,
  cardFromLink,
  cardToLink,
  checkCardUsable,
  cardId,
  createRoomLink,
  defaultGroupSettings,
  encodeCard,
  parseRoomLink,
  ExpiredError,
  type RendezvousCard,
  type AssignableGroupRole,
  type CborMap,
  type CborValue,
  type GroupEvent,
  type GroupEventContents,
  type GroupEventType,
  type GroupRole,
  type Envelope,
  type GroupState,
  type Random,
  type SignKeyPair,
} from '@parus/core';
import type { ContactInfo, MessageInfo } from '../account.ts';
import type { ContactRecord, MessageStatus } from '../records.ts';
import type { Store, StoreOp } from '../store.ts';
import {
  GC,
  GROUP_RECORDS_VERSION,
  MAX_FANOUT_LISTS,
  decodeGroupMessage,
  decodeGroupRecord,
  decodePending,
  decodeReceiver,
  decodeStash,
  encodeGroupRecord,
  type GroupFanoutList,
  type GroupMessageKind,
  type GroupMessageRecord,
  type GroupRecord,
} from './group-records.ts';
import {
  MAX_EVENTS_PER_PAYLOAD,
  MAX_RECEIPT_IDS,
  bindMessage,
  decodeGroupFanoutFrame,
  decodeGroupPayload,
  encodeGroupFanoutFrame,
  encodeGroupPayload,
  type GroupPayload,
} from './group-wire.ts';
import { GroupMessageIndex } from './message-index.ts';
import {
  RECEIPT_DELIVERED,
  RECEIPT_READ,
  countReceipt,
  receiptLevel,
  receiptOp,
  upgradeReceiptOps,
} from './message-receipts.ts';
import { checkRoomAdmission, decodeRoomJoinRequest, roomJoinRequest } from './room-door.ts';
import { JoinLimiter, checkReceiveRate, checkSendRate, type RoomLimits } from './room-limits.ts';
import { decodeRoomRefusal, refusalOf, refusing, type RoomRefusal } from './room-refusal.ts';
import {
  MAX_CHAT_NOTE_CHARS,
  MAX_CHAT_REQUESTS,
  MAX_ROOM_NICK_CHARS,
  RC,
  decodeChatRequest,
  decodeRoomRecord,
  encodeRoomRecord,
  type ChatRequestRecord,
  type RoomRecord,
} from './room-records.ts';
import {
  HC,
  checkGroupEnvelope,
  checkHistory,
  historyChunks,
  historyRecords,
  keepForHistory,
  membersDue,
  sharingSince,
} from './history-share.ts';
import {
  LC,
  confirmMessage,
  confirmationsNeeded,
  countingConfirmers,
  keepPendingConfirmation,
  pendingConfirmers,
  withConfirmation,
} from './late-confirm.ts';
import { WorkMemo, linkIndex } from './link-index.ts';
import { OwedMessages, owedRecipients, type OwedTo } from './owed-messages.ts';

// ---- Limits on what peers can make us keep ---------------------------------------------------

export const MAX_GROUPS = 256;
export const MAX_PENDING_INVITES = 64;
export const MAX_GROUP_MEMBERS = 1000;
export const MAX_GROUP_EVENTS = 10_000;
export const MAX_GROUP_TEXT = 16 * 1024;
/** Messages kept while their sender's key is on its way. */
export const MAX_STASHED = 256;
/** Sender chains kept per member (the current one and those before it, for late messages). */
export const MAX_CHAINS_PER_MEMBER = 3;
/**
 * Payloads kept because what they need came later on the wire (a relay refusal and a resend can
 * reorder a session's messages): events before their invitation, anything before a binding.
 */
export const MAX_PENDING_PAYLOADS = 1024;
const MAX_FORWARDS = 2 * MAX_GROUP_MEMBERS;
const MAX_LAMPORT_JUMP = 1_000_000;
/** Seed 003: a message whose parents were all superseded longer ago than this is placed where it arrived. */
export const BACKDATE_WINDOW_MS = 60 * 60 * 1000;
/** A card for a group peer is made again if no session came of it in this time. */
const INTRO_RETRY_MS = 24 * 60 * 60 * 1000;

// ---- Public shapes ---------------------------------------------------------------------------

export interface GroupChange {
  group: string;
  /**
   * `receipts`: delivered/read counts of my messages changed (history shows the new ones).
   * `messages`: earlier messages came in a history bundle, or a late message was confirmed.
   * `request`: a member asked for a private chat (decision 0013).
   */
  change:
    | 'invited'
    | 'joined'
    | 'state'
    | 'left'
    | 'removed'
    | 'declined'
    | 'receipts'
    | 'messages'
    | 'request'
    | 'refused';
}

export interface GroupMemberInfo {
  key: string;
  name: string;
  role: GroupRole;
  nick?: string;
  me: boolean;
  /** Whether this device has a session with them (always true for me). */
  linked: boolean;
}

export interface GroupInfo {
  id: string;
  name: string;
  alias?: string;
  topic: string;
  /** The pinned announcement (公告), when there is one. */
  pinned?: string;
  status: 'invited' | 'joined' | 'left' | 'removed';
  members: number;
  role?: GroupRole;
  /** For an invitation: who sent it (the contact's alias). */
  invitedBy?: string;
  /** A public room (joined by link; decision 0013). */
  public?: true;
  /** Whether newcomers receive the messages written since history sharing was turned on. */
  shareHistory?: boolean;
  /** Joining by link: the room's door refused the join, and why (decision 0017). */
  refused?: RoomRefusal;
}

/** What the group engine needs from the account (account.ts implements it). */
export interface GroupHost {
  store: Store;
  rng: Random;
  now(): number;
  /** Runs under the account's lock (sessions and the outbox must not be used by two at once). */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** Sends what waits in the outbox. */
  kick(): void;
  emit(change: GroupChange): void;
  emitMessage(info: MessageInfo): void;
  contactById(id: Uint8Array): ContactRecord | undefined;
  /** Goes up whenever a contact appears, goes, or changes status or queue. */
  contactsVersion(): number;
  contactByAlias(alias: string): ContactRecord;
  /**
   * The outbox record of one group message to `members` by relay fan-out (`frame`, uploaded
   * once per relay), kept until each member's receipt, and resent as `payload` over the 1:1
   * session to those whose receipt does not come. `members` is the same array for as long as
   * membership and sessions stay the same (the host may key a cache on it).
   */
  fanoutOps(
    members: readonly ContactRecord[],
    m: { group: Uint8Array; message: Uint8Array; frame: Uint8Array; payload: CborMap },
  ): StoreOp[];
  /** An outbox entry carrying `body` over the 1:1 session with `c` (kept until receipted if `message`). */
  sendOp(c: ContactRecord, body: CborMap, message?: Uint8Array): StoreOp;
  /** Outbox entries to `c` that receipts for `ids` settle, as delete operations. */
  settleOps(c: ContactRecord, ids: Uint8Array[]): Promise<StoreOp[]>;
  /** A one-time card whose answer becomes a hidden peer of `group` (network; outside the lock). */
  makePeerCard(group: Uint8Array): Promise<string>;
  /** Answers a forwarded card as a hidden peer of `group` (network; takes the lock itself). */
  acceptPeerCard(link: string, group: Uint8Array): Promise<ContactRecord>;
  /** Public rooms: spam-control limits (room-limits.ts). */
  roomLimits: RoomLimits;
  /** A long-lived card whose answers are room join requests for `group` (network; outside the lock). */
  makeDoorCard(group: Uint8Array): Promise<RendezvousCard>;
  /**
   * Answers a room's door card as a hidden peer of `group`, the contact request carrying
   * `request(conversation id)` (network; takes the lock itself).
   */
  answerRoomDoor(
    link: string,
    group: Uint8Array,
    request: (conv: Uint8Array) => CborMap,
  ): Promise<ContactRecord>;
  /** A one-time contact card (a private chat request carries it). */
  makeContactCard(): Promise<RendezvousCard>;
  /** Answers a contact card as an ordinary contact. */
  acceptContactCard(link: string, alias?: string): Promise<ContactInfo>;
}

/** A private chat request received from a group member (docs/decisions/0013). */
export interface ChatRequestInfo {
  id: string;
  group: string;
  groupName: string;
  /** How the group shows the member who asked. */
  from: string;
  member: string;
  note?: string;
  at: number;
  expires: number;
}

interface Loaded {
  rec: GroupRecord;
  events: Map<string, GroupEvent>;
  state?: GroupState | undefined;
}

/** Operations of one change, and what to do in memory once they are stored. */
interface Tx {
  ops: StoreOp[];
  after: Array<() => void>;
}

const hex = toHex;

function keyPair(secret: Uint8Array): SignKeyPair {
  return { secretKey: secret, publicKey: secret.slice(32, 64) };
}

function has(list: readonly Uint8Array[], key: Uint8Array): boolean {
  return list.some((k) => equalBytes(k, key));
}

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

/** A message that came to me (live, or owed to me), not shown yet and not read. */
function incomingRecord(
  env: Envelope,
  from: Uint8Array,
  kind: GroupMessageKind,
  text: string,
  now: number,
): GroupMessageRecord {
  return {
    id: env.id,
    author: from,
    dir: 'in',
    kind,
    text,
    parents: env.parents,
    lamport: env.lamport,
    ts: env.ts,
    received: now,
    delivered: 0,
    read: 0,
    shown: false,
    readByMe: false,
  };
}

export class GroupEngine {
  private readonly groups = new Map<string, Loaded>();
  private readonly joinLimiter: JoinLimiter;
  /** Refusals a door answers count apart from its joins, within the same rate (decision 0017). */
  private readonly refusalLimiter: JoinLimiter;
  /** Rooms whose door refused my join by link, and why (from `grooms`, kept in memory for info). */
  private readonly refusedJoins = new Map<string, RoomRefusal>();
  private pendingPayloads = 0;
  private maintaining: Promise<void> | undefined;
  private maintainAgain = false;
  private closed = false;
  /** Per group: the members a message goes to, for the links, state and contacts seen. */
  private readonly recipients = new WeakMap<Loaded, { inputs: unknown[]; members: ContactRecord[] }>();
  /** Per group: its stored messages' heads, clocks and times (message-index.ts), once read. */
  private readonly indexes = new WeakMap<Loaded, GroupMessageIndex>();
  /** Per group: messages stored so far, to tell a read of the store that raced a write. */
  private readonly stored = new WeakMap<Loaded, number>();
  /** Per group: the introduction pass that last ran to the end, and on what. */
  private readonly maintained = new WorkMemo<Loaded>();
  /** Per group: the members and invitees a message is owed to, for the links, state and contacts seen. */
  private readonly unlinked = new WeakMap<Loaded, { inputs: unknown[]; to: OwedTo[] }>();
  private owedStore: OwedMessages | undefined;

  constructor(private readonly host: GroupHost) {
    this.joinLimiter = new JoinLimiter(host.roomLimits);
    this.refusalLimiter = new JoinLimiter(host.roomLimits);
  }

  async load(): Promise<void> {
    this.pendingPayloads = (await this.host.store.list(GC.pending)).length;
    for (const { value } of await this.host.store.list(GC.groups)) {
      let rec = decodeGroupRecord(value);
      const chain = await this.host.store.get(GC.chains, hex(rec.id));
      if (chain) rec.chain = chain;
      if ((rec.v ?? 1) < GROUP_RECORDS_VERSION) rec = await this.upgradeRecords(rec);
      const events = new Map<string, GroupEvent>();
      for (const e of await this.host.store.list(GC.events(rec.id))) {
        try {
          const ev = decodeGroupEvent(e.value, { group: rec.id });
          events.set(hex(ev.id), ev);
        } catch {
          // Kept as received; one that does not decode never counted.
        }
      }
      this.groups.set(hex(rec.id), { rec, events });
    }
    for (const { key, value } of await this.host.store.list(RC.rooms)) {
      const why = decodeRoomRecord(value).join?.refused?.why;
      if (why) this.refusedJoins.set(key, why);
    }
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
      ops.push(...upgradeReceiptOps(rec.id, m), this.messageOp(rec.id, m));
    }
    const next: GroupRecord = { ...rec, v: GROUP_RECORDS_VERSION };
    ops.push(...this.recordOps(next));
    await this.host.store.batch(ops);
    return next;
  }

  /** Stops background work (the account closes). */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }

  /** Whether introduction work is running or due. */
  get busy(): boolean {
    return this.maintaining !== undefined;
  }

  /** Resolves when no introduction work is running. */
  async idle(): Promise<void> {
    while (this.maintaining) await this.maintaining;
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
    if (st?.settings.public) info.public = true;
    if (st) info.shareHistory = st.settings.shareHistory;
    if (l.rec.alias) info.alias = l.rec.alias;
    const role = st?.members.get(hex(this.me(l).publicKey))?.role;
    if (role) info.role = role;
    if (l.rec.status === 'invited' && l.rec.inviter) {
      const c = this.host.contactById(l.rec.inviter);
      if (c) info.invitedBy = c.alias;
    }
    const refused = l.rec.status === 'invited' ? this.refusedJoins.get(hex(l.rec.id)) : undefined;
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

  private putRec(tx: Tx, l: Loaded, rec: GroupRecord): void {
    tx.ops.push(...this.recordOps(rec));
    l.rec = rec;
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
    const create = createGroup({
      author: me,
      name: name.trim(),
      ts: this.host.now(),
      rng: this.host.rng,
      ...(opts.public ? { settings: defaultGroupSettings({ public: true }) } : {}),
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
    const removed = [...before.members.keys()].filter((k) => !after.members.has(k));
    if (removed.includes(me) && l.rec.status === 'joined') {
      // Only my own leave makes it 'left': a kick or a ban removed me.
      const rec: GroupRecord = {
        ...l.rec,
        status: this.leftByMe(l, before, after) ? 'left' : 'removed',
        rotate: true,
      };
      delete rec.chain;
      this.putRec(tx, l, rec);
      tx.after.push(() => this.host.emit({ group: hex(l.rec.id), change: 'removed' }));
      return;
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
      if (c) tx.after.push(() => void this.replayPending(c.id).catch(() => undefined));
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
      const all = [...l.events.values()].sort((a, b) => a.lamport - b.lamport).map(encodeGroupEvent);
      for (let i = 0; i < all.length; i += MAX_EVENTS_PER_PAYLOAD)
        tx.ops.push(
          this.host.sendOp(
            c,
            this.payload({ t: 'ev', g: l.rec.id, ev: all.slice(i, i + MAX_EVENTS_PER_PAYLOAD) }),
          ),
        );
      const rec = { ...l.rec };
      if (!has(rec.invitees, member)) rec.invitees = [...rec.invitees, member];
      if (!rec.links.some((x) => equalBytes(x.m, member))) rec.links = [...rec.links, { m: member, c: c.id }];
      this.putRec(tx, l, rec);
      return this.info(l);
    });
  }

  /** Joins a group I was invited to. */
  async join(ref: string): Promise<GroupInfo> {
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
    const e = this.event(l, 'join', {});
    const now = this.host.now();
    const chain = rotateSenderChain(this.host.rng);
    this.putRec(tx, l, {
      ...l.rec,
      status: 'joined',
      chain: encodeSenderChain(chain),
      chainAt: now,
      rotate: false,
    });
    this.addEvents(tx, l, [e]);
    // My inviter first learns my key's session binding, then my join, then my sender key.
    for (const link of l.rec.links) {
      const c = this.host.contactById(link.c);
      if (!c) continue;
      tx.ops.push(this.bindOp(l, c));
    }
    this.spread(tx, l, [e]);
    this.distribute(tx, l, chain);
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
      const room = this.refusedJoins.has(hex(l.rec.id)) ? await this.roomRecord(l.rec.id) : undefined;
      if (room?.join) tx.ops.push(this.roomOp({ g: room.g, ...(room.door ? { door: room.door } : {}) }));
      tx.after.push(() => this.refusedJoins.delete(hex(l.rec.id)));
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
    if (a.length < 1 || a.length > 64 || /[\n\r\t]/.test(a))
      throw new UsageError('alias must be 1-64 characters');
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

  // ---- Sender keys -----------------------------------------------------------------------------

  private distribute(
    tx: Tx,
    l: Loaded,
    chain: ReturnType<typeof rotateSenderChain>,
    only?: Uint8Array,
  ): void {
    const st = this.state(l);
    const d = encodeSenderKeyDistribution(senderKeyDistribution(chain, l.rec.id));
    for (const link of l.rec.links) {
      if (only && !equalBytes(link.m, only)) continue;
      if (!st.members.has(hex(link.m)) && !(only && st.invited.has(hex(link.m)))) continue;
      const c = this.host.contactById(link.c);
      if (c) tx.ops.push(this.host.sendOp(c, this.payload({ t: 'skd', g: l.rec.id, d })));
    }
  }

  /** My chain, replaced first when the policy says so (removal, 100 messages, 7 days). */
  private sendingChain(tx: Tx, l: Loaded): ReturnType<typeof rotateSenderChain> {
    const now = this.host.now();
    if (l.rec.chain) {
      const chain = decodeSenderChain(l.rec.chain);
      if (!l.rec.rotate && !senderChainNeedsRotation(chain, now, l.rec.chainAt)) return chain;
      wipe(chain.chainKey, chain.signingKey.secretKey);
    }
    const chain = rotateSenderChain(this.host.rng);
    this.putRec(tx, l, { ...l.rec, chain: encodeSenderChain(chain), chainAt: now, rotate: false });
    this.distribute(tx, l, chain);
    return chain;
  }

  // ---- Messages --------------------------------------------------------------------------------

  private async messageRecords(l: Loaded): Promise<GroupMessageRecord[]> {
    return (await this.host.store.list(GC.messages(l.rec.id))).map((e) => decodeGroupMessage(e.value));
  }

  /** The group's message index, read from the store the first time (message-index.ts). */
  private async messageIndex(l: Loaded): Promise<GroupMessageIndex> {
    for (;;) {
      const known = this.indexes.get(l);
      if (known) return known;
      const writes = this.stored.get(l) ?? 0;
      const index = GroupMessageIndex.from(await this.messageRecords(l));
      // A message stored while the store was read may be missing from it: read again.
      if ((this.stored.get(l) ?? 0) !== writes) continue;
      this.indexes.set(l, index);
      return index;
    }
  }

  /** Writes a message record; once stored, the index learns of it. */
  private putMessage(tx: Tx, l: Loaded, r: GroupMessageRecord): void {
    tx.ops.push(this.messageOp(l.rec.id, r));
    tx.after.push(() => {
      this.stored.set(l, (this.stored.get(l) ?? 0) + 1);
      if (this.indexes.get(l)?.put(r) === false) this.indexes.delete(l);
    });
  }

  /** Sends a text, a `/me` action or a ping to everyone in the group. */
  async send(ref: string, text: string, opts: { kind?: GroupMessageKind } = {}): Promise<MessageInfo> {
    const kind = opts.kind ?? 'text';
    if (kind !== 'text' && kind !== 'action' && kind !== 'ping') throw new UsageError('unknown message kind');
    if (typeof text !== 'string' || (text.length === 0 && kind !== 'ping'))
      throw new UsageError('message is empty');
    if (text.length > MAX_GROUP_TEXT)
      throw new UsageError(`message longer than ${MAX_GROUP_TEXT} characters`);
    return this.change(async (tx) => {
      const l = this.find(ref);
      if (l.rec.status !== 'joined') throw new UsageError('you are not a member of this group');
      const st = this.state(l);
      const me = this.me(l);
      const member = st.members.get(hex(me.publicKey));
      if (!member) throw new UsageError('you are not a member of this group');
      if (groupMemberPower(st, me.publicKey) < st.settings.power.message)
        throw new UsageError('only moderators may write in this group');
      const index = await this.messageIndex(l);
      if (st.settings.public)
        checkSendRate(this.host.roomLimits, index.timesOf(me.publicKey), me.publicKey, this.host.now());
      const env = createEnvelope({
        device: me,
        conv: l.rec.id,
        ...index.next(),
        ts: this.host.now(),
        kind: 'text',
        body: { t: kind, text },
      });
      const chain = this.sendingChain(tx, l);
      const enc = senderEncrypt(chain, padToBucket(encodeEnvelope(env)), l.rec.id);
      this.putChain(tx, l, encodeSenderChain(enc.chain));
      wipe(chain.chainKey, chain.signingKey.secretKey); // stored in its next state; shares nothing
      const record: GroupMessageRecord = {
        id: env.id,
        author: me.publicKey,
        dir: 'out',
        kind,
        text,
        parents: env.parents,
        lamport: env.lamport,
        ts: env.ts,
        received: env.ts,
        delivered: 0,
        read: 0,
        shown: true,
        readByMe: true,
      };
      this.putMessage(tx, l, record);
      tx.ops.push(...(await this.keepHistory(l, env)));
      this.deliverToMembers(tx, l, env.id, enc.message);
      await this.oweUnlinked(tx, l, env);
      return this.messageInfo(l, record);
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
    const st = this.state(l);
    const me = this.me(l).publicKey;
    // Who it goes to changes with the links, the state and the contacts, not per message.
    const inputs = [l.rec.links, st, this.host.contactsVersion()];
    let known = this.recipients.get(l);
    if (!known || known.inputs.some((x, i) => x !== inputs[i])) {
      const members: ContactRecord[] = [];
      for (const link of l.rec.links) {
        if (equalBytes(link.m, me) || !st.members.has(hex(link.m))) continue;
        const c = this.host.contactById(link.c);
        if (c) members.push(c);
      }
      known = { inputs, members };
      this.recipients.set(l, known);
    }
    const members = known.members;
    if (members.length === 0) return;
    tx.ops.push(
      ...this.host.fanoutOps(members, {
        group: l.rec.id,
        message: id,
        frame: encodeGroupFanoutFrame({ g: l.rec.id, m: me, id, c: ciphertext }),
        payload: this.payload({ t: 'msg', g: l.rec.id, id, c: ciphertext }),
      }),
    );
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

  private messageOp(group: Uint8Array, r: GroupMessageRecord): StoreOp {
    const value = { ...r } as Record<string, unknown>;
    if (!r.place) delete value.place;
    delete value.legacy;
    return {
      type: 'put',
      collection: GC.messages(group),
      key: hex(r.id),
      value: encodeGroupRecord(value as unknown as CborMap),
    };
  }

  private messageInfo(l: Loaded, m: GroupMessageRecord): MessageInfo {
    const st = l.events.size ? this.state(l) : undefined;
    const others = st ? Math.max(0, st.members.size - 1) : 0;
    let status: MessageStatus = 'received';
    if (m.dir === 'out')
      status = others > 0 && m.read >= others ? 'read' : m.delivered > 0 ? 'delivered' : 'pending';
    // Incoming: 'read' once this device sent its read receipt (markRead), as 1:1 messages show.
    else if (m.readByMe) status = 'read';
    const info: MessageInfo = {
      id: hex(m.id),
      alias: l.rec.alias ?? this.groupName(l),
      group: hex(l.rec.id),
      from: this.displayName(l, m.author),
      dir: m.dir,
      kind: m.kind,
      text: m.text,
      ts: m.ts,
      lamport: m.lamport,
      status,
    };
    if (m.dir === 'out') {
      info.deliveredCount = m.delivered;
      info.readCount = m.read;
    }
    if (m.place) info.late = true;
    if (m.hist) info.history = true;
    if (m.place || m.conf?.length) {
      info.confirmations = st ? countingConfirmers(st, m).length : (m.conf?.length ?? 0);
      if (st) info.confirmationsNeeded = confirmationsNeeded(st);
      if (!m.place) info.confirmed = true;
    }
    return info;
  }

  private ordered(records: GroupMessageRecord[]): GroupMessageRecord[] {
    const nodes = records.map((r) => ({
      id: r.id,
      parents: r.place?.parents ?? r.parents,
      lamport: r.place?.lamport ?? r.lamport,
      ts: r.ts,
      r,
    }));
    return causalOrder(nodes).map((n) => n.r);
  }

  /** The group's messages in causal order (late ones where they arrived). */
  async history(ref: string): Promise<MessageInfo[]> {
    const l = this.find(ref);
    return this.ordered(await this.messageRecords(l)).map((m) => this.messageInfo(l, m));
  }

  /** Called by Account.takeUnshown under the lock: unshown incoming messages, marked shown. */
  async takeUnshown(ops: StoreOp[]): Promise<MessageInfo[]> {
    const out: MessageInfo[] = [];
    for (const l of [...this.groups.values()].sort((a, b) => a.rec.created - b.rec.created)) {
      for (const m of this.ordered(await this.messageRecords(l))) {
        if (m.dir !== 'in' || m.shown) continue;
        out.push(this.messageInfo(l, m));
        ops.push(this.messageOp(l.rec.id, { ...m, shown: true })); // the index does not change
      }
    }
    return out;
  }

  /** Sends read receipts to the authors of every message not read yet; returns how many. */
  async markRead(ref: string): Promise<number> {
    return this.change(async (tx) => {
      const l = this.find(ref);
      const unread = (await this.messageRecords(l)).filter((m) => m.dir === 'in' && !m.readByMe);
      const byAuthor = new Map<string, Uint8Array[]>();
      for (const m of unread) {
        this.putMessage(tx, l, { ...m, readByMe: true });
        const list = byAuthor.get(hex(m.author)) ?? [];
        list.push(m.id);
        byAuthor.set(hex(m.author), list);
      }
      for (const [author, ids] of byAuthor) {
        const c = this.linkOf(l, fromHex(author));
        if (!c) continue;
        for (let i = 0; i < ids.length; i += MAX_RECEIPT_IDS)
          tx.ops.push(
            this.host.sendOp(
              c,
              this.payload({ t: 'rcpt', g: l.rec.id, s: 'r', ids: ids.slice(i, i + MAX_RECEIPT_IDS) }),
            ),
          );
      }
      return unread.length;
    });
  }

  // ---- Receiving -------------------------------------------------------------------------------

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
    const l = this.groups.get(hex(f.g));
    const from = l ? this.memberOfContact(l, c) : undefined;
    if (from && !equalBytes(from, f.m))
      throw new VerificationError('fan-out message names another sender than its queue');
    await this.receive(c, this.payload({ t: 'msg', g: f.g, id: f.id, c: f.c }), ops, after);
  }

  /** Hidden peer sessions bind themselves to my member key in their first message. */
  async peerSessionOps(c: ContactRecord): Promise<StoreOp[]> {
    const l = c.peer ? this.groups.get(hex(c.peer)) : undefined;
    if (!l) return [];
    // Joining by link: this is the session my join request opens, the one a refusal may come in.
    const room = l.rec.status === 'invited' ? await this.roomRecord(l.rec.id) : undefined;
    if (room?.join && !room.join.c)
      return [this.bindOp(l, c), this.roomOp({ ...room, join: { ...room.join, c: c.id } })];
    return [this.bindOp(l, c)];
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

  /**
   * A `group` envelope from contact or peer `c` (Account.receiveFromContact, under the lock):
   * store operations go to `ops`, in-memory updates and events to `after`, run once stored.
   */
  async receive(c: ContactRecord, body: CborValue, ops: StoreOp[], after: Array<() => void>): Promise<void> {
    const p = decodeGroupPayload(body);
    const restore = this.snapshot(hex(p.g));
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
    const l = this.groups.get(hex(p.g));
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
      after.push(() => this.scheduleMaintain());
      after.push(() => void this.replayPending(c.id).catch(() => undefined));
      return;
    }
    const from = this.memberOfContact(l, c);
    if (!from) {
      this.keepPending(tx, c, p, 'group payload over a session not bound to a member');
      return;
    }
    switch (p.t) {
      case 'ev':
        this.receiveEvents(tx, l, from, p.ev);
        break;
      case 'skd':
        await this.receiveDistribution(tx, l, from, c, p.d);
        break;
      case 'msg':
        await this.receiveMessage(tx, l, from, c, p.id, p.c);
        break;
      case 'rcpt':
        await this.receiveReceipt(tx, l, from, c, p.s, p.ids);
        break;
      case 'intro':
        this.receiveIntro(tx, l, from, p.to, p.from, p.link);
        break;
      case 'chatreq':
        await this.receiveChatRequest(tx, l, from, p.link, p.note);
        break;
      case 'hist':
        await this.receiveHistory(tx, l, from, p.env);
        break;
      case 'lc':
        await this.receiveConfirmation(tx, l, from, p);
        break;
      case 'owe':
        await this.receiveOwed(tx, l, from, c, p.env);
        break;
    }
    if (p.t === 'ev') await this.roomAutoJoin(tx, l, c);
    after.push(() => this.scheduleMaintain());
  }

  /** Keeps a payload that came before what it needs (bounded), to be read once that arrives. */
  private keepPending(tx: Tx, c: ContactRecord, p: GroupPayload, why: string): void {
    if (this.pendingPayloads >= MAX_PENDING_PAYLOADS) throw new ProtocolError(why);
    const key = `${hex(c.id)}.${hex(this.host.rng.bytes(8))}`;
    tx.ops.push({
      type: 'put',
      collection: GC.pending,
      key,
      value: encodeGroupRecord({ c: c.id, p: encodeCbor(encodeGroupPayload(p)), at: this.host.now() }),
    });
    tx.after.push(() => this.pendingPayloads++);
  }

  /** Reads the payloads a session sent ahead of an invitation or binding that has now arrived. */
  private async replayPending(contact: Uint8Array): Promise<void> {
    await this.host.run(async () => {
      const prefix = `${hex(contact)}.`;
      const entries = (await this.host.store.list(GC.pending)).filter((e) => e.key.startsWith(prefix));
      const sorted = entries
        .map((e) => ({ key: e.key, r: decodePending(e.value) }))
        .sort((a, b) => a.r.at - b.r.at || (a.key < b.key ? -1 : 1));
      for (const { key, r } of sorted) {
        const c = this.host.contactById(r.c);
        const tx: Tx = {
          ops: [{ type: 'del', collection: GC.pending, key }],
          after: [() => this.pendingPayloads--],
        };
        if (c) {
          const p = decodeGroupPayload(decodeCbor(r.p));
          const restore = this.snapshot(hex(p.g));
          try {
            await this.receivePayload(c, p, tx);
          } catch {
            // It does not count after all: it is dropped, as it would have been on arrival.
            restore();
            tx.ops.length = 1;
            tx.after.length = 1;
          }
        }
        await this.host.store.batch(tx.ops);
        for (const f of tx.after) f();
      }
    });
    this.host.kick();
  }

  private async receiveInvite(
    tx: Tx,
    c: ContactRecord,
    p: Extract<GroupPayload, { t: 'invite' }>,
  ): Promise<void> {
    if (c.peer) throw new ProtocolError('invitations come from contacts');
    if (!verify(p.m, bindMessage(p.g, c.conv), p.sig))
      throw new VerificationError('invitation binding does not verify');
    const existing = this.groups.get(hex(p.g));
    if (existing && (existing.rec.status === 'invited' || existing.rec.status === 'joined')) return;
    const pending = [...this.groups.values()].filter((x) => x.rec.status === 'invited').length;
    if (pending >= MAX_PENDING_INVITES || this.groups.size >= MAX_GROUPS)
      throw new QuotaError('too many pending group invitations');
    const now = this.host.now();
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
    this.putRec(tx, l, rec);
    tx.after.push(() => {
      this.groups.set(hex(p.g), l);
      this.host.emit({ group: hex(p.g), change: 'invited' });
    });
  }

  private receiveBind(tx: Tx, l: Loaded, c: ContactRecord, m: Uint8Array, sig: Uint8Array): void {
    if (!verify(m, bindMessage(l.rec.id, c.conv), sig))
      throw new VerificationError('group session binding does not verify');
    const bound = this.memberOfContact(l, c);
    if (bound && !equalBytes(bound, m)) throw new ProtocolError('a session may speak for one member only');
    if (equalBytes(m, this.me(l).publicKey)) throw new ProtocolError('a peer bound my own key');
    if (!bound && l.rec.links.length >= 2 * MAX_GROUP_MEMBERS)
      throw new QuotaError('too many sessions bound to this group');
    const rec = { ...l.rec, links: [...l.rec.links.filter((x) => !equalBytes(x.m, m)), { m, c: c.id }] };
    this.putRec(tx, l, rec);
    if (l.rec.status !== 'joined') return;
    // A new session: my sender key and what they may have missed, and cards waiting for them.
    const chain = l.rec.chain ? decodeSenderChain(l.rec.chain) : undefined;
    if (chain && !l.rec.rotate) this.distribute(tx, l, chain, m);
    // Each of us had, through our inviters, what came before the earlier of our two joins; what
    // came after may have missed the other.
    const st = this.state(l);
    let theirs = st.members.get(hex(m))?.joinedAt;
    if (theirs === undefined) {
      theirs = 0;
      for (const e of l.events.values())
        if (e.type === 'invite' && equalBytes(e.content.member, m)) theirs = Math.max(theirs, e.lamport);
    }
    const since = Math.min(theirs, st.members.get(hex(this.me(l).publicKey))?.joinedAt ?? 0);
    const missed = [...l.events.values()]
      .filter((e) => e.lamport >= since)
      .sort((a, b) => a.lamport - b.lamport);
    this.spread(tx, l, missed, [m]);
    const waiting = l.rec.forwards.filter((f) => equalBytes(f.to, m));
    if (waiting.length) {
      for (const f of waiting)
        tx.ops.push(this.host.sendOp(c, this.payload({ t: 'intro', g: l.rec.id, ...f })));
      this.putRec(tx, l, { ...l.rec, forwards: l.rec.forwards.filter((f) => !equalBytes(f.to, m)) });
    }
  }

  private receiveEvents(tx: Tx, l: Loaded, from: Uint8Array, raw: Uint8Array[]): void {
    const decoded: GroupEvent[] = [];
    // A clock far beyond everything known would leave no room for the next event (2^53).
    const maxLamport = (l.events.size ? this.state(l).lamport : 0) + MAX_LAMPORT_JUMP;
    for (const bytes of raw) {
      const id = eventIdOf(bytes);
      if (id === undefined || l.events.has(id)) continue;
      try {
        const e = decodeGroupEvent(bytes, { group: l.rec.id });
        if (e.lamport <= maxLamport) decoded.push(e);
      } catch {
        // Forged or malformed: it never counts, and nothing else in the payload suffers.
      }
    }
    const fresh = this.addEvents(tx, l, decoded);
    if (fresh.length === 0 || l.rec.status !== 'joined') return;
    // Relay so that everyone gets everything: my invitees' events to all, the rest to my invitees.
    const me = this.me(l).publicKey;
    const fromInvitee = has(l.rec.invitees, from);
    const targets = l.rec.links
      .map((x) => x.m)
      .filter((m) => !equalBytes(m, from) && !equalBytes(m, me) && (fromInvitee || has(l.rec.invitees, m)));
    this.spread(tx, l, fresh, targets);
  }

  private async receiveDistribution(
    tx: Tx,
    l: Loaded,
    from: Uint8Array,
    c: ContactRecord,
    bytes: Uint8Array,
  ): Promise<void> {
    const d = decodeSenderKeyDistribution(bytes);
    if (!equalBytes(d.group, l.rec.id)) throw new ProtocolError('sender key for another group');
    const st = this.state(l);
    if (!st.members.has(hex(from)) && !st.invited.has(hex(from))) {
      // A member let back in hands me their new key over our old session, which may overtake
      // the events that let them in (those come from whoever invited them): kept until the
      // state admits them (onStateChange replays it), within the pending payloads' bound.
      this.keepPending(tx, c, { t: 'skd', g: l.rec.id, d: bytes }, 'sender key from a non-member');
      return;
    }
    const col = GC.receivers(l.rec.id);
    const mine = (await this.host.store.list(col))
      .map((e) => ({ key: e.key, r: decodeReceiver(e.value) }))
      .filter((x) => equalBytes(x.r.m, from));
    if (mine.some((x) => x.key === hex(d.chainId))) return;
    const state = senderReceiverFromDistribution(d);
    tx.ops.push({
      type: 'put',
      collection: col,
      key: hex(d.chainId),
      value: encodeGroupRecord({ m: from, state: encodeSenderReceiverState(state), at: this.host.now() }),
    });
    mine.sort((a, b) => a.r.at - b.r.at);
    for (const old of mine.slice(0, Math.max(0, mine.length - (MAX_CHAINS_PER_MEMBER - 1))))
      tx.ops.push({ type: 'del', collection: col, key: old.key });
    // Messages that waited for this key, opened one after the other with the advancing state.
    const fresh = { [hex(d.chainId)]: state };
    for (const { key, value } of await this.host.store.list(GC.stash(l.rec.id))) {
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

  private async receiveMessage(
    tx: Tx,
    l: Loaded,
    from: Uint8Array,
    c: ContactRecord,
    id: Uint8Array,
    wire: Uint8Array,
  ): Promise<void> {
    if (await this.host.store.get(GC.messages(l.rec.id), hex(id))) {
      tx.ops.push(this.host.sendOp(c, this.payload({ t: 'rcpt', g: l.rec.id, s: 'd', ids: [id] })));
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
      const raw = await this.host.store.get(GC.receivers(l.rec.id), chainId);
      if (raw) {
        const r = decodeReceiver(raw);
        if (!equalBytes(r.m, from)) throw new VerificationError('message under another member’s sender key');
        state = decodeSenderReceiverState(r.state);
      }
    }
    if (!state) {
      const stash = await this.host.store.list(GC.stash(l.rec.id));
      if (stash.length >= MAX_STASHED) throw new QuotaError('too many group messages wait for a sender key');
      tx.ops.push({
        type: 'put',
        collection: GC.stash(l.rec.id),
        key: hex(id),
        value: encodeGroupRecord({ c: c.id, id, w: wire, at: this.host.now() }),
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
    if (env.kind !== 'text') throw new ProtocolError('unsupported group message kind');
    const body = asMap(env.body, 'group message body');
    const kind = asText(body.t, 'group message kind', 8);
    if (kind !== 'text' && kind !== 'action' && kind !== 'ping')
      throw new ProtocolError('unknown group message kind');
    const text = asText(body.text, 'text', MAX_GROUP_TEXT);
    const st = this.state(l);
    if (!st.members.has(hex(from)) || groupMemberPower(st, from) < st.settings.power.message)
      throw new ProtocolError('group message from someone who may not write');
    const index = await this.messageIndex(l);
    if (env.lamport > index.nextLamport() + MAX_LAMPORT_JUMP)
      throw new ProtocolError('message clock jumps too far ahead');
    const now = this.host.now();
    // Public rooms: a member sending beyond the room's rate is not shown (room-limits.ts).
    if (st.settings.public) checkReceiveRate(this.host.roomLimits, index.timesOf(from), from, env.ts, now);
    const record = incomingRecord(env, from, kind, text, now);
    // Seed 003 anti-backdating: a message claiming a place others superseded long ago is
    // placed where it arrived and marked.
    if (index.backdated(env.parents, now, BACKDATE_WINDOW_MS)) record.place = index.nextPlaced();
    tx.ops.push(...(await this.lateArrival(l, record)), ...(await this.keepHistory(l, env)));
    tx.ops.push(
      {
        type: 'put',
        collection: GC.receivers(l.rec.id),
        key: chainId,
        value: encodeGroupRecord({ m: from, state: encodeSenderReceiverState(dec.state), at: now }),
      },
      this.host.sendOp(c, this.payload({ t: 'rcpt', g: l.rec.id, s: 'd', ids: [id] })),
    );
    this.putMessage(tx, l, record);
    tx.after.push(() => this.host.emitMessage(this.messageInfo(l, record)));
  }

  private async receiveReceipt(
    tx: Tx,
    l: Loaded,
    from: Uint8Array,
    c: ContactRecord,
    s: 'd' | 'r',
    ids: Uint8Array[],
  ): Promise<void> {
    tx.ops.push(...(await this.host.settleOps(c, ids)));
    let counted = false;
    const level = s === 'r' ? RECEIPT_READ : RECEIPT_DELIVERED;
    for (const id of new Map(ids.map((x) => [hex(x), x])).values()) {
      const raw = await this.host.store.get(GC.messages(l.rec.id), hex(id));
      if (!raw) continue;
      const m = decodeGroupMessage(raw);
      if (m.dir !== 'out') continue;
      const was = await receiptLevel(this.host.store, l.rec.id, id, from);
      const next = countReceipt(m, was, level);
      if (!next) continue;
      tx.ops.push(receiptOp(l.rec.id, id, from, level));
      this.putMessage(tx, l, next);
      counted = true;
    }
    if (counted) tx.after.push(() => this.host.emit({ group: hex(l.rec.id), change: 'receipts' }));
  }

  private receiveIntro(
    tx: Tx,
    l: Loaded,
    sender: Uint8Array,
    to: Uint8Array,
    from: Uint8Array,
    link: string,
  ): void {
    const st = this.state(l);
    const me = this.me(l).publicKey;
    // A card may overtake the maker's join on its way here: invited makers count too.
    const known = (k: Uint8Array): boolean => st.members.has(hex(k)) || st.invited.has(hex(k));
    if (!known(from) || !known(to)) return; // stale: nothing to do
    if (equalBytes(to, me)) {
      if (this.linkOf(l, from) || l.rec.accept.some((a) => equalBytes(a.m, from))) return;
      if (l.rec.accept.length >= MAX_GROUP_MEMBERS) throw new QuotaError('too many introductions wait');
      this.putRec(tx, l, { ...l.rec, accept: [...l.rec.accept, { m: from, link }] });
      return;
    }
    // I am asked to forward: only a member's own card, to a member.
    if (!equalBytes(sender, from)) throw new ProtocolError('an introduction must come from its card’s maker');
    const target = this.linkOf(l, to);
    if (target) {
      tx.ops.push(this.host.sendOp(target, this.payload({ t: 'intro', g: l.rec.id, to, from, link })));
      return;
    }
    if (l.rec.forwards.length >= MAX_FORWARDS) throw new QuotaError('too many introductions wait');
    this.putRec(tx, l, { ...l.rec, forwards: [...l.rec.forwards, { to, from, link }] });
  }

  // ---- Introductions (outside the lock: they take the network) ---------------------------------

  scheduleMaintain(): void {
    if (this.closed) return;
    if (this.maintaining) {
      this.maintainAgain = true;
      return;
    }
    this.maintaining = (async () => {
      do {
        this.maintainAgain = false;
        for (const l of [...this.groups.values()]) {
          if (this.closed) return;
          await this.maintainGroup(l).catch(() => undefined);
        }
      } while (this.maintainAgain && !this.closed);
    })().finally(() => {
      this.maintaining = undefined;
    });
  }

  /** What the introduction pass depends on: when none of it changed, it has nothing new to do. */
  private maintainInputs(l: Loaded): unknown[] {
    return [l.rec.status, l.rec.links, l.state, l.rec.accept, l.rec.intros, this.host.contactsVersion()];
  }

  private async maintainGroup(l: Loaded): Promise<void> {
    await this.settleOwed(l).catch(() => undefined);
    if (l.rec.status !== 'joined') return;
    const now = this.host.now();
    const st = this.state(l);
    // Inputs as they are before this pass: a change made while it runs makes the next one run.
    const inputs = this.maintainInputs(l);
    if (this.maintained.fresh(l, inputs, now)) return;
    const me = this.me(l).publicKey;
    const mine = st.members.get(hex(me));
    if (!mine) return;
    await this.shareHistoryDue(l).catch(() => undefined);
    // A card made earlier whose retry time has not come: the pass is due again then.
    let until = Infinity;
    // Cards forwarded to me: answer them (each answer binds the new session to my key).
    for (const a of [...l.rec.accept]) {
      if (this.closed) return;
      if (st.invited.has(hex(a.m))) continue; // answered once their join is here
      if (!this.linkOf(l, a.m) && st.members.has(hex(a.m))) {
        try {
          await this.host.acceptPeerCard(a.link, l.rec.id);
        } catch {
          // expired or already answered: the maker will try again later
        }
      }
      await this.host.run(async () => {
        const tx: Tx = { ops: [], after: [] };
        const intros = [
          ...l.rec.intros.filter((x) => !equalBytes(x.m, a.m)),
          { m: a.m, at: this.host.now() },
        ];
        this.putRec(tx, l, { ...l.rec, accept: l.rec.accept.filter((x) => !equalBytes(x.m, a.m)), intros });
        await this.host.store.batch(tx.ops);
      });
      this.host.kick();
    }
    // Members I joined after and have no session with: I make a card, a member between us forwards it.
    const tries = new Map(l.rec.intros.map((x) => [hex(x.m), x.at]));
    for (const m of st.members.values()) {
      if (this.closed) return;
      if (equalBytes(m.key, me) || this.linkOf(l, m.key)) continue;
      const newer = mine.joinedAt > m.joinedAt || (mine.joinedAt === m.joinedAt && hex(me) > hex(m.key));
      if (!newer) continue;
      const tried = tries.get(hex(m.key));
      if (tried !== undefined && tried > now - INTRO_RETRY_MS) {
        until = Math.min(until, tried + INTRO_RETRY_MS);
        continue;
      }
      const forwarder = this.forwarder(l, st);
      if (!forwarder) break; // nobody to forward cards yet: a new link or member runs this again
      const link = await this.host.makePeerCard(l.rec.id);
      await this.host.run(async () => {
        const tx: Tx = { ops: [], after: [] };
        tx.ops.push(
          this.host.sendOp(forwarder, this.payload({ t: 'intro', g: l.rec.id, to: m.key, from: me, link })),
        );
        const intros = [...l.rec.intros.filter((x) => !equalBytes(x.m, m.key)), { m: m.key, at: now }];
        this.putRec(tx, l, { ...l.rec, intros });
        await this.host.store.batch(tx.ops);
      });
      until = Math.min(until, now + INTRO_RETRY_MS);
      this.host.kick();
    }
    this.maintained.done(l, inputs, until);
  }

  /** Who forwards my cards: my inviter while a member, else the earliest member I reach. */
  private forwarder(l: Loaded, st: GroupState): ContactRecord | undefined {
    const me = this.me(l).publicKey;
    const candidates = l.rec.links
      .filter((x) => !equalBytes(x.m, me) && st.members.has(hex(x.m)))
      .sort((a, b) => {
        const ia = l.rec.inviter && equalBytes(a.c, l.rec.inviter) ? 0 : 1;
        const ib = l.rec.inviter && equalBytes(b.c, l.rec.inviter) ? 0 : 1;
        return ia - ib || st.members.get(hex(a.m))!.joinedAt - st.members.get(hex(b.m))!.joinedAt;
      });
    for (const x of candidates) {
      const c = this.host.contactById(x.c);
      if (c) return c;
    }
    return undefined;
  }

  // ---- Public rooms and private chat requests (docs/decisions/0013) -------------------------------

  private async roomRecord(group: Uint8Array): Promise<RoomRecord | undefined> {
    const raw = await this.host.store.get(RC.rooms, hex(group));
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
    const l = this.find(ref);
    if (l.rec.status !== 'joined') throw new UsageError('you are not a member of this group');
    const st = this.state(l);
    if (!st.settings.public) throw new UsageError('this group is not a public room; invite people instead');
    const me = this.me(l);
    if (groupMemberPower(st, me.publicKey) < st.settings.power.invite)
      throw new UsageError('only members who may invite keep a room link');
    const room = await this.roomRecord(l.rec.id);
    if (room?.door && !opts.rotate) return room.door.link;
    const now = this.host.now();
    let card: RendezvousCard | undefined;
    if (room?.door) {
      // A new secret on the same door card, while that card stays usable for a while.
      const old = parseRoomLink(room.door.link).door;
      if (old.expires > now + 30 * 24 * 60 * 60 * 1000) card = old;
    }
    card ??= await this.host.makeDoorCard(l.rec.id);
    const secret = this.host.rng.bytes(32);
    const link = createRoomLink(
      { group: l.rec.id, name: this.groupName(l), keeper: me.publicKey, card: encodeCard(card), secret },
      me,
    );
    await this.host.run(async () => {
      const current = (await this.roomRecord(l.rec.id)) ?? { g: l.rec.id };
      await this.host.store.batch([this.roomOp({ ...current, door: { id: cardId(card), s: secret, link } })]);
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
    checkCardUsable(room.door, this.host.now());
    const nick = opts.nick === undefined ? undefined : opts.nick.trim();
    if (nick !== undefined && (nick.length < 1 || [...nick].length > MAX_ROOM_NICK_CHARS))
      throw new UsageError(`nick must be 1-${MAX_ROOM_NICK_CHARS} characters`);
    const g = hex(room.group);
    const before = this.groups.get(g);
    const beforeRec = before?.rec;
    // A join the door refused may start over (with this link or a newer one).
    if (
      beforeRec &&
      (beforeRec.status === 'joined' || beforeRec.status === 'invited') &&
      !this.refusedJoins.has(g)
    )
      throw new UsageError('you are already in this room (or joining it)');
    if (!before && this.groups.size >= MAX_GROUPS) throw new QuotaError(`at most ${MAX_GROUPS} groups`);
    const me = generateSignKeyPair(this.host.rng);
    await this.change(async (tx) => {
      const now = this.host.now();
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
      this.putRec(tx, l, rec);
      const prev = (await this.roomRecord(room.group)) ?? { g: room.group };
      tx.ops.push(this.roomOp({ ...prev, join: { k: room.keeper, ...(nick ? { nick } : {}) } }));
      this.groups.set(g, l);
      tx.after.push(() => this.refusedJoins.delete(g));
    });
    try {
      await this.host.answerRoomDoor(cardToLink(room.door), room.group, (conv) =>
        roomJoinRequest(room.secret, room.group, me, conv),
      );
    } catch (e) {
      await this.change(async (tx) => {
        const l = this.groups.get(g);
        if (!l) return;
        if (beforeRec) this.putRec(tx, l, beforeRec);
        else this.forget(tx, l);
      });
      throw e;
    }
    return this.info(this.groups.get(g)!);
  }

  /**
   * The door keeper's side of a join request (Account.receiveContactRequest, under the lock,
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
    const l = this.groups.get(hex(group));
    const room = l ? await this.roomRecord(group) : undefined;
    const stale = (message: string): Error => refusing('link-invalid', new ProtocolError(message));
    if (!l || !room?.door || !equalBytes(room.door.id, door))
      throw stale('a join request at a door this device no longer keeps');
    if (l.rec.status !== 'joined') throw stale('a join request for a room I am not in');
    checkRoomAdmission({ state: this.state(l), secret: room.door.s, conv, request });
    try {
      this.joinLimiter.admit(hex(door), this.host.now());
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
      this.refusalLimiter.admit(hex(door), this.host.now());
    } catch {
      return undefined;
    }
    return refusal;
  }

  /**
   * The joiner's side: a refusal from the door of a room I am joining by link, in the session my
   * join request opened (Account.receiveFromContact, under the lock; the account then drops
   * that session). The room stays `invited`, marked refused, until I decline it or join again.
   */
  async receiveRoomRefusal(c: ContactRecord, body: CborValue): Promise<Tx> {
    const r = decodeRoomRefusal(body);
    const l = this.groups.get(hex(r.g));
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
      ops: [this.roomOp({ ...room, join: { ...join, refused: { why: r.refusal, at: this.host.now() } } })],
      after: [
        () => this.refusedJoins.set(g, r.refusal),
        () => this.host.emit({ group: g, change: 'refused' }),
      ],
    };
  }

  /**
   * Admits `member`, whose join request came in and checked out, on the new hidden peer session
   * `c`: an invite event for the key (spread to everyone), my binding, and every event so far.
   * The operations go into the caller's batch; `after` runs once it is stored.
   */
  admitToRoom(c: ContactRecord, member: Uint8Array): { ops: StoreOp[]; after: Array<() => void> } {
    const l = c.peer ? this.groups.get(hex(c.peer)) : undefined;
    if (!l) throw new ProtocolError('a join request for an unknown room');
    const tx: Tx = { ops: [], after: [] };
    const restore = this.snapshot(hex(l.rec.id));
    try {
      const e = this.event(l, 'invite', { member });
      this.addEvents(tx, l, [e]);
      this.spread(tx, l, [e]);
      this.putRec(tx, l, {
        ...l.rec,
        invitees: [...l.rec.invitees.filter((k) => !equalBytes(k, member)), member],
        links: [...l.rec.links.filter((x) => !equalBytes(x.m, member)), { m: member, c: c.id }],
      });
      tx.ops.push(this.bindOp(l, c));
      const all = [...l.events.values()].sort((a, b) => a.lamport - b.lamport).map(encodeGroupEvent);
      for (let i = 0; i < all.length; i += MAX_EVENTS_PER_PAYLOAD)
        tx.ops.push(
          this.host.sendOp(
            c,
            this.payload({ t: 'ev', g: l.rec.id, ev: all.slice(i, i + MAX_EVENTS_PER_PAYLOAD) }),
          ),
        );
    } catch (e) {
      restore();
      throw e;
    }
    tx.after.push(() => this.scheduleMaintain());
    return tx;
  }

  /** Joining by link: once the door keeper's invitation for my key is here, I join (and set my nick). */
  private async roomAutoJoin(tx: Tx, l: Loaded, door: ContactRecord): Promise<void> {
    if (l.rec.status !== 'invited' || l.events.size === 0) return;
    const room = await this.roomRecord(l.rec.id);
    const join = room?.join;
    if (!room || !join) return;
    const st = this.state(l);
    const me = this.me(l).publicKey;
    if (!st.settings.public || !st.invited.has(hex(me))) return;
    // The invitation must come from the keeper the link named (it signed the link).
    const byKeeper = [...l.events.values()].some(
      (e) => e.type === 'invite' && equalBytes(e.content.member, me) && equalBytes(e.author, join.k),
    );
    if (!byKeeper) return;
    this.putRec(tx, l, { ...l.rec, inviter: door.id });
    this.joinTx(tx, l);
    if (join.nick) {
      const e = this.event(l, 'nick', { nick: join.nick });
      this.addEvents(tx, l, [e]);
      this.spread(tx, l, [e]);
    }
    const next: RoomRecord = { ...room };
    delete next.join;
    tx.ops.push(this.roomOp(next));
  }

  /**
   * Asks a member for a private 1:1 chat (seed 001): a fresh one-time contact card goes to them
   * over our group session. They see a request; only if they accept do we become contacts, each
   * with fresh per-contact keys. Nothing comes back if they decline.
   */
  async requestChat(ref: string, member: string, opts: { note?: string } = {}): Promise<{ expires: number }> {
    const note = opts.note === undefined ? undefined : opts.note.trim();
    if (note !== undefined && [...note].length > MAX_CHAT_NOTE_CHARS)
      throw new UsageError(`a note has at most ${MAX_CHAT_NOTE_CHARS} characters`);
    const l = this.find(ref);
    if (l.rec.status !== 'joined') throw new UsageError('you are not a member of this group');
    const m = this.findMember(l, member);
    if (equalBytes(m, this.me(l).publicKey)) throw new UsageError('that is you');
    if (!this.state(l).members.has(hex(m))) throw new UsageError(`${member} is not a member`);
    if (!this.linkOf(l, m)) throw new UsageError('no session with this member yet; try again in a moment');
    const card = await this.host.makeContactCard();
    await this.change(async (tx) => {
      const c = this.linkOf(l, m);
      if (!c || l.rec.status !== 'joined') throw new UsageError('you are not a member of this group');
      const p: Extract<GroupPayload, { t: 'chatreq' }> = {
        t: 'chatreq',
        g: l.rec.id,
        link: cardToLink(card),
      };
      if (note) p.note = note;
      tx.ops.push(this.host.sendOp(c, this.payload(p)));
    });
    return { expires: card.expires };
  }

  private async requestRecords(): Promise<Array<{ key: string; r: ChatRequestRecord }>> {
    return (await this.host.store.list(RC.requests)).map((e) => ({
      key: e.key,
      r: decodeChatRequest(e.value),
    }));
  }

  private async receiveChatRequest(
    tx: Tx,
    l: Loaded,
    from: Uint8Array,
    link: string,
    note: string | undefined,
  ): Promise<void> {
    if (l.rec.status !== 'joined') throw new ProtocolError('a chat request for a group I am not in');
    if (!this.state(l).members.has(hex(from)))
      throw new ProtocolError('a chat request from someone who is not a member');
    const card = cardFromLink(link);
    if (!card.oneTime) throw new ProtocolError('a chat request carries a one-time card');
    const now = this.host.now();
    checkCardUsable(card, now);
    let live = 0;
    for (const { key, r } of await this.requestRecords()) {
      // Expired ones go; a member's earlier request in this group is replaced by this one.
      if (r.expires <= now || (equalBytes(r.g, l.rec.id) && equalBytes(r.m, from)))
        tx.ops.push({ type: 'del', collection: RC.requests, key });
      else live++;
    }
    if (live >= MAX_CHAT_REQUESTS) throw new QuotaError('too many chat requests wait');
    const id = hex(this.host.rng.bytes(8));
    const r: ChatRequestRecord = {
      id,
      g: l.rec.id,
      m: from,
      from: this.displayName(l, from),
      link,
      at: now,
      expires: card.expires,
      shown: false,
    };
    if (note) r.note = note;
    tx.ops.push({ type: 'put', collection: RC.requests, key: id, value: encodeRoomRecord(r) });
    tx.after.push(() => this.host.emit({ group: hex(l.rec.id), change: 'request' }));
  }

  /** Whether a request still stands: not expired, and its sender is still a member. */
  private requestStands(r: ChatRequestRecord): Loaded | undefined {
    const l = this.groups.get(hex(r.g));
    if (!l || r.expires <= this.host.now() || l.rec.status !== 'joined') return undefined;
    return this.state(l).members.has(hex(r.m)) ? l : undefined;
  }

  private requestInfo(l: Loaded, r: ChatRequestRecord): ChatRequestInfo {
    const info: ChatRequestInfo = {
      id: r.id,
      group: hex(r.g),
      groupName: l.rec.alias ?? this.groupName(l),
      from: this.displayName(l, r.m),
      member: hex(r.m),
      at: r.at,
      expires: r.expires,
    };
    if (r.note) info.note = r.note;
    return info;
  }

  /** Private chat requests waiting for an answer, oldest first. */
  async chatRequests(): Promise<ChatRequestInfo[]> {
    const out: ChatRequestInfo[] = [];
    for (const { r } of (await this.requestRecords()).sort((a, b) => a.r.at - b.r.at)) {
      const l = this.requestStands(r);
      if (l) out.push(this.requestInfo(l, r));
    }
    return out;
  }

  /** Requests not shown yet (parus read), marked shown. */
  async takeChatRequests(): Promise<ChatRequestInfo[]> {
    return this.host.run(async () => {
      const out: ChatRequestInfo[] = [];
      const ops: StoreOp[] = [];
      for (const { key, r } of (await this.requestRecords()).sort((a, b) => a.r.at - b.r.at)) {
        const l = this.requestStands(r);
        if (!l || r.shown) continue;
        out.push(this.requestInfo(l, r));
        ops.push({
          type: 'put',
          collection: RC.requests,
          key,
          value: encodeRoomRecord({ ...r, shown: true }),
        });
      }
      if (ops.length) await this.host.store.batch(ops);
      return out;
    });
  }

  private async findRequest(id: string): Promise<ChatRequestRecord> {
    if (typeof id !== 'string' || !/^[0-9a-f]{4,16}$/.test(id)) throw new UsageError('a request id is hex');
    const found = (await this.requestRecords()).filter((x) => x.key.startsWith(id));
    if (found.length === 0) throw new NotFoundError(`no chat request ${id}`);
    if (found.length > 1) throw new UsageError(`${id} names several requests; give more digits`);
    return found[0]!.r;
  }

  private async dropRequest(id: string): Promise<void> {
    await this.host.run(() => this.host.store.batch([{ type: 'del', collection: RC.requests, key: id }]));
  }

  /** Accepts a chat request: its card is answered, and the member becomes an ordinary contact. */
  async acceptChatRequest(id: string, opts: { alias?: string } = {}): Promise<ContactInfo> {
    const r = await this.findRequest(id);
    if (!this.requestStands(r)) {
      await this.dropRequest(r.id);
      throw new ExpiredError('this chat request has expired or its sender left the group');
    }
    const contact = await this.host.acceptContactCard(r.link, opts.alias ?? r.from);
    await this.dropRequest(r.id);
    return contact;
  }

  /** Declines a chat request: it is forgotten, and the member is told nothing. */
  async declineChatRequest(id: string): Promise<void> {
    const r = await this.findRequest(id);
    await this.dropRequest(r.id);
  }

  // ---- History sharing and late confirmations (docs/decisions/0014) ---------------------------

  /** Kept envelopes per group, known after the first count, so each message need not list them. */
  private readonly historyKept = new Map<string, number>();

  /** Keeps a message's envelope to share with newcomers, when the group shares history. */
  private async keepHistory(l: Loaded, env: Envelope): Promise<StoreOp[]> {
    const st = this.state(l);
    if (!st.settings.shareHistory) return [];
    const g = hex(l.rec.id);
    let n = this.historyKept.get(g);
    if (n === undefined) n = (await this.host.store.list(HC.kept(l.rec.id))).length;
    const ops = await keepForHistory(this.host.store, l.rec.id, l.events.values(), st, env, n);
    const puts = ops.filter((o) => o.type === 'put').length;
    const dels = ops.length - puts;
    this.historyKept.set(g, n + puts - dels);
    return ops;
  }

  /** Sends the history bundle to the newcomers I share with (history-share.ts). */
  private async shareHistoryDue(l: Loaded): Promise<void> {
    if (!this.state(l).settings.shareHistory) return;
    const me = this.me(l).publicKey;
    const due = await membersDue(this.host.store, l.rec.id, [...l.events.values()], this.state(l), me);
    for (const d of due) {
      if (this.closed) return;
      const c = this.linkOf(l, d.key);
      if (!c) continue; // once their session is bound
      await this.host.run(async () => {
        if (await this.host.store.get(HC.shared(l.rec.id), d.mark)) return;
        const since = sharingSince(l.events.values(), this.state(l));
        if (!since) return;
        const chunks = await historyChunks(this.host.store, l.rec.id, since);
        const ops: StoreOp[] = chunks.map((env) =>
          this.host.sendOp(c, this.payload({ t: 'hist', g: l.rec.id, env })),
        );
        const count = chunks.reduce((k, x) => k + x.length, 0);
        ops.push({
          type: 'put',
          collection: HC.shared(l.rec.id),
          key: d.mark,
          value: encodeCbor({ at: this.host.now(), n: count }),
        });
        await this.host.store.batch(ops);
      });
      this.host.kick();
    }
  }

  /** A history bundle: checked as a whole, then the new messages take their claimed places. */
  private async receiveHistory(tx: Tx, l: Loaded, from: Uint8Array, envelopes: Uint8Array[]): Promise<void> {
    const st = this.state(l);
    const shared = checkHistory(l.rec.id, [...l.events.values()], st, from, envelopes);
    const fresh = historyRecords(shared, await this.messageRecords(l), this.host.now());
    for (const r of fresh) this.putMessage(tx, l, r);
    // Passed on in turn if I become someone's sharer (only what the sharer could share).
    for (const s of shared)
      if (fresh.some((r) => equalBytes(r.id, s.env.id))) tx.ops.push(...(await this.keepHistory(l, s.env)));
    if (fresh.length) tx.after.push(() => this.host.emit({ group: hex(l.rec.id), change: 'messages' }));
  }

  /**
   * Confirms a late message (seed 003): counted here at once, and sent to every member. An
   * admin's confirmation, or k members' (late-confirm.ts), places it at its claimed position.
   */
  async confirmLate(ref: string, messageId: string): Promise<MessageInfo> {
    if (typeof messageId !== 'string' || !/^[0-9a-f]{8,64}$/.test(messageId))
      throw new UsageError('a message id is 8 to 64 hex digits');
    return this.change(async (tx) => {
      const l = this.find(ref);
      if (l.rec.status !== 'joined') throw new UsageError('you are not a member of this group');
      const found = (await this.messageRecords(l)).filter((r) => hex(r.id).startsWith(messageId));
      if (found.length === 0) throw new NotFoundError(`no message ${messageId} in this group`);
      if (found.length > 1) throw new UsageError(`${messageId} names several messages; give more digits`);
      const m = found[0]!;
      const me = this.me(l);
      if (!m.place) throw new UsageError('that message is not marked late');
      if (equalBytes(m.author, me.publicKey)) throw new UsageError('you cannot confirm your own message');
      const st = this.state(l);
      const next = withConfirmation(st, m, [me.publicKey]) ?? m;
      this.putMessage(tx, l, next);
      const sig = sign(me.secretKey, confirmMessage(l.rec.id, m.id));
      for (const link of l.rec.links) {
        if (equalBytes(link.m, me.publicKey) || !st.members.has(hex(link.m))) continue;
        const c = this.host.contactById(link.c);
        if (c)
          tx.ops.push(
            this.host.sendOp(c, this.payload({ t: 'lc', g: l.rec.id, id: m.id, by: me.publicKey, sig })),
          );
      }
      tx.after.push(() => this.host.emit({ group: hex(l.rec.id), change: 'messages' }));
      return this.messageInfo(l, next);
    });
  }

  private async receiveConfirmation(
    tx: Tx,
    l: Loaded,
    from: Uint8Array,
    p: Extract<GroupPayload, { t: 'lc' }>,
  ): Promise<void> {
    if (!equalBytes(p.by, from))
      throw new VerificationError('confirmation names another member than its session');
    if (!verify(p.by, confirmMessage(l.rec.id, p.id), p.sig))
      throw new VerificationError('confirmation does not verify');
    const st = this.state(l);
    if (!st.members.has(hex(from))) throw new ProtocolError('confirmation from a non-member');
    const raw = await this.host.store.get(GC.messages(l.rec.id), hex(p.id));
    if (!raw) {
      // It may overtake the message: counted once the message is here (and late here).
      tx.ops.push(...(await keepPendingConfirmation(this.host.store, l.rec.id, p.id, from)));
      return;
    }
    const m = decodeGroupMessage(raw);
    if (!m.place) return; // not late here: already at its claimed place
    const next = withConfirmation(st, m, [from]);
    if (!next) return; // counted once
    this.putMessage(tx, l, next);
    tx.after.push(() => this.host.emit({ group: hex(l.rec.id), change: 'messages' }));
  }

  /** A message that just arrived: confirmations that came before it count now. */
  private async lateArrival(l: Loaded, record: GroupMessageRecord): Promise<StoreOp[]> {
    const pending = await pendingConfirmers(this.host.store, l.rec.id, record.id);
    if (pending.length === 0) return [];
    const ops: StoreOp[] = [{ type: 'del', collection: LC.pending(l.rec.id), key: hex(record.id) }];
    if (!record.place) return ops;
    const next = withConfirmation(this.state(l), record, pending);
    if (next) {
      record.conf = next.conf ?? [];
      if (!next.place) delete record.place;
    }
    return ops;
  }

  // ---- Owed messages (docs/decisions/0019) -------------------------------------------------------

  private get owed(): OwedMessages {
    this.owedStore ??= new OwedMessages(this.host.store);
    return this.owedStore;
  }

  /** Keeps a message I send for the members and invitees I have no usable session with yet. */
  private async oweUnlinked(tx: Tx, l: Loaded, env: Envelope): Promise<void> {
    const st = this.state(l);
    // Like the recipients, they change with the links, the state and the contacts, not per message.
    const inputs = [l.rec.links, st, this.host.contactsVersion()];
    let known = this.unlinked.get(l);
    if (!known || known.inputs.some((x, i) => x !== inputs[i])) {
      const to = owedRecipients(st, this.me(l).publicKey, (m) => this.linkOf(l, m) !== undefined);
      known = { inputs, to };
      this.unlinked.set(l, known);
    }
    if (known.to.length === 0) return;
    const { ops, after } = await this.owed.owe(l.rec.id, env, known.to);
    tx.ops.push(...ops);
    tx.after.push(after);
  }

  /**
   * Sends what I owe to members whose session is now bound (my signed envelopes, in clock order,
   * over that session), and forgets what is owed to those removed or gone.
   */
  private async settleOwed(l: Loaded): Promise<void> {
    if (!(await this.owed.any(l.rec.id))) return;
    await this.host.run(async () => {
      if (!this.groups.has(hex(l.rec.id))) return;
      const st = l.events.size ? this.state(l) : undefined;
      const me = this.me(l).publicKey;
      const joined = st !== undefined && l.rec.status === 'joined' && st.members.has(hex(me));
      const plan = await this.owed.plan(l.rec.id, {
        joined,
        st: st ?? ({ members: new Map(), invited: new Set() } as unknown as GroupState),
        joinTime: (m, joinedAt) => {
          for (const e of l.events.values())
            if (e.type === 'join' && e.lamport === joinedAt && equalBytes(e.author, m)) return e.ts;
          return undefined;
        },
        linked: (m) => this.linkOf(l, m) !== undefined,
      });
      const ops = [...plan.ops];
      for (const s of plan.sends) {
        const c = this.linkOf(l, s.member);
        if (!c) continue;
        for (const env of s.chunks)
          ops.push(this.host.sendOp(c, this.payload({ t: 'owe', g: l.rec.id, env })));
      }
      if (ops.length === 0) return;
      await this.host.store.batch(ops);
      plan.after();
    });
    this.host.kick();
  }

  /**
   * Messages a member sent while we had no session, now over it: each must be that member's own
   * signed envelope of this group (VerificationError otherwise), and the member one who may write
   * (ProtocolError). Any failure refuses the whole payload. Unlike history they are news: shown by
   * `read`, receipts go back, placed by the anti-backdating rule as a live message would be.
   */
  private async receiveOwed(
    tx: Tx,
    l: Loaded,
    from: Uint8Array,
    c: ContactRecord,
    envelopes: Uint8Array[],
  ): Promise<void> {
    const st = this.state(l);
    if (l.rec.status !== 'joined') throw new ProtocolError('owed messages for a group I am not in');
    if (!st.members.has(hex(from)) || groupMemberPower(st, from) < st.settings.power.message)
      throw new ProtocolError('owed messages from someone who may not write');
    const checked = envelopes.map((bytes) => {
      const s = checkGroupEnvelope(l.rec.id, bytes);
      if (!equalBytes(s.env.device, from))
        throw new VerificationError('owed message not written by the member of its session');
      return s;
    });
    const index = await this.messageIndex(l);
    const now = this.host.now();
    const ids: Uint8Array[] = [];
    const seen = new Set<string>();
    let placed: { id: Uint8Array; lamport: number } | undefined;
    for (const { env, kind, text } of checked) {
      if (env.lamport > index.nextLamport() + MAX_LAMPORT_JUMP)
        throw new ProtocolError('message clock jumps too far ahead');
      ids.push(env.id);
      const id = hex(env.id);
      if (seen.has(id) || (await this.host.store.get(GC.messages(l.rec.id), id))) continue;
      seen.add(id);
      const record = incomingRecord(env, from, kind, text, now);
      // Seed 003 anti-backdating, as for a live message; late ones of one payload follow each other.
      if (index.backdated(env.parents, now, BACKDATE_WINDOW_MS)) {
        record.place = placed ? { parents: [placed.id], lamport: placed.lamport + 1 } : index.nextPlaced();
        placed = { id: env.id, lamport: record.place.lamport };
      }
      tx.ops.push(...(await this.lateArrival(l, record)), ...(await this.keepHistory(l, env)));
      this.putMessage(tx, l, record);
      tx.after.push(() => this.host.emitMessage(this.messageInfo(l, record)));
    }
    if (ids.length) tx.ops.push(this.host.sendOp(c, this.payload({ t: 'rcpt', g: l.rec.id, s: 'd', ids })));
  }
}
