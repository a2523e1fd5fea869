/**
 * The groups side of a `Session`: what the group screens show (the groups, their members and
 * messages), kept in memory and updated from the engine's `group` and `message` events. Every
 * action goes to the account's group engine (`account.groups`), which signs and spreads the
 * state events; this class only checks the resolved power first, so that the screens can say
 * which role an action needs instead of showing the engine's English refusal.
 */
import type { Account, GroupInfo, GroupMemberInfo, MessageInfo, OutgoingFile } from '@parus/client';
import {
  GROUP_ROLE_POWER,
  NotFoundError,
  equalBytes,
  fromHex,
  groupMemberPower,
  type GroupAction,
} from '@parus/core';
import { avatarObjectUrl } from '../compose/avatar-image.ts';
import { UploadList, type Upload } from './uploads.ts';

export type GroupRole = keyof typeof GROUP_ROLE_POWER;

/** Thrown before calling the engine when my role lacks the power an action needs. */
export class GroupPowerError extends Error {
  override readonly name = 'GroupPowerError';
  constructor(
    readonly action: GroupAction,
    /** The least role that may do it. */
    readonly needs: GroupRole,
  ) {
    super(`the ${action} action needs the ${needs} role`);
  }
}

/** Thrown when an action names a member the group does not have. */
export class NoSuchMemberError extends Error {
  override readonly name = 'NoSuchMemberError';
  constructor(readonly member: string) {
    super(`no member named ${member}`);
  }
}

export interface GroupChat {
  group: GroupInfo;
  last: MessageInfo | undefined;
  unread: number;
}

function leastRole(power: number): GroupRole {
  const roles = (Object.keys(GROUP_ROLE_POWER) as GroupRole[]).sort(
    (a, b) => GROUP_ROLE_POWER[a] - GROUP_ROLE_POWER[b],
  );
  return roles.find((r) => GROUP_ROLE_POWER[r] >= power) ?? 'creator';
}

export class GroupSession {
  private list: GroupInfo[] = [];
  private readonly histories = new Map<string, MessageInfo[]>();
  private active: string | undefined;
  private readonly incoming = new Set<(m: MessageInfo) => void>();
  private readonly uploadList: UploadList;
  /** Groups I was removed from while open: the screen says so once. */
  readonly removed = new Set<string>();

  constructor(
    private readonly account: Account,
    private readonly changed: () => void,
  ) {
    this.uploadList = new UploadList(changed);
  }

  async load(): Promise<void> {
    this.list = this.account.groups.list();
    for (const g of this.list) await this.reload(g.id, false);
  }

  private async reload(id: string, notify = true): Promise<void> {
    try {
      this.histories.set(id, await this.account.groups.history(id));
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      this.histories.delete(id);
    }
    if (notify) this.changed();
  }

  private refresh(): void {
    this.list = this.account.groups.list();
  }

  /** From the account's `group` event. */
  onChange(id: string, change: string): void {
    this.refresh();
    if (change === 'removed') this.removed.add(id);
    if (change === 'joined') this.removed.delete(id);
    this.changed();
    if (this.list.some((g) => g.id === id))
      void this.reload(id).catch((e: unknown) => console.warn('parus: group reload failed', e));
    if (id === this.active && change !== 'receipts') this.readActive();
  }

  /** The list changed outside these methods (a room joined by link, engine/room-session.ts). */
  listChanged(): void {
    this.refresh();
    this.changed();
  }

  /** From the account's `message` event, for a group message. */
  onMessage(m: MessageInfo): void {
    const id = m.group;
    if (!id) return;
    const list = this.histories.get(id) ?? [];
    const fresh = !list.some((x) => x.id === m.id);
    if (fresh) list.push(m);
    this.histories.set(id, list);
    if (fresh && m.dir === 'in') for (const f of this.incoming) f(m);
    this.changed();
    if (id === this.active && m.dir === 'in') this.readActive();
  }

  /** Called for every group message that arrives while the account is open. */
  onIncoming(listener: (m: MessageInfo) => void): () => void {
    this.incoming.add(listener);
    return () => this.incoming.delete(listener);
  }

  groups(): GroupInfo[] {
    return this.list;
  }

  group(id: string): GroupInfo | undefined {
    return this.list.find((g) => g.id === id);
  }

  members(id: string): GroupMemberInfo[] {
    try {
      return this.account.groups.members(id);
    } catch (e) {
      if (e instanceof NotFoundError) return [];
      throw e;
    }
  }

  messages(id: string): readonly MessageInfo[] {
    return this.histories.get(id) ?? [];
  }

  /** Each group with its latest message and how many incoming ones are not read yet. */
  chats(): GroupChat[] {
    return this.list.map((group) => {
      let last: MessageInfo | undefined;
      let unread = 0;
      for (const m of this.messages(group.id)) {
        if (!last || m.ts >= last.ts) last = m;
        if (m.dir === 'in' && m.status !== 'read') unread++;
      }
      return { group, last, unread };
    });
  }

  setActive(id: string | undefined): void {
    this.active = id;
    this.readActive();
  }

  readActive(): void {
    const id = this.active;
    if (!id || document.visibilityState !== 'visible' || this.group(id)?.status !== 'joined') return;
    const list = this.histories.get(id);
    if (!list?.some((m) => m.dir === 'in' && m.status !== 'read')) return;
    void this.account.groups.markRead(id).then(
      () => {
        for (let i = 0; i < list.length; i++) {
          const m = list[i]!;
          if (m.dir === 'in' && m.status !== 'read') list[i] = { ...m, status: 'read' };
        }
        this.changed();
      },
      (e: unknown) => console.warn('parus: group markRead failed', e),
    );
  }

  /** Whether my role has the power the group sets for `action`. */
  can(id: string, action: GroupAction): boolean {
    return this.myPower(id) >= this.required(id, action);
  }

  myPower(id: string): number {
    const g = this.group(id);
    if (!g || g.status !== 'joined') return -1;
    const me = this.members(id).find((m) => m.me);
    return me ? groupMemberPower(this.account.groups.resolved(id), fromHex(me.key)) : -1;
  }

  /** The power of a member (by key); kicks, bans and role changes need more than theirs. */
  powerOf(id: string, key: string): number {
    return groupMemberPower(this.account.groups.resolved(id), fromHex(key));
  }

  private required(id: string, action: GroupAction): number {
    return this.account.groups.resolved(id).settings.power[action];
  }

  private check(id: string, action: GroupAction): void {
    if (!this.can(id, action)) throw new GroupPowerError(action, leastRole(this.required(id, action)));
  }

  /** A member named as the engine names them (nick or name), or by key. */
  private memberKey(id: string, ref: string): string {
    const name = ref.trim().replace(/^@/u, '');
    const found = this.members(id).filter((m) => m.nick === name || m.name === name || m.key === name);
    if (found.length !== 1 || found[0]!.me) throw new NoSuchMemberError(name);
    return found[0]!.key;
  }

  private check2(id: string, action: GroupAction, key: string): void {
    this.check(id, action);
    // Only someone with less power may be kicked, banned or given a role (group-state.ts).
    if (this.powerOf(id, key) >= this.myPower(id)) throw new GroupPowerError(action, 'creator');
  }

  private async after<T>(p: Promise<T>): Promise<T> {
    const r = await p;
    this.refresh();
    this.changed();
    return r;
  }

  async create(name: string, opts: { public?: boolean } = {}): Promise<GroupInfo> {
    const g = await this.after(this.account.groups.create(name, opts));
    this.histories.set(g.id, []);
    return g;
  }

  invite(id: string, alias: string): Promise<GroupInfo> {
    this.check(id, 'invite');
    return this.after(this.account.groups.invite(id, alias));
  }

  async join(id: string): Promise<GroupInfo> {
    const g = await this.after(this.account.groups.join(id));
    await this.reload(id);
    return g;
  }

  async decline(id: string): Promise<void> {
    await this.after(this.account.groups.decline(id));
    this.histories.delete(id);
  }

  leave(id: string): Promise<GroupInfo> {
    return this.after(this.account.groups.leave(id));
  }

  kick(id: string, member: string): Promise<GroupInfo> {
    const key = this.memberKey(id, member);
    this.check2(id, 'kick', key);
    return this.after(this.account.groups.kick(id, key));
  }

  ban(id: string, member: string): Promise<GroupInfo> {
    const key = this.memberKey(id, member);
    this.check2(id, 'ban', key);
    return this.after(this.account.groups.ban(id, key));
  }

  setRole(id: string, member: string, role: 'admin' | 'moderator' | 'member'): Promise<GroupInfo> {
    if (this.members(id).some((m) => m.me && m.key === member)) {
      // Stepping down needs no power: one's own role may only be lowered (decision 0021).
      if (GROUP_ROLE_POWER[role] >= this.myPower(id)) throw new GroupPowerError('role', 'creator');
      return this.after(this.account.groups.setRole(id, member, role));
    }
    const key = this.memberKey(id, member);
    this.check2(id, 'role', key);
    if (GROUP_ROLE_POWER[role] >= this.myPower(id)) throw new GroupPowerError('role', 'creator');
    return this.after(this.account.groups.setRole(id, key, role));
  }

  setTopic(id: string, topic: string): Promise<GroupInfo> {
    this.check(id, 'topic');
    return this.after(this.account.groups.setTopic(id, topic));
  }

  setName(id: string, name: string): Promise<GroupInfo> {
    this.check(id, 'name');
    return this.after(this.account.groups.setName(id, name));
  }

  /** Sets the group's picture or takes it down (the group's `avatar` power, admins by default; 0066). */
  setAvatar(id: string, avatar: Uint8Array | null): Promise<GroupInfo> {
    this.check(id, 'avatar');
    return this.after(this.account.groups.setAvatar(id, avatar));
  }

  /** Object URLs of group pictures, by group id, made again when the picture changes. */
  private readonly avatarUrls = new Map<string, { bytes: Uint8Array; url: string }>();

  /** The group's picture to draw (decision 0066), if it has one. */
  avatarUrl(id: string): string | undefined {
    const had = this.avatarUrls.get(id);
    const bytes = this.list.find((g) => g.id === id)?.avatar ? this.account.groups.avatar(id) : undefined;
    if (had && bytes && (had.bytes === bytes || equalBytes(had.bytes, bytes))) return had.url;
    if (had) URL.revokeObjectURL(had.url);
    this.avatarUrls.delete(id);
    if (!bytes) return undefined;
    const url = avatarObjectUrl(bytes);
    this.avatarUrls.set(id, { bytes, url });
    return url;
  }

  setPinned(id: string, text: string | null): Promise<GroupInfo> {
    this.check(id, 'pin');
    return this.after(this.account.groups.setPinned(id, text));
  }

  /** Turns history sharing on or off (the group's `settings` power). */
  setShareHistory(id: string, on: boolean): Promise<GroupInfo> {
    this.check(id, 'settings');
    return this.after(this.account.groups.setShareHistory(id, on));
  }

  /** Confirms a late message; the engine says when an admin or enough members have. */
  async confirmLate(id: string, message: string): Promise<MessageInfo> {
    const m = await this.account.groups.confirmLate(id, message);
    await this.reload(id);
    return m;
  }

  setNick(id: string, nick: string): Promise<GroupInfo> {
    return this.after(this.account.groups.setNick(id, nick));
  }

  async send(
    id: string,
    text: string,
    kind: 'text' | 'action' = 'text',
    replyTo?: string,
  ): Promise<MessageInfo> {
    this.check(id, 'message');
    const m = await this.account.groups.send(id, text, { kind, ...(replyTo ? { replyTo } : {}) });
    this.onMessage(m);
    return m;
  }

  async sendSticker(id: string, pack: string, sticker: string, replyTo?: string): Promise<MessageInfo> {
    this.check(id, 'message');
    const m = await this.account.groups.sendSticker(id, pack, sticker, replyTo ? { replyTo } : {});
    this.onMessage(m);
    return m;
  }

  /**
   * A photo, file or voice message into the group: one encrypted upload, then one group
   * message with its keys (Account.sendGroupFile). Its progress shows in `uploads(id)`.
   */
  async sendFile(id: string, file: OutgoingFile, replyTo?: string): Promise<MessageInfo> {
    this.check(id, 'message');
    const m = await this.uploadList.track(id, file, (hooks) =>
      this.account.sendGroupFile(id, file, { ...hooks, ...(replyTo ? { replyTo } : {}) }),
    );
    this.onMessage(m);
    return m;
  }

  /** Cancels the uploads into every group (the session locks). */
  abortUploads(): void {
    this.uploadList.abortAll();
  }

  /** The group's uploads still running. */
  uploads(id: string): readonly Upload[] {
    return this.uploadList.of(id);
  }

  /** 收回: takes one of my messages back from everyone. */
  async unsend(id: string, message: string): Promise<void> {
    await this.account.groups.unsend(id, message);
    await this.reload(id);
  }

  /** Reacts to a message ('' takes my reaction back). */
  async react(id: string, message: string, emoji: string): Promise<void> {
    await this.account.groups.react(id, message, emoji);
    await this.reload(id);
  }

  /** Deletes a message on this device only. */
  async deleteForMe(id: string, message: string): Promise<void> {
    await this.account.groups.deleteForMe(id, message);
    await this.reload(id);
  }
}
