/**
 * The 1:1 outbox, the account's part for it (DESIGN.md "Delivery"): entries written in the same
 * batch as what they carry, pending contact requests, each contact's entries encrypted (and
 * durably recorded) in order and then sent pipelined, backoff until the receipt, and the entries
 * a receipt settles. Group messages go by relay fan-out first (group-fanout.ts), which hands
 * the members it misses back to this path. A contact's resend requests put each message in the
 * outbox once, at most MAX_RESEND_QUEUED of them, and at a limited rate; an entry that has had
 * `maxSendAttempts` attempts without a receipt is given up and its message marked `failed`
 * (docs/decisions/0025). A session idle for a week, or with 100 messages sent one way, asks
 * the contact to answer so that it takes a new DH ratchet step (decision 0026). A contact with a
 * second queue on another relay (decision 0037) gets its entries there while the first relay is
 * not connected, or for FAILOVER_HOLD_MS after it let a send time out; then the first again. An
 * entry keeps its ciphertext until a relay takes it, so a copy that reached both relays is the
 * same bytes, which the receiver reads once.
 *
 * A contact with several devices (decision 0038) gets each entry once per device, each through
 * that device's session and queues: an entry written for the contact is replaced by one per
 * device at the start of a flush (the first keeps its place in the order), and each device's
 * receipt settles its own. Answers that belong to one session (delivery receipts, resend
 * requests, rekeys) go to the device whose message they answer.
 */
import {
  ParusError,
  RATCHET_REFRESH_POLICY,
  createEnvelope,
  decodeRatchetState,
  encodeRekeyBody,
  encodeEnvelope,
  encodeRatchetState,
  equalBytes,
  fromHex,
  padToBucket,
  ratchetEncrypt,
  ratchetRefreshDue,
  type CborMap,
  type MessageKind,
} from '@parus/core';
import {
  decodeMessage,
  decodeOutbox,
  encodeRecord,
  type ContactRecord,
  type MessageStatus,
  type OutboundQueue,
  type OutboxRecord,
} from '../records.ts';
import type { SendPath } from '../send-routes.ts';
import type { StoreOp } from '../store.ts';
import { C, hex, outboxKey, recvQueues, sendQueues, type AccountContext } from './account-context.ts';
import { deviceView, mergeDeviceView, remoteDevices } from './contact-devices.ts';

/** Kinds that answer one device's message: they go back to that device only. */
const PER_DEVICE_KINDS: ReadonlySet<MessageKind> = new Set(['delivery', 'resend', 'rekey']);

/** What the 1:1 outbox uses of the account. */
export type OutboxContext = Pick<
  AccountContext,
  | 'store'
  | 'mirror'
  | 'rng'
  | 'now'
  | 'lock'
  | 'events'
  | 'relays'
  | 'contactsById'
  | 'resendMs'
  | 'maxResendMs'
  | 'maxSendAttempts'
  | 'device'
  | 'nextOutboxSeq'
  | 'sendPath'
  | 'saveContact'
  | 'flushAgain'
  | 'forgetContact'
  | 'connection'
  | 'info'
>;

/** Most entries one contact's resend requests may have in my outbox at once (decision 0025). */
export const MAX_RESEND_QUEUED = 256;
/** Messages a contact may have sent again (or brought forward) per window of RESEND_WINDOW_MS. */
export const RESEND_PER_WINDOW = 256;
export const RESEND_WINDOW_MS = 60 * 60 * 1000;
/** How long a session refresh request waits for its answer before it is asked again (decision 0026). */
export const REKEY_RETRY_MS = 24 * 60 * 60 * 1000;
/** How long a relay that let a send time out is passed over for a contact's second queue (decision 0037). */
export const FAILOVER_HOLD_MS = 60 * 1000;

export class DirectOutbox {
  /** Relays that let a send time out, and until when a second queue is preferred to them. */
  private readonly unanswered = new Map<string, number>();

  constructor(private readonly ctx: OutboxContext) {}

  /**
   * Where to send now among `queues` (in order of preference): the first whose relay is connected
   * and has not just let a send time out; else one that is connected at all. Each relay tried is
   * asked to connect, the next one only when those before it cannot take the send now.
   */
  private async pick(
    queues: readonly OutboundQueue[],
  ): Promise<{ queue: OutboundQueue; r: SendPath } | undefined> {
    const now = this.ctx.now();
    let fallback: { queue: OutboundQueue; r: SendPath } | undefined;
    for (const queue of queues) {
      // Directly, or through the own relay when the queue's relay is in its cloud (decision 0033).
      const r = await this.ctx.sendPath(queue.relay);
      if (!r) continue;
      if ((this.unanswered.get(queue.relay) ?? 0) <= now) return { queue, r };
      fallback ??= { queue, r };
    }
    return fallback;
  }

  /** A send to `relay` failed: a timeout holds it back for FAILOVER_HOLD_MS; true when another queue may take it. */
  private failed(relay: string, reason: unknown, alternatives: number): boolean {
    if (reason instanceof ParusError && reason.code === 'TIMEOUT')
      this.unanswered.set(relay, this.ctx.now() + FAILOVER_HOLD_MS);
    return (
      alternatives > 1 &&
      reason instanceof ParusError &&
      (reason.code === 'TIMEOUT' || reason.code === 'TRANSPORT')
    );
  }

  /**
   * An outbox entry carrying `envelope` to `c` (to every device of it, or to device `dev`), kept
   * until its receipt when it carries `message`.
   */
  outboxOp(c: ContactRecord, envelope: Uint8Array, message?: Uint8Array, dev?: Uint8Array): StoreOp {
    const entry: OutboxRecord = {
      seq: this.ctx.nextOutboxSeq(),
      contact: c.id,
      envelope,
      state: 'queued',
      attempts: 0,
      nextAt: 0,
    };
    if (message) entry.message = message;
    if (dev) entry.dev = dev;
    return { type: 'put', collection: C.outbox, key: outboxKey(entry.seq), value: encodeRecord(entry) };
  }

  /**
   * A control message to `c` (receipts, resend requests) as an outbox entry, dropped once
   * relayed. One that answers a device's message goes to that device (`c` seen through it).
   */
  control(c: ContactRecord, kind: MessageKind, body: CborMap): StoreOp {
    const dev = PER_DEVICE_KINDS.has(kind) ? c.device : undefined;
    return this.outboxOp(c, this.envelopeOutsideDag(c, kind, body), undefined, dev);
  }

  /**
   * Entries written for a whole contact become one per device (decision 0038): the first device
   * takes the entry's place, the others get new ones with the same envelope. Entries for a
   * device the contact no longer has are dropped.
   */
  private async expand(): Promise<void> {
    const ops: StoreOp[] = [];
    for (const { key, value: e } of this.ctx.mirror.entries(C.outbox, decodeOutbox)) {
      const c = this.ctx.contactsById.get(hex(e.contact));
      if (!c || c.status !== 'active' || !c.send) continue;
      if (e.dev) {
        if (!deviceView(c, e.dev)) ops.push({ type: 'del', collection: C.outbox, key });
        continue;
      }
      const [first, ...others] = remoteDevices(c);
      if (!first) continue;
      ops.push({ type: 'put', collection: C.outbox, key, value: encodeRecord({ ...e, dev: first }) });
      for (const dev of others) {
        const copy: OutboxRecord = {
          ...e,
          seq: this.ctx.nextOutboxSeq(),
          dev,
          state: 'queued',
          attempts: 0,
          nextAt: 0,
        };
        delete copy.wire;
        ops.push({ type: 'put', collection: C.outbox, key: outboxKey(copy.seq), value: encodeRecord(copy) });
      }
    }
    if (ops.length) await this.ctx.store.batch(ops);
  }

  /** Wraps a group payload for the 1:1 session with `c` and queues it in the outbox. */
  groupOp(c: ContactRecord, body: CborMap, message?: Uint8Array): StoreOp {
    return this.outboxOp(c, this.groupEnvelope(c, body), message);
  }

  groupEnvelope(c: ContactRecord, body: CborMap): Uint8Array {
    return this.envelopeOutsideDag(c, 'group', body);
  }

  /**
   * A signed envelope to `c` that is no message of the conversation (no parents, clock 0):
   * receipts, resend requests, group payloads. Never shown, never a parent.
   */
  private envelopeOutsideDag(c: ContactRecord, kind: MessageKind, body: CborMap): Uint8Array {
    const env = createEnvelope({
      device: this.ctx.device(),
      conv: c.conv,
      parents: [],
      lamport: 0,
      ts: this.ctx.now(),
      kind,
      body,
    });
    return encodeEnvelope(env);
  }

  /** Sends the pending contact requests and every 1:1 entry that can go now. */
  async flush(): Promise<void> {
    await this.ctx.lock.run(() => this.expand());
    const now = this.ctx.now();
    const byContact = new Map<string, OutboxRecord[]>();
    const exhausted: OutboxRecord[] = [];
    for (const { value: e } of this.ctx.mirror.entries(C.outbox, decodeOutbox)) {
      if (e.state === 'relayed' && e.nextAt > now) continue;
      // Group entries (`fan`) are settled with their fan-out record (groups/fanout-outbox.ts).
      if (e.state === 'relayed' && e.message && !e.fan && e.attempts >= this.ctx.maxSendAttempts) {
        exhausted.push(e);
        continue;
      }
      const k = `${hex(e.contact)}.${e.dev ? hex(e.dev) : ''}`;
      const list = byContact.get(k) ?? [];
      list.push(e);
      byContact.set(k, list);
    }
    if (exhausted.length) await this.ctx.lock.run(() => this.giveUp(exhausted));
    // Idle sessions due for a refresh go through encryptEntries too, which asks (decision 0026).
    for (const c of this.ctx.contactsById.values()) {
      const k = `${hex(c.id)}.${c.device ? hex(c.device) : ''}`;
      if (c.status === 'active' && c.send && !byContact.has(k) && this.mayAskRekey(c, now))
        if (now - (c.stepAt ?? c.created) >= RATCHET_REFRESH_POLICY.maxAgeMs) byContact.set(k, []);
    }
    await Promise.all(
      [...this.ctx.contactsById.values()].filter((c) => c.request).map((c) => this.sendRequest(c)),
    );
    await Promise.all(
      [...byContact].map(async ([key, entries]) => {
        const [cid = '', devHex = ''] = key.split('.');
        const dev = devHex ? fromHex(devHex) : undefined;
        const whole = this.ctx.contactsById.get(cid);
        const contact = whole && deviceView(whole, dev);
        if (!contact || contact.status !== 'active' || !contact.send) return;
        const queues = sendQueues(contact);
        const target = await this.pick(queues);
        if (!target) return;
        const { r } = target;
        // Encrypt (and durably record) every entry first, then pipeline the sends in order.
        const ready = await this.ctx.lock.run(() => this.encryptEntries(cid, dev, entries, target.queue));
        if (ready.length === 0) return;
        const results = await Promise.allSettled(
          ready.map(({ entry, wire, sid, senderKey }) => r.send(sid, wire, senderKey).then(() => entry)),
        );
        await this.ctx.lock.run(async () => {
          const ops: StoreOp[] = [];
          const delivered: Array<[ContactRecord, Uint8Array]> = [];
          for (const res of results) {
            if (res.status === 'rejected') {
              if (
                res.reason instanceof ParusError &&
                !(res.reason.code === 'TRANSPORT' || res.reason.code === 'TIMEOUT')
              ) {
                this.ctx.events.emit('error', { error: res.reason, context: 'relay refused a message' });
              }
              // Another pass tries the contact's other queue (decision 0037).
              if (this.failed(target.queue.relay, res.reason, queues.length)) this.ctx.flushAgain();
              continue;
            }
            const e = res.value;
            if (!e.message) {
              ops.push({ type: 'del', collection: C.outbox, key: outboxKey(e.seq) });
              continue;
            }
            // A receipt may have settled it meanwhile: a relay answers a send once the message is
            // durable or its recipient acked it (docs/decisions/0034), so the recipient's receipt
            // can come before the relay's `ok`. Settled stays settled.
            if (!(await this.ctx.store.get(C.outbox, outboxKey(e.seq)))) continue;
            const next: OutboxRecord = {
              ...e,
              state: 'relayed',
              nextAt:
                this.ctx.now() +
                Math.min(this.ctx.resendMs * 2 ** Math.max(0, e.attempts - 1), this.ctx.maxResendMs),
            };
            delete next.wire;
            ops.push({ type: 'put', collection: C.outbox, key: outboxKey(e.seq), value: encodeRecord(next) });
            const c = this.ctx.contactsById.get(cid);
            if (c) delivered.push([c, e.message]);
          }
          for (const [c, id] of delivered) {
            const op = await this.statusOp(c, id, 'sent');
            if (op) ops.push(op);
          }
          if (ops.length) await this.ctx.store.batch(ops);
          for (const [c, id] of delivered)
            this.ctx.events.emit('receipt', { alias: c.alias, id: hex(id), status: 'sent' });
        });
      }),
    );
  }

  /** Sends a pending contact request to the inviter's rendez-vous queue (unsecured: no authenticator). */
  private async sendRequest(c: ContactRecord): Promise<void> {
    const req = c.request;
    if (!req) return;
    // The card's second queue when its first relay does not answer (decision 0037).
    const queues = [{ relay: req.relay, sid: req.sid }, ...(req.alt ? [req.alt] : [])];
    const target = await this.pick(queues);
    if (!target) return;
    try {
      await target.r.send(target.queue.sid, req.body);
    } catch (e) {
      // The rendez-vous queue is gone: the card was used by someone else, or withdrawn (decision 0045).
      if (e instanceof ParusError && e.code === 'NOT_FOUND') return this.requestSpent(c);
      if (e instanceof ParusError && e.code !== 'TRANSPORT' && e.code !== 'TIMEOUT') {
        this.ctx.events.emit('error', { error: e, context: 'the contact request was refused by the relay' });
      }
      if (this.failed(target.queue.relay, e, queues.length)) this.ctx.flushAgain();
      return;
    }
    await this.ctx.lock.run(async () => {
      const current = this.ctx.contactsById.get(hex(c.id));
      if (!current?.request) return;
      const next = { ...current };
      delete next.request;
      await this.ctx.saveContact(next);
    });
  }

  /** Drops a pending contact whose card was spent, and says so (a `contact` event, change `spent`). */
  private async requestSpent(c: ContactRecord): Promise<void> {
    const dropped = await this.ctx.lock.run(async () => {
      const current = this.ctx.contactsById.get(hex(c.id));
      if (!current?.request || current.status !== 'pending') return undefined;
      await this.ctx.store.batch([{ type: 'del', collection: C.contacts, key: hex(c.id) }]);
      this.ctx.forgetContact(current);
      return current;
    });
    if (!dropped) return;
    for (const q of recvQueues(dropped))
      void this.ctx
        .connection(q.relay)
        .command({ t: 'del', rid: q.rid }, q.rk)
        .catch(() => undefined);
    this.ctx.events.emit('contact', { alias: dropped.alias, change: 'spent', info: this.ctx.info(dropped) });
  }

  /** Whether `c` may be asked for a refresh now: not asked within REKEY_RETRY_MS (decision 0026). */
  private mayAskRekey(c: ContactRecord, now: number): boolean {
    return c.rekeyAsked === undefined || now - c.rekeyAsked >= REKEY_RETRY_MS || now < c.rekeyAsked;
  }

  private async encryptEntries(
    cid: string,
    dev: Uint8Array | undefined,
    entries: OutboxRecord[],
    target: OutboundQueue,
  ): Promise<Array<{ entry: OutboxRecord; wire: Uint8Array; sid: Uint8Array; senderKey: Uint8Array }>> {
    const whole = this.ctx.contactsById.get(cid);
    // This device's session and queues, seen through the record's first-device fields.
    let contact = whole && deviceView(whole, dev);
    if (!whole || !contact?.send) return [];
    // The queue picked, as the contact now has it (a `contact` or `queue` message may have moved it).
    const queue = sendQueues(contact).find((q) => q.relay === target.relay) ?? contact.send;
    const out: Array<{ entry: OutboxRecord; wire: Uint8Array; sid: Uint8Array; senderKey: Uint8Array }> = [];
    const ops: StoreOp[] = [];
    let session = decodeRatchetState(contact.session);
    let changed = false;
    const now = this.ctx.now();
    const { ad, senderKey } = contact;
    const sid = queue.sid;
    const encrypt = (e: OutboxRecord): void => {
      let entry = e;
      if (!entry.wire || entry.state === 'relayed') {
        const enc = ratchetEncrypt(session, padToBucket(entry.envelope), ad, this.ctx.rng);
        session = enc.state;
        changed = true;
        entry = { ...entry, wire: enc.message, state: 'queued', attempts: entry.attempts + 1 };
        ops.push({
          type: 'put',
          collection: C.outbox,
          key: outboxKey(entry.seq),
          value: encodeRecord(entry),
        });
      }
      out.push({ entry, wire: entry.wire!, sid, senderKey });
    };
    for (const e of entries) encrypt(e);
    // An idle or one-way session asks the contact to answer, so that both sides take a DH
    // ratchet step (decision 0026). At most once per REKEY_RETRY_MS: a contact that never
    // answers still gets every message.
    let asked = false;
    if (
      this.mayAskRekey(contact, now) &&
      ratchetRefreshDue(session, { now, lastStepAt: contact.stepAt ?? contact.created })
    ) {
      const envelope = this.envelopeOutsideDag(contact, 'rekey', encodeRekeyBody({ reply: true }));
      encrypt({
        seq: this.ctx.nextOutboxSeq(),
        contact: contact.id,
        envelope,
        state: 'queued',
        attempts: 0,
        nextAt: 0,
        ...(contact.device ? { dev: contact.device } : {}),
      });
      asked = true;
    }
    if (changed) {
      contact = { ...contact, session: encodeRatchetState(session) };
      if (asked) contact.rekeyAsked = now;
      await this.ctx.saveContact(mergeDeviceView(this.ctx.contactsById.get(cid) ?? whole, contact), ops);
    }
    return out;
  }

  /**
   * What `c`'s resend request for `ids` changes in the outbox: a message of mine not in the
   * outbox yet gets one entry, one already waiting for its receipt is brought forward (never a
   * second entry); ids that are not messages I sent, or that were unsent, are ignored. At most
   * MAX_RESEND_QUEUED entries for `c`, and at most RESEND_PER_WINDOW per window: the window
   * is kept in `c`'s record (the caller saves the returned one), so a CLI that runs one command
   * at a time is paced as well as a long-running client.
   */
  async resendOps(
    c: ContactRecord,
    ids: readonly Uint8Array[],
  ): Promise<{ ops: StoreOp[]; resent: NonNullable<ContactRecord['resent']> }> {
    const now = this.ctx.now();
    const waiting = new Map<string, OutboxRecord>();
    for (const { value: e } of this.ctx.mirror.entries(C.outbox, decodeOutbox))
      if (e.message && equalBytes(e.contact, c.id)) waiting.set(hex(e.message), e);
    const resent =
      c.resent && now >= c.resent.since && now - c.resent.since < RESEND_WINDOW_MS
        ? { ...c.resent }
        : { since: now, count: 0 };
    const take = (): boolean => {
      if (resent.count >= RESEND_PER_WINDOW) return false;
      resent.count++;
      return true;
    };
    let queued = waiting.size;
    const ops: StoreOp[] = [];
    const asked = new Set<string>();
    for (const id of ids) {
      const key = hex(id);
      if (asked.has(key)) continue;
      asked.add(key);
      const entry = waiting.get(key);
      if (entry) {
        if (entry.state === 'relayed' && entry.nextAt > now && take()) {
          const next: OutboxRecord = { ...entry, nextAt: now };
          ops.push({
            type: 'put',
            collection: C.outbox,
            key: outboxKey(entry.seq),
            value: encodeRecord(next),
          });
        }
        continue;
      }
      if (queued >= MAX_RESEND_QUEUED) break;
      const raw = await this.ctx.store.get(C.messages(c.id), key);
      if (!raw) continue;
      const m = decodeMessage(raw);
      // Only my own messages, and an unsent one has no envelope left: it is not sent again.
      if (m.dir !== 'out' || m.envelope.length === 0) continue;
      if (!take()) break;
      ops.push(this.outboxOp(c, m.envelope, m.id));
      queued++;
    }
    return { ops, resent };
  }

  /**
   * Gives up entries that had every attempt without a receipt (decision 0025): they leave the
   * outbox and their messages become `failed` (a `receipt` event says so).
   */
  private async giveUp(entries: readonly OutboxRecord[]): Promise<void> {
    const ops: StoreOp[] = [];
    const failed: Array<[ContactRecord, Uint8Array]> = [];
    for (const e of entries) {
      // A receipt may have settled it since flush looked.
      if (!(await this.ctx.store.get(C.outbox, outboxKey(e.seq)))) continue;
      ops.push({ type: 'del', collection: C.outbox, key: outboxKey(e.seq) });
      const c = this.ctx.contactsById.get(hex(e.contact));
      if (!c || !e.message) continue;
      const op = await this.statusOp(c, e.message, 'failed');
      if (op) {
        ops.push(op);
        failed.push([c, e.message]);
      }
    }
    if (ops.length) await this.ctx.store.batch(ops);
    for (const [c, id] of failed)
      this.ctx.events.emit('receipt', { alias: c.alias, id: hex(id), status: 'failed' });
  }

  async statusOp(c: ContactRecord, id: Uint8Array, status: MessageStatus): Promise<StoreOp | undefined> {
    const raw = await this.ctx.store.get(C.messages(c.id), hex(id));
    if (!raw) return undefined;
    const m = decodeMessage(raw);
    // `failed` ranks between sent and delivered: a receipt after giving up still counts.
    const rank: Record<MessageStatus, number> = {
      pending: 0,
      sent: 1,
      failed: 1.5,
      delivered: 2,
      read: 3,
      received: 0,
    };
    if (m.dir !== 'out' || rank[status] <= rank[m.status]) return undefined;
    return { type: 'put', collection: C.messages(c.id), key: hex(id), value: encodeRecord({ ...m, status }) };
  }

  /**
   * `c`'s own entries for `ids`, as delete operations (settleOutbox in account.ts adds group
   * messages): those of the device `c` is seen through (its receipt), and those not yet split.
   */
  settleOps(c: ContactRecord, wanted: Set<string>): StoreOp[] {
    const ops: StoreOp[] = [];
    for (const { key, value: e } of this.ctx.mirror.entries(C.outbox, decodeOutbox)) {
      if (e.dev && c.device && !equalBytes(e.dev, c.device)) continue;
      if (e.message && equalBytes(e.contact, c.id) && wanted.has(hex(e.message))) {
        ops.push({ type: 'del', collection: C.outbox, key });
      }
    }
    return ops;
  }

  /** Contact requests and entries that could be sent now (sync's measure of what is left). */
  sendableCount(): number {
    let n = 0;
    for (const c of this.ctx.contactsById.values()) if (c.request) n++;
    for (const { value: e } of this.ctx.mirror.entries(C.outbox, decodeOutbox)) {
      const c = this.ctx.contactsById.get(hex(e.contact));
      if (
        e.state === 'queued' &&
        c?.status === 'active' &&
        sendQueues(c).some((q) => this.ctx.relays.get(q.relay)?.connected)
      )
        n++;
    }
    return n;
  }

  /** How many entries wait, by state. */
  size(): { queued: number; relayed: number } {
    const r = { queued: 0, relayed: 0 };
    for (const { value } of this.ctx.mirror.entries(C.outbox, decodeOutbox)) r[value.state]++;
    return r;
  }
}
