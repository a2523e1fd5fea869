/**
 * Signed group state events (DESIGN.md "Groups", issue 4). A group's state — members, roles,
 * bans, invitations, name, topic, avatar, settings, pinned announcement, nicks and statuses —
 * is a DAG of these events; group-state.ts resolves it. Chat messages, actions (`/me`) and
 * pings are not state: they travel as envelopes (envelope.ts) and are not modelled here.
 *
 *   CBOR map {
 *     v: 1,
 *     group: bytes 16          the group id (for a create: derived from its id, see below)
 *     id: bytes 32             BLAKE2b-256("parus-group-event-v1" || CBOR(map without id and sig,
 *                              and for a create without group))
 *     author: bytes 32         the member's Ed25519 key
 *     parents: [bytes 32]      the state DAG heads the author had: strictly ascending,
 *                              none for create, 1..32 otherwise
 *     lamport: uint            0 for create; above every parent's otherwise (group-state.ts checks)
 *     ts: uint                 the author's clock, ms since the epoch (informative only)
 *     type: text               one of GROUP_EVENT_TYPES
 *     content: map             per type, below, with exactly the listed keys
 *     sig: bytes 64            Ed25519 by author over "parus-group-event-sig-v1" || id
 *   }
 *
 * The layout follows the envelope's: a content hash names the event in the DAG and the
 * signature covers only that hash. Types follow Tox's group packets (seed 004: new peer,
 * ban peer, topic, name, status) and Matrix's room state (invite, join, leave, kick, ban,
 * power levels); `role` and `settings` are Matrix's power-level event split in two.
 *
 * Group id: random, so it means nothing to a relay (seed 000), and bound to the whole create
 * event, as Matrix room version 12 makes the room id the hash of the create event:
 *
 *   group = BLAKE2b-128("parus-group-id-v2" || id of the create)
 *
 * where a create's id covers every field but `group` (which it names) and `sig`: its author, its
 * clock and time, and its content with the random `nonce`, the name and the settings. A second
 * create, even by the creator, names another group unless it is the same event (that would take
 * a BLAKE2b collision), so a create can never be swapped under a group's history (issue 11).
 * Groups made before (docs/decisions/0022) were bound to BLAKE2b-128("parus-group-id-v1" ||
 * creator key || nonce) only; such a create still decodes, and group-state.ts refuses a group
 * with two creates, so their history cannot be swapped either.
 */
import { compareBytes, concatBytes, equalBytes, utf8 } from './bytes.ts';
import {
  DEFAULT_CBOR_LIMITS,
  asArray,
  asBool,
  asBytes,
  asMap,
  asText,
  asUint,
  decodeCbor,
  encodeCbor,
  type CborMap,
  type CborValue,
} from './cbor.ts';
import {
  SIGNATURE_BYTES,
  SIGN_PUBLIC_BYTES,
  SIGN_SECRET_BYTES,
  assertSignature,
  hash,
  sign,
  type Random,
  type SignKeyPair,
} from './crypto.ts';
import { nameFault } from './display-text.ts';
import { avatarInfo, type AvatarBounds } from './profile-body.ts';
import { DecodeError, ParusError, ProtocolError, UsageError, VerificationError } from './errors.ts';

export const GROUP_EVENT_VERSION = 1;
export const GROUP_ID_BYTES = 16;
export const GROUP_NONCE_BYTES = 16;
export const GROUP_EVENT_ID_BYTES = 32;
export const MAX_GROUP_EVENT_PARENTS = 32;
/** Largest encoded event: the longest content (a pinned text) with 32 parents fits well under it. */
export const MAX_GROUP_EVENT_BYTES = 8 * 1024;

/** Limits in Unicode code points (what a person counts), not UTF-16 units or bytes. */
export const MAX_GROUP_NAME_CHARS = 64;
export const MAX_GROUP_TOPIC_CHARS = 512;
export const MAX_GROUP_NICK_CHARS = 32;
export const MAX_GROUP_REASON_CHARS = 256;
export const MAX_GROUP_PIN_CHARS = 1024;
/**
 * A group's avatar is the picture itself, a JPEG or PNG inside its signed `avatar` event, small
 * enough that the event stays under MAX_GROUP_EVENT_BYTES with 32 parents (decision 0066):
 * at most 6 KiB and 128×128 pixels, checked as a profile's avatar is (profile-body.ts).
 */
export const MAX_GROUP_AVATAR_BYTES = 6 * 1024;
export const MAX_GROUP_AVATAR_SIDE = 128;
export const GROUP_AVATAR_BOUNDS: AvatarBounds = Object.freeze({
  maxBytes: MAX_GROUP_AVATAR_BYTES,
  maxSide: MAX_GROUP_AVATAR_SIDE,
});

export const GROUP_EVENT_TYPES = [
  'create',
  'invite',
  'join',
  'leave',
  'kick',
  'ban',
  'unban',
  'role',
  'topic',
  'name',
  'avatar',
  'settings',
  'status',
  'nick',
  'pin',
  'rekey',
] as const;
export type GroupEventType = (typeof GROUP_EVENT_TYPES)[number];

export const GROUP_ROLES = ['creator', 'admin', 'moderator', 'member'] as const;
export type GroupRole = (typeof GROUP_ROLES)[number];
/** The roles a `role` event may give: `creator` belongs to the create's author alone. */
export const ASSIGNABLE_GROUP_ROLES = ['admin', 'moderator', 'member'] as const;
export type AssignableGroupRole = (typeof ASSIGNABLE_GROUP_ROLES)[number];

/** Power per role (Matrix power levels: 100 for the creator, the rest spaced below). */
export const GROUP_ROLE_POWER: Readonly<Record<GroupRole, number>> = Object.freeze({
  creator: 100,
  admin: 75,
  moderator: 50,
  member: 0,
});
export const MAX_GROUP_POWER = 100;

/**
 * The actions whose required power a group sets. `message` is enforced by clients on chat
 * envelopes (an announcement-only group sets it to 50); the rest by group-state.ts.
 */
export const GROUP_ACTIONS = [
  'invite',
  'kick',
  'ban',
  'unban',
  'role',
  'topic',
  'name',
  'avatar',
  'settings',
  'pin',
  'message',
] as const;
export type GroupAction = (typeof GROUP_ACTIONS)[number];

/**
 * Default required power per action. Anyone may invite and write, as in most messengers'
 * private groups; moderators keep order (kick, ban, unban, topic, pin); admins shape the
 * group (roles, name, avatar, settings). docs/decisions/0009 explains the choice.
 */
export const DEFAULT_GROUP_POWER: Readonly<Record<GroupAction, number>> = Object.freeze({
  invite: 0,
  kick: 50,
  ban: 50,
  unban: 50,
  role: 75,
  topic: 50,
  name: 75,
  avatar: 75,
  settings: 75,
  pin: 50,
  message: 0,
});

export const GROUP_STATUSES = ['online', 'away', 'busy'] as const;
export type GroupStatus = (typeof GROUP_STATUSES)[number];

export interface GroupSettings {
  /** A public room is joined without an invitation (seed 004); a private group by invitation only. */
  readonly public: boolean;
  /** Whether members share earlier messages with newcomers (the client acts on it). */
  readonly shareHistory: boolean;
  /** Required power per action, 0..100. */
  readonly power: Readonly<Record<GroupAction, number>>;
}

export function defaultGroupSettings(opts: { public?: boolean; shareHistory?: boolean } = {}): GroupSettings {
  return {
    public: opts.public ?? false,
    shareHistory: opts.shareHistory ?? false,
    power: { ...DEFAULT_GROUP_POWER },
  };
}

export interface GroupPin {
  readonly text: string;
  /** The id of the pinned message's envelope, when the announcement quotes one. */
  readonly message?: Uint8Array;
}

/** The content of each event type. `member` is always a 32-byte Ed25519 member key. */
export interface GroupEventContents {
  create: {
    readonly nonce: Uint8Array;
    readonly name: string;
    readonly settings: GroupSettings;
    /** The creator's pre-rotation commitment (memberKeyCommitment of its next member key). */
    readonly next?: Uint8Array;
  };
  invite: { readonly member: Uint8Array };
  /** `next`: the joiner's pre-rotation commitment (docs/decisions/0040). */
  join: { readonly next?: Uint8Array };
  leave: Readonly<Record<string, never>>;
  kick: { readonly member: Uint8Array; readonly reason?: string };
  ban: { readonly member: Uint8Array; readonly reason?: string };
  unban: { readonly member: Uint8Array };
  role: { readonly member: Uint8Array; readonly role: AssignableGroupRole };
  topic: { readonly topic: string };
  name: { readonly name: string };
  avatar: { readonly avatar: Uint8Array | null };
  settings: { readonly settings: GroupSettings };
  status: { readonly status: GroupStatus };
  nick: { readonly nick: string };
  pin: { readonly pin: GroupPin | null };
  /**
   * The author's member key is replaced by `key` (docs/decisions/0040, pre-rotation): `key` must
   * be the one the author committed to, `proof` is `key`'s signature (memberKeyChange), and
   * `next` commits to the key after it.
   */
  rekey: { readonly key: Uint8Array; readonly next: Uint8Array; readonly proof: Uint8Array };
}

interface GroupEventFields {
  readonly v: 1;
  readonly group: Uint8Array;
  readonly id: Uint8Array;
  readonly author: Uint8Array;
  readonly parents: readonly Uint8Array[];
  readonly lamport: number;
  readonly ts: number;
  readonly sig: Uint8Array;
}

export type GroupEventOf<T extends GroupEventType> = GroupEventFields & {
  readonly type: T;
  readonly content: GroupEventContents[T];
};
export type GroupEvent = { [T in GroupEventType]: GroupEventOf<T> }[GroupEventType];

const ID_CONTEXT = utf8('parus-group-event-v1');
const NEXT_CONTEXT = utf8('parus-group-member-next-v1');
const REKEY_CONTEXT = utf8('parus-group-rekey-v1');
export const MEMBER_KEY_COMMITMENT_BYTES = 32;

/** The pre-rotation commitment to a next member key: BLAKE2b-256(context ‖ public key). */
export function memberKeyCommitment(publicKey: Uint8Array): Uint8Array {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== SIGN_PUBLIC_BYTES)
    throw new UsageError('a member key is 32 bytes');
  return hash(concatBytes(NEXT_CONTEXT, publicKey), MEMBER_KEY_COMMITMENT_BYTES);
}

function rekeyMessage(group: Uint8Array, author: Uint8Array, key: Uint8Array, next: Uint8Array): Uint8Array {
  return concatBytes(REKEY_CONTEXT, group, author, key, next);
}

/**
 * The content of a `rekey` event by `author` (the member key in force) in `group`: the committed
 * next key `next` signs the change, and `following` is the commitment to the key after it.
 */
export function memberKeyChange(opts: {
  group: Uint8Array;
  author: Uint8Array;
  next: SignKeyPair;
  following: Uint8Array;
}): GroupEventContents['rekey'] {
  const key = opts.next.publicKey.slice();
  return {
    key,
    next: opts.following.slice(),
    proof: sign(opts.next.secretKey, rekeyMessage(opts.group, opts.author, key, opts.following)),
  };
}

/** A rekey's proof: the new key's signature over the group, the old key and both commitments. */
function checkRekeyProof(group: Uint8Array, author: Uint8Array, c: GroupEventContents['rekey']): void {
  assertSignature(c.key, rekeyMessage(group, author, c.key, c.next), c.proof, 'member key change');
}
const SIG_CONTEXT = utf8('parus-group-event-sig-v1');
const GROUP_ID_CONTEXT = utf8('parus-group-id-v2');
const LEGACY_GROUP_ID_CONTEXT = utf8('parus-group-id-v1');
// event map > content map > settings map > power map
const LIMITS = { ...DEFAULT_CBOR_LIMITS, maxBytes: MAX_GROUP_EVENT_BYTES, maxDepth: 4, maxItems: 64 };

export function isGroupEventType(value: unknown): value is GroupEventType {
  return typeof value === 'string' && (GROUP_EVENT_TYPES as readonly string[]).includes(value);
}

/** The group id of a create event, from its id (see the header). */
export function groupIdOfCreate(createId: Uint8Array): Uint8Array {
  if (!(createId instanceof Uint8Array) || createId.length !== GROUP_EVENT_ID_BYTES)
    throw new UsageError(`a create id must be ${GROUP_EVENT_ID_BYTES} bytes`);
  return hash(concatBytes(GROUP_ID_CONTEXT, createId), GROUP_ID_BYTES);
}

/** The group id of a create made before docs/decisions/0022: its creator key and nonce only. */
function legacyGroupIdFor(creator: Uint8Array, nonce: Uint8Array): Uint8Array {
  return hash(concatBytes(LEGACY_GROUP_ID_CONTEXT, creator, nonce), GROUP_ID_BYTES);
}

// ---- Content ----------------------------------------------------------------------------
// One reader per type serves the decoder (DecodeError) and createGroupEvent (which turns the
// DecodeError into a UsageError), so what we create is exactly what a peer accepts.

/** C0 and C1 controls, DEL; with `multiline`, tab and line feed are allowed. */
function hasControl(text: string, multiline: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (multiline && (c === 0x09 || c === 0x0a)) continue;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

/** Unpaired surrogates cannot be encoded as UTF-8 (they would come back as U+FFFD). */
function hasLoneSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return true;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

function codePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) i++;
    n++;
  }
  return n;
}

function readText(
  value: CborValue | undefined,
  what: string,
  rule: { min: number; max: number; multiline?: boolean; name?: boolean },
): string {
  const text = asText(value, what, rule.max * 2); // a code point is at most two UTF-16 units
  const n = codePoints(text);
  if (n < rule.min || n > rule.max)
    throw new DecodeError(`${what} must be ${rule.min}..${rule.max} characters`);
  if (hasLoneSurrogate(text)) throw new DecodeError(`${what} is not valid Unicode`);
  if (hasControl(text, rule.multiline === true)) throw new DecodeError(`${what} contains control characters`);
  if (rule.min > 0 && text.trim().length === 0) throw new DecodeError(`${what} is blank`);
  // Names follow the one name rule (display-text.ts): no bidirectional or stray invisible character.
  const fault = rule.name === true ? nameFault(text, rule.max) : undefined;
  if (fault !== undefined) throw new DecodeError(`${what} ${fault}`);
  return text;
}

function readKey(value: CborValue | undefined, what: string): Uint8Array {
  return asBytes(value, what, { len: SIGN_PUBLIC_BYTES }).slice();
}

function readOneOf<T extends string>(value: CborValue | undefined, what: string, allowed: readonly T[]): T {
  const text = asText(value, what, 16);
  if (!(allowed as readonly string[]).includes(text))
    throw new DecodeError(`${what} is not one of ${allowed.join(', ')}`);
  return text as T;
}

/** A group's picture, checked as a profile's avatar is (a JPEG or PNG within GROUP_AVATAR_BOUNDS). */
function groupAvatar(bytes: Uint8Array): Uint8Array {
  try {
    avatarInfo(bytes, GROUP_AVATAR_BOUNDS);
  } catch (cause) {
    throw new DecodeError('group avatar is not a JPEG or PNG of at most 128×128 pixels', { cause });
  }
  return bytes.slice();
}

/** Checks that `m` has exactly `keys` (sorted) or exactly `keys` plus the `optional` ones. */
function exactKeys(
  m: CborMap,
  required: readonly string[],
  what: string,
  optionalKeys: readonly string[] = [],
): void {
  const present = Object.keys(m);
  for (const k of required) if (m[k] === undefined) throw new DecodeError(`${what} lacks ${k}`);
  for (const k of present) {
    if (!required.includes(k) && !optionalKeys.includes(k))
      throw new DecodeError(`${what} has an unknown field`);
  }
}

function readSettings(value: CborValue | undefined, what: string): GroupSettings {
  const m = asMap(value, what);
  exactKeys(m, ['power', 'public', 'shareHistory'], what);
  const p = asMap(m.power, `${what} power`);
  exactKeys(p, GROUP_ACTIONS, `${what} power`);
  const power = {} as Record<GroupAction, number>;
  for (const action of GROUP_ACTIONS)
    power[action] = asUint(p[action], `${what} power.${action}`, MAX_GROUP_POWER);
  return {
    public: asBool(m.public, `${what} public`),
    shareHistory: asBool(m.shareHistory, `${what} shareHistory`),
    power,
  };
}

function readReason(m: CborMap, what: string): { reason?: string } {
  return m.reason === undefined
    ? {}
    : {
        reason: readText(m.reason, `${what} reason`, {
          min: 0,
          max: MAX_GROUP_REASON_CHARS,
          multiline: true,
        }),
      };
}

const EMPTY: Readonly<Record<string, never>> = Object.freeze({});

type ContentReaders = { [T in GroupEventType]: (m: CborMap) => GroupEventContents[T] };

const readers: ContentReaders = {
  create(m) {
    exactKeys(m, ['name', 'nonce', 'settings'], 'create content', ['next']);
    return {
      nonce: asBytes(m.nonce, 'create nonce', { len: GROUP_NONCE_BYTES }).slice(),
      name: readText(m.name, 'group name', { min: 1, max: MAX_GROUP_NAME_CHARS, name: true }),
      settings: readSettings(m.settings, 'group settings'),
      ...readNext(m, 'create'),
    };
  },
  invite(m) {
    exactKeys(m, ['member'], 'invite content');
    return { member: readKey(m.member, 'invited member') };
  },
  join(m) {
    exactKeys(m, [], 'join content', ['next']);
    return m.next === undefined ? EMPTY : readNext(m, 'join');
  },
  leave(m) {
    exactKeys(m, [], 'leave content');
    return EMPTY;
  },
  kick(m) {
    exactKeys(m, ['member'], 'kick content', ['reason']);
    return { member: readKey(m.member, 'kicked member'), ...readReason(m, 'kick') };
  },
  ban(m) {
    exactKeys(m, ['member'], 'ban content', ['reason']);
    return { member: readKey(m.member, 'banned member'), ...readReason(m, 'ban') };
  },
  unban(m) {
    exactKeys(m, ['member'], 'unban content');
    return { member: readKey(m.member, 'unbanned member') };
  },
  role(m) {
    exactKeys(m, ['member', 'role'], 'role content');
    return {
      member: readKey(m.member, 'role member'),
      role: readOneOf(m.role, 'role', ASSIGNABLE_GROUP_ROLES),
    };
  },
  topic(m) {
    exactKeys(m, ['topic'], 'topic content');
    return { topic: readText(m.topic, 'topic', { min: 0, max: MAX_GROUP_TOPIC_CHARS, multiline: true }) };
  },
  name(m) {
    exactKeys(m, ['name'], 'name content');
    return { name: readText(m.name, 'group name', { min: 1, max: MAX_GROUP_NAME_CHARS, name: true }) };
  },
  avatar(m) {
    exactKeys(m, ['avatar'], 'avatar content');
    return {
      avatar:
        m.avatar === null ? null : groupAvatar(asBytes(m.avatar, 'avatar', { max: MAX_GROUP_AVATAR_BYTES })),
    };
  },
  settings(m) {
    exactKeys(m, ['settings'], 'settings content');
    return { settings: readSettings(m.settings, 'group settings') };
  },
  status(m) {
    exactKeys(m, ['status'], 'status content');
    return { status: readOneOf(m.status, 'status', GROUP_STATUSES) };
  },
  nick(m) {
    exactKeys(m, ['nick'], 'nick content');
    return { nick: readText(m.nick, 'nick', { min: 1, max: MAX_GROUP_NICK_CHARS, name: true }) };
  },
  pin(m) {
    exactKeys(m, ['pin'], 'pin content');
    if (m.pin === null) return { pin: null };
    const p = asMap(m.pin, 'pin');
    exactKeys(p, ['text'], 'pin', ['message']);
    const text = readText(p.text, 'pin text', { min: 1, max: MAX_GROUP_PIN_CHARS, multiline: true });
    return {
      pin:
        p.message === undefined
          ? { text }
          : { text, message: asBytes(p.message, 'pinned message id', { len: GROUP_EVENT_ID_BYTES }).slice() },
    };
  },
  rekey(m) {
    exactKeys(m, ['key', 'next', 'proof'], 'rekey content');
    return {
      key: readKey(m.key, 'new member key'),
      next: asBytes(m.next, 'rekey next', { len: MEMBER_KEY_COMMITMENT_BYTES }).slice(),
      proof: asBytes(m.proof, 'rekey proof', { len: SIGNATURE_BYTES }).slice(),
    };
  },
};

function readNext(m: CborMap, what: string): { next?: Uint8Array } {
  return m.next === undefined
    ? {}
    : { next: asBytes(m.next, `${what} next`, { len: MEMBER_KEY_COMMITMENT_BYTES }).slice() };
}

function readContent<T extends GroupEventType>(type: T, value: CborValue | undefined): GroupEventContents[T] {
  return (readers[type] as (m: CborMap) => GroupEventContents[T])(asMap(value, `${type} content`));
}

/**
 * A content object as a CBOR map. Contents are checked by readContent first, so they hold only
 * text, bytes, integers, booleans, null and plain objects of those: the cast is safe.
 */
function contentToCbor(content: GroupEvent['content']): CborMap {
  return content as unknown as CborMap;
}

// ---- Events -------------------------------------------------------------------------------

/**
 * The event objects this module decoded or created, hence checked. Resolution re-reads every
 * stored event each time a new one arrives; checking a signature again each time would cost
 * more than the resolution itself. checkGroupEvent trusts these objects and checks any other.
 * They are frozen so they stay as checked (byte arrays cannot be frozen: they are the caller's
 * to leave alone). This is memoisation, not state: the outcome is the same with or without it.
 */
const checked = new WeakSet<object>();

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array || Object.isFrozen(value))
    return;
  Object.freeze(value);
  for (const inner of Object.values(value)) deepFreeze(inner);
}

function remember<E extends GroupEvent>(event: E): E {
  deepFreeze(event);
  checked.add(event);
  return event;
}

/**
 * An event as decodeGroupEvent would accept it: `event` itself when this module made or decoded
 * it, else a checked copy (re-encoded and decoded: id, signature and content). Throws as
 * decodeGroupEvent does (VerificationError for a forgery), and UsageError for an object that is
 * not an event at all (a field of the wrong type, `parents: null`).
 */
export function checkGroupEvent(event: GroupEvent): GroupEvent {
  if (typeof event === 'object' && event !== null && checked.has(event)) return event;
  return decodeGroupEvent(encodeGroupEvent(event));
}

/** What the id covers; `type` is still unchecked text while decoding. */
interface UnsignedFields {
  v: number;
  group: Uint8Array;
  author: Uint8Array;
  parents: readonly Uint8Array[];
  lamport: number;
  ts: number;
  type: string;
  content: CborMap;
}

/** The id; a create's id leaves out the group, which is derived from it (see the header). */
function eventId(e: UnsignedFields, opts: { legacyCreate?: boolean } = {}): Uint8Array {
  const unsigned: CborMap = {
    v: e.v,
    group: e.group,
    author: e.author,
    parents: [...e.parents],
    lamport: e.lamport,
    ts: e.ts,
    type: e.type,
    content: e.content,
  };
  if (e.type === 'create' && opts.legacyCreate !== true) delete unsigned.group;
  return hash(concatBytes(ID_CONTEXT, encodeCbor(unsigned)), GROUP_EVENT_ID_BYTES);
}

/** UsageError for an object that is not an event (a peer's bytes go through decodeGroupEvent). */
export function encodeGroupEvent(e: GroupEvent): Uint8Array {
  if (typeof e !== 'object' || e === null) throw new UsageError('a group event must be an object');
  try {
    if (!Array.isArray(e.parents)) throw new UsageError('group event parents must be an array');
    if (typeof e.content !== 'object' || e.content === null)
      throw new UsageError('group event content must be a map');
    return encodeCbor({
      v: e.v,
      group: e.group,
      id: e.id,
      author: e.author,
      parents: [...e.parents],
      lamport: e.lamport,
      ts: e.ts,
      type: e.type,
      content: contentToCbor(e.content),
      sig: e.sig,
    });
  } catch (cause) {
    if (cause instanceof ParusError) throw cause;
    // A getter that throws, a cycle, a value CBOR cannot hold: not an event.
    throw new UsageError('not a group event', { cause });
  }
}

/** Rules on parents and clock that depend on the type; `fail` is the error class to raise. */
function checkShape(
  type: GroupEventType,
  parents: readonly Uint8Array[],
  lamport: number,
  fail: new (message: string) => ParusError,
): void {
  if (type === 'create') {
    if (parents.length !== 0) throw new fail('a create event has no parents');
    if (lamport !== 0) throw new fail('a create event has Lamport clock 0');
  } else if (parents.length === 0) {
    throw new fail(`a ${type} event needs parents`);
  }
}

export interface CreateGroupEventOptions<T extends GroupEventType> {
  author: SignKeyPair;
  group: Uint8Array;
  parents: readonly Uint8Array[];
  lamport: number;
  ts: number;
  type: T;
  content: GroupEventContents[T];
}

/** Everything but the group (derived for a create), checked as createGroupEvent documents. */
function signEvent<T extends GroupEventType>(
  opts: Omit<CreateGroupEventOptions<T>, 'group'> & { group?: Uint8Array },
): GroupEventOf<T> {
  const { author } = opts;
  if (author?.publicKey?.length !== SIGN_PUBLIC_BYTES || author.secretKey?.length !== SIGN_SECRET_BYTES) {
    throw new UsageError('author must be an Ed25519 key pair');
  }
  if (!Array.isArray(opts.parents) || opts.parents.length > MAX_GROUP_EVENT_PARENTS)
    throw new UsageError(`at most ${MAX_GROUP_EVENT_PARENTS} parents`);
  for (const p of opts.parents) {
    if (!(p instanceof Uint8Array) || p.length !== GROUP_EVENT_ID_BYTES)
      throw new UsageError(`parents must be ${GROUP_EVENT_ID_BYTES}-byte ids`);
  }
  const parents = opts.parents.map((p) => p.slice()).sort(compareBytes);
  for (let i = 1; i < parents.length; i++) {
    if (equalBytes(parents[i - 1]!, parents[i]!)) throw new UsageError('parents repeat an id');
  }
  if (!Number.isSafeInteger(opts.lamport) || opts.lamport < 0)
    throw new UsageError('lamport must be an unsigned integer');
  if (!Number.isSafeInteger(opts.ts) || opts.ts < 0) throw new UsageError('ts must be ms since the epoch');
  if (!isGroupEventType(opts.type)) throw new UsageError('unknown group event type');

  let content: GroupEventContents[T];
  try {
    content = readContent(opts.type, opts.content as unknown as CborValue);
  } catch (cause) {
    if (cause instanceof DecodeError)
      throw new UsageError(`invalid ${opts.type} content: ${cause.message}`, { cause });
    throw cause;
  }
  checkShape(opts.type, parents, opts.lamport, UsageError);
  if (opts.type === 'rekey') {
    try {
      checkRekeyProof(
        opts.group ?? new Uint8Array(GROUP_ID_BYTES),
        author.publicKey,
        content as GroupEventContents['rekey'],
      );
    } catch (cause) {
      throw new UsageError('a rekey needs the proof of the new key (memberKeyChange)', { cause });
    }
  }

  const authorKey = author.publicKey.slice();
  const unsigned = {
    v: GROUP_EVENT_VERSION,
    group: opts.group?.slice() ?? new Uint8Array(GROUP_ID_BYTES),
    author: authorKey,
    parents,
    lamport: opts.lamport,
    ts: opts.ts,
    type: opts.type,
    content: contentToCbor(content),
  };
  const id = eventId(unsigned);
  const event = {
    v: GROUP_EVENT_VERSION,
    group: opts.type === 'create' ? groupIdOfCreate(id) : unsigned.group,
    id,
    author: authorKey,
    parents,
    lamport: opts.lamport,
    ts: opts.ts,
    type: opts.type,
    content,
    sig: sign(author.secretKey, concatBytes(SIG_CONTEXT, id)),
  } as GroupEventOf<T>;
  if (encodeGroupEvent(event as GroupEvent).length > MAX_GROUP_EVENT_BYTES)
    throw new UsageError(`group event larger than ${MAX_GROUP_EVENT_BYTES} bytes`);
  return remember(event as GroupEvent) as GroupEventOf<T>;
}

/**
 * Signs a state event of an existing group. Parents are sorted (they are a set). UsageError for
 * bad arguments, a content decodeGroupEvent would refuse, or a `create` (createGroup makes it:
 * its group id is derived from it).
 */
export function createGroupEvent<T extends GroupEventType>(
  opts: CreateGroupEventOptions<T>,
): GroupEventOf<T> {
  if (opts?.type === 'create') throw new UsageError('a create event is made by createGroup');
  if (!(opts.group instanceof Uint8Array) || opts.group.length !== GROUP_ID_BYTES)
    throw new UsageError(`group id must be ${GROUP_ID_BYTES} bytes`);
  return signEvent(opts);
}

/** A new group: draws the nonce and signs its create event; the group id is derived from it. */
export function createGroup(opts: {
  author: SignKeyPair;
  name: string;
  settings?: GroupSettings;
  ts: number;
  rng: Random;
  /** The creator's pre-rotation commitment (memberKeyCommitment), docs/decisions/0040. */
  next?: Uint8Array;
}): GroupEventOf<'create'> {
  if (typeof opts?.rng?.bytes !== 'function') throw new UsageError('createGroup needs a random source');
  return signEvent({
    author: opts.author,
    parents: [],
    lamport: 0,
    ts: opts.ts,
    type: 'create',
    content: {
      nonce: opts.rng.bytes(GROUP_NONCE_BYTES),
      name: opts.name,
      settings: opts.settings ?? defaultGroupSettings(),
      ...(opts.next ? { next: opts.next } : {}),
    },
  });
}

/**
 * Strict decoding (DecodeError), version 1 only (ProtocolError); then the id is recomputed and
 * the author's signature checked (VerificationError); then the type must be known (ProtocolError:
 * a well-signed type from a newer client) and its content valid (DecodeError); a create's group
 * id must be the one its id gives, or for a create made before docs/decisions/0022, the one its
 * author and nonce give (VerificationError). With `group`, an event of another group is a
 * ProtocolError. Whether the author may do what the event says is group-state.ts's job.
 */
export function decodeGroupEvent(bytes: Uint8Array, opts: { group?: Uint8Array } = {}): GroupEvent {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('group event must be bytes');
  if (bytes.length > MAX_GROUP_EVENT_BYTES)
    throw new DecodeError(`group event larger than ${MAX_GROUP_EVENT_BYTES} bytes`);
  const m = asMap(decodeCbor(bytes, LIMITS), 'group event');
  const v = asUint(m.v, 'group event version');
  if (v !== GROUP_EVENT_VERSION) throw new ProtocolError(`unknown group event version ${v}`);

  const parents = asArray(m.parents, 'group event parents', MAX_GROUP_EVENT_PARENTS).map((p, i) =>
    asBytes(p, `group event parents[${i}]`, { len: GROUP_EVENT_ID_BYTES }),
  );
  for (let i = 1; i < parents.length; i++) {
    if (compareBytes(parents[i - 1]!, parents[i]!) >= 0)
      throw new DecodeError('group event parents not strictly sorted');
  }
  const fields = {
    v,
    group: asBytes(m.group, 'group id', { len: GROUP_ID_BYTES }),
    id: asBytes(m.id, 'group event id', { len: GROUP_EVENT_ID_BYTES }),
    author: asBytes(m.author, 'group event author', { len: SIGN_PUBLIC_BYTES }),
    parents,
    lamport: asUint(m.lamport, 'group event lamport'),
    ts: asUint(m.ts, 'group event ts'),
    type: asText(m.type, 'group event type', 16),
    content: asMap(m.content, 'group event content'),
    sig: asBytes(m.sig, 'group event signature', { len: SIGNATURE_BYTES }),
  };
  // Every known field has been read; any other key is unknown (repeats were refused by CBOR).
  if (Object.keys(m).length !== 10) throw new DecodeError('group event has unknown fields');

  // The id is public (it names the event), so a plain comparison is fine. A create's id leaves
  // out its group, unless it is a create made before docs/decisions/0022.
  let legacyCreate = false;
  if (!equalBytes(eventId(fields), fields.id)) {
    legacyCreate = fields.type === 'create' && equalBytes(eventId(fields, { legacyCreate: true }), fields.id);
    if (!legacyCreate) throw new VerificationError('group event id does not match its contents');
  }
  assertSignature(fields.author, concatBytes(SIG_CONTEXT, fields.id), fields.sig, 'group event');
  const type = fields.type;
  if (!isGroupEventType(type)) throw new ProtocolError('unknown group event type');
  const content = readContent(type, fields.content);
  checkShape(type, parents, fields.lamport, DecodeError);
  if (type === 'create') {
    const { nonce } = content as GroupEventContents['create'];
    const bound = legacyCreate ? legacyGroupIdFor(fields.author, nonce) : groupIdOfCreate(fields.id);
    if (!equalBytes(bound, fields.group)) throw new VerificationError('group id is not bound to its create');
  }
  if (type === 'rekey') checkRekeyProof(fields.group, fields.author, content as GroupEventContents['rekey']);
  if (opts.group !== undefined && !equalBytes(opts.group, fields.group))
    throw new ProtocolError('group event belongs to another group');
  return remember({ ...fields, v: GROUP_EVENT_VERSION, type, content } as GroupEvent);
}
