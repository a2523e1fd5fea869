/**
 * Private chat requests from a group's member list (docs/decisions/0013, seed 001), the group
 * engine's part for them: a one-time contact card sent over the group session, kept by the
 * member asked until they accept (we become ordinary contacts) or decline (nothing goes back).
 * Records: room-records.ts.
 */
import {
  ExpiredError,
  NotFoundError,
  ProtocolError,
  QuotaError,
  UsageError,
  cardFromLink,
  cardToLink,
  checkCardUsable,
  equalBytes,
  toHex,
} from '@parus/core';
import type { ContactInfo } from '../public-shapes.ts';
import type { StoreOp } from '../store.ts';
import type { GroupContext, Loaded, Tx } from './engine-context.ts';
import { encodeGroupPayload, type GroupPayload } from './group-wire.ts';
import {
  MAX_CHAT_NOTE_CHARS,
  MAX_CHAT_REQUESTS,
  RC,
  decodeChatRequest,
  encodeRoomRecord,
  type ChatRequestRecord,
} from './room-records.ts';

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

/** What chat requests use of the engine. */
export type ChatRequestContext = Pick<
  GroupContext,
  | 'host'
  | 'groups'
  | 'find'
  | 'findMember'
  | 'state'
  | 'me'
  | 'linkOf'
  | 'displayName'
  | 'groupName'
  | 'change'
>;

const hex = toHex;

export class ChatRequests {
  constructor(private readonly ctx: ChatRequestContext) {}

  /**
   * Asks a member for a private 1:1 chat (seed 001): a fresh one-time contact card goes to them
   * over our group session. They see a request; only if they accept do we become contacts, each
   * with fresh per-contact keys. Nothing comes back if they decline.
   */
  async requestChat(ref: string, member: string, opts: { note?: string } = {}): Promise<{ expires: number }> {
    const note = opts.note === undefined ? undefined : opts.note.trim();
    if (note !== undefined && [...note].length > MAX_CHAT_NOTE_CHARS)
      throw new UsageError(`a note has at most ${MAX_CHAT_NOTE_CHARS} characters`);
    const l = this.ctx.find(ref);
    if (l.rec.status !== 'joined') throw new UsageError('you are not a member of this group');
    const m = this.ctx.findMember(l, member);
    if (equalBytes(m, this.ctx.me(l).publicKey)) throw new UsageError('that is you');
    if (!this.ctx.state(l).members.has(hex(m))) throw new UsageError(`${member} is not a member`);
    if (!this.ctx.linkOf(l, m))
      throw new UsageError('no session with this member yet; try again in a moment');
    const card = await this.ctx.host.makeContactCard();
    await this.ctx.change(async (tx) => {
      const c = this.ctx.linkOf(l, m);
      if (!c || l.rec.status !== 'joined') throw new UsageError('you are not a member of this group');
      const p: Extract<GroupPayload, { t: 'chatreq' }> = {
        t: 'chatreq',
        g: l.rec.id,
        link: cardToLink(card),
      };
      if (note) p.note = note;
      tx.ops.push(this.ctx.host.sendOp(c, encodeGroupPayload(p)));
    });
    return { expires: card.expires };
  }

  private async requestRecords(): Promise<Array<{ key: string; r: ChatRequestRecord }>> {
    return (await this.ctx.host.store.list(RC.requests)).map((e) => ({
      key: e.key,
      r: decodeChatRequest(e.value),
    }));
  }

  async receiveChatRequest(
    tx: Tx,
    l: Loaded,
    from: Uint8Array,
    link: string,
    note: string | undefined,
  ): Promise<void> {
    if (l.rec.status !== 'joined') throw new ProtocolError('a chat request for a group I am not in');
    if (!this.ctx.state(l).members.has(hex(from)))
      throw new ProtocolError('a chat request from someone who is not a member');
    const card = cardFromLink(link);
    if (!card.oneTime) throw new ProtocolError('a chat request carries a one-time card');
    const now = this.ctx.host.now();
    checkCardUsable(card, now);
    let live = 0;
    for (const { key, r } of await this.requestRecords()) {
      // Expired ones go; a member's earlier request in this group is replaced by this one.
      if (r.expires <= now || (equalBytes(r.g, l.rec.id) && equalBytes(r.m, from)))
        tx.ops.push({ type: 'del', collection: RC.requests, key });
      else live++;
    }
    if (live >= MAX_CHAT_REQUESTS) throw new QuotaError('too many chat requests wait');
    const id = hex(this.ctx.host.rng.bytes(8));
    const r: ChatRequestRecord = {
      id,
      g: l.rec.id,
      m: from,
      from: this.ctx.displayName(l, from),
      link,
      at: now,
      expires: card.expires,
      shown: false,
    };
    if (note) r.note = note;
    tx.ops.push({ type: 'put', collection: RC.requests, key: id, value: encodeRoomRecord(r) });
    tx.after.push(() => this.ctx.host.emit({ group: hex(l.rec.id), change: 'request' }));
  }

  /** Whether a request still stands: not expired, and its sender is still a member. */
  private requestStands(r: ChatRequestRecord): Loaded | undefined {
    const l = this.ctx.groups.get(hex(r.g));
    if (!l || r.expires <= this.ctx.host.now() || l.rec.status !== 'joined') return undefined;
    return this.ctx.state(l).members.has(hex(r.m)) ? l : undefined;
  }

  private requestInfo(l: Loaded, r: ChatRequestRecord): ChatRequestInfo {
    const info: ChatRequestInfo = {
      id: r.id,
      group: hex(r.g),
      groupName: l.rec.alias ?? this.ctx.groupName(l),
      from: this.ctx.displayName(l, r.m),
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
    return this.ctx.host.run(async () => {
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
      if (ops.length) await this.ctx.host.store.batch(ops);
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
    await this.ctx.host.run(() =>
      this.ctx.host.store.batch([{ type: 'del', collection: RC.requests, key: id }]),
    );
  }

  /** Accepts a chat request: its card is answered, and the member becomes an ordinary contact. */
  async acceptChatRequest(id: string, opts: { alias?: string } = {}): Promise<ContactInfo> {
    const r = await this.findRequest(id);
    if (!this.requestStands(r)) {
      await this.dropRequest(r.id);
      throw new ExpiredError('this chat request has expired or its sender left the group');
    }
    const contact = await this.ctx.host.acceptContactCard(r.link, opts.alias ?? r.from);
    await this.dropRequest(r.id);
    return contact;
  }

  /** Declines a chat request: it is forgotten, and the member is told nothing. */
  async declineChatRequest(id: string): Promise<void> {
    const r = await this.findRequest(id);
    await this.dropRequest(r.id);
  }
}
