/**
 * The body of a `sync` envelope (docs/decisions/0030 "Sessions", 0039): what one device tells
 * the account's other devices, inside their own-device sessions. Each operation carries its
 * stamp (Lamport clock, device id): the merge rules (sync-state.ts) order by it.
 *
 *   { ops: [ op, ... ] }                 1 to MAX_SYNC_OPS operations
 *   op = { t, l: uint, d: bytes 8, ... }  l: the author's sync clock, d: its device id
 *     sent    { env: bytes }             a message I sent, its signed envelope as the contact got it
 *     read    { conv: 16, upto: uint }   read up to this clock (已讀)
 *     del     { conv: 16, id: 32, at: uint }   delete for me one message (its clock `at`)
 *     clear   { conv: 16, upto: uint }   delete a whole conversation, up to this clock
 *     mute    { chat: 16, until: uint }  a chat muted until (ms; 0 = not muted)
 *     pin     { chat: 16 }               a chat pinned (the op's stamp is its tag)
 *     unpin   { chat: 16, tags: [{l, d}] }   the pin tags seen, removed
 *     state   { conv: 16, state: text }  a contact's state (unvalidated, validated, compromised)
 *     alias   { conv: 16, alias: text }  a contact's alias
 *     contact { alias, name, state, identity: 64, their: 32, device?: 32,
 *               sk?: 32, tsk?: 32, set?: bytes, myset?: bytes, next?: 80 }   a new contact, with
 *               the sender keys and device sets a device needs to introduce itself (decision 0038)
 *     log     { log: bytes }             the device log (device-log.ts), whole
 *     inbox   { card: bytes }            a device's inbox card (device-inbox-card.ts)
 *     group   { g: 16, ev?: [bytes], key?: 64, nx?: 80, sec?: bytes }   a group of mine
 *               (decision 0054): state events I signed there (≤ MAX_SYNC_GROUP_EVENTS), after a
 *               rekey my new member key (seed ‖ public) with its sealed next seed, and (decision
 *               0060) the group as the account snapshot's groups section has it, encoded
 *               (≤ MAX_SYNC_GROUP_SECTION_BYTES; the client decodes it): a group made, joined
 *               or newly linked on the other device; at least one of ev, key and sec
 *
 * Strict: every field's type and size, no field an operation does not define, no unknown
 * operation (DecodeError).
 */
import { asArray, asBytes, asMap, asText, asUint, type CborMap, type CborValue } from './cbor.ts';
import { SIGN_PUBLIC_BYTES } from './crypto.ts';
import { MAX_DEVICE_INBOX_CARD_BYTES } from './device-inbox-card.ts';
import { DEVICE_ID_BYTES, MAX_DEVICE_LOG_OPS, MAX_DEVICE_OP_BYTES } from './device-log.ts';
import { CONVERSATION_ID_BYTES, ENVELOPE_ID_BYTES, MAX_ENVELOPE_BYTES } from './envelope.ts';
import { DecodeError, UsageError } from './errors.ts';
import { GROUP_ID_BYTES, MAX_GROUP_EVENT_BYTES } from './group-event.ts';

/** Operations in one sync message. */
export const MAX_SYNC_OPS = 64;
/** Group state events one `group` operation carries. */
export const MAX_SYNC_GROUP_EVENTS = 16;
/** One group's snapshot section in a `group` op (decision 0060): it fits one envelope. */
export const MAX_SYNC_GROUP_SECTION_BYTES = 96 * 1024;
/** A sealed next member seed (client groups/member-rotation.ts: ephemeral key, box, tag). */
export const SYNC_SEALED_MEMBER_SEED_BYTES = 80;
/** Pin tags one unpin removes. */
export const MAX_UNPIN_TAGS = 64;
export const MAX_SYNC_ALIAS_CHARS = 64;
export const MAX_SYNC_NAME_CHARS = 128;
export const MAX_SYNC_LOG_BYTES = MAX_DEVICE_LOG_OPS * (MAX_DEVICE_OP_BYTES + 4) + 8;
export const SYNC_CONTACT_STATES = ['unvalidated', 'validated', 'compromised'] as const;
export type SyncContactState = (typeof SYNC_CONTACT_STATES)[number];

/** An operation's place in the merge order: (Lamport clock, device id). */
export interface SyncStamp {
  l: number;
  d: Uint8Array;
}

export interface SyncContact {
  alias: string;
  name: string;
  state: SyncContactState;
  /** My per-contact identity (Ckp) secret key. */
  identity: Uint8Array;
  /** Their identity key. */
  their: Uint8Array;
  /** Their device key as certified. */
  device?: Uint8Array;
  /** My sender key for their queues and theirs (X25519, decision 0038). */
  sk?: Uint8Array;
  tsk?: Uint8Array;
  /** Their device set toward me and mine toward them (core device-set.ts), encoded. */
  set?: Uint8Array;
  myset?: Uint8Array;
  /** My next identity's seed, sealed to the account key (pre-rotation). */
  next?: Uint8Array;
}

/** Largest encoded device set a sync contact carries (core device-set.ts bounds it the same). */
export const MAX_SYNC_DEVICE_SET_BYTES = 32 * 1024;

export type SyncOpBody =
  | { t: 'sent'; env: Uint8Array }
  | { t: 'read'; conv: Uint8Array; upto: number }
  | { t: 'del'; conv: Uint8Array; id: Uint8Array; at: number }
  | { t: 'clear'; conv: Uint8Array; upto: number }
  | { t: 'mute'; chat: Uint8Array; until: number }
  | { t: 'pin'; chat: Uint8Array }
  | { t: 'unpin'; chat: Uint8Array; tags: SyncStamp[] }
  | { t: 'state'; conv: Uint8Array; state: SyncContactState }
  | { t: 'alias'; conv: Uint8Array; alias: string }
  | { t: 'contact'; contact: SyncContact }
  | { t: 'log'; log: Uint8Array }
  | { t: 'inbox'; card: Uint8Array }
  /**
   * A device set I signed toward the contact of conversation `conv` (decision 0067): my other
   * devices merge it, so the next set any of them signs is above every seq used. A rotation
   * (after a revocation) carries the new identity secret `id` and, when there is one, the sealed
   * seed `next` of the identity its commitment names.
   */
  | { t: 'myset'; conv: Uint8Array; set: Uint8Array; id?: Uint8Array; next?: Uint8Array }
  | {
      t: 'group';
      g: Uint8Array;
      ev?: Uint8Array[];
      key?: Uint8Array;
      nx?: Uint8Array;
      sec?: Uint8Array;
    };

export type SyncOp = SyncOpBody & SyncStamp;
export type SyncOpType = SyncOp['t'];

const FIELDS: Record<SyncOpType, readonly string[]> = {
  sent: ['env'],
  read: ['conv', 'upto'],
  del: ['conv', 'id', 'at'],
  clear: ['conv', 'upto'],
  mute: ['chat', 'until'],
  pin: ['chat'],
  unpin: ['chat', 'tags'],
  state: ['conv', 'state'],
  alias: ['conv', 'alias'],
  contact: ['contact'],
  log: ['log'],
  inbox: ['card'],
  myset: ['conv', 'set', 'id', 'next'],
  group: ['g', 'ev', 'key', 'nx', 'sec'],
};
const CONTACT_FIELDS = [
  'alias',
  'name',
  'state',
  'identity',
  'their',
  'device',
  'sk',
  'tsk',
  'set',
  'myset',
  'next',
];
const CONTACT_BYTES: Record<'sk' | 'tsk' | 'set' | 'myset' | 'next', { len?: number; max?: number }> = {
  sk: { len: 32 },
  tsk: { len: 32 },
  set: { max: MAX_SYNC_DEVICE_SET_BYTES },
  myset: { max: MAX_SYNC_DEVICE_SET_BYTES },
  next: { len: 80 },
};

function onlyFields(m: CborMap, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(m))
    if (!allowed.includes(k)) throw new DecodeError(`${what} has unknown fields`);
}

function stampMap(s: SyncStamp): CborMap {
  return { l: s.l, d: s.d };
}

function readStamp(m: CborMap, what: string): SyncStamp {
  return { l: asUint(m.l, `${what} clock`), d: asBytes(m.d, `${what} device`, { len: DEVICE_ID_BYTES }) };
}

const conv = (v: CborValue | undefined): Uint8Array =>
  asBytes(v, 'conversation', { len: CONVERSATION_ID_BYTES });

function contactState(v: CborValue | undefined): SyncContactState {
  const s = asText(v, 'contact state', 16);
  const known = SYNC_CONTACT_STATES.find((x) => x === s);
  if (!known) throw new DecodeError('unknown contact state');
  return known;
}

function alias(v: CborValue | undefined): string {
  const a = asText(v, 'alias', MAX_SYNC_ALIAS_CHARS);
  if (a.length === 0) throw new DecodeError('empty alias');
  return a;
}

function opMap(op: SyncOp): CborMap {
  const { l, d, ...body } = op;
  const m: CborMap = { l, d };
  switch (body.t) {
    case 'unpin':
      return { ...m, t: body.t, chat: body.chat, tags: body.tags.map(stampMap) };
    case 'contact': {
      const c = body.contact;
      const cm: CborMap = {
        alias: c.alias,
        name: c.name,
        state: c.state,
        identity: c.identity,
        their: c.their,
      };
      if (c.device) cm.device = c.device;
      for (const k of Object.keys(CONTACT_BYTES) as Array<keyof typeof CONTACT_BYTES>) {
        const v = c[k];
        if (v) cm[k] = v;
      }
      return { ...m, t: body.t, contact: cm };
    }
    case 'myset': {
      const mm: CborMap = { ...m, t: body.t, conv: body.conv, set: body.set };
      if (body.id) mm.id = body.id;
      if (body.next) mm.next = body.next;
      return mm;
    }
    case 'group': {
      const gm: CborMap = { ...m, t: body.t, g: body.g };
      if (body.ev) gm.ev = body.ev;
      if (body.key) gm.key = body.key;
      if (body.nx) gm.nx = body.nx;
      if (body.sec) gm.sec = body.sec;
      return gm;
    }
    default:
      return { ...m, ...(body as unknown as CborMap) };
  }
}

function readOp(v: CborValue): SyncOp {
  const m = asMap(v, 'sync op');
  const t = asText(m.t, 'sync op type', 16) as SyncOpType;
  const fields = Object.prototype.hasOwnProperty.call(FIELDS, t) ? FIELDS[t] : undefined;
  if (!fields) throw new DecodeError('unknown sync op');
  onlyFields(m, ['t', 'l', 'd', ...fields], 'sync op');
  const stamp = readStamp(m, 'sync op');
  switch (t) {
    case 'sent':
      return { ...stamp, t, env: asBytes(m.env, 'sent envelope', { max: MAX_ENVELOPE_BYTES }) };
    case 'read':
      return { ...stamp, t, conv: conv(m.conv), upto: asUint(m.upto, 'read clock') };
    case 'del':
      return {
        ...stamp,
        t,
        conv: conv(m.conv),
        id: asBytes(m.id, 'message id', { len: ENVELOPE_ID_BYTES }),
        at: asUint(m.at, 'message clock'),
      };
    case 'clear':
      return { ...stamp, t, conv: conv(m.conv), upto: asUint(m.upto, 'clear clock') };
    case 'mute':
      return { ...stamp, t, chat: conv(m.chat), until: asUint(m.until, 'mute until') };
    case 'pin':
      return { ...stamp, t, chat: conv(m.chat) };
    case 'unpin':
      return {
        ...stamp,
        t,
        chat: conv(m.chat),
        tags: asArray(m.tags, 'unpin tags', MAX_UNPIN_TAGS).map((x) => {
          const tm = asMap(x, 'pin tag');
          onlyFields(tm, ['l', 'd'], 'pin tag');
          return readStamp(tm, 'pin tag');
        }),
      };
    case 'state':
      return { ...stamp, t, conv: conv(m.conv), state: contactState(m.state) };
    case 'alias':
      return { ...stamp, t, conv: conv(m.conv), alias: alias(m.alias) };
    case 'contact': {
      const cm = asMap(m.contact, 'sync contact');
      onlyFields(cm, CONTACT_FIELDS, 'sync contact');
      const c: SyncContact = {
        alias: alias(cm.alias),
        name: asText(cm.name, 'contact name', MAX_SYNC_NAME_CHARS),
        state: contactState(cm.state),
        identity: asBytes(cm.identity, 'contact identity secret', { len: 64 }),
        their: asBytes(cm.their, 'their identity', { len: SIGN_PUBLIC_BYTES }),
      };
      if (cm.device !== undefined) c.device = asBytes(cm.device, 'their device', { len: SIGN_PUBLIC_BYTES });
      for (const k of Object.keys(CONTACT_BYTES) as Array<keyof typeof CONTACT_BYTES>)
        if (cm[k] !== undefined) c[k] = asBytes(cm[k], `sync contact ${k}`, CONTACT_BYTES[k]);
      return { ...stamp, t, contact: c };
    }
    case 'log':
      return { ...stamp, t, log: asBytes(m.log, 'device log', { max: MAX_SYNC_LOG_BYTES }) };
    case 'inbox':
      return { ...stamp, t, card: asBytes(m.card, 'inbox card', { max: MAX_DEVICE_INBOX_CARD_BYTES }) };
    case 'myset': {
      const op: SyncOp = {
        ...stamp,
        t,
        conv: conv(m.conv),
        set: asBytes(m.set, 'my device set', { max: MAX_SYNC_DEVICE_SET_BYTES }),
      };
      if (m.id !== undefined) op.id = asBytes(m.id, 'contact identity secret', { len: 64 });
      if (m.next !== undefined) op.next = asBytes(m.next, 'sealed next identity', CONTACT_BYTES.next);
      return op;
    }
    case 'group': {
      const op: SyncOp = { ...stamp, t, g: asBytes(m.g, 'group id', { len: GROUP_ID_BYTES }) };
      if (m.ev !== undefined) {
        op.ev = asArray(m.ev, 'group events', MAX_SYNC_GROUP_EVENTS).map((e) =>
          asBytes(e, 'group event', { max: MAX_GROUP_EVENT_BYTES }),
        );
        if (op.ev.length === 0) throw new DecodeError('an empty list of group events');
      }
      if (m.key !== undefined) op.key = asBytes(m.key, 'member key', { len: 64 });
      if (m.nx !== undefined)
        op.nx = asBytes(m.nx, 'sealed next member key', { len: SYNC_SEALED_MEMBER_SEED_BYTES });
      if (m.sec !== undefined)
        op.sec = asBytes(m.sec, 'group section', { max: MAX_SYNC_GROUP_SECTION_BYTES });
      if (!op.ev && !op.key && !op.sec)
        throw new DecodeError('a group operation with neither events, key nor section');
      if (op.nx && !op.key) throw new DecodeError('a next member key without a member key');
      return op;
    }
  }
}

/** The body of a `sync` envelope; UsageError for an empty or oversized list. */
export function encodeSyncBody(ops: readonly SyncOp[]): CborMap {
  if (ops.length === 0 || ops.length > MAX_SYNC_OPS)
    throw new UsageError(`a sync message carries 1 to ${MAX_SYNC_OPS} operations`);
  return { ops: ops.map(opMap) };
}

export function decodeSyncBody(body: CborValue): SyncOp[] {
  const m = asMap(body, 'sync body');
  onlyFields(m, ['ops'], 'sync body');
  const ops = asArray(m.ops, 'sync ops', MAX_SYNC_OPS).map(readOp);
  if (ops.length === 0) throw new DecodeError('sync body without operations');
  return ops;
}
