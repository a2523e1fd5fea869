/**
 * What the parts of the group engine share (group-engine.ts is the facade that owns them): the
 * limits, the public shapes, what the engine needs from the account, a loaded group, one change's
 * operations, and the lookups and change helpers the engine hands its parts. Each part names the
 * few of those it uses (a `Pick` of GroupContext), so none of them reaches the whole engine.
 */
import {
  equalBytes,
  type CborMap,
  type GroupEvent,
  type GroupEventContents,
  type GroupEventType,
  type GroupRole,
  type GroupState,
  type Random,
  type RendezvousCard,
  type SignKeyPair,
  type SyncOpBody,
} from '@parus/core';
import type { ContactInfo, GroupCallEvent, MessageInfo } from '../public-shapes.ts';
import type { ContactRecord } from '../records.ts';
import type { Store, StoreOp } from '../store.ts';
import type { GroupRecord } from './group-records.ts';
import type { GroupPayload } from './group-wire.ts';
import type { RoomLimits } from './room-limits.ts';
import type { RoomRefusal } from './room-refusal.ts';

// ---- Limits on what peers can make us keep ---------------------------------------------------

export const MAX_GROUPS = 256;
export const MAX_PENDING_INVITES = 64;
export const MAX_GROUP_MEMBERS = 1000;
export const MAX_GROUP_EVENTS = 10_000;
/** The longest group text (group-records.ts, below the parts and history-share.ts that check it). */
export { MAX_GROUP_TEXT } from './group-records.ts';
/** Messages kept while their sender's key is on its way. */
export const MAX_STASHED = 256;
/**
 * Sender chains kept per member (the current ones and those before them, for late messages):
 * three per device, each device of a member having its own chain (decision 0040), at most 16.
 */
export const MAX_CHAINS_PER_MEMBER = 3 * 16;
/**
 * Payloads kept because what they need came later on the wire (a relay refusal and a resend can
 * reorder a session's messages): events before their invitation, anything before a binding.
 */
export const MAX_PENDING_PAYLOADS = 1024;
export const MAX_LAMPORT_JUMP = 1_000_000;
/** Seed 003: a message whose parents were all superseded longer ago than this is placed where it arrived. */
export const BACKDATE_WINDOW_MS = 60 * 60 * 1000;

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
  /** The group has a picture (GroupEngine.avatar, decision 0066). */
  avatar?: true;
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
  /** The account key in force (Ed25519 public, from the device log), if the account has a log. */
  accountKeyPublic(): Promise<Uint8Array | undefined>;
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
  /**
   * Sends one ephemeral envelope (a group call's `gcall`, decision 0053) over the session with
   * `c` now, to `device` or to every device of theirs: never stored, never resent (network;
   * takes the lock itself). UsageError when no device could be reached.
   */
  sendNow(c: ContactRecord, kind: 'gcall', body: CborMap, device?: Uint8Array): Promise<void>;
  /** Group call events for the UI (decision 0053). */
  emitCall(e: GroupCallEvent): void;
  /**
   * Sync operations to my other devices (decision 0054: sent copies, reads, deletes, my state
   * events and member keys), as store operations for this batch (under the lock).
   */
  syncOps(bodies: readonly SyncOpBody[]): Promise<StoreOp[]>;
  /**
   * The contact, or hidden peer of `group`, with this identity (theirIdentity) on this device:
   * the one a synced group's waiting link is made with (decision 0060).
   */
  contactByIdentity(identity: Uint8Array, group: Uint8Array): ContactRecord | undefined;
  /** Whether this device has a session with another device of mine (sent copies go nowhere without). */
  ownDevices(): boolean;
  /** The clock another device of mine read group `group` up to, if one did. */
  ownRead(group: Uint8Array): number | undefined;
  /** Whether another device of mine deleted message `id` (at `lamport`) of group `group` for me. */
  ownDeleted(group: Uint8Array, id: Uint8Array, lamport: number): boolean;
}

/** A group as the engine holds it: its record, its events, and the state they resolve to (once asked). */
export interface Loaded {
  rec: GroupRecord;
  events: Map<string, GroupEvent>;
  state?: GroupState | undefined;
}

/** Operations of one change, and what to do in memory once they are stored. */
export interface Tx {
  ops: StoreOp[];
  after: Array<() => void>;
  /** Events I signed in this change, by group (hex): my other devices get them (decision 0054). */
  mine?: Map<string, GroupEvent[]>;
}

export function has(list: readonly Uint8Array[], key: Uint8Array): boolean {
  return list.some((k) => equalBytes(k, key));
}

/** The engine's lookups and change helpers, as handed to its parts (group-engine.ts documents each). */
export interface GroupContext {
  readonly host: GroupHost;
  /** The loaded groups by hex id (a change that fails puts them back: see `snapshot`). */
  readonly groups: Map<string, Loaded>;
  /** Whether the account closed the engine: background work stops. */
  closed(): boolean;
  state(l: Loaded): GroupState;
  me(l: Loaded): SignKeyPair;
  find(ref: string): Loaded;
  findMember(l: Loaded, ref: string): Uint8Array;
  groupName(l: Loaded): string;
  displayName(l: Loaded, key: Uint8Array): string;
  linkOf(l: Loaded, member: Uint8Array): ContactRecord | undefined;
  memberOfContact(l: Loaded, c: ContactRecord): Uint8Array | undefined;
  info(l: Loaded): GroupInfo;
  change<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  snapshot(only?: string): () => void;
  putRec(tx: Tx, l: Loaded, rec: GroupRecord): void;
  putChain(tx: Tx, l: Loaded, chain: Uint8Array): void;
  forget(tx: Tx, l: Loaded): void;
  event<T extends GroupEventType>(l: Loaded, type: T, content: GroupEventContents[T]): GroupEvent;
  addEvents(tx: Tx, l: Loaded, events: GroupEvent[]): GroupEvent[];
  spread(tx: Tx, l: Loaded, events: GroupEvent[], targets?: Uint8Array[]): void;
  sendAllEvents(tx: Tx, l: Loaded, c: ContactRecord): void;
  bindOp(l: Loaded, c: ContactRecord): StoreOp;
  joinTx(tx: Tx, l: Loaded): void;
  keepPending(tx: Tx, c: ContactRecord, p: GroupPayload, why: string): void;
  scheduleMaintain(): void;
}
