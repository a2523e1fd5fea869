/**
 * What the group engine keeps in the store, with strict codecs (a damaged record is a
 * StorageError). Collections: `groups` (one GroupRecord per group), `gev.<group>` (signed state
 * events as received), `gmsg.<group>` (messages), `grc.<group>` (delivery and read receipts per
 * message and member, message-receipts.ts), `gch` (my sending chain per group), `gsk.<group>`
 * (sender chains of the others, by chain id), `gst.<group>` (messages waiting for their sender's
 * key).
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
  encodeCbor,
  optional,
  toHex,
  type CborMap,
  type CborValue,
  type CallLogBody,
  type FileBody,
} from '@parus/core';

/** The longest group message text, in characters (sending, receiving, history bundles). */
export const MAX_GROUP_TEXT = 16 * 1024;

export const GROUP_STATUSES = ['invited', 'joined', 'left', 'removed'] as const;
export type GroupStatusLocal = (typeof GROUP_STATUSES)[number];

export interface GroupLink {
  /** The member's key in the group. */
  m: Uint8Array;
  /** The contact (or hidden group peer) whose session reaches them. */
  c: Uint8Array;
}

export interface GroupRecord {
  id: Uint8Array;
  status: GroupStatusLocal;
  /** The name the invitation carried (the resolved state's name wins once known). */
  name: string;
  /** A local name chosen by the user (`parus group alias`). */
  alias?: string;
  /** My member key (Ed25519 secret key, seed || public). */
  me: Uint8Array;
  /** The contact that invited me. */
  inviter?: Uint8Array;
  links: GroupLink[];
  /** Member keys I invited: I relay their events until they reach everyone themselves. */
  invitees: Uint8Array[];
  /** Members I made a card for or answered a card of, and when. */
  intros: Array<{ m: Uint8Array; at: number }>;
  /** Cards forwarded to me, to answer (outside the lock: it takes the network). */
  accept: Array<{ m: Uint8Array; link: string }>;
  /** Cards to forward once I have a session with their addressee. */
  forwards: Array<{ to: Uint8Array; from: Uint8Array; link: string }>;
  /**
   * My sender chain (sender-key.ts encoding) as records before version 2 kept it: it now lives
   * in `gch` (it changes with every message; this record, with a link per member, should not).
   */
  chain?: Uint8Array;
  /** When my sender chain was made, and whether it must be replaced. */
  chainAt: number;
  rotate: boolean;
  created: number;
  /**
   * My fan-out lists, one per relay my members' queues are on (docs/decisions/0012): the
   * relay, the list's key (X25519 secret), its id, and the sender ids I put on it.
   */
  fan?: GroupFanoutList[];
  /**
   * My next member key's seed, sealed to the account key (member-rotation.ts): what my join or
   * create committed to (docs/decisions/0040). Absent when the account had no device log then.
   */
  nx?: Uint8Array;
  /**
   * Version of the group's stored records: absent (1) kept receipts as member lists in each
   * message and the sender chain here; 2 keeps them apart (GroupEngine.load upgrades).
   */
  v?: number;
}

export const GROUP_RECORDS_VERSION = 2;

export interface GroupFanoutList {
  r: string;
  k: Uint8Array;
  l: Uint8Array;
  s: Uint8Array[];
}

/** At most this many relays' lists per group, and entries per list (the relay's own bound). */
export const MAX_FANOUT_LISTS = 64;
export const MAX_FANOUT_LIST_ENTRIES = 4096;

export type GroupMessageKind =
  | 'text'
  | 'action'
  | 'ping'
  | 'sticker'
  | 'file'
  | 'unsend'
  | 'reaction'
  | 'call-log';
export const GROUP_MESSAGE_KINDS: readonly GroupMessageKind[] = [
  'text',
  'action',
  'ping',
  'sticker',
  'file',
  'unsend',
  'reaction',
  'call-log',
];

/** A member's reaction to a message (group-body.ts): who, which, and the reaction's clock. */
export interface GroupReaction {
  m: Uint8Array;
  e: string;
  l: number;
}

/** A group message's contents, as sent and as kept in its record (group-body.ts has the wire form). */
export interface GroupBody {
  kind: GroupMessageKind;
  /** Empty for stickers, files, unsends and reactions. */
  text: string;
  /** The message this one answers (text, sticker, file). */
  replyTo?: Uint8Array;
  sticker?: { pack: string; id: string };
  file?: FileBody;
  /** Unsend and reaction: the message they are about. */
  target?: Uint8Array;
  /** Reaction: one of REACTIONS, or '' to take it back. */
  emoji?: string;
  /** A group call's log entry (群組通話 12:34, decision 0053). */
  callLog?: CallLogBody;
}

export interface GroupMessageRecord extends GroupBody {
  id: Uint8Array;
  author: Uint8Array;
  dir: 'in' | 'out';
  /** Taken back by its author (收回): the contents are gone. */
  unsent?: true;
  /** Deleted on this device only (deleteForMe): kept for the message graph, never shown. */
  gone?: true;
  /** The members' reactions to it, one each. */
  rx?: GroupReaction[];
  parents: Uint8Array[];
  lamport: number;
  ts: number;
  received: number;
  /** Anti-backdating (seed 003): where the message is placed instead of where it claims to be. */
  place?: { parents: Uint8Array[]; lamport: number };
  /** Came in a history bundle (docs/decisions/0014): an earlier message, not news. */
  hist?: true;
  /** Members who confirmed this late message (group late-confirm.ts). */
  conf?: Uint8Array[];
  /** Outgoing: how many members confirmed delivery, and reading (who: message-receipts.ts). */
  delivered: number;
  read: number;
  /** Version 1 records named the members in the message itself: kept only until upgraded. */
  legacy?: { delivered: Uint8Array[]; read: Uint8Array[] };
  shown: boolean;
  readByMe: boolean;
}

function fail(what: string, cause: unknown): never {
  throw new StorageError(`stored ${what} is damaged`, { cause });
}

function read<T>(bytes: Uint8Array, what: string, f: (m: CborMap) => T): T {
  try {
    return f(asMap(decodeCbor(bytes), what));
  } catch (cause) {
    return fail(what, cause);
  }
}

export function encodeGroupRecord(r: GroupRecord | GroupMessageRecord | CborMap): Uint8Array {
  return encodeCbor(r as unknown as CborMap);
}

const key = (v: CborValue | undefined, what: string): Uint8Array => asBytes(v, what, { len: 32 });
const keys = (v: CborValue | undefined, what: string, max: number): Uint8Array[] =>
  asArray(v, what, max).map((x) => key(x, what));

function oneOf<T extends string>(v: CborValue | undefined, what: string, options: readonly T[]): T {
  const s = asText(v, what, 16);
  if (!(options as readonly string[]).includes(s)) throw new StorageError(`${what} has an unknown value`);
  return s as T;
}

export function decodeGroupRecord(bytes: Uint8Array): GroupRecord {
  return read(bytes, 'group', (m) => {
    const r: GroupRecord = {
      id: asBytes(m.id, 'id', { len: 16 }),
      status: oneOf(m.status, 'status', GROUP_STATUSES),
      name: asText(m.name, 'name', 256),
      me: asBytes(m.me, 'me', { len: 64 }),
      links: asArray(m.links, 'links', 4096).map((l) => {
        const x = asMap(l, 'link');
        return { m: key(x.m, 'member'), c: asBytes(x.c, 'contact', { len: 16 }) };
      }),
      invitees: keys(m.invitees, 'invitees', 4096),
      intros: asArray(m.intros, 'intros', 4096).map((l) => {
        const x = asMap(l, 'intro');
        return { m: key(x.m, 'member'), at: asUint(x.at, 'at') };
      }),
      accept: asArray(m.accept, 'accept', 4096).map((l) => {
        const x = asMap(l, 'accept');
        return { m: key(x.m, 'member'), link: asText(x.link, 'link', 8192) };
      }),
      forwards: asArray(m.forwards, 'forwards', 4096).map((l) => {
        const x = asMap(l, 'forward');
        return { to: key(x.to, 'to'), from: key(x.from, 'from'), link: asText(x.link, 'link', 8192) };
      }),
      chainAt: asUint(m.chainAt, 'chainAt'),
      rotate: asBool(m.rotate, 'rotate'),
      created: asUint(m.created, 'created'),
    };
    const alias = optional(m.alias, (v) => asText(v, 'alias', 64));
    if (alias !== undefined) r.alias = alias;
    const inviter = optional(m.inviter, (v) => asBytes(v, 'inviter', { len: 16 }));
    if (inviter) r.inviter = inviter;
    const chain = optional(m.chain, (v) => asBytes(v, 'chain', { max: 256 }));
    if (chain) r.chain = chain;
    const fan = optional(m.fan, (v) =>
      asArray(v, 'fan-out lists', MAX_FANOUT_LISTS).map((x) => {
        const f = asMap(x, 'fan-out list');
        return {
          r: asText(f.r, 'relay', 512),
          k: asBytes(f.k, 'list key', { len: 32 }),
          l: asBytes(f.l, 'list id', { len: 24 }),
          s: asArray(f.s, 'entries', MAX_FANOUT_LIST_ENTRIES).map((y) => asBytes(y, 'sid', { len: 24 })),
        };
      }),
    );
    if (fan) r.fan = fan;
    const nx = optional(m.nx, (x) => asBytes(x, 'sealed next member key', { max: 128 }));
    if (nx) r.nx = nx;
    const v = optional(m.v, (x) => asUint(x, 'version'));
    if (v !== undefined) r.v = v;
    return r;
  });
}

export function decodeGroupMessage(bytes: Uint8Array): GroupMessageRecord {
  return read(bytes, 'group message', (m) => {
    const r: GroupMessageRecord = {
      id: key(m.id, 'id'),
      author: key(m.author, 'author'),
      dir: oneOf(m.dir, 'dir', ['in', 'out'] as const),
      kind: oneOf(m.kind, 'kind', GROUP_MESSAGE_KINDS),
      text: asText(m.text, 'text', 65536),
      parents: keys(m.parents, 'parents', 64),
      lamport: asUint(m.lamport, 'lamport'),
      ts: asUint(m.ts, 'ts'),
      received: asUint(m.received, 'received'),
      delivered: 0,
      read: 0,
      shown: asBool(m.shown, 'shown'),
      readByMe: asBool(m.readByMe, 'readByMe'),
    };
    const place = optional(m.place, (v) => {
      const p = asMap(v, 'place');
      return { parents: keys(p.parents, 'parents', 64), lamport: asUint(p.lamport, 'lamport') };
    });
    if (place) r.place = place;
    if (Array.isArray(m.delivered) || Array.isArray(m.read)) {
      r.legacy = { delivered: keys(m.delivered, 'delivered', 4096), read: keys(m.read, 'read', 4096) };
      r.delivered = r.legacy.delivered.length;
      r.read = r.legacy.read.length;
    } else {
      r.delivered = asUint(m.delivered, 'delivered');
      r.read = asUint(m.read, 'read');
    }
    if (optional(m.hist, (v) => asBool(v, 'hist'))) r.hist = true;
    const replyTo = optional(m.replyTo, (v) => key(v, 'replyTo'));
    if (replyTo) r.replyTo = replyTo;
    const sticker = optional(m.sticker, (v) => {
      const x = asMap(v, 'sticker');
      return { pack: asText(x.pack, 'pack', 32), id: asText(x.id, 'sticker id', 32) };
    });
    if (sticker) r.sticker = sticker;
    const file = optional(m.file, (v) => decodeFileBody(v));
    if (file) r.file = file;
    const target = optional(m.target, (v) => key(v, 'target'));
    if (target) r.target = target;
    const callLog = optional(m.callLog, (v) => decodeCallLogBody(v));
    if (callLog) r.callLog = callLog;
    const emoji = optional(m.emoji, (v) => asText(v, 'emoji', 8));
    if (emoji !== undefined) r.emoji = emoji;
    if (optional(m.unsent, (v) => asBool(v, 'unsent'))) r.unsent = true;
    if (optional(m.gone, (v) => asBool(v, 'gone'))) r.gone = true;
    const rx = optional(m.rx, (v) =>
      asArray(v, 'reactions', 4096).map((x) => {
        const y = asMap(x, 'reaction');
        return { m: key(y.m, 'member'), e: asText(y.e, 'emoji', 8), l: asUint(y.l, 'clock') };
      }),
    );
    if (rx) r.rx = rx;
    const conf = optional(m.conf, (v) => keys(v, 'confirmers', 4096));
    if (conf) r.conf = conf;
    return r;
  });
}

/** A sender chain of another member, as this device reads it. */
export interface ReceiverRecord {
  m: Uint8Array;
  state: Uint8Array;
  at: number;
}

export function decodeReceiver(bytes: Uint8Array): ReceiverRecord {
  return read(bytes, 'sender key', (m) => ({
    m: key(m.m, 'member'),
    state: asBytes(m.state, 'state', { max: 64 * 1024 }),
    at: asUint(m.at, 'at'),
  }));
}

/** A message whose sender key has not arrived yet. */
export interface StashRecord {
  c: Uint8Array;
  id: Uint8Array;
  w: Uint8Array;
  at: number;
}

export function decodeStash(bytes: Uint8Array): StashRecord {
  return read(bytes, 'waiting message', (m) => ({
    c: asBytes(m.c, 'contact', { len: 16 }),
    id: key(m.id, 'id'),
    w: asBytes(m.w, 'ciphertext', { max: 1 << 20 }),
    at: asUint(m.at, 'at'),
  }));
}

/** A payload kept until what it needs arrives (group-receiving.ts keepPending). */
export interface PendingRecord {
  c: Uint8Array;
  p: Uint8Array;
  at: number;
}

export function decodePending(bytes: Uint8Array): PendingRecord {
  return read(bytes, 'pending payload', (m) => ({
    c: asBytes(m.c, 'contact', { len: 16 }),
    p: asBytes(m.p, 'payload', { max: 1 << 20 }),
    at: asUint(m.at, 'at'),
  }));
}

export const GC = {
  groups: 'groups',
  pending: 'gpend',
  events: (g: Uint8Array) => `gev.${toHex(g)}`,
  messages: (g: Uint8Array) => `gmsg.${toHex(g)}`,
  receipts: (g: Uint8Array) => `grc.${toHex(g)}`,
  chains: 'gch',
  receivers: (g: Uint8Array) => `gsk.${toHex(g)}`,
  stash: (g: Uint8Array) => `gst.${toHex(g)}`,
} as const;
