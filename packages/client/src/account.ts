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
 *
 * This file is the facade: the state (store, lock, contacts, invitations, queues, relay
 * connections), loading, the connections and sync, the contacts, the flush loop and the public
 * API. The parts, each handed only what it uses of the account (account/account-context.ts):
 * setting up sessions (account/contact-setup.ts), sending in 1:1 conversations
 * (account/direct-messaging.ts), files (account/file-transfer.ts), the 1:1 outbox
 * (account/direct-outbox.ts), group messages by relay fan-out (account/group-fanout.ts),
 * receiving (account/direct-receiving.ts) and reading (account/conversation-reading.ts). The
 * shapes UIs see live below all of them (public-shapes.ts), the events in account-context.ts:
 * the parts and the group engine never import this file.
 */
import {
  NotFoundError,
  ParusError,
  ProtocolError,
  TransportError,
  UsageError,
  asMap,
  decodeCbor,
  equalBytes,
  formatSafetyNumber,
  generateDhKeyPair,
  generateSignKeyPair,
  parseRelayAddress,
  formatRelayAddress,
  queueKey,
  safetyNumber,
  safetyNumberQrPayload,
  compareSafetyNumberQr,
  systemRandom,
  wipe,
  type Random,
  type RendezvousCard,
  type SignKeyPair,
  type Argon2idCost,
  type SyncContact,
  type SyncOpBody,
  deviceId,
  nameFault,
  MAX_CARD_NAME_CHARS,
  causalOrder,
  fromHex,
} from '@parus/core';
import {
  C,
  DAY,
  SHOWN_KINDS,
  checkAlias,
  fromHexId,
  hex,
  signPair,
  recvQueues,
  sendQueues,
  type AccountContext,
  type AccountEvents,
  type QueueOwner,
} from './account/account-context.ts';
import { ContactSetup } from './account/contact-setup.ts';
import { search, type SearchHit } from './search.ts';
import { ShortInvitations, type MyCode, type ResolvedInvite } from './account/short-invitations.ts';
import { ShortRoomLinks, type RoomLinkPair } from './account/short-room-links.ts';
import { ConversationReading } from './account/conversation-reading.ts';
import { ContactDevices, remoteDevices } from './account/contact-devices.ts';
import { DEVICE_COLLECTION, DeviceRegistry, type DeviceInfo } from './account/device-registry.ts';
import {
  decodeSnapshot,
  encodeSnapshot,
  withDeviceSets,
  type AccountSnapshot,
  type SnapshotContact,
} from './account-snapshot.ts';
import { DirectMessaging } from './account/direct-messaging.ts';
import { OwnDevices } from './account/own-devices.ts';
import { AccountPassphrase, type SettleResult } from './account/account-passphrase.ts';
import { DirectOutbox } from './account/direct-outbox.ts';
import { DirectReceiving } from './account/direct-receiving.ts';
import { Profiles } from './account/profiles.ts';
import { CallSignalling, type CallInfo, type TurnServer } from './account/call-signalling.ts';
import type { CallCandidate } from '@parus/core';
import { FileTransfer } from './account/file-transfer.ts';
import { GroupFanout } from './account/group-fanout.ts';
import type { FileSink, TransferOptions } from './blob-transfer.ts';
import type { ConversationIndex } from './conversation-index.ts';
import { Changes, Emitter, Mutex } from './events.ts';
import { GroupEngine } from './groups/group-engine.ts';
import { decodeFanoutMessage, hasRoster } from './groups/fanout-outbox.ts';
import { DEFAULT_ROOM_LIMITS, type RoomLimits } from './groups/room-limits.ts';
import {
  collectHistory,
  restoreHistoryOps,
  type HistoryChoice,
  type SnapshotMessage,
} from './history-snapshot.ts';
import { MirroredStore } from './mirrored-store.ts';
import type { ContactInfo, FileInfo, MessageInfo, OutgoingFile, UploadInfo } from './public-shapes.ts';
import {
  CONTACT_STATES,
  decodeAccount,
  decodeContact,
  decodeInvite,
  decodeMessage,
  decodeOutbox,
  encodeRecord,
  type AccountRecord,
  type ContactRecord,
  type ContactState,
  type InboundQueue,
  type InviteRecord,
} from './records.ts';
import { SendRoutes } from './send-routes.ts';
import { RelayConnection } from './relay-connection.ts';
import type { Store, StoreOp } from './store.ts';
import type { Transport } from './transport.ts';

// ---- Public shapes (public-shapes.ts; the events in account/account-context.ts) ----------

export type { ContactInfo, FileInfo, MessageInfo, OutgoingFile, UploadInfo, AccountEvents };
export type { FileSink, TransferOptions, TransferProgress } from './blob-transfer.ts';

export interface AccountOptions {
  store: Store;
  transport: Transport;
  rng?: Random;
  now?: () => number;
  /** First end-to-end resend delay; doubles per attempt up to `maxResendMs`. */
  resendMs?: number;
  maxResendMs?: number;
  /**
   * Attempts an unreceipted message gets before it is given up and marked `failed` (default
   * 10: about six days with the default delays; docs/decisions/0025).
   */
  maxSendAttempts?: number;
  /** How long a fresh invitation is valid. */
  inviteTtlMs?: number;
  /** Public rooms: message and join rates (groups/room-limits.ts; defaults there). */
  roomLimits?: Partial<RoomLimits>;
}

/** A second relay's address in canonical form: a relay address, not the home relay (UsageError). */
function secondRelay(home: string, address: string): string {
  let canonical: string;
  try {
    canonical = formatRelayAddress(parseRelayAddress(address));
  } catch {
    throw new UsageError('the second relay is not a relay address (parus://…)');
  }
  if (canonical === formatRelayAddress(parseRelayAddress(home)))
    throw new UsageError('the second relay must be another relay than the first');
  return canonical;
}

/** What marks a delivery as read (direct-receiving.ts seenKey) is kept this long (a relay keeps messages 21 days). */
const SEEN_TTL = 30 * DAY;

// ---- The engine -----------------------------------------------------------------------

export class Account {
  readonly events = new Emitter<AccountEvents>();
  /** Private groups (groups/group-engine.ts). */
  readonly groups: GroupEngine;
  /** The account's devices: the device log, listing, revoking (account/device-registry.ts). */
  readonly devices: DeviceRegistry;
  private readonly store: Store;
  /** The same store, with the outbox kept in memory too (written through). */
  private readonly mirror: MirroredStore;
  private readonly transport: Transport;
  private readonly rng: Random;
  private readonly now: () => number;
  private readonly lock = new Mutex();
  private readonly changes = new Changes();
  private readonly relays = new Map<string, RelayConnection>();
  /** Sends to queues on other relays: forwarded by the own relay when it can (send-routes.ts). */
  private readonly sendRoutes = new SendRoutes({
    home: () => this.account.relay,
    connection: (address) => this.connection(address),
    now: () => this.now(),
  });
  private readonly contactsById = new Map<string, ContactRecord>();
  private readonly invitesById = new Map<string, InviteRecord>();
  /** rid hex → what the queue belongs to. */
  private readonly queues = new Map<string, QueueOwner>();
  private readonly handled = new Map<string, number>();
  /** Per contact (hex id): what sends and receives need of its stored messages (built on use). */
  private readonly conversations = new Map<string, ConversationIndex>();
  private account!: AccountRecord;
  private device!: SignKeyPair;
  private outboxSeq = 0;
  /** Goes up whenever a contact appears, goes, or changes status or send queue (group fan-out caches). */
  private contactsVersion = 0;
  private started = false;
  private closed = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private flushing: Promise<void> | undefined;
  private flushAgain = false;
  private readonly setup: ContactSetup;
  private readonly shortInvites: ShortInvitations;
  private readonly shortRooms: ShortRoomLinks;
  private readonly messaging: DirectMessaging;
  private readonly files: FileTransfer;
  private readonly outbox: DirectOutbox;
  private readonly fanout: GroupFanout;
  private readonly receiving: DirectReceiving;
  private readonly profiles: Profiles;
  private readonly reading: ConversationReading;
  /** Call signalling (account/call-signalling.ts, decision 0046). */
  private readonly calls: CallSignalling;
  /** Device sets toward contacts, sessions with their devices (account/contact-devices.ts). */
  private readonly contactDevices: ContactDevices;

  private constructor(opts: AccountOptions) {
    this.mirror = new MirroredStore(opts.store, [C.outbox, C.fanout, C.rosters]);
    this.store = this.mirror;
    this.transport = opts.transport;
    this.rng = opts.rng ?? systemRandom;
    this.now = opts.now ?? (() => Date.now());
    this.resendMs = opts.resendMs ?? 60 * 60 * 1000;
    this.maxResendMs = opts.maxResendMs ?? DAY;
    this.maxSendAttempts = opts.maxSendAttempts ?? 10;
    this.inviteTtlMs = opts.inviteTtlMs ?? 7 * DAY;
    this.roomLimits = { ...DEFAULT_ROOM_LIMITS, ...opts.roomLimits };
    this.groups = new GroupEngine(this.groupHost());
    // The parts see the account through these (each through its own Pick of them).
    const ctx: AccountContext = {
      store: this.store,
      mirror: this.mirror,
      rng: this.rng,
      now: () => this.now(),
      lock: this.lock,
      events: this.events,
      groups: this.groups,
      relays: this.relays,
      contactsById: this.contactsById,
      invitesById: this.invitesById,
      queues: this.queues,
      conversations: this.conversations,
      refusing: this.refusing,
      resendMs: this.resendMs,
      maxResendMs: this.maxResendMs,
      maxSendAttempts: this.maxSendAttempts,
      inviteTtlMs: this.inviteTtlMs,
      self: () => this.account,
      device: () => this.device,
      closed: () => this.closed,
      contactsVersion: () => this.contactsVersion,
      contactsChanged: () => void this.contactsVersion++,
      nextOutboxSeq: () => ++this.outboxSeq,
      kickFlush: () => this.kickFlush(),
      flushAgain: () => void (this.flushAgain = true),
      connection: (address) => this.connection(address),
      sendPath: (address) => this.sendRoutes.path(address),
      connected: (address, timeoutMs) => this.connected(address, timeoutMs),
      newQueue: (relayAddress, senderKey) => this.newQueue(relayAddress, senderKey),
      newQueues: (senderKey) => this.newQueues(senderKey),
      subscribeQueue: (q) => this.subscribeQueue(q),
      queueOf: (owner, rid) => this.queueOf(owner, rid),
      byAlias: (alias) => this.byAlias(alias),
      mustContact: (alias) => this.mustContact(alias),
      mustSendable: (alias) => this.mustSendable(alias),
      info: (c) => this.info(c),
      saveContact: (c, extra) => this.saveContact(c, extra),
      forgetContact: (c) => this.forgetContact(c),
      outboxOp: (c, envelope, message) => this.outbox.outboxOp(c, envelope, message),
      control: (c, kind, body) => this.outbox.control(c, kind, body),
      groupEnvelope: (c, body) => this.outbox.groupEnvelope(c, body),
      statusOp: (c, id, status) => this.outbox.statusOp(c, id, status),
      settleOutbox: (c, ids) => this.settleOutbox(c, ids),
      syncOps: (bodies) => this.own.syncOps(bodies),
      resendOps: (c, ids) => this.outbox.resendOps(c, ids),
      conversation: (c) => this.reading.conversation(c),
      messageInfo: (c, m) => this.reading.messageInfo(c, m),
    };
    this.setup = new ContactSetup(ctx);
    this.shortInvites = new ShortInvitations(ctx, (o) => this.setup.makeCard(o));
    this.shortRooms = new ShortRoomLinks(ctx);
    this.messaging = new DirectMessaging(ctx);
    this.files = new FileTransfer(ctx, this.messaging);
    this.outbox = new DirectOutbox(ctx);
    this.fanout = new GroupFanout(ctx);
    this.devices = new DeviceRegistry(ctx);
    this.contactDevices = new ContactDevices(ctx, this.devices);
    this.own = new OwnDevices(ctx, this.devices, this.setup);
    this.setup.own = this.own;
    // A group made, joined or newly linked on another device of mine (decision 0060).
    this.own.onGroupSection = (doors) => this.groupSectionArrived(doors);
    // A hidden group peer's new device gets my chain (decision 0060), as a contact's does.
    this.contactDevices.onPeerDevices = (c) =>
      void this.groups
        .memberDevicesChanged(c)
        .then(() => this.kickFlush())
        .catch(() => undefined);
    this.devices.onRevoke = (id) => this.own.revoked(id);
    // The sets I sign toward contacts, and a rotation's identity, on all my devices (decision 0067).
    this.contactDevices.shareSet = (body) => this.own.syncOps([body]);
    this.own.mergeMine = (c, op, current) => this.contactDevices.mergeMine(c, op, current);
    this.passphrase = new AccountPassphrase(ctx, this.devices, {
      syncOps: (bodies) => this.own.syncOps(bodies),
      resealGroups: (from, to) => this.groups.resealNextKeys(from, to),
      afterRevoke: (id, accountKey) => this.afterOwnRevoke(id, accountKey),
    });
    this.calls = new CallSignalling(ctx, this.messaging, (e) => this.events.emit('call', e));
    this.profiles = new Profiles(ctx, (r) => (this.account = r));
    this.receiving = new DirectReceiving(
      ctx,
      this.setup,
      this.contactDevices,
      this.own,
      this.calls,
      this.profiles,
    );
    this.reading = new ConversationReading(ctx);
    // A new contact here goes to my other devices, and copies of my messages that waited for it come in.
    this.events.on('contact', ({ alias, change }) => {
      if (change === 'added' || change === 'active' || change === 'devices')
        void this.contactAppeared(alias).catch(() => undefined);
      // A new contact gets my profile once its session is up (decision 0056).
      if (change === 'added' || change === 'active' || change === 'key-changed')
        void this.profiles.sendTo(alias).catch(() => undefined);
    });
    // Groups across devices (decision 0040): a restored contact's session links the restored
    // groups' members it reaches; a contact whose devices changed gets a new chain of mine.
    this.events.on('contact', (e) => {
      if (e.change !== 'added' && e.change !== 'devices') return;
      const c = [...this.contactsById.values()].find((x) => !x.peer && !x.own && x.alias === e.alias);
      if (!c) return;
      const work = e.change === 'added' ? this.groups.linkRestored(c) : this.groups.memberDevicesChanged(c);
      void work.then(() => this.kickFlush()).catch(() => undefined);
    });
  }
  private readonly own: OwnDevices;
  private readonly passphrase: AccountPassphrase;
  private readonly resendMs: number;
  private readonly maxResendMs: number;
  private readonly maxSendAttempts: number;
  private readonly inviteTtlMs: number;
  private readonly roomLimits: RoomLimits;
  /** Refusals of room joins on their way to the joiners (sent once; sync and close wait for them). */
  private readonly refusing = new Set<Promise<unknown>>();

  /** Creates a new account (a fresh device key) in an empty store. */
  /** `relay2`: a second relay where the account keeps receive queues too (failover, decision 0037). */
  static async create(
    opts: AccountOptions & { name: string; relay: string; relay2?: string },
  ): Promise<Account> {
    const a = new Account(opts);
    if (await opts.store.get(C.account, 'self')) throw new UsageError('this store already holds an account');
    const name = opts.name.trim();
    // The one name rule (core display-text.ts), as the card and the contact hello carrying it check.
    const fault = nameFault(name, MAX_CARD_NAME_CHARS);
    if (fault !== undefined) throw new UsageError(`name ${fault}`);
    parseRelayAddress(opts.relay);
    const device = generateSignKeyPair(a.rng);
    const record: AccountRecord = { name, relay: opts.relay, device: device.secretKey, created: a.now() };
    if (opts.relay2 !== undefined) record.relay2 = secondRelay(opts.relay, opts.relay2);
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
      for (const q of recvQueues(c)) this.queues.set(hex(q.rid), { kind: 'contact', id: hex(c.id) });
    }
    for (const { value } of await this.store.list(C.invites)) {
      const i = decodeInvite(value);
      this.invitesById.set(hex(i.id), i);
      if (!i.used)
        for (const q of i.queue2 ? [i.queue, i.queue2] : [i.queue])
          this.queues.set(hex(q.rid), { kind: 'invite', id: hex(i.id) });
    }
    for (const { value } of this.mirror.entries(C.outbox, decodeOutbox)) {
      this.outboxSeq = Math.max(this.outboxSeq, value.seq);
    }
    for (const { value } of this.mirror.entries(C.fanout, decodeFanoutMessage)) {
      if (hasRoster(value)) this.outboxSeq = Math.max(this.outboxSeq, value.seq);
    }
    this.contactsVersion++;
    await this.own.load();
    await this.groups.load();
    await this.fanout.upgradeFanoutEntries();
    await this.fanout.dropUnusedRosters();
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
      accountKeyPublic: () => this.devices.accountPublic(),
      emitMessage: (info) => this.events.emit('message', info),
      contactById: (id) => this.contactsById.get(hex(id)),
      contactsVersion: () => this.contactsVersion,
      contactByAlias: (alias) => this.mustContact(alias),
      sendOp: (c, body, message) => this.outbox.groupOp(c, body, message),
      fanoutOps: (members, m) => this.fanout.groupFanoutOps(members, m),
      settleOps: (c, ids) => this.settleOutbox(c, ids),
      makePeerCard: async (group) => (await this.setup.makeCard({ oneTime: true, peer: group })).link,
      acceptPeerCard: (link, group) => this.setup.answerCard(link, { peer: group }),
      roomLimits: this.roomLimits,
      // A door card names nobody: whoever holds the room link sees it.
      makeDoorCard: async (group) =>
        (await this.setup.makeCard({ oneTime: false, peer: group, anonymous: true })).card,
      answerRoomDoor: (link, group, request) => this.setup.answerCard(link, { peer: group, room: request }),
      sendNow: async (c, kind, body, device) => {
        const to = device ? [device] : remoteDevices(c);
        const sent = await Promise.all(
          to.map((d) =>
            this.calls.sendNow(hex(c.id), d, kind, body).then(
              () => true,
              () => false,
            ),
          ),
        );
        if (!sent.some(Boolean)) throw new UsageError('the signal could not be sent: no relay reachable');
      },
      emitCall: (e) => this.events.emit('groupCall', e),
      makeContactCard: async () => (await this.setup.makeCard({ oneTime: true })).card,
      acceptContactCard: (link, alias) => this.acceptInvite(link, alias === undefined ? {} : { alias }),
      syncOps: (bodies) => this.own.syncOps(bodies),
      ownDevices: () => this.own.sessions().length > 0,
      contactByIdentity: (identity, group) => {
        for (const c of this.contactsById.values())
          if (!c.own && equalBytes(c.theirIdentity, identity) && (!c.peer || equalBytes(c.peer, group)))
            return c;
        return undefined;
      },
      ownRead: (group) => this.own.readUpTo(group),
      ownDeleted: (group, id, lamport) => this.own.deletedHere(group, id, lamport),
    };
  }

  get name(): string {
    return this.account.name;
  }

  // ---- Profile (account/profiles.ts, decision 0056) ---------------------------------------

  /** My display name and avatar (a JPEG or PNG), as my contacts get them. */
  async profile(): Promise<{ name: string; avatar?: Uint8Array }> {
    return this.profiles.mine();
  }

  /**
   * Changes my display name and/or avatar (`avatar: null` removes it) and sends them end to end
   * to every contact (every device, through the outbox: an offline contact gets them later) and
   * to my other devices. UsageError for a bad name; DecodeError for an avatar that is not a JPEG
   * or PNG, QuotaError for one over 48 KiB or 256×256 px (core profile-body.ts); nothing changes.
   */
  async setProfile(change: { name?: string; avatar?: Uint8Array | null }): Promise<{
    name: string;
    avatar?: Uint8Array;
  }> {
    return this.profiles.set(change);
  }

  /** The avatar contact `alias` sent (JPEG or PNG bytes), if any. */
  async contactAvatar(alias: string): Promise<Uint8Array | undefined> {
    return this.profiles.avatarOf(this.mustContact(alias));
  }

  get relay(): string {
    return this.account.relay;
  }

  /** The second relay the account receives on too (decision 0037), if it has one. */
  get relay2(): string | undefined {
    return this.account.relay2;
  }

  get deviceKey(): Uint8Array {
    return this.device.publicKey;
  }

  // ---- Connections ----------------------------------------------------------------------

  private connection(address: string): RelayConnection {
    let r = this.relays.get(address);
    if (!r) {
      if (this.closed) throw new TransportError('the account is closed');
      r = new RelayConnection({
        address,
        transport: this.transport,
        rng: this.rng,
        onMessage: (rid, mid, body) => this.onDelivery(address, rid, mid, body),
        onState: (state) => {
          this.events.emit('connection', { relay: address, state });
          if (state === 'connected') this.kickFlush();
        },
        onRetry: (retryAt) =>
          this.events.emit('connection', { relay: address, state: 'disconnected', retryAt }),
      });
      this.relays.set(address, r);
      if (this.started) r.connect();
    }
    return r;
  }

  /**
   * Every relay link that is waiting to reconnect tries at once (the network came back, the
   * page became visible, the user asked); links that are up or trying are left alone.
   */
  retryNow(): void {
    if (!this.started) return;
    for (const r of this.relays.values()) r.retryNow();
  }

  /**
   * The network may have changed (the browser's `online`, the page shown again): every link
   * waiting to reconnect tries at once, and every link that looks up must answer a ping
   * within `timeoutMs` or is dropped and reconnected (RelayConnection.checkAlive).
   */
  async checkConnections(timeoutMs?: number): Promise<void> {
    if (!this.started) return;
    await Promise.all([...this.relays.values()].map((r) => r.checkAlive(timeoutMs)));
  }

  /** When the link to `relay` (the account's own by default) tries next, while it waits to. */
  retryAt(relay = this.account.relay): number | undefined {
    return this.relays.get(relay)?.retryAt;
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
      const q = this.queueOf(owner, ridHex);
      if (q) void this.subscribeQueue(q, ridHex).catch(() => undefined);
    }
    this.connection(this.account.relay);
    if (this.account.relay2) this.connection(this.account.relay2);
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

  private queueOf(owner: QueueOwner, ridHex: string): InboundQueue | undefined {
    let queues: InboundQueue[] = [];
    if (owner.kind === 'invite') {
      const i = this.invitesById.get(owner.id);
      if (i) queues = i.queue2 ? [i.queue, i.queue2] : [i.queue];
    } else {
      const c = this.contactsById.get(owner.id);
      if (c) queues = recvQueues(c);
    }
    return queues.find((q) => hex(q.rid) === ridHex);
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
    // The account's own relays: one of them must answer (with a second relay, one down is
    // failover, decision 0037).
    const own = [this.account.relay, ...(this.account.relay2 ? [this.account.relay2] : [])].map((a) =>
      this.connection(a),
    );
    const first = Math.min(opts.connectTimeoutMs ?? 5_000, Math.max(1, deadline - this.now()));
    try {
      await Promise.any(own.map((r) => r.whenConnected(first)));
    } catch (e) {
      throw e instanceof AggregateError ? (e.errors[0] as Error) : e;
    }
    await this.introduceRestored();
    // Other relays (a contact's, a group member's) were asked to connect by start() or the
    // first flush; what waits for them is sendable only once they are connected, so give each
    // one connect timeout (once per sync: one that is down does not hold every pass).
    const waited = new Set<RelayConnection>(own);
    // A queue on a relay that was given its timeout and is down is not waited for.
    const down = (rid: string): boolean => {
      const owner = this.queues.get(rid);
      const q = owner && this.queueOf(owner, rid);
      const r = q && this.relays.get(q.relay);
      return r !== undefined && !r.connected && waited.has(r);
    };
    let previous = -1;
    for (;;) {
      const others = [...this.relays.values()].filter((r) => !r.connected && !waited.has(r));
      for (const r of others) waited.add(r);
      const timeout = Math.min(opts.connectTimeoutMs ?? 5_000, Math.max(1, deadline - this.now()));
      await Promise.all(others.map((r) => r.whenConnected(timeout).catch(() => undefined)));
      const subscribed = [...this.queues.keys()].every(
        (rid) => this.pendingAtSubscribe.has(rid) || down(rid),
      );
      const read = [...this.pendingAtSubscribe].every(
        ([rid, n]) => (this.handled.get(rid) ?? 0) >= n || down(rid),
      );
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
        const connecting = [...this.relays.values()].some((r) => !r.connected && !waited.has(r));
        // Done when nothing is left, or when a whole pass could not send what is left
        // (a relay refusing it): that waits for a later run, with its backoff.
        if ((left === 0 || left === previous) && !connecting && !this.flushAgain && !this.groups.busy) return;
        previous = left;
      }
      if (this.now() > deadline) throw new ProtocolError('sync did not finish in time (is a relay down?)');
      await this.changes.next(200);
    }
  }

  private async sendableCount(): Promise<number> {
    return this.outbox.sendableCount() + this.fanout.sendableCount();
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

  /** A delivery from a relay: received under the lock (account/direct-receiving.ts), then acked. */
  private async onDelivery(
    relay: string,
    rid: Uint8Array,
    mid: Uint8Array,
    sealed: Uint8Array,
  ): Promise<void> {
    const ridHex = hex(rid);
    try {
      await this.lock.run(() => this.receiving.receive(relay, rid, mid, sealed));
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

  private async newQueues(senderKey?: Uint8Array): Promise<{ first: InboundQueue; second?: InboundQueue }> {
    const relay2 = this.account.relay2;
    if (relay2 === undefined) return { first: await this.newQueue(this.account.relay, senderKey) };
    const made = await Promise.allSettled([
      this.newQueue(this.account.relay, senderKey),
      this.newQueue(relay2, senderKey),
    ]);
    const ok = made.flatMap((m) => (m.status === 'fulfilled' ? [m.value] : []));
    if (ok.length === 0) throw (made[0] as PromiseRejectedResult).reason;
    return ok.length === 2 ? { first: ok[0]!, second: ok[1]! } : { first: ok[0]! };
  }

  /**
   * Adds a second relay (decision 0037): from now on new cards and new contacts get a queue
   * there too, and every existing contact gets one now, told inside our session (a `queue`
   * message) with the sender key my sends are authenticated with. A contact whose own sender
   * key I never learnt (made before 0037) gets the queue unsecured and is asked for that key;
   * the queue is secured when the answer comes. UsageError for an account that has another one
   * already. The same relay again tells the contacts a first call left out (a relay that refused
   * a queue, a connection lost); `failed` counts those left out this time.
   */
  async addRelay(address: string): Promise<{ relay2: string; told: number; failed: number }> {
    const relay2 = secondRelay(this.account.relay, address);
    if (this.account.relay2 !== undefined && this.account.relay2 !== relay2)
      throw new UsageError(`this account already has a second relay (${this.account.relay2})`);
    await this.connected(relay2);
    if (this.account.relay2 === undefined) {
      this.account = { ...this.account, relay2 };
      await this.lock.run(() =>
        this.store.batch([
          { type: 'put', collection: C.account, key: 'self', value: encodeRecord(this.account) },
        ]),
      );
    }
    let told = 0;
    let failed = 0;
    for (const id of [...this.contactsById.keys()]) {
      try {
        if (await this.setup.addSecondQueue(id)) told++;
      } catch (e) {
        if (!(e instanceof ParusError)) throw e;
        failed++;
      }
    }
    this.kickFlush();
    return { relay2, told, failed };
  }

  /** The relays a contact's messages to me arrive on, and those mine to it go to, in order of use. */
  contactRelays(alias: string): { receive: string[]; send: string[] } {
    const c = this.mustContact(alias);
    return { receive: recvQueues(c).map((q) => q.relay), send: sendQueues(c).map((q) => q.relay) };
  }

  // ---- Invitations (account/contact-setup.ts) -------------------------------------------

  /**
   * Makes a rendez-vous card: a one-time card by default, or a long-lived contact address. With
   * `short`, the card is also kept sealed on my relay and `short` is its short link (decision
   * 0045), when the relay keeps card records.
   */
  async createInvite(
    opts: { oneTime?: boolean; ttlMs?: number; short?: boolean } = {},
  ): Promise<{ link: string; card: RendezvousCard; short?: string }> {
    const made = await this.setup.makeCard(opts);
    if (!opts.short) return made;
    const short = await this.shortInvites.publish(made.card);
    return short ? { ...made, short } : made;
  }

  /**
   * Answers someone's rendez-vous card, given as its long link or its short one (fetched from
   * its relay first): a contact request goes to their queue.
   */
  async acceptInvite(link: string, opts: { alias?: string; replace?: boolean } = {}): Promise<ContactInfo> {
    const resolved = await this.shortInvites.resolve(link);
    return this.info(await this.setup.answerCard(resolved.link, opts));
  }

  /**
   * What a link given to me holds, before answering it: the card (fetched when the link is
   * short), its long link, and the friend it already made if it is an old link of theirs.
   */
  resolveInvite(link: string): Promise<ResolvedInvite> {
    return this.shortInvites.resolve(link);
  }

  /** My reusable QR code (好友條碼): a long-lived card, short link when the relay allows. */
  myCode(): Promise<MyCode> {
    return this.shortInvites.myCode();
  }

  /** Resets my QR code: the old one is refused from now on, a new one is made. */
  resetMyCode(): Promise<MyCode> {
    return this.shortInvites.resetMyCode();
  }

  /**
   * A public room's link to hand out (decision 0059): the short one (`parus:r/`, the signed
   * room link sealed on the door's relay) beside the long one; with `rotate` a new door secret,
   * and the old short link's record is withdrawn. The long one alone when the relay keeps no
   * card records.
   */
  async roomLink(ref: string, opts: { rotate?: boolean } = {}): Promise<RoomLinkPair> {
    const long = await this.groups.roomLink(ref, opts);
    return this.shortRooms.forDoor(this.groups.get(ref).id, long);
  }

  /**
   * The long form of a room link given to me (a short one is fetched from its relay): what
   * `groups.joinRoom` takes. The refusals are the long form's (DecodeError, VerificationError,
   * ProtocolError for a withdrawn or expired one, TransportError or TimeoutError).
   */
  resolveRoomLink(link: string): Promise<string> {
    return this.shortRooms.resolve(link);
  }

  // ---- Contacts -------------------------------------------------------------------------

  private byAlias(alias: string): ContactRecord | undefined {
    for (const c of this.contactsById.values()) if (c.alias === alias && !c.peer && !c.own) return c;
    return undefined;
  }

  private mustContact(alias: string): ContactRecord {
    const c = this.byAlias(alias);
    if (!c) throw new NotFoundError(`no contact named ${alias}`);
    return c;
  }

  private mustSendable(alias: string): ContactRecord {
    const c = this.mustContact(alias);
    if (c.state === 'compromised') throw new UsageError(`${alias} is marked compromised; sending is refused`);
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
      ...(c.profileName !== undefined ? { profileName: c.profileName } : {}),
      ...(c.hasAvatar ? { avatar: true } : {}),
    };
  }

  contacts(): ContactInfo[] {
    return [...this.contactsById.values()]
      .filter((c) => !c.peer && !c.own)
      .sort((a, b) => a.created - b.created)
      .map((c) => this.info(c));
  }

  // ---- Snapshots (account-snapshot.ts, decision 0031) ----------------------------------

  /**
   * The account snapshot a backup holds or a link carries: the profile, the device log
   * (started by `devices.ensureLog`), the contacts' identities, names and states, and the 1:1
   * history the user chose (`history`, default none; decision 0041); never ratchet state.
   */
  async snapshot(opts: { history?: HistoryChoice } = {}): Promise<AccountSnapshot> {
    const devices = await this.devices.part();
    // Every contact gets my device set first, so a new device can extend it (decision 0038).
    await this.contactDevices.publishPending();
    const inboxes = await this.own.cards();
    const people = [...this.contactsById.values()]
      .filter((c) => !c.peer && !c.own)
      .sort((a, b) => a.created - b.created);
    const contacts = people.map((c) => {
      const out: SnapshotContact = {
        alias: c.alias,
        name: c.name,
        state: c.state,
        identity: c.identity,
        theirIdentity: c.theirIdentity,
        id: c.id,
      };
      if (c.device) out.device = c.device;
      return withDeviceSets(out, c);
    });
    const snapshot: AccountSnapshot = {
      name: this.account.name,
      relay: this.account.relay,
      created: this.account.created,
      made: this.now(),
      devices,
      contacts,
      inboxes,
      groups: await this.groups.snapshotSection((t) => contacts.some((c) => equalBytes(c.theirIdentity, t))),
    };
    const history = await this.snapshotHistory(people, opts.history ?? 'none');
    if (history.length > 0) snapshot.history = history;
    return snapshot;
  }

  /** The 1:1 messages a snapshot carries (history-snapshot.ts). */
  private async snapshotHistory(people: ContactRecord[], choice: HistoryChoice): Promise<SnapshotMessage[]> {
    return (await collectHistory({ store: this.store, contacts: people, choice, now: this.now() })).messages;
  }

  /**
   * Makes this new account a new device of the snapshot's account: it adds itself to the
   * device log with the account key from `passphrase` (AuthError if wrong), keeps the
   * contacts' identities (`restoredContacts`) for the per-device sessions that will use them
   * (decision 0030), and writes the snapshot's history under each contact's id.
   */
  async restoreSnapshot(
    snapshot: AccountSnapshot,
    opts: { passphrase: string; deviceName: string },
  ): Promise<void> {
    await this.devices.adopt(snapshot.devices, { passphrase: opts.passphrase, name: opts.deviceName });
    // The other devices' inbox cards: this new device opens its sessions with them (decision 0039).
    await this.own.takeCards(snapshot.inboxes ?? []);
    // The groups become the engine's now (adoptSnapshotGroups): the record keeps the contacts.
    const { history, groups: _groups, ...kept } = snapshot;
    await this.store.batch([
      {
        type: 'put',
        collection: DEVICE_COLLECTION,
        key: 'restored',
        value: encodeSnapshot({ ...kept, devices: await this.devices.part() }),
      },
    ]);
    await this.restoreHistory(history ?? []);
    await this.adoptSnapshotGroups(snapshot);
  }

  /** The snapshot's messages into the store, in batches (history-snapshot.ts). */
  private async restoreHistory(messages: SnapshotMessage[]): Promise<void> {
    const ops = restoreHistoryOps(messages);
    for (let i = 0; i < ops.length; i += 1000) await this.store.batch(ops.slice(i, i + 1000));
    this.conversations.clear();
  }

  /**
   * The snapshot's groups and rooms become this device's (groups/group-snapshot.ts, decision
   * 0040): linked to the contacts this device has, the others as their sessions come
   * (`groups.linkRestored`); the room doors' queues are served from here on.
   */
  private async adoptSnapshotGroups(snapshot: AccountSnapshot): Promise<void> {
    const byIdentity = new Map<string, ContactRecord>();
    for (const c of this.contactsById.values()) byIdentity.set(hex(c.theirIdentity), c);
    const doors = await this.groups.adoptSnapshot(snapshot.groups ?? [], (t) => byIdentity.get(hex(t)));
    this.serveDoors(doors);
  }

  /** Room doors this device serves from now on (a restored or synced room I keep, decision 0040). */
  private serveDoors(doors: readonly InviteRecord[]): void {
    for (const door of doors) {
      this.invitesById.set(hex(door.id), door);
      for (const q of door.queue2 ? [door.queue, door.queue2] : [door.queue]) {
        this.queues.set(hex(q.rid), { kind: 'invite', id: hex(door.id) });
        if (this.started) void this.subscribeQueue(q).catch(() => undefined);
      }
    }
  }

  /**
   * After a device of this account was revoked (decision 0030 "Revocation" step 3; 0040): with
   * the passphrase, my member key in each group becomes the key my join committed to (a
   * `rekey` the members check against the commitment), and my sender chains are replaced, so
   * the revoked device's copies are useless for what comes next. Returns the groups rekeyed.
   */
  async rotateGroupMemberKeys(passphrase: string): Promise<number> {
    return this.devices.withAccountKey(passphrase, (key) => this.groups.rotateMemberKeys(key));
  }

  /**
   * The contacts a restore or a link brought that are not contacts of this device yet: those
   * whose device set the snapshot lacks (a contact that has not published one), or all of them
   * until `sync` (or `introduceRestored`) has introduced this device to them.
   */
  async restoredContacts(): Promise<SnapshotContact[]> {
    const raw = await this.store.get(DEVICE_COLLECTION, 'restored');
    return raw ? decodeSnapshot(raw).contacts : [];
  }

  /**
   * The history a restore or a link brought for one restored contact (by alias), in causal
   * order: the contact's history once it is a contact of this device (it keeps the snapshot's
   * contact id, so the carried messages are its messages), else what is waiting for it.
   */
  async restoredHistory(alias: string): Promise<MessageInfo[]> {
    if (this.contacts().some((c) => c.alias === alias)) return this.history(alias);
    const contact = (await this.restoredContacts()).find((c) => c.alias === alias);
    if (!contact?.id) return [];
    const records = (await this.store.list(C.messages(contact.id))).map((e) => decodeMessage(e.value));
    const byId = new Map(records.map((m) => [hex(m.id), m]));
    return causalOrder(records).map((n) => {
      const m = byId.get(hex(n.id))!;
      const info: MessageInfo = {
        id: hex(m.id),
        alias,
        dir: m.dir,
        kind: m.kind,
        text: m.text,
        ts: m.ts,
        lamport: m.lamport,
        status: m.status,
      };
      if (m.sticker) info.sticker = { ...m.sticker };
      return info;
    });
  }

  private introducing: Promise<void> | undefined;
  private introducingPeers: Promise<void> | undefined;

  /**
   * A group section from another device of mine was taken in (decision 0060): its room doors
   * are served here, its hidden peers introduced to this device, its members linked to the
   * sessions this device has with them.
   */
  private groupSectionArrived(doors: readonly InviteRecord[]): void {
    this.serveDoors(doors);
    void this.introduceRestoredPeers()
      .then(() => this.groups.linkWaiting())
      .then(() => this.kickFlush())
      .catch(() => undefined);
  }

  /**
   * The hidden peers of restored or synced groups (decision 0060, 0040 "Not built"): this device
   * introduces itself to each whose device set it has, as to a restored contact (decision 0038),
   * and links the members they reach.
   */
  private async introduceRestoredPeers(): Promise<void> {
    this.introducingPeers ??= (async () => {
      for (const { group, peer } of await this.groups.restoredPeers()) {
        if (!peer.theirSet || !peer.senderKey) continue;
        const here = [...this.contactsById.values()].some(
          (c) =>
            c.peer &&
            c.status === 'active' &&
            equalBytes(c.peer, group) &&
            equalBytes(c.theirIdentity, peer.theirIdentity),
        );
        if (here) continue;
        try {
          await this.groups.linkRestored(await this.contactDevices.introducePeer(peer, group));
        } catch (e) {
          const error = e instanceof ParusError ? e : new ProtocolError('introduction failed', { cause: e });
          this.events.emit('error', { error, context: 'a restored group peer could not be introduced' });
        }
      }
    })().finally(() => (this.introducingPeers = undefined));
    return this.introducingPeers;
  }

  /**
   * Makes the restored contacts this device's contacts (decision 0038): for each whose device
   * set the snapshot carries, a queue, a new set of mine and an introduction to each of their
   * devices; the others stay in `restoredContacts()`. `sync` runs it; needs the home relay.
   */
  async introduceRestored(): Promise<void> {
    this.introducing ??= (async () => {
      const raw = await this.store.get(DEVICE_COLLECTION, 'restored');
      if (!raw) return;
      const snapshot = decodeSnapshot(raw);
      const left = await this.contactDevices.introduceRestored(snapshot.contacts);
      await this.introduceRestoredPeers();
      if (left.length === snapshot.contacts.length) return;
      await this.lock.run(() =>
        this.store.batch([
          {
            type: 'put',
            collection: DEVICE_COLLECTION,
            key: 'restored',
            value: encodeSnapshot({ ...snapshot, contacts: left }),
          },
        ]),
      );
    })().finally(() => (this.introducing = undefined));
    return this.introducing;
  }

  /** Signs my device set toward `alias` again and sends it (after my queues or prekeys changed). */
  async republishDeviceSet(alias: string): Promise<void> {
    await this.contactDevices.republish(alias);
  }

  /** A contact's devices (first one first): id as `parus devices` shows ids, key in hex. */
  contactDeviceList(alias: string): Array<{ id: string; key: string }> {
    return this.contactDevices.contactDevices(alias);
  }

  /**
   * Revokes one of my devices (a prefix of its id is enough; the passphrase gives the account
   * key, AuthError if wrong) and tells every contact: a device set without it, signed by the
   * pre-rotated identity (decision 0030 "Revocation", 0038). Contacts then drop its sessions.
   */
  async revokeDevice(idOrPrefix: string, passphrase: string): Promise<DeviceInfo[]> {
    const before = await this.devices.list();
    const devices = await this.devices.revoke(idOrPrefix, passphrase);
    const gone = devices.find((d) => d.revoked && !before.find((b) => b.id === d.id)?.revoked);
    const key = gone && (await this.devices.deviceKey(gone.id));
    if (key)
      await this.devices.withAccountKey(passphrase, async (accountKey) => {
        await this.contactDevices.rotateAfterRevoke(key, accountKey);
        // Groups: my member keys move to the committed ones, my chains are replaced (0040).
        await this.groups.rotateMemberKeys(accountKey);
      });
    return devices;
  }

  /** A revoke of mine signed again after a fork (decision 0061): as `revokeDevice` after its op. */
  private async afterOwnRevoke(id: string, accountKey: SignKeyPair): Promise<void> {
    await this.own.revoked(id);
    const key = await this.devices.deviceKey(id);
    if (key) await this.contactDevices.rotateAfterRevoke(key, accountKey);
    await this.groups.rotateMemberKeys(accountKey);
  }

  /**
   * Changes the account passphrase (decision 0061; account/account-passphrase.ts): 'account'
   * when `oldPassphrase` was the account passphrase (a `passphrase` op, what was sealed to the
   * old key sealed to the new one, the log sent to my other devices), 'device' when the new one
   * already was (changed on another device: this device catches up). AuthError otherwise, and
   * nothing changed; UsageError for a new passphrase under 8 characters. The store passphrase
   * of this device is the caller's (SealedStore.changePassphrase).
   */
  changeAccountPassphrase(
    oldPassphrase: string,
    newPassphrase: string,
    opts: { cost: Argon2idCost },
  ): Promise<'account' | 'device'> {
    return this.passphrase.change(oldPassphrase, newPassphrase, opts.cost);
  }

  /**
   * Given the passphrases the user typed: what waits for them is done (sealed secrets moved to
   * the account key in force, ops of mine that lost a fork signed again), decision 0061.
   */
  settleDevices(passphrases: readonly string[]): Promise<SettleResult> {
    return this.passphrase.settle(passphrases);
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

  /**
   * Whether a scanned safety-number QR payload is `alias`'s, for our conversation (core
   * compareSafetyNumberQr): false when the keys differ; DecodeError when it is no such payload.
   */
  checkSafetyQr(alias: string, scanned: Uint8Array): boolean {
    const c = this.mustContact(alias);
    return compareSafetyNumberQr(scanned, c.identity.slice(32, 64), c.theirIdentity);
  }

  async setContactState(alias: string, state: ContactState): Promise<ContactInfo> {
    if (!CONTACT_STATES.includes(state)) throw new UsageError('unknown contact state');
    const info = await this.lock.run(async () => {
      const c = this.mustContact(alias);
      const next: ContactRecord = { ...c, state };
      if (state === 'validated') delete next.keyChanged;
      await this.saveContact(next, await this.own.syncOps([{ t: 'state', conv: c.conv, state }]));
      const info = this.info(next);
      this.events.emit('contact', { alias, change: 'state', info });
      return info;
    });
    this.kickFlush();
    return info;
  }

  async renameContact(alias: string, newAlias: string): Promise<ContactInfo> {
    const to = checkAlias(newAlias);
    return this.lock.run(async () => {
      const c = this.mustContact(alias);
      if (this.byAlias(to)) throw new UsageError(`${to} is already taken`);
      const next = { ...c, alias: to };
      await this.saveContact(next, await this.own.syncOps([{ t: 'alias', conv: c.conv, alias: to }]));
      this.kickFlush();
      return this.info(next);
    });
  }

  // ---- Across my devices (account/own-devices.ts, decision 0039) -----------------------

  /**
   * Deletes one message for me (either direction), here and on my other devices: its contents
   * go, a tombstone stays that no late copy undoes. The contact keeps theirs.
   */
  async deleteMessage(alias: string, messageId: string): Promise<void> {
    const id = fromHexId(messageId);
    await this.lock.run(async () => {
      const c = this.mustContact(alias);
      const raw = await this.store.get(C.messages(c.id), hex(id));
      const m = raw && decodeMessage(raw);
      // A deleted message is gone from the conversation, as one that never was.
      if (!m || m.deleted !== undefined) throw new NotFoundError('no such message');
      await this.syncThenApply(c, [{ t: 'del', conv: c.conv, id, at: m.lamport }]);
    });
    this.kickFlush();
  }

  /** Deletes a whole conversation for me, here and on my other devices; what comes after it shows. */
  async deleteConversation(alias: string): Promise<number> {
    const n = await this.lock.run(async () => {
      const c = this.mustContact(alias);
      const upto = (await this.reading.conversation(c)).nextLamport() - 1;
      return this.syncThenApply(c, [{ t: 'clear', conv: c.conv, upto }]);
    });
    this.kickFlush();
    return n;
  }

  /** Under the lock: sync operations for my other devices, and what they change here, in one batch. */
  private async syncThenApply(c: ContactRecord, bodies: SyncOpBody[]): Promise<number> {
    const ops = await this.own.syncOps(bodies);
    const applied = await this.own.conversationOps(c);
    await this.store.batch([...ops, ...applied.ops]);
    for (const f of applied.after) f();
    return applied.after.length;
  }

  /** Mutes a chat until `until` (ms since the epoch; 0 unmutes), on every device of mine. */
  async setMuted(alias: string, until: number): Promise<void> {
    if (!Number.isSafeInteger(until) || until < 0)
      throw new UsageError('until must be ms since the epoch, or 0');
    await this.lock.run(async () => {
      const c = this.mustContact(alias);
      await this.store.batch(await this.own.syncOps([{ t: 'mute', chat: c.conv, until }]));
    });
    this.kickFlush();
  }

  /** Pins (or unpins) a chat on every device of mine; a pin made at once on another device stays. */
  async setPinned(alias: string, pinned: boolean): Promise<void> {
    await this.lock.run(async () => {
      const c = this.mustContact(alias);
      const tags = this.own.chatState(c.conv).pinTags;
      if (pinned === tags.length > 0) return;
      await this.store.batch(
        await this.own.syncOps([pinned ? { t: 'pin', chat: c.conv } : { t: 'unpin', chat: c.conv, tags }]),
      );
    });
    this.kickFlush();
  }

  /** A chat's mute and pin as my devices agree on them. */
  chatSettings(alias: string): { mutedUntil: number; pinned: boolean } {
    const s = this.own.chatState(this.mustContact(alias).conv);
    return { mutedUntil: s.mutedUntil, pinned: s.pinTags.length > 0 };
  }

  /**
   * Mutes a group or room until `until` (0 unmutes), on every device of mine: the same sync
   * operation as a 1:1 chat's (decision 0039), the chat named by the group's id (16 random
   * bytes, as a conversation id is; the two never meet).
   */
  async setGroupMuted(ref: string, until: number): Promise<void> {
    if (!Number.isSafeInteger(until) || until < 0)
      throw new UsageError('until must be ms since the epoch, or 0');
    const chat = fromHex(this.groups.get(ref).id);
    await this.lock.run(async () => {
      await this.store.batch(await this.own.syncOps([{ t: 'mute', chat, until }]));
    });
    this.kickFlush();
  }

  /** Pins (or unpins) a group or room on every device of mine, as setPinned does a 1:1 chat. */
  async setGroupPinned(ref: string, pinned: boolean): Promise<void> {
    const chat = fromHex(this.groups.get(ref).id);
    await this.lock.run(async () => {
      const tags = this.own.chatState(chat).pinTags;
      if (pinned === tags.length > 0) return;
      await this.store.batch(
        await this.own.syncOps([pinned ? { t: 'pin', chat } : { t: 'unpin', chat, tags }]),
      );
    });
    this.kickFlush();
  }

  /** A group's mute and pin as my devices agree on them. */
  groupChatSettings(ref: string): { mutedUntil: number; pinned: boolean } {
    const s = this.own.chatState(fromHex(this.groups.get(ref).id));
    return { mutedUntil: s.mutedUntil, pinned: s.pinTags.length > 0 };
  }

  /** Incoming messages of a conversation not read yet (here or on another device of mine). */
  async unreadCount(alias: string): Promise<number> {
    const c = this.mustContact(alias);
    let n = 0;
    for (const { value } of await this.store.list(C.messages(c.id))) {
      const m = decodeMessage(value);
      if (m.dir === 'in' && m.status !== 'read' && m.deleted === undefined && SHOWN_KINDS.has(m.kind)) n++;
    }
    return n;
  }

  /** My other devices I have a session with (decision 0039). */
  ownSessions(): Array<{ id: string; name: string; active: boolean }> {
    return this.own
      .sessions()
      .map((c) => ({ id: deviceId(c.own!), name: c.name, active: c.status === 'active' }));
  }

  /** A contact appeared here: it goes to my other devices, and sent copies that waited for it come in. */
  private async contactAppeared(alias: string): Promise<void> {
    await this.lock.run(async () => {
      const c = this.byAlias(alias);
      if (!c) return;
      await this.own.takeWaiting(c);
      const contact: SyncContact = {
        alias: c.alias,
        name: c.name,
        state: c.state,
        identity: c.identity,
        their: c.theirIdentity,
        ...(c.device ? { device: c.device } : {}),
        // What my other devices need to introduce themselves to it (decision 0038).
        sk: c.senderKey,
        ...(c.theirSenderKey ? { tsk: c.theirSenderKey } : {}),
        ...(c.theirSet ? { set: c.theirSet } : {}),
        ...(c.mySet ? { myset: c.mySet } : {}),
        ...(c.nextSealed ? { next: c.nextSealed } : {}),
      };
      await this.store.batch(await this.own.syncOps([{ t: 'contact', contact }]));
    });
    this.kickFlush();
  }

  /**
   * Drops what is kept in memory of a contact whose record was deleted (a session replaced by
   * a new one, or ended by a room door's refusal): the record, its conversation index, its queue.
   */
  private forgetContact(c: ContactRecord): void {
    this.contactsById.delete(hex(c.id));
    this.conversations.delete(hex(c.id));
    for (const q of recvQueues(c)) this.queues.delete(hex(q.rid));
    this.contactsVersion++;
  }

  private async saveContact(c: ContactRecord, extra: StoreOp[] = []): Promise<void> {
    await this.store.batch([
      { type: 'put', collection: C.contacts, key: hex(c.id), value: encodeRecord(c) },
      ...extra,
    ]);
    const before = this.contactsById.get(hex(c.id));
    this.contactsById.set(hex(c.id), c);
    // What group fan-out depends on: whether the contact is reachable, and where.
    const othersQueues = (x: ContactRecord | undefined): string =>
      (x?.others ?? []).map((d) => `${d.send.relay} ${hex(d.send.sid)}`).join(',');
    if (
      before?.status !== c.status ||
      before.send?.relay !== c.send?.relay ||
      !equalBytes(before.send?.sid ?? new Uint8Array(0), c.send?.sid ?? new Uint8Array(0)) ||
      othersQueues(before) !== othersQueues(c) // every device of a member gets group fan-out
    )
      this.contactsVersion++;
  }

  // ---- Sending (account/direct-messaging.ts) --------------------------------------------

  /**
   * Writes a text message (durably, with its outbox entry) and sends it when it can.
   * `action` makes it a `/me` line.
   */
  async sendText(
    alias: string,
    text: string,
    opts: { replyTo?: string; action?: boolean } = {},
  ): Promise<MessageInfo> {
    return this.messaging.sendText(alias, text, opts);
  }

  /** Sends a sticker: a set (`pack`) and a sticker in it (short names of a-z, 0-9, _ and -). */
  async sendSticker(
    alias: string,
    pack: string,
    id: string,
    opts: { replyTo?: string } = {},
  ): Promise<MessageInfo> {
    return this.messaging.sendSticker(alias, pack, id, opts);
  }

  /** Takes one of our messages back (收回), here at once and at the contact's by an `unsend` message. */
  async unsend(alias: string, messageId: string): Promise<MessageInfo> {
    return this.messaging.unsend(alias, messageId);
  }

  /** Reacts to a message with one of REACTIONS (core), or takes my reaction back with ''. */
  async react(alias: string, messageId: string, emoji: string): Promise<MessageInfo> {
    return this.messaging.react(alias, messageId, emoji);
  }

  /**
   * Deletes a message for me (the contact keeps theirs), on all my devices: `deleteMessage`.
   * Groups have `groups.deleteForMe`. NotFoundError for a message the conversation does not have.
   */
  async deleteForMe(alias: string, messageId: string): Promise<void> {
    return this.deleteMessage(alias, messageId);
  }

  /** Tells the contact we are typing (ephemeral, at most once per 3 s); true when a signal went out. */
  async sendTyping(alias: string): Promise<boolean> {
    return this.messaging.sendTyping(alias);
  }

  // ---- Calls (account/call-signalling.ts, decision 0046) --------------------------------

  /** Rings every device of the contact with an SDP offer and this side's DTLS fingerprint; the call id. */
  async startCall(alias: string, offer: { video: boolean; sdp: string; fp: Uint8Array }): Promise<string> {
    return this.calls.start(alias, offer);
  }

  /** Answers a ringing call on this device (the other devices of mine stop ringing). */
  async answerCall(call: string, answer: { sdp: string; fp: Uint8Array }): Promise<void> {
    return this.calls.answer(call, answer);
  }

  async declineCall(call: string): Promise<void> {
    return this.calls.decline(call);
  }

  async hangUpCall(call: string): Promise<void> {
    return this.calls.hangUp(call);
  }

  /** A new offer in an answered call (an ICE restart); its negotiation number. */
  async renegotiateCall(call: string, offer: { sdp: string; fp: Uint8Array }): Promise<number> {
    return this.calls.renegotiate(call, offer);
  }

  async answerCallRenegotiation(
    call: string,
    n: number,
    answer: { sdp: string; fp: Uint8Array },
  ): Promise<void> {
    return this.calls.answerRenegotiation(call, n, answer);
  }

  async sendCallCandidates(call: string, cands: CallCandidate[]): Promise<void> {
    return this.calls.candidates(call, cands);
  }

  /** The media path is up (the call's duration counts from here). */
  callConnected(call: string): void {
    this.calls.connected(call);
  }

  /** Checks the media path's DTLS fingerprint against the signalled one; a mismatch ends the call (VerificationError). */
  async checkCallFingerprint(call: string, appliedSdp: string, statsFingerprint?: string): Promise<void> {
    return this.calls.checkFingerprint(call, appliedSdp, statsFingerprint);
  }

  /** TURN servers for calls, with short-lived credentials from the home relay (none when it offers none). */
  async turnServers(): Promise<TurnServer[]> {
    return this.calls.iceServers();
  }

  /** Calls not over yet. */
  activeCalls(): CallInfo[] {
    return this.calls.list();
  }

  // ---- Files (account/file-transfer.ts) -------------------------------------------------

  /**
   * Sends a file end to end encrypted; calling it again with the same file and contact resumes
   * the upload. Throws QuotaError for a file larger than Parus (or the relay) takes.
   */
  async sendFile(
    alias: string,
    file: OutgoingFile,
    opts: TransferOptions & { replyTo?: string } = {},
  ): Promise<MessageInfo> {
    return this.files.sendFile(alias, file, opts);
  }

  /**
   * Sends a file into a group or room: one blob upload (resumed when called again with the same
   * file and group), then one group message with its place and keys, fanned out once. UsageError
   * before any upload when I may not write there; QuotaError for a file too large.
   */
  async sendGroupFile(
    ref: string,
    file: OutgoingFile,
    opts: TransferOptions & { replyTo?: string } = {},
  ): Promise<MessageInfo> {
    const group = fromHex(this.groups.get(ref).id);
    return this.files.sendGroupFile(
      group,
      file,
      opts,
      () => this.groups.checkWritable(ref),
      (body) => this.groups.sendFileBody(ref, body, opts.replyTo ? { replyTo: opts.replyTo } : {}),
    );
  }

  /** A group file message's contents, checked as downloadFile's are. */
  async downloadGroupFile(ref: string, messageId: string, opts: TransferOptions = {}): Promise<Uint8Array> {
    return this.files.downloadBody(await this.groups.fileOf(ref, messageId), opts);
  }

  /** A group file message's contents into `sink`, chunk by chunk, as downloadFileTo. */
  async downloadGroupFileTo(
    ref: string,
    messageId: string,
    sink: FileSink,
    opts: TransferOptions = {},
  ): Promise<void> {
    await this.files.downloadBodyTo(await this.groups.fileOf(ref, messageId), sink, opts);
  }

  /** Uploads that did not finish (for a UI to offer resuming them: sendFile with the same file). */
  async pendingUploads(): Promise<UploadInfo[]> {
    return this.files.pendingUploads();
  }

  /** Forgets an unfinished upload; the relay drops its part when the reservation expires. */
  async cancelUpload(id: string): Promise<void> {
    return this.files.cancelUpload(id);
  }

  /**
   * Downloads and decrypts a file message's contents, checked against the hash its message
   * carries. ExpiredError once the relay's expiry has passed; NotFoundError for an unsent message.
   */
  async downloadFile(alias: string, messageId: string, opts: TransferOptions = {}): Promise<Uint8Array> {
    return this.files.downloadFile(alias, messageId, opts);
  }

  /**
   * Downloads a received file chunk by chunk into `sink`, never holding it whole; checks the
   * hash at the end (VerificationError: throw away what the sink got). account/file-transfer.ts.
   */
  async downloadFileTo(
    alias: string,
    messageId: string,
    sink: FileSink,
    opts: TransferOptions = {},
  ): Promise<void> {
    return this.files.downloadFileTo(alias, messageId, sink, opts);
  }

  // ---- Flushing the outbox (account/direct-outbox.ts, account/group-fanout.ts) ----------

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

  /** The own-device sessions the group sections last went to (decision 0060). */
  private ownSessionsSeen: string | undefined;

  private async flushOnce(): Promise<void> {
    await this.contactDevices.publishPending();
    // Only answered sessions: a section waits for the other device to be there (it gets every
    // group when its session comes up, as the key changes).
    const own = this.own
      .sessions()
      .filter((c) => c.status === 'active')
      .map((c) => hex(c.id))
      .sort()
      .join(',');
    await this.groups.ownSections(own, own !== this.ownSessionsSeen);
    this.ownSessionsSeen = own;
    await this.outbox.flush();
    await this.fanout.flushFanout();
    await this.setup.secureSecondQueues();
    await this.own.openSessions().catch((e: unknown) => {
      if (e instanceof ParusError) this.events.emit('error', { error: e, context: 'own devices' });
    });
  }

  /**
   * Removes the outbox entries a receipt settles: `c`'s own entries for `ids`, and `c` from the
   * members a group message still waits for.
   */
  private async settleOutbox(c: ContactRecord, ids: Uint8Array[]): Promise<StoreOp[]> {
    const wanted = new Set(ids.map(hex));
    return [...this.outbox.settleOps(c, wanted), ...this.fanout.settleOps(c, wanted)];
  }

  // ---- Reading (account/conversation-reading.ts) ----------------------------------------

  /** The whole conversation in causal order (unsent messages as tombstones). */
  async history(alias: string): Promise<MessageInfo[]> {
    return this.reading.history(alias);
  }

  /**
   * Searches chats (friends, groups) and the texts of 1:1 and group messages on this device:
   * literal substrings, Chinese included, Latin case-insensitive (search.ts); at most `limit`.
   */
  async search(text: string, opts: { limit?: number } = {}): Promise<SearchHit[]> {
    return search(
      {
        contacts: () => this.contacts(),
        groups: () => this.groups.list(),
        history: (alias) => this.history(alias),
        groupHistory: (id) => this.groups.history(id),
      },
      text,
      opts,
    );
  }

  /** Incoming messages not shown yet, in causal order per conversation; marks them shown. */
  async takeUnshown(): Promise<MessageInfo[]> {
    return this.reading.takeUnshown();
  }

  /** Sends read receipts (已讀) for every incoming message of a conversation not yet marked read. */
  async markRead(alias: string): Promise<number> {
    const n = await this.reading.markRead(alias);
    // 已讀 on my other devices too: read up to the conversation's clock (decision 0039).
    await this.lock.run(async () => {
      const c = this.mustContact(alias);
      const upto = (await this.reading.conversation(c)).nextLamport() - 1;
      if (upto >= 0 && upto > (this.own.readUpTo(c.conv) ?? -1))
        await this.store.batch(await this.own.syncOps([{ t: 'read', conv: c.conv, upto }]));
    });
    this.kickFlush();
    return n;
  }

  /**
   * For diagnostics and tests: how many outbox entries wait, by state. A group message counts
   * once: queued while some member waits for an upload, else relayed while receipts are due.
   */
  async outboxSize(): Promise<{ queued: number; relayed: number }> {
    const r = this.outbox.size();
    this.fanout.addSize(r);
    return r;
  }
}
