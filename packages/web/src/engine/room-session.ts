/**
 * The public-room side of a `Session` (docs/decisions/0013): the room link to share (and its
 * QR code), joining a room by link, private chat requests sent from a member list, and the
 * requests others sent me, kept in memory and refreshed on the engine's `group` events.
 * Accepting a request makes a contact, so that lives in `Session` (it owns the contact list).
 */
import type { Account, ChatRequestInfo, GroupInfo } from '@parus/client';
import { NotFoundError, checkCardUsable, parseRoomLink, toHex } from '@parus/core';
import type { QrMatrix } from './qr-matrix.ts';

export interface RoomLinkView {
  link: string;
  qr: QrMatrix;
}

/** What a room link says, checked (signature, door card not expired) before anything is sent. */
export interface RoomPreview {
  group: string;
  name: string;
}

export class RoomSession {
  private requestList: ChatRequestInfo[] = [];
  private loading: Promise<void> | undefined;

  constructor(
    private readonly account: Account,
    private readonly changed: () => void,
    private readonly qr: (text: string) => QrMatrix,
    /** Re-reads the group list after a join (GroupSession keeps it). */
    private readonly groupsChanged: () => void,
  ) {}

  async load(): Promise<void> {
    this.requestList = await this.account.groups.chatRequests();
  }

  /** Re-reads the waiting requests (once at a time; a request changes, or its sender left). */
  refresh(): Promise<void> {
    this.loading ??= this.load()
      .then(() => this.changed())
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }

  /** From the account's `group` event. */
  onChange(change: string): void {
    if (change === 'request' || change === 'state' || change === 'removed' || change === 'left')
      void this.refresh().catch((e: unknown) => console.warn('parus: chat requests failed', e));
  }

  /** Private chat requests waiting for an answer, oldest first. */
  requests(): readonly ChatRequestInfo[] {
    return this.requestList;
  }

  /** My room link (made at the first call), or with `rotate` a new one: earlier links stop working. */
  async link(id: string, opts: { rotate?: boolean } = {}): Promise<RoomLinkView> {
    const link = await this.account.groups.roomLink(id, opts);
    return { link, qr: this.qr(link) };
  }

  /** Checks a room link and says which room it opens (DecodeError, VerificationError, ExpiredError). */
  preview(link: string): RoomPreview {
    const room = parseRoomLink(link.trim());
    checkCardUsable(room.door, Date.now());
    return { group: toHex(room.group), name: room.name };
  }

  /** Joins by link; the room shows as `invited` until a member's invitation for my new key arrives. */
  async join(link: string, opts: { nick?: string } = {}): Promise<GroupInfo> {
    const nick = opts.nick?.trim();
    const g = await this.account.groups.joinRoom(link.trim(), nick ? { nick } : {});
    this.groupsChanged();
    return g;
  }

  /** Asks a member (by key) for a private chat; they see a request, we hear back only if they accept. */
  async requestChat(id: string, member: string, note?: string): Promise<void> {
    const text = note?.trim();
    await this.account.groups.requestChat(id, member, text ? { note: text } : {});
  }

  async decline(id: string): Promise<void> {
    try {
      await this.account.groups.declineChatRequest(id);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
    await this.refresh();
  }
}
