/**
 * The bodies of the user-visible envelope kinds (envelope.ts), each checked strictly: every
 * field's type and size, and no field the kind does not define.
 *
 *   text     {text, replyTo?: id, action?: true}       action: a `/me` line (Tox "action")
 *   sticker  {pack, id, replyTo?: id}                  names of a sticker set and a sticker
 *   file     {relay, blob, dk, key, header, hash, size, name, mime, expires, thumb?, voice?}
 *            voice {ms, wave}: a voice message's length and waveform (decision 0046)
 *            (the envelope may add replyTo beside these; the client reads it apart)
 *   unsend   {target: id}                              the author takes a message back (收回)
 *   reaction {target: id, emoji}                       one of REACTIONS, or "" to take mine back;
 *                                                      a person's newest reaction to a message wins
 *   typing   {}                                        ephemeral, never stored
 *   queue    {queue?: {relay, sid}, sk, ask}            a second queue to reach me (decision 0037)
 */
import { ENVELOPE_ID_BYTES } from './envelope.ts';
import { asBytes, asMap, asText, asUint, type CborMap, type CborValue } from './cbor.ts';
import { DH_BYTES, SECRETSTREAM_HEADER_BYTES, SECRETSTREAM_KEY_BYTES } from './crypto.ts';
import { BLOB_HASH_BYTES, BLOB_ID_BYTES } from './blob-protocol.ts';
import { nameFault } from './display-text.ts';
import { DecodeError, UsageError } from './errors.ts';
import { MAX_FILE_BYTES } from './file-stream.ts';
import { formatRelayAddress, parseRelayAddress } from './relay-address.ts';
import { QUEUE_ID_BYTES } from './relay-ids.ts';
import { MAX_RELAY_ADDRESS_CHARS } from './rendezvous-card.ts';

export const MAX_TEXT_CHARS = 16 * 1024;
export const MAX_FILE_NAME_CHARS = 255;
export const MAX_MIME_CHARS = 127;
export const MAX_THUMBNAIL_BYTES = 16 * 1024;
/** A voice message: at most 15 minutes, a waveform of at most 64 levels (0-255). */
export const MAX_VOICE_MS = 15 * 60_000;
export const MAX_VOICE_WAVE = 64;

export interface VoiceInfo {
  ms: number;
  wave: Uint8Array;
}

/** Sticker set and sticker names: short lowercase ASCII, so they name files and never paths. */
const STICKER_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** A media type, type/subtype (RFC 6838 §4.2 characters), without parameters. */
const MIME = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$/;

export interface TextBody {
  text: string;
  replyTo?: Uint8Array;
  action?: true;
}
export interface StickerBody {
  pack: string;
  id: string;
  replyTo?: Uint8Array;
}
export interface FileBody {
  /** The relay that holds the blob. */
  relay: string;
  blob: Uint8Array;
  /** X25519 secret that authenticates downloads of the blob. */
  dk: Uint8Array;
  /** The secretstream key and header of the file. */
  key: Uint8Array;
  header: Uint8Array;
  /** BLAKE2b-256 of the ciphertext (the whole blob). */
  hash: Uint8Array;
  /** Plaintext size in bytes. */
  size: number;
  name: string;
  mime: string;
  /** When the relay deletes the blob, ms since the epoch. */
  expires: number;
  /** A small preview image made by the sender's UI. */
  thumb?: Uint8Array;
  /** A voice message (decision 0046): its length and waveform. */
  voice?: VoiceInfo;
}
export interface UnsendBody {
  target: Uint8Array;
}

function onlyFields(m: CborMap, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(m))
    if (!allowed.includes(k)) throw new DecodeError(`${what} has unknown fields`);
}

export function isStickerName(s: unknown): s is string {
  return typeof s === 'string' && STICKER_NAME.test(s);
}

export function isMimeType(s: unknown): s is string {
  return typeof s === 'string' && MIME.test(s);
}

export function isFileName(s: unknown): s is string {
  return (
    typeof s === 'string' &&
    s.length >= 1 &&
    s.length <= MAX_FILE_NAME_CHARS &&
    s.trim() === s &&
    // The one name rule (display-text.ts): no control, bidirectional or stray invisible character.
    nameFault(s, MAX_FILE_NAME_CHARS) === undefined
  );
}

function replyTo(v: CborValue | undefined): Uint8Array | undefined {
  return v === undefined ? undefined : asBytes(v, 'replyTo', { len: ENVELOPE_ID_BYTES });
}

export function encodeTextBody(b: TextBody): CborMap {
  if (typeof b.text !== 'string' || b.text.length === 0) throw new UsageError('message is empty');
  if (b.text.length > MAX_TEXT_CHARS)
    throw new UsageError(`message longer than ${MAX_TEXT_CHARS} characters`);
  const m: CborMap = { text: b.text };
  if (b.replyTo) m.replyTo = b.replyTo;
  if (b.action) m.action = true;
  return m;
}

export function decodeTextBody(body: CborValue): TextBody {
  const m = asMap(body, 'text body');
  onlyFields(m, ['text', 'replyTo', 'action'], 'text body');
  const b: TextBody = { text: asText(m.text, 'text', MAX_TEXT_CHARS) };
  // As encodeTextBody: an empty message is refused on both sides (found by fuzzing).
  if (b.text.length === 0) throw new DecodeError('message is empty');
  const r = replyTo(m.replyTo);
  if (r) b.replyTo = r;
  if (m.action !== undefined) {
    if (m.action !== true) throw new DecodeError('action must be true when present');
    b.action = true;
  }
  return b;
}

export function encodeStickerBody(b: StickerBody): CborMap {
  if (!isStickerName(b.pack) || !isStickerName(b.id))
    throw new UsageError('sticker set and sticker names are 1-32 characters of a-z, 0-9, _ and -');
  const m: CborMap = { pack: b.pack, id: b.id };
  if (b.replyTo) m.replyTo = b.replyTo;
  return m;
}

export function decodeStickerBody(body: CborValue): StickerBody {
  const m = asMap(body, 'sticker body');
  onlyFields(m, ['pack', 'id', 'replyTo'], 'sticker body');
  const pack = asText(m.pack, 'pack', 32);
  const id = asText(m.id, 'id', 32);
  if (!isStickerName(pack) || !isStickerName(id)) throw new DecodeError('sticker names are malformed');
  const b: StickerBody = { pack, id };
  const r = replyTo(m.replyTo);
  if (r) b.replyTo = r;
  return b;
}

function checkFile(b: FileBody, fail: (msg: string) => Error): void {
  if (!isFileName(b.name)) throw fail('file name must be 1-255 characters without control characters');
  if (!isMimeType(b.mime)) throw fail('MIME type must look like type/subtype');
  if (!Number.isSafeInteger(b.size) || b.size < 0 || b.size > MAX_FILE_BYTES)
    throw fail(`file size must be 0..${MAX_FILE_BYTES} bytes`);
  if (b.thumb !== undefined && b.thumb.length > MAX_THUMBNAIL_BYTES)
    throw fail(`thumbnail larger than ${MAX_THUMBNAIL_BYTES} bytes`);
  if (b.voice !== undefined) {
    const { ms, wave } = b.voice;
    if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_VOICE_MS) throw fail('voice length out of range');
    if (!(wave instanceof Uint8Array) || wave.length > MAX_VOICE_WAVE)
      throw fail(`voice waveform longer than ${MAX_VOICE_WAVE}`);
  }
}

export function encodeFileBody(b: FileBody): CborMap {
  checkFile(b, (msg) => new UsageError(msg));
  parseRelayAddress(b.relay);
  const m: CborMap = {
    relay: b.relay,
    blob: b.blob,
    dk: b.dk,
    key: b.key,
    header: b.header,
    hash: b.hash,
    size: b.size,
    name: b.name,
    mime: b.mime,
    expires: b.expires,
  };
  if (b.thumb) m.thumb = b.thumb;
  if (b.voice) m.voice = { ms: b.voice.ms, wave: b.voice.wave };
  return m;
}

export function decodeFileBody(body: CborValue): FileBody {
  const m = asMap(body, 'file body');
  onlyFields(
    m,
    ['relay', 'blob', 'dk', 'key', 'header', 'hash', 'size', 'name', 'mime', 'expires', 'thumb', 'voice'],
    'file body',
  );
  const relay = asText(m.relay, 'relay', 512);
  try {
    parseRelayAddress(relay);
  } catch (cause) {
    throw new DecodeError('file relay address is malformed', { cause });
  }
  const b: FileBody = {
    relay,
    blob: asBytes(m.blob, 'blob', { len: BLOB_ID_BYTES }),
    dk: asBytes(m.dk, 'dk', { len: DH_BYTES }),
    key: asBytes(m.key, 'key', { len: SECRETSTREAM_KEY_BYTES }),
    header: asBytes(m.header, 'header', { len: SECRETSTREAM_HEADER_BYTES }),
    hash: asBytes(m.hash, 'hash', { len: BLOB_HASH_BYTES }),
    size: asUint(m.size, 'size', MAX_FILE_BYTES),
    name: asText(m.name, 'name', MAX_FILE_NAME_CHARS),
    mime: asText(m.mime, 'mime', MAX_MIME_CHARS),
    expires: asUint(m.expires, 'expires'),
  };
  if (m.thumb !== undefined) b.thumb = asBytes(m.thumb, 'thumb', { max: MAX_THUMBNAIL_BYTES });
  if (m.voice !== undefined) {
    const v = asMap(m.voice, 'voice');
    onlyFields(v, ['ms', 'wave'], 'voice');
    b.voice = {
      ms: asUint(v.ms, 'voice ms', MAX_VOICE_MS),
      wave: asBytes(v.wave, 'voice wave', { max: MAX_VOICE_WAVE }),
    };
  }
  checkFile(b, (msg) => new DecodeError(msg));
  return b;
}

export function encodeUnsendBody(b: UnsendBody): CborMap {
  if (!(b.target instanceof Uint8Array) || b.target.length !== ENVELOPE_ID_BYTES)
    throw new UsageError('unsend needs a message id');
  return { target: b.target };
}

export function decodeUnsendBody(body: CborValue): UnsendBody {
  const m = asMap(body, 'unsend body');
  onlyFields(m, ['target'], 'unsend body');
  return { target: asBytes(m.target, 'target', { len: ENVELOPE_ID_BYTES }) };
}

/** The reactions a message can get: a small fixed set, so that none is a vector for odd text. */
export const REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'] as const;

export interface ReactionBody {
  target: Uint8Array;
  /** One of REACTIONS, or '' when the reaction is taken back. */
  emoji: string;
}

export function isReaction(s: unknown): s is string {
  return s === '' || (REACTIONS as readonly unknown[]).includes(s);
}

export function encodeReactionBody(b: ReactionBody): CborMap {
  if (!(b.target instanceof Uint8Array) || b.target.length !== ENVELOPE_ID_BYTES)
    throw new UsageError('a reaction needs a message id');
  if (!isReaction(b.emoji)) throw new UsageError(`a reaction is one of ${REACTIONS.join(' ')}`);
  return { target: b.target, emoji: b.emoji };
}

export function decodeReactionBody(body: CborValue): ReactionBody {
  const m = asMap(body, 'reaction body');
  onlyFields(m, ['target', 'emoji'], 'reaction body');
  const emoji = asText(m.emoji, 'emoji', 8);
  if (!isReaction(emoji)) throw new DecodeError('unknown reaction');
  return { target: asBytes(m.target, 'target', { len: ENVELOPE_ID_BYTES }), emoji };
}

export function decodeTypingBody(body: CborValue): void {
  onlyFields(asMap(body, 'typing body'), [], 'typing body');
}

/**
 * A session refresh (docs/decisions/0026): `reply` asks the peer to answer with a `rekey` of
 * its own, whose ratchet header carries its new ratchet key, so that an idle or one-way 1:1
 * session goes through a DH ratchet step (Double Ratchet §3.5) even when nobody writes.
 */
export interface RekeyBody {
  reply: boolean;
}

export function encodeRekeyBody(b: RekeyBody): CborMap {
  if (typeof b.reply !== 'boolean') throw new UsageError('rekey needs reply');
  return { reply: b.reply };
}

export function decodeRekeyBody(body: CborValue): RekeyBody {
  const m = asMap(body, 'rekey body');
  onlyFields(m, ['reply'], 'rekey body');
  if (typeof m.reply !== 'boolean') throw new DecodeError('rekey body: reply must be true or false');
  return { reply: m.reply };
}

/**
 * A second queue to reach me, on another relay than the one my contact sends to (docs/decisions/0037):
 * when that relay does not answer, the contact sends there. `sk` is the public half of the
 * sender key my sends to the contact's queues are authenticated with, so that the contact can
 * secure the queues it keeps for me on any relay; `ask` asks for the contact's own, which a
 * contact made before 0037 never told. Without `queue`, the body only answers an `ask`.
 */
export interface QueueBody {
  queue?: { relay: string; sid: Uint8Array };
  sk: Uint8Array;
  ask: boolean;
}

/** The relay address in its canonical text form, or `fail`. */
function canonicalRelayText(v: CborValue | undefined, fail: (m: string) => never): string {
  if (typeof v !== 'string' || v.length > MAX_RELAY_ADDRESS_CHARS)
    return fail('queue relay is not a relay address');
  let canonical: string;
  try {
    canonical = formatRelayAddress(parseRelayAddress(v));
  } catch {
    return fail('queue relay is not a relay address');
  }
  if (canonical !== v) fail('queue relay is not in canonical form');
  return v;
}

export function encodeQueueBody(b: QueueBody): CborMap {
  const usage = (m: string): never => {
    throw new UsageError(m);
  };
  if (!(b.sk instanceof Uint8Array) || b.sk.length !== DH_BYTES) usage(`sk must be ${DH_BYTES} bytes`);
  if (typeof b.ask !== 'boolean') usage('queue needs ask');
  const m: CborMap = { sk: b.sk, ask: b.ask };
  if (b.queue) {
    if (!(b.queue.sid instanceof Uint8Array) || b.queue.sid.length !== QUEUE_ID_BYTES)
      usage(`queue sid must be ${QUEUE_ID_BYTES} bytes`);
    m.queue = { relay: canonicalRelayText(b.queue.relay, usage), sid: b.queue.sid };
  }
  return m;
}

/** Strict: known fields only, exact sizes, a canonical relay address (DecodeError). */
export function decodeQueueBody(body: CborValue): QueueBody {
  const malformed = (m: string): never => {
    throw new DecodeError(`queue body: ${m}`);
  };
  const m = asMap(body, 'queue body');
  onlyFields(m, ['queue', 'sk', 'ask'], 'queue body');
  if (typeof m.ask !== 'boolean') malformed('ask must be true or false');
  const out: QueueBody = { sk: asBytes(m.sk, 'queue body sk', { len: DH_BYTES }), ask: m.ask as boolean };
  if (m.queue !== undefined) {
    const q = asMap(m.queue, 'queue body queue');
    onlyFields(q, ['relay', 'sid'], 'queue body queue');
    out.queue = {
      relay: canonicalRelayText(q.relay, malformed),
      sid: asBytes(q.sid, 'queue body sid', { len: QUEUE_ID_BYTES }),
    };
  }
  return out;
}
