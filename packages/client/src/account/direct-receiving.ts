/**
 * Receiving, the account's part for it (under the lock; onDelivery in account.ts takes it): a
 * delivery opened with its queue's key, contact requests to contact-setup.ts, group fan-out
 * copies and `group` payloads to the group engine, and in a 1:1 session: messages (DAG, clock
 * bound, resend requests for missing parents), unsends, receipts, resend requests, typing,
 * session refreshes, second queues (decision 0037) and profiles (decision 0056). A message may arrive on either of my queues
 * for a contact (its sender failing over): the same bytes are seen once (seenKey), the same
 * message id is stored and shown once. A contact with several devices (decision 0038) has one
 * session per device: a delivery is opened with the session it belongs to, the envelope must
 * be signed by that device, and a message that came from two of their devices (or twice) is
 * stored once by its id. A new device of theirs introduces itself on my queue for them
 * (contact-devices.ts), and `devices` messages bring their device set.
 * What a message changes is stored in one batch with the relay message id seen; events follow
 * once it is stored.
 */
import {
  ProtocolError,
  ReplayError,
  VerificationError,
  asArray,
  asBytes,
  asMap,
  decodeEnvelope,
  decodeRatchetState,
  decodeRekeyBody,
  encodeRekeyBody,
  decodeTypingBody,
  encodeEnvelope,
  encodeRatchetState,
  equalBytes,
  hash,
  isDeviceIntro,
  openDelivery,
  ratchetDecrypt,
  unpad,
  type CborMap,
  type CborValue,
} from '@parus/core';
import { isGroupFanoutFrame } from '../groups/group-wire.ts';
import {
  decodeMessage,
  decodeOutbox,
  encodeRecord,
  type ContactRecord,
  type MessageRecord,
  type MessageStatus,
} from '../records.ts';
import type { StoreOp } from '../store.ts';
import {
  C,
  SHOWN_KINDS,
  hex,
  recvQueues,
  tombstone,
  withReaction,
  type AccountContext,
  type QueueOwner,
} from './account-context.ts';
import { deviceView, mergeDeviceView, type ContactDevices } from './contact-devices.ts';
import type { CallSignalling } from './call-signalling.ts';
import type { ContactSetup } from './contact-setup.ts';
import { incomingFields } from './message-fields.ts';
import type { OwnDevices } from './own-devices.ts';
import type { Profiles } from './profiles.ts';

const MAX_LAMPORT_JUMP = 1_000_000;
const USER_KINDS: ReadonlySet<string> = new Set([
  'text',
  'reply',
  'sticker',
  'file',
  'unsend',
  'reaction',
  'call-log',
]);
/** A typing signal older than this (by its sender's clock) is not shown. */
const TYPING_FRESH_MS = 2 * 60_000;

/** What receiving uses of the account. */
export type ReceivingContext = Pick<
  AccountContext,
  | 'store'
  | 'mirror'
  | 'rng'
  | 'now'
  | 'events'
  | 'groups'
  | 'contactsById'
  | 'invitesById'
  | 'queues'
  | 'connection'
  | 'queueOf'
  | 'contactsChanged'
  | 'saveContact'
  | 'forgetContact'
  | 'outboxOp'
  | 'control'
  | 'statusOp'
  | 'settleOutbox'
  | 'resendOps'
  | 'conversation'
  | 'messageInfo'
>;

function idList(body: unknown): Uint8Array[] {
  const m = asMap(body as CborMap, 'receipt body');
  return asArray(m.ids, 'ids', 256).map((v) => asBytes(v, 'id', { len: 32 }));
}

/**
 * What marks a delivery as read (kept SEEN_TTL). A rendez-vous request by its relay message id
 * (a redelivery after a crash before the ack). A message from a contact by its bytes: besides
 * a redelivery, that catches a copy the sender sent again because its relay's answer to the
 * first was lost (decision 0006: an entry keeps its ciphertext until the relay takes it), which
 * the relay stores under a new id and which the ratchet, once it has moved past that message's
 * chain, cannot tell from a forgery.
 */
function seenKey(kind: QueueOwner['kind'], mid: Uint8Array, body: Uint8Array): string {
  return kind === 'invite' ? hex(mid) : `body.${hex(hash(body, 16))}`;
}

export class DirectReceiving {
  private readonly requestedResend = new Set<string>();

  constructor(
    private readonly ctx: ReceivingContext,
    private readonly setup: ContactSetup,
    private readonly devices: ContactDevices,
    private readonly own: OwnDevices,
    private readonly calls: CallSignalling,
    private readonly profiles: Profiles,
  ) {}

  async receive(_relay: string, rid: Uint8Array, mid: Uint8Array, sealed: Uint8Array): Promise<void> {
    const owner = this.ctx.queues.get(hex(rid));
    if (!owner) return;
    const queue = this.ctx.queueOf(owner, hex(rid));
    if (!queue) return;
    const { body } = openDelivery(queue.key, mid, sealed);
    const seenOp: StoreOp = {
      type: 'put',
      collection: C.seen,
      key: seenKey(owner.kind, mid, body),
      value: encodeRecord({ at: this.ctx.now() }),
    };
    if (await this.ctx.store.get(C.seen, seenOp.key)) return; // read before: nothing to do again
    if (owner.kind === 'invite') {
      const invite = this.ctx.invitesById.get(owner.id);
      if (invite) await this.setup.receiveContactRequest(invite, body, seenOp);
      return;
    }
    const contact = this.ctx.contactsById.get(owner.id);
    if (!contact) return;
    if (isGroupFanoutFrame(body)) await this.receiveGroupFanout(contact, body, seenOp);
    else if (isDeviceIntro(body)) await this.devices.receiveIntro(contact, body, seenOp);
    else await this.receiveFromContact(contact, body, seenOp);
  }

  /** A group message the relay copied into this contact's queue from a fan-out upload. */
  private async receiveGroupFanout(contact: ContactRecord, body: Uint8Array, seenOp: StoreOp): Promise<void> {
    if (contact.status !== 'active') throw new ProtocolError('group message before the session is set up');
    const ops: StoreOp[] = [seenOp];
    const after: Array<() => void> = [];
    await this.ctx.groups.receiveFanout(contact, body, ops, after);
    await this.ctx.store.batch(ops);
    for (const f of after) f();
  }

  /**
   * A room door refused my join (groups/room-refusal.ts): the room is marked, and the session
   * the request opened ends here, with its queue and anything still waiting for it.
   */
  private async receiveRoomRefusal(c: ContactRecord, body: CborValue, seenOp: StoreOp): Promise<void> {
    const refused = await this.ctx.groups.receiveRoomRefusal(c, body);
    const ops: StoreOp[] = [seenOp, ...refused.ops, { type: 'del', collection: C.contacts, key: hex(c.id) }];
    for (const { key, value: e } of this.ctx.mirror.entries(C.outbox, decodeOutbox))
      if (equalBytes(e.contact, c.id)) ops.push({ type: 'del', collection: C.outbox, key });
    await this.ctx.store.batch(ops);
    this.ctx.forgetContact(c);
    for (const f of refused.after) f();
    for (const q of recvQueues(c)) {
      const r = this.ctx.connection(q.relay);
      // The queue has done its job; delete it (after this message's ack).
      setTimeout(() => void r.command({ t: 'del', rid: q.rid }, q.rk).catch(() => undefined), 0);
    }
  }

  /**
   * Opens `body` with the session it belongs to among `contact`'s devices (header encryption:
   * another session's header key does not open it). Undefined for a replay (marked seen).
   */
  private async open(
    contact: ContactRecord,
    body: Uint8Array,
    seenOp: StoreOp,
  ): Promise<{ view: ContactRecord; dec: ReturnType<typeof ratchetDecrypt> } | undefined> {
    const views = [contact, ...(contact.others ?? []).map((o) => deviceView(contact, o.device)!)];
    let failure: unknown;
    for (const view of views) {
      try {
        return { view, dec: ratchetDecrypt(decodeRatchetState(view.session), body, view.ad, this.ctx.rng) };
      } catch (e) {
        if (e instanceof ReplayError) {
          await this.ctx.store.batch([seenOp]);
          return undefined;
        }
        failure ??= e;
      }
    }
    throw failure;
  }

  private async receiveFromContact(contact: ContactRecord, body: Uint8Array, seenOp: StoreOp): Promise<void> {
    const opened = await this.open(contact, body, seenOp);
    if (!opened) return;
    const { view, dec } = opened;
    const env = decodeEnvelope(unpad(dec.plaintext));
    if (!equalBytes(env.conv, contact.conv)) throw new VerificationError('message for another conversation');
    if (contact.status === 'pending' && contact.peer && env.kind === 'group') {
      await this.receiveRoomRefusal(contact, env.body, seenOp);
      return;
    }
    let c: ContactRecord = { ...view, session: encodeRatchetState(dec.state) };
    if (dec.stepped) {
      // A new ratchet key from the peer: the session is fresh again (decision 0026).
      c.stepAt = this.ctx.now();
      delete c.rekeyAsked;
    }
    const ops: StoreOp[] = [seenOp];
    const after: Array<() => void> = [];

    if (env.kind === 'contact') {
      if (view !== contact) throw new ProtocolError('a contact hello from a device introduced later');
      await this.setup.receiveHello(c, env, ops, after);
      return;
    }
    if (!c.device || !equalBytes(env.device, c.device))
      throw new VerificationError('message from an unknown device');

    if (c.own) {
      // Another device of mine (decision 0039): sync operations and receipts, nothing else.
      if (env.kind === 'sync') await this.own.receive(c, env, ops, after);
      else if (env.kind === 'profile') this.profiles.receive(c, env.body, ops, after);
      else if (env.kind === 'delivery') ops.push(...(await this.ctx.settleOutbox(c, idList(env.body))));
      else if (env.kind === 'rekey') {
        if (decodeRekeyBody(env.body).reply)
          ops.push(this.ctx.control(c, 'rekey', encodeRekeyBody({ reply: false })));
      } else throw new ProtocolError('an own device sent something else than sync');
    } else if (env.kind === 'devices') {
      // Their device set (decision 0038): taken in on the whole record, sessions of devices it
      // no longer lists dropped.
      const set = asBytes(asMap(env.body as CborMap, 'devices body').set, 'device set', { max: 32 * 1024 });
      const next = this.devices.takeSet(mergeDeviceView(contact, c), set, env.device, ops);
      await this.ctx.saveContact(next, ops);
      this.ctx.contactsChanged();
      this.devices.announce(next)();
      return;
    } else if (env.kind === 'group') {
      // Group traffic (groups/group-engine.ts): state events, sender keys, group messages.
      await this.ctx.groups.receive(c, env.body, ops, after);
    } else if (env.kind === 'gcall') {
      // Group call signalling (groups/group-call-signalling.ts, decision 0053): ephemeral, never stored.
      this.ctx.groups.calls.receive(c, env, after);
    } else if (env.kind === 'rekey') {
      // A session refresh (decision 0026): this message already made my side step; an answer
      // carries my new ratchet key back, so theirs steps too. An answer is never answered.
      if (decodeRekeyBody(env.body).reply)
        ops.push(this.ctx.control(c, 'rekey', encodeRekeyBody({ reply: false })));
    } else if (env.kind === 'queue') {
      // A second queue to reach them, and their sender key (decision 0037).
      c = this.setup.receiveQueue(c, env.body, ops);
    } else if (env.kind === 'profile') {
      // Their display name and avatar (decision 0056), never a message of the conversation.
      c = this.profiles.receive(c, env.body, ops, after);
    } else if (c.peer && env.kind !== 'delivery' && env.kind !== 'read') {
      throw new ProtocolError('a group peer sent a 1:1 message');
    } else if (USER_KINDS.has(env.kind)) {
      // A peer must not push our Lamport clock to the end of the safe-integer range
      // (after which we could never send again): bound the jump from what we know.
      const index = await this.ctx.conversation(c);
      if (env.lamport > index.nextLamport() + MAX_LAMPORT_JUMP)
        throw new ProtocolError('message clock jumps too far ahead');
      const existing = await this.ctx.store.get(C.messages(c.id), hex(env.id));
      if (!existing) {
        let record: MessageRecord = {
          ...incomingFields(env.kind, env.body),
          id: env.id,
          contact: c.id,
          dir: 'in',
          kind: env.kind,
          parents: env.parents,
          lamport: env.lamport,
          ts: env.ts,
          received: this.ctx.now(),
          status: 'received',
          shown: false,
          envelope: encodeEnvelope(env),
        };
        if (record.kind === 'reaction') {
          // A reaction to a message this conversation does not show (or not yet) is ignored.
          const raw = await this.ctx.store.get(C.messages(c.id), hex(record.target!));
          const next = raw && withReaction(decodeMessage(raw), 'them', record.emoji ?? '', record.lamport);
          if (next) {
            ops.push({
              type: 'put',
              collection: C.messages(c.id),
              key: hex(next.id),
              value: encodeRecord(next),
            });
            after.push(() => this.ctx.events.emit('reaction', { alias: c.alias, id: hex(next.id) }));
          }
        } else if (record.target) {
          // Only the author takes a message back: the target must be theirs (or not here yet).
          const raw = await this.ctx.store.get(C.messages(c.id), hex(record.target));
          const target = raw && decodeMessage(raw);
          if (target) {
            if (target.dir !== 'in' || !SHOWN_KINDS.has(target.kind))
              throw new ProtocolError('unsend of a message the contact did not write');
            if (target.unsent === undefined) {
              const gone = tombstone(target, env.ts);
              ops.push({
                type: 'put',
                collection: C.messages(c.id),
                key: hex(gone.id),
                value: encodeRecord(gone),
              });
              after.push(() => this.ctx.events.emit('unsent', { alias: c.alias, id: hex(gone.id) }));
            }
          }
        } else if (index.takenBackBeforeArrival(env.id)) {
          // Its unsend came first (a resend after a gap): keep only the tombstone.
          record = tombstone(record, env.ts);
        }
        // Deleted or read on another of my devices before it came here (decision 0039).
        record = this.own.incoming(c, record);
        ops.push({
          type: 'put',
          collection: C.messages(c.id),
          key: hex(env.id),
          value: encodeRecord(record),
        });
        after.push(() => index.put(record));
        const missing = index.missingWith(record).filter((id) => !this.requestedResend.has(hex(id)));
        if (missing.length > 0) {
          for (const id of missing) this.requestedResend.add(hex(id));
          ops.push(this.ctx.control(c, 'resend', { ids: missing.slice(0, 256) }));
        }
        if (SHOWN_KINDS.has(record.kind) && record.deleted === undefined)
          after.push(() => this.ctx.events.emit('message', this.ctx.messageInfo(c, record)));
      }
      // Receipt again even for a duplicate: the first receipt may have been lost.
      ops.push(this.ctx.control(c, 'delivery', { ids: [env.id] }));
    } else if (env.kind === 'delivery' || env.kind === 'read') {
      const status: MessageStatus = env.kind === 'delivery' ? 'delivered' : 'read';
      const ids = idList(env.body);
      for (const id of ids) {
        const op = await this.ctx.statusOp(c, id, status);
        if (op) {
          ops.push(op);
          after.push(() => this.ctx.events.emit('receipt', { alias: c.alias, id: hex(id), status }));
        }
      }
      ops.push(...(await this.ctx.settleOutbox(c, ids)));
    } else if (env.kind === 'resend') {
      // Deduplicated, bounded and paced (docs/decisions/0025).
      const { ops: queued, resent } = await this.ctx.resendOps(c, idList(env.body));
      ops.push(...queued);
      c.resent = resent;
    } else if (env.kind === 'call') {
      // Call signalling (decision 0046): ephemeral, never stored; refusals throw here.
      this.calls.receive(c, env, after);
    } else if (env.kind === 'typing') {
      decodeTypingBody(env.body);
      if (Math.abs(this.ctx.now() - env.ts) < TYPING_FRESH_MS)
        after.push(() => this.ctx.events.emit('typing', { alias: c.alias }));
    } else {
      throw new ProtocolError('unsupported message kind');
    }
    await this.ctx.saveContact(mergeDeviceView(contact, c), ops);
    for (const f of after) f();
  }
}
