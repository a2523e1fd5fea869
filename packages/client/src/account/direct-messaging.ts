/**
 * Sending in 1:1 conversations, the account's part for it: texts, `/me` actions and stickers
 * (each written with its outbox entry in one batch, sent by the flush), unsending (收回), and
 * typing signals (ephemeral, never stored). Files go through file-transfer.ts, which hands its
 * `file` message to sendUserMessage here.
 */
import {
  NotFoundError,
  UsageError,
  createEnvelope,
  decodeRatchetState,
  encodeEnvelope,
  encodeRatchetState,
  encodeStickerBody,
  encodeTextBody,
  encodeReactionBody,
  encodeUnsendBody,
  padToBucket,
  ratchetEncrypt,
  type CborMap,
  type FileBody,
  type MessageKind,
} from '@parus/core';
import type { MessageInfo } from '../public-shapes.ts';
import { decodeMessage, encodeRecord, type ContactRecord, type MessageRecord } from '../records.ts';
import type { StoreOp } from '../store.ts';
import {
  C,
  SHOWN_KINDS,
  fromHexId,
  hex,
  sendQueues,
  tombstone,
  withReaction,
  type AccountContext,
} from './account-context.ts';

const MAX_TEXT = 16 * 1024;
/** At most one typing signal per contact in this time (sender side). */
const TYPING_INTERVAL_MS = 3_000;

/** What sending uses of the account. */
export type MessagingContext = Pick<
  AccountContext,
  | 'store'
  | 'rng'
  | 'now'
  | 'lock'
  | 'events'
  | 'relays'
  | 'contactsById'
  | 'device'
  | 'kickFlush'
  | 'mustContact'
  | 'mustSendable'
  | 'saveContact'
  | 'outboxOp'
  | 'syncOps'
  | 'settleOutbox'
  | 'conversation'
  | 'messageInfo'
>;

export class DirectMessaging {
  private readonly lastTyping = new Map<string, number>();

  constructor(private readonly ctx: MessagingContext) {}

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
  async sendUserMessage(
    alias: string,
    kind: MessageKind,
    replyToHex: string | undefined,
    make: (replyTo: Uint8Array | undefined) => {
      body: CborMap;
      fields: Pick<MessageRecord, 'text'> & Partial<MessageRecord>;
    },
    extraOps: (c: ContactRecord) => StoreOp[] = () => [],
  ): Promise<MessageInfo> {
    const info = await this.ctx.lock.run(async () => {
      const c = this.ctx.mustSendable(alias);
      let replyTo: Uint8Array | undefined;
      if (replyToHex) {
        replyTo = fromHexId(replyToHex);
        if (!(await this.ctx.store.get(C.messages(c.id), hex(replyTo))))
          throw new NotFoundError('no such message to reply to');
      }
      const { body, fields } = make(replyTo);
      const { record, ops } = await this.ownMessage(c, kind, body, fields);
      if (replyTo) record.replyTo = replyTo;
      await this.ctx.store.batch([
        { type: 'put', collection: C.messages(c.id), key: hex(record.id), value: encodeRecord(record) },
        ...ops,
        ...extraOps(c),
      ]);
      (await this.ctx.conversation(c)).put(record);
      // A message ends "typing" on their side: the next keystroke may signal again at once.
      this.lastTyping.delete(hex(c.id));
      return this.ctx.messageInfo(c, record);
    });
    this.ctx.kickFlush();
    return info;
  }

  /** A new envelope of ours in the conversation's DAG, its record and its outbox entry. */
  private async ownMessage(
    c: ContactRecord,
    kind: MessageKind,
    body: CborMap,
    fields: Pick<MessageRecord, 'text'> & Partial<MessageRecord>,
  ): Promise<{ record: MessageRecord; ops: StoreOp[] }> {
    const { parents, lamport } = (await this.ctx.conversation(c)).next();
    const env = createEnvelope({
      device: this.ctx.device(),
      conv: c.conv,
      parents,
      lamport,
      ts: this.ctx.now(),
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
    // A copy for my other devices, where it shows as sent by me (decision 0039).
    const copies = await this.ctx.syncOps([{ t: 'sent', env: record.envelope }]);
    return { record, ops: [this.ctx.outboxOp(c, record.envelope, env.id), ...copies] };
  }

  /**
   * Takes one of our messages back (收回): its text, sticker or file is removed here at once,
   * and an `unsend` message (through the outbox, resent until its receipt) tells the
   * contact to remove it too. A message not yet sent is never sent.
   */
  async unsend(alias: string, messageId: string): Promise<MessageInfo> {
    const id = fromHexId(messageId);
    const info = await this.ctx.lock.run(async () => {
      const c = this.ctx.mustSendable(alias);
      const raw = await this.ctx.store.get(C.messages(c.id), hex(id));
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
      await this.ctx.store.batch([
        { type: 'put', collection: C.messages(c.id), key: hex(record.id), value: encodeRecord(record) },
        { type: 'put', collection: C.messages(c.id), key: hex(id), value: encodeRecord(gone) },
        ...ops,
        ...(await this.ctx.settleOutbox(c, [id])),
      ]);
      (await this.ctx.conversation(c)).put(record);
      this.ctx.events.emit('unsent', { alias: c.alias, id: hex(id) });
      return {
        info: this.ctx.messageInfo(c, gone),
        blob: target.file && target.uploadKey ? target : undefined,
      };
    });
    this.ctx.kickFlush();
    if (info.blob) await this.deleteBlob(info.blob.file!, info.blob.uploadKey!);
    return info.info;
  }

  /**
   * Reacts to a message of the conversation with one of REACTIONS ('' takes mine back): a
   * `reaction` message, shown under the target on both sides. UsageError for another emoji or
   * a message that cannot take one (unsent, deleted, not a message); NotFoundError for none.
   */
  async react(alias: string, messageId: string, emoji: string): Promise<MessageInfo> {
    const id = fromHexId(messageId);
    const body = encodeReactionBody({ target: id, emoji });
    const info = await this.ctx.lock.run(async () => {
      const c = this.ctx.mustSendable(alias);
      const raw = await this.ctx.store.get(C.messages(c.id), hex(id));
      if (!raw) throw new NotFoundError('no such message');
      const target = decodeMessage(raw);
      const { record, ops } = await this.ownMessage(c, 'reaction', body, { text: '', target: id, emoji });
      const next = withReaction(target, 'me', emoji, record.lamport);
      if (!next) throw new UsageError('this message cannot take a reaction');
      await this.ctx.store.batch([
        { type: 'put', collection: C.messages(c.id), key: hex(record.id), value: encodeRecord(record) },
        { type: 'put', collection: C.messages(c.id), key: hex(id), value: encodeRecord(next) },
        ...ops,
      ]);
      (await this.ctx.conversation(c)).put(record);
      return this.ctx.messageInfo(c, next);
    });
    this.ctx.kickFlush();
    return info;
  }

  /**
   * Asks the relay to delete an unsent file's blob. Best effort, once, only when connected:
   * the contact's engine drops the file's keys anyway, and the relay deletes the blob at
   * its expiry; this only frees the space sooner.
   */
  private async deleteBlob(file: FileBody, uploadKey: Uint8Array): Promise<void> {
    const r = this.ctx.relays.get(file.relay);
    if (!r?.connected) return;
    await r.command({ t: 'bdel', bid: file.blob }, uploadKey).catch(() => undefined);
  }

  /**
   * Tells the contact we are typing. Ephemeral: never stored, never resent, not in the
   * history; sent only when the relay is connected now, and at most once per 3 s per
   * contact. Resolves true when a signal went out.
   */
  async sendTyping(alias: string): Promise<boolean> {
    const c = this.ctx.mustContact(alias);
    const cid = hex(c.id);
    const now = this.ctx.now();
    const last = this.lastTyping.get(cid);
    if (last !== undefined && now - last < TYPING_INTERVAL_MS) return false;
    if (c.state === 'compromised' || c.status !== 'active' || !c.send) return false;
    // Their first queue, or their second when only its relay is connected (decision 0037).
    const relay = sendQueues(c).find((q) => this.ctx.relays.get(q.relay)?.connected)?.relay;
    const r = relay === undefined ? undefined : this.ctx.relays.get(relay);
    if (!r?.connected) return false;
    this.lastTyping.set(cid, now);
    const prepared = await this.ctx.lock.run(async () => {
      const current = this.ctx.contactsById.get(cid);
      if (!current?.send) return undefined;
      const env = createEnvelope({
        device: this.ctx.device(),
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
        this.ctx.rng,
      );
      await this.ctx.saveContact({ ...current, session: encodeRatchetState(enc.state) });
      const queue = sendQueues(current).find((q) => q.relay === relay) ?? current.send;
      return { wire: enc.message, sid: queue.sid, senderKey: current.senderKey };
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
}
