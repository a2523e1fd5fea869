/**
 * What the parts of the account share (account.ts is the facade that owns them): collection
 * names, small helpers, and the account's state and helpers as handed to its parts. Each part
 * names the few of those it uses (a `Pick` of AccountContext), so none of them reaches the whole
 * account; parts that call another part are handed that part itself.
 */
import {
  UsageError,
  compareBytes,
  concatBytes,
  fromHex,
  hash,
  toHex,
  type CborMap,
  type MessageKind,
  type Random,
  type SignKeyPair,
  type SyncOpBody,
  nameFault,
  type ParusError,
} from '@parus/core';
import type { ConversationIndex } from '../conversation-index.ts';
import type { Emitter, Mutex } from '../events.ts';
import type { GroupChange } from '../groups/engine-context.ts';
import type { GroupEngine } from '../groups/group-engine.ts';
import { FANOUT_COLLECTIONS } from '../groups/fanout-outbox.ts';
import type { MirroredStore } from '../mirrored-store.ts';
import type { CallEvent, ContactInfo, GroupCallEvent, MessageInfo } from '../public-shapes.ts';
import type {
  AccountRecord,
  ContactRecord,
  InboundQueue,
  InviteRecord,
  MessageRecord,
  MessageStatus,
  OutboundQueue,
} from '../records.ts';
import type { RelayConnection } from '../relay-connection.ts';
import type { SendPath } from '../send-routes.ts';
import type { Store, StoreOp } from '../store.ts';

export const DAY = 24 * 60 * 60 * 1000;
const MAX_ALIAS = 64;
const ALIAS = /^[^\s/@][^\n\r\t]{0,63}$/u;
/** Kinds that show in the history and can be unsent. */
export const SHOWN_KINDS: ReadonlySet<string> = new Set(['text', 'reply', 'sticker', 'file', 'call-log']);

export const C = {
  account: 'account',
  invites: 'invites',
  contacts: 'contacts',
  outbox: 'outbox',
  /** Group messages to send by relay fan-out, by message id (groups/fanout-outbox.ts). */
  fanout: FANOUT_COLLECTIONS.messages,
  /** The member lists those messages went to, by roster id. */
  rosters: FANOUT_COLLECTIONS.rosters,
  seen: 'seen',
  uploads: 'uploads',
  messages: (contact: Uint8Array) => `msg.${toHex(contact)}`,
} as const;

export function hex(b: Uint8Array): string {
  return toHex(b);
}

export function signPair(secretKey: Uint8Array): SignKeyPair {
  return { secretKey, publicKey: secretKey.slice(32, 64) };
}

export function checkAlias(alias: string): string {
  const a = alias.trim();
  if (!ALIAS.test(a) || a.length > MAX_ALIAS)
    throw new UsageError('alias must be 1-64 characters, no spaces at the ends');
  const fault = nameFault(a, MAX_ALIAS);
  if (fault !== undefined) throw new UsageError(`alias ${fault}`);
  return a;
}

/** A message taken back: the record stays (the DAG needs it), its contents and envelope go. */
export function tombstone(m: MessageRecord, at: number): MessageRecord {
  const { sticker: _s, file: _f, uploadKey: _k, action: _a, replyTo: _r, ...rest } = m;
  return { ...rest, text: '', envelope: new Uint8Array(0), unsent: at };
}

/**
 * `m` with a reaction by `by` (one of REACTIONS, '' to take it back) at clock `l`; undefined
 * when nothing changes: `m` is not a message shown, is unsent or deleted, or a newer reaction
 * of theirs is already there (one reaction per person, the newest wins).
 */
export function withReaction(
  m: MessageRecord,
  by: 'me' | 'them',
  emoji: string,
  l: number,
): MessageRecord | undefined {
  if (!SHOWN_KINDS.has(m.kind) || m.unsent !== undefined || m.deleted !== undefined) return undefined;
  const rx = m.rx ?? [];
  const earlier = rx.find((x) => x.by === by);
  if (earlier && earlier.l > l) return undefined;
  const next = rx.filter((x) => x !== earlier);
  if (emoji) next.push({ by, e: emoji, l });
  const out: MessageRecord = { ...m, rx: next };
  if (next.length === 0) delete out.rx;
  return out;
}

/** Both sides compute the same conversation id from their two per-contact identity keys. */
export function conversationId(a: Uint8Array, b: Uint8Array): Uint8Array {
  const [x, y] = compareBytes(a, b) <= 0 ? [a, b] : [b, a];
  return hash(concatBytes(x, y), 16);
}

export function outboxKey(seq: number): string {
  return seq.toString().padStart(12, '0');
}

export function fromHexId(id: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(id)) throw new UsageError('message id must be 64 hex characters');
  return fromHex(id);
}

/** Where to send to `c`, in order of preference: their queue, then their second one (decision 0037). */
export function sendQueues(c: ContactRecord): OutboundQueue[] {
  if (!c.send) return [];
  return c.send2 ? [c.send, c.send2] : [c.send];
}

/** The queues I receive `c`'s messages on: mine for them, and my second one (decision 0037). */
export function recvQueues(c: ContactRecord): InboundQueue[] {
  return c.recv2 ? [c.recv, c.recv2] : [c.recv];
}

/** What the account announces to UIs (`Account.events`). */
export interface AccountEvents {
  message: MessageInfo;
  /** A message (ours or theirs) was taken back; history now shows it as unsent. */
  unsent: { alias: string; id: string };
  /** A message was deleted for me, here or on another of my devices (decision 0039); history no longer shows it. */
  deleted: { alias: string; id: string };
  /**
   * A chat's mute or pin changed on another device of mine (decision 0039): a 1:1 chat's
   * (`alias`) or a group's (`group`, its id); chatSettings / groupChatSettings say the new value.
   */
  chatSettings: { alias?: string; group?: string };
  /** A message's reactions changed (history shows them). */
  reaction: { alias: string; id: string };
  /** The contact is typing (an ephemeral signal: expect at most one every 3 s). */
  typing: { alias: string };
  receipt: { alias: string; id: string; status: MessageStatus };
  /**
   * `devices`: the contact's device set changed (decision 0038). `spent`: the card I answered
   * was already used or withdrawn (its queue is gone, decision 0045): the pending contact is dropped.
   * `profile`: the contact sent a new display name or avatar (decision 0056).
   */
  contact: {
    alias: string;
    change: 'added' | 'active' | 'state' | 'key-changed' | 'devices' | 'spent' | 'profile';
    info: ContactInfo;
  };
  /** My profile changed on another device of mine (decision 0056). */
  profile: { name: string; avatar: boolean };
  error: { error: ParusError; context: string };
  /**
   * A relay's link came up or went down. While down, each scheduled attempt is announced
   * again with `retryAt`, when it starts (Date.now() milliseconds); `retryNow()` brings it forward.
   */
  connection: { relay: string; state: 'connected' | 'disconnected'; retryAt?: number };
  group: GroupChange;
  /** Call signalling (decision 0046): an incoming call, an answer, candidates, the end of a call. */
  call: CallEvent;
  /** Group call signalling (decision 0053): rings, who is in, one pair's offers and candidates. */
  groupCall: GroupCallEvent;
}

/** What an inbound queue belongs to: an invitation (its card's answers) or a contact. */
export interface QueueOwner {
  kind: 'invite' | 'contact';
  id: string;
}

/** The account's state, lookups and helpers, as handed to its parts (account.ts documents each). */
export interface AccountContext {
  /** The store, with the outbox kept in memory too (`mirror`, written through). */
  readonly store: Store;
  readonly mirror: MirroredStore;
  readonly rng: Random;
  now(): number;
  /** Sessions and the outbox must not be used by two at once. */
  readonly lock: Mutex;
  readonly events: Emitter<AccountEvents>;
  readonly groups: GroupEngine;
  readonly relays: Map<string, RelayConnection>;
  readonly contactsById: Map<string, ContactRecord>;
  readonly invitesById: Map<string, InviteRecord>;
  /** rid hex → what the queue belongs to. */
  readonly queues: Map<string, QueueOwner>;
  /** Per contact (hex id): what sends and receives need of its stored messages (built on use). */
  readonly conversations: Map<string, ConversationIndex>;
  /** Refusals of room joins on their way to the joiners (sent once; sync and close wait for them). */
  readonly refusing: Set<Promise<unknown>>;
  /** First end-to-end resend delay; doubles per attempt up to `maxResendMs`. */
  readonly resendMs: number;
  readonly maxResendMs: number;
  /** Attempts an outbox entry gets before its message is marked failed (decision 0025). */
  readonly maxSendAttempts: number;
  /** How long a fresh invitation is valid. */
  readonly inviteTtlMs: number;
  /** The account's record (name, home relay), once loaded. */
  self(): AccountRecord;
  device(): SignKeyPair;
  /** Whether close() was called: background work stops. */
  closed(): boolean;
  /** Goes up whenever a contact appears, goes, or changes status or send queue (group fan-out caches). */
  contactsVersion(): number;
  contactsChanged(): void;
  /** The next outbox sequence number (1:1 entries and group messages share one order). */
  nextOutboxSeq(): number;
  /** Sends what waits in the outbox. */
  kickFlush(): void;
  /** Asks the running flush for one more pass. */
  flushAgain(): void;
  connection(address: string): RelayConnection;
  /** How to send to a queue on `address` now: forwarded by the own relay, or directly (send-routes.ts). */
  sendPath(address: string): Promise<SendPath | undefined>;
  connected(address: string, timeoutMs?: number): Promise<RelayConnection>;
  newQueue(relayAddress: string, senderKey?: Uint8Array): Promise<InboundQueue>;
  /**
   * A queue on each of the account's relays (decision 0037): `first` on the home relay, `second`
   * on the second relay; when one of them cannot be reached, the other alone, as `first`.
   */
  newQueues(senderKey?: Uint8Array): Promise<{ first: InboundQueue; second?: InboundQueue }>;
  subscribeQueue(q: InboundQueue): Promise<void>;
  /** The inbound queue `rid` (hex) of an invitation or a contact, while it exists. */
  queueOf(owner: QueueOwner, rid: string): InboundQueue | undefined;
  byAlias(alias: string): ContactRecord | undefined;
  mustContact(alias: string): ContactRecord;
  mustSendable(alias: string): ContactRecord;
  info(c: ContactRecord): ContactInfo;
  saveContact(c: ContactRecord, extra?: StoreOp[]): Promise<void>;
  /** After its record was deleted: the contact, its conversation index and its queue go from memory. */
  forgetContact(c: ContactRecord): void;
  outboxOp(c: ContactRecord, envelope: Uint8Array, message?: Uint8Array): StoreOp;
  control(c: ContactRecord, kind: MessageKind, body: CborMap): StoreOp;
  groupEnvelope(c: ContactRecord, body: CborMap): Uint8Array;
  statusOp(c: ContactRecord, id: Uint8Array, status: MessageStatus): Promise<StoreOp | undefined>;
  settleOutbox(c: ContactRecord, ids: Uint8Array[]): Promise<StoreOp[]>;
  /**
   * Sync operations for my other devices (account/own-devices.ts, decision 0039): stamped,
   * applied here, and queued to each own-device session, as operations for the caller's batch.
   */
  syncOps(bodies: readonly SyncOpBody[]): Promise<StoreOp[]>;
  /** What `c`'s resend request for `ids` puts in the outbox (account/direct-outbox.ts, decision 0025). */
  resendOps(
    c: ContactRecord,
    ids: readonly Uint8Array[],
  ): Promise<{ ops: StoreOp[]; resent: NonNullable<ContactRecord['resent']> }>;
  conversation(c: ContactRecord): Promise<ConversationIndex>;
  messageInfo(c: ContactRecord, m: MessageRecord): MessageInfo;
}
