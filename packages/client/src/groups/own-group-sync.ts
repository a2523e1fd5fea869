/**
 * My groups on my other devices (docs/decisions/0054), the group engine's part that takes in
 * what another device of mine tells this one about a group, inside our own-device session
 * (account/own-devices.ts hands it over, under the account's lock):
 *
 * - a **sent copy** (sync op `sent` whose envelope names a group): a message I wrote on the other
 *   device, signed by my member key; stored here as mine (`dir: out`), once, at its place in the
 *   group's message graph, deleted at once when a tombstone names it;
 * - **read** and **delete for me** (sync ops `read`, `del`, `clear` naming the group): incoming
 *   messages up to the clock become read here (no receipt: the other device sent it), deleted
 *   ones lose their contents;
 * - **group** (sync op `group`): state events I signed there (topic, name, roles, bans, ...),
 *   taken in as any event is (the group state decides what counts), and after a rekey my new
 *   member key with its sealed next seed, so this device writes under the key the others
 *   know me by.
 *
 * A group this device does not hold is left alone. Refusals (typed, nothing changed): a copy not
 * signed by a key of mine in that group (VerificationError), a member key whose public half is
 * not its seed's (VerificationError) or that is not a member of the group (ProtocolError).
 */
import {
  ProtocolError,
  VerificationError,
  decodeGroupEvent,
  equalBytes,
  signKeyPairFromSeed,
  toHex,
  type Envelope,
  type GroupEvent,
  type SyncOp,
} from '@parus/core';
import type { StoreOp } from '../store.ts';
import type { GroupContext, Loaded, Tx } from './engine-context.ts';
import { decodeGroupBody } from './group-body.ts';
import { GC, decodeGroupMessage, type GroupMessageRecord } from './group-records.ts';
import { GroupMessageStore } from './message-store.ts';

/** What own-device sync uses of the engine. */
export type OwnGroupContext = Pick<
  GroupContext,
  'host' | 'groups' | 'state' | 'me' | 'snapshot' | 'putRec' | 'addEvents'
>;

/** How far back a sent copy's key may be one of mine (rekeys in a row). */
const MAX_KEY_HISTORY = 64;

const hex = toHex;

/** A message deleted for me: the record stays (the graph needs it), its contents go. */
export function goneRecord(m: GroupMessageRecord): GroupMessageRecord {
  const gone: GroupMessageRecord = { ...m, text: '', gone: true };
  for (const k of ['sticker', 'file', 'replyTo', 'rx'] as const) delete gone[k];
  return gone;
}

export class OwnGroupSync {
  constructor(
    private readonly ctx: OwnGroupContext,
    private readonly messages: GroupMessageStore,
  ) {}

  /** Whether `id` names a group this device holds. */
  has(id: Uint8Array): boolean {
    return id.length === 16 && this.ctx.groups.has(hex(id));
  }

  /** Runs `fn` on the caller's batch; a refusal takes back what it wrote and the view it changed. */
  private async within(
    g: Uint8Array,
    ops: StoreOp[],
    after: Array<() => void>,
    fn: (tx: Tx) => Promise<void>,
  ) {
    const restore = this.ctx.snapshot(hex(g));
    const mark = ops.length;
    const marked = after.length;
    try {
      await fn({ ops, after });
    } catch (e) {
      ops.length = mark;
      after.length = marked;
      restore();
      throw e;
    }
  }

  /** Whether `key` is my member key in `l`, or one my rekeys replaced. */
  private mine(l: Loaded, key: Uint8Array): boolean {
    let current = this.ctx.me(l).publicKey;
    for (let i = 0; i < MAX_KEY_HISTORY; i++) {
      if (equalBytes(current, key)) return true;
      let before: GroupEvent | undefined;
      for (const e of l.events.values())
        if (e.type === 'rekey' && equalBytes(e.content.key, current)) before = e;
      if (!before) return false;
      current = before.author;
    }
    return false;
  }

  /** A copy of a group message another device of mine sent: stored as mine, once. */
  async sent(env: Envelope, deleted: boolean, ops: StoreOp[], after: Array<() => void>): Promise<void> {
    const l = this.ctx.groups.get(hex(env.conv));
    if (!l) return;
    await this.within(l.rec.id, ops, after, async (tx) => {
      if (!this.mine(l, env.device))
        throw new VerificationError('a sent copy not signed by my member key in this group');
      if (await this.ctx.host.store.get(GC.messages(l.rec.id), hex(env.id))) return; // once
      const body = decodeGroupBody(env.kind, env.body);
      let record: GroupMessageRecord = {
        ...body,
        id: env.id,
        author: env.device,
        dir: 'out',
        parents: env.parents,
        lamport: env.lamport,
        ts: env.ts,
        received: this.ctx.host.now(),
        delivered: 0,
        read: 0,
        shown: true,
        readByMe: true,
      };
      const changed = await this.messages.effects(tx, l, record);
      if (deleted) record = goneRecord(record);
      this.messages.put(tx, l, record);
      if (GroupMessageStore.shown(record))
        tx.after.push(() => this.ctx.host.emitMessage(this.messages.info(l, record)));
      if (changed) tx.after.push(() => this.ctx.host.emit({ group: hex(l.rec.id), change: 'messages' }));
    });
  }

  /**
   * Reads and deletes another device of mine made in group `g`, as the merged sync state has
   * them: `read` is the clock read up to, `deleted` names the messages deleted for me.
   */
  async conversation(
    g: Uint8Array,
    read: number,
    deleted: (id: Uint8Array, lamport: number) => boolean,
    ops: StoreOp[],
    after: Array<() => void>,
  ): Promise<void> {
    const l = this.ctx.groups.get(hex(g));
    if (!l) return;
    await this.within(l.rec.id, ops, after, async (tx) => {
      let changed = false;
      for (const { value } of await this.ctx.host.store.list(GC.messages(l.rec.id))) {
        const m = decodeGroupMessage(value);
        if (m.gone) continue;
        if (deleted(m.id, m.lamport)) {
          this.messages.put(tx, l, goneRecord(m));
          changed = true;
        } else if (m.dir === 'in' && !m.readByMe && m.lamport <= read) {
          this.messages.put(tx, l, { ...m, readByMe: true, shown: true });
          changed = true;
        }
      }
      if (changed) tx.after.push(() => this.ctx.host.emit({ group: hex(l.rec.id), change: 'messages' }));
    });
  }

  /** State events I signed on another device, and my new member key after a rekey there. */
  async group(op: Extract<SyncOp, { t: 'group' }>, ops: StoreOp[], after: Array<() => void>): Promise<void> {
    const l = this.ctx.groups.get(hex(op.g));
    if (!l) return;
    await this.within(l.rec.id, ops, after, async (tx) => {
      if (op.ev) {
        const fresh = op.ev
          .map((bytes) => decodeGroupEvent(bytes, { group: l.rec.id }))
          .filter((e) => !l.events.has(hex(e.id)));
        this.ctx.addEvents(tx, l, fresh);
      }
      if (!op.key) return;
      const key = signKeyPairFromSeed(op.key.subarray(0, 32));
      if (!equalBytes(key.publicKey, op.key.subarray(32)))
        throw new VerificationError('a member key whose public half is not its seed’s');
      if (equalBytes(key.publicKey, this.ctx.me(l).publicKey)) return;
      if (!this.ctx.state(l).members.has(hex(key.publicKey)))
        throw new ProtocolError('a member key that is not a member of this group');
      // The others moved my links to the new key and dropped my old chains: mine is replaced
      // before my next message, distributed under the new key.
      this.ctx.putRec(tx, l, {
        ...l.rec,
        me: key.secretKey,
        ...(op.nx ? { nx: op.nx } : {}),
        rotate: true,
      });
      tx.after.push(() => this.ctx.host.emit({ group: hex(l.rec.id), change: 'state' }));
    });
  }
}
