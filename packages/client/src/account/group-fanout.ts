/**
 * Group messages on the wire, the account's part for them (docs/decisions/0012 "Delivery"):
 * one outbox record per group message (groups/fanout-outbox.ts) and the rosters it goes to,
 * each roster's members by relay, one upload per relay to my fan-out list there (reconciled
 * with the members first), and the members an upload misses or whose receipt is overdue
 * handed to the 1:1 outbox (direct-outbox.ts).
 */
import { NotFoundError, ParusError, asMap, decodeCbor, encodeCbor, fromHex, type CborMap } from '@parus/core';
import {
  anyWaiting,
  decodeFanoutMessage,
  decodeFanoutRoster,
  encodeFanoutMessage,
  encodeFanoutRoster,
  hasRoster,
  isUploaded,
  isWaiting,
  rosterId,
  rosterView,
  updateFanout,
  waitingMembers,
  type FanoutMessage,
  type RosterView,
} from '../groups/fanout-outbox.ts';
import type { GroupFanoutList } from '../groups/group-records.ts';
import {
  decodeOutbox,
  encodeRecord,
  type ContactRecord,
  type OutboundQueue,
  type OutboxRecord,
} from '../records.ts';
import type { RelayConnection } from '../relay-connection.ts';
import type { StoreOp } from '../store.ts';
import { C, hex, outboxKey, type AccountContext } from './account-context.ts';

/** What group fan-out uses of the account. */
export type FanoutContext = Pick<
  AccountContext,
  | 'store'
  | 'mirror'
  | 'rng'
  | 'now'
  | 'lock'
  | 'events'
  | 'groups'
  | 'relays'
  | 'contactsById'
  | 'resendMs'
  | 'maxResendMs'
  | 'closed'
  | 'contactsVersion'
  | 'nextOutboxSeq'
  | 'flushAgain'
  | 'connection'
  | 'groupEnvelope'
>;

/**
 * A queue a fan-out upload goes to: the roster index of its member, the member's contact, the
 * queue (one per device of the contact: every member device gets the upload, decision 0040)
 * and its sender id (hex).
 */
interface FanoutTarget {
  i: number;
  c: ContactRecord;
  q: OutboundQueue;
  sid: string;
}

/** Where each device of `c` receives from me: the first device's queue, then the others'. */
function deviceQueues(c: ContactRecord): OutboundQueue[] {
  return [...(c.send ? [c.send] : []), ...(c.others ?? []).map((d) => d.send)];
}

interface FanoutPartition {
  version: number;
  byRelay: Map<string, FanoutTarget[]>;
  /** Roster indexes whose contact no longer exists: nobody to deliver to. */
  gone: number[];
}

export class GroupFanout {
  /** Rosters of the member arrays the group engine hands over (docs/decisions/0012 "Delivery"). */
  private readonly rosterOfMembers = new WeakMap<
    readonly ContactRecord[],
    { id: Uint8Array; contacts: Uint8Array[] }
  >();
  private readonly rosterViews = new Map<string, RosterView>();
  /** Per group (hex): the roster its last message went to, kept while no message uses it. */
  private readonly currentRoster = new Map<string, string>();
  /** Per roster: its members by relay, for one value of contactsVersion. */
  private readonly partitions = new Map<string, FanoutPartition>();
  /** Per group and relay: the list as last reconciled, and for which members (see fanoutTo). */
  private readonly reconciled = new Map<string, { list: GroupFanoutList; sig: string }>();

  constructor(private readonly ctx: FanoutContext) {}

  /**
   * Stores written before rosters kept one outbox entry per member of a group message, with
   * no envelope until its 1:1 attempt, and the shared frame in `gfan`. Each such entry becomes
   * an ordinary 1:1 group entry now (its envelope made from the stored payload), keeping its
   * state and backoff, and the old shared records go. Done once, when the account opens.
   */
  async upgradeFanoutEntries(): Promise<void> {
    const ops: StoreOp[] = [];
    const legacy = this.ctx.mirror
      .entries(C.fanout, decodeFanoutMessage)
      .filter(({ value }) => !hasRoster(value));
    if (legacy.length === 0) return;
    for (const { key, value: e } of this.ctx.mirror.entries(C.outbox, decodeOutbox)) {
      if (!e.fan || e.envelope.length > 0) continue;
      const shared = this.ctx.mirror.decoded(C.fanout, hex(e.message!), decodeFanoutMessage);
      const c = this.ctx.contactsById.get(hex(e.contact));
      if (!shared || !c) {
        ops.push({ type: 'del', collection: C.outbox, key });
        continue;
      }
      const payload = asMap(decodeCbor(shared.p), 'group payload');
      const next: OutboxRecord = { ...e, envelope: this.ctx.groupEnvelope(c, payload) };
      ops.push({ type: 'put', collection: C.outbox, key, value: encodeRecord(next) });
    }
    for (const { key } of legacy) ops.push({ type: 'del', collection: C.fanout, key });
    await this.ctx.store.batch(ops);
  }

  /** Rosters no group message uses any more (a group's current one, kept after its last message). */
  async dropUnusedRosters(): Promise<void> {
    const ops = this.ctx.mirror
      .entries(C.rosters, decodeFanoutRoster)
      .filter(({ key }) => !this.rosterInUse(key))
      .flatMap(({ key }) => this.dropRosterOps(key));
    if (ops.length) await this.ctx.store.batch(ops);
  }

  /**
  /**
   * One record for a group message to `members`, whatever their number (group-messaging.ts
   * deliverToMembers, docs/decisions/0012 "Delivery"): the frame, the payload of a 1:1 resend,
   * and the roster they were on, written too the first time it is used. The engine hands the
   * same array for as long as membership and sessions stay the same, so the roster is made
   * (and hashed) once per change of membership, not once per message.
   */
  groupFanoutOps(
    members: readonly ContactRecord[],
    m: { group: Uint8Array; message: Uint8Array; frame: Uint8Array; payload: CborMap },
  ): StoreOp[] {
    let roster = this.rosterOfMembers.get(members);
    if (!roster) {
      const ids = members.map((c) => c.id);
      roster = { id: rosterId(ids), contacts: ids };
      this.rosterOfMembers.set(members, roster);
    }
    const record: FanoutMessage = {
      g: m.group,
      frame: m.frame,
      p: encodeCbor(m.payload),
      seq: this.ctx.nextOutboxSeq(),
      ro: roster.id,
      at: 0,
    };
    const ops: StoreOp[] = [
      { type: 'put', collection: C.fanout, key: hex(m.message), value: encodeFanoutMessage(record) },
    ];
    const rid = hex(roster.id);
    if (!this.ctx.mirror.has(C.rosters, rid))
      ops.push({
        type: 'put',
        collection: C.rosters,
        key: rid,
        value: encodeFanoutRoster({ c: roster.contacts }),
      });
    // The next message most likely goes to the same members: their roster stays stored while
    // it is the group's current one, and the one it replaces goes once no message uses it.
    const previous = this.currentRoster.get(hex(m.group));
    this.currentRoster.set(hex(m.group), rid);
    if (previous && previous !== rid && !this.rosterInUse(previous))
      ops.push(...this.dropRosterOps(previous));
    return ops;
  }
  /** The group messages waiting in the outbox, in outbox order, with their rosters. */
  private fanoutRecords(): Array<{ key: string; rec: FanoutMessage; roster: RosterView | undefined }> {
    const out: Array<{ key: string; rec: FanoutMessage; roster: RosterView | undefined }> = [];
    for (const { key, value } of this.ctx.mirror.entries(C.fanout, decodeFanoutMessage)) {
      if (hasRoster(value)) out.push({ key, rec: value, roster: this.rosterView(value.ro) });
    }
    return out.sort((a, b) => a.rec.seq - b.rec.seq);
  }

  private fanoutRecord(key: string): FanoutMessage | undefined {
    const r = this.ctx.mirror.decoded(C.fanout, key, decodeFanoutMessage);
    return r && hasRoster(r) ? r : undefined;
  }

  private rosterView(id: Uint8Array): RosterView | undefined {
    const key = hex(id);
    let view = this.rosterViews.get(key);
    if (!view) {
      const roster = this.ctx.mirror.decoded(C.rosters, key, decodeFanoutRoster);
      if (!roster) return undefined;
      view = rosterView(key, roster);
      this.rosterViews.set(key, view);
    }
    return view;
  }

  /** A roster's members by the relay of their queue (made again when a contact changes). */
  private partition(roster: RosterView): FanoutPartition {
    const known = this.partitions.get(roster.id);
    if (known?.version === this.ctx.contactsVersion()) return known;
    const part: FanoutPartition = { version: this.ctx.contactsVersion(), byRelay: new Map(), gone: [] };
    roster.contacts.forEach((id, i) => {
      const c = this.ctx.contactsById.get(id);
      if (!c) part.gone.push(i);
      // Not reachable yet (a session still being set up): waits for the next flush.
      if (!c || c.status !== 'active') return;
      for (const q of deviceQueues(c)) {
        const targets = part.byRelay.get(q.relay) ?? [];
        targets.push({ i, c, q, sid: hex(q.sid) });
        part.byRelay.set(q.relay, targets);
      }
    });
    this.partitions.set(roster.id, part);
    return part;
  }

  /**
   * The store operations that write `rec` back, or delete it once nobody waits (with its
   * roster, when no other message uses it).
   */
  private fanoutRecordOps(key: string, rec: FanoutMessage, size: number): StoreOp[] {
    if (anyWaiting(rec, size))
      return [{ type: 'put', collection: C.fanout, key, value: encodeFanoutMessage(rec) }];
    const ops: StoreOp[] = [{ type: 'del', collection: C.fanout, key }];
    const ro = hex(rec.ro);
    if (this.currentRoster.get(hex(rec.g)) !== ro && !this.rosterInUse(ro, key))
      ops.push(...this.dropRosterOps(ro));
    return ops;
  }

  /** Whether a group message (other than `except`) still uses the roster. */
  private rosterInUse(ro: string, except?: string): boolean {
    return this.ctx.mirror
      .entries(C.fanout, decodeFanoutMessage)
      .some((x) => x.key !== except && hasRoster(x.value) && hex(x.value.ro) === ro);
  }

  private dropRosterOps(ro: string): StoreOp[] {
    this.rosterViews.delete(ro);
    this.partitions.delete(ro);
    return [{ type: 'del', collection: C.rosters, key: ro }];
  }

  /** Member `c`'s own outbox entry for a group message: it goes over our 1:1 session from now on. */
  private fanoutFallbackOp(c: ContactRecord, message: string, payload: CborMap): StoreOp {
    const entry: OutboxRecord = {
      seq: this.ctx.nextOutboxSeq(),
      contact: c.id,
      envelope: this.ctx.groupEnvelope(c, payload),
      message: fromHex(message),
      state: 'queued',
      attempts: 1, // the fan-out upload was the first
      nextAt: 0,
      fan: true,
    };
    return { type: 'put', collection: C.outbox, key: outboxKey(entry.seq), value: encodeRecord(entry) };
  }

  /**
   * Group messages (docs/decisions/0012 "Delivery"), in outbox order: members whose receipt is
   * overdue get their own 1:1 entries; then per relay, one upload to my fan-out list there for
   * the members the message has not reached yet. What the upload misses goes over the 1:1
   * sessions. The work per message does not grow with the group once its lists are in place.
   */
  async flushFanout(): Promise<void> {
    for (const { key, roster } of this.fanoutRecords()) {
      if (this.ctx.closed()) return;
      await this.ctx.lock.run(() => this.settleFanout(key, roster));
      const rec = this.fanoutRecord(key);
      if (!rec || !roster) continue;
      const part = this.partition(roster);
      for (const [relay, all] of part.byRelay) {
        const todo = all.filter((t) => isWaiting(rec, t.i) && !isUploaded(rec, t.i));
        if (todo.length === 0) continue;
        await this.fanoutTo(key, relay, rec, roster, todo, todo.length === all.length);
      }
    }
  }

  /** Under the lock: drops members who are gone, and hands overdue ones to the 1:1 path. */
  private async settleFanout(key: string, roster: RosterView | undefined): Promise<void> {
    const rec = this.fanoutRecord(key);
    if (!rec) return;
    if (!roster) {
      // Nothing to send it with (cannot happen short of a damaged store): give up on it.
      await this.ctx.store.batch([{ type: 'del', collection: C.fanout, key }]);
      return;
    }
    const size = roster.contacts.length;
    const clear = this.partition(roster).gone.filter((i) => isWaiting(rec, i));
    const due = rec.at > 0 && rec.at <= this.ctx.now() ? waitingMembers(rec, size, true) : [];
    if (clear.length === 0 && due.length === 0 && anyWaiting(rec, size)) return;
    const ops: StoreOp[] = [];
    if (due.length) {
      const payload = asMap(decodeCbor(rec.p), 'group payload');
      for (const i of due) {
        const c = this.ctx.contactsById.get(roster.contacts[i]!);
        if (c) ops.push(this.fanoutFallbackOp(c, key, payload));
        clear.push(i);
      }
    }
    const next = updateFanout(rec, size, { clear });
    if (due.length) next.at = 0;
    ops.push(...this.fanoutRecordOps(key, next, size));
    await this.ctx.store.batch(ops);
    if (due.length) this.ctx.flushAgain();
  }

  private async fanoutTo(
    key: string,
    relay: string,
    record: FanoutMessage,
    roster: RosterView,
    targets: FanoutTarget[],
    everyone: boolean,
  ): Promise<void> {
    const r = this.ctx.connection(relay);
    r.connect();
    if (!r.connected) return; // the relay is down: the members wait for the next flush
    let missed = new Set<string>();
    try {
      // The list needs no change while it goes to the same members as last time: the roster
      // (so membership) and the contacts' queues are what they were when it was reconciled.
      const cacheKey = `${hex(record.g)} ${relay}`;
      const sig = everyone ? `${roster.id} ${this.ctx.contactsVersion()}` : undefined;
      let list = this.ctx.groups.fanoutList(record.g, relay);
      const known = this.reconciled.get(cacheKey);
      if (!list || sig === undefined || known?.list !== list || known.sig !== sig) {
        const res = await this.reconcileFanout(
          r,
          relay,
          record.g,
          targets.map((t) => ({ sid: t.q.sid, sk: t.c.senderKey })),
        );
        list = res.list;
        missed = new Set(res.excluded.map(hex));
        // Queues the relay would not take are tried again next time: no shortcut then.
        if (sig !== undefined && missed.size === 0) this.reconciled.set(cacheKey, { list, sig });
        else this.reconciled.delete(cacheKey);
      }
      const result = await r.fanoutSend(list.l, list.k, record.frame);
      for (const sid of [...result.full, ...result.gone]) missed.add(hex(sid));
    } catch (e) {
      if (e instanceof NotFoundError) {
        // The relay no longer has the list (purged, or a relay with a fresh database): make a
        // new one on the next flush.
        await this.ctx.lock.run(() =>
          this.ctx.store.batch(this.ctx.groups.setFanoutList(record.g, relay, undefined)),
        );
        this.ctx.flushAgain();
        return;
      }
      if (!(e instanceof ParusError) || e.code === 'TRANSPORT' || e.code === 'TIMEOUT') return;
      // Refused for good or for now (a quota, a rate limit): the members get it over our
      // 1:1 sessions instead, so that nothing waits on the fan-out path.
      this.ctx.events.emit('error', { error: e, context: 'relay refused a group fan-out' });
      missed = new Set(targets.map((t) => t.sid));
    }
    await this.ctx.lock.run(async () => {
      // Receipts may have settled some members meanwhile.
      const rec = this.fanoutRecord(key);
      if (!rec) return;
      const size = roster.contacts.length;
      const moved: number[] = [];
      const reached: number[] = [];
      const ops: StoreOp[] = [];
      let payload: CborMap | undefined;
      // A member with a device the upload missed gets the message over our 1:1 session (which
      // reaches each of their devices; the others drop the copy they have by its id).
      const missedMember = new Set(targets.filter((t) => missed.has(t.sid)).map((t) => t.i));
      for (const t of targets) {
        if (!isWaiting(rec, t.i) || moved.includes(t.i) || reached.includes(t.i)) continue;
        if (!missedMember.has(t.i)) {
          reached.push(t.i);
          continue;
        }
        payload ??= asMap(decodeCbor(rec.p), 'group payload');
        ops.push(this.fanoutFallbackOp(this.ctx.contactsById.get(hex(t.c.id)) ?? t.c, key, payload));
        moved.push(t.i);
      }
      const next = updateFanout(rec, size, { clear: moved, uploaded: reached });
      if (reached.length)
        next.at = Math.max(rec.at, this.ctx.now() + Math.min(this.ctx.resendMs, this.ctx.maxResendMs));
      ops.push(...this.fanoutRecordOps(key, next, size));
      await this.ctx.store.batch(ops);
      if (moved.length) this.ctx.flushAgain(); // the 1:1 path takes them
    });
  }

  /**
   * Makes my list for the group on this relay hold exactly the queues of `members` (creating
   * it the first time), and records it in the group. Lists are stored by the relay, not tied to
   * the connection: only an entry's proof is bound to the session it is added on, so nothing
   * is re-registered after a reconnect. A queue the relay will not take (gone, not secured) is
   * left off and returned in `excluded`.
   */
  private async reconcileFanout(
    r: RelayConnection,
    relay: string,
    group: Uint8Array,
    queues: Array<{ sid: Uint8Array; sk: Uint8Array }>,
  ): Promise<{ list: GroupFanoutList; excluded: Uint8Array[] }> {
    let list = this.ctx.groups.fanoutList(group, relay);
    const save = async (l: GroupFanoutList): Promise<void> => {
      await this.ctx.lock.run(() => this.ctx.store.batch(this.ctx.groups.setFanoutList(group, relay, l)));
    };
    if (!list) {
      const k = this.ctx.rng.bytes(32);
      list = { r: relay, k, l: await r.createFanout(k), s: [] };
      await save(list);
    }
    const want = new Map(queues.map((q) => [hex(q.sid), q]));
    const have = new Set(list.s.map(hex));
    const stale = list.s.filter((sid) => !want.has(hex(sid)));
    const add = [...want].filter(([k]) => !have.has(k)).map(([, q]) => ({ sid: q.sid, sk: q.sk }));
    if (stale.length === 0 && add.length === 0) return { list, excluded: [] };
    if (stale.length) await r.removeFromFanout(list.l, list.k, stale);
    const kept = list.s.filter((sid) => want.has(hex(sid)));
    const added: Uint8Array[] = [];
    const excluded: Uint8Array[] = [];
    if (add.length) {
      try {
        await r.addToFanout(list.l, list.k, add);
        added.push(...add.map((a) => a.sid));
      } catch (e) {
        const listGone = e instanceof NotFoundError && /list/.test(e.message);
        if (!(e instanceof ParusError) || ['TRANSPORT', 'TIMEOUT'].includes(e.code) || listGone) throw e;
        // One entry spoilt the batch: add them one by one and leave out those refused.
        for (const a of add) {
          try {
            await r.addToFanout(list.l, list.k, [a]);
            added.push(a.sid);
          } catch (e1) {
            if (!(e1 instanceof ParusError) || ['TRANSPORT', 'TIMEOUT'].includes(e1.code)) throw e1;
            excluded.push(a.sid);
          }
        }
      }
    }
    list = { ...list, s: [...kept, ...added] };
    await save(list);
    return { list, excluded };
  }

  /** `c` leaves the members the group messages `wanted` still wait for (a receipt settles them). */
  settleOps(c: ContactRecord, wanted: Set<string>): StoreOp[] {
    const ops: StoreOp[] = [];
    for (const id of wanted) {
      const rec = this.fanoutRecord(id);
      const roster = rec && this.rosterView(rec.ro);
      const i = roster?.index.get(hex(c.id));
      if (!rec || !roster || i === undefined || !isWaiting(rec, i)) continue;
      ops.push(
        ...this.fanoutRecordOps(
          id,
          updateFanout(rec, roster.contacts.length, { clear: [i] }),
          roster.contacts.length,
        ),
      );
    }
    return ops;
  }

  /** A group message counts once per connected relay some of its members still wait on. */
  sendableCount(): number {
    let n = 0;
    for (const { rec, roster } of this.fanoutRecords()) {
      const part = roster && this.partition(roster);
      for (const [relay, targets] of part?.byRelay ?? []) {
        if (!this.ctx.relays.get(relay)?.connected) continue;
        if (targets.some((t) => isWaiting(rec, t.i) && !isUploaded(rec, t.i))) n++;
      }
    }
    return n;
  }

  /**
   * Adds the group messages to `r` (outboxSize in account.ts): each counts once, queued while
   * some member waits for an upload, else relayed while receipts are due.
   */
  addSize(r: { queued: number; relayed: number }): void {
    for (const { rec, roster } of this.fanoutRecords()) {
      const size = roster?.contacts.length ?? 0;
      if (waitingMembers(rec, size, false).length > 0) r.queued++;
      else if (anyWaiting(rec, size)) r.relayed++;
    }
  }
}
