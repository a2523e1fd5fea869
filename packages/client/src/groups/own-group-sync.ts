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
  MAX_SYNC_GROUP_EVENTS,
  MAX_SYNC_GROUP_SECTION_BYTES,
  ProtocolError,
  QuotaError,
  VerificationError,
  decodeCbor,
  decodeGroupEvent,
  encodeCbor,
  encodeGroupEvent,
  equalBytes,
  fromHex,
  hash,
  signKeyPairFromSeed,
  toHex,
  type Envelope,
  type GroupEvent,
  type SyncOp,
  type SyncOpBody,
} from '@parus/core';
import type { InviteRecord } from '../records.ts';
import { decodeSnapshotGroup, encodeSnapshotGroup, type SnapshotGroup } from '../snapshot-groups.ts';
import type { StoreOp } from '../store.ts';
import { MAX_GROUPS, type GroupContext, type Loaded, type Tx } from './engine-context.ts';
import { decodeGroupBody } from './group-body.ts';
import {
  RESTORED_LINKS,
  decodeRestoredLinks,
  encodeRestoredLinksRecord,
  restoreGroupOps,
  snapshotGroup,
} from './group-snapshot.ts';
import { GC, decodeGroupMessage, type GroupMessageRecord } from './group-records.ts';
import { GroupMessageStore } from './message-store.ts';

/** What own-device sync uses of the engine. */
export type OwnGroupContext = Pick<
  GroupContext,
  'host' | 'groups' | 'state' | 'me' | 'snapshot' | 'putRec' | 'addEvents'
>;

/** What a group's section was when last sent to my other devices (a hash, by group). */
const SECTIONS_SENT = 'gown';

/** How far back a sent copy's key may be one of mine (rekeys in a row). */
const MAX_KEY_HISTORY = 64;

const hex = toHex;
const enc = (text: string): Uint8Array => new TextEncoder().encode(text);

/**
 * A group's section as `group` operations: one with the section, whose events are the ones
 * that fit in it (the create and the earliest first), then the rest 16 to an operation.
 */
export function sectionBodies(g: SnapshotGroup): SyncOpBody[] {
  const events = [...g.events];
  // Within the section's bound, leaving room for the rest of the section and the envelope.
  const budget =
    MAX_SYNC_GROUP_SECTION_BYTES - encodeCbor(encodeSnapshotGroup({ ...g, events: [] })).length - 1024;
  let size = 0;
  let n = 0;
  while (n < events.length && size + events[n]!.length + 8 <= budget) size += events[n++]!.length + 8;
  const bodies: SyncOpBody[] = [
    { t: 'group', g: g.id, sec: encodeCbor(encodeSnapshotGroup({ ...g, events: events.slice(0, n) })) },
  ];
  for (let i = n; i < events.length; i += MAX_SYNC_GROUP_EVENTS)
    bodies.push({ t: 'group', g: g.id, ev: events.slice(i, i + MAX_SYNC_GROUP_EVENTS) });
  return bodies;
}

/** A message deleted for me: the record stays (the graph needs it), its contents go. */
export function goneRecord(m: GroupMessageRecord): GroupMessageRecord {
  const gone: GroupMessageRecord = { ...m, text: '', gone: true };
  for (const k of ['sticker', 'file', 'replyTo', 'rx'] as const) delete gone[k];
  return gone;
}

export class OwnGroupSync {
  /** Groups whose record changed since their section was last looked at (decision 0060). */
  private readonly dirty = new Set<string>();

  constructor(
    private readonly ctx: OwnGroupContext,
    private readonly messages: GroupMessageStore,
  ) {}

  /** A group record changed: its section is compared with the one my other devices have. */
  touched(id: Uint8Array): void {
    this.dirty.add(hex(id));
  }

  /** Nothing to compare (no other device of mine to send to). */
  untouchAll(): void {
    this.dirty.clear();
  }

  /** Whether some group's section is to be compared. */
  due(): boolean {
    return this.dirty.size > 0;
  }

  /** Every group is compared again (a new session with a device of mine: `sessions` changed). */
  touchAll(): void {
    for (const k of this.ctx.groups.keys()) this.dirty.add(k);
  }

  // ---- Out: a group made, joined or linked here goes to my other devices (decision 0060) -----

  /**
   * The `group` operations carrying the sections of the touched groups whose section changed
   * since it went to my other devices (`sessions` names them: a new device gets every group),
   * with the store operations that remember what went. Under the lock. Empty without another
   * device of mine whose session is up (`sessions` empty): a device linked later starts from the
   * snapshot, which carries the groups, and gets every group again once its session is up.
   */
  async sectionsDue(sessions: string): Promise<{ bodies: SyncOpBody[]; ops: StoreOp[] }> {
    const bodies: SyncOpBody[] = [];
    const ops: StoreOp[] = [];
    const due = [...this.dirty];
    this.dirty.clear();
    if (sessions === '') return { bodies, ops };
    const src = {
      store: this.ctx.host.store,
      contactById: (id: Uint8Array) => this.ctx.host.contactById(id),
      // Any contact of mine: the other device links it once it has that contact too.
      inSnapshot: () => true,
    };
    for (const k of due) {
      const l = this.ctx.groups.get(k);
      // An invitation reaches each of my devices itself; what I do with it comes as a section.
      if (!l || l.rec.status === 'invited') continue;
      // What the other device needs, without the events (the part that grows with the group).
      const bare = await snapshotGroup(src, l, []);
      if (!bare) continue;
      const mark = toHex(hash(new Uint8Array([...encodeCbor(encodeSnapshotGroup(bare)), ...enc(sessions)])));
      const sent = await this.ctx.host.store.get(SECTIONS_SENT, k);
      if (sent && toHex(sent) === mark) continue;
      ops.push({ type: 'put', collection: SECTIONS_SENT, key: k, value: fromHex(mark) });
      // The create first (a section has it), then in clock order: what fits goes in the section.
      const events = [...l.events.values()].sort(
        (a, b) => Number(b.type === 'create') - Number(a.type === 'create') || a.lamport - b.lamport,
      );
      bodies.push(...sectionBodies({ ...bare, events: events.map(encodeGroupEvent) }));
    }
    return { bodies, ops };
  }

  // ---- In --------------------------------------------------------------------------------------

  /**
   * A group as another device of mine has it (the `sec` of a `group` op, decision 0060): a group
   * this device does not hold (or holds only as an invitation) becomes this device's as a
   * restored one does (groups/group-snapshot.ts: its own chain, every member link waiting for
   * a session here); for one it holds, the links and hidden peers it lacks are added to those
   * waiting. Returns the room doors this device serves from now on. Refusals (nothing changed):
   * a section that does not decode or verify (DecodeError, VerificationError), one naming
   * another group (ProtocolError), a group past the limit (QuotaError).
   */
  async section(g: Uint8Array, sec: Uint8Array, ops: StoreOp[]): Promise<InviteRecord[]> {
    const s = decodeSnapshotGroup(decodeCbor(sec));
    if (!equalBytes(s.id, g)) throw new ProtocolError('a group section for another group');
    const held = this.ctx.groups.get(hex(g));
    if (!held || (held.rec.status !== 'joined' && s.status === 'joined')) {
      if (!held && this.ctx.groups.size >= MAX_GROUPS) throw new QuotaError(`at most ${MAX_GROUPS} groups`);
      const made = restoreGroupOps([s], {
        rng: this.ctx.host.rng,
        now: this.ctx.host.now(),
        has: () => false,
        // Linked once this device's session with them binds (GroupEngine.linkWaiting).
        contactOf: () => undefined,
      });
      const events = new Map(held?.events ?? []);
      for (const bytes of s.events) {
        const e = decodeGroupEvent(bytes, { group: g });
        events.set(hex(e.id), e);
      }
      ops.push(...made.ops);
      this.ctx.groups.set(hex(g), { rec: made.records[0]!, events });
      return made.doors;
    }
    // Held: the links and peers it lacks wait for their sessions here.
    const raw = await this.ctx.host.store.get(RESTORED_LINKS, hex(g));
    const waiting = raw ? decodeRestoredLinks(raw) : { links: [], peers: [] };
    // A link to a session not answered (a forwarded card both my devices answered: only the
    // first answer counts) is no link: the section's replaces it.
    const linked = new Set(
      held.rec.links.filter((x) => this.ctx.host.contactById(x.c)?.status === 'active').map((x) => hex(x.m)),
    );
    const already = new Set(waiting.links.map((x) => hex(x.m)));
    const links = s.links.filter((x) => !linked.has(hex(x.m)) && !already.has(hex(x.m)));
    // A peer new here, or whose device set came since (what introducing this device needs).
    const heldPeers = new Map(waiting.peers.map((p) => [hex(p.theirIdentity), p]));
    const peers = s.peers.filter((p) => {
      const h = heldPeers.get(hex(p.theirIdentity));
      return !h || (p.theirSet !== undefined && (!h.theirSet || !equalBytes(h.theirSet, p.theirSet)));
    });
    if (links.length === 0 && peers.length === 0) return [];
    const newer = new Set(peers.map((p) => hex(p.theirIdentity)));
    ops.push({
      type: 'put',
      collection: RESTORED_LINKS,
      key: hex(g),
      value: encodeRestoredLinksRecord({
        links: [...waiting.links, ...links],
        peers: [...waiting.peers.filter((p) => !newer.has(hex(p.theirIdentity))), ...peers],
      }),
    });
    return [];
  }

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

  /**
   * A group's section (decision 0060), state events I signed on another device, and my new
   * member key after a rekey there. Returns the room doors a section brought.
   */
  async group(
    op: Extract<SyncOp, { t: 'group' }>,
    ops: StoreOp[],
    after: Array<() => void>,
  ): Promise<InviteRecord[]> {
    let doors: InviteRecord[] = [];
    if (op.sec) {
      const before = this.ctx.groups.get(hex(op.g))?.rec.status;
      doors = await this.section(op.g, op.sec, ops);
      const now = this.ctx.groups.get(hex(op.g))!.rec.status;
      if (now !== before)
        after.push(() =>
          this.ctx.host.emit({ group: hex(op.g), change: now === 'joined' ? 'joined' : 'state' }),
        );
    }
    await this.events(op, ops, after);
    return doors;
  }

  private async events(op: Extract<SyncOp, { t: 'group' }>, ops: StoreOp[], after: Array<() => void>) {
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
