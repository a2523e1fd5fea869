/**
 * A group's stored messages, the group engine's part that reads and writes them: the records
 * (group-records.ts GC.messages), the message index kept beside them once read (message-index.ts),
 * and how a record shows as a MessageInfo (status, receipts counts, late and history marks).
 */
import { ProtocolError, causalOrder, equalBytes, toHex, type CborMap, type Envelope } from '@parus/core';
import { SHOWN_GROUP_KINDS, type GroupBody } from './group-body.ts';
import type { MessageInfo } from '../public-shapes.ts';
import type { MessageStatus } from '../records.ts';
import type { StoreOp } from '../store.ts';
import type { GroupContext, Loaded, Tx } from './engine-context.ts';
import { GC, decodeGroupMessage, encodeGroupRecord, type GroupMessageRecord } from './group-records.ts';
import { confirmationsNeeded, countingConfirmers } from './late-confirm.ts';
import { GroupMessageIndex } from './message-index.ts';

/** What the message store uses of the engine. */
export type MessageStoreContext = Pick<GroupContext, 'host' | 'state' | 'groupName' | 'displayName' | 'me'>;

const hex = toHex;

/** A message that came to me (live, or owed to me), not shown yet and not read. */
export function incomingRecord(
  env: Envelope,
  from: Uint8Array,
  body: GroupBody,
  now: number,
): GroupMessageRecord {
  return {
    ...body,
    id: env.id,
    author: from,
    dir: 'in',
    parents: env.parents,
    lamport: env.lamport,
    ts: env.ts,
    received: now,
    delivered: 0,
    read: 0,
    shown: false,
    readByMe: false,
  };
}

export class GroupMessageStore {
  /** Per group: its stored messages' heads, clocks and times (message-index.ts), once read. */
  private readonly indexes = new WeakMap<Loaded, GroupMessageIndex>();
  /** Per group: messages stored so far, to tell a read of the store that raced a write. */
  private readonly stored = new WeakMap<Loaded, number>();

  constructor(private readonly ctx: MessageStoreContext) {}

  /** The group's stored messages, as stored. */
  async records(l: Loaded): Promise<GroupMessageRecord[]> {
    return (await this.ctx.host.store.list(GC.messages(l.rec.id))).map((e) => decodeGroupMessage(e.value));
  }

  /** The group's message index, read from the store the first time (message-index.ts). */
  async index(l: Loaded): Promise<GroupMessageIndex> {
    for (;;) {
      const known = this.indexes.get(l);
      if (known) return known;
      const writes = this.stored.get(l) ?? 0;
      const index = GroupMessageIndex.from(await this.records(l));
      // A message stored while the store was read may be missing from it: read again.
      if ((this.stored.get(l) ?? 0) !== writes) continue;
      this.indexes.set(l, index);
      return index;
    }
  }

  /** Writes a message record; once stored, the index learns of it. */
  put(tx: Tx, l: Loaded, r: GroupMessageRecord): void {
    tx.ops.push(this.op(l.rec.id, r));
    tx.after.push(() => {
      this.stored.set(l, (this.stored.get(l) ?? 0) + 1);
      if (this.indexes.get(l)?.put(r) === false) this.indexes.delete(l);
    });
  }

  /** A message record as stored (the marks of an old record left out). */
  op(group: Uint8Array, r: GroupMessageRecord): StoreOp {
    const value = { ...r } as Record<string, unknown>;
    if (!r.place) delete value.place;
    delete value.legacy;
    return {
      type: 'put',
      collection: GC.messages(group),
      key: hex(r.id),
      value: encodeGroupRecord(value as unknown as CborMap),
    };
  }

  /**
   * What a new message `r` does to the others (docs/decisions/0044), before it is stored: a
   * reply to a message this group does not have loses its quote; an unsend tombstones its
   * target, and is a ProtocolError (nothing stored) when the target is someone else's; a
   * reaction replaces its author's earlier one on the target, and is ignored when the target is
   * not a message here. Returns whether another message changed.
   */
  async effects(tx: Tx, l: Loaded, r: GroupMessageRecord): Promise<boolean> {
    const get = async (id: Uint8Array): Promise<GroupMessageRecord | undefined> => {
      const raw = await this.ctx.host.store.get(GC.messages(l.rec.id), hex(id));
      return raw ? decodeGroupMessage(raw) : undefined;
    };
    if (r.replyTo) {
      const quoted = await get(r.replyTo);
      if (!quoted || !SHOWN_GROUP_KINDS.has(quoted.kind)) delete r.replyTo;
    }
    if (!r.target) return false;
    const target = await get(r.target);
    if (r.kind === 'unsend') {
      if (!target) return false;
      if (!equalBytes(target.author, r.author) || !SHOWN_GROUP_KINDS.has(target.kind))
        throw new ProtocolError('unsend of a message its sender did not write');
      if (target.unsent) return false;
      const gone: GroupMessageRecord = { ...target, text: '', unsent: true };
      delete gone.sticker;
      delete gone.file;
      delete gone.replyTo;
      delete gone.rx;
      this.put(tx, l, gone);
      return true;
    }
    if (r.kind !== 'reaction' || !target || !SHOWN_GROUP_KINDS.has(target.kind) || target.unsent)
      return false;
    const rx = target.rx ?? [];
    const earlier = rx.find((x) => equalBytes(x.m, r.author));
    if (earlier && earlier.l > r.lamport) return false;
    const next = rx.filter((x) => x !== earlier);
    if (r.emoji) next.push({ m: r.author, e: r.emoji, l: r.lamport });
    this.put(tx, l, { ...target, rx: next });
    return true;
  }

  /** A message as the account shows it. */
  info(l: Loaded, m: GroupMessageRecord): MessageInfo {
    const st = l.events.size ? this.ctx.state(l) : undefined;
    const others = st ? Math.max(0, st.members.size - 1) : 0;
    let status: MessageStatus = 'received';
    if (m.dir === 'out')
      status = others > 0 && m.read >= others ? 'read' : m.delivered > 0 ? 'delivered' : 'pending';
    // Incoming: 'read' once this device sent its read receipt (markRead), as 1:1 messages show.
    else if (m.readByMe) status = 'read';
    const info: MessageInfo = {
      id: hex(m.id),
      alias: l.rec.alias ?? this.ctx.groupName(l),
      group: hex(l.rec.id),
      from: this.ctx.displayName(l, m.author),
      dir: m.dir,
      kind: m.kind,
      text: m.text,
      ts: m.ts,
      lamport: m.lamport,
      status,
    };
    if (m.dir === 'out') {
      info.deliveredCount = m.delivered;
      info.readCount = m.read;
    }
    if (m.replyTo) info.replyTo = hex(m.replyTo);
    if (m.sticker) info.sticker = { ...m.sticker };
    if (m.callLog) {
      info.call = { video: m.callLog.video, outcome: m.callLog.outcome };
      if (m.callLog.secs !== undefined) info.call.secs = m.callLog.secs;
    }
    if (m.file) {
      const f = m.file;
      info.file = { name: f.name, mime: f.mime, size: f.size, expires: f.expires };
      if (f.thumb) info.file.thumbnail = f.thumb;
      if (f.voice) info.file.voice = { ms: f.voice.ms, wave: Uint8Array.from(f.voice.wave) };
    }
    if (m.unsent) info.unsent = true;
    if (m.rx?.length) {
      const me = this.ctx.me(l).publicKey;
      info.reactions = m.rx.map((x) => ({
        emoji: x.e,
        from: this.ctx.displayName(l, x.m),
        ...(equalBytes(x.m, me) ? { me: true as const } : {}),
      }));
    }
    if (m.place) info.late = true;
    if (m.hist) info.history = true;
    if (m.place || m.conf?.length) {
      info.confirmations = st ? countingConfirmers(st, m).length : (m.conf?.length ?? 0);
      if (st) info.confirmationsNeeded = confirmationsNeeded(st);
      if (!m.place) info.confirmed = true;
    }
    return info;
  }

  /** Whether a record shows as a message (not an unsend, a reaction, or deleted for me). */
  static shown(m: GroupMessageRecord): boolean {
    return SHOWN_GROUP_KINDS.has(m.kind) && !m.gone;
  }

  /** Messages in causal order, late ones where they arrived. */
  ordered(records: GroupMessageRecord[]): GroupMessageRecord[] {
    const nodes = records.map((r) => ({
      id: r.id,
      parents: r.place?.parents ?? r.parents,
      lamport: r.place?.lamport ?? r.lamport,
      ts: r.ts,
      r,
    }));
    return causalOrder(nodes).map((n) => n.r);
  }
}
