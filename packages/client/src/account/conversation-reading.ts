/**
 * Reading 1:1 conversations, the account's part for it: the stored messages, each
 * conversation's index (built once, kept in memory), how a record shows as a message, the
 * history in causal order, what is not shown yet, and read receipts.
 */
import { causalOrder } from '@parus/core';
import type { MessageInfo } from '../public-shapes.ts';
import { ConversationIndex } from '../conversation-index.ts';
import { encodeRecord, decodeMessage, type ContactRecord, type MessageRecord } from '../records.ts';
import type { StoreOp } from '../store.ts';
import { C, SHOWN_KINDS, hex, type AccountContext } from './account-context.ts';

/** What reading uses of the account. */
export type ReadingContext = Pick<
  AccountContext,
  | 'store'
  | 'lock'
  | 'groups'
  | 'contactsById'
  | 'conversations'
  | 'mustContact'
  | 'control'
  | 'kickFlush'
  | 'self'
>;

export class ConversationReading {
  constructor(private readonly ctx: ReadingContext) {}

  private async messageRecords(c: ContactRecord): Promise<MessageRecord[]> {
    return (await this.ctx.store.list(C.messages(c.id))).map((e) => decodeMessage(e.value));
  }

  /** The conversation's index, built from its stored messages on first use. */
  async conversation(c: ContactRecord): Promise<ConversationIndex> {
    const key = hex(c.id);
    let index = this.ctx.conversations.get(key);
    if (!index) {
      index = ConversationIndex.from(await this.messageRecords(c));
      this.ctx.conversations.set(key, index);
    }
    return index;
  }

  messageInfo(c: ContactRecord, m: MessageRecord): MessageInfo {
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
      if (m.file.voice) info.file.voice = { ms: m.file.voice.ms, wave: Uint8Array.from(m.file.voice.wave) };
    }
    if (m.callLog) {
      const { video, outcome, secs } = m.callLog;
      info.call = secs === undefined ? { video, outcome } : { video, outcome, secs };
    }
    if (m.unsent !== undefined) info.unsent = true;
    if (m.rx?.length)
      info.reactions = m.rx.map((x) => ({
        emoji: x.e,
        from: x.by === 'me' ? this.ctx.self().name : c.alias,
        ...(x.by === 'me' ? { me: true as const } : {}),
      }));
    return info;
  }

  /** The whole conversation in causal order (unsent messages as tombstones). */
  async history(alias: string): Promise<MessageInfo[]> {
    const c = this.ctx.mustContact(alias);
    const records = await this.messageRecords(c);
    const byId = new Map(records.map((m) => [hex(m.id), m]));
    return (
      causalOrder(records)
        .map((n) => byId.get(hex(n.id))!)
        // Deleted for me (decision 0039): kept for the DAG, never shown.
        .filter((m) => SHOWN_KINDS.has(m.kind) && m.deleted === undefined)
        .map((m) => this.messageInfo(c, m))
    );
  }

  /** Incoming messages not shown yet, in causal order per conversation; marks them shown. */
  async takeUnshown(): Promise<MessageInfo[]> {
    return this.ctx.lock.run(async () => {
      const out: MessageInfo[] = [];
      const ops: StoreOp[] = [];
      for (const c of [...this.ctx.contactsById.values()].sort((a, b) => a.created - b.created)) {
        const records = await this.messageRecords(c);
        const byId = new Map(records.map((m) => [hex(m.id), m]));
        for (const n of causalOrder(records)) {
          const m = byId.get(hex(n.id))!;
          // Incoming messages, and copies of mine sent from my other devices (decision 0039).
          if (m.shown) continue;
          if (SHOWN_KINDS.has(m.kind) && m.deleted === undefined) out.push(this.messageInfo(c, m));
          ops.push({
            type: 'put',
            collection: C.messages(c.id),
            key: hex(m.id),
            value: encodeRecord({ ...m, shown: true }),
          });
        }
      }
      out.push(...(await this.ctx.groups.takeUnshown(ops)));
      if (ops.length) await this.ctx.store.batch(ops);
      return out;
    });
  }

  /** Sends read receipts (已讀) for every incoming message of a conversation not yet marked read. */
  async markRead(alias: string): Promise<number> {
    const n = await this.ctx.lock.run(async () => {
      const c = this.ctx.mustContact(alias);
      const unread = (await this.messageRecords(c)).filter(
        (m) => m.dir === 'in' && m.status !== 'read' && SHOWN_KINDS.has(m.kind) && m.deleted === undefined,
      );
      if (unread.length === 0) return 0;
      const ops: StoreOp[] = unread.map((m) => ({
        type: 'put' as const,
        collection: C.messages(c.id),
        key: hex(m.id),
        value: encodeRecord({ ...m, status: 'read' }),
      }));
      for (let i = 0; i < unread.length; i += 256) {
        ops.push(this.ctx.control(c, 'read', { ids: unread.slice(i, i + 256).map((m) => m.id) }));
      }
      await this.ctx.store.batch(ops);
      return unread.length;
    });
    if (n > 0) this.ctx.kickFlush();
    return n;
  }

  /**
   * For diagnostics and tests: how many outbox entries wait, by state. A group message counts
   * once: queued while some member waits for an upload, else relayed while receipts are due.
   */
}
