/**
 * The engine side of the web client, loaded as its own chunk after the first screen shows
 * (libsodium's WebAssembly alone is several times the first screen's budget). It runs the
 * same `Account` engine as the CLI, over a SealedStore (Argon2id + XChaCha20-Poly1305)
 * on IndexedDB and the browser's WebSocket. Keys are made here and never leave the browser.
 *
 * `Session` keeps what the screens show (contacts, conversations, unread counts) in memory,
 * updated from the engine's events, and tells subscribers when it changed.
 */
import {
  Account,
  SealedStore,
  decodeSnapshot,
  offerDeviceLink,
  type AccountSnapshot,
  type ContactInfo,
  type SearchHit,
  type ContactState,
  type GroupCallSignalling,
  type MessageInfo,
  type OutgoingFile,
  type TransferProgress,
  type UploadInfo,
} from '@parus/client';
import { IndexedDbStore, browserTransport } from '@parus/client/browser';
import {
  ARGON2ID_BROWSER,
  MAX_BACKUP_BYTES,
  DecodeError,
  fromBase64Url,
  NotFoundError,
  UsageError,
  initCrypto,
  openAccountBackup,
  parseRelayAddress,
  systemRandom,
  toBase64Url,
} from '@parus/core';
import { ACCOUNT_DATABASE } from '../account-db.ts';
import { avatarObjectUrl } from '../compose/avatar-image.ts';
import { typingUntilAfter } from '../compose/typing.ts';
import { aliasFrom } from './alias.ts';
import { summarizeChats, type Chat } from './chats.ts';
import { DeviceSession, ensureDeviceLog } from './device-session.ts';
import { GroupSession } from './group-session.ts';
import { qrMatrix, type QrMatrix } from './qr-matrix.ts';
import { RoomSession } from './room-session.ts';
import { UploadList, type Upload } from './uploads.ts';

export type { Chat } from './chats.ts';
export { GroupPowerError, NoSuchMemberError, type GroupChat, type GroupSession } from './group-session.ts';
export type { RoomLinkView, RoomPreview, RoomSession } from './room-session.ts';
export {
  browserDeviceName,
  type DeviceInfo,
  type DeviceSession,
  type HistoryChoice,
  type LinkedDevice,
} from './device-session.ts';
export { qrMatrix, type QrMatrix } from './qr-matrix.ts';
export type { ChatRequestInfo, SearchHit } from '@parus/client';

/** What the call screens use of the account (decision 0046). */
export type CallApi = Pick<
  Account,
  | 'events'
  | 'startCall'
  | 'answerCall'
  | 'declineCall'
  | 'hangUpCall'
  | 'renegotiateCall'
  | 'answerCallRenegotiation'
  | 'sendCallCandidates'
  | 'callConnected'
  | 'checkCallFingerprint'
  | 'activeCalls'
  | 'turnServers'
>;

/** What the group call screens use of the account (decision 0053). */
export interface GroupCallApi {
  events: Account['events'];
  calls: GroupCallSignalling;
  turnServers: Account['turnServers'];
}

/** One account per browser profile and origin, in this IndexedDB database. */
export const DATABASE = ACCOUNT_DATABASE;

export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

export interface SafetyNumberView {
  formatted: string;
  qr: QrMatrix;
}

export interface Invite {
  link: string;
  qr: QrMatrix;
  expires: number;
}

/** "Muted until unmuted": the latest time a Date can hold. */
const MUTED_FOREVER = 8_640_000_000_000_000;

export type { Upload } from './uploads.ts';

export type { UploadInfo } from '@parus/client';

export interface AcceptOptions {
  alias?: string;
  replace?: boolean;
}

/** Thrown by `acceptInvite` when a friend of that name exists; `suggestion` is a free alias. */
export class AliasTakenError extends Error {
  override readonly name = 'AliasTakenError';
  constructor(
    readonly alias: string,
    readonly suggestion: string,
  ) {
    super('a contact with this name exists');
  }
}

/** Thrown by `acceptInvite` for an old link of someone already a friend (decision 0045). */
export class AlreadyFriendsError extends Error {
  override readonly name = 'AlreadyFriendsError';
  constructor(readonly alias: string) {
    super('already friends');
  }
}

/** Thrown by `acceptInvite` for a link this browser made itself. */
export class OwnInviteError extends Error {
  override readonly name = 'OwnInviteError';
  constructor() {
    super('this is our own invitation');
  }
}

/** Thrown by `createAccount` and `unlock` while another tab of this browser has the account open. */
export class AccountInUseError extends Error {
  override readonly name = 'AccountInUseError';
  constructor() {
    super('the account is open in another tab');
  }
}

/** How long unlocking waits for another holder of the account (a tab being locked or reloaded). */
const LOCK_WAIT_MS = 2_000;

/**
 * One engine per account: two tabs running the ratchets over the same store would each
 * consume messages and keys the other does not know about. An exclusive Web Lock, held for
 * as long as the account is open (the browser releases it when the tab goes away).
 */
async function lockAccount(): Promise<() => void> {
  const locks = (navigator as { locks?: LockManager }).locks;
  if (!locks) return () => undefined;
  return new Promise((resolve, reject) => {
    locks
      .request(`${DATABASE}-open`, { signal: AbortSignal.timeout(LOCK_WAIT_MS) }, () => {
        return new Promise<void>((release) => resolve(release));
      })
      .catch((e: unknown) => {
        reject(e instanceof DOMException && e.name === 'TimeoutError' ? new AccountInUseError() : e);
      });
  });
}

/** Whether this browser already holds an account (an initialised sealed store). */
export async function accountExists(): Promise<boolean> {
  const store = await IndexedDbStore.open(DATABASE);
  try {
    return await SealedStore.exists(store);
  } finally {
    await store.close();
  }
}

/**
 * Makes the account database under `passphrase` and an account in it, then `then` (a restore
 * or a link adopting its snapshot); any failure deletes the database, so that a half-made
 * account never stays behind. The device log is started under the same passphrase, which is
 * the account passphrase in the browser (decision 0041).
 */
async function makeAccount(opts: {
  name: string;
  relay: string;
  passphrase: string;
  then?: (account: Account) => Promise<void>;
}): Promise<Session> {
  await initCrypto();
  parseRelayAddress(opts.relay);
  const release = await lockAccount();
  let raw: IndexedDbStore | undefined;
  let account: Account;
  try {
    raw = await IndexedDbStore.open(DATABASE);
    if (await SealedStore.exists(raw)) throw new UsageError('this browser already holds an account');
    let made: Account | undefined;
    try {
      const store = await SealedStore.open(raw, opts.passphrase, {
        rng: systemRandom,
        create: true,
        cost: ARGON2ID_BROWSER,
      });
      made = await Account.create({
        store,
        transport: browserTransport(),
        name: opts.name,
        relay: opts.relay.trim(),
      });
      if (opts.then) await opts.then(made);
      else await ensureDeviceLog(made, opts.passphrase);
      account = made;
    } catch (e) {
      // Half an account is worse than none: leave the browser as it was.
      await made?.close().catch(() => undefined);
      await raw.close().catch(() => undefined);
      raw = undefined;
      await IndexedDbStore.destroy(DATABASE).catch(() => undefined);
      throw e;
    }
  } catch (e) {
    await raw?.close();
    release();
    throw e;
  }
  try {
    return await Session.start(account, release);
  } catch (e) {
    await account.close();
    release();
    throw e;
  }
}

export async function createAccount(opts: {
  name: string;
  relay: string;
  passphrase: string;
}): Promise<Session> {
  return makeAccount(opts);
}

/**
 * 從備份還原: a new device of the backup's account. The whole file is checked (passphrase,
 * every byte: VerificationError) and decoded before anything is created.
 */
export async function restoreBackup(opts: {
  file: Uint8Array;
  passphrase: string;
  deviceName: string;
}): Promise<Session> {
  await initCrypto();
  if (opts.file.length > MAX_BACKUP_BYTES) throw new UsageError('backup file too large');
  const snapshot = decodeSnapshot(openAccountBackup(opts.file, opts.passphrase));
  return fromSnapshot(snapshot, opts.passphrase, opts.deviceName);
}

function fromSnapshot(snapshot: AccountSnapshot, passphrase: string, deviceName: string): Promise<Session> {
  return makeAccount({
    name: snapshot.name,
    relay: snapshot.relay,
    passphrase,
    then: (account) => account.restoreSnapshot(snapshot, { passphrase, deviceName }),
  });
}

/** What the new device's link screen shows while it waits. */
export interface DeviceLinkView {
  link: string;
  qr: QrMatrix;
  expires: number;
}

/**
 * 連結到現有帳號: this browser shows a `parus:device/` link (`onLink`), waits for a device of
 * the account to answer, shows the short code (`confirm` resolves with the user's answer) and
 * becomes a new device of that account under `passphrase` (the account passphrase).
 */
export async function linkToAccount(opts: {
  relay: string;
  deviceName: string;
  passphrase: string;
  onLink: (view: DeviceLinkView) => void;
  confirm: (code: string) => Promise<boolean>;
  signal?: AbortSignal;
}): Promise<Session> {
  await initCrypto();
  parseRelayAddress(opts.relay.trim());
  if (await accountExists()) throw new UsageError('this browser already holds an account');
  let session: Session | undefined;
  await offerDeviceLink({
    relay: opts.relay.trim(),
    name: opts.deviceName,
    transport: browserTransport(),
    rng: systemRandom,
    onLink: (link, expires) => opts.onLink({ link, qr: qrMatrix(link), expires }),
    confirm: opts.confirm,
    adopt: async (snapshot) => {
      session = await fromSnapshot(snapshot, opts.passphrase, opts.deviceName);
      return { op: await session.devices.ownAddOp(), result: undefined };
    },
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return session!;
}

/** Opens the account with its passphrase; a wrong one is an AuthError and reveals nothing. */
export async function unlock(passphrase: string): Promise<Session> {
  await initCrypto();
  const release = await lockAccount();
  let raw: IndexedDbStore | undefined;
  let store: SealedStore | undefined;
  try {
    raw = await IndexedDbStore.open(DATABASE);
    // An account kept under a weaker profile is raised to this one (decision 0027).
    store = await SealedStore.open(raw, passphrase, { rng: systemRandom, cost: ARGON2ID_BROWSER });
    const account = await Account.open({ store, transport: browserTransport() });
    // An account made before device logs: its log starts now, with this passphrase.
    await ensureDeviceLog(account, passphrase).catch((e: unknown) => console.warn('parus: device log', e));
    // What waits for the passphrase (decision 0061): secrets still sealed to an account key
    // changed on another device, ops of mine that lost a fork.
    await account.settleDevices([passphrase]).catch((e: unknown) => console.warn('parus: devices', e));
    return await Session.start(account, release);
  } catch (e) {
    await (store ?? raw)?.close();
    release();
    throw e;
  }
}

export class Session {
  private readonly histories = new Map<string, MessageInfo[]>();
  private readonly listeners = new Set<() => void>();
  private readonly incoming = new Set<(m: MessageInfo) => void>();
  private readonly myLinks = new Set<string>();
  private readonly unsubscribe: Array<() => void> = [];
  private contactList: ContactInfo[] = [];
  private readonly typingTill = new Map<string, number>();
  private readonly uploadList = new UploadList(() => this.changed());
  private active: string | undefined;
  private closed = false;
  private invite: Promise<Invite> | undefined;
  private accepting = 0;
  /** Grows whenever the invitation on show may have been used up (someone answered one). */
  inviteGeneration = 0;
  connection: ConnectionState = 'connecting';
  /** While disconnected: when the next attempt starts (Date.now() ms); undefined while one is under way. */
  retryAt: number | undefined;
  /** Private groups: their list, members, messages and actions (engine/group-session.ts). */
  readonly groups: GroupSession;
  /** Public rooms: links, joining by link, private chat requests (engine/room-session.ts). */
  readonly rooms: RoomSession;
  /** This account's devices, backups, answering a device link (engine/device-session.ts). */
  readonly devices: DeviceSession;

  private constructor(
    private readonly account: Account,
    private readonly release: () => void,
  ) {
    this.groups = new GroupSession(account, () => this.changed());
    this.devices = new DeviceSession(account);
    this.rooms = new RoomSession(
      account,
      () => this.changed(),
      qrMatrix,
      () => this.groups.listChanged(),
    );
  }

  static async start(account: Account, release: () => void): Promise<Session> {
    const s = new Session(account, release);
    s.contactList = account.contacts();
    for (const c of s.contactList) s.histories.set(c.alias, await account.history(c.alias));
    await s.groups.load();
    await s.rooms.load();
    s.wire();
    void account
      .start()
      .then(async () => {
        // A linked or restored browser introduces itself to the snapshot's contacts (decision
        // 0038); a sync makes its queues and sends the introductions, and tries again next time.
        if ((await account.restoredContacts()).length > 0) await account.sync();
      })
      .catch((e: unknown) => console.warn('parus: start failed', e));
    return s;
  }

  get name(): string {
    return this.account.name;
  }

  get relay(): string {
    return this.account.relay;
  }

  /** The account's call signalling, for the call screens (calls/, decision 0046). */
  get callApi(): CallApi {
    return this.account;
  }

  /** The group calls' signalling, for the group call screens (calls/, decision 0053). */
  get groupCallApi(): GroupCallApi {
    const a = this.account;
    return { events: a.events, calls: a.groups.calls, turnServers: () => a.turnServers() };
  }

  private wire(): void {
    const ev = this.account.events;
    this.unsubscribe.push(
      ev.on('message', (m) => {
        if (m.group !== undefined) return this.groups.onMessage(m);
        const list = this.histories.get(m.alias) ?? [];
        if (!list.some((x) => x.id === m.id)) list.push(m);
        this.histories.set(m.alias, list);
        // A message from them ends their typing, as it does in LINE.
        if (m.dir === 'in') this.typingTill.delete(m.alias);
        if (m.dir === 'in') for (const f of this.incoming) f(m);
        this.changed();
        if (m.alias === this.active && m.dir === 'in') this.readActive();
      }),
      // Another device of mine muted or pinned a chat: the list reads it again.
      ev.on('chatSettings', () => this.changed()),
      // My profile changed on another device of mine (decision 0056).
      ev.on('profile', () => void this.loadAvatars().then(() => this.changed())),
      ev.on('receipt', (r) => {
        const list = this.histories.get(r.alias);
        const i = list?.findIndex((m) => m.id === r.id) ?? -1;
        if (list && i >= 0) list[i] = { ...list[i]!, status: r.status };
        else this.reload(r.alias).catch((e: unknown) => console.warn('parus: reload failed', e));
        this.changed();
      }),
      ev.on('reaction', ({ alias }) => {
        this.reload(alias).catch((e: unknown) => console.warn('parus: reload failed', e));
      }),
      ev.on('unsent', ({ alias }) => {
        // The engine keeps the tombstone in history: read it back rather than guess its shape.
        this.reload(alias).catch((e: unknown) => console.warn('parus: reload failed', e));
      }),
      ev.on('typing', ({ alias }) => {
        const until = typingUntilAfter({ typing: true }, Date.now());
        if (until === undefined) this.typingTill.delete(alias);
        else this.typingTill.set(alias, until);
        this.changed();
      }),
      ev.on('contact', (event) => {
        if (event.change === 'added' && this.accepting === 0) {
          // Someone answered one of our one-time cards: show a fresh one from now on.
          this.invite = undefined;
          this.inviteGeneration++;
        }
        if (event.change === 'spent') {
          this.spentInvites = [...this.spentInvites, event.alias].slice(-8);
          this.histories.delete(event.alias);
        }
        this.contactList = this.account.contacts();
        if (event.change === 'profile') void this.loadAvatars();
        for (const c of this.contactList)
          if (!this.histories.has(c.alias)) {
            this.histories.set(c.alias, []);
            // A restored contact comes with the history its snapshot carried (decision 0041).
            this.reload(c.alias).catch((e: unknown) => console.warn('parus: reload failed', e));
          }
        this.changed();
      }),
      ev.on('group', (g) => {
        this.groups.onChange(g.group, g.change);
        this.rooms.onChange(g.change);
      }),
      ev.on('connection', (c) => {
        if (c.relay !== this.account.relay) return;
        this.connection = c.state;
        this.retryAt = c.state === 'disconnected' ? c.retryAt : undefined;
        this.changed();
      }),
      ev.on('error', (e) => console.warn(`parus: ${e.context}:`, e.error)),
    );
    // The network came back, or the tab is looked at again (a phone wakes, a laptop opens):
    // reconnect now rather than when the backoff says, and find out whether a link that looks
    // up still is (docs/decisions/0028-reconnect-policy.md).
    const check = (): void => {
      if (!this.closed) void this.account.checkConnections().catch(() => undefined);
    };
    const onOnline = (): void => check();
    const onVisible = (): void => {
      if (document.visibilityState === 'visible') check();
    };
    window.addEventListener('online', onOnline);
    document.addEventListener('visibilitychange', onVisible);
    this.unsubscribe.push(
      () => window.removeEventListener('online', onOnline),
      () => document.removeEventListener('visibilitychange', onVisible),
    );
  }

  /** Every relay link waiting to reconnect tries at once (the "retry now" button, `online`). */
  retryNow(): void {
    if (this.closed) return;
    this.account.retryNow();
  }

  private async reload(alias: string): Promise<void> {
    try {
      this.histories.set(alias, await this.account.history(alias));
      this.changed();
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }

  private changed(): void {
    for (const f of this.listeners) f();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called for every message that arrives while the account is open. */
  onIncoming(listener: (m: MessageInfo) => void): () => void {
    this.incoming.add(listener);
    return () => this.incoming.delete(listener);
  }

  /** Conversations, the most recent first. */
  chats(): Chat[] {
    return summarizeChats(this.contactList, (alias) => this.histories.get(alias) ?? []);
  }

  contact(alias: string): ContactInfo | undefined {
    return this.contactList.find((c) => c.alias === alias);
  }

  messages(alias: string): readonly MessageInfo[] {
    return this.histories.get(alias) ?? [];
  }

  /** The conversation on screen: incoming messages there are marked read (已讀) while visible. */
  setActive(alias: string | undefined): void {
    this.active = alias;
    this.readActive();
  }

  readActive(): void {
    const alias = this.active;
    if (!alias || this.closed || document.visibilityState !== 'visible') return;
    const list = this.histories.get(alias);
    if (!list?.some((m) => m.dir === 'in' && m.status !== 'read')) return;
    void this.account.markRead(alias).then(
      () => {
        for (let i = 0; i < list.length; i++) {
          const m = list[i]!;
          if (m.dir === 'in' && m.status !== 'read') list[i] = { ...m, status: 'read' };
        }
        this.changed();
      },
      (e: unknown) => console.warn('parus: markRead failed', e),
    );
  }

  async send(alias: string, text: string, replyTo?: string): Promise<MessageInfo> {
    return this.added(await this.account.sendText(alias, text, replyTo ? { replyTo } : {}));
  }

  /** `/me TEXT`: an action message, shown as "* name text" on both sides. */
  async sendAction(alias: string, text: string, replyTo?: string): Promise<MessageInfo> {
    return this.added(
      await this.account.sendText(alias, text, replyTo ? { replyTo, action: true } : { action: true }),
    );
  }

  async sendSticker(alias: string, pack: string, id: string, replyTo?: string): Promise<MessageInfo> {
    return this.added(await this.account.sendSticker(alias, pack, id, replyTo ? { replyTo } : {}));
  }

  /** 收回: the message becomes a tombstone here and on the friend's side. */
  async unsend(alias: string, id: string): Promise<void> {
    const tomb = await this.account.unsend(alias, id);
    const list = this.histories.get(alias) ?? [];
    const i = list.findIndex((m) => m.id === id);
    if (i >= 0) list[i] = tomb;
    this.histories.set(alias, list);
    this.changed();
  }

  /** Reacts to a message ('' takes my reaction back). */
  async react(alias: string, id: string, emoji: string): Promise<void> {
    await this.account.react(alias, id, emoji);
    await this.reload(alias);
  }

  /** Deletes a message on this device only. */
  async deleteForMe(alias: string, id: string): Promise<void> {
    await this.account.deleteForMe(alias, id);
    await this.reload(alias);
  }

  /** Tells the friend we are typing; the engine drops signals that come too often. */
  typing(alias: string): void {
    void this.account.sendTyping(alias).catch(() => undefined);
  }

  /** When the friend's last typing signal stops showing (by our clock), if one is on. */
  typingUntil(alias: string): number | undefined {
    return this.typingTill.get(alias);
  }

  /** Encrypts and uploads a file, then sends the file message; progress shows in `uploads()`. */
  async sendFile(alias: string, file: OutgoingFile, replyTo?: string): Promise<MessageInfo> {
    const m = await this.uploadList.track(alias, file, (hooks) =>
      this.account.sendFile(alias, file, { ...hooks, ...(replyTo ? { replyTo } : {}) }),
    );
    return this.added(m);
  }

  /** The uploads to this friend still running. */
  uploads(alias: string): readonly Upload[] {
    return this.uploadList.of(alias);
  }

  /** Uploads an earlier page (or a crash) left unfinished, for this friend. */
  async pendingUploads(alias: string): Promise<UploadInfo[]> {
    const running = new Set(this.uploads(alias).map((u) => u.name));
    return (await this.account.pendingUploads()).filter((u) => u.alias === alias && !running.has(u.name));
  }

  async cancelUpload(id: string): Promise<void> {
    await this.account.cancelUpload(id);
    this.changed();
  }

  /** Downloads and decrypts a file message's contents (checked against the signed hash). */
  downloadFile(
    alias: string,
    id: string,
    opts: { onProgress?: (p: TransferProgress) => void; signal?: AbortSignal } = {},
  ): Promise<Uint8Array> {
    return this.account.downloadFile(alias, id, opts);
  }

  /**
   * A chat's mute and pin from the account's synced state (decision 0039): they follow the
   * account to its other devices. `chat` is `c:<alias>` or `g:<group id>` (chat-prefs.ts); a
   * chat the engine does not know reads as neither muted nor pinned.
   */
  chatSettings(chat: string): { muted: boolean; pinned: boolean } {
    try {
      const s = chat.startsWith('g:')
        ? this.account.groupChatSettings(chat.slice(2))
        : this.account.chatSettings(chat.slice(2));
      return { muted: s.mutedUntil > Date.now(), pinned: s.pinned };
    } catch {
      return { muted: false, pinned: false };
    }
  }

  /** Mutes (until unmuted) or unmutes a chat on every device of the account. */
  async setChatMuted(chat: string, muted: boolean): Promise<void> {
    const until = muted ? MUTED_FOREVER : 0;
    if (chat.startsWith('g:')) await this.account.setGroupMuted(chat.slice(2), until);
    else await this.account.setMuted(chat.slice(2), until);
    this.changed();
  }

  /** Pins or unpins a chat on every device of the account. */
  async setChatPinned(chat: string, pinned: boolean): Promise<void> {
    if (chat.startsWith('g:')) await this.account.setGroupPinned(chat.slice(2), pinned);
    else await this.account.setPinned(chat.slice(2), pinned);
    this.changed();
  }

  /** Object URLs of avatars (decision 0056): mine under '', a contact's under its alias. */
  private readonly avatarUrls = new Map<string, { bytes: Uint8Array; url: string }>();
  private avatarsLoaded = false;

  /**
   * The avatar to draw for a contact (alias) or for me (''), if any. Loaded once, then again when a
   * profile comes (a `contact` event `profile`, or setProfile here, or a change from another device).
   */
  avatarUrl(alias: string): string | undefined {
    if (!this.avatarsLoaded) {
      this.avatarsLoaded = true;
      void this.loadAvatars();
    }
    return this.avatarUrls.get(alias)?.url;
  }

  private async loadAvatars(): Promise<void> {
    try {
      const wanted = new Map<string, Uint8Array | undefined>();
      wanted.set('', (await this.account.profile()).avatar);
      for (const c of this.contactList)
        wanted.set(c.alias, c.avatar ? await this.account.contactAvatar(c.alias) : undefined);
      let changed = false;
      for (const [alias, bytes] of wanted) {
        const had = this.avatarUrls.get(alias);
        if (had && bytes && had.bytes.length === bytes.length && had.bytes.every((b, i) => b === bytes[i]))
          continue;
        if (!had && !bytes) continue;
        if (had) URL.revokeObjectURL(had.url);
        this.avatarUrls.delete(alias);
        if (bytes) this.avatarUrls.set(alias, { bytes, url: avatarObjectUrl(bytes) });
        changed = true;
      }
      if (changed) this.changed();
    } catch (e) {
      console.warn('parus: avatars could not be loaded', e);
    }
  }

  /** My display name and avatar (decision 0056). */
  async profile(): Promise<{ name: string; avatar?: Uint8Array }> {
    return this.account.profile();
  }

  /**
   * Changes my name and/or avatar and sends them to every friend (Account.setProfile: UsageError
   * for a bad name, DecodeError for a picture that is not a JPEG or PNG, QuotaError for one too large).
   */
  async setProfile(change: { name?: string; avatar?: Uint8Array | null }): Promise<void> {
    await this.account.setProfile(change);
    await this.loadAvatars();
    this.changed();
  }

  /**
   * 變更密碼 (decision 0061): the account passphrase (Account.changeAccountPassphrase: the device
   * log's `passphrase` op, sent to my other devices) and the one that opens the account in this
   * browser (SealedStore.changePassphrase), together. The old one must open this browser's store
   * first (AuthError, nothing changed); UsageError for a new one under 8 characters. 'device'
   * when the account passphrase had been changed on another device and `next` is it.
   */
  async changePassphrase(old: string, next: string): Promise<'account' | 'device' | 'store'> {
    if ([...next].length < 8) throw new UsageError('the new passphrase must have at least 8 characters');
    const check = await SealedStore.open(await IndexedDbStore.open(DATABASE), old, {
      rng: systemRandom,
      cost: ARGON2ID_BROWSER,
    });
    await check.close();
    const scope = (await this.account.devices.started())
      ? await this.account.changeAccountPassphrase(old, next, { cost: ARGON2ID_BROWSER })
      : 'store';
    const raw = await IndexedDbStore.open(DATABASE);
    try {
      await SealedStore.changePassphrase(raw, old, next, { rng: systemRandom, cost: ARGON2ID_BROWSER });
    } finally {
      await raw.close();
    }
    return scope;
  }

  /** A file message's contents, a 1:1 chat's or a group's (the bubbles use this one). */
  downloadMessageFile(
    m: MessageInfo,
    opts: { onProgress?: (p: TransferProgress) => void; signal?: AbortSignal } = {},
  ): Promise<Uint8Array> {
    return m.group !== undefined
      ? this.account.downloadGroupFile(m.group, m.id, opts)
      : this.account.downloadFile(m.alias, m.id, opts);
  }

  private added(m: MessageInfo): MessageInfo {
    const list = this.histories.get(m.alias) ?? [];
    // Last in causal order too: a new message has every head it saw as its parents.
    if (!list.some((x) => x.id === m.id)) list.push(m);
    this.histories.set(m.alias, list);
    this.changed();
    return m;
  }

  /**
   * The one-time invitation to show (made once, then again after one was answered): its short
   * link when the relay keeps the card (decision 0045), else the card itself.
   */
  currentInvite(fresh = false): Promise<Invite> {
    if (fresh || !this.invite) {
      const made = this.account.createInvite({ oneTime: true, short: true }).then(({ link, card, short }) => {
        this.myLinks.add(link);
        if (short) this.myLinks.add(short);
        const shown = short ?? link;
        return { link: shown, qr: qrMatrix(shown), expires: card.expires };
      });
      made.catch(() => {
        if (this.invite === made) this.invite = undefined;
      });
      this.invite = made;
    }
    return this.invite;
  }

  /** Friends, groups and messages on this device whose text holds `text` (client search.ts). */
  search(text: string, limit = 50): Promise<SearchHit[]> {
    return this.account.search(text, { limit });
  }

  /** My reusable QR code (好友條碼): the same until `reset` (then the old one is refused). */
  async myCode(reset = false): Promise<Invite> {
    const code = reset ? await this.account.resetMyCode() : await this.account.myCode();
    this.myLinks.add(code.link);
    this.myLinks.add(code.longLink);
    return { link: code.link, qr: qrMatrix(code.link), expires: code.expires };
  }

  /** Invitations I answered that turned out spent (their queue gone), by the alias they had. */
  spentInvites: string[] = [];

  dismissSpent(): void {
    this.spentInvites = [];
    this.changed();
  }

  async acceptInvite(link: string, opts: AcceptOptions = {}): Promise<ContactInfo> {
    const text = link.trim();
    if (this.myLinks.has(text)) throw new OwnInviteError();
    // A short link is fetched from its relay here; a friend's old link is "already friends".
    const resolved = await this.account.resolveInvite(text);
    if (this.myLinks.has(resolved.link)) throw new OwnInviteError();
    if (resolved.friend !== undefined) throw new AlreadyFriendsError(resolved.friend);
    const card = resolved.card;
    const alias = aliasFrom(opts.alias ?? card.name ?? '');
    if (!opts.replace && this.contact(alias)) throw new AliasTakenError(alias, this.freeAlias(alias));
    let contact: ContactInfo;
    this.accepting++;
    try {
      contact = await this.account.acceptInvite(resolved.link, { alias, replace: opts.replace === true });
    } finally {
      this.accepting--;
    }
    this.contactList = this.account.contacts();
    this.histories.set(contact.alias, await this.account.history(contact.alias));
    this.changed();
    return contact;
  }

  /**
   * Accepts a private chat request from a room member: they become a contact (named by their
   * nick in the room, or a free variant of it) and the 1:1 chat can open.
   */
  async acceptChatRequest(id: string): Promise<ContactInfo> {
    const request = this.rooms.requests().find((r) => r.id === id);
    const base = aliasFrom(request?.from ?? '');
    const alias = this.contact(base) ? this.freeAlias(base) : base;
    let contact: ContactInfo;
    this.accepting++;
    try {
      contact = await this.account.groups.acceptChatRequest(id, { alias });
    } finally {
      this.accepting--;
    }
    this.contactList = this.account.contacts();
    this.histories.set(contact.alias, await this.account.history(contact.alias));
    await this.rooms.refresh();
    return contact;
  }

  private freeAlias(base: string): string {
    for (let i = 2; ; i++) {
      const candidate = `${base.slice(0, 56)}-${i}`;
      if (!this.contact(candidate)) return candidate;
    }
  }

  safetyNumber(alias: string): SafetyNumberView {
    const sn = this.account.safetyNumber(alias);
    return { formatted: sn.formatted, qr: qrMatrix(`parus-sn:${toBase64Url(sn.qr)}`) };
  }

  /**
   * A scanned safety-number QR code against `alias`'s: true when it matches (the friend is then
   * marked verified), false when the keys differ; DecodeError when it is no safety-number code.
   */
  async checkSafetyScan(alias: string, text: string): Promise<boolean> {
    const t = text.trim();
    if (!t.toLowerCase().startsWith('parus-sn:')) throw new DecodeError('not a safety number QR code');
    const same = this.account.checkSafetyQr(alias, fromBase64Url(t.slice('parus-sn:'.length)));
    if (same) await this.setState(alias, 'validated');
    return same;
  }

  async setState(alias: string, state: ContactState): Promise<void> {
    await this.account.setContactState(alias, state);
    this.contactList = this.account.contacts();
    this.changed();
  }

  /** Locks: closes the engine (the store wipes its key); unlocking again needs the passphrase. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.unsubscribe) off();
    this.uploadList.abortAll();
    this.groups.abortUploads();
    this.listeners.clear();
    this.incoming.clear();
    try {
      await this.account.close();
    } finally {
      this.release();
    }
  }
}
