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
  /** The short link (decision 0059) when the relay keeps it, else the long one. */
  link: string;
  /** The full room link: longer, opened without its relay. */
  longLink: string;
  qr: QrMatrix;
}

/** What a room link says, checked (signature, door card not expired) before anything is sent. */
export interface RoomPreview {
  group: string;
  name: string;
  /** The long room link (a short one fetched from its relay): what `join` is given. */
  link: string;
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
    const { link, longLink } = await this.account.roomLink(id, opts);
    return { link, longLink, qr: this.qr(link) };
  }

  /**
   * Checks a room link, short or long (a short one is fetched from its relay first), and says
   * which room it opens: DecodeError, VerificationError, ProtocolError (withdrawn or expired),
   * TransportError or TimeoutError (the short link's relay cannot be reached).
   */
  async preview(text: string): Promise<RoomPreview> {
    const link = await this.account.resolveRoomLink(text);
    const room = parseRoomLink(link);
    checkCardUsable(room.door, Date.now());
    return { group: toHex(room.group), name: room.name, link };
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
