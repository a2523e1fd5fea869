/**
 * The account engine: everything one device of one user does, with no UI in it.
 *
 * Delivery (DESIGN.md "Delivery"): a message is written to the outbox in the same store
 * batch as the message itself, before anything goes on the wire; the relay acknowledges
 * after its durable write; the recipient's device answers with an end-to-end delivery
 * receipt; an unreceipted message is sent again (freshly encrypted) with backoff; the
 * receiver deduplicates by envelope id and by relay message id. Incoming messages are
 * acknowledged to the relay only after they are durably stored.
 *
 * Sessions are per device pair (Sesame-style): a contact's record holds the session with
 * its (currently single) device, and each direction has its own relay queue.
 */
import {
  ExpiredError,
  FileDecryptor,
  NotFoundError,
  ParusError,
  QuotaError,
  ProtocolError,
  ReplayError,
  UsageError,
  VerificationError,
  asArray,
  asBytes,
  asMap,
  asText,
  cardFromLink,
  cardId,
  cardToLink,
  causalOrder,
  checkCardUsable,
  compareBytes,
  concatBytes,
  createCard,
  createDeviceCertificate,
  createEnvelope,
  createHasher,
  decodeCbor,
  encodeCbor,
  decodeContactRequest,
  decodeFileBody,
  decodeStickerBody,
  decodeTextBody,
  decodeTypingBody,
  decodeUnsendBody,
  encodeFileBody,
  encodeStickerBody,
  encodeTextBody,
  encodeUnsendBody,
  encryptFileChunks,
  fileCipherSize,
  isFileName,
  isMimeType,
  MAX_FILE_BYTES,
  MAX_THUMBNAIL_BYTES,
  SECRETSTREAM_HEADER_BYTES,
  SECRETSTREAM_KEY_BYTES,
  decodeDeviceCertificate,
  decodeEnvelope,
  decodeRatchetState,
  encodeContactRequest,
  encodeDeviceCertificate,
  encodeEnvelope,
  encodeRatchetState,
  equalBytes,
  formatSafetyNumber,
  fromHex,
  generateDhKeyPair,
  generateSignKeyPair,
  hash,
  dhKeyPairFromSecret,
  initRatchetReceiver,
  initRatchetSender,
  openDelivery,
  padToBucket,
  parseRelayAddress,
  pqxdhInitiate,
  pqxdhRespond,
  queueKey,
  ratchetDecrypt,
  ratchetEncrypt,
  safetyNumber,
  safetyNumberQrPayload,
  systemRandom,
  toHex,
  unpad,
  wipe,
  xwingKeyPairFromSeed,
  type CborMap,
  type CborValue,
  type FileBody,
  type Envelope,
  type MessageKind,
  type Random,
  type RendezvousCard,
  type SignKeyPair,
} from '@parus/core';
import { downloadBlob, uploadBlob, type TransferOptions } from './blob-transfer.ts';
import { ConversationIndex } from './conversation-index.ts';
import { Changes, Emitter, Mutex } from './events.ts';
import { GroupEngine, type GroupChange } from './groups/group-engine.ts';
import {
  FANOUT_COLLECTIONS,
  anyWaiting,
  decodeFanoutMessage,
  decodeFanoutRoster,
  encodeFanoutMessage,
  encodeFanoutRoster,
  hasRoster,
  isUploaded,
  isWaiting,
  rosterId,
  rosterView,
  updateFanout,
  waitingMembers,
  type FanoutMessage,
  type RosterView,
} from './groups/fanout-outbox.ts';
import type { GroupFanoutList } from './groups/group-records.ts';
import { isGroupFanoutFrame } from './groups/group-wire.ts';
import { DEFAULT_ROOM_LIMITS, type RoomLimits } from './groups/room-limits.ts';
import { sealRoomRefusal } from './groups/room-refusal.ts';
import { MirroredStore } from './mirrored-store.ts';
import {
  CONTACT_STATES,
  decodeAccount,
  decodeContact,
  decodeInvite,
  decodeMessage,
  decodeOutbox,
  decodeUpload,
  encodeRecord,
  type AccountRecord,
  type OutboundQueue,
  type ContactRecord,
  type ContactState,
  type InboundQueue,
  type InviteRecord,
  type MessageRecord,
  type MessageStatus,
  type OutboxRecord,
  type UploadRecord,
} from './records.ts';
import { RelayConnection } from './relay-connection.ts';
import type { Store, StoreOp } from './store.ts';
import type { Transport } from './transport.ts';

// ---- Public shapes --------------------------------------------------------------------

export interface ContactInfo {
  alias: string;
  name: string;
  state: ContactState;
  status: 'pending' | 'active';
  safetyNumber: string;
  keyChanged: boolean;
  created: number;
}

/** What a UI shows of a file message; the keys stay inside the engine. */
export interface FileInfo {
  name: string;
  mime: string;
  /** Plaintext bytes. */
  size: number;
  /** When the relay deletes the file, ms since the epoch; downloadFile fails after it. */
  expires: number;
  /** A small preview image made by the sender's UI (at most 16 KB). */
  thumbnail?: Uint8Array;
}

export interface MessageInfo {
  id: string;
  /** The contact's alias; for a group message, the group's alias or name. */
  alias: string;
  /** Group messages only: the group's id (hex). */
  group?: string;
  /** Group messages only: who wrote it (their nick, or how this device knows them). */
  from?: string;
  /** Group messages only, sent ones: how many members have it, and how many read it (已讀 N). */
  deliveredCount?: number;
  readCount?: number;
  /** Group messages only: placed where it arrived because its parents were long superseded (seed 003). */
  late?: boolean;
  /**
   * Group messages only, late or confirmed ones: how many members confirmed it, how many it
   * needs (an admin's confirmation is enough alone), and whether it now sits at its claimed place.
   */
  confirmations?: number;
  confirmationsNeeded?: number;
  confirmed?: true;
  /** Group messages only: an earlier message a member shared when I joined (history sharing). */
  history?: true;
  dir: 'in' | 'out';
  /** `text`, `sticker` or `file`. */
  kind: string;
  /** Empty for stickers, files and unsent messages. */
  text: string;
  replyTo?: string;
  ts: number;
  lamport: number;
  status: MessageStatus;
  /** A `/me` action: show as "* name text". */
  action?: true;
  sticker?: { pack: string; id: string };
  file?: FileInfo;
  /** Taken back by its author (收回): a tombstone without contents. */
  unsent?: true;
}

/** A file to send: its contents as bytes, so that browsers and Node pass the same thing. */
export interface OutgoingFile {
  name: string;
  /** A MIME type such as image/png; application/octet-stream when unknown. */
  mime: string;
  bytes: Uint8Array;
  /** A small preview image (at most 16 KB), made by the UI. */
  thumbnail?: Uint8Array;
}

/** An upload that did not finish; sendFile with the same file and contact resumes it. */
export interface UploadInfo {
  id: string;
  alias: string;
  name: string;
  mime: string;
  size: number;
  created: number;
}

export type { TransferOptions, TransferProgress } from './blob-transfer.ts';

export interface AccountEvents {
  message: MessageInfo;
  /** A message (ours or theirs) was taken back; history now shows it as unsent. */
  unsent: { alias: string; id: string };
  /** The contact is typing (an ephemeral signal: expect at most one every 3 s). */
  typing: { alias: string };
  receipt: { alias: string; id: string; status: MessageStatus };
  contact: { alias: string; change: 'added' | 'active' | 'state' | 'key-changed'; info: ContactInfo };
  error: { error: ParusError; context: string };
  connection: { relay: string; state: 'connected' | 'disconnected' };
  group: GroupChange;
}

export interface AccountOptions {
  store: Store;
  transport: Transport;
  rng?: Random;
  now?: () => number;
  /** First end-to-end resend delay; doubles per attempt up to `maxResendMs`. */
  resendMs?: number;
  maxResendMs?: number;
  /** How long a fresh invitation is valid. */
  inviteTtlMs?: number;
  /** Public rooms: message and join rates (groups/room-limits.ts; defaults there). */
  roomLimits?: Partial<RoomLimits>;
}

const DAY = 24 * 60 * 60 * 1000;
const MAX_TEXT = 16 * 1024;
const MAX_LAMPORT_JUMP = 1_000_000;
/** Relay message ids seen are kept this long (longer than a relay keeps messages: 21 days). */
const SEEN_TTL = 30 * DAY;
const MAX_ALIAS = 64;
const ALIAS = /^[^\s/@][^\n\r\t]{0,63}$/u;
const USER_KINDS: ReadonlySet<string> = new Set(['text', 'reply', 'sticker', 'file', 'unsend']);
/** Kinds that show in the history and can be unsent. */
const SHOWN_KINDS: ReadonlySet<string> = new Set(['text', 'reply', 'sticker', 'file']);
/** At most one typing signal per contact in this time (sender side). */
const TYPING_INTERVAL_MS = 3_000;
/** A typing signal older than this (by its sender's clock) is not shown. */
const TYPING_FRESH_MS = 2 * 60_000;

const C = {
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

function hex(b: Uint8Array): string {
  return toHex(b);
}

function signPair(secretKey: Uint8Array): SignKeyPair {
  return { secretKey, publicKey: secretKey.slice(32, 64) };
}

function checkAlias(alias: string): string {
  const a = alias.trim();
  if (!ALIAS.test(a) || a.length > MAX_ALIAS)
    throw new UsageError('alias must be 1-64 characters, no spaces at the ends');
  return a;
}

/** Control body of a `contact` envelope: where to reach me, and who my device is. */
interface ContactHello {
  queue: { relay: string; sid: Uint8Array };
  senderKey: Uint8Array;
  name: string;
  cert: Uint8Array;
}

function decodeContactHello(body: unknown): ContactHello {
  const m = asMap(body as CborMap, 'contact body');
  const q = asMap(m.queue, 'queue');
  const relay = asText(q.relay, 'relay', 512);
  parseRelayAddress(relay);
  return {
    queue: { relay, sid: asBytes(q.sid, 'sid', { len: 24 }) },
    senderKey: asBytes(m.senderKey, 'senderKey', { len: 32 }),
    name: asText(m.name, 'name', 64),
    cert: asBytes(m.cert, 'cert', { max: 1024 }),
  };
}

function idList(body: unknown): Uint8Array[] {
  const m = asMap(body as CborMap, 'receipt body');
  return asArray(m.ids, 'ids', 256).map((v) => asBytes(v, 'id', { len: 32 }));
}

/** A member a fan-out upload goes to: its roster index, its contact, its queue's sender id (hex). */
interface FanoutTarget {
  i: number;
  c: ContactRecord & { send: OutboundQueue };
  sid: string;
}

interface FanoutPartition {
  version: number;
  byRelay: Map<string, FanoutTarget[]>;
  /** Roster indexes whose contact no longer exists: nobody to deliver to. */
  gone: number[];
}

// ---- The engine -----------------------------------------------------------------------

export class Account {
  readonly events = new Emitter<AccountEvents>();
  /** Private groups (groups/group-engine.ts). */
  readonly groups: GroupEngine;
  private readonly store: Store;
  /** The same store, with the outbox kept in memory too (written through). */
  private readonly mirror: MirroredStore;
  private readonly transport: Transport;
  private readonly rng: Random;
  private readonly now: () => number;
  private readonly lock = new Mutex();
  private readonly changes = new Changes();
  private readonly relays = new Map<string, RelayConnection>();
  private readonly contactsById = new Map<string, ContactRecord>();
  private readonly invitesById = new Map<string, InviteRecord>();
  /** rid hex → what the queue belongs to. */
  private readonly queues = new Map<string, { kind: 'invite' | 'contact'; id: string }>();
  private readonly handled = new Map<string, number>();
  private readonly requestedResend = new Set<string>();
  /** Per contact (hex id): what sends and receives need of its stored messages (built on use). */
  private readonly conversations = new Map<string, ConversationIndex>();
  private account!: AccountRecord;
  private device!: SignKeyPair;
  private outboxSeq = 0;
  /** Goes up whenever a contact appears, goes, or changes status or send queue (group fan-out caches). */
  private contactsVersion = 0;
  /** Rosters of the member arrays the group engine hands over (docs/decisions/0012 "Delivery"). */
  private readonly rosterOfMembers = new WeakMap<
    readonly ContactRecord[],
    { id: Uint8Array; contacts: Uint8Array[] }
  >();
  private readonly rosterViews = new Map<string, RosterView>();
  /** Per group (hex): the roster its last message went to, kept while no message uses it. */
  private readonly currentRoster = new Map<string, string>();
  /** Per roster: its members by relay, for one value of contactsVersion. */
  private readonly partitions = new Map<string, FanoutPartition>();
  /** Per group and relay: the list as last reconciled, and for which members (see fanoutTo). */
  private readonly reconciled = new Map<string, { list: GroupFanoutList; sig: string }>();
  private started = false;
  private closed = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private flushing: Promise<void> | undefined;
  private flushAgain = false;

  private constructor(opts: AccountOptions) {
    this.mirror = new MirroredStore(opts.store, [C.outbox, C.fanout, C.rosters]);
    this.store = this.mirror;
    this.transport = opts.transport;
    this.rng = opts.rng ?? systemRandom;
    this.now = opts.now ?? (() => Date.now());
    this.resendMs = opts.resendMs ?? 60 * 60 * 1000;
    this.maxResendMs = opts.maxResendMs ?? DAY;
    this.inviteTtlMs = opts.inviteTtlMs ?? 7 * DAY;
    this.roomLimits = { ...DEFAULT_ROOM_LIMITS, ...opts.roomLimits };
    this.groups = new GroupEngine(this.groupHost());
  }
  private readonly resendMs: number;
  private readonly maxResendMs: number;
  private readonly inviteTtlMs: number;
  private readonly roomLimits: RoomLimits;
  /** Refusals of room joins on their way to the joiners (sent once; sync and close wait for them). */
  private readonly refusing = new Set<Promise<unknown>>();

  /** Creates a new account (a fresh device key) in an empty store. */
  static async create(opts: AccountOptions & { name: string; relay: string }): Promise<Account> {
    const a = new Account(opts);
    if (await opts.store.get(C.account, 'self')) throw new UsageError('this store already holds an account');
    const name = opts.name.trim();
    if (name.length < 1 || name.length > 64) throw new UsageError('name must be 1-64 characters');
    parseRelayAddress(opts.relay);
    const device = generateSignKeyPair(a.rng);
    const record: AccountRecord = { name, relay: opts.relay, device: device.secretKey, created: a.now() };
    await opts.store.batch([
      { type: 'put', collection: C.account, key: 'self', value: encodeRecord(record) },
    ]);
    await a.load();
    return a;
  }

  static async open(opts: AccountOptions): Promise<Account> {
    const a = new Account(opts);
    await a.load();
    return a;
  }

  private async load(): Promise<void> {
    const raw = await this.store.get(C.account, 'self');
    if (!raw) throw new NotFoundError('no account in this store');
    await this.mirror.load();
    this.account = decodeAccount(raw);
    this.device = signPair(this.account.device);
    for (const { value } of await this.store.list(C.contacts)) {
      const c = decodeContact(value);
      this.contactsById.set(hex(c.id), c);
      this.queues.set(hex(c.recv.rid), { kind: 'contact', id: hex(c.id) });
    }
    for (const { value } of await this.store.list(C.invites)) {
      const i = decodeInvite(value);
      this.invitesById.set(hex(i.id), i);
      if (!i.used) this.queues.set(hex(i.queue.rid), { kind: 'invite', id: hex(i.id) });
    }
    for (const { value } of this.mirror.entries(C.outbox, decodeOutbox)) {
      this.outboxSeq = Math.max(this.outboxSeq, value.seq);
    }
    for (const { value } of this.mirror.entries(C.fanout, decodeFanoutMessage)) {
      if (hasRoster(value)) this.outboxSeq = Math.max(this.outboxSeq, value.seq);
    }
    this.contactsVersion++;
    await this.groups.load();
    await this.upgradeFanoutEntries();
    await this.dropUnusedRosters();
  }

  /**
   * Stores written before rosters kept one outbox entry per member of a group message, with
   * no envelope until its 1:1 attempt, and the shared frame in `gfan`. Each such entry becomes
   * an ordinary 1:1 group entry now (its envelope made from the stored payload), keeping its
   * state and backoff, and the old shared records go. Done once, when the account opens.
   */
  private async upgradeFanoutEntries(): Promise<void> {
    const ops: StoreOp[] = [];
    const legacy = this.mirror
      .entries(C.fanout, decodeFanoutMessage)
      .filter(({ value }) => !hasRoster(value));
    if (legacy.length === 0) return;
    for (const { key, value: e } of this.mirror.entries(C.outbox, decodeOutbox)) {
      if (!e.fan || e.envelope.length > 0) continue;
      const shared = this.mirror.decoded(C.fanout, hex(e.message!), decodeFanoutMessage);
      const c = this.contactsById.get(hex(e.contact));
      if (!shared || !c) {
        ops.push({ type: 'del', collection: C.outbox, key });
        continue;
      }
      const payload = asMap(decodeCbor(shared.p), 'group payload');
      const next: OutboxRecord = { ...e, envelope: this.groupEnvelope(c, payload) };
      ops.push({ type: 'put', collection: C.outbox, key, value: encodeRecord(next) });
    }
    for (const { key } of legacy) ops.push({ type: 'del', collection: C.fanout, key });
    await this.store.batch(ops);
  }

  /** Rosters no group message uses any more (a group's current one, kept after its last message). */
  private async dropUnusedRosters(): Promise<void> {
    const ops = this.mirror
      .entries(C.rosters, decodeFanoutRoster)
      .filter(({ key }) => !this.rosterInUse(key))
      .flatMap(({ key }) => this.dropRosterOps(key));
    if (ops.length) await this.store.batch(ops);
  }

  /**
   * The narrow interface the group engine uses: the store and the lock, and the 1:1 sessions
   * (contacts and hidden group peers) as the transport for group traffic.
   */
  private groupHost(): ConstructorParameters<typeof GroupEngine>[0] {
    return {
      store: this.store,
      rng: this.rng,
      now: () => this.now(),
      run: (fn) => this.lock.run(fn),
      kick: () => this.kickFlush(),
      emit: (change) => this.events.emit('group', change),
      emitMessage: (info) => this.events.emit('message', info),
      contactById: (id) => this.contactsById.get(hex(id)),
      contactsVersion: () => this.contactsVersion,
      contactByAlias: (alias) => this.mustContact(alias),
      sendOp: (c, body, message) => this.groupOp(c, body, message),
      fanoutOps: (members, m) => this.groupFanoutOps(members, m),
      settleOps: (c, ids) => this.settleOutbox(c, ids),
      makePeerCard: async (group) => (await this.makeCard({ oneTime: true, peer: group })).link,
      acceptPeerCard: (link, group) => this.answerCard(link, { peer: group }),
      roomLimits: this.roomLimits,
      // A door card names nobody: whoever holds the room link sees it.
      makeDoorCard: async (group) =>
        (await this.makeCard({ oneTime: false, peer: group, anonymous: true })).card,
      answerRoomDoor: (link, group, request) => this.answerCard(link, { peer: group, room: request }),
      makeContactCard: async () => (await this.makeCard({ oneTime: true })).card,
      acceptContactCard: (link, alias) => this.acceptInvite(link, alias === undefined ? {} : { alias }),
    };
  }

  get name(): string {
    return this.account.name;
  }

  get relay(): string {
    return this.account.relay;
  }

  get deviceKey(): Uint8Array {
    return this.device.publicKey;
  }

  // ---- Connections ----------------------------------------------------------------------

  private connection(address: string): RelayConnection {
    let r = this.relays.get(address);
    if (!r) {
      r = new RelayConnection({
        address,
        transport: this.transport,
        rng: this.rng,
        onMessage: (rid, mid, body) => this.onDelivery(address, rid, mid, body),
        onState: (state) => {
          this.events.emit('connection', { relay: address, state });
          if (state === 'connected') this.kickFlush();
        },
      });
      this.relays.set(address, r);
      if (this.started) r.connect();
    }
    return r;
  }

  private async connected(address: string, timeoutMs = 10_000): Promise<RelayConnection> {
    const r = this.connection(address);
    r.connect();
    await r.whenConnected(timeoutMs);
    return r;
  }

  /**
   * Connects to every relay the account uses, subscribes to every queue it receives on,
   * sends what waits in the outbox, and keeps doing so (reconnecting) until close().
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    // Subscriptions complete whenever their relay is reachable; sync() waits for them.
    for (const [ridHex, owner] of this.queues) {
      const q = this.queueOf(owner);
      if (q) void this.subscribeQueue(q, ridHex).catch(() => undefined);
    }
    this.connection(this.account.relay);
    for (const r of this.relays.values()) r.connect();
    await this.pruneSeen();
    this.timer = setInterval(() => this.kickFlush(), 5_000);
    this.kickFlush();
    this.groups.scheduleMaintain();
  }

  private async pruneSeen(): Promise<void> {
    const cutoff = this.now() - SEEN_TTL;
    const ops: StoreOp[] = [];
    for (const { key, value } of await this.store.list(C.seen)) {
      const at = asMap(decodeCbor(value), 'seen').at;
      if (typeof at !== 'number' || at < cutoff) ops.push({ type: 'del', collection: C.seen, key });
    }
    if (ops.length) await this.lock.run(() => this.store.batch(ops));
  }

  private queueOf(owner: { kind: 'invite' | 'contact'; id: string }): InboundQueue | undefined {
    return owner.kind === 'invite'
      ? this.invitesById.get(owner.id)?.queue
      : this.contactsById.get(owner.id)?.recv;
  }

  private readonly pendingAtSubscribe = new Map<string, number>();

  private async subscribeQueue(q: InboundQueue, ridHex = hex(q.rid)): Promise<void> {
    const r = this.connection(q.relay);
    r.connect();
    await r.whenConnected();
    const pending = await r.subscribe(q.rid, q.rk);
    this.pendingAtSubscribe.set(ridHex, (this.handled.get(ridHex) ?? 0) + pending);
    this.changes.notify();
  }

  /**
   * Waits until every queue has been read to its end, everything received is processed,
   * and the outbox holds nothing that could be sent now. `parus read` uses it.
   */
  async sync(opts: { timeoutMs?: number; connectTimeoutMs?: number } = {}): Promise<void> {
    if (!this.started) await this.start();
    const deadline = this.now() + (opts.timeoutMs ?? 30_000);
    const relay = this.connection(this.account.relay);
    await relay.whenConnected(Math.min(opts.connectTimeoutMs ?? 5_000, Math.max(1, deadline - this.now())));
    let previous = -1;
    for (;;) {
      const subscribed = [...this.queues.keys()].every((rid) => this.pendingAtSubscribe.has(rid));
      const read = [...this.pendingAtSubscribe].every(([rid, n]) => (this.handled.get(rid) ?? 0) >= n);
      if (subscribed && read) {
        // A ping's answer comes after every message the relay pushed before it, so once
        // it is back and the inbound chain is drained, nothing is still on its way.
        for (const r of this.relays.values()) {
          if (r.connected) await r.command({ t: 'ping' }).catch(() => undefined);
          await r.drained();
        }
        await this.groups.idle();
        await Promise.all(this.refusing);
        await this.flush();
        const left = await this.sendableCount();
        // Done when nothing is left, or when a whole pass could not send what is left
        // (a relay refusing it): that waits for a later run, with its backoff.
        if ((left === 0 || left === previous) && !this.flushAgain && !this.groups.busy) return;
        previous = left;
      }
      if (this.now() > deadline) throw new ProtocolError('sync did not finish in time (is a relay down?)');
      await this.changes.next(200);
    }
  }

  private async sendableCount(): Promise<number> {
    let n = 0;
    for (const c of this.contactsById.values()) if (c.request) n++;
    for (const { value: e } of this.mirror.entries(C.outbox, decodeOutbox)) {
      const c = this.contactsById.get(hex(e.contact));
      if (
        e.state === 'queued' &&
        c?.status === 'active' &&
        c.send &&
        this.relays.get(c.send.relay)?.connected
      )
        n++;
    }
    // A group message counts once per connected relay some of its members still wait on.
    for (const { rec, roster } of this.fanoutRecords()) {
      const part = roster && this.partition(roster);
      for (const [relay, targets] of part?.byRelay ?? []) {
        if (!this.relays.get(relay)?.connected) continue;
        if (targets.some((t) => isWaiting(rec, t.i) && !isUploaded(rec, t.i))) n++;
      }
    }
    return n;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.groups.close();
    await this.flushing?.catch(() => undefined);
    await Promise.all(this.refusing);
    for (const r of this.relays.values()) {
      await r.drained();
      r.close();
    }
    await this.lock.run(async () => undefined);
    await this.store.close();
  }

  // ---- Queues ---------------------------------------------------------------------------

  private async newQueue(relayAddress: string, senderKey?: Uint8Array): Promise<InboundQueue> {
    const r = await this.connected(relayAddress);
    const rk = generateDhKeyPair(this.rng);
    const rdh = generateDhKeyPair(this.rng);
    try {
      const answer = await r.command(
        senderKey
          ? { t: 'new', rk: rk.publicKey, rdh: rdh.publicKey, sk: senderKey }
          : { t: 'new', rk: rk.publicKey, rdh: rdh.publicKey },
        rk.secretKey,
      );
      if (answer.t !== 'ids') throw new ProtocolError('relay answered new with something else');
      return {
        relay: relayAddress,
        rid: answer.rid,
        sid: answer.sid,
        rk: rk.secretKey,
        key: queueKey(rdh.secretKey, answer.sdh, answer.rid),
        secured: senderKey !== undefined,
      };
    } finally {
      wipe(rdh.secretKey);
    }
  }

  // ---- Invitations ----------------------------------------------------------------------

  /** Makes a rendez-vous card: a one-time card by default, or a long-lived contact address. */
  async createInvite(
    opts: { oneTime?: boolean; ttlMs?: number } = {},
  ): Promise<{ link: string; card: RendezvousCard }> {
    return this.makeCard(opts);
  }

  /** A card for a contact, or (with `peer`) for a group peer introduced by a member. */
  private async makeCard(opts: {
    oneTime?: boolean;
    ttlMs?: number;
    peer?: Uint8Array;
    anonymous?: boolean;
  }): Promise<{ link: string; card: RendezvousCard }> {
    const oneTime = opts.oneTime ?? true;
    const queue = await this.newQueue(this.account.relay);
    const identity = generateSignKeyPair(this.rng);
    const prekey = generateDhKeyPair(this.rng);
    const kemSeed = this.rng.bytes(32);
    const kem = xwingKeyPairFromSeed(kemSeed);
    const now = this.now();
    const card = createCard({
      identity,
      identityKey: identity.publicKey,
      signedPrekey: prekey.publicKey,
      kemKey: kem.publicKey,
      queue: { relay: queue.relay, sid: queue.sid },
      relays: [this.account.relay],
      ...(opts.anonymous ? {} : { name: this.account.name }),
      expires: now + (opts.ttlMs ?? (oneTime ? this.inviteTtlMs : 365 * DAY)),
      oneTime,
    });
    const link = cardToLink(card);
    const record: InviteRecord = {
      id: cardId(card),
      link,
      identity: identity.secretKey,
      prekey: prekey.secretKey,
      kem: kemSeed,
      queue,
      oneTime,
      expires: card.expires,
      created: now,
      used: false,
    };
    if (opts.peer) record.peer = opts.peer;
    await this.lock.run(async () => {
      await this.store.batch([
        { type: 'put', collection: C.invites, key: hex(record.id), value: encodeRecord(record) },
      ]);
      this.invitesById.set(hex(record.id), record);
      this.queues.set(hex(queue.rid), { kind: 'invite', id: hex(record.id) });
    });
    await this.subscribeQueue(queue);
    return { link, card };
  }

  /** Answers someone's rendez-vous card: a contact request goes to their queue. */
  async acceptInvite(link: string, opts: { alias?: string; replace?: boolean } = {}): Promise<ContactInfo> {
    return this.info(await this.answerCard(link, opts));
  }

  /**
   * Answers a card. With `peer` (a group id) the card came through a group introduction: the
   * session is a hidden group peer, not a contact, and its first message binds it to the group.
   * With `room` too, the card is a public room's door and the request carries a join request
   * (groups/room-door.ts) made for the new session's conversation id.
   */
  private async answerCard(
    link: string,
    opts: {
      alias?: string;
      replace?: boolean;
      peer?: Uint8Array;
      room?: (conv: Uint8Array) => CborMap;
    },
  ): Promise<ContactRecord> {
    const card = cardFromLink(link);
    checkCardUsable(card, this.now());
    const alias = opts.peer ? PEER_ALIAS : checkAlias(opts.alias ?? card.name ?? 'contact');
    const existing = opts.peer ? undefined : this.byAlias(alias);
    if (existing) {
      if (equalBytes(existing.theirIdentity, card.identityKey))
        throw new UsageError(`${alias} is already a contact`);
      if (!opts.replace)
        throw new UsageError(`${alias} exists with a different key; accept with replace to change it`);
    }
    // A room's door is long-lived and answered again on every join (each a new session).
    for (const c of opts.room ? [] : this.contactsById.values()) {
      if (equalBytes(c.theirIdentity, card.identityKey))
        throw new UsageError(`this card was already accepted as ${c.alias}`);
    }
    if (opts.peer && !opts.room && card.oneTime !== true)
      throw new ProtocolError('a group peer card must be one-time');
    const identity = generateSignKeyPair(this.rng);
    const { keys, init } = pqxdhInitiate({
      rng: this.rng,
      identity,
      bundle: { identityKey: card.identityKey, signedPrekey: card.signedPrekey, kemKey: card.kemKey },
    });
    let session = initRatchetSender({
      sharedSecret: keys.sharedSecret,
      peerRatchetKey: card.signedPrekey,
      sharedHeaderKey: keys.sharedHeaderKey,
      nextHeaderKey: keys.nextHeaderKey,
      rng: this.rng,
    });
    wipe(keys.sharedSecret, keys.sharedHeaderKey, keys.nextHeaderKey);
    const recv = await this.newQueue(this.account.relay);
    const senderKey = generateDhKeyPair(this.rng);
    const conv = conversationId(identity.publicKey, card.identityKey);
    const hello = this.contactHelloEnvelope(identity, conv, recv, senderKey.publicKey, opts.room?.(conv));
    const encrypted = ratchetEncrypt(
      session,
      padToBucket(encodeEnvelope(hello)),
      keys.associatedData,
      this.rng,
    );
    session = encrypted.state;
    const request = encodeContactRequest({
      v: 1,
      card: cardId(card),
      identityKey: identity.publicKey,
      init,
      message: encrypted.message,
    });
    const now = this.now();
    const contact: ContactRecord = {
      id: this.rng.bytes(16),
      alias,
      name: card.name ?? alias,
      state: 'unvalidated',
      status: 'pending',
      identity: identity.secretKey,
      theirIdentity: card.identityKey,
      conv,
      ad: keys.associatedData,
      recv,
      senderKey: senderKey.secretKey,
      session: encodeRatchetState(session),
      created: now,
      // Sent (and retried) by the flush loop to the inviter's rendez-vous queue.
      request: { relay: card.queue.relay, sid: card.queue.sid, body: request },
    };
    const ops: StoreOp[] = [];
    if (opts.peer) {
      contact.peer = opts.peer;
      contact.alias = peerAlias(contact.id);
    }
    if (existing) {
      contact.keyChanged = now;
      ops.push({ type: 'del', collection: C.contacts, key: hex(existing.id) });
    }
    ops.push({ type: 'put', collection: C.contacts, key: hex(contact.id), value: encodeRecord(contact) });
    await this.lock.run(async () => {
      if (contact.peer) ops.push(...(await this.groups.peerSessionOps(contact)));
      await this.store.batch(ops);
      if (existing) {
        this.contactsById.delete(hex(existing.id));
        this.conversations.delete(hex(existing.id));
        this.queues.delete(hex(existing.recv.rid));
      }
      this.contactsById.set(hex(contact.id), contact);
      this.contactsVersion++;
      this.queues.set(hex(recv.rid), { kind: 'contact', id: hex(contact.id) });
    });
    await this.subscribeQueue(recv);
    this.kickFlush();
    if (!contact.peer) {
      const info = this.info(contact);
      this.events.emit('contact', { alias, change: existing ? 'key-changed' : 'added', info });
    }
    return contact;
  }

  /** Wraps a group payload for the 1:1 session with `c` and queues it in the outbox. */
  private groupOp(c: ContactRecord, body: CborMap, message?: Uint8Array): StoreOp {
    return this.outboxOp(c, this.groupEnvelope(c, body), message);
  }

  private groupEnvelope(c: ContactRecord, body: CborMap): Uint8Array {
    const env = createEnvelope({
      device: this.device,
      conv: c.conv,
      parents: [],
      lamport: 0,
      ts: this.now(),
      kind: 'group',
      body,
    });
    return encodeEnvelope(env);
  }

  /**
   * One record for a group message to `members`, whatever their number (group-messaging.ts
   * deliverToMembers, docs/decisions/0012 "Delivery"): the frame, the payload of a 1:1 resend,
   * and the roster they were on, written too the first time it is used. The engine hands the
   * same array for as long as membership and sessions stay the same, so the roster is made
   * (and hashed) once per change of membership, not once per message.
   */
  private groupFanoutOps(
    members: readonly ContactRecord[],
    m: { group: Uint8Array; message: Uint8Array; frame: Uint8Array; payload: CborMap },
  ): StoreOp[] {
    let roster = this.rosterOfMembers.get(members);
    if (!roster) {
      const ids = members.map((c) => c.id);
      roster = { id: rosterId(ids), contacts: ids };
      this.rosterOfMembers.set(members, roster);
    }
    const record: FanoutMessage = {
      g: m.group,
      frame: m.frame,
      p: encodeCbor(m.payload),
      seq: ++this.outboxSeq,
      ro: roster.id,
      at: 0,
    };
    const ops: StoreOp[] = [
      { type: 'put', collection: C.fanout, key: hex(m.message), value: encodeFanoutMessage(record) },
    ];
    const rid = hex(roster.id);
    if (!this.mirror.has(C.rosters, rid))
      ops.push({
        type: 'put',
        collection: C.rosters,
        key: rid,
        value: encodeFanoutRoster({ c: roster.contacts }),
      });
    // The next message most likely goes to the same members: their roster stays stored while
    // it is the group's current one, and the one it replaces goes once no message uses it.
    const previous = this.currentRoster.get(hex(m.group));
    this.currentRoster.set(hex(m.group), rid);
    if (previous && previous !== rid && !this.rosterInUse(previous))
      ops.push(...this.dropRosterOps(previous));
    return ops;
  }

  private contactHelloEnvelope(
    identity: SignKeyPair,
    conv: Uint8Array,
    recv: InboundQueue,
    senderKeyPublic: Uint8Array,
    room?: CborMap,
  ): Envelope {
    const cert = encodeDeviceCertificate(
      createDeviceCertificate({ identity, deviceKey: this.device.publicKey, issued: this.now() }),
    );
    return createEnvelope({
      device: this.device,
      conv,
      parents: [],
      lamport: 0,
      ts: this.now(),
      kind: 'contact',
      body: {
        queue: { relay: recv.relay, sid: recv.sid },
        senderKey: senderKeyPublic,
        name: this.account.name,
        cert,
        ...(room ? { room } : {}),
      },
    });
  }

  // ---- Contacts -------------------------------------------------------------------------

  private byAlias(alias: string): ContactRecord | undefined {
    for (const c of this.contactsById.values()) if (c.alias === alias && !c.peer) return c;
    return undefined;
  }

  private mustContact(alias: string): ContactRecord {
    const c = this.byAlias(alias);
    if (!c) throw new NotFoundError(`no contact named ${alias}`);
    return c;
  }

  private info(c: ContactRecord): ContactInfo {
    return {
      alias: c.alias,
      name: c.name,
      state: c.state,
      status: c.status,
      safetyNumber: formatSafetyNumber(safetyNumber(c.identity.slice(32, 64), c.theirIdentity)),
      keyChanged: c.keyChanged !== undefined,
      created: c.created,
    };
  }

  contacts(): ContactInfo[] {
    return [...this.contactsById.values()]
      .filter((c) => !c.peer)
      .sort((a, b) => a.created - b.created)
      .map((c) => this.info(c));
  }

  contact(alias: string): ContactInfo {
    return this.info(this.mustContact(alias));
  }

  safetyNumber(alias: string): { digits: string; formatted: string; qr: Uint8Array } {
    const c = this.mustContact(alias);
    const ours = c.identity.slice(32, 64);
    const digits = safetyNumber(ours, c.theirIdentity);
    return {
      digits,
      formatted: formatSafetyNumber(digits),
      qr: safetyNumberQrPayload(ours, c.theirIdentity),
    };
  }

  async setContactState(alias: string, state: ContactState): Promise<ContactInfo> {
    if (!CONTACT_STATES.includes(state)) throw new UsageError('unknown contact state');
    return this.lock.run(async () => {
      const c = this.mustContact(alias);
      const next: ContactRecord = { ...c, state };
      if (state === 'validated') delete next.keyChanged;
      await this.saveContact(next);
      const info = this.info(next);
      this.events.emit('contact', { alias, change: 'state', info });
      return info;
    });
  }

  async renameContact(alias: string, newAlias: string): Promise<ContactInfo> {
    const to = checkAlias(newAlias);
    return this.lock.run(async () => {
      const c = this.mustContact(alias);
      if (this.byAlias(to)) throw new UsageError(`${to} is already taken`);
      const next = { ...c, alias: to };
      await this.saveContact(next);
      return this.info(next);
    });
  }

  private async saveContact(c: ContactRecord, extra: StoreOp[] = []): Promise<void> {
    await this.store.batch([
      { type: 'put', collection: C.contacts, key: hex(c.id), value: encodeRecord(c) },
      ...extra,
    ]);
    const before = this.contactsById.get(hex(c.id));
    this.contactsById.set(hex(c.id), c);
    // What group fan-out depends on: whether the contact is reachable, and where.
    if (
      before?.status !== c.status ||
      before.send?.relay !== c.send?.relay ||
      !equalBytes(before.send?.sid ?? new Uint8Array(0), c.send?.sid ?? new Uint8Array(0))
    )
      this.contactsVersion++;
  }

  // ---- Sending --------------------------------------------------------------------------

  /**
   * Writes a text message (durably, with its outbox entry) and sends it when it can.
   * `action` makes it a `/me` line.
   */
  async sendText(
    alias: string,
    text: string,
    opts: { replyTo?: string; action?: boolean } = {},
  ): Promise<MessageInfo> {
    if (typeof text !== 'string' || text.length === 0) throw new UsageError('message is empty');
    if (text.length > MAX_TEXT) throw new UsageError(`message longer than ${MAX_TEXT} characters`);
    return this.sendUserMessage(alias, 'text', opts.replyTo, (replyTo) => {
      const body: { text: string; replyTo?: Uint8Array; action?: true } = { text };
      if (replyTo) body.replyTo = replyTo;
      if (opts.action) body.action = true;
      return {
        body: encodeTextBody(body),
        fields: opts.action ? { text, action: true } : { text },
      };
    });
  }

  /**
   * Sends a sticker: a set (`pack`) and a sticker in it, both short names of a-z, 0-9, _
   * and -. The engine checks the shape only; UIs know which sets they can draw.
   */
  async sendSticker(
    alias: string,
    pack: string,
    id: string,
    opts: { replyTo?: string } = {},
  ): Promise<MessageInfo> {
    const checked = encodeStickerBody({ pack, id });
    return this.sendUserMessage(alias, 'sticker', opts.replyTo, (replyTo) => ({
      body: replyTo ? { ...checked, replyTo } : checked,
      fields: { text: '', sticker: { pack, id } },
    }));
  }

  /** Builds, stores and queues one of our messages (text, sticker, file) in one batch. */
  private async sendUserMessage(
    alias: string,
    kind: MessageKind,
    replyToHex: string | undefined,
    make: (replyTo: Uint8Array | undefined) => {
      body: CborMap;
      fields: Pick<MessageRecord, 'text'> & Partial<MessageRecord>;
    },
    extraOps: (c: ContactRecord) => StoreOp[] = () => [],
  ): Promise<MessageInfo> {
    const info = await this.lock.run(async () => {
      const c = this.mustSendable(alias);
      let replyTo: Uint8Array | undefined;
      if (replyToHex) {
        replyTo = fromHexId(replyToHex);
        if (!(await this.store.get(C.messages(c.id), hex(replyTo))))
          throw new NotFoundError('no such message to reply to');
      }
      const { body, fields } = make(replyTo);
      const { record, ops } = await this.ownMessage(c, kind, body, fields);
      if (replyTo) record.replyTo = replyTo;
      await this.store.batch([
        { type: 'put', collection: C.messages(c.id), key: hex(record.id), value: encodeRecord(record) },
        ...ops,
        ...extraOps(c),
      ]);
      (await this.conversation(c)).put(record);
      // A message ends "typing" on their side: the next keystroke may signal again at once.
      this.lastTyping.delete(hex(c.id));
      return this.messageInfo(c, record);
    });
    this.kickFlush();
    return info;
  }

  private mustSendable(alias: string): ContactRecord {
    const c = this.mustContact(alias);
    if (c.state === 'compromised') throw new UsageError(`${alias} is marked compromised; sending is refused`);
    return c;
  }

  /** A new envelope of ours in the conversation's DAG, its record and its outbox entry. */
  private async ownMessage(
    c: ContactRecord,
    kind: MessageKind,
    body: CborMap,
    fields: Pick<MessageRecord, 'text'> & Partial<MessageRecord>,
  ): Promise<{ record: MessageRecord; ops: StoreOp[] }> {
    const { parents, lamport } = (await this.conversation(c)).next();
    const env = createEnvelope({
      device: this.device,
      conv: c.conv,
      parents,
      lamport,
      ts: this.now(),
      kind,
      body,
    });
    const record: MessageRecord = {
      ...fields,
      id: env.id,
      contact: c.id,
      dir: 'out',
      kind,
      parents: env.parents,
      lamport: env.lamport,
      ts: env.ts,
      received: env.ts,
      status: 'pending',
      shown: true,
      envelope: encodeEnvelope(env),
    };
    return { record, ops: [this.outboxOp(c, record.envelope, env.id)] };
  }

  /**
   * Takes one of our messages back (收回): its text, sticker or file is removed here at once,
   * and an `unsend` message (through the outbox, resent until its receipt) tells the
   * contact to remove it too. A message not yet sent is never sent.
   */
  async unsend(alias: string, messageId: string): Promise<MessageInfo> {
    const id = fromHexId(messageId);
    const info = await this.lock.run(async () => {
      const c = this.mustSendable(alias);
      const raw = await this.store.get(C.messages(c.id), hex(id));
      if (!raw) throw new NotFoundError('no such message');
      const target = decodeMessage(raw);
      if (!SHOWN_KINDS.has(target.kind)) throw new UsageError('only messages can be unsent');
      if (target.dir !== 'out') throw new UsageError('only the author of a message can unsend it');
      if (target.unsent !== undefined) throw new UsageError('this message was already unsent');
      const { record, ops } = await this.ownMessage(c, 'unsend', encodeUnsendBody({ target: id }), {
        text: '',
        target: id,
      });
      const gone = tombstone(target, record.ts);
      await this.store.batch([
        { type: 'put', collection: C.messages(c.id), key: hex(record.id), value: encodeRecord(record) },
        { type: 'put', collection: C.messages(c.id), key: hex(id), value: encodeRecord(gone) },
        ...ops,
        ...(await this.settleOutbox(c, [id])),
      ]);
      (await this.conversation(c)).put(record);
      this.events.emit('unsent', { alias: c.alias, id: hex(id) });
      return { info: this.messageInfo(c, gone), blob: target.file && target.uploadKey ? target : undefined };
    });
    this.kickFlush();
    if (info.blob) await this.deleteBlob(info.blob.file!, info.blob.uploadKey!);
    return info.info;
  }

  /**
   * Asks the relay to delete an unsent file's blob. Best effort, once, only when connected:
   * the contact's engine drops the file's keys anyway, and the relay deletes the blob at
   * its expiry; this only frees the space sooner.
   */
  private async deleteBlob(file: FileBody, uploadKey: Uint8Array): Promise<void> {
    const r = this.relays.get(file.relay);
    if (!r?.connected) return;
    await r.command({ t: 'bdel', bid: file.blob }, uploadKey).catch(() => undefined);
  }

  private readonly lastTyping = new Map<string, number>();

  /**
   * Tells the contact we are typing. Ephemeral: never stored, never resent, not in the
   * history; sent only when the relay is connected now, and at most once per 3 s per
   * contact. Resolves true when a signal went out.
   */
  async sendTyping(alias: string): Promise<boolean> {
    const c = this.mustContact(alias);
    const cid = hex(c.id);
    const now = this.now();
    const last = this.lastTyping.get(cid);
    if (last !== undefined && now - last < TYPING_INTERVAL_MS) return false;
    if (c.state === 'compromised' || c.status !== 'active' || !c.send) return false;
    const r = this.relays.get(c.send.relay);
    if (!r?.connected) return false;
    this.lastTyping.set(cid, now);
    const prepared = await this.lock.run(async () => {
      const current = this.contactsById.get(cid);
      if (!current?.send) return undefined;
      const env = createEnvelope({
        device: this.device,
        conv: current.conv,
        parents: [],
        lamport: 0,
        ts: now,
        kind: 'typing',
        body: {},
      });
      const enc = ratchetEncrypt(
        decodeRatchetState(current.session),
        padToBucket(encodeEnvelope(env)),
        current.ad,
        this.rng,
      );
      await this.saveContact({ ...current, session: encodeRatchetState(enc.state) });
      return { wire: enc.message, sid: current.send.sid, senderKey: current.senderKey };
    });
    if (!prepared) return false;
    try {
      await r.command({ t: 'send', sid: prepared.sid, body: prepared.wire }, prepared.senderKey);
      return true;
    } catch {
      // A lost typing signal is not worth a retry, but it does not hold back the next one.
      if (this.lastTyping.get(cid) === now) this.lastTyping.delete(cid);
      return false;
    }
  }

  // ---- Files ----------------------------------------------------------------------------

  /**
   * Sends a file end to end encrypted (DESIGN.md "Files and media"): it is encrypted with a
   * fresh key (secretstream, file-stream.ts), uploaded to our relay as a blob in chunks, and
   * then a `file` message carries the blob's place, the key and the ciphertext's hash.
   * The upload's state is stored first, so calling sendFile again with the same file and
   * contact (after an abort, a crash, a restart) continues from what the relay has.
   * Throws QuotaError for a file larger than Parus (or the relay) takes.
   */
  async sendFile(
    alias: string,
    file: OutgoingFile,
    opts: TransferOptions & { replyTo?: string } = {},
  ): Promise<MessageInfo> {
    opts.signal?.throwIfAborted();
    const { bytes, name, mime, thumbnail } = file;
    if (!(bytes instanceof Uint8Array)) throw new UsageError('file contents must be a Uint8Array');
    if (bytes.length > MAX_FILE_BYTES) throw new QuotaError(`file larger than ${MAX_FILE_BYTES} bytes`);
    if (!isFileName(name))
      throw new UsageError('file name must be 1-255 characters without control characters');
    if (!isMimeType(mime)) throw new UsageError('MIME type must look like type/subtype');
    if (
      thumbnail !== undefined &&
      (!(thumbnail instanceof Uint8Array) || thumbnail.length > MAX_THUMBNAIL_BYTES)
    )
      throw new UsageError(`thumbnail must be bytes, at most ${MAX_THUMBNAIL_BYTES}`);
    const c = this.mustSendable(alias);
    const plainHash = hash(bytes, 32);

    let upload = await this.findUpload(c, plainHash, name, bytes.length);
    const relay = await this.connected(this.account.relay, 15_000);
    if (upload) {
      // The relay may have dropped an unfinished upload (expiry) or lost it: start over.
      const known = await relay
        .command({ t: 'bstat', bid: upload.blob }, upload.uk)
        .then(() => true)
        .catch((e: unknown) => {
          if (e instanceof ParusError && (e.code === 'NOT_FOUND' || e.code === 'EXPIRED')) return false;
          throw e;
        });
      if (!known) {
        await this.deleteUpload(upload);
        upload = undefined;
      }
    }
    if (!upload)
      upload = await this.newUpload(c, relay, { bytes, plainHash, name, mime, thumbnail }, opts.signal);
    const u = upload;
    let finished;
    try {
      finished = await uploadBlob(
        {
          relay,
          blob: u.blob,
          uk: u.uk,
          size: fileCipherSize(u.size),
          hash: u.hash,
          chunks: () => encryptFileChunks(u.key, u.header, bytes),
        },
        opts,
      );
    } catch (e) {
      // A blob the relay refused at the end cannot be resumed; anything else can.
      if (
        e instanceof ParusError &&
        (e.code === 'VERIFICATION' || e.code === 'NOT_FOUND' || e.code === 'EXPIRED')
      )
        await this.deleteUpload(u);
      throw e;
    }
    const body: FileBody = {
      relay: u.relay,
      blob: u.blob,
      dk: u.dk,
      key: u.key,
      header: u.header,
      hash: u.hash,
      size: u.size,
      name: u.name,
      mime: u.mime,
      expires: finished.expires,
    };
    if (u.thumb) body.thumb = u.thumb;
    try {
      return await this.sendUserMessage(
        alias,
        'file',
        opts.replyTo,
        (replyTo) => ({
          body: replyTo ? { ...encodeFileBody(body), replyTo } : encodeFileBody(body),
          fields: { text: '', file: body, uploadKey: u.uk },
        }),
        () => [{ type: 'del', collection: C.uploads, key: hex(u.id) }],
      );
    } finally {
      // Stored (sealed) with the message by now; the copies in memory go.
      wipe(u.key, u.uk, u.dk);
    }
  }

  private async findUpload(
    c: ContactRecord,
    plainHash: Uint8Array,
    name: string,
    size: number,
  ): Promise<UploadRecord | undefined> {
    for (const { value } of await this.store.list(C.uploads)) {
      const u = decodeUpload(value);
      if (
        equalBytes(u.contact, c.id) &&
        equalBytes(u.plainHash, plainHash) &&
        u.name === name &&
        u.size === size
      )
        return u;
    }
    return undefined;
  }

  /**
   * Starts an upload: fresh keys, one encryption pass to learn the ciphertext's hash (which
   * `bfin` and the message carry), a blob reserved on the relay, and the state stored.
   */
  private async newUpload(
    c: ContactRecord,
    relay: RelayConnection,
    f: {
      bytes: Uint8Array;
      plainHash: Uint8Array;
      name: string;
      mime: string;
      thumbnail: Uint8Array | undefined;
    },
    signal: AbortSignal | undefined,
  ): Promise<UploadRecord> {
    const key = this.rng.bytes(SECRETSTREAM_KEY_BYTES);
    const header = this.rng.bytes(SECRETSTREAM_HEADER_BYTES);
    const hasher = createHasher(32);
    let n = 0;
    for (const chunk of encryptFileChunks(key, header, f.bytes)) {
      hasher.update(chunk);
      if (++n % 16 === 0) {
        await new Promise((r) => setTimeout(r, 0)); // keep a page responsive
        signal?.throwIfAborted();
      }
    }
    const uk = generateDhKeyPair(this.rng);
    const dk = generateDhKeyPair(this.rng);
    const answer = await relay.command(
      { t: 'bnew', uk: uk.publicKey, dk: dk.publicKey, size: fileCipherSize(f.bytes.length) },
      uk.secretKey,
    );
    if (answer.t !== 'blob') throw new ProtocolError('relay answered bnew with something else');
    const upload: UploadRecord = {
      id: this.rng.bytes(16),
      contact: c.id,
      plainHash: f.plainHash,
      name: f.name,
      mime: f.mime,
      size: f.bytes.length,
      key,
      header,
      uk: uk.secretKey,
      dk: dk.secretKey,
      relay: this.account.relay,
      blob: answer.bid,
      hash: hasher.digest(),
      created: this.now(),
    };
    if (f.thumbnail) upload.thumb = f.thumbnail.slice();
    await this.lock.run(() =>
      this.store.batch([
        { type: 'put', collection: C.uploads, key: hex(upload.id), value: encodeRecord(upload) },
      ]),
    );
    return upload;
  }

  /** Uploads that did not finish (for a UI to offer resuming them: sendFile with the same file). */
  async pendingUploads(): Promise<UploadInfo[]> {
    const out: UploadInfo[] = [];
    for (const { value } of await this.store.list(C.uploads)) {
      const u = decodeUpload(value);
      const c = this.contactsById.get(hex(u.contact));
      if (!c) continue;
      out.push({
        id: hex(u.id),
        alias: c.alias,
        name: u.name,
        mime: u.mime,
        size: u.size,
        created: u.created,
      });
    }
    return out.sort((a, b) => a.created - b.created);
  }

  /** Forgets an unfinished upload; the relay drops its part when the reservation expires. */
  async cancelUpload(id: string): Promise<void> {
    if (!/^[0-9a-f]{32}$/.test(id)) throw new UsageError('upload id must be 32 hex characters');
    await this.lock.run(async () => {
      if (!(await this.store.get(C.uploads, id))) throw new NotFoundError('no such upload');
      await this.store.batch([{ type: 'del', collection: C.uploads, key: id }]);
    });
  }

  /**
   * Downloads and decrypts a file message's contents: chunk by chunk from the relay that
   * holds it (resuming after a lost connection), each chunk authenticated by the stream,
   * the whole checked against the hash the signed message carries (VerificationError).
   * ExpiredError once the relay's expiry has passed; NotFoundError for an unsent message.
   */
  async downloadFile(alias: string, messageId: string, opts: TransferOptions = {}): Promise<Uint8Array> {
    opts.signal?.throwIfAborted();
    const c = this.mustContact(alias);
    const raw = await this.store.get(C.messages(c.id), hex(fromHexId(messageId)));
    if (!raw) throw new NotFoundError('no such message');
    const m = decodeMessage(raw);
    if (m.unsent !== undefined) throw new NotFoundError('the message was unsent');
    const f = m.file;
    if (!f) throw new UsageError('this message is not a file');
    if (this.now() >= f.expires) throw new ExpiredError('the file has expired on its relay');
    const relay = this.connection(f.relay);
    relay.connect();
    const out = new Uint8Array(f.size);
    try {
      const decryptor = new FileDecryptor(f.key, f.header, f.size);
      const hasher = createHasher(32);
      let offset = 0;
      await downloadBlob(
        {
          relay,
          blob: f.blob,
          dk: f.dk,
          size: fileCipherSize(f.size),
          take: (_n, data) => {
            hasher.update(data);
            const plain = decryptor.push(data);
            out.set(plain, offset);
            offset += plain.length;
          },
        },
        opts,
      );
      decryptor.finish();
      // The stream authenticates every chunk; the hash also binds them to the signed message.
      if (!equalBytes(hasher.digest(), f.hash))
        throw new VerificationError('file does not match the hash in its message');
      return out;
    } catch (e) {
      wipe(out); // no partial plaintext outlives a failed download
      throw e;
    } finally {
      wipe(f.key, f.dk);
    }
  }

  private async deleteUpload(u: UploadRecord): Promise<void> {
    await this.lock.run(() => this.store.batch([{ type: 'del', collection: C.uploads, key: hex(u.id) }]));
  }

  private outboxOp(c: ContactRecord, envelope: Uint8Array, message?: Uint8Array): StoreOp {
    const entry: OutboxRecord = {
      seq: ++this.outboxSeq,
      contact: c.id,
      envelope,
      state: 'queued',
      attempts: 0,
      nextAt: 0,
    };
    if (message) entry.message = message;
    return { type: 'put', collection: C.outbox, key: outboxKey(entry.seq), value: encodeRecord(entry) };
  }

  private control(c: ContactRecord, kind: MessageKind, body: CborMap): StoreOp {
    const env = createEnvelope({
      device: this.device,
      conv: c.conv,
      parents: [],
      lamport: 0,
      ts: this.now(),
      kind,
      body,
    });
    return this.outboxOp(c, encodeEnvelope(env));
  }

  private kickFlush(): void {
    if (this.closed) return;
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = undefined;
      this.changes.notify();
    });
  }

  /** Sends everything that can be sent now; resolves when done. */
  async flush(): Promise<void> {
    this.kickFlush();
    while (this.flushing) await this.flushing;
  }

  private async flushLoop(): Promise<void> {
    do {
      this.flushAgain = false;
      await this.flushOnce();
    } while (this.flushAgain && !this.closed);
  }

  private async flushOnce(): Promise<void> {
    const now = this.now();
    const byContact = new Map<string, OutboxRecord[]>();
    for (const { value: e } of this.mirror.entries(C.outbox, decodeOutbox)) {
      if (e.state === 'relayed' && e.nextAt > now) continue;
      const k = hex(e.contact);
      const list = byContact.get(k) ?? [];
      list.push(e);
      byContact.set(k, list);
    }
    await Promise.all(
      [...this.contactsById.values()].filter((c) => c.request).map((c) => this.sendRequest(c)),
    );
    await Promise.all(
      [...byContact].map(async ([cid, entries]) => {
        const contact = this.contactsById.get(cid);
        if (!contact || contact.status !== 'active' || !contact.send) return;
        const r = this.connection(contact.send.relay);
        r.connect();
        if (!r.connected) return;
        // Encrypt (and durably record) every entry first, then pipeline the sends in order.
        const ready = await this.lock.run(() => this.encryptEntries(cid, entries));
        const results = await Promise.allSettled(
          ready.map(({ entry, wire, sid, senderKey }) =>
            r.command({ t: 'send', sid, body: wire }, senderKey).then(() => entry),
          ),
        );
        await this.lock.run(async () => {
          const ops: StoreOp[] = [];
          const delivered: Array<[ContactRecord, Uint8Array]> = [];
          for (const res of results) {
            if (res.status === 'rejected') {
              if (
                res.reason instanceof ParusError &&
                !(res.reason.code === 'TRANSPORT' || res.reason.code === 'TIMEOUT')
              ) {
                this.events.emit('error', { error: res.reason, context: 'relay refused a message' });
              }
              continue;
            }
            const e = res.value;
            if (!e.message) {
              ops.push({ type: 'del', collection: C.outbox, key: outboxKey(e.seq) });
              continue;
            }
            const next: OutboxRecord = {
              ...e,
              state: 'relayed',
              nextAt:
                this.now() + Math.min(this.resendMs * 2 ** Math.max(0, e.attempts - 1), this.maxResendMs),
            };
            delete next.wire;
            ops.push({ type: 'put', collection: C.outbox, key: outboxKey(e.seq), value: encodeRecord(next) });
            const c = this.contactsById.get(cid);
            if (c) delivered.push([c, e.message]);
          }
          for (const [c, id] of delivered) {
            const op = await this.statusOp(c, id, 'sent');
            if (op) ops.push(op);
          }
          if (ops.length) await this.store.batch(ops);
          for (const [c, id] of delivered)
            this.events.emit('receipt', { alias: c.alias, id: hex(id), status: 'sent' });
        });
      }),
    );
    await this.flushFanout();
  }

  // ---- Group fan-out (docs/decisions/0012 "Delivery") -------------------------------------

  /** The group messages waiting in the outbox, in outbox order, with their rosters. */
  private fanoutRecords(): Array<{ key: string; rec: FanoutMessage; roster: RosterView | undefined }> {
    const out: Array<{ key: string; rec: FanoutMessage; roster: RosterView | undefined }> = [];
    for (const { key, value } of this.mirror.entries(C.fanout, decodeFanoutMessage)) {
      if (hasRoster(value)) out.push({ key, rec: value, roster: this.rosterView(value.ro) });
    }
    return out.sort((a, b) => a.rec.seq - b.rec.seq);
  }

  private fanoutRecord(key: string): FanoutMessage | undefined {
    const r = this.mirror.decoded(C.fanout, key, decodeFanoutMessage);
    return r && hasRoster(r) ? r : undefined;
  }

  private rosterView(id: Uint8Array): RosterView | undefined {
    const key = hex(id);
    let view = this.rosterViews.get(key);
    if (!view) {
      const roster = this.mirror.decoded(C.rosters, key, decodeFanoutRoster);
      if (!roster) return undefined;
      view = rosterView(key, roster);
      this.rosterViews.set(key, view);
    }
    return view;
  }

  /** A roster's members by the relay of their queue (made again when a contact changes). */
  private partition(roster: RosterView): FanoutPartition {
    const known = this.partitions.get(roster.id);
    if (known?.version === this.contactsVersion) return known;
    const part: FanoutPartition = { version: this.contactsVersion, byRelay: new Map(), gone: [] };
    roster.contacts.forEach((id, i) => {
      const c = this.contactsById.get(id);
      if (!c) part.gone.push(i);
      // Not reachable yet (a session still being set up): waits for the next flush.
      if (!c || c.status !== 'active' || !c.send) return;
      const targets = part.byRelay.get(c.send.relay) ?? [];
      targets.push({ i, c: c as FanoutTarget['c'], sid: hex(c.send.sid) });
      part.byRelay.set(c.send.relay, targets);
    });
    this.partitions.set(roster.id, part);
    return part;
  }

  /**
   * The store operations that write `rec` back, or delete it once nobody waits (with its
   * roster, when no other message uses it).
   */
  private fanoutRecordOps(key: string, rec: FanoutMessage, size: number): StoreOp[] {
    if (anyWaiting(rec, size))
      return [{ type: 'put', collection: C.fanout, key, value: encodeFanoutMessage(rec) }];
    const ops: StoreOp[] = [{ type: 'del', collection: C.fanout, key }];
    const ro = hex(rec.ro);
    if (this.currentRoster.get(hex(rec.g)) !== ro && !this.rosterInUse(ro, key))
      ops.push(...this.dropRosterOps(ro));
    return ops;
  }

  /** Whether a group message (other than `except`) still uses the roster. */
  private rosterInUse(ro: string, except?: string): boolean {
    return this.mirror
      .entries(C.fanout, decodeFanoutMessage)
      .some((x) => x.key !== except && hasRoster(x.value) && hex(x.value.ro) === ro);
  }

  private dropRosterOps(ro: string): StoreOp[] {
    this.rosterViews.delete(ro);
    this.partitions.delete(ro);
    return [{ type: 'del', collection: C.rosters, key: ro }];
  }

  /** Member `c`'s own outbox entry for a group message: it goes over our 1:1 session from now on. */
  private fanoutFallbackOp(c: ContactRecord, message: string, payload: CborMap): StoreOp {
    const entry: OutboxRecord = {
      seq: ++this.outboxSeq,
      contact: c.id,
      envelope: this.groupEnvelope(c, payload),
      message: fromHex(message),
      state: 'queued',
      attempts: 1, // the fan-out upload was the first
      nextAt: 0,
      fan: true,
    };
    return { type: 'put', collection: C.outbox, key: outboxKey(entry.seq), value: encodeRecord(entry) };
  }

  /**
   * Group messages (docs/decisions/0012 "Delivery"), in outbox order: members whose receipt is
   * overdue get their own 1:1 entries; then per relay, one upload to my fan-out list there for
   * the members the message has not reached yet. What the upload misses goes over the 1:1
   * sessions. The work per message does not grow with the group once its lists are in place.
   */
  private async flushFanout(): Promise<void> {
    for (const { key, roster } of this.fanoutRecords()) {
      if (this.closed) return;
      await this.lock.run(() => this.settleFanout(key, roster));
      const rec = this.fanoutRecord(key);
      if (!rec || !roster) continue;
      const part = this.partition(roster);
      for (const [relay, all] of part.byRelay) {
        const todo = all.filter((t) => isWaiting(rec, t.i) && !isUploaded(rec, t.i));
        if (todo.length === 0) continue;
        await this.fanoutTo(key, relay, rec, roster, todo, todo.length === all.length);
      }
    }
  }

  /** Under the lock: drops members who are gone, and hands overdue ones to the 1:1 path. */
  private async settleFanout(key: string, roster: RosterView | undefined): Promise<void> {
    const rec = this.fanoutRecord(key);
    if (!rec) return;
    if (!roster) {
      // Nothing to send it with (cannot happen short of a damaged store): give up on it.
      await this.store.batch([{ type: 'del', collection: C.fanout, key }]);
      return;
    }
    const size = roster.contacts.length;
    const clear = this.partition(roster).gone.filter((i) => isWaiting(rec, i));
    const due = rec.at > 0 && rec.at <= this.now() ? waitingMembers(rec, size, true) : [];
    if (clear.length === 0 && due.length === 0 && anyWaiting(rec, size)) return;
    const ops: StoreOp[] = [];
    if (due.length) {
      const payload = asMap(decodeCbor(rec.p), 'group payload');
      for (const i of due) {
        const c = this.contactsById.get(roster.contacts[i]!);
        if (c) ops.push(this.fanoutFallbackOp(c, key, payload));
        clear.push(i);
      }
    }
    const next = updateFanout(rec, size, { clear });
    if (due.length) next.at = 0;
    ops.push(...this.fanoutRecordOps(key, next, size));
    await this.store.batch(ops);
    if (due.length) this.flushAgain = true;
  }

  private async fanoutTo(
    key: string,
    relay: string,
    record: FanoutMessage,
    roster: RosterView,
    targets: FanoutTarget[],
    everyone: boolean,
  ): Promise<void> {
    const r = this.connection(relay);
    r.connect();
    if (!r.connected) return; // the relay is down: the members wait for the next flush
    let missed = new Set<string>();
    try {
      // The list needs no change while it goes to the same members as last time: the roster
      // (so membership) and the contacts' queues are what they were when it was reconciled.
      const cacheKey = `${hex(record.g)} ${relay}`;
      const sig = everyone ? `${roster.id} ${this.contactsVersion}` : undefined;
      let list = this.groups.fanoutList(record.g, relay);
      const known = this.reconciled.get(cacheKey);
      if (!list || sig === undefined || known?.list !== list || known.sig !== sig) {
        const res = await this.reconcileFanout(
          r,
          relay,
          record.g,
          targets.map((t) => t.c),
        );
        list = res.list;
        missed = new Set(res.excluded.map(hex));
        // Queues the relay would not take are tried again next time: no shortcut then.
        if (sig !== undefined && missed.size === 0) this.reconciled.set(cacheKey, { list, sig });
        else this.reconciled.delete(cacheKey);
      }
      const result = await r.fanoutSend(list.l, list.k, record.frame);
      for (const sid of [...result.full, ...result.gone]) missed.add(hex(sid));
    } catch (e) {
      if (e instanceof NotFoundError) {
        // The relay no longer has the list (purged, or a relay with a fresh database): make a
        // new one on the next flush.
        await this.lock.run(() => this.store.batch(this.groups.setFanoutList(record.g, relay, undefined)));
        this.flushAgain = true;
        return;
      }
      if (!(e instanceof ParusError) || e.code === 'TRANSPORT' || e.code === 'TIMEOUT') return;
      // Refused for good or for now (a quota, a rate limit): the members get it over our
      // 1:1 sessions instead, so that nothing waits on the fan-out path.
      this.events.emit('error', { error: e, context: 'relay refused a group fan-out' });
      missed = new Set(targets.map((t) => t.sid));
    }
    await this.lock.run(async () => {
      // Receipts may have settled some members meanwhile.
      const rec = this.fanoutRecord(key);
      if (!rec) return;
      const size = roster.contacts.length;
      const moved: number[] = [];
      const reached: number[] = [];
      const ops: StoreOp[] = [];
      let payload: CborMap | undefined;
      for (const t of targets) {
        if (!isWaiting(rec, t.i)) continue;
        if (!missed.has(t.sid)) {
          reached.push(t.i);
          continue;
        }
        payload ??= asMap(decodeCbor(rec.p), 'group payload');
        ops.push(this.fanoutFallbackOp(this.contactsById.get(hex(t.c.id)) ?? t.c, key, payload));
        moved.push(t.i);
      }
      const next = updateFanout(rec, size, { clear: moved, uploaded: reached });
      if (reached.length) next.at = Math.max(rec.at, this.now() + Math.min(this.resendMs, this.maxResendMs));
      ops.push(...this.fanoutRecordOps(key, next, size));
      await this.store.batch(ops);
      if (moved.length) this.flushAgain = true; // the 1:1 path takes them
    });
  }

  /**
   * Makes my list for the group on this relay hold exactly the queues of `members` (creating
   * it the first time), and records it in the group. Lists are stored by the relay, not tied to
   * the connection: only an entry's proof is bound to the session it is added on, so nothing
   * is re-registered after a reconnect. A queue the relay will not take (gone, not secured) is
   * left off and returned in `excluded`.
   */
  private async reconcileFanout(
    r: RelayConnection,
    relay: string,
    group: Uint8Array,
    members: Array<ContactRecord & { send: OutboundQueue }>,
  ): Promise<{ list: GroupFanoutList; excluded: Uint8Array[] }> {
    let list = this.groups.fanoutList(group, relay);
    const save = async (l: GroupFanoutList): Promise<void> => {
      await this.lock.run(() => this.store.batch(this.groups.setFanoutList(group, relay, l)));
    };
    if (!list) {
      const k = this.rng.bytes(32);
      list = { r: relay, k, l: await r.createFanout(k), s: [] };
      await save(list);
    }
    const want = new Map(members.map((c) => [hex(c.send.sid), c]));
    const have = new Set(list.s.map(hex));
    const stale = list.s.filter((sid) => !want.has(hex(sid)));
    const add = [...want]
      .filter(([k]) => !have.has(k))
      .map(([, c]) => ({ sid: c.send.sid, sk: c.senderKey }));
    if (stale.length === 0 && add.length === 0) return { list, excluded: [] };
    if (stale.length) await r.removeFromFanout(list.l, list.k, stale);
    const kept = list.s.filter((sid) => want.has(hex(sid)));
    const added: Uint8Array[] = [];
    const excluded: Uint8Array[] = [];
    if (add.length) {
      try {
        await r.addToFanout(list.l, list.k, add);
        added.push(...add.map((a) => a.sid));
      } catch (e) {
        const listGone = e instanceof NotFoundError && /list/.test(e.message);
        if (!(e instanceof ParusError) || ['TRANSPORT', 'TIMEOUT'].includes(e.code) || listGone) throw e;
        // One entry spoilt the batch: add them one by one and leave out those refused.
        for (const a of add) {
          try {
            await r.addToFanout(list.l, list.k, [a]);
            added.push(a.sid);
          } catch (e1) {
            if (!(e1 instanceof ParusError) || ['TRANSPORT', 'TIMEOUT'].includes(e1.code)) throw e1;
            excluded.push(a.sid);
          }
        }
      }
    }
    list = { ...list, s: [...kept, ...added] };
    await save(list);
    return { list, excluded };
  }

  /** Sends a pending contact request to the inviter's rendez-vous queue (unsecured: no authenticator). */
  private async sendRequest(c: ContactRecord): Promise<void> {
    const req = c.request;
    if (!req) return;
    const r = this.connection(req.relay);
    r.connect();
    if (!r.connected) return;
    try {
      await r.command({ t: 'send', sid: req.sid, body: req.body });
    } catch (e) {
      if (e instanceof ParusError && e.code !== 'TRANSPORT' && e.code !== 'TIMEOUT') {
        this.events.emit('error', { error: e, context: 'the contact request was refused by the relay' });
      }
      return;
    }
    await this.lock.run(async () => {
      const current = this.contactsById.get(hex(c.id));
      if (!current?.request) return;
      const next = { ...current };
      delete next.request;
      await this.saveContact(next);
    });
  }

  private async encryptEntries(
    cid: string,
    entries: OutboxRecord[],
  ): Promise<Array<{ entry: OutboxRecord; wire: Uint8Array; sid: Uint8Array; senderKey: Uint8Array }>> {
    let contact = this.contactsById.get(cid);
    if (!contact?.send) return [];
    const out: Array<{ entry: OutboxRecord; wire: Uint8Array; sid: Uint8Array; senderKey: Uint8Array }> = [];
    const ops: StoreOp[] = [];
    let session = decodeRatchetState(contact.session);
    let changed = false;
    for (const e of entries) {
      let entry = e;
      if (!entry.wire || entry.state === 'relayed') {
        const enc = ratchetEncrypt(session, padToBucket(entry.envelope), contact.ad, this.rng);
        session = enc.state;
        changed = true;
        entry = { ...entry, wire: enc.message, state: 'queued', attempts: entry.attempts + 1 };
        ops.push({
          type: 'put',
          collection: C.outbox,
          key: outboxKey(entry.seq),
          value: encodeRecord(entry),
        });
      }
      out.push({ entry, wire: entry.wire!, sid: contact.send.sid, senderKey: contact.senderKey });
    }
    if (changed) {
      contact = { ...contact, session: encodeRatchetState(session) };
      await this.saveContact(contact, ops);
    }
    return out;
  }

  private async statusOp(
    c: ContactRecord,
    id: Uint8Array,
    status: MessageStatus,
  ): Promise<StoreOp | undefined> {
    const raw = await this.store.get(C.messages(c.id), hex(id));
    if (!raw) return undefined;
    const m = decodeMessage(raw);
    const rank: Record<MessageStatus, number> = { pending: 0, sent: 1, delivered: 2, read: 3, received: 0 };
    if (m.dir !== 'out' || rank[status] <= rank[m.status]) return undefined;
    return { type: 'put', collection: C.messages(c.id), key: hex(id), value: encodeRecord({ ...m, status }) };
  }

  // ---- Receiving ------------------------------------------------------------------------

  private async onDelivery(
    relay: string,
    rid: Uint8Array,
    mid: Uint8Array,
    sealed: Uint8Array,
  ): Promise<void> {
    const ridHex = hex(rid);
    try {
      await this.lock.run(() => this.receive(relay, rid, mid, sealed));
    } catch (e) {
      // Not processed for a reason that may pass (store, network): no ack, the relay keeps it.
      if (!(e instanceof ParusError) || ['STORAGE', 'INTERNAL', 'TRANSPORT', 'TIMEOUT'].includes(e.code))
        throw e;
      this.events.emit('error', {
        error:
          e instanceof ParusError ? e : new ProtocolError('message could not be processed', { cause: e }),
        context: 'incoming message dropped',
      });
    } finally {
      this.handled.set(ridHex, (this.handled.get(ridHex) ?? 0) + 1);
      this.changes.notify();
    }
    this.kickFlush();
  }

  private async receive(_relay: string, rid: Uint8Array, mid: Uint8Array, sealed: Uint8Array): Promise<void> {
    const owner = this.queues.get(hex(rid));
    if (!owner) return;
    if (await this.store.get(C.seen, hex(mid))) return; // redelivered after a crash before the ack
    const seenOp: StoreOp = {
      type: 'put',
      collection: C.seen,
      key: hex(mid),
      value: encodeRecord({ at: this.now() }),
    };
    const queue = this.queueOf(owner);
    if (!queue) return;
    const { body } = openDelivery(queue.key, mid, sealed);
    if (owner.kind === 'invite') {
      const invite = this.invitesById.get(owner.id);
      if (invite) await this.receiveContactRequest(invite, body, seenOp);
      return;
    }
    const contact = this.contactsById.get(owner.id);
    if (!contact) return;
    if (isGroupFanoutFrame(body)) await this.receiveGroupFanout(contact, body, seenOp);
    else await this.receiveFromContact(contact, body, seenOp);
  }

  /** A group message the relay copied into this contact's queue from a fan-out upload. */
  private async receiveGroupFanout(contact: ContactRecord, body: Uint8Array, seenOp: StoreOp): Promise<void> {
    if (contact.status !== 'active') throw new ProtocolError('group message before the session is set up');
    const ops: StoreOp[] = [seenOp];
    const after: Array<() => void> = [];
    await this.groups.receiveFanout(contact, body, ops, after);
    await this.store.batch(ops);
    for (const f of after) f();
  }

  private async receiveContactRequest(
    invite: InviteRecord,
    body: Uint8Array,
    seenOp: StoreOp,
  ): Promise<void> {
    const req = decodeContactRequest(body);
    if (!equalBytes(req.card, invite.id)) throw new VerificationError('contact request answers another card');
    if (invite.used || invite.expires < this.now())
      throw new ProtocolError('contact request for a used or expired card');
    for (const c of this.contactsById.values()) {
      if (equalBytes(c.theirIdentity, req.identityKey)) return; // the same request again
    }
    const identity = signPair(invite.identity);
    const prekey = dhKeyPairFromSecret(invite.prekey);
    const keys = pqxdhRespond({
      identity,
      signedPrekey: prekey,
      kemKeyPair: xwingKeyPairFromSeed(invite.kem),
      peerIdentityKey: req.identityKey,
      init: req.init,
    });
    let session = initRatchetReceiver({
      sharedSecret: keys.sharedSecret,
      ownRatchetKeyPair: prekey,
      sharedHeaderKey: keys.sharedHeaderKey,
      nextHeaderKey: keys.nextHeaderKey,
    });
    wipe(keys.sharedSecret, keys.sharedHeaderKey, keys.nextHeaderKey);
    const dec = ratchetDecrypt(session, req.message, keys.associatedData, this.rng);
    session = dec.state;
    const env = decodeEnvelope(unpad(dec.plaintext));
    if (env.kind !== 'contact') throw new ProtocolError('contact request without contact details');
    const hello = decodeContactHello(env.body);
    const cert = decodeDeviceCertificate(hello.cert);
    if (!equalBytes(cert.identityKey, req.identityKey) || !equalBytes(cert.deviceKey, env.device)) {
      throw new VerificationError('device certificate does not match the request');
    }
    // A public room's door (a long-lived peer card): only proven join requests get anything.
    let joiner: Uint8Array | undefined;
    if (invite.peer && !invite.oneTime) {
      const conv = conversationId(identity.publicKey, req.identityKey);
      try {
        joiner = await this.groups.checkRoomJoin(
          invite.peer,
          invite.id,
          asMap(env.body as CborMap, 'contact body').room,
          conv,
        );
      } catch (e) {
        // A refused join is answered once, in the session it opened (groups/room-refusal.ts).
        const refusal = this.groups.roomRefusal(invite.id, e);
        if (refusal) {
          const wire = sealRoomRefusal({
            session,
            ad: keys.associatedData,
            device: this.device,
            conv,
            now: this.now(),
            rng: this.rng,
            refusal: { g: invite.peer, refusal },
          });
          const to = hello.queue;
          // Sent once, not kept: a lost refusal leaves the joiner waiting, as before (decision 0017).
          const sending = this.connected(to.relay)
            .then((r) => r.command({ t: 'send', sid: to.sid, body: wire }))
            .catch(() => undefined)
            .finally(() => this.refusing.delete(sending));
          this.refusing.add(sending);
        }
        throw e;
      }
    }
    // My queue for this contact, secured at once with the sender key they chose.
    const recv = await this.newQueue(this.account.relay, hello.senderKey);
    const senderKey = generateDhKeyPair(this.rng);
    const contact: ContactRecord = {
      id: this.rng.bytes(16),
      alias: invite.peer ? PEER_ALIAS : this.freeAlias(hello.name),
      name: hello.name,
      state: 'unvalidated',
      status: 'active',
      identity: invite.identity,
      theirIdentity: req.identityKey,
      conv: conversationId(identity.publicKey, req.identityKey),
      ad: keys.associatedData,
      recv,
      send: hello.queue,
      senderKey: senderKey.secretKey,
      device: env.device,
      session: encodeRatchetState(session),
      created: this.now(),
    };
    const reply = this.contactHelloEnvelope(identity, contact.conv, recv, senderKey.publicKey);
    const usedInvite: InviteRecord = { ...invite, used: invite.oneTime };
    if (invite.peer) {
      contact.peer = invite.peer;
      contact.alias = peerAlias(contact.id);
    }
    const ops: StoreOp[] = [
      seenOp,
      this.outboxOp(contact, encodeEnvelope(reply)),
      { type: 'put', collection: C.invites, key: hex(invite.id), value: encodeRecord(usedInvite) },
    ];
    const admitted = joiner ? this.groups.admitToRoom(contact, joiner) : undefined;
    if (admitted) ops.push(...admitted.ops);
    else if (contact.peer) ops.push(...(await this.groups.peerSessionOps(contact)));
    await this.saveContact(contact, ops);
    for (const f of admitted?.after ?? []) f();
    this.invitesById.set(hex(invite.id), usedInvite);
    this.queues.set(hex(recv.rid), { kind: 'contact', id: hex(contact.id) });
    if (usedInvite.used) {
      this.queues.delete(hex(invite.queue.rid));
      const r = this.connection(invite.queue.relay);
      // The one-time rendez-vous queue has done its job; delete it (after this message's ack).
      setTimeout(
        () => void r.command({ t: 'del', rid: invite.queue.rid }, invite.queue.rk).catch(() => undefined),
        0,
      );
    }
    void this.subscribeQueue(recv).catch(() => undefined);
    if (!contact.peer)
      this.events.emit('contact', { alias: contact.alias, change: 'added', info: this.info(contact) });
  }

  /**
   * A room door refused my join (groups/room-refusal.ts): the room is marked, and the session
   * the request opened ends here, with its queue and anything still waiting for it.
   */
  private async receiveRoomRefusal(c: ContactRecord, body: CborValue, seenOp: StoreOp): Promise<void> {
    const refused = await this.groups.receiveRoomRefusal(c, body);
    const ops: StoreOp[] = [seenOp, ...refused.ops, { type: 'del', collection: C.contacts, key: hex(c.id) }];
    for (const { key, value: e } of this.mirror.entries(C.outbox, decodeOutbox))
      if (equalBytes(e.contact, c.id)) ops.push({ type: 'del', collection: C.outbox, key });
    await this.store.batch(ops);
    this.contactsById.delete(hex(c.id));
    this.conversations.delete(hex(c.id));
    this.contactsVersion++;
    this.queues.delete(hex(c.recv.rid));
    for (const f of refused.after) f();
    const r = this.connection(c.recv.relay);
    // The queue has done its job; delete it (after this message's ack).
    setTimeout(() => void r.command({ t: 'del', rid: c.recv.rid }, c.recv.rk).catch(() => undefined), 0);
  }

  private freeAlias(name: string): string {
    const base = name.replace(/[\s/@]+/g, '-').slice(0, 56) || 'contact';
    if (!this.byAlias(base)) return base;
    for (let i = 2; ; i++) if (!this.byAlias(`${base}-${i}`)) return `${base}-${i}`;
  }

  private async receiveFromContact(contact: ContactRecord, body: Uint8Array, seenOp: StoreOp): Promise<void> {
    let dec;
    try {
      dec = ratchetDecrypt(decodeRatchetState(contact.session), body, contact.ad, this.rng);
    } catch (e) {
      if (e instanceof ReplayError) {
        await this.store.batch([seenOp]);
        return;
      }
      throw e;
    }
    const env = decodeEnvelope(unpad(dec.plaintext));
    if (!equalBytes(env.conv, contact.conv)) throw new VerificationError('message for another conversation');
    if (contact.status === 'pending' && contact.peer && env.kind === 'group') {
      await this.receiveRoomRefusal(contact, env.body, seenOp);
      return;
    }
    let c: ContactRecord = { ...contact, session: encodeRatchetState(dec.state) };
    const ops: StoreOp[] = [seenOp];
    const after: Array<() => void> = [];

    if (env.kind === 'contact') {
      const hello = decodeContactHello(env.body);
      const cert = decodeDeviceCertificate(hello.cert);
      if (!equalBytes(cert.identityKey, c.theirIdentity) || !equalBytes(cert.deviceKey, env.device)) {
        throw new VerificationError('device certificate does not match the contact');
      }
      const keyChanged = c.device !== undefined && !equalBytes(c.device, env.device);
      c = { ...c, send: hello.queue, device: env.device, status: 'active', name: hello.name };
      if (keyChanged) c = { ...c, keyChanged: this.now(), state: 'unvalidated' };
      if (!c.recv.secured) {
        const r = await this.connected(c.recv.relay);
        await r.command({ t: 'secure', rid: c.recv.rid, sk: hello.senderKey }, c.recv.rk);
        c = { ...c, recv: { ...c.recv, secured: true } };
      }
      // Group peers are not contacts: no event (and no safety number to compute).
      if (!c.peer) {
        const info = this.info(c);
        after.push(() =>
          this.events.emit('contact', {
            alias: c.alias,
            change: keyChanged ? 'key-changed' : 'active',
            info,
          }),
        );
      }
      await this.saveContact(c, ops);
      for (const f of after) f();
      return;
    }
    if (!c.device || !equalBytes(env.device, c.device))
      throw new VerificationError('message from an unknown device');

    if (env.kind === 'group') {
      // Group traffic (groups/group-engine.ts): state events, sender keys, group messages.
      await this.groups.receive(c, env.body, ops, after);
    } else if (c.peer && env.kind !== 'delivery' && env.kind !== 'read') {
      throw new ProtocolError('a group peer sent a 1:1 message');
    } else if (USER_KINDS.has(env.kind)) {
      // A peer must not push our Lamport clock to the end of the safe-integer range
      // (after which we could never send again): bound the jump from what we know.
      const index = await this.conversation(c);
      if (env.lamport > index.nextLamport() + MAX_LAMPORT_JUMP)
        throw new ProtocolError('message clock jumps too far ahead');
      const existing = await this.store.get(C.messages(c.id), hex(env.id));
      if (!existing) {
        let record: MessageRecord = {
          ...incomingFields(env.kind, env.body),
          id: env.id,
          contact: c.id,
          dir: 'in',
          kind: env.kind,
          parents: env.parents,
          lamport: env.lamport,
          ts: env.ts,
          received: this.now(),
          status: 'received',
          shown: false,
          envelope: encodeEnvelope(env),
        };
        if (record.target) {
          // Only the author takes a message back: the target must be theirs (or not here yet).
          const raw = await this.store.get(C.messages(c.id), hex(record.target));
          const target = raw && decodeMessage(raw);
          if (target) {
            if (target.dir !== 'in' || !SHOWN_KINDS.has(target.kind))
              throw new ProtocolError('unsend of a message the contact did not write');
            if (target.unsent === undefined) {
              const gone = tombstone(target, env.ts);
              ops.push({
                type: 'put',
                collection: C.messages(c.id),
                key: hex(gone.id),
                value: encodeRecord(gone),
              });
              after.push(() => this.events.emit('unsent', { alias: c.alias, id: hex(gone.id) }));
            }
          }
        } else if (index.takenBackBeforeArrival(env.id)) {
          // Its unsend came first (a resend after a gap): keep only the tombstone.
          record = tombstone(record, env.ts);
        }
        ops.push({
          type: 'put',
          collection: C.messages(c.id),
          key: hex(env.id),
          value: encodeRecord(record),
        });
        const stored = record;
        after.push(() => index.put(stored));
        const missing = index.missingWith(record).filter((id) => !this.requestedResend.has(hex(id)));
        if (missing.length > 0) {
          for (const id of missing) this.requestedResend.add(hex(id));
          ops.push(this.control(c, 'resend', { ids: missing.slice(0, 256) }));
        }
        if (SHOWN_KINDS.has(record.kind))
          after.push(() => this.events.emit('message', this.messageInfo(c, record)));
      }
      // Receipt again even for a duplicate: the first receipt may have been lost.
      ops.push(this.control(c, 'delivery', { ids: [env.id] }));
    } else if (env.kind === 'delivery' || env.kind === 'read') {
      const status: MessageStatus = env.kind === 'delivery' ? 'delivered' : 'read';
      const ids = idList(env.body);
      for (const id of ids) {
        const op = await this.statusOp(c, id, status);
        if (op) {
          ops.push(op);
          after.push(() => this.events.emit('receipt', { alias: c.alias, id: hex(id), status }));
        }
      }
      ops.push(...(await this.settleOutbox(c, ids)));
    } else if (env.kind === 'resend') {
      for (const id of idList(env.body)) {
        const raw = await this.store.get(C.messages(c.id), hex(id));
        if (!raw) continue;
        const m = decodeMessage(raw);
        // An unsent message has no envelope left: it is not sent again.
        if (m.dir === 'out' && m.envelope.length > 0) ops.push(this.outboxOp(c, m.envelope, m.id));
      }
    } else if (env.kind === 'typing') {
      decodeTypingBody(env.body);
      if (Math.abs(this.now() - env.ts) < TYPING_FRESH_MS)
        after.push(() => this.events.emit('typing', { alias: c.alias }));
    } else {
      throw new ProtocolError('unsupported message kind');
    }
    await this.saveContact(c, ops);
    for (const f of after) f();
  }

  /**
   * Removes the outbox entries a receipt settles: `c`'s own entries for `ids`, and `c` from the
   * members a group message still waits for.
   */
  private async settleOutbox(c: ContactRecord, ids: Uint8Array[]): Promise<StoreOp[]> {
    const wanted = new Set(ids.map(hex));
    const ops: StoreOp[] = [];
    for (const { key, value: e } of this.mirror.entries(C.outbox, decodeOutbox)) {
      if (e.message && equalBytes(e.contact, c.id) && wanted.has(hex(e.message))) {
        ops.push({ type: 'del', collection: C.outbox, key });
      }
    }
    for (const id of wanted) {
      const rec = this.fanoutRecord(id);
      const roster = rec && this.rosterView(rec.ro);
      const i = roster?.index.get(hex(c.id));
      if (!rec || !roster || i === undefined || !isWaiting(rec, i)) continue;
      ops.push(
        ...this.fanoutRecordOps(
          id,
          updateFanout(rec, roster.contacts.length, { clear: [i] }),
          roster.contacts.length,
        ),
      );
    }
    return ops;
  }

  // ---- Reading --------------------------------------------------------------------------

  private async messageRecords(c: ContactRecord): Promise<MessageRecord[]> {
    return (await this.store.list(C.messages(c.id))).map((e) => decodeMessage(e.value));
  }

  /** The conversation's index, built from its stored messages on first use. */
  private async conversation(c: ContactRecord): Promise<ConversationIndex> {
    const key = hex(c.id);
    let index = this.conversations.get(key);
    if (!index) {
      index = ConversationIndex.from(await this.messageRecords(c));
      this.conversations.set(key, index);
    }
    return index;
  }

  private messageInfo(c: ContactRecord, m: MessageRecord): MessageInfo {
    const info: MessageInfo = {
      id: hex(m.id),
      alias: c.alias,
      dir: m.dir,
      kind: m.kind,
      text: m.text,
      ts: m.ts,
      lamport: m.lamport,
      status: m.status,
    };
    if (m.replyTo) info.replyTo = hex(m.replyTo);
    if (m.action) info.action = true;
    if (m.sticker) info.sticker = { ...m.sticker };
    if (m.file) {
      const { name, mime, size, expires, thumb } = m.file;
      info.file = { name, mime, size, expires };
      if (thumb) info.file.thumbnail = Uint8Array.from(thumb);
    }
    if (m.unsent !== undefined) info.unsent = true;
    return info;
  }

  /** The whole conversation in causal order (unsent messages as tombstones). */
  async history(alias: string): Promise<MessageInfo[]> {
    const c = this.mustContact(alias);
    const records = await this.messageRecords(c);
    const byId = new Map(records.map((m) => [hex(m.id), m]));
    return causalOrder(records)
      .map((n) => byId.get(hex(n.id))!)
      .filter((m) => SHOWN_KINDS.has(m.kind))
      .map((m) => this.messageInfo(c, m));
  }

  /** Incoming messages not shown yet, in causal order per conversation; marks them shown. */
  async takeUnshown(): Promise<MessageInfo[]> {
    return this.lock.run(async () => {
      const out: MessageInfo[] = [];
      const ops: StoreOp[] = [];
      for (const c of [...this.contactsById.values()].sort((a, b) => a.created - b.created)) {
        const records = await this.messageRecords(c);
        const byId = new Map(records.map((m) => [hex(m.id), m]));
        for (const n of causalOrder(records)) {
          const m = byId.get(hex(n.id))!;
          if (m.dir !== 'in' || m.shown) continue;
          if (SHOWN_KINDS.has(m.kind)) out.push(this.messageInfo(c, m));
          ops.push({
            type: 'put',
            collection: C.messages(c.id),
            key: hex(m.id),
            value: encodeRecord({ ...m, shown: true }),
          });
        }
      }
      out.push(...(await this.groups.takeUnshown(ops)));
      if (ops.length) await this.store.batch(ops);
      return out;
    });
  }

  /** Sends read receipts (已讀) for every incoming message of a conversation not yet marked read. */
  async markRead(alias: string): Promise<number> {
    const n = await this.lock.run(async () => {
      const c = this.mustContact(alias);
      const unread = (await this.messageRecords(c)).filter(
        (m) => m.dir === 'in' && m.status !== 'read' && SHOWN_KINDS.has(m.kind),
      );
      if (unread.length === 0) return 0;
      const ops: StoreOp[] = unread.map((m) => ({
        type: 'put' as const,
        collection: C.messages(c.id),
        key: hex(m.id),
        value: encodeRecord({ ...m, status: 'read' }),
      }));
      for (let i = 0; i < unread.length; i += 256) {
        ops.push(this.control(c, 'read', { ids: unread.slice(i, i + 256).map((m) => m.id) }));
      }
      await this.store.batch(ops);
      return unread.length;
    });
    if (n > 0) this.kickFlush();
    return n;
  }

  /**
   * For diagnostics and tests: how many outbox entries wait, by state. A group message counts
   * once: queued while some member waits for an upload, else relayed while receipts are due.
   */
  async outboxSize(): Promise<{ queued: number; relayed: number }> {
    const r = { queued: 0, relayed: 0 };
    for (const { value } of this.mirror.entries(C.outbox, decodeOutbox)) r[value.state]++;
    for (const { rec, roster } of this.fanoutRecords()) {
      const size = roster?.contacts.length ?? 0;
      if (waitingMembers(rec, size, false).length > 0) r.queued++;
      else if (anyWaiting(rec, size)) r.relayed++;
    }
    return r;
  }
}

/** The record fields of an incoming message's body, decoded strictly by kind. */
function incomingFields(kind: string, body: CborValue): Pick<MessageRecord, 'text'> & Partial<MessageRecord> {
  switch (kind) {
    case 'text':
    case 'reply': {
      const b = decodeTextBody(body);
      const f: Pick<MessageRecord, 'text'> & Partial<MessageRecord> = { text: b.text };
      if (b.replyTo) f.replyTo = b.replyTo;
      if (b.action) f.action = true;
      return f;
    }
    case 'sticker': {
      const b = decodeStickerBody(body);
      const f: Pick<MessageRecord, 'text'> & Partial<MessageRecord> = {
        text: '',
        sticker: { pack: b.pack, id: b.id },
      };
      if (b.replyTo) f.replyTo = b.replyTo;
      return f;
    }
    case 'file': {
      // A file body may carry replyTo beside the file fields.
      const m = asMap(body, 'file body');
      const { replyTo, ...rest } = m;
      const f: Pick<MessageRecord, 'text'> & Partial<MessageRecord> = {
        text: '',
        file: decodeFileBody(rest),
      };
      if (replyTo !== undefined) f.replyTo = asBytes(replyTo, 'replyTo', { len: 32 });
      return f;
    }
    case 'unsend':
      return { text: '', target: decodeUnsendBody(body).target };
    default:
      throw new ProtocolError('unsupported message kind');
  }
}

/** A message taken back: the record stays (the DAG needs it), its contents and envelope go. */
function tombstone(m: MessageRecord, at: number): MessageRecord {
  const { sticker: _s, file: _f, uploadKey: _k, action: _a, replyTo: _r, ...rest } = m;
  return { ...rest, text: '', envelope: new Uint8Array(0), unsent: at };
}

/** Both sides compute the same conversation id from their two per-contact identity keys. */
function conversationId(a: Uint8Array, b: Uint8Array): Uint8Array {
  const [x, y] = compareBytes(a, b) <= 0 ? [a, b] : [b, a];
  return hash(concatBytes(x, y), 16);
}

/** Group peers are not contacts: an alias no person can type (aliases never start with @). */
const PEER_ALIAS = '@peer';

function peerAlias(id: Uint8Array): string {
  return `@peer-${toHex(id).slice(0, 16)}`;
}

function outboxKey(seq: number): string {
  return seq.toString().padStart(12, '0');
}

function fromHexId(id: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(id)) throw new UsageError('message id must be 64 hex characters');
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(id.slice(2 * i, 2 * i + 2), 16);
  return out;
}
