/**
 * The account's own other devices, this part owns them (docs/decisions/0030 "Sessions", 0039):
 * this device's inbox (a long-lived invitation whose card, core device-inbox-card.ts, is signed
 * by the device key), the other devices' inbox cards, one session with each current device
 * (PQXDH to its inbox, then the Double Ratchet: contact records marked `own`, so the 1:1 outbox,
 * receipts and dedupe carry them unchanged), and sync: what this device tells the others and
 * what it takes from them, merged by core sync-state.ts.
 *
 *   devices/card          this device's inbox card (encoded)
 *   devices/card.<id>     another device's inbox card, the newest one seen
 *   sync/state            the merged sync state (core encodeSyncState)
 *   syncwait/<conv>.<id>  a sent copy for a conversation this device has no contact for yet
 *
 * Who opens a session: the device added later to the log (a restored or linked device knows
 * the others' cards from its snapshot; they learn its card from its hello). A request to my
 * inbox brings the requester's log, merged first (its `add` op is how the old devices learn
 * the new one: every log ends equal), then only a current device is admitted (AuthError).
 * After a `revoke`, the sessions with the revoked device end and nothing more goes to it; a
 * sync from a device that is not a current one is refused (AuthError) and changes nothing.
 */
import {
  AuthError,
  ParusError,
  ProtocolError,
  VerificationError,
  applySyncOp,
  asBytes,
  createDeviceInboxCard,
  createEnvelope,
  currentDevices,
  decodeDeviceInboxCard,
  decodeEnvelope,
  decodeSyncBody,
  decodeSyncState,
  deviceId,
  deviceIdBytes,
  emptySyncState,
  encodeDeviceInboxCard,
  encodeEnvelope,
  encodeSyncBody,
  encodeSyncState,
  equalBytes,
  fromHex,
  generateDhKeyPair,
  hash,
  nextSyncStamp,
  syncDeleted,
  syncPinTags,
  syncRegister,
  toHex,
  xwingKeyPairFromSeed,
  MAX_SYNC_OPS,
  type CborMap,
  type DeviceInboxCard,
  type DeviceLogState,
  type Envelope,
  type SyncContact,
  type SyncContactState,
  type SyncOp,
  type SyncOpBody,
  type SyncStamp,
  type SyncState,
} from '@parus/core';
import {
  decodeMessage,
  decodeOutbox,
  encodeRecord,
  type ContactRecord,
  type InviteRecord,
  type MessageRecord,
} from '../records.ts';
import type { StoreOp } from '../store.ts';
import {
  C,
  SHOWN_KINDS,
  checkAlias,
  conversationId,
  hex,
  recvQueues,
  tombstone,
  type AccountContext,
} from './account-context.ts';
import type { ContactSetup, OwnSessionHooks } from './contact-setup.ts';
import {
  MAX_SNAPSHOT_CONTACTS,
  decodeSnapshot,
  encodeSnapshot,
  type AccountSnapshot,
  type SnapshotContact,
} from '../account-snapshot.ts';
import { DEVICE_COLLECTION, type DeviceRegistry } from './device-registry.ts';
import { incomingFields } from './message-fields.ts';

const SYNC = 'sync';
const SYNC_WAIT = 'syncwait';
/** Sent copies kept for conversations this device has no contact for yet. */
const MAX_SYNC_WAITING = 10_000;

/** What the own-devices part uses of the account. */
export type OwnContext = Pick<
  AccountContext,
  | 'store'
  | 'mirror'
  | 'rng'
  | 'now'
  | 'lock'
  | 'events'
  | 'contactsById'
  | 'invitesById'
  | 'queues'
  | 'self'
  | 'device'
  | 'connection'
  | 'newQueue'
  | 'subscribeQueue'
  | 'saveContact'
  | 'forgetContact'
  | 'outboxOp'
  | 'conversation'
  | 'messageInfo'
  | 'kickFlush'
  | 'info'
  | 'groups'
>;

/** A message deleted for me: the record stays (the DAG needs it), its contents and envelope go. */
export function deletedRecord(m: MessageRecord, at: number): MessageRecord {
  const { sticker: _s, file: _f, uploadKey: _k, action: _a, replyTo: _r, rx: _x, ...rest } = m;
  // The signed envelope holds the contents too: it goes, unless the contact may still ask for
  // the message again (mine, not yet confirmed delivered: decision 0025).
  const owed = m.dir === 'out' && (m.status === 'pending' || m.status === 'sent' || m.status === 'failed');
  return { ...rest, text: '', envelope: owed ? m.envelope : new Uint8Array(0), deleted: at };
}

export class OwnDevices implements OwnSessionHooks {
  private state: SyncState = emptySyncState();
  private opening = false;
  /** A group section was taken in (decision 0060): the account serves its doors and links it. */
  onGroupSection?: (doors: InviteRecord[]) => void;
  /** A set another device of mine signed toward a contact, merged (contact-devices.ts mergeMine, decision 0067). */
  mergeMine?: (
    c: ContactRecord,
    op: Extract<SyncOp, { t: 'myset' }>,
    current: (key: Uint8Array) => boolean,
  ) => ContactRecord | undefined;

  constructor(
    private readonly ctx: OwnContext,
    private readonly devices: DeviceRegistry,
    private readonly setup: ContactSetup,
  ) {}

  async load(): Promise<void> {
    const raw = await this.ctx.store.get(SYNC, 'state');
    this.state = raw ? decodeSyncState(raw) : emptySyncState();
  }

  private myId(): Uint8Array {
    return deviceIdBytes(this.ctx.device().publicKey);
  }

  /** Sessions with my other devices. */
  sessions(): ContactRecord[] {
    return [...this.ctx.contactsById.values()].filter((c) => c.own !== undefined);
  }

  // ---- The inbox -------------------------------------------------------------------------

  /** This device's inbox card, made (with its queue on the home relay) when the log exists. */
  async ensureInbox(): Promise<Uint8Array | undefined> {
    const have = await this.ctx.store.get(DEVICE_COLLECTION, 'card');
    if (have) return have;
    if (!(await this.devices.logState())) return undefined;
    const queue = await this.ctx.newQueue(this.ctx.self().relay);
    const prekey = generateDhKeyPair(this.ctx.rng);
    const kemSeed = this.ctx.rng.bytes(32);
    const card = encodeDeviceInboxCard(
      createDeviceInboxCard({
        device: this.ctx.device(),
        relay: queue.relay,
        sid: queue.sid,
        prekey: prekey.publicKey,
        kem: xwingKeyPairFromSeed(kemSeed).publicKey,
        issued: this.ctx.now(),
      }),
    );
    const record: InviteRecord = {
      id: hash(card),
      link: '',
      identity: this.ctx.device().secretKey,
      prekey: prekey.secretKey,
      kem: kemSeed,
      queue,
      oneTime: false,
      expires: Number.MAX_SAFE_INTEGER,
      created: this.ctx.now(),
      used: false,
      own: true,
    };
    const made = await this.ctx.lock.run(async () => {
      const again = await this.ctx.store.get(DEVICE_COLLECTION, 'card');
      if (again) return again;
      await this.ctx.store.batch([
        { type: 'put', collection: C.invites, key: hex(record.id), value: encodeRecord(record) },
        { type: 'put', collection: DEVICE_COLLECTION, key: 'card', value: card },
        ...(await this.syncOps([{ t: 'inbox', card }])),
      ]);
      this.ctx.invitesById.set(hex(record.id), record);
      this.ctx.queues.set(hex(queue.rid), { kind: 'invite', id: hex(record.id) });
      return card;
    });
    if (made === card) await this.ctx.subscribeQueue(queue).catch(() => undefined);
    else
      await this.ctx
        .connection(queue.relay)
        .command({ t: 'del', rid: queue.rid }, queue.rk)
        .catch(() => undefined);
    this.ctx.kickFlush();
    return made;
  }

  /** The inbox cards of the current devices I know, mine first: what a snapshot and a link carry. */
  async cards(): Promise<Uint8Array[]> {
    const mine = await this.ensureInbox();
    const state = await this.devices.logState();
    if (!state) return [];
    const out = mine ? [mine] : [];
    for (const d of currentDevices(state)) {
      const raw = await this.ctx.store.get(DEVICE_COLLECTION, `card.${d.id}`);
      if (raw) out.push(raw);
    }
    return out;
  }

  /**
   * Keeps other devices' inbox cards (from a snapshot, a link, a sync): each must be signed by
   * a current device of my log (others are skipped), and a newer card replaces an older one.
   */
  async takeCards(cards: readonly Uint8Array[]): Promise<number> {
    return this.ctx.lock.run(async () => {
      const ops = await this.cardOps(cards);
      if (ops.length) await this.ctx.store.batch(ops);
      return ops.length;
    });
  }

  private async cardOps(cards: readonly Uint8Array[], state?: DeviceLogState): Promise<StoreOp[]> {
    const log = state ?? (await this.devices.logState());
    if (!log) return [];
    const me = deviceId(this.ctx.device().publicKey);
    const ops: StoreOp[] = [];
    for (const bytes of cards) {
      let card: DeviceInboxCard;
      try {
        card = decodeDeviceInboxCard(bytes);
      } catch {
        continue;
      }
      const id = deviceId(card.device);
      if (id === me || !currentDevices(log).some((d) => d.id === id)) continue;
      const held = await this.ctx.store.get(DEVICE_COLLECTION, `card.${id}`);
      if (held && decodeDeviceInboxCard(held).issued >= card.issued) continue;
      ops.push({ type: 'put', collection: DEVICE_COLLECTION, key: `card.${id}`, value: bytes });
    }
    return ops;
  }

  // ---- Sessions --------------------------------------------------------------------------

  /**
   * Opens a session with each current device whose card I hold and which I have none with,
   * when I was added to the log after it (decision 0039). Runs in the flush, outside the lock.
   */
  async openSessions(): Promise<void> {
    if (this.opening) return;
    this.opening = true;
    try {
      const state = await this.devices.logState();
      if (!state) return;
      await this.ensureInbox();
      const me = currentDevices(state).find((d) => equalBytes(d.sign, this.ctx.device().publicKey));
      if (!me) return;
      for (const d of currentDevices(state)) {
        if (d.added.seq >= me.added.seq) continue;
        if (this.sessions().some((c) => equalBytes(c.own!, d.sign))) continue;
        const raw = await this.ctx.store.get(DEVICE_COLLECTION, `card.${d.id}`);
        if (!raw) continue;
        await this.setup.answerInbox(decodeDeviceInboxCard(raw), d.name).catch((e: unknown) => {
          if (!(e instanceof ParusError)) throw e;
          this.ctx.events.emit('error', { error: e, context: 'opening a session with an own device' });
        });
      }
    } finally {
      this.opening = false;
    }
  }

  /** OwnSessionHooks: my log and my inbox card ride in the hello of an own-device session. */
  async helloExtras(): Promise<CborMap> {
    const log = await this.devices.logBytes();
    const card = await this.ctx.store.get(DEVICE_COLLECTION, 'card');
    return { ...(log ? { log } : {}), ...(card ? { inbox: card } : {}) };
  }

  /**
   * OwnSessionHooks: a hello from `device` (a request to my inbox, or the answer to mine). The
   * log it brings is merged first; then `device` must be a current device of it (AuthError,
   * nothing stored but a valid log). Its inbox card is kept.
   */
  async admit(device: Uint8Array, body: CborMap): Promise<{ name: string }> {
    if (body.log !== undefined) await this.mergeLog(asBytes(body.log, 'device log', { max: 8 << 20 }));
    const state = await this.devices.logState();
    const d = state && currentDevices(state).find((x) => equalBytes(x.sign, device));
    if (!state || !d) throw new AuthError('not a current device of this account');
    if (body.inbox !== undefined) {
      const ops = await this.cardOps([asBytes(body.inbox, 'inbox card', { max: 4096 })], state);
      if (ops.length) await this.ctx.store.batch(ops);
    }
    return { name: d.name };
  }

  /** OwnSessionHooks: a new session with an own device starts with everything I know (sync state, log). */
  sessionOps(c: ContactRecord): StoreOp[] {
    const ops = this.stateAsOps();
    // The sets I signed toward each contact (decision 0067): a later set of the new device's
    // is above their seqs.
    for (const x of this.ctx.contactsById.values())
      if (!x.own && x.mySet && x.status === 'active')
        ops.push({
          t: 'myset',
          conv: x.conv,
          set: x.mySet,
          ...(x.nextSealed ? { next: x.nextSealed } : {}),
          l: this.state.clock,
          d: this.myId(),
        });
    const out: StoreOp[] = [];
    for (let i = 0; i < ops.length; i += MAX_SYNC_OPS)
      out.push(this.syncEntry(c, ops.slice(i, i + MAX_SYNC_OPS)));
    return out;
  }

  /** The merged state as the operations that make it (their original stamps): a late device catches up. */
  private stateAsOps(): SyncOp[] {
    const s = this.state;
    const ops: SyncOp[] = [];
    const b = fromHex;
    for (const [key, held] of s.registers) {
      const [kind, id] = key.split(':') as [string, string];
      const stamp = { l: held.stamp.l, d: held.stamp.d };
      if (kind === 'alias') ops.push({ t: 'alias', conv: b(id), alias: held.value as string, ...stamp });
      else if (kind === 'state')
        ops.push({ t: 'state', conv: b(id), state: held.value as SyncContactState, ...stamp });
      else ops.push({ t: 'mute', chat: b(id), until: held.value as number, ...stamp });
    }
    for (const [chat, p] of s.pins) {
      for (const st of p.adds.values()) ops.push({ t: 'pin', chat: b(chat), l: st.l, d: st.d });
      const removed = [...p.removed].map((k) => {
        const [l, d] = k.split('.') as [string, string];
        return { l: Number(l), d: b(d) };
      });
      for (let i = 0; i < removed.length; i += 64)
        ops.push({ t: 'unpin', chat: b(chat), tags: removed.slice(i, i + 64), l: s.clock, d: this.myId() });
    }
    for (const [conv, upto] of s.read)
      ops.push({ t: 'read', conv: b(conv), upto, l: s.clock, d: this.myId() });
    for (const [conv, upto] of s.cleared)
      ops.push({ t: 'clear', conv: b(conv), upto, l: s.clock, d: this.myId() });
    for (const [conv, ids] of s.deleted)
      for (const [id, at] of ids)
        ops.push({ t: 'del', conv: b(conv), id: b(id), at, l: s.clock, d: this.myId() });
    return ops;
  }

  /** A sync envelope to `c` in the outbox, kept until its receipt (decision 0006). */
  private syncEntry(c: ContactRecord, ops: SyncOp[]): StoreOp {
    const env = createEnvelope({
      device: this.ctx.device(),
      conv: c.conv,
      parents: [],
      lamport: 0,
      ts: this.ctx.now(),
      kind: 'sync',
      body: encodeSyncBody(ops),
    });
    return this.ctx.outboxOp(c, encodeEnvelope(env), env.id);
  }

  /**
   * Ends the sessions with a revoked device: records, their outbox entries and queues go, and
   * nothing more is sent to it. The caller holds the lock.
   */
  private async dropSessionsWith(ids: readonly string[]): Promise<void> {
    for (const c of this.sessions()) {
      if (!ids.includes(deviceId(c.own!))) continue;
      const ops: StoreOp[] = [
        { type: 'del', collection: C.contacts, key: hex(c.id) },
        { type: 'del', collection: DEVICE_COLLECTION, key: `card.${deviceId(c.own!)}` },
      ];
      for (const { key, value: e } of this.ctx.mirror.entries(C.outbox, decodeOutbox))
        if (equalBytes(e.contact, c.id)) ops.push({ type: 'del', collection: C.outbox, key });
      await this.ctx.store.batch(ops);
      this.ctx.forgetContact(c);
      for (const q of recvQueues(c))
        void this.ctx
          .connection(q.relay)
          .command({ t: 'del', rid: q.rid }, q.rk)
          .catch(() => undefined);
    }
  }

  private async mergeLog(log: Uint8Array): Promise<void> {
    const { revoked } = await this.devices.mergeLog(log);
    if (revoked.length) await this.dropSessionsWith(revoked);
  }

  /** After this device revoked one: the log goes to the other devices, the revoked one's sessions end. */
  async revoked(id: string): Promise<void> {
    await this.ctx.lock.run(async () => {
      await this.dropSessionsWith([id]);
      const log = await this.devices.logBytes();
      if (log) await this.ctx.store.batch(await this.syncOps([{ t: 'log', log }]));
    });
    this.ctx.kickFlush();
  }

  // ---- Sync out ----------------------------------------------------------------------------

  /**
   * Stamps `bodies` (Lamport clock above all seen, this device's id), applies them here and puts
   * them in the outbox for every session with a current own device, as store operations for the
   * caller's batch (the caller holds the lock). Nothing goes anywhere without such a session.
   */
  async syncOps(bodies: readonly SyncOpBody[]): Promise<StoreOp[]> {
    if (bodies.length === 0) return [];
    // Sent copies and group events change no merged register: without a session they go nowhere
    // and leave nothing to write (a device linked later starts from the snapshot).
    const sessions = this.sessions();
    if (sessions.length === 0 && bodies.every((b) => b.t === 'sent' || b.t === 'group')) return [];
    let state = this.state;
    const ops: SyncOp[] = [];
    for (const body of bodies) {
      const op = { ...body, ...nextSyncStamp(state, this.myId()) } as SyncOp;
      state = applySyncOp(state, op);
      ops.push(op);
    }
    this.state = state;
    const out: StoreOp[] = [{ type: 'put', collection: SYNC, key: 'state', value: encodeSyncState(state) }];
    for (const c of sessions)
      for (let i = 0; i < ops.length; i += MAX_SYNC_OPS)
        out.push(this.syncEntry(c, ops.slice(i, i + MAX_SYNC_OPS)));
    return out;
  }

  // ---- Sync in -----------------------------------------------------------------------------

  /** A contact's message as it is stored here: deleted, or read, if another device of mine said so first. */
  incoming(c: ContactRecord, record: MessageRecord): MessageRecord {
    if (syncDeleted(this.state, c.conv, record.id, record.lamport))
      return deletedRecord(record, this.ctx.now());
    if (record.lamport <= (this.state.read.get(toHex(c.conv)) ?? -1))
      return { ...record, status: 'read', shown: true };
    return record;
  }

  /**
   * A `sync` envelope from own device `c` (under the lock): refused (AuthError) unless `c` is a
   * current device of my log; each operation merged into the sync state and applied to what it
   * names (a message, a conversation, a contact, the log, a card). `ops` and `after` are the
   * receive's batch and events.
   */
  async receive(c: ContactRecord, env: Envelope, ops: StoreOp[], after: Array<() => void>): Promise<void> {
    const syncOps = decodeSyncBody(env.body);
    // A log checks itself: merged first, so that a device whose `add` lost a fork and was
    // signed again is current again when its sync is checked (decision 0061).
    const logs = syncOps.filter((op) => op.t === 'log');
    for (const op of logs) await this.mergeLog(op.log);
    const state = await this.devices.logState();
    if (!state || !currentDevices(state).some((d) => equalBytes(d.sign, c.own!)))
      throw new AuthError('sync from a device that is not a current one');
    let s = this.state;
    for (const op of syncOps) s = applySyncOp(s, op);
    const before = this.state;
    // What the operations change is applied as the merged state says (a late copy stays deleted).
    this.state = s;
    const effects: StoreOp[] = [];
    const marked = after.length;
    // A group section puts a group in the engine's view at once (the next operations may name it).
    const groupsBefore = this.ctx.groups.restorePoint();
    try {
      for (const op of syncOps) await this.apply(op, state, effects, after);
    } catch (e) {
      this.state = before;
      after.length = marked;
      groupsBefore();
      throw e;
    }
    ops.push({ type: 'put', collection: SYNC, key: 'state', value: encodeSyncState(s) }, ...effects);
    // Receipt (again, for a duplicate too): the entry on their side waits for it.
    ops.push(this.ctx.outboxOp(c, this.receiptEnvelope(c, env.id)));
  }

  private receiptEnvelope(c: ContactRecord, id: Uint8Array): Uint8Array {
    return encodeEnvelope(
      createEnvelope({
        device: this.ctx.device(),
        conv: c.conv,
        parents: [],
        lamport: 0,
        ts: this.ctx.now(),
        kind: 'delivery',
        body: { ids: [id] },
      }),
    );
  }

  private contactByConv(conv: Uint8Array): ContactRecord | undefined {
    for (const c of this.ctx.contactsById.values())
      if (!c.own && !c.peer && equalBytes(c.conv, conv)) return c;
    return undefined;
  }

  private async apply(
    op: SyncOp,
    log: DeviceLogState,
    ops: StoreOp[],
    after: Array<() => void>,
  ): Promise<void> {
    switch (op.t) {
      case 'sent':
        await this.applySent(op.env, log, ops, after);
        return;
      case 'del':
      case 'clear':
      case 'read': {
        if (this.ctx.groups.holds(op.conv)) {
          // A group of mine (decision 0054): as the merged state has it.
          const s = this.state;
          await this.ctx.groups.ownConversation(
            op.conv,
            s.read.get(toHex(op.conv)) ?? -1,
            (id, lamport) => syncDeleted(s, op.conv, id, lamport),
            ops,
            after,
          );
          return;
        }
        const c = this.contactByConv(op.conv);
        if (c) await this.applyToConversation(c, ops, after);
        return;
      }
      case 'alias':
      case 'state': {
        const c = this.contactByConv(op.conv);
        if (c) this.applyRegisters(c, ops, after);
        return;
      }
      case 'log':
        return; // merged before the sender was checked
      case 'inbox':
        ops.push(...(await this.cardOps([op.card], log)));
        return;
      case 'contact':
        await this.keepContact(op.contact, ops);
        return;
      case 'myset': {
        // A contact's or a hidden group peer's record: my set toward them merged (decision 0067).
        let c: ContactRecord | undefined;
        for (const x of this.ctx.contactsById.values()) if (!x.own && equalBytes(x.conv, op.conv)) c = x;
        if (!c || !this.mergeMine) return;
        const current = (key: Uint8Array): boolean =>
          currentDevices(log).some((d) => equalBytes(d.sign, key));
        const next = this.mergeMine(c, op, current);
        if (!next) return;
        ops.push({ type: 'put', collection: C.contacts, key: hex(next.id), value: encodeRecord(next) });
        this.ctx.contactsById.set(hex(next.id), next);
        return;
      }
      case 'mute':
      case 'pin':
      case 'unpin': {
        // They live in the merged state only; the UI is told which chat to look at again.
        const c = this.contactByConv(op.chat);
        const which = c ? { alias: c.alias } : { group: toHex(op.chat) };
        after.push(() => this.ctx.events.emit('chatSettings', which));
        return;
      }
      case 'group': {
        const doors = await this.ctx.groups.ownGroup(op, ops, after);
        if (!op.sec) return;
        // Copies of my messages in it that came first are stored now.
        await this.takeWaitingGroup(op.g, ops, after);
        after.push(() => this.onGroupSection?.(doors));
        return;
      }
      default:
        return;
    }
  }

  /**
   * A contact another device made: added to this device's restored contacts (the snapshot a
   * restore keeps), which the contact side introduces this device to (decision 0038) once it
   * carries their device set. Nothing when the contact is here already.
   */
  private async keepContact(contact: SyncContact, ops: StoreOp[]): Promise<void> {
    const conv = conversationId(contact.identity.slice(32, 64), contact.their);
    if (this.contactByConv(conv)) return;
    const raw = await this.ctx.store.get(DEVICE_COLLECTION, 'restored');
    const base: AccountSnapshot = raw
      ? decodeSnapshot(raw)
      : {
          name: this.ctx.self().name,
          relay: this.ctx.self().relay,
          created: this.ctx.self().created,
          made: this.ctx.now(),
          devices: await this.devices.part(),
          contacts: [],
        };
    const c: SnapshotContact = {
      alias: contact.alias,
      name: contact.name,
      state: contact.state,
      identity: contact.identity,
      theirIdentity: contact.their,
      ...(contact.device ? { device: contact.device } : {}),
      ...(contact.sk ? { senderKey: contact.sk } : {}),
      ...(contact.tsk ? { theirSenderKey: contact.tsk } : {}),
      ...(contact.set ? { theirSet: contact.set } : {}),
      ...(contact.myset ? { mySet: contact.myset } : {}),
      ...(contact.next ? { nextSealed: contact.next } : {}),
    };
    // The same contact again (its device set came since): the newer facts replace the older.
    const others = base.contacts.filter((x) => !equalBytes(x.theirIdentity, contact.their));
    if (others.length >= MAX_SNAPSHOT_CONTACTS) return;
    ops.push({
      type: 'put',
      collection: DEVICE_COLLECTION,
      key: 'restored',
      value: encodeSnapshot({ ...base, contacts: [...others, c] }),
    });
  }

  /** A copy of a message one of my devices sent: stored as mine, once, unless deleted. */
  private async applySent(
    bytes: Uint8Array,
    log: DeviceLogState,
    ops: StoreOp[],
    after: Array<() => void>,
  ): Promise<void> {
    const env = decodeEnvelope(bytes);
    if (this.ctx.groups.holds(env.conv)) {
      // A group message (decision 0054): signed by my member key there, not by a device key.
      await this.ctx.groups.ownSent(env, syncDeleted(this.state, env.conv, env.id, env.lamport), ops, after);
      return;
    }
    if (!log.devices.some((d) => equalBytes(d.sign, env.device))) {
      // Signed by no device of mine: a copy of my message in a group this device does not hold
      // yet (its section follows, decision 0060) waits, and is checked as mine when it comes.
      if (this.ctx.groups.holds(env.conv) || !SHOWN_KINDS.has(env.kind))
        throw new VerificationError('a sent copy not written by a device of this account');
      await this.wait(env, bytes, ops);
      return;
    }
    if (!SHOWN_KINDS.has(env.kind) && env.kind !== 'unsend')
      throw new ProtocolError('a sent copy of no message');
    const c = this.contactByConv(env.conv);
    if (!c) {
      await this.wait(env, bytes, ops);
      return;
    }
    await this.storeSent(c, env, ops, after);
  }

  /** A sent copy kept until its conversation (a contact, a group) exists here (bounded). */
  private async wait(env: Envelope, bytes: Uint8Array, ops: StoreOp[]): Promise<void> {
    const key = `${toHex(env.conv)}.${toHex(env.id)}`;
    if ((await this.ctx.store.list(SYNC_WAIT)).length < MAX_SYNC_WAITING)
      ops.push({ type: 'put', collection: SYNC_WAIT, key, value: bytes });
  }

  /**
   * Sent copies that waited for group `g` (its section just came): stored as mine if my member
   * key there signed them; any other is dropped. Into the receive's batch.
   */
  private async takeWaitingGroup(g: Uint8Array, ops: StoreOp[], after: Array<() => void>): Promise<void> {
    const prefix = `${toHex(g)}.`;
    for (const { key, value } of await this.ctx.store.list(SYNC_WAIT)) {
      if (!key.startsWith(prefix)) continue;
      ops.push({ type: 'del', collection: SYNC_WAIT, key });
      const env = decodeEnvelope(value);
      try {
        await this.ctx.groups.ownSent(env, syncDeleted(this.state, g, env.id, env.lamport), ops, after);
      } catch (e) {
        if (!(e instanceof VerificationError)) throw e;
      }
    }
  }

  private async storeSent(
    c: ContactRecord,
    env: Envelope,
    ops: StoreOp[],
    after: Array<() => void>,
  ): Promise<void> {
    if (await this.ctx.store.get(C.messages(c.id), hex(env.id))) return; // here already: once
    const index = await this.ctx.conversation(c);
    let record: MessageRecord = {
      ...incomingFields(env.kind, env.body),
      id: env.id,
      contact: c.id,
      dir: 'out',
      kind: env.kind,
      parents: env.parents,
      lamport: env.lamport,
      ts: env.ts,
      received: this.ctx.now(),
      status: 'sent',
      // Not shown yet: `parus read` on this device prints it, as mine.
      shown: false,
      envelope: encodeEnvelope(env),
    };
    if (syncDeleted(this.state, c.conv, env.id, env.lamport)) record = deletedRecord(record, this.ctx.now());
    if (record.target) {
      const raw = await this.ctx.store.get(C.messages(c.id), hex(record.target));
      const target = raw && decodeMessage(raw);
      if (target && target.dir === 'out' && target.unsent === undefined && target.deleted === undefined) {
        const gone = tombstone(target, env.ts);
        ops.push({ type: 'put', collection: C.messages(c.id), key: hex(gone.id), value: encodeRecord(gone) });
        after.push(() => this.ctx.events.emit('unsent', { alias: c.alias, id: hex(gone.id) }));
      }
    } else if (index.takenBackBeforeArrival(env.id)) {
      record = tombstone(record, env.ts);
    }
    ops.push({ type: 'put', collection: C.messages(c.id), key: hex(env.id), value: encodeRecord(record) });
    after.push(() => index.put(record));
    if (SHOWN_KINDS.has(record.kind) && record.deleted === undefined)
      after.push(() => this.ctx.events.emit('message', this.ctx.messageInfo(c, record)));
  }

  /**
   * Sent copies that waited for their conversation's contact (made here since): stored now.
   * The caller holds the lock.
   */
  async takeWaiting(c: ContactRecord): Promise<void> {
    const prefix = `${toHex(c.conv)}.`;
    const ops: StoreOp[] = [];
    const after: Array<() => void> = [];
    for (const { key, value } of await this.ctx.store.list(SYNC_WAIT)) {
      if (!key.startsWith(prefix)) continue;
      ops.push({ type: 'del', collection: SYNC_WAIT, key });
      await this.storeSent(c, decodeEnvelope(value), ops, after);
    }
    if (ops.length) await this.ctx.store.batch(ops);
    for (const f of after) f();
  }

  /** Whether some device of mine deleted message `id` (at `lamport`) of conversation or group `conv`. */
  deletedHere(conv: Uint8Array, id: Uint8Array, lamport: number): boolean {
    return syncDeleted(this.state, conv, id, lamport);
  }

  /** The clock a conversation was read up to on some device of mine. */
  readUpTo(conv: Uint8Array): number | undefined {
    return this.state.read.get(toHex(conv));
  }

  /** What the merged state says of a chat (for the account's API): its mute and its pin. */
  chatState(chat: Uint8Array): { mutedUntil: number; pinTags: SyncStamp[] } {
    return {
      mutedUntil: syncRegister(this.state, 'mute', chat) ?? 0,
      pinTags: syncPinTags(this.state, chat),
    };
  }

  /** `c`'s stored messages as the merged state's deletes and reads leave them (the caller holds the lock). */
  async conversationOps(c: ContactRecord): Promise<{ ops: StoreOp[]; after: Array<() => void> }> {
    const ops: StoreOp[] = [];
    const after: Array<() => void> = [];
    await this.applyToConversation(c, ops, after);
    return { ops, after };
  }

  /** Deletes and reads the merged state names, applied to `c`'s stored messages. */
  private async applyToConversation(
    c: ContactRecord,
    ops: StoreOp[],
    after: Array<() => void>,
  ): Promise<void> {
    const read = this.state.read.get(toHex(c.conv)) ?? -1;
    for (const { value } of await this.ctx.store.list(C.messages(c.id))) {
      const m = decodeMessage(value);
      if (m.deleted !== undefined) continue;
      if (syncDeleted(this.state, c.conv, m.id, m.lamport)) {
        const gone = deletedRecord(m, this.ctx.now());
        ops.push({ type: 'put', collection: C.messages(c.id), key: hex(m.id), value: encodeRecord(gone) });
        after.push(() => this.ctx.events.emit('deleted', { alias: c.alias, id: hex(m.id) }));
      } else if (m.dir === 'in' && m.status !== 'read' && m.lamport <= read) {
        ops.push({
          type: 'put',
          collection: C.messages(c.id),
          key: hex(m.id),
          value: encodeRecord({ ...m, status: 'read', shown: true }),
        });
      }
    }
  }

  /** A contact's alias and state as the merged registers say. */
  private applyRegisters(c: ContactRecord, ops: StoreOp[], after: Array<() => void>): void {
    const alias = syncRegister(this.state, 'alias', c.conv);
    const state = syncRegister(this.state, 'state', c.conv);
    let next = c;
    if (alias !== undefined && alias !== c.alias) {
      let ok = true;
      try {
        checkAlias(alias);
      } catch {
        ok = false;
      }
      const taken = [...this.ctx.contactsById.values()].some(
        (x) => x !== c && !x.own && !x.peer && x.alias === alias,
      );
      if (ok && !taken) next = { ...next, alias };
    }
    if (state !== undefined && state !== c.state) {
      next = { ...next, state };
      if (state === 'validated') delete next.keyChanged;
    }
    if (next === c) return;
    ops.push({ type: 'put', collection: C.contacts, key: hex(next.id), value: encodeRecord(next) });
    this.ctx.contactsById.set(hex(next.id), next);
    after.push(() =>
      this.ctx.events.emit('contact', { alias: next.alias, change: 'state', info: this.ctx.info(next) }),
    );
  }
}
