/**
 * What the account keeps in its store, one record type per collection, each encoded as
 * canonical CBOR and decoded strictly (a damaged record is a StorageError, never a crash).
 */
import {
  StorageError,
  asArray,
  asBool,
  asBytes,
  asMap,
  asText,
  asUint,
  decodeCbor,
  decodeCallLogBody,
  decodeFileBody,
  decodeStickerBody,
  encodeCbor,
  optional,
  type CborMap,
  type CborValue,
  type CallLogBody,
  type FileBody,
} from '@parus/core';

export type ContactState = 'unvalidated' | 'validated' | 'compromised';
export const CONTACT_STATES: readonly ContactState[] = ['unvalidated', 'validated', 'compromised'];

export interface AccountRecord {
  name: string;
  relay: string;
  /** This device's Ed25519 secret key (libsodium layout: seed || public key). Never leaves the store. */
  device: Uint8Array;
  created: number;
  /** A second relay where the account keeps receive queues too, for failover (decision 0037). */
  relay2?: string;
}

/** A queue this device receives on. */
export interface InboundQueue {
  relay: string;
  rid: Uint8Array;
  sid: Uint8Array;
  /** X25519 secret of the recipient key, which authenticates sub/ack/secure/del. */
  rk: Uint8Array;
  /** Key the relay seals delivered bodies with. */
  key: Uint8Array;
  secured: boolean;
}

/** A queue this device sends to. */
export interface OutboundQueue {
  relay: string;
  sid: Uint8Array;
}

export interface InviteRecord {
  id: Uint8Array; // cardId
  link: string;
  identity: Uint8Array; // Ckp secret key
  prekey: Uint8Array; // X25519 secret of the signed prekey
  kem: Uint8Array; // X-Wing secret (seed)
  queue: InboundQueue;
  /** The card's second queue, on the account's second relay (decision 0037). */
  queue2?: InboundQueue;
  oneTime: boolean;
  expires: number;
  created: number;
  used: boolean;
  /** Set when the card was made for a group peer (groups/): the group's id. */
  peer?: Uint8Array;
  /**
   * Set for this device's inbox (decision 0039): where the account's other devices open their
   * sessions with it; `identity` is then this device's own key.
   */
  own?: true;
  /** The card's record on its relay behind a short link (decision 0045), withdrawn when spent. */
  short?: ShortRecord;
  /** My reusable QR code (好友條碼): the one long-lived card shown as mine until reset. */
  code?: boolean;
}

/** Where a short link's sealed card is kept: the link itself, the record's id and its owner key. */
export interface ShortRecord {
  link: string;
  relay: string;
  cid: Uint8Array;
  /** X25519 secret of the record's owner key (withdraws it). */
  ck: Uint8Array;
}

/**
 * One more device of a contact (decision 0038): its own Double Ratchet session with this
 * device and its queues. The contact's first device keeps the record's own fields (`device`,
 * `session`, `ad`, `send`, `send2`, `stepAt`, `rekeyAsked`), so an older record is a set of one.
 */
export interface PeerDevice {
  /** The device's Ed25519 key, certified by the contact's identity in their device set. */
  device: Uint8Array;
  session: Uint8Array;
  ad: Uint8Array;
  send: OutboundQueue;
  send2?: OutboundQueue;
  stepAt?: number;
  rekeyAsked?: number;
}

/** A set from one of the contact's devices, taken only for that device's entry (decision 0062). */
export interface TheirNews {
  device: Uint8Array;
  set: Uint8Array;
}

export interface ContactRecord {
  id: Uint8Array;
  alias: string;
  name: string;
  state: ContactState;
  status: 'pending' | 'active';
  /** My per-contact identity (Ckp) secret key. */
  identity: Uint8Array;
  theirIdentity: Uint8Array;
  conv: Uint8Array;
  ad: Uint8Array;
  recv: InboundQueue;
  send?: OutboundQueue;
  /** My second queue for this contact, on my second relay (decision 0037). */
  recv2?: InboundQueue;
  /** Their second queue: where I send when `send`'s relay does not answer (decision 0037). */
  send2?: OutboundQueue;
  /** The public key their sends to my queues are authenticated with (secures my second queue). */
  theirSenderKey?: Uint8Array;
  /** My sender key (X25519 secret) for their queue: it authenticates my sends. */
  senderKey: Uint8Array;
  /** Their device key, certified by their identity. */
  device?: Uint8Array;
  session: Uint8Array;
  created: number;
  keyChanged?: number;
  /** A contact request not yet accepted by the inviter's relay. */
  request?: { relay: string; sid: Uint8Array; body: Uint8Array; alt?: OutboundQueue };
  /**
   * Set for a group peer (a session made through a group introduction, not a contact): the
   * group's id. Such records are never listed as contacts and carry only group traffic.
   */
  peer?: Uint8Array;
  /** How many of my messages this contact's resend requests had sent again in the window from `since` (decision 0025). */
  resent?: { since: number; count: number };
  /** When my side of the session last took a DH ratchet step (absent: since `created`; decision 0026). */
  stepAt?: number;
  /** When I last asked the contact to answer so that the session steps (decision 0026). */
  rekeyAsked?: number;
  /** The contact's other devices, one session each (decision 0038). */
  others?: PeerDevice[];
  /** Their device set toward me (core device-set.ts), as last accepted. */
  theirSet?: Uint8Array;
  /**
   * Sets by their identity not newer than `theirSet`, taken only for the entry of the device that
   * sent each (decision 0062): at most one per device, dropped when `theirSet` catches up.
   */
  theirNews?: TheirNews[];
  /** My device set toward them, as this device last signed or learnt it. */
  mySet?: Uint8Array;
  /** My next identity's seed, sealed to the account key (pre-rotation, decision 0038). */
  nextSealed?: Uint8Array;
  /**
   * Set for a session with another device of this account (decision 0039): that device's
   * Ed25519 key. Such records are never listed as contacts and carry only sync traffic.
   */
  own?: Uint8Array;
  /** The display name the contact last sent in a profile (decision 0056); the alias stays mine. */
  profileName?: string;
  /** The contact sent an avatar (kept in the `profiles` collection, account/profiles.ts). */
  hasAvatar?: true;
}

/**
 * `failed`: sent, but no receipt came after the outbox's last attempt (docs/decisions/0025);
 * a receipt that comes later still makes it `delivered`.
 */
export type MessageStatus = 'pending' | 'sent' | 'failed' | 'delivered' | 'read' | 'received';

export interface MessageRecord {
  id: Uint8Array;
  contact: Uint8Array;
  dir: 'in' | 'out';
  kind: string;
  text: string;
  replyTo?: Uint8Array;
  parents: Uint8Array[];
  lamport: number;
  ts: number;
  received: number;
  status: MessageStatus;
  shown: boolean;
  /**
   * The signed envelope, kept so the message can be sent again on a resend request; empty
   * once the message is unsent (its contents are gone from both sides).
   */
  envelope: Uint8Array;
  /** A `/me` action line. */
  action?: true;
  sticker?: { pack: string; id: string };
  /** A file message: where its blob is and the keys to it. */
  file?: FileBody;
  /** For a file we sent: the blob's upload key (X25519 secret), to delete it on unsend. */
  uploadKey?: Uint8Array;
  /** When the author took the message back (收回); text, sticker and file are gone. */
  unsent?: number;
  /** For an `unsend` or `reaction` record: the message it is about. */
  target?: Uint8Array;
  /** When it was deleted for me (on this device or another of mine: decision 0039); contents gone. */
  deleted?: number;
  /** For a `reaction` record: one of REACTIONS, or '' (taken back). */
  emoji?: string;
  /** The reactions to this message, one each for me and the contact; the newest clock wins. */
  rx?: Array<{ by: 'me' | 'them'; e: string; l: number }>;
  /** A call-log entry (decision 0046): the call's outcome and how long it lasted. */
  callLog?: CallLogBody;
}

/** A file upload under way, kept so that it resumes after a restart (docs/decisions/0010-blobs.md). */
export interface UploadRecord {
  id: Uint8Array;
  contact: Uint8Array;
  /** BLAKE2b-256 of the plaintext: how a second sendFile of the same file finds this upload. */
  plainHash: Uint8Array;
  name: string;
  mime: string;
  size: number;
  thumb?: Uint8Array;
  key: Uint8Array;
  header: Uint8Array;
  /** X25519 secrets: the upload key authenticates bput/bfin/bstat, the download key travels in the message. */
  uk: Uint8Array;
  dk: Uint8Array;
  relay: string;
  blob: Uint8Array;
  /** BLAKE2b-256 of the ciphertext. */
  hash: Uint8Array;
  created: number;
}

export interface OutboxRecord {
  seq: number;
  contact: Uint8Array;
  envelope: Uint8Array;
  /** Set for user messages: keep until the end-to-end delivery receipt. */
  message?: Uint8Array;
  /** The ratchet ciphertext of the current attempt (sent again as is until the relay acks it). */
  wire?: Uint8Array;
  state: 'queued' | 'relayed';
  attempts: number;
  nextAt: number;
  /**
   * A group message to this member that the relay fan-out did not settle (groups/
   * fanout-outbox.ts): the upload missed them or their receipt did not come, so it goes over
   * the 1:1 session now. Entries written before rosters had an empty `envelope` until then;
   * the account fills it in when it opens.
   */
  fan?: true;
  /**
   * The contact's device the entry goes to (its Ed25519 key; decision 0038). An entry without
   * it is for every device of the contact: the flush writes one entry per device in its place.
   */
  dev?: Uint8Array;
}

function fail(what: string, cause: unknown): never {
  throw new StorageError(`stored ${what} is damaged`, { cause });
}

function map(bytes: Uint8Array, what: string): CborMap {
  try {
    return asMap(decodeCbor(bytes), what);
  } catch (cause) {
    return fail(what, cause);
  }
}

export function encodeRecord(record: object): Uint8Array {
  return encodeCbor(record as CborMap);
}

function guard<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (cause) {
    return fail(what, cause);
  }
}

const oneOf = <T extends string>(v: CborValue | undefined, what: string, options: readonly T[]): T => {
  const s = asText(v, what, 32);
  if (!(options as readonly string[]).includes(s)) throw new StorageError(`${what} has an unknown value`);
  return s as T;
};

function inbound(v: CborValue | undefined): InboundQueue {
  const m = asMap(v, 'queue');
  return {
    relay: asText(m.relay, 'relay', 512),
    rid: asBytes(m.rid, 'rid'),
    sid: asBytes(m.sid, 'sid'),
    rk: asBytes(m.rk, 'rk', { len: 32 }),
    key: asBytes(m.key, 'key', { len: 32 }),
    secured: asBool(m.secured, 'secured'),
  };
}

export function decodeAccount(bytes: Uint8Array): AccountRecord {
  const m = map(bytes, 'account');
  return guard('account', () => ({
    name: asText(m.name, 'name', 64),
    relay: asText(m.relay, 'relay', 512),
    device: asBytes(m.device, 'device', { len: 64 }),
    created: asUint(m.created, 'created'),
    ...optionalField(
      'relay2',
      optional(m.relay2, (v) => asText(v, 'relay2', 512)),
    ),
  }));
}

/** `{ [key]: value }` when the value is there, `{}` when not (optional record fields). */
function optionalField<K extends string, T>(key: K, value: T | undefined): { [P in K]?: T } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: T };
}

function outbound(v: CborValue, what: string): OutboundQueue {
  const s = asMap(v, what);
  return { relay: asText(s.relay, 'relay', 512), sid: asBytes(s.sid, 'sid') };
}

export function decodeInvite(bytes: Uint8Array): InviteRecord {
  const m = map(bytes, 'invitation');
  return guard('invitation', () => ({
    id: asBytes(m.id, 'id', { len: 32 }),
    link: asText(m.link, 'link', 8192),
    identity: asBytes(m.identity, 'identity', { len: 64 }),
    prekey: asBytes(m.prekey, 'prekey', { len: 32 }),
    kem: asBytes(m.kem, 'kem', { len: 32 }),
    queue: inbound(m.queue),
    oneTime: asBool(m.oneTime, 'oneTime'),
    expires: asUint(m.expires, 'expires'),
    created: asUint(m.created, 'created'),
    used: asBool(m.used, 'used'),
    ...optionalPeer(m.peer),
    ...optionalField('queue2', optional(m.queue2, inbound)),
    ...(optional(m.own, (v) => asBool(v, 'own')) ? { own: true as const } : {}),
    ...optionalField('short', optional(m.short, shortRecord)),
    ...(m.code === true ? { code: true } : {}),
  }));
}

function shortRecord(v: CborValue): ShortRecord {
  const m = asMap(v, 'short');
  return {
    link: asText(m.link, 'short link', 1024),
    relay: asText(m.relay, 'short relay', 512),
    cid: asBytes(m.cid, 'short cid', { len: 16 }),
    ck: asBytes(m.ck, 'short ck', { len: 32 }),
  };
}

function optionalPeer(v: CborValue | undefined): { peer?: Uint8Array } {
  const peer = optional(v, (x) => asBytes(x, 'peer', { len: 16 }));
  return peer ? { peer } : {};
}

export function decodeContact(bytes: Uint8Array): ContactRecord {
  const m = map(bytes, 'contact');
  return guard('contact', () => {
    const c: ContactRecord = {
      id: asBytes(m.id, 'id', { len: 16 }),
      alias: asText(m.alias, 'alias', 64),
      name: asText(m.name, 'name', 64),
      state: oneOf(m.state, 'state', CONTACT_STATES),
      status: oneOf(m.status, 'status', ['pending', 'active'] as const),
      identity: asBytes(m.identity, 'identity', { len: 64 }),
      theirIdentity: asBytes(m.theirIdentity, 'theirIdentity', { len: 32 }),
      conv: asBytes(m.conv, 'conv', { len: 16 }),
      ad: asBytes(m.ad, 'ad', { max: 256 }),
      recv: inbound(m.recv),
      senderKey: asBytes(m.senderKey, 'senderKey', { len: 32 }),
      session: asBytes(m.session, 'session', { max: 1 << 20 }),
      created: asUint(m.created, 'created'),
    };
    const send = optional(m.send, (v) => outbound(v, 'send'));
    if (send) c.send = send;
    const recv2 = optional(m.recv2, inbound);
    if (recv2) c.recv2 = recv2;
    const send2 = optional(m.send2, (v) => outbound(v, 'send2'));
    if (send2) c.send2 = send2;
    const theirSenderKey = optional(m.theirSenderKey, (v) => asBytes(v, 'theirSenderKey', { len: 32 }));
    if (theirSenderKey) c.theirSenderKey = theirSenderKey;
    const device = optional(m.device, (v) => asBytes(v, 'device', { len: 32 }));
    if (device) c.device = device;
    const request = optional(m.request, (v) => {
      const r = asMap(v, 'request');
      const request: NonNullable<ContactRecord['request']> = {
        relay: asText(r.relay, 'relay', 512),
        sid: asBytes(r.sid, 'sid'),
        body: asBytes(r.body, 'body', { max: 1 << 18 }),
      };
      const alt = optional(r.alt, (a) => outbound(a, 'alt'));
      if (alt) request.alt = alt;
      return request;
    });
    if (request) c.request = request;
    const keyChanged = optional(m.keyChanged, (v) => asUint(v, 'keyChanged'));
    if (keyChanged !== undefined) c.keyChanged = keyChanged;
    const resent = optional(m.resent, (v) => {
      const r = asMap(v, 'resent');
      return { since: asUint(r.since, 'since'), count: asUint(r.count, 'count') };
    });
    if (resent) c.resent = resent;
    const stepAt = optional(m.stepAt, (v) => asUint(v, 'stepAt'));
    if (stepAt !== undefined) c.stepAt = stepAt;
    const rekeyAsked = optional(m.rekeyAsked, (v) => asUint(v, 'rekeyAsked'));
    if (rekeyAsked !== undefined) c.rekeyAsked = rekeyAsked;
    Object.assign(c, optionalPeer(m.peer));
    const others = optional(m.others, (v) => asArray(v, 'others', 16).map(peerDevice));
    if (others) c.others = others;
    const theirSet = optional(m.theirSet, (v) => asBytes(v, 'theirSet', { max: 32 * 1024 }));
    if (theirSet) c.theirSet = theirSet;
    const theirNews = optional(m.theirNews, (v) =>
      asArray(v, 'theirNews', 16).map((x) => {
        const n = asMap(x, 'theirNews entry');
        return {
          device: asBytes(n.device, 'theirNews device', { len: 32 }),
          set: asBytes(n.set, 'theirNews set', { max: 32 * 1024 }),
        };
      }),
    );
    if (theirNews) c.theirNews = theirNews;
    const mySet = optional(m.mySet, (v) => asBytes(v, 'mySet', { max: 32 * 1024 }));
    if (mySet) c.mySet = mySet;
    const nextSealed = optional(m.nextSealed, (v) => asBytes(v, 'nextSealed', { len: 80 }));
    if (nextSealed) c.nextSealed = nextSealed;
    const own = optional(m.own, (v) => asBytes(v, 'own', { len: 32 }));
    if (own) c.own = own;
    const profileName = optional(m.profileName, (v) => asText(v, 'profileName', 128));
    if (profileName !== undefined) c.profileName = profileName;
    if (m.hasAvatar !== undefined && asBool(m.hasAvatar, 'hasAvatar')) c.hasAvatar = true;
    return c;
  });
}

function peerDevice(v: CborValue): PeerDevice {
  const m = asMap(v, 'peer device');
  const d: PeerDevice = {
    device: asBytes(m.device, 'device', { len: 32 }),
    session: asBytes(m.session, 'session', { max: 1 << 20 }),
    ad: asBytes(m.ad, 'ad', { max: 256 }),
    send: outbound(m.send!, 'send'),
  };
  const send2 = optional(m.send2, (x) => outbound(x, 'send2'));
  if (send2) d.send2 = send2;
  const stepAt = optional(m.stepAt, (x) => asUint(x, 'stepAt'));
  if (stepAt !== undefined) d.stepAt = stepAt;
  const rekeyAsked = optional(m.rekeyAsked, (x) => asUint(x, 'rekeyAsked'));
  if (rekeyAsked !== undefined) d.rekeyAsked = rekeyAsked;
  return d;
}

const STATUSES: readonly MessageStatus[] = ['pending', 'sent', 'failed', 'delivered', 'read', 'received'];

export function decodeMessage(bytes: Uint8Array): MessageRecord {
  const m = map(bytes, 'message');
  return guard('message', () => {
    const r: MessageRecord = {
      id: asBytes(m.id, 'id', { len: 32 }),
      contact: asBytes(m.contact, 'contact', { len: 16 }),
      dir: oneOf(m.dir, 'dir', ['in', 'out'] as const),
      kind: asText(m.kind, 'kind', 32),
      text: asText(m.text, 'text', 65536),
      parents: asArray(m.parents, 'parents', 64).map((p) => asBytes(p, 'parent', { len: 32 })),
      lamport: asUint(m.lamport, 'lamport'),
      ts: asUint(m.ts, 'ts'),
      received: asUint(m.received, 'received'),
      status: oneOf(m.status, 'status', STATUSES),
      shown: asBool(m.shown, 'shown'),
      envelope: asBytes(m.envelope, 'envelope', { max: 1 << 20 }),
    };
    const replyTo = optional(m.replyTo, (v) => asBytes(v, 'replyTo', { len: 32 }));
    if (replyTo) r.replyTo = replyTo;
    if (m.action !== undefined && asBool(m.action, 'action')) r.action = true;
    if (m.sticker !== undefined) {
      const { pack, id } = decodeStickerBody(m.sticker);
      r.sticker = { pack, id };
    }
    if (m.file !== undefined) r.file = decodeFileBody(m.file);
    const uploadKey = optional(m.uploadKey, (v) => asBytes(v, 'uploadKey', { len: 32 }));
    if (uploadKey) r.uploadKey = uploadKey;
    const unsent = optional(m.unsent, (v) => asUint(v, 'unsent'));
    if (unsent !== undefined) r.unsent = unsent;
    const target = optional(m.target, (v) => asBytes(v, 'target', { len: 32 }));
    if (target) r.target = target;
    const deleted = optional(m.deleted, (v) => asUint(v, 'deleted'));
    if (deleted !== undefined) r.deleted = deleted;
    const emoji = optional(m.emoji, (v) => asText(v, 'emoji', 8));
    if (emoji !== undefined) r.emoji = emoji;
    const rx = optional(m.rx, (v) =>
      asArray(v, 'reactions', 2).map((x) => {
        const y = asMap(x, 'reaction');
        return {
          by: oneOf(y.by, 'by', ['me', 'them'] as const),
          e: asText(y.e, 'emoji', 8),
          l: asUint(y.l, 'clock'),
        };
      }),
    );
    if (rx) r.rx = rx;
    if (m.callLog !== undefined) r.callLog = decodeCallLogBody(m.callLog);
    return r;
  });
}

export function decodeUpload(bytes: Uint8Array): UploadRecord {
  const m = map(bytes, 'upload');
  return guard('upload', () => {
    const r: UploadRecord = {
      id: asBytes(m.id, 'id', { len: 16 }),
      contact: asBytes(m.contact, 'contact', { len: 16 }),
      plainHash: asBytes(m.plainHash, 'plainHash', { len: 32 }),
      name: asText(m.name, 'name', 255),
      mime: asText(m.mime, 'mime', 127),
      size: asUint(m.size, 'size'),
      key: asBytes(m.key, 'key', { len: 32 }),
      header: asBytes(m.header, 'header', { len: 24 }),
      uk: asBytes(m.uk, 'uk', { len: 32 }),
      dk: asBytes(m.dk, 'dk', { len: 32 }),
      relay: asText(m.relay, 'relay', 512),
      blob: asBytes(m.blob, 'blob', { len: 32 }),
      hash: asBytes(m.hash, 'hash', { len: 32 }),
      created: asUint(m.created, 'created'),
    };
    const thumb = optional(m.thumb, (v) => asBytes(v, 'thumb', { max: 16 * 1024 }));
    if (thumb) r.thumb = thumb;
    return r;
  });
}

export function decodeOutbox(bytes: Uint8Array): OutboxRecord {
  const m = map(bytes, 'outbox entry');
  return guard('outbox entry', () => {
    const r: OutboxRecord = {
      seq: asUint(m.seq, 'seq'),
      contact: asBytes(m.contact, 'contact', { len: 16 }),
      envelope: asBytes(m.envelope, 'envelope', { max: 1 << 20 }),
      state: oneOf(m.state, 'state', ['queued', 'relayed'] as const),
      attempts: asUint(m.attempts, 'attempts'),
      nextAt: asUint(m.nextAt, 'nextAt'),
    };
    const message = optional(m.message, (v) => asBytes(v, 'message', { len: 32 }));
    if (message) r.message = message;
    const wire = optional(m.wire, (v) => asBytes(v, 'wire', { max: 1 << 20 }));
    if (wire) r.wire = wire;
    if (optional(m.fan, (v) => asBool(v, 'fan'))) r.fan = true;
    const dev = optional(m.dev, (v) => asBytes(v, 'dev', { len: 32 }));
    if (dev) r.dev = dev;
    return r;
  });
}
