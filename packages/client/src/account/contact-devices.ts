/**
 * A contact's devices and mine toward them, the account's part for it (decision 0030 "Contacts
 * see one person", "Sessions: one per device pair"; decision 0038). Toward each contact my
 * contact identity (Ckp) signs a device set (core device-set.ts) that lists my devices, their
 * prekeys and the queue where each receives from that contact; the contact keeps one Double
 * Ratchet session per device pair. This part:
 * - publishes my set to a contact that has none from this device yet (a `devices` message);
 * - takes a contact's set in (checks, pre-rotation, drops the sessions of devices it no longer
 *   lists, and the outbox entries waiting for them);
 * - makes a restored or linked device a device of each snapshot contact: its queue, a new set
 *   (seq above the snapshot's), and an introduction to each of the contact's devices (PQXDH with
 *   the device's signed prekey, no one-time prekey: X3DH §3.3);
 * - answers such an introduction on the contact's side: a new session with that device;
 * - after a revocation, signs a set without the revoked device with the pre-rotated Ckp;
 * - tells my other devices every set it signs (a `myset` sync operation, decision 0067), with
 *   the new Ckp after a rotation, and merges theirs into `mySet`: the next set any device of mine
 *   signs is above every seq my devices used and lists every current device.
 *
 * The contact's first device keeps the record's own fields (an older record is a set of one);
 * `deviceView` and `mergeDeviceView` let the outbox and receiving use any device's session
 * through those fields.
 */
import {
  ParusError,
  ProtocolError,
  ReplayError,
  VerificationError,
  asBytes,
  checkDeviceNews,
  asMap,
  checkDeviceSetUpdate,
  createDeviceSet,
  createDeviceSetEntry,
  createEnvelope,
  decodeDeviceIntro,
  decodeDeviceSet,
  decodeEnvelope,
  deviceId,
  encodeDeviceIntro,
  encodeDeviceSet,
  encodeEnvelope,
  encodeRatchetState,
  equalBytes,
  heldDeviceSet,
  initRatchetReceiver,
  initRatchetSender,
  nextIdentityCommitment,
  openNextIdentity,
  padToBucket,
  pqxdhInitiate,
  pqxdhRespond,
  prekeyId,
  recertifyDeviceSetEntry,
  ratchetDecrypt,
  ratchetEncrypt,
  sealNextIdentity,
  signKeyPairFromSeed,
  toHex,
  unpad,
  wipe,
  type CborMap,
  type DeviceSet,
  type DeviceSetEntry,
  type SignKeyPair,
  type SyncOpBody,
} from '@parus/core';
import type { SnapshotContact } from '../account-snapshot.ts';
import type { SnapshotGroupPeer } from '../snapshot-groups.ts';
import {
  decodeOutbox,
  encodeRecord,
  type ContactRecord,
  type OutboxRecord,
  type PeerDevice,
  type TheirNews,
} from '../records.ts';
import type { StoreOp } from '../store.ts';
import { C, conversationId, hex, outboxKey, signPair, type AccountContext } from './account-context.ts';
import type { DeviceRegistry } from './device-registry.ts';
import { SignedPrekeys } from './signed-prekeys.ts';

/** What the device sets part uses of the account. */
export type ContactDevicesContext = Pick<
  AccountContext,
  | 'store'
  | 'mirror'
  | 'rng'
  | 'now'
  | 'lock'
  | 'events'
  | 'contactsById'
  | 'queues'
  | 'device'
  | 'newQueues'
  | 'subscribeQueue'
  | 'saveContact'
  | 'contactsChanged'
  | 'info'
  | 'byAlias'
  | 'mustContact'
  | 'control'
  | 'nextOutboxSeq'
  | 'kickFlush'
>;

/** The record fields that belong to the contact's first device. */
const DEVICE_FIELDS = ['device', 'session', 'ad', 'send', 'send2', 'stepAt', 'rekeyAsked'] as const;

/** Every device of the contact I have a session with: the first, then the others. */
export function remoteDevices(c: ContactRecord): Uint8Array[] {
  return [...(c.device && c.send ? [c.device] : []), ...(c.others ?? []).map((d) => d.device)];
}

function sameDevice(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a !== undefined && b !== undefined && equalBytes(a, b);
}

function peerOf(v: ContactRecord): PeerDevice {
  const d: PeerDevice = { device: v.device!, session: v.session, ad: v.ad, send: v.send! };
  if (v.send2) d.send2 = v.send2;
  if (v.stepAt !== undefined) d.stepAt = v.stepAt;
  if (v.rekeyAsked !== undefined) d.rekeyAsked = v.rekeyAsked;
  return d;
}

function withFirst(c: ContactRecord, d: PeerDevice | undefined): ContactRecord {
  const out: ContactRecord = { ...c };
  for (const f of DEVICE_FIELDS) delete out[f];
  if (!d) return { ...out, session: new Uint8Array(0), ad: new Uint8Array(0) };
  out.device = d.device;
  out.session = d.session;
  out.ad = d.ad;
  out.send = d.send;
  if (d.send2) out.send2 = d.send2;
  if (d.stepAt !== undefined) out.stepAt = d.stepAt;
  if (d.rekeyAsked !== undefined) out.rekeyAsked = d.rekeyAsked;
  return out;
}

/**
 * `c` as seen through one of its devices: the record with that device's session and queues in
 * the first device's fields. The record itself for the first device (or no key); undefined
 * for a device it does not have.
 */
export function deviceView(c: ContactRecord, key: Uint8Array | undefined): ContactRecord | undefined {
  if (!key || sameDevice(c.device, key)) return c;
  const d = c.others?.find((o) => equalBytes(o.device, key));
  return d ? withFirst(c, d) : undefined;
}

/** Puts a view (deviceView) back: its device's fields where that device is, the rest as the view has it. */
export function mergeDeviceView(base: ContactRecord, view: ContactRecord): ContactRecord {
  const i = base.others?.findIndex((o) => sameDevice(o.device, view.device)) ?? -1;
  if (i < 0 || sameDevice(base.device, view.device)) return view;
  const first = base.device && base.send ? peerOf(base) : undefined;
  const out = withFirst(view, first);
  if (!first) {
    out.session = base.session;
    out.ad = base.ad;
  }
  out.others = base.others!.map((o, j) => (j === i ? peerOf(view) : o));
  return out;
}

/** A news set is kept while its sender is still a device I talk to and the held set has an older entry of it. */
function newsStillNewer(news: TheirNews, current: DeviceSet, sessions: PeerDevice[]): boolean {
  if (!sessions.some((s) => equalBytes(s.device, news.device))) return false;
  const mine = decodeDeviceSet(news.set).devices.find((e) => equalBytes(e.cert.deviceKey, news.device));
  const there = current.devices.find((e) => equalBytes(e.cert.deviceKey, news.device));
  return mine !== undefined && (!there || there.cert.issued < mine.cert.issued);
}

/** The held set of a record, decoded (its signatures were checked when it was taken in). */
function held(bytes: Uint8Array | undefined): DeviceSet | undefined {
  return bytes ? decodeDeviceSet(bytes) : undefined;
}

export class ContactDevices {
  /** This device's signed prekeys in my entries, rotated weekly (decision 0062). */
  private readonly prekeys: SignedPrekeys;

  constructor(
    private readonly ctx: ContactDevicesContext,
    private readonly registry: DeviceRegistry,
  ) {
    this.prekeys = new SignedPrekeys(ctx, registry);
  }

  /**
   * Set by the account: the store operations that send a sync operation to my other devices
   * (own-devices.ts syncOps; the caller holds the lock).
   */
  shareSet?: (body: SyncOpBody) => Promise<StoreOp[]>;

  /** Saves `next` (a new `mySet` in it) with its `devices` message and the same set for my other devices. */
  private async saveSigned(next: ContactRecord, rotatedTo?: Uint8Array): Promise<void> {
    const bytes = next.mySet!;
    const ops: StoreOp[] = [this.ctx.control(next, 'devices', { set: bytes })];
    if (this.shareSet && !next.own)
      ops.push(
        ...(await this.shareSet({
          t: 'myset',
          conv: next.conv,
          set: bytes,
          ...(rotatedTo ? { id: rotatedTo } : {}),
          ...(next.nextSealed ? { next: next.nextSealed } : {}),
        })),
      );
    await this.ctx.saveContact(next, ops);
  }

  /**
   * A set another device of mine signed toward `c` (a `myset` sync operation, decision 0067),
   * merged into `mySet`: the highest seq, each device's newest entry (only devices `current`
   * says are current devices of my log), the commitment of the newer set. With `id` (a
   * rotation after a revocation): the set must be signed by `id`'s public key, the one my held
   * set commits to (VerificationError otherwise, nothing changes); the record takes the new
   * identity, the set and its sealed next seed at once. Returns the record to store, or
   * undefined when the set says nothing new (an older set, one by an identity this record left).
   */
  mergeMine(
    c: ContactRecord,
    op: { set: Uint8Array; id?: Uint8Array; next?: Uint8Array },
    current: (key: Uint8Array) => boolean,
  ): ContactRecord | undefined {
    const set = decodeDeviceSet(op.set);
    const mine = held(c.mySet);
    const key = signPair(c.identity).publicKey;
    if (op.id && !equalBytes(signPair(op.id).publicKey, set.identityKey))
      throw new VerificationError('rotated device set not signed by the identity it brings');
    if (op.id && !equalBytes(set.identityKey, key)) {
      if (!mine?.next || !equalBytes(nextIdentityCommitment(set.identityKey), mine.next))
        throw new VerificationError('rotated identity is not the one my device set commits to');
      if (!set.next) throw new ProtocolError('a rotated identity must commit to its successor');
      const out: ContactRecord = { ...c, identity: op.id, mySet: op.set };
      if (op.next) out.nextSealed = op.next;
      else delete out.nextSealed;
      return out;
    }
    // A set by an identity this record no longer has (sent before a rotation reached it): old news.
    if (!equalBytes(set.identityKey, key)) return undefined;
    const entries = new Map<string, DeviceSetEntry>();
    for (const e of [...(mine?.devices ?? []), ...set.devices]) {
      if (!current(e.cert.deviceKey) || !equalBytes(e.cert.identityKey, key)) continue;
      const k = toHex(e.cert.deviceKey);
      const had = entries.get(k);
      if (!had || had.cert.issued < e.cert.issued) entries.set(k, e);
    }
    const newer = !mine || set.seq > mine.seq;
    const seq = Math.max(set.seq, mine?.seq ?? 0);
    const takeNext = newer && set.next !== undefined && op.next !== undefined;
    const commitment = takeNext ? set.next : (mine?.next ?? (op.next ? set.next : undefined));
    const nextSealed = commitment === set.next && op.next ? op.next : c.nextSealed;
    const devices = [...entries.values()];
    const same =
      mine !== undefined &&
      seq === mine.seq &&
      devices.length === mine.devices.length &&
      devices.every((e) => mine.devices.includes(e)) &&
      (commitment === undefined ? mine.next === undefined : sameDevice(commitment, mine.next));
    if (same || devices.length === 0) return undefined;
    const merged = createDeviceSet({
      identity: signPair(c.identity),
      seq,
      devices: devices.slice(-16),
      ...(commitment ? { next: commitment } : {}),
    });
    const out: ContactRecord = { ...c, mySet: encodeDeviceSet(merged) };
    if (nextSealed) out.nextSealed = nextSealed;
    return out;
  }

  /** My entry toward `c`: this device, its prekeys, my queues for `c`. */
  private async ownEntry(c: ContactRecord, identity: SignKeyPair): Promise<DeviceSetEntry> {
    const { dh, kem } = await this.prekeys.current();
    return createDeviceSetEntry({
      identity,
      device: this.ctx.device(),
      prekey: dh.publicKey,
      kem: kem.publicKey,
      queue: { relay: c.recv.relay, sid: c.recv.sid },
      ...(c.recv2 ? { queue2: { relay: c.recv2.relay, sid: c.recv2.sid } } : {}),
      issued: this.ctx.now(),
    });
  }

  /** A fresh next identity sealed to the account key, when the account has one (a log). */
  private async freshNext(): Promise<{ sealed: Uint8Array; commitment: Uint8Array } | undefined> {
    const accountKey = await this.registry.accountPublic();
    if (!accountKey) return undefined;
    const seed = this.ctx.rng.bytes(32);
    try {
      const sealed = sealNextIdentity(this.ctx.rng, accountKey, seed);
      return { sealed, commitment: nextIdentityCommitment(signKeyPairFromSeed(seed).publicKey) };
    } finally {
      wipe(seed);
    }
  }

  /**
   * My new set toward `c`: the devices of the set I know (minus `drop`) and this one, seq one
   * above, the same commitment (or a new one, with its sealed seed, when there is none yet).
   */
  private async nextSet(
    c: ContactRecord,
    opts: {
      drop?: Uint8Array;
      identity?: SignKeyPair;
      next?: { sealed: Uint8Array; commitment: Uint8Array };
    } = {},
  ): Promise<{ set: DeviceSet; nextSealed?: Uint8Array }> {
    const identity = opts.identity ?? signPair(c.identity);
    const mine = held(c.mySet);
    const me = this.ctx.device().publicKey;
    const kept = (mine?.devices ?? []).filter(
      (e) => !equalBytes(e.cert.deviceKey, me) && !sameDevice(e.cert.deviceKey, opts.drop),
    );
    // Entries of other devices are certified by the key that signed them: after a rotation, again.
    const devices = kept.map((e) =>
      equalBytes(e.cert.identityKey, identity.publicKey) ? e : this.recertify(e, identity),
    );
    devices.push(await this.ownEntry(c, identity));
    let next = opts.next;
    let commitment = next?.commitment ?? mine?.next;
    if (!commitment && !c.nextSealed) {
      next = await this.freshNext();
      commitment = next?.commitment;
    }
    const set = createDeviceSet({
      identity,
      seq: (mine?.seq ?? 0) + 1,
      devices: devices.slice(-16),
      ...(commitment ? { next: commitment } : {}),
    });
    return { set, ...(next ? { nextSealed: next.sealed } : {}) };
  }

  /** Another device's entry certified by a new identity (a rotation): its prekeys and queues as they were. */
  private recertify(e: DeviceSetEntry, identity: SignKeyPair): DeviceSetEntry {
    return recertifyDeviceSetEntry(e, identity, this.ctx.now());
  }

  /**
   * Publishes this device's set to every active contact it has not sent one to (`mySet` unset):
   * new contacts, and contacts made before device sets. Run by the flush.
   */
  async publishPending(): Promise<void> {
    await this.rotatePrekey();
    const due = [...this.ctx.contactsById.values()].filter(
      (c) => c.status === 'active' && c.device && !c.mySet,
    );
    if (due.length === 0) return;
    await this.ctx.lock.run(async () => {
      for (const before of due) {
        const c = this.ctx.contactsById.get(hex(before.id));
        if (!c || c.mySet || c.status !== 'active') continue;
        const { set, nextSealed } = await this.nextSet(c);
        const bytes = encodeDeviceSet(set);
        const next: ContactRecord = { ...c, mySet: bytes };
        if (nextSealed) next.nextSealed = nextSealed;
        await this.saveSigned(next);
      }
    });
  }

  /**
   * Weekly, a new signed prekey (SignedPrekeys decides when, by the injected clock), and a new
   * set with it toward every contact that has one of mine: their new devices then set up their
   * sessions to it, and the replaced one is wiped after its grace period (decision 0062).
   */
  private async rotatePrekey(): Promise<void> {
    await this.ctx.lock.run(async () => {
      if (!(await this.prekeys.rotateIfDue())) return;
      for (const c of [...this.ctx.contactsById.values()]) {
        if (c.status !== 'active' || !c.mySet || c.own) continue;
        const { set, nextSealed } = await this.nextSet(c);
        const bytes = encodeDeviceSet(set);
        const next: ContactRecord = { ...c, mySet: bytes };
        if (nextSealed) next.nextSealed = nextSealed;
        await this.saveSigned(next);
      }
    });
  }

  /** Signs my set toward `alias` again (seq one up) and sends it to each of their devices. */
  async republish(alias: string): Promise<void> {
    await this.ctx.lock.run(async () => {
      const c = this.ctx.mustContact(alias);
      const { set, nextSealed } = await this.nextSet(c);
      const bytes = encodeDeviceSet(set);
      const next: ContactRecord = { ...c, mySet: bytes };
      if (nextSealed) next.nextSealed = nextSealed;
      await this.saveSigned(next);
    });
    this.ctx.kickFlush();
  }

  /**
   * A contact's device set (a `devices` message from `sender`, one of their devices), checked
   * against the one held (core checkDeviceSetUpdate: newer, by their identity or its committed
   * successor). A set not newer is still taken for its sender's own entry when that entry is
   * newer than what I hold of the device, or the device is new to me (core checkDeviceNews,
   * decision 0062: their devices publish without a coordinator and may reuse a seq). Returns the
   * record with the set in; a set by their identity never drops a device (the device that signed
   * it may not know every other one), a rotation drops the devices it does not list, and `ops`
   * gets the removal of the outbox entries waiting for them. `added` is a new device's session
   * (an introduction's).
   */
  takeSet(
    c: ContactRecord,
    bytes: Uint8Array,
    sender: Uint8Array,
    ops: StoreOp[],
    added?: PeerDevice,
  ): ContactRecord {
    const set = decodeDeviceSet(bytes);
    const before = held(c.theirSet);
    const known = (c.theirNews ?? []).map((n) => decodeDeviceSet(n.set));
    if (before) known.unshift(before);
    // The newest certificate I hold for a device: what its next entry must be newer than.
    const heldAt = (key: Uint8Array): number | undefined => {
      let at: number | undefined;
      for (const s of known)
        for (const e of s.devices)
          if (equalBytes(e.cert.deviceKey, key)) at = Math.max(at ?? 0, e.cert.issued);
      if (at === undefined && remoteDevices(c).some((k) => equalBytes(k, key))) return 0;
      return at;
    };
    let rotated = false;
    let advances = true;
    try {
      rotated = checkDeviceSetUpdate(before && heldDeviceSet(before), set, c.theirIdentity).rotated;
    } catch (e) {
      if (!(e instanceof ReplayError) || !before) throw e;
      checkDeviceNews(heldDeviceSet(before), set, sender, heldAt(sender));
      advances = false;
    }
    const entry = set.devices.find((e) => equalBytes(e.cert.deviceKey, sender));
    if (!entry) throw new VerificationError('device set sent by a device it does not list');
    // A newer set whose sender's own entry is not newer than the one I hold of it: a backdated
    // rotation (an older prekey brought back), refused as a replay.
    const senderAt = heldAt(sender);
    if (advances && !rotated && senderAt !== undefined && entry.cert.issued <= senderAt)
      throw new ReplayError('device set entry of its sender not newer than the one held');
    if (added && remoteDevices(c).some((k) => equalBytes(k, sender)))
      throw new ReplayError('introduction from a device I already have a session with');
    // What the set says of a device, when it is the sender's entry or at least as new as mine.
    const listed = (key: Uint8Array): DeviceSetEntry | undefined => {
      const e = set.devices.find((x) => equalBytes(x.cert.deviceKey, key));
      if (!e) return undefined;
      if (equalBytes(key, sender)) return e;
      return advances && e.cert.issued >= (heldAt(key) ?? 0) ? e : undefined;
    };
    const inSet = (key: Uint8Array): boolean => set.devices.some((x) => equalBytes(x.cert.deviceKey, key));
    // A held set without a commitment came from an account without a device log (one device,
    // decision 0038): the set after it is the whole truth, and a device it no longer lists goes.
    const wholeTruth = rotated || (advances && before !== undefined && !before.next);
    const listedBefore = (key: Uint8Array): boolean =>
      before?.devices.some((e) => equalBytes(e.cert.deviceKey, key)) ?? false;
    // Every device I keep a session with, first one first, with its queues as the set says.
    const sessions: PeerDevice[] = [];
    const first = c.device && c.send ? peerOf(c) : undefined;
    for (const d of [...(first ? [first] : []), ...(c.others ?? [])]) {
      if (added && equalBytes(d.device, added.device)) continue;
      if (!inSet(d.device)) {
        if (!(rotated || (wholeTruth && listedBefore(d.device)))) sessions.push(d);
        continue;
      }
      const e = listed(d.device);
      if (!e) {
        sessions.push(d);
        continue;
      }
      const kept: PeerDevice = { ...d, send: e.queue };
      if (e.queue2) kept.send2 = e.queue2;
      else delete kept.send2;
      sessions.push(kept);
    }
    if (added) sessions.push(added);
    if (sessions.length === 0) throw new ProtocolError('device set leaves no device to talk to');
    const gone = remoteDevices(c).filter((k) => !sessions.some((s) => equalBytes(s.device, k)));
    for (const { key, value: e } of this.ctx.mirror.entries(C.outbox, decodeOutbox))
      if (equalBytes(e.contact, c.id) && e.dev && gone.some((k) => equalBytes(k, e.dev!)))
        ops.push({ type: 'del', collection: C.outbox, key });
    let out = withFirst(c, sessions[0]);
    const others = sessions.slice(1);
    if (others.length) out.others = others;
    else delete out.others;
    // The news kept: one set per device that sent it, and only while it says more than the held set.
    let news: TheirNews[];
    if (advances) {
      out.theirSet = bytes;
      news = rotated ? [] : (c.theirNews ?? []).filter((n) => newsStillNewer(n, set, sessions));
    } else {
      news = [
        ...(c.theirNews ?? []).filter((n) => !equalBytes(n.device, sender)),
        { device: sender, set: bytes },
      ].slice(-16);
    }
    if (news.length) out.theirNews = news;
    else delete out.theirNews;
    if (rotated) out = { ...out, theirIdentity: set.identityKey };
    return out;
  }

  /** A hidden group peer's devices changed (the account hands it to the group engine). */
  onPeerDevices?: (c: ContactRecord) => void;

  /** After a set came in: the UI hears that the contact's devices changed. */
  announce(c: ContactRecord): () => void {
    // A hidden group peer is no contact: the group engine hears of it (a new chain of mine for
    // its devices, decision 0060), the UI does not.
    if (c.peer) return () => this.onPeerDevices?.(c);
    const info = this.ctx.info(c);
    return () => this.ctx.events.emit('contact', { alias: c.alias, change: 'devices', info });
  }

  /**
   * An introduction from a new device of contact `c` on my queue for them: PQXDH with my
   * prekey (the one my set gave them) and their identity, the first message a `devices`
   * envelope whose set lists the new device; the session with it is added to `c`.
   */
  async receiveIntro(c: ContactRecord, body: Uint8Array, seenOp: StoreOp): Promise<void> {
    const intro = decodeDeviceIntro(body);
    if (!equalBytes(intro.identityKey, c.theirIdentity))
      throw new VerificationError('introduction by another identity than the contact');
    // My current prekey, or one replaced less than the grace period ago (decision 0062).
    const pair = await this.prekeys.find(intro.card);
    if (!pair) throw new ProtocolError('introduction for a prekey this device does not hold (any more)');
    const { dh, kem } = pair;
    const keys = pqxdhRespond({
      identity: signPair(c.identity),
      signedPrekey: dh,
      kemKeyPair: kem,
      peerIdentityKey: intro.identityKey,
      init: intro.init,
    });
    const session = initRatchetReceiver({
      sharedSecret: keys.sharedSecret,
      ownRatchetKeyPair: dh,
      sharedHeaderKey: keys.sharedHeaderKey,
      nextHeaderKey: keys.nextHeaderKey,
    });
    wipe(keys.sharedSecret, keys.sharedHeaderKey, keys.nextHeaderKey);
    const dec = ratchetDecrypt(session, intro.message, keys.associatedData, this.ctx.rng);
    const env = decodeEnvelope(unpad(dec.plaintext));
    if (env.kind !== 'devices') throw new ProtocolError('introduction without a device set');
    if (!equalBytes(env.conv, c.conv)) throw new VerificationError('introduction for another conversation');
    const setBytes = asBytes(asMap(env.body as CborMap, 'devices body').set, 'device set', {
      max: 32 * 1024,
    });
    const entry = decodeDeviceSet(setBytes).devices.find((e) => equalBytes(e.cert.deviceKey, env.device));
    if (!entry) throw new VerificationError('introduction by a device its set does not list');
    const added: PeerDevice = {
      device: env.device,
      session: encodeRatchetState(dec.state),
      ad: keys.associatedData,
      send: entry.queue,
      stepAt: this.ctx.now(),
    };
    if (entry.queue2) added.send2 = entry.queue2;
    const ops: StoreOp[] = [seenOp];
    const next = this.takeSet(c, setBytes, env.device, ops, added);
    await this.ctx.saveContact(next, ops);
    this.ctx.contactsChanged();
    this.announce(next)();
  }

  /**
   * Makes each waiting snapshot contact (a restore's or a link's) a contact of this device: my
   * queue for them, my new set (this device added, seq above the snapshot's), one session per
   * device of their set, each opened by an introduction in that device's queue (sent by the
   * flush like any entry). Contacts whose set the snapshot does not have stay waiting.
   * Returns the contacts left waiting.
   */
  async introduceRestored(waiting: SnapshotContact[]): Promise<SnapshotContact[]> {
    const left: SnapshotContact[] = [];
    for (const s of waiting) {
      if (!s.theirSet || !s.senderKey) {
        left.push(s);
        continue;
      }
      if ([...this.ctx.contactsById.values()].some((c) => equalBytes(c.theirIdentity, s.theirIdentity)))
        continue;
      try {
        await this.introduceOne(s);
      } catch (e) {
        // One contact that cannot be introduced (a bad set, a relay refusing) waits; the rest go on.
        left.push(s);
        const error = e instanceof ParusError ? e : new ProtocolError('introduction failed', { cause: e });
        this.ctx.events.emit('error', { error, context: 'a restored contact could not be introduced' });
      }
    }
    return left;
  }

  /**
   * Makes a restored group's hidden peer (decision 0060) a peer of this device as
   * `introduceRestored` does a contact: a queue, my new set, an introduction to each of their
   * devices. Returns the peer's record (the group engine links its member to it).
   */
  async introducePeer(p: SnapshotGroupPeer, group: Uint8Array): Promise<ContactRecord> {
    if (!p.theirSet || !p.senderKey) throw new ProtocolError('a peer without a device set');
    const s: SnapshotContact = {
      alias: '',
      name: p.name,
      state: 'unvalidated',
      identity: p.identity,
      theirIdentity: p.theirIdentity,
      ...(p.device ? { device: p.device } : {}),
      senderKey: p.senderKey,
      theirSet: p.theirSet,
      ...(p.theirSenderKey ? { theirSenderKey: p.theirSenderKey } : {}),
      ...(p.mySet ? { mySet: p.mySet } : {}),
      ...(p.nextSealed ? { nextSealed: p.nextSealed } : {}),
    };
    return this.introduceOne(s, group);
  }

  private async introduceOne(s: SnapshotContact, peer?: Uint8Array): Promise<ContactRecord> {
    const theirs = decodeDeviceSet(s.theirSet!);
    if (!equalBytes(theirs.identityKey, s.theirIdentity))
      throw new VerificationError('snapshot device set by another identity than the contact');
    const { first: recv, second: recv2 } = await this.ctx.newQueues(s.theirSenderKey);
    const identity = signPair(s.identity);
    const conv = conversationId(identity.publicKey, s.theirIdentity);
    const now = this.ctx.now();
    let c: ContactRecord = {
      // The snapshot's id, so the history it carried is this contact's (decision 0041).
      id: s.id ?? this.ctx.rng.bytes(16),
      alias: this.ctx.byAlias(s.alias) ? `${s.alias}-${toHex(this.ctx.rng.bytes(2))}` : s.alias,
      name: s.name,
      state: s.state,
      status: 'active',
      identity: s.identity,
      theirIdentity: s.theirIdentity,
      conv,
      ad: new Uint8Array(0),
      recv,
      senderKey: s.senderKey!,
      session: new Uint8Array(0),
      created: now,
      theirSet: s.theirSet!,
    };
    if (recv2) c.recv2 = recv2;
    if (peer) {
      // A hidden group peer (decision 0060): no alias anyone types, as contact-setup.ts names them.
      c.peer = peer;
      c.alias = `@peer-${toHex(c.id).slice(0, 16)}`;
    }
    if (s.theirSenderKey) c.theirSenderKey = s.theirSenderKey;
    if (s.mySet) c.mySet = s.mySet;
    if (s.nextSealed) c.nextSealed = s.nextSealed;
    const { set, nextSealed } = await this.nextSet(c);
    const mySet = encodeDeviceSet(set);
    c.mySet = mySet;
    if (nextSealed) c.nextSealed = nextSealed;
    const envelope = encodeEnvelope(
      createEnvelope({
        device: this.ctx.device(),
        conv,
        parents: [],
        lamport: 0,
        ts: now,
        kind: 'devices',
        body: { set: mySet },
      }),
    );
    const sessions: PeerDevice[] = [];
    const entries: OutboxRecord[] = [];
    for (const d of theirs.devices) {
      const { keys, init } = pqxdhInitiate({
        rng: this.ctx.rng,
        identity,
        bundle: { identityKey: theirs.identityKey, signedPrekey: d.prekey, kemKey: d.kem },
      });
      let session = initRatchetSender({
        sharedSecret: keys.sharedSecret,
        peerRatchetKey: d.prekey,
        sharedHeaderKey: keys.sharedHeaderKey,
        nextHeaderKey: keys.nextHeaderKey,
        rng: this.ctx.rng,
      });
      wipe(keys.sharedSecret, keys.sharedHeaderKey, keys.nextHeaderKey);
      const enc = ratchetEncrypt(session, padToBucket(envelope), keys.associatedData, this.ctx.rng);
      session = enc.state;
      const wire = encodeDeviceIntro({
        v: 1,
        card: prekeyId(d.prekey),
        identityKey: identity.publicKey,
        init,
        message: enc.message,
      });
      const peer: PeerDevice = {
        device: d.cert.deviceKey,
        session: encodeRatchetState(session),
        ad: keys.associatedData,
        send: d.queue,
        stepAt: now,
      };
      if (d.queue2) peer.send2 = d.queue2;
      sessions.push(peer);
      // Sent as it is (the entry carries its wire), dropped once a relay took it.
      entries.push({
        seq: this.ctx.nextOutboxSeq(),
        contact: c.id,
        envelope,
        wire,
        state: 'queued',
        attempts: 1,
        nextAt: 0,
        dev: d.cert.deviceKey,
      });
    }
    c = withFirst(c, sessions[0]);
    if (sessions.length > 1) c.others = sessions.slice(1);
    const ops: StoreOp[] = entries.map((e) => ({
      type: 'put',
      collection: C.outbox,
      key: outboxKey(e.seq),
      value: encodeRecord(e),
    }));
    await this.ctx.lock.run(async () => {
      // My other devices hear of the set this device signed (decision 0067).
      if (this.shareSet)
        ops.push(
          ...(await this.shareSet({
            t: 'myset',
            conv,
            set: mySet,
            ...(c.nextSealed ? { next: c.nextSealed } : {}),
          })),
        );
      await this.ctx.saveContact(c, ops);
      this.ctx.contactsChanged();
      this.ctx.queues.set(hex(recv.rid), { kind: 'contact', id: hex(c.id) });
      if (recv2) this.ctx.queues.set(hex(recv2.rid), { kind: 'contact', id: hex(c.id) });
    });
    await this.ctx.subscribeQueue(recv).catch(() => undefined);
    if (recv2) void this.ctx.subscribeQueue(recv2).catch(() => undefined);
    if (!peer) this.ctx.events.emit('contact', { alias: c.alias, change: 'added', info: this.ctx.info(c) });
    this.ctx.kickFlush();
    return c;
  }

  /**
   * After `revoked` left the log: toward every contact, a set without it signed by my next
   * identity (opened with the account key from the passphrase), committing to a new next one
   * (decision 0030 "Revocation"). My record takes the new identity. Contacts whose set has no
   * commitment yet (made before this device had a log) get a set without the device signed by
   * the current identity. Returns how many contacts were told.
   */
  async rotateAfterRevoke(revoked: Uint8Array, accountKey: SignKeyPair): Promise<number> {
    let told = 0;
    await this.ctx.lock.run(async () => {
      for (const c of [...this.ctx.contactsById.values()]) {
        if (c.status !== 'active' || !c.mySet) continue;
        const mine = held(c.mySet)!;
        let identity: SignKeyPair | undefined;
        if (mine.next && c.nextSealed) {
          identity = openNextIdentity(accountKey, c.nextSealed);
          if (!equalBytes(nextIdentityCommitment(identity.publicKey), mine.next))
            throw new VerificationError('sealed next identity does not match its commitment');
        }
        const fresh = identity ? await this.freshNext() : undefined;
        const { set, nextSealed } = await this.nextSet(c, {
          drop: revoked,
          ...(identity ? { identity } : {}),
          ...(fresh ? { next: fresh } : {}),
        });
        const bytes = encodeDeviceSet(set);
        let next: ContactRecord = { ...c, mySet: bytes };
        if (nextSealed) next.nextSealed = nextSealed;
        if (identity) next = { ...next, identity: identity.secretKey };
        // My other devices take the new identity with the set (decision 0067).
        await this.saveSigned(next, identity?.secretKey);
        told++;
      }
    });
    this.ctx.kickFlush();
    return told;
  }

  /** A contact's devices (first one first), as ids `parus devices` would show them. */
  contactDevices(alias: string): Array<{ id: string; key: string }> {
    const c = this.ctx.mustContact(alias);
    return remoteDevices(c).map((k) => ({ id: deviceId(k), key: toHex(k) }));
  }
}
