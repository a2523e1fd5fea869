/**
 * Setting up 1:1 sessions, the account's part for it (PQXDH and the contact request, core
 * pqxdh.ts and contact-request.ts): the cards I make (invitations, group peer cards, room
 * doors), answering someone's card, the contact request that answers mine (and a room door's
 * refusal of a join it does not admit), and the `contact` hello each side sends with its queue
 * and device certificate. With a second relay (decision 0037) every card, hello and contact has a
 * second queue there too; `queue` messages tell existing contacts one added later.
 */
import {
  ProtocolError,
  UsageError,
  VerificationError,
  asBytes,
  asMap,
  asText,
  cardFromLink,
  cardId,
  cardToLink,
  checkCardUsable,
  createCard,
  createDeviceCertificate,
  createEnvelope,
  decodeContactRequest,
  decodeDeviceCertificate,
  decodeEnvelope,
  decodeQueueBody,
  dhKeyPairFromSecret,
  encodeQueueBody,
  encodeContactRequest,
  encodeDeviceCertificate,
  encodeEnvelope,
  encodeRatchetState,
  equalBytes,
  generateDhKeyPair,
  generateSignKeyPair,
  initRatchetReceiver,
  initRatchetSender,
  padToBucket,
  parseRelayAddress,
  pqxdhInitiate,
  pqxdhRespond,
  ratchetDecrypt,
  ratchetEncrypt,
  toHex,
  unpad,
  wipe,
  xwingKeyPairFromSeed,
  type CborMap,
  type Envelope,
  type RendezvousCard,
  type SignKeyPair,
  nameFault,
  MAX_CARD_NAME_CHARS,
  DecodeError,
  encodeDeviceInboxCard,
  hash,
  type DeviceInboxCard,
} from '@parus/core';
import { sealRoomRefusal } from '../groups/room-refusal.ts';
import {
  encodeRecord,
  type ContactRecord,
  type InboundQueue,
  type InviteRecord,
  type OutboundQueue,
} from '../records.ts';
import type { StoreOp } from '../store.ts';
import { C, DAY, checkAlias, conversationId, hex, signPair, type AccountContext } from './account-context.ts';

/** What session setup uses of the account. */
export type SetupContext = Pick<
  AccountContext,
  | 'store'
  | 'rng'
  | 'now'
  | 'lock'
  | 'events'
  | 'groups'
  | 'contactsById'
  | 'invitesById'
  | 'queues'
  | 'refusing'
  | 'inviteTtlMs'
  | 'self'
  | 'device'
  | 'contactsChanged'
  | 'kickFlush'
  | 'connection'
  | 'connected'
  | 'newQueue'
  | 'newQueues'
  | 'subscribeQueue'
  | 'relays'
  | 'control'
  | 'byAlias'
  | 'info'
  | 'saveContact'
  | 'forgetContact'
  | 'outboxOp'
>;

/**
 * Control body of a `contact` envelope: where to reach me (and, with a second relay, where
 * else: decision 0037), and who my device is.
 */
interface ContactHello {
  queue: OutboundQueue;
  queue2?: OutboundQueue;
  senderKey: Uint8Array;
  name: string;
  cert: Uint8Array;
}

function helloQueue(v: unknown, what: string): OutboundQueue {
  const q = asMap(v as CborMap, what);
  const relay = asText(q.relay, 'relay', 512);
  parseRelayAddress(relay);
  return { relay, sid: asBytes(q.sid, 'sid', { len: 24 }) };
}

function decodeContactHello(body: unknown): ContactHello {
  const m = asMap(body as CborMap, 'contact body');
  const hello: ContactHello = {
    queue: helloQueue(m.queue, 'queue'),
    senderKey: asBytes(m.senderKey, 'senderKey', { len: 32 }),
    name: peerName(asText(m.name, 'name', 128)),
    cert: asBytes(m.cert, 'cert', { max: 1024 }),
  };
  if (m.queue2 !== undefined) {
    hello.queue2 = helloQueue(m.queue2, 'queue2');
    if (hello.queue2.relay === hello.queue.relay) throw new DecodeError('second queue on the same relay');
  }
  return hello;
}

/** The public half of my sender key for `c`'s queues: what `c` secures its queues for me with. */
function mySenderPublic(c: ContactRecord): Uint8Array {
  return dhKeyPairFromSecret(c.senderKey).publicKey;
}

/** The name a contact gives itself follows the one name rule (core display-text.ts), as a card's does. */
function peerName(name: string): string {
  const fault = nameFault(name, MAX_CARD_NAME_CHARS);
  if (fault !== undefined) throw new DecodeError(`contact name ${fault}`);
  return name;
}

/** Group peers are not contacts: an alias no person can type (aliases never start with @). */
const PEER_ALIAS = '@peer';

function peerAlias(id: Uint8Array): string {
  return `@peer-${toHex(id).slice(0, 16)}`;
}

/**
 * What sessions with the account's own other devices add to session setup (own-devices.ts,
 * decision 0039): the extra fields of their hello, the checks of a request to this device's
 * inbox (a current device of the log, after the log it brings), and what a new session queues.
 */
export interface OwnSessionHooks {
  /** Fields added to the hello of an own-device session: my device log and inbox card. */
  helloExtras(): Promise<CborMap>;
  /** Checks a request to my inbox from `device` (AuthError for no current device of mine); merges the log it brings. */
  admit(device: Uint8Array, body: CborMap): Promise<{ name: string }>;
  /** What a new own-device session sends first (the sync state), as outbox entries. */
  sessionOps(c: ContactRecord): StoreOp[];
}

/** Own-device sessions are not contacts either: an alias no person can type. */
export function ownAlias(device: Uint8Array): string {
  return `@device-${toHex(device).slice(0, 16)}`;
}

export class ContactSetup {
  /** Set by the account once its own-devices part exists (own-devices.ts). */
  own: OwnSessionHooks | undefined;

  constructor(private readonly ctx: SetupContext) {}

  /** A card for a contact, or (with `peer`) for a group peer introduced by a member. */
  async makeCard(opts: {
    oneTime?: boolean;
    ttlMs?: number;
    peer?: Uint8Array;
    anonymous?: boolean;
  }): Promise<{ link: string; card: RendezvousCard }> {
    const oneTime = opts.oneTime ?? true;
    const { first: queue, second: queue2 } = await this.ctx.newQueues();
    const identity = generateSignKeyPair(this.ctx.rng);
    const prekey = generateDhKeyPair(this.ctx.rng);
    const kemSeed = this.ctx.rng.bytes(32);
    const kem = xwingKeyPairFromSeed(kemSeed);
    const now = this.ctx.now();
    const card = createCard({
      identity,
      identityKey: identity.publicKey,
      signedPrekey: prekey.publicKey,
      kemKey: kem.publicKey,
      queue: { relay: queue.relay, sid: queue.sid },
      ...(queue2 ? { queue2: { relay: queue2.relay, sid: queue2.sid } } : {}),
      relays: queue2 ? [queue.relay, queue2.relay] : [queue.relay],
      ...(opts.anonymous ? {} : { name: this.ctx.self().name }),
      expires: now + (opts.ttlMs ?? (oneTime ? this.ctx.inviteTtlMs : 365 * DAY)),
      oneTime,
    });
    const link = cardToLink(card);
    const record: InviteRecord = {
      id: cardId(card),
      link,
      identity: identity.secretKey,
      prekey: prekey.secretKey,
      kem: kemSeed,
      queue,
      oneTime,
      expires: card.expires,
      created: now,
      used: false,
    };
    if (opts.peer) record.peer = opts.peer;
    if (queue2) record.queue2 = queue2;
    await this.ctx.lock.run(async () => {
      await this.ctx.store.batch([
        { type: 'put', collection: C.invites, key: hex(record.id), value: encodeRecord(record) },
      ]);
      this.ctx.invitesById.set(hex(record.id), record);
      this.ctx.queues.set(hex(queue.rid), { kind: 'invite', id: hex(record.id) });
      if (queue2) this.ctx.queues.set(hex(queue2.rid), { kind: 'invite', id: hex(record.id) });
    });
    await this.ctx.subscribeQueue(queue);
    if (queue2) await this.ctx.subscribeQueue(queue2).catch(() => undefined);
    return { link, card };
  }

  /**
   * Answers a card. With `peer` (a group id) the card came through a group introduction: the
   * session is a hidden group peer, not a contact, and its first message binds it to the group.
   * With `room` too, the card is a public room's door and the request carries a join request
   * (groups/room-door.ts) made for the new session's conversation id.
   */
  async answerCard(
    link: string,
    opts: {
      alias?: string;
      replace?: boolean;
      peer?: Uint8Array;
      room?: (conv: Uint8Array) => CborMap;
    },
  ): Promise<ContactRecord> {
    const card = cardFromLink(link);
    checkCardUsable(card, this.ctx.now());
    const alias = opts.peer ? PEER_ALIAS : checkAlias(opts.alias ?? card.name ?? 'contact');
    const existing = opts.peer ? undefined : this.ctx.byAlias(alias);
    if (existing) {
      if (equalBytes(existing.theirIdentity, card.identityKey))
        throw new UsageError(`${alias} is already a contact`);
      if (!opts.replace)
        throw new UsageError(`${alias} exists with a different key; accept with replace to change it`);
    }
    // A room's door is long-lived and answered again on every join (each a new session).
    for (const c of opts.room ? [] : this.ctx.contactsById.values()) {
      if (equalBytes(c.theirIdentity, card.identityKey))
        throw new UsageError(`this card was already accepted as ${c.alias}`);
    }
    if (opts.peer && !opts.room && card.oneTime !== true)
      throw new ProtocolError('a group peer card must be one-time');
    return this.initiate({
      identity: generateSignKeyPair(this.ctx.rng),
      bundle: { identityKey: card.identityKey, signedPrekey: card.signedPrekey, kemKey: card.kemKey },
      cardId: cardId(card),
      to: {
        relay: card.queue.relay,
        sid: card.queue.sid,
        ...(card.queue2 ? { alt: { relay: card.queue2.relay, sid: card.queue2.sid } } : {}),
      },
      alias,
      name: card.name ?? alias,
      existing,
      ...(opts.peer ? { peer: opts.peer } : {}),
      ...(opts.room ? { room: opts.room } : {}),
    });
  }

  /**
   * Opens a session with another device of this account from its inbox card (decision 0039):
   * PQXDH with my device key as the identity, the same contact request and hello as a card's
   * answer, carrying my device log and my inbox card (OwnSessionHooks.helloExtras).
   */
  async answerInbox(card: DeviceInboxCard, name: string): Promise<ContactRecord> {
    return this.initiate({
      identity: this.ctx.device(),
      bundle: { identityKey: card.device, signedPrekey: card.prekey, kemKey: card.kem },
      cardId: hash(encodeDeviceInboxCard(card)),
      to: { relay: card.relay, sid: card.sid },
      alias: ownAlias(card.device),
      name,
      own: card.device,
      extras: await this.own!.helloExtras(),
    });
  }

  /** The initiator's side of a session (PQXDH §3.3): the contact request and the pending record. */
  private async initiate(opts: {
    identity: SignKeyPair;
    bundle: { identityKey: Uint8Array; signedPrekey: Uint8Array; kemKey: Uint8Array };
    cardId: Uint8Array;
    to: { relay: string; sid: Uint8Array; alt?: OutboundQueue };
    alias: string;
    name: string;
    existing?: ContactRecord | undefined;
    peer?: Uint8Array;
    room?: (conv: Uint8Array) => CborMap;
    own?: Uint8Array;
    extras?: CborMap;
  }): Promise<ContactRecord> {
    const { identity, existing, alias } = opts;
    const { keys, init } = pqxdhInitiate({ rng: this.ctx.rng, identity, bundle: opts.bundle });
    const card = { signedPrekey: opts.bundle.signedPrekey, identityKey: opts.bundle.identityKey };
    let session = initRatchetSender({
      sharedSecret: keys.sharedSecret,
      peerRatchetKey: card.signedPrekey,
      sharedHeaderKey: keys.sharedHeaderKey,
      nextHeaderKey: keys.nextHeaderKey,
      rng: this.ctx.rng,
    });
    wipe(keys.sharedSecret, keys.sharedHeaderKey, keys.nextHeaderKey);
    const { first: recv, second: recv2 } = await this.ctx.newQueues();
    const senderKey = generateDhKeyPair(this.ctx.rng);
    const conv = conversationId(identity.publicKey, card.identityKey);
    const hello = this.contactHelloEnvelope(identity, conv, recv, recv2, senderKey.publicKey, {
      ...(opts.room ? { room: opts.room(conv) } : {}),
      ...opts.extras,
    });
    const encrypted = ratchetEncrypt(
      session,
      padToBucket(encodeEnvelope(hello)),
      keys.associatedData,
      this.ctx.rng,
    );
    session = encrypted.state;
    const request = encodeContactRequest({
      v: 1,
      card: opts.cardId,
      identityKey: identity.publicKey,
      init,
      message: encrypted.message,
    });
    const now = this.ctx.now();
    const contact: ContactRecord = {
      id: this.ctx.rng.bytes(16),
      alias,
      name: opts.name,
      state: 'unvalidated',
      status: 'pending',
      identity: identity.secretKey,
      theirIdentity: card.identityKey,
      conv,
      ad: keys.associatedData,
      recv,
      senderKey: senderKey.secretKey,
      session: encodeRatchetState(session),
      created: now,
      // Sent (and retried) by the flush loop to the inviter's rendez-vous queue.
      request: { ...opts.to, body: request },
    };
    if (recv2) contact.recv2 = recv2;
    const ops: StoreOp[] = [];
    if (opts.peer) {
      contact.peer = opts.peer;
      contact.alias = peerAlias(contact.id);
    }
    if (opts.own) {
      contact.own = opts.own;
      ops.push(...this.own!.sessionOps(contact));
    }
    if (existing) {
      contact.keyChanged = now;
      ops.push({ type: 'del', collection: C.contacts, key: hex(existing.id) });
    }
    ops.push({ type: 'put', collection: C.contacts, key: hex(contact.id), value: encodeRecord(contact) });
    await this.ctx.lock.run(async () => {
      if (contact.peer) ops.push(...(await this.ctx.groups.peerSessionOps(contact)));
      await this.ctx.store.batch(ops);
      if (existing) this.ctx.forgetContact(existing);
      this.ctx.contactsById.set(hex(contact.id), contact);
      this.ctx.contactsChanged();
      this.ctx.queues.set(hex(recv.rid), { kind: 'contact', id: hex(contact.id) });
      if (recv2) this.ctx.queues.set(hex(recv2.rid), { kind: 'contact', id: hex(contact.id) });
    });
    await this.ctx.subscribeQueue(recv);
    if (recv2) void this.ctx.subscribeQueue(recv2).catch(() => undefined);
    this.ctx.kickFlush();
    if (!contact.peer && !contact.own) {
      const info = this.ctx.info(contact);
      this.ctx.events.emit('contact', { alias, change: existing ? 'key-changed' : 'added', info });
    }
    return contact;
  }

  private contactHelloEnvelope(
    identity: SignKeyPair,
    conv: Uint8Array,
    recv: InboundQueue,
    recv2: InboundQueue | undefined,
    senderKeyPublic: Uint8Array,
    extra: CborMap = {},
  ): Envelope {
    const cert = encodeDeviceCertificate(
      createDeviceCertificate({ identity, deviceKey: this.ctx.device().publicKey, issued: this.ctx.now() }),
    );
    return createEnvelope({
      device: this.ctx.device(),
      conv,
      parents: [],
      lamport: 0,
      ts: this.ctx.now(),
      kind: 'contact',
      body: {
        queue: { relay: recv.relay, sid: recv.sid },
        ...(recv2 ? { queue2: { relay: recv2.relay, sid: recv2.sid } } : {}),
        senderKey: senderKeyPublic,
        name: this.ctx.self().name,
        cert,
        ...extra,
      },
    });
  }

  async receiveContactRequest(invite: InviteRecord, body: Uint8Array, seenOp: StoreOp): Promise<void> {
    const req = decodeContactRequest(body);
    if (!equalBytes(req.card, invite.id)) throw new VerificationError('contact request answers another card');
    if (invite.used || invite.expires < this.ctx.now())
      throw new ProtocolError('contact request for a used or expired card');
    for (const c of this.ctx.contactsById.values()) {
      if (equalBytes(c.theirIdentity, req.identityKey)) return; // the same request again
    }
    const identity = signPair(invite.identity);
    const prekey = dhKeyPairFromSecret(invite.prekey);
    const keys = pqxdhRespond({
      identity,
      signedPrekey: prekey,
      kemKeyPair: xwingKeyPairFromSeed(invite.kem),
      peerIdentityKey: req.identityKey,
      init: req.init,
    });
    let session = initRatchetReceiver({
      sharedSecret: keys.sharedSecret,
      ownRatchetKeyPair: prekey,
      sharedHeaderKey: keys.sharedHeaderKey,
      nextHeaderKey: keys.nextHeaderKey,
    });
    wipe(keys.sharedSecret, keys.sharedHeaderKey, keys.nextHeaderKey);
    const dec = ratchetDecrypt(session, req.message, keys.associatedData, this.ctx.rng);
    session = dec.state;
    const env = decodeEnvelope(unpad(dec.plaintext));
    if (env.kind !== 'contact') throw new ProtocolError('contact request without contact details');
    const hello = decodeContactHello(env.body);
    const cert = decodeDeviceCertificate(hello.cert);
    if (!equalBytes(cert.identityKey, req.identityKey) || !equalBytes(cert.deviceKey, env.device)) {
      throw new VerificationError('device certificate does not match the request');
    }
    // My inbox (decision 0039): only a current device of this account, its own key as identity.
    let ownName: string | undefined;
    if (invite.own) {
      if (!equalBytes(req.identityKey, env.device))
        throw new VerificationError('an own device opens its session with its device key');
      ownName = (await this.own!.admit(env.device, asMap(env.body as CborMap, 'contact body'))).name;
    }
    // A public room's door (a long-lived peer card): only proven join requests get anything.
    let joiner: Uint8Array | undefined;
    if (invite.peer && !invite.oneTime) {
      const conv = conversationId(identity.publicKey, req.identityKey);
      try {
        joiner = await this.ctx.groups.checkRoomJoin(
          invite.peer,
          invite.id,
          asMap(env.body as CborMap, 'contact body').room,
          conv,
        );
      } catch (e) {
        // A refused join is answered once, in the session it opened (groups/room-refusal.ts).
        const refusal = this.ctx.groups.roomRefusal(invite.id, e);
        if (refusal) {
          const wire = sealRoomRefusal({
            session,
            ad: keys.associatedData,
            device: this.ctx.device(),
            conv,
            now: this.ctx.now(),
            rng: this.ctx.rng,
            refusal: { g: invite.peer, refusal },
          });
          const to = hello.queue;
          // Sent once, not kept: a lost refusal leaves the joiner waiting, as before (decision 0017).
          const sending = this.ctx
            .connected(to.relay)
            .then((r) => r.command({ t: 'send', sid: to.sid, body: wire }))
            .catch(() => undefined)
            .finally(() => this.ctx.refusing.delete(sending));
          this.ctx.refusing.add(sending);
        }
        throw e;
      }
    }
    // My queues for this contact, secured at once with the sender key they chose.
    const { first: recv, second: recv2 } = await this.ctx.newQueues(hello.senderKey);
    const senderKey = generateDhKeyPair(this.ctx.rng);
    const contact: ContactRecord = {
      id: this.ctx.rng.bytes(16),
      alias: invite.peer ? PEER_ALIAS : this.freeAlias(hello.name),
      name: hello.name,
      state: 'unvalidated',
      status: 'active',
      identity: invite.identity,
      theirIdentity: req.identityKey,
      conv: conversationId(identity.publicKey, req.identityKey),
      ad: keys.associatedData,
      recv,
      send: hello.queue,
      senderKey: senderKey.secretKey,
      theirSenderKey: hello.senderKey,
      device: env.device,
      session: encodeRatchetState(session),
      created: this.ctx.now(),
    };
    if (recv2) contact.recv2 = recv2;
    if (hello.queue2) contact.send2 = hello.queue2;
    const reply = this.contactHelloEnvelope(
      identity,
      contact.conv,
      recv,
      recv2,
      senderKey.publicKey,
      invite.own ? await this.own!.helloExtras() : {},
    );
    const usedInvite: InviteRecord = { ...invite, used: invite.oneTime };
    if (invite.peer) {
      contact.peer = invite.peer;
      contact.alias = peerAlias(contact.id);
    }
    if (ownName !== undefined) {
      contact.own = env.device;
      contact.alias = ownAlias(env.device);
      contact.name = ownName;
    }
    const ops: StoreOp[] = [
      seenOp,
      this.ctx.outboxOp(contact, encodeEnvelope(reply)),
      { type: 'put', collection: C.invites, key: hex(invite.id), value: encodeRecord(usedInvite) },
      ...(contact.own ? this.own!.sessionOps(contact) : []),
    ];
    const admitted = joiner ? this.ctx.groups.admitToRoom(contact, joiner) : undefined;
    if (admitted) ops.push(...admitted.ops);
    else if (contact.peer) ops.push(...(await this.ctx.groups.peerSessionOps(contact)));
    await this.ctx.saveContact(contact, ops);
    for (const f of admitted?.after ?? []) f();
    this.ctx.invitesById.set(hex(invite.id), usedInvite);
    this.ctx.queues.set(hex(recv.rid), { kind: 'contact', id: hex(contact.id) });
    if (recv2) this.ctx.queues.set(hex(recv2.rid), { kind: 'contact', id: hex(contact.id) });
    if (usedInvite.used) {
      for (const q of invite.queue2 ? [invite.queue, invite.queue2] : [invite.queue]) {
        this.ctx.queues.delete(hex(q.rid));
        const r = this.ctx.connection(q.relay);
        // The one-time rendez-vous queue has done its job; delete it (after this message's ack).
        setTimeout(() => void r.command({ t: 'del', rid: q.rid }, q.rk).catch(() => undefined), 0);
      }
      // Its short link's record too (decision 0045): whoever fetches it next is told it is spent.
      const short = invite.short;
      if (short)
        setTimeout(
          () =>
            void this.ctx
              .connection(short.relay)
              .deleteCardRecord(short.cid, short.ck)
              .catch(() => undefined),
          0,
        );
    }
    void this.ctx.subscribeQueue(recv).catch(() => undefined);
    if (recv2) void this.ctx.subscribeQueue(recv2).catch(() => undefined);
    if (!contact.peer && !contact.own)
      this.ctx.events.emit('contact', {
        alias: contact.alias,
        change: 'added',
        info: this.ctx.info(contact),
      });
  }

  private freeAlias(name: string): string {
    const base = name.replace(/[\s/@]+/g, '-').slice(0, 56) || 'contact';
    if (!this.ctx.byAlias(base)) return base;
    for (let i = 2; ; i++) if (!this.ctx.byAlias(`${base}-${i}`)) return `${base}-${i}`;
  }

  /**
   * A `contact` hello from `contact` (its record with the session as this message left it): the
   * inviter's answer to my contact request, or a later one from a new device (key changed). It
   * says where to reach them and which device they use, certified by their identity key for this
   * contact; the contact becomes active, and my queue for them is secured with the sender key
   * they chose if it was not yet. `ops` (the seen id) and `after` are stored and run with it.
   */
  async receiveHello(
    contact: ContactRecord,
    env: Envelope,
    ops: StoreOp[],
    after: Array<() => void>,
  ): Promise<void> {
    let c = contact;
    const hello = decodeContactHello(env.body);
    const cert = decodeDeviceCertificate(hello.cert);
    if (!equalBytes(cert.identityKey, c.theirIdentity) || !equalBytes(cert.deviceKey, env.device)) {
      throw new VerificationError('device certificate does not match the contact');
    }
    if (c.own && !equalBytes(c.own, env.device))
      throw new VerificationError('an own device answers with its device key');
    const ownName = c.own
      ? (await this.own!.admit(env.device, asMap(env.body as CborMap, 'contact body'))).name
      : undefined;
    const keyChanged = c.device !== undefined && !equalBytes(c.device, env.device);
    c = {
      ...c,
      send: hello.queue,
      device: env.device,
      status: 'active',
      name: ownName ?? hello.name,
      theirSenderKey: hello.senderKey,
    };
    if (hello.queue2) c.send2 = hello.queue2;
    else delete c.send2;
    if (keyChanged) c = { ...c, keyChanged: this.ctx.now(), state: 'unvalidated' };
    if (!c.recv.secured) {
      const r = await this.ctx.connected(c.recv.relay);
      await r.command({ t: 'secure', rid: c.recv.rid, sk: hello.senderKey }, c.recv.rk);
      c = { ...c, recv: { ...c.recv, secured: true } };
    }
    // The second queue is secured when its relay answers (secureSecondQueues), never waited for here.
    if (c.recv2 && !c.recv2.secured && this.ctx.relays.get(c.recv2.relay)?.connected) {
      const q = c.recv2;
      await this.ctx
        .connection(q.relay)
        .command({ t: 'secure', rid: q.rid, sk: hello.senderKey }, q.rk)
        .then(() => (c = { ...c, recv2: { ...q, secured: true } }))
        .catch(() => undefined);
    }
    // Group peers and own devices are not contacts: no event (and no safety number to compute).
    if (!c.peer && !c.own) {
      const info = this.ctx.info(c);
      after.push(() =>
        this.ctx.events.emit('contact', {
          alias: c.alias,
          change: keyChanged ? 'key-changed' : 'active',
          info,
        }),
      );
    }
    await this.ctx.saveContact(c, ops);
    for (const f of after) f();
  }

  /**
   * Gives the contact `id` a queue on my second relay (decision 0037) and tells it so in our
   * session (a `queue` message, with my sender key's public half). Secured with their sender key
   * when I know it; otherwise made unsecured, and the message asks for it. False when the contact
   * has a queue there already, or is gone.
   */
  async addSecondQueue(id: string): Promise<boolean> {
    const relay2 = this.ctx.self().relay2;
    const before = this.ctx.contactsById.get(id);
    if (!relay2 || !before || before.recv2 || before.recv.relay === relay2) return false;
    const queue = await this.ctx.newQueue(relay2, before.theirSenderKey);
    const added = await this.ctx.lock.run(async () => {
      const c = this.ctx.contactsById.get(id);
      if (!c || c.recv2) return false;
      const next: ContactRecord = { ...c, recv2: queue };
      const body = encodeQueueBody({
        queue: { relay: queue.relay, sid: queue.sid },
        sk: mySenderPublic(c),
        ask: !c.theirSenderKey,
      });
      await this.ctx.saveContact(next, [this.ctx.control(next, 'queue', body)]);
      this.ctx.queues.set(hex(queue.rid), { kind: 'contact', id });
      return true;
    });
    if (!added) {
      const r = this.ctx.connection(relay2);
      await r.command({ t: 'del', rid: queue.rid }, queue.rk).catch(() => undefined);
      return false;
    }
    await this.ctx.subscribeQueue(queue).catch(() => undefined);
    return true;
  }

  /**
   * A `queue` message from `c` (decision 0037): their second queue, where I send when their first
   * relay does not answer, and their sender key (kept, to secure my second queue for them). An
   * `ask` is answered with my own. Returns the contact as it now is; `ops` carry the answer.
   */
  receiveQueue(c: ContactRecord, body: unknown, ops: StoreOp[]): ContactRecord {
    const offer = decodeQueueBody(body as CborMap);
    const next: ContactRecord = { ...c };
    if (offer.queue) {
      if (!c.send) throw new ProtocolError('a second queue before the first');
      if (offer.queue.relay === c.send.relay) throw new ProtocolError('a second queue on the same relay');
      next.send2 = offer.queue;
    }
    if (!next.theirSenderKey) next.theirSenderKey = offer.sk;
    if (offer.ask) {
      const answer = encodeQueueBody({
        ...(next.recv2 ? { queue: { relay: next.recv2.relay, sid: next.recv2.sid } } : {}),
        sk: mySenderPublic(next),
        ask: false,
      });
      ops.push(this.ctx.control(next, 'queue', answer));
    }
    return next;
  }

  private securing = false;

  /**
   * Secures my second queues that were made before I knew the contact's sender key, or whose
   * relay was down when it came (decision 0037): each once its relay is connected.
   */
  async secureSecondQueues(): Promise<void> {
    if (this.securing) return;
    this.securing = true;
    try {
      for (const c of [...this.ctx.contactsById.values()]) {
        const q = c.recv2;
        if (!q || q.secured || !c.theirSenderKey || !this.ctx.relays.get(q.relay)?.connected) continue;
        const ok = await this.ctx
          .connection(q.relay)
          .command({ t: 'secure', rid: q.rid, sk: c.theirSenderKey }, q.rk)
          .then(
            () => true,
            () => false,
          );
        if (!ok) continue;
        await this.ctx.lock.run(async () => {
          const now = this.ctx.contactsById.get(hex(c.id));
          if (now?.recv2 && equalBytes(now.recv2.rid, q.rid))
            await this.ctx.saveContact({ ...now, recv2: { ...now.recv2, secured: true } });
        });
      }
    } finally {
      this.securing = false;
    }
  }
}
