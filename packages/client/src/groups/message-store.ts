/**
 * A group's stored messages, the group engine's part that reads and writes them: the records
 * (group-records.ts GC.messages), the message index kept beside them once read (message-index.ts),
 * and how a record shows as a MessageInfo (status, receipts counts, late and history marks).
 */
import { causalOrder, toHex, type CborMap, type Envelope } from '@parus/core';
import type { MessageInfo } from '../public-shapes.ts';
import type { MessageStatus } from '../records.ts';
import type { StoreOp } from '../store.ts';
import type { GroupContext, Loaded, Tx } from './engine-context.ts';
import {
  GC,
  decodeGroupMessage,
  encodeGroupRecord,
  type GroupMessageKind,
  type GroupMessageRecord,
} from './group-records.ts';
import { confirmationsNeeded, countingConfirmers } from './late-confirm.ts';
import { GroupMessageIndex } from './message-index.ts';

/** What the message store uses of the engine. */
export type MessageStoreContext = Pick<GroupContext, 'host' | 'state' | 'groupName' | 'displayName'>;

const hex = toHex;

/** A message that came to me (live, or owed to me), not shown yet and not read. */
export function incomingRecord(
  env: Envelope,
  from: Uint8Array,
  kind: GroupMessageKind,
  text: string,
  now: number,
): GroupMessageRecord {
  return {
    id: env.id,
    author: from,
    dir: 'in',
    kind,
    text,
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
    if (m.place) info.late = true;
    if (m.hist) info.history = true;
    if (m.place || m.conf?.length) {
      info.confirmations = st ? countingConfirmers(st, m).length : (m.conf?.length ?? 0);
      if (st) info.confirmationsNeeded = confirmationsNeeded(st);
      if (!m.place) info.confirmed = true;
    }
    return info;
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
