/**
 * The message envelope (DESIGN.md "Messages"): what one device says in a conversation,
 * signed by that device, before padding and encryption.
 *
 *   CBOR map {
 *     v: 1,
 *     conv: bytes 16           conversation id
 *     id: bytes 32             BLAKE2b-256("parus-envelope-v1" || CBOR(map without id and sig))
 *     device: bytes 32         sender device's Ed25519 key
 *     parents: [bytes 32] (<= 32, strictly ascending)   the DAG heads the sender had seen
 *     lamport: uint            Lamport clock
 *     ts: uint                 sender's clock, ms since the epoch
 *     kind: text               one of MESSAGE_KINDS
 *     body: any CBOR value     kind-specific, checked by the client
 *     sig: bytes 64            Ed25519 by device over "parus-envelope-sig-v1" || id
 *   }
 *
 * The id is a hash of the contents, so it names the message in the DAG (seed 003: "use a
 * directed acyclic graph to sort messages") and deduplicates it; signing only the id
 * keeps the signature small to check. The encoded envelope fits a padding bucket.
 */
import { compareBytes, concatBytes, equalBytes, utf8 } from './bytes.ts';
import {
  DEFAULT_CBOR_LIMITS,
  asArray,
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
  type SignKeyPair,
} from './crypto.ts';
import {
  DecodeError,
  ParusError,
  ProtocolError,
  QuotaError,
  UsageError,
  VerificationError,
} from './errors.ts';
import { MAX_UNPADDED_BYTES } from './padding.ts';

export const ENVELOPE_VERSION = 1;
export const CONVERSATION_ID_BYTES = 16;
export const ENVELOPE_ID_BYTES = 32;
export const MAX_PARENTS = 32;
/** An encoded envelope must still fit the largest padding bucket with its marker byte. */
export const MAX_ENVELOPE_BYTES = MAX_UNPADDED_BYTES;

export const MESSAGE_KINDS = [
  'text',
  'reply',
  'reaction',
  'edit',
  'unsend',
  'read',
  'delivery',
  'file',
  'sticker',
  'typing',
  'resend',
  'contact',
  'group',
  'sync',
  'rekey',
  'queue',
  'devices',
  'call',
  'call-log',
  'gcall',
  'profile',
] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

export interface Envelope {
  v: 1;
  conv: Uint8Array;
  id: Uint8Array;
  device: Uint8Array;
  parents: Uint8Array[];
  lamport: number;
  ts: number;
  kind: MessageKind;
  body: CborValue;
  sig: Uint8Array;
}

const ID_CONTEXT = utf8('parus-envelope-v1');
const SIG_CONTEXT = utf8('parus-envelope-sig-v1');
const LIMITS = { ...DEFAULT_CBOR_LIMITS, maxBytes: MAX_ENVELOPE_BYTES };

export function isMessageKind(value: unknown): value is MessageKind {
  return typeof value === 'string' && (MESSAGE_KINDS as readonly string[]).includes(value);
}

/** What the id covers; `kind` is still unchecked text while decoding. */
type EnvelopeContent = Omit<Envelope, 'id' | 'sig' | 'kind'> & { kind: string };

function envelopeId(e: EnvelopeContent): Uint8Array {
  const content: CborMap = {
    v: e.v,
    conv: e.conv,
    device: e.device,
    parents: e.parents,
    lamport: e.lamport,
    ts: e.ts,
    kind: e.kind,
    body: e.body,
  };
  return hash(concatBytes(ID_CONTEXT, encodeCbor(content)), ENVELOPE_ID_BYTES);
}

export function encodeEnvelope(e: Envelope): Uint8Array {
  return encodeCbor({
    v: e.v,
    conv: e.conv,
    id: e.id,
    device: e.device,
    parents: e.parents,
    lamport: e.lamport,
    ts: e.ts,
    kind: e.kind,
    body: e.body,
    sig: e.sig,
  });
}

/**
 * Parents are sorted (they are a set); a repeated parent is a UsageError. Throws QuotaError
 * when the encoded envelope would not fit the largest padding bucket, UsageError when the
 * body is not something decodeEnvelope would accept (a float, too many items...).
 */
export function createEnvelope(opts: {
  device: SignKeyPair;
  conv: Uint8Array;
  parents: readonly Uint8Array[];
  lamport: number;
  ts: number;
  kind: MessageKind;
  body: CborValue;
}): Envelope {
  const { device } = opts;
  if (device?.publicKey?.length !== SIGN_PUBLIC_BYTES || device.secretKey?.length !== SIGN_SECRET_BYTES) {
    throw new UsageError('device must be an Ed25519 key pair');
  }
  if (!(opts.conv instanceof Uint8Array) || opts.conv.length !== CONVERSATION_ID_BYTES) {
    throw new UsageError(`conversation id must be ${CONVERSATION_ID_BYTES} bytes`);
  }
  if (!Array.isArray(opts.parents) || opts.parents.length > MAX_PARENTS) {
    throw new UsageError(`at most ${MAX_PARENTS} parents`);
  }
  for (const p of opts.parents) {
    if (!(p instanceof Uint8Array) || p.length !== ENVELOPE_ID_BYTES) {
      throw new UsageError(`parents must be ${ENVELOPE_ID_BYTES}-byte ids`);
    }
  }
  const parents = opts.parents.map((p) => p.slice()).sort(compareBytes);
  for (let i = 1; i < parents.length; i++) {
    if (equalBytes(parents[i - 1]!, parents[i]!)) throw new UsageError('parents repeat an id');
  }
  if (!Number.isSafeInteger(opts.lamport) || opts.lamport < 0)
    throw new UsageError('lamport must be an unsigned integer');
  if (!Number.isSafeInteger(opts.ts) || opts.ts < 0) throw new UsageError('ts must be ms since the epoch');
  if (!isMessageKind(opts.kind)) throw new UsageError('unknown message kind');
  if (opts.body === undefined) throw new UsageError('envelope body is missing');

  const unsigned = {
    v: ENVELOPE_VERSION,
    conv: opts.conv.slice(),
    device: device.publicKey.slice(),
    parents,
    lamport: opts.lamport,
    ts: opts.ts,
    kind: opts.kind,
    body: opts.body,
  } as const;
  const id = envelopeId(unsigned);
  const envelope: Envelope = { ...unsigned, id, sig: sign(device.secretKey, concatBytes(SIG_CONTEXT, id)) };

  // What we create must be what a peer accepts: same size and structure limits.
  const encoded = encodeEnvelope(envelope);
  if (encoded.length > MAX_ENVELOPE_BYTES)
    throw new QuotaError(`envelope larger than ${MAX_ENVELOPE_BYTES} bytes`);
  try {
    decodeCbor(encoded, LIMITS);
  } catch (cause) {
    if (cause instanceof ParusError)
      throw new UsageError('envelope body exceeds the decoder limits', { cause });
    throw cause;
  }
  return envelope;
}

/**
 * Strict decoding (DecodeError), version 1 only (ProtocolError), then the id is recomputed
 * and the signature checked against `device` (VerificationError), then the kind must be
 * known (ProtocolError: a well-signed kind from a newer client). The caller checks that
 * `device` belongs to the contact (its device certificate) and that `conv` is theirs.
 */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('envelope must be bytes');
  if (bytes.length > MAX_ENVELOPE_BYTES)
    throw new DecodeError(`envelope larger than ${MAX_ENVELOPE_BYTES} bytes`);
  const m = asMap(decodeCbor(bytes, LIMITS), 'envelope');
  const v = asUint(m.v, 'envelope version');
  if (v !== ENVELOPE_VERSION) throw new ProtocolError(`unknown envelope version ${v}`);

  const parents = asArray(m.parents, 'envelope parents', MAX_PARENTS).map((p, i) =>
    asBytes(p, `envelope parents[${i}]`, { len: ENVELOPE_ID_BYTES }),
  );
  for (let i = 1; i < parents.length; i++) {
    if (compareBytes(parents[i - 1]!, parents[i]!) >= 0)
      throw new DecodeError('envelope parents not strictly sorted');
  }
  if (m.body === undefined) throw new DecodeError('envelope body is missing');
  const kind = asText(m.kind, 'envelope kind', 32);
  const e = {
    v: ENVELOPE_VERSION,
    conv: asBytes(m.conv, 'envelope conversation', { len: CONVERSATION_ID_BYTES }),
    id: asBytes(m.id, 'envelope id', { len: ENVELOPE_ID_BYTES }),
    device: asBytes(m.device, 'envelope device', { len: SIGN_PUBLIC_BYTES }),
    parents,
    lamport: asUint(m.lamport, 'envelope lamport'),
    ts: asUint(m.ts, 'envelope ts'),
    kind,
    body: m.body,
    sig: asBytes(m.sig, 'envelope signature', { len: SIGNATURE_BYTES }),
  } as const;
  // Every known field has been read; any other key is unknown (repeats were refused by CBOR).
  if (Object.keys(m).length !== 10) throw new DecodeError('envelope has unknown fields');

  // The id is public (it names the message), so a plain comparison is fine.
  if (!equalBytes(envelopeId(e), e.id))
    throw new VerificationError('envelope id does not match its contents');
  assertSignature(e.device, concatBytes(SIG_CONTEXT, e.id), e.sig, 'envelope');
  if (!isMessageKind(kind)) throw new ProtocolError('unknown message kind');
  return { ...e, kind };
}
