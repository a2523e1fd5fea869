/**
 * Group messages that do not come on the live path, the group engine's part for them: history
 * bundles for newcomers (docs/decisions/0014, history-share.ts), confirmations of late messages
 * (decision 0014, late-confirm.ts), and messages owed to members I had no session with when I
 * sent them (decision 0019, owed-messages.ts).
 */
import {
  NotFoundError,
  ProtocolError,
  UsageError,
  VerificationError,
  encodeCbor,
  equalBytes,
  groupMemberPower,
  sign,
  toHex,
  verify,
  type Envelope,
  type GroupState,
} from '@parus/core';
import type { MessageInfo } from '../public-shapes.ts';
import type { ContactRecord } from '../records.ts';
import type { StoreOp } from '../store.ts';
import {
  BACKDATE_WINDOW_MS,
  MAX_LAMPORT_JUMP,
  type GroupContext,
  type Loaded,
  type Tx,
} from './engine-context.ts';
import { GC, decodeGroupMessage, type GroupMessageRecord } from './group-records.ts';
import { encodeGroupPayload, type GroupPayload } from './group-wire.ts';
import {
  HC,
  checkGroupEnvelope,
  checkHistory,
  historyChunks,
  historyRecords,
  keepForHistory,
  membersDue,
  sharingSince,
} from './history-share.ts';
import {
  LC,
  confirmMessage,
  keepPendingConfirmation,
  pendingConfirmers,
  withConfirmation,
} from './late-confirm.ts';
import { GroupMessageStore, incomingRecord } from './message-store.ts';
import { OwedMessages, owedRecipients, type OwedTo } from './owed-messages.ts';

/** What the catch-up part uses of the engine. */
export type CatchUpContext = Pick<
  GroupContext,
  'host' | 'groups' | 'closed' | 'find' | 'state' | 'me' | 'linkOf' | 'change'
>;

const hex = toHex;

export class MessageCatchUp {
  /** Kept envelopes per group, known after the first count, so each message need not list them. */
  private readonly historyKept = new Map<string, number>();
  /** Per group: the members and invitees a message is owed to, for the links, state and contacts seen. */
  private readonly unlinked = new WeakMap<Loaded, { inputs: unknown[]; to: OwedTo[] }>();
  private owedStore: OwedMessages | undefined;

  constructor(
    private readonly ctx: CatchUpContext,
    private readonly messages: GroupMessageStore,
  ) {}

  // ---- History sharing and late confirmations (docs/decisions/0014) ---------------------------

  /** Keeps a message's envelope to share with newcomers, when the group shares history. */
  async keepHistory(l: Loaded, env: Envelope): Promise<StoreOp[]> {
    const st = this.ctx.state(l);
    if (!st.settings.shareHistory) return [];
    const g = hex(l.rec.id);
    let n = this.historyKept.get(g);
    if (n === undefined) n = (await this.ctx.host.store.list(HC.kept(l.rec.id))).length;
    const ops = await keepForHistory(this.ctx.host.store, l.rec.id, l.events.values(), st, env, n);
    const puts = ops.filter((o) => o.type === 'put').length;
    const dels = ops.length - puts;
    this.historyKept.set(g, n + puts - dels);
    return ops;
  }

  /** Sends the history bundle to the newcomers I share with (history-share.ts). */
  async shareHistoryDue(l: Loaded): Promise<void> {
    if (!this.ctx.state(l).settings.shareHistory) return;
    const me = this.ctx.me(l).publicKey;
    const due = await membersDue(
      this.ctx.host.store,
      l.rec.id,
      [...l.events.values()],
      this.ctx.state(l),
      me,
    );
    for (const d of due) {
      if (this.ctx.closed()) return;
      const c = this.ctx.linkOf(l, d.key);
      if (!c) continue; // once their session is bound
      await this.ctx.host.run(async () => {
        if (await this.ctx.host.store.get(HC.shared(l.rec.id), d.mark)) return;
        const since = sharingSince(l.events.values(), this.ctx.state(l));
        if (!since) return;
        const chunks = await historyChunks(this.ctx.host.store, l.rec.id, since);
        const ops: StoreOp[] = chunks.map((env) =>
          this.ctx.host.sendOp(c, encodeGroupPayload({ t: 'hist', g: l.rec.id, env })),
        );
        const count = chunks.reduce((k, x) => k + x.length, 0);
        ops.push({
          type: 'put',
          collection: HC.shared(l.rec.id),
          key: d.mark,
          value: encodeCbor({ at: this.ctx.host.now(), n: count }),
        });
        await this.ctx.host.store.batch(ops);
      });
      this.ctx.host.kick();
    }
  }

  /** A history bundle: checked as a whole, then the new messages take their claimed places. */
  async receiveHistory(tx: Tx, l: Loaded, from: Uint8Array, envelopes: Uint8Array[]): Promise<void> {
    const st = this.ctx.state(l);
    const shared = checkHistory(l.rec.id, [...l.events.values()], st, from, envelopes);
    const fresh = historyRecords(shared, await this.messages.records(l), this.ctx.host.now());
    for (const r of fresh) this.messages.put(tx, l, r);
    // Passed on in turn if I become someone's sharer (only what the sharer could share).
    for (const s of shared)
      if (fresh.some((r) => equalBytes(r.id, s.env.id))) tx.ops.push(...(await this.keepHistory(l, s.env)));
    if (fresh.length) tx.after.push(() => this.ctx.host.emit({ group: hex(l.rec.id), change: 'messages' }));
  }

  /**
   * Confirms a late message (seed 003): counted here at once, and sent to every member. An
   * admin's confirmation, or k members' (late-confirm.ts), places it at its claimed position.
   */
  async confirmLate(ref: string, messageId: string): Promise<MessageInfo> {
    if (typeof messageId !== 'string' || !/^[0-9a-f]{8,64}$/.test(messageId))
      throw new UsageError('a message id is 8 to 64 hex digits');
    return this.ctx.change(async (tx) => {
      const l = this.ctx.find(ref);
      if (l.rec.status !== 'joined') throw new UsageError('you are not a member of this group');
      const found = (await this.messages.records(l)).filter((r) => hex(r.id).startsWith(messageId));
      if (found.length === 0) throw new NotFoundError(`no message ${messageId} in this group`);
      if (found.length > 1) throw new UsageError(`${messageId} names several messages; give more digits`);
      const m = found[0]!;
      const me = this.ctx.me(l);
      if (!m.place) throw new UsageError('that message is not marked late');
      if (equalBytes(m.author, me.publicKey)) throw new UsageError('you cannot confirm your own message');
      const st = this.ctx.state(l);
      const next = withConfirmation(st, m, [me.publicKey]) ?? m;
      this.messages.put(tx, l, next);
      const sig = sign(me.secretKey, confirmMessage(l.rec.id, m.id));
      for (const link of l.rec.links) {
        if (equalBytes(link.m, me.publicKey) || !st.members.has(hex(link.m))) continue;
        const c = this.ctx.host.contactById(link.c);
        if (c)
          tx.ops.push(
            this.ctx.host.sendOp(
              c,
              encodeGroupPayload({ t: 'lc', g: l.rec.id, id: m.id, by: me.publicKey, sig }),
            ),
          );
      }
      tx.after.push(() => this.ctx.host.emit({ group: hex(l.rec.id), change: 'messages' }));
      return this.messages.info(l, next);
    });
  }

  async receiveConfirmation(
    tx: Tx,
    l: Loaded,
    from: Uint8Array,
    p: Extract<GroupPayload, { t: 'lc' }>,
  ): Promise<void> {
    if (!equalBytes(p.by, from))
      throw new VerificationError('confirmation names another member than its session');
    if (!verify(p.by, confirmMessage(l.rec.id, p.id), p.sig))
      throw new VerificationError('confirmation does not verify');
    const st = this.ctx.state(l);
    if (!st.members.has(hex(from))) throw new ProtocolError('confirmation from a non-member');
    const raw = await this.ctx.host.store.get(GC.messages(l.rec.id), hex(p.id));
    if (!raw) {
      // It may overtake the message: counted once the message is here (and late here).
      tx.ops.push(...(await keepPendingConfirmation(this.ctx.host.store, l.rec.id, p.id, from)));
      return;
    }
    const m = decodeGroupMessage(raw);
    if (!m.place) return; // not late here: already at its claimed place
    const next = withConfirmation(st, m, [from]);
    if (!next) return; // counted once
    this.messages.put(tx, l, next);
    tx.after.push(() => this.ctx.host.emit({ group: hex(l.rec.id), change: 'messages' }));
  }

  /** A message that just arrived: confirmations that came before it count now. */
  async lateArrival(l: Loaded, record: GroupMessageRecord): Promise<StoreOp[]> {
    const pending = await pendingConfirmers(this.ctx.host.store, l.rec.id, record.id);
    if (pending.length === 0) return [];
    const ops: StoreOp[] = [{ type: 'del', collection: LC.pending(l.rec.id), key: hex(record.id) }];
    if (!record.place) return ops;
    const next = withConfirmation(this.ctx.state(l), record, pending);
    if (next) {
      record.conf = next.conf ?? [];
      if (!next.place) delete record.place;
    }
    return ops;
  }

  // ---- Owed messages (docs/decisions/0019) -------------------------------------------------------

  private get owed(): OwedMessages {
    this.owedStore ??= new OwedMessages(this.ctx.host.store);
    return this.owedStore;
  }

  /** Keeps a message I send for the members and invitees I have no usable session with yet. */
  async oweUnlinked(tx: Tx, l: Loaded, env: Envelope): Promise<void> {
    const st = this.ctx.state(l);
    // Like the recipients, they change with the links, the state and the contacts, not per message.
    const inputs = [l.rec.links, st, this.ctx.host.contactsVersion()];
    let known = this.unlinked.get(l);
    if (!known || known.inputs.some((x, i) => x !== inputs[i])) {
      const to = owedRecipients(st, this.ctx.me(l).publicKey, (m) => this.ctx.linkOf(l, m) !== undefined);
      known = { inputs, to };
      this.unlinked.set(l, known);
    }
    if (known.to.length === 0) return;
    const { ops, after } = await this.owed.owe(l.rec.id, env, known.to);
    tx.ops.push(...ops);
    tx.after.push(after);
  }

  /**
   * Sends what I owe to members whose session is now bound (my signed envelopes, in clock order,
   * over that session), and forgets what is owed to those removed or gone.
   */
  async settleOwed(l: Loaded): Promise<void> {
    if (!(await this.owed.any(l.rec.id))) return;
    await this.ctx.host.run(async () => {
      if (!this.ctx.groups.has(hex(l.rec.id))) return;
      const st = l.events.size ? this.ctx.state(l) : undefined;
      const me = this.ctx.me(l).publicKey;
      const joined = st !== undefined && l.rec.status === 'joined' && st.members.has(hex(me));
      const plan = await this.owed.plan(l.rec.id, {
        joined,
        st: st ?? ({ members: new Map(), invited: new Set() } as unknown as GroupState),
        joinTime: (m, joinedAt) => {
          for (const e of l.events.values())
            if (e.type === 'join' && e.lamport === joinedAt && equalBytes(e.author, m)) return e.ts;
          return undefined;
        },
        linked: (m) => this.ctx.linkOf(l, m) !== undefined,
      });
      const ops = [...plan.ops];
      for (const s of plan.sends) {
        const c = this.ctx.linkOf(l, s.member);
        if (!c) continue;
        for (const env of s.chunks)
          ops.push(this.ctx.host.sendOp(c, encodeGroupPayload({ t: 'owe', g: l.rec.id, env })));
      }
      if (ops.length === 0) return;
      await this.ctx.host.store.batch(ops);
      plan.after();
    });
    this.ctx.host.kick();
  }

  /**
   * Messages a member sent while we had no session, now over it: each must be that member's own
   * signed envelope of this group (VerificationError otherwise), and the member one who may write
   * (ProtocolError). Any failure refuses the whole payload. Unlike history they are news: shown by
   * `read`, receipts go back, placed by the anti-backdating rule as a live message would be.
   */
  async receiveOwed(
    tx: Tx,
    l: Loaded,
    from: Uint8Array,
    c: ContactRecord,
    envelopes: Uint8Array[],
  ): Promise<void> {
    const st = this.ctx.state(l);
    if (l.rec.status !== 'joined') throw new ProtocolError('owed messages for a group I am not in');
    if (!st.members.has(hex(from)) || groupMemberPower(st, from) < st.settings.power.message)
      throw new ProtocolError('owed messages from someone who may not write');
    const checked = envelopes.map((bytes) => {
      const s = checkGroupEnvelope(l.rec.id, bytes);
      if (!equalBytes(s.env.device, from))
        throw new VerificationError('owed message not written by the member of its session');
      return s;
    });
    const index = await this.messages.index(l);
    const now = this.ctx.host.now();
    const ids: Uint8Array[] = [];
    const seen = new Set<string>();
    let placed: { id: Uint8Array; lamport: number } | undefined;
    for (const { env, body } of checked) {
      if (env.lamport > index.nextLamport() + MAX_LAMPORT_JUMP)
        throw new ProtocolError('message clock jumps too far ahead');
      ids.push(env.id);
      const id = hex(env.id);
      if (seen.has(id) || (await this.ctx.host.store.get(GC.messages(l.rec.id), id))) continue;
      seen.add(id);
      const record = incomingRecord(env, from, body, now);
      // Seed 003 anti-backdating, as for a live message; late ones of one payload follow each other.
      if (index.backdated(env.parents, now, BACKDATE_WINDOW_MS)) {
        record.place = placed ? { parents: [placed.id], lamport: placed.lamport + 1 } : index.nextPlaced();
        placed = { id: env.id, lamport: record.place.lamport };
      }
      const changed = await this.messages.effects(tx, l, record);
      tx.ops.push(...(await this.lateArrival(l, record)), ...(await this.keepHistory(l, env)));
      this.messages.put(tx, l, record);
      if (GroupMessageStore.shown(record))
        tx.after.push(() => this.ctx.host.emitMessage(this.messages.info(l, record)));
      if (changed) tx.after.push(() => this.ctx.host.emit({ group: hex(l.rec.id), change: 'messages' }));
    }
    if (ids.length)
      tx.ops.push(this.ctx.host.sendOp(c, encodeGroupPayload({ t: 'rcpt', g: l.rec.id, s: 'd', ids })));
  }
}
