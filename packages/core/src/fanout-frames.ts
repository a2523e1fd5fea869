/**
 * Relay fan-out for groups (DESIGN.md "Groups": the relay copies one upload into each
 * member's queue; docs/decisions/0011-fan-out.md).
 *
 * A fan-out list lives on one relay. It has its own X25519 key `fk`, as a queue has `rk`,
 * and every command on it carries an authenticator under `fk` (relay-protocol.ts). Its
 * entries are sender ids of ordinary queues on the same relay. Adding an entry needs a
 * proof under that queue's sender key `sk` — the key a 1:1 `send` to it needs — so nobody
 * can put a queue on a list who could not send to it anyway:
 *
 *     proof = HMAC-SHA-256(K(sk), "parus-fanout-entry-v1" || session || lid || sid)
 *
 * with K the command-authenticator key of `sk` on this connection (deriveCommandAuthKey),
 * so a proof, like a command, is worthless on any other connection.
 *
 * Frames (each a CBOR map like every relay frame):
 *   fnew  {id, fk, auth}            → flist {id, lid}   create a list (auth under the fk it carries)
 *   fadd  {id, lid, ents, auth}     → ok                ents: n × (sid ‖ proof), 1 ≤ n ≤ MAX_FANOUT_BATCH
 *   frem  {id, lid, sids, auth}     → ok                sids: n × sid; unknown ones are ignored
 *   fdrop {id, lid, auth}           → ok                delete the list
 *   fsend {id, lid, body, auth}     → fsent {id, n, full, gone}
 * Entries travel as one byte string of fixed-size records rather than a CBOR array: one
 * item to decode however many entries, and no per-entry allocation.
 */
import { asBytes, asUint, encodeCbor, type CborMap } from './cbor.ts';
import { concatBytes, utf8 } from './bytes.ts';
import { AEAD_NONCE_BYTES, equalSecret, hmacSha256, seal, wipe } from './crypto.ts';
import { DecodeError, UsageError } from './errors.ts';

export const FANOUT_LIST_ID_BYTES = 24;
/** Largest number of entries one `fadd` or `frem` carries. */
export const MAX_FANOUT_BATCH = 128;
/** Sender ids are queue ids. */
const SID_BYTES = 24;
const PROOF_BYTES = 32;
/** One `fadd` entry: the sid, then its proof. */
export const FANOUT_ENTRY_BYTES = SID_BYTES + PROOF_BYTES;
/**
 * Most entries a list may hold on any relay (a relay may set a lower limit). It also bounds
 * what one `fsent` reports: 5,000 sids are 120,000 bytes, well inside a frame.
 */
export const MAX_FANOUT_ENTRIES = 5_000;

const ENTRY_CONTEXT = utf8('parus-fanout-entry-v1');

/** Create a fan-out list. Authenticated with the `fk` it carries. */
export interface FanoutNewFrame {
  t: 'fnew';
  id: number;
  fk: Uint8Array;
  auth: Uint8Array;
}
/** Add queues (by sid) to a list; each proven under its queue's `sk`. Authenticated with `fk`. */
export interface FanoutAddFrame {
  t: 'fadd';
  id: number;
  lid: Uint8Array;
  /** n × FANOUT_ENTRY_BYTES: sid ‖ proof. */
  ents: Uint8Array;
  auth: Uint8Array;
}
/** Remove queues (by sid) from a list. Authenticated with `fk`. */
export interface FanoutRemoveFrame {
  t: 'frem';
  id: number;
  lid: Uint8Array;
  /** n × 24 bytes. */
  sids: Uint8Array;
  auth: Uint8Array;
}
/** Delete a list. Authenticated with `fk`. */
export interface FanoutDropFrame {
  t: 'fdrop';
  id: number;
  lid: Uint8Array;
  auth: Uint8Array;
}
/** Put one body into every queue on the list. Authenticated with `fk`. */
export interface FanoutSendFrame {
  t: 'fsend';
  id: number;
  lid: Uint8Array;
  body: Uint8Array;
  auth: Uint8Array;
}
export type FanoutCommand =
  | FanoutNewFrame
  | FanoutAddFrame
  | FanoutRemoveFrame
  | FanoutDropFrame
  | FanoutSendFrame;

/** The answer to `fnew`. */
export interface FanoutListFrame {
  t: 'flist';
  id: number;
  lid: Uint8Array;
}
/** The answer to `fsend`, once every copy is durably stored. */
export interface FanoutSentFrame {
  t: 'fsent';
  id: number;
  /** Queues that got the body. */
  n: number;
  /** Sids (concatenated) of queues that were full and did not get it. */
  full: Uint8Array;
  /** Sids (concatenated) of queues that no longer exist. */
  gone: Uint8Array;
}
export type FanoutReply = FanoutListFrame | FanoutSentFrame;

const FANOUT_COMMANDS: ReadonlySet<string> = new Set(['fnew', 'fadd', 'frem', 'fdrop', 'fsend']);
const key32 = { len: 32 };
const auth32 = { len: PROOF_BYTES };
const lid24 = { len: FANOUT_LIST_ID_BYTES };

function records(value: CborMap[string], what: string, size: number, maxCount: number): Uint8Array {
  const b = asBytes(value, what, { max: size * maxCount });
  if (b.length === 0 || b.length % size !== 0) {
    throw new DecodeError(`${what} must hold 1 to ${maxCount} records of ${size} bytes`);
  }
  return b;
}

function sidList(value: CborMap[string], what: string): Uint8Array {
  const b = asBytes(value, what, { max: SID_BYTES * MAX_FANOUT_ENTRIES });
  if (b.length % SID_BYTES !== 0) throw new DecodeError(`${what} must be whole sids`);
  return b;
}

/**
 * Decodes a fan-out command from its frame map; undefined when `t` is not one. `maxBody`
 * is the bound of a 1:1 send's body (relay-protocol.ts MAX_BODY_BYTES).
 */
export function decodeFanoutCommand(t: string, m: CborMap, maxBody: number): FanoutCommand | undefined {
  if (!FANOUT_COMMANDS.has(t)) return undefined;
  const id = asUint(m.id, 'id');
  switch (t) {
    case 'fnew':
      return { t, id, fk: asBytes(m.fk, 'fk', key32), auth: asBytes(m.auth, 'auth', auth32) };
    case 'fadd':
      return {
        t,
        id,
        lid: asBytes(m.lid, 'lid', lid24),
        ents: records(m.ents, 'ents', FANOUT_ENTRY_BYTES, MAX_FANOUT_BATCH),
        auth: asBytes(m.auth, 'auth', auth32),
      };
    case 'frem':
      return {
        t,
        id,
        lid: asBytes(m.lid, 'lid', lid24),
        sids: records(m.sids, 'sids', SID_BYTES, MAX_FANOUT_BATCH),
        auth: asBytes(m.auth, 'auth', auth32),
      };
    case 'fdrop':
      return { t, id, lid: asBytes(m.lid, 'lid', lid24), auth: asBytes(m.auth, 'auth', auth32) };
    case 'fsend':
      return {
        t,
        id,
        lid: asBytes(m.lid, 'lid', lid24),
        body: asBytes(m.body, 'body', { max: maxBody }),
        auth: asBytes(m.auth, 'auth', auth32),
      };
    default:
      return undefined;
  }
}

/** Decodes a fan-out reply from its frame map; undefined when `t` is not one. */
export function decodeFanoutReply(t: string, m: CborMap): FanoutReply | undefined {
  switch (t) {
    case 'flist':
      return { t, id: asUint(m.id, 'id'), lid: asBytes(m.lid, 'lid', lid24) };
    case 'fsent':
      return {
        t,
        id: asUint(m.id, 'id'),
        n: asUint(m.n, 'n', MAX_FANOUT_ENTRIES),
        full: sidList(m.full, 'full'),
        gone: sidList(m.gone, 'gone'),
      };
    default:
      return undefined;
  }
}

// ---- Entry proofs ---------------------------------------------------------------------

function entryBytes(session: Uint8Array, lid: Uint8Array, sid: Uint8Array): Uint8Array {
  if (lid.length !== FANOUT_LIST_ID_BYTES) throw new UsageError('lid must be 24 bytes');
  if (sid.length !== SID_BYTES) throw new UsageError('sid must be 24 bytes');
  return concatBytes(ENTRY_CONTEXT, session, lid, sid);
}

/** The proof that the holder of a queue's `sk` puts that queue (`sid`) on list `lid`. */
export function fanoutEntryProof(
  key: Uint8Array,
  session: Uint8Array,
  lid: Uint8Array,
  sid: Uint8Array,
): Uint8Array {
  return hmacSha256(key, entryBytes(session, lid, sid));
}

/** Whether `proof` proves the entry under K; compared in constant time. */
export function checkFanoutEntryProof(
  key: Uint8Array,
  session: Uint8Array,
  lid: Uint8Array,
  sid: Uint8Array,
  proof: Uint8Array,
): boolean {
  if (proof.length !== PROOF_BYTES) return false;
  const expected = fanoutEntryProof(key, session, lid, sid);
  try {
    return equalSecret(expected, proof);
  } finally {
    wipe(expected);
  }
}

/** Packs `fadd` entries: each sid followed by its proof. */
export function packFanoutEntries(
  entries: ReadonlyArray<{ sid: Uint8Array; proof: Uint8Array }>,
): Uint8Array {
  const out = new Uint8Array(entries.length * FANOUT_ENTRY_BYTES);
  entries.forEach((e, i) => {
    if (e.sid.length !== SID_BYTES || e.proof.length !== PROOF_BYTES) {
      throw new UsageError('fan-out entry must be a 24-byte sid and a 32-byte proof');
    }
    out.set(e.sid, i * FANOUT_ENTRY_BYTES);
    out.set(e.proof, i * FANOUT_ENTRY_BYTES + SID_BYTES);
  });
  return out;
}

/** Splits concatenated 24-byte sids (`frem`, `fsent`) into views. */
export function splitSids(packed: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at + SID_BYTES <= packed.length; at += SID_BYTES)
    out.push(packed.subarray(at, at + SID_BYTES));
  return out;
}

// ---- One body, sealed per queue --------------------------------------------------------

/**
 * The plaintext the relay seals into each queue (relay-protocol.ts sealDelivery): the same
 * CBOR {ts, body} for every queue of one `fsend`, so it is encoded once.
 */
export function encodeDeliveryPlaintext(
  ts: number,
  body: Uint8Array,
  /** Where the bytes go (the relay's slab); every byte of the array is written. */
  alloc: (size: number) => Uint8Array = (size) => new Uint8Array(size),
): Uint8Array {
  // Laid out directly, byte for byte what encodeCbor({ts, body}) gives (a map of two,
  // "ts" then "body", each head in its shortest form): one per 1:1 message on the relay's
  // hot path, where the generic encoder cost ~5 % of its time (docs/decisions/0051).
  if (!Number.isSafeInteger(ts) || ts < 0) return encodeCbor({ ts, body });
  const tsHead = headBytes(ts);
  const bodyHead = headBytes(body.length);
  const out = alloc(PLAINTEXT_TS.length + tsHead + PLAINTEXT_BODY.length + bodyHead + body.length);
  out.set(PLAINTEXT_TS, 0);
  let at = writeHead(out, PLAINTEXT_TS.length, 0x00, ts, tsHead);
  out.set(PLAINTEXT_BODY, at);
  at = writeHead(out, at + PLAINTEXT_BODY.length, 0x40, body.length, bodyHead);
  out.set(body, at);
  return out;
}

/** CBOR map(2), text "ts"; then text "body". */
const PLAINTEXT_TS = Uint8Array.of(0xa2, 0x62, 0x74, 0x73);
const PLAINTEXT_BODY = Uint8Array.of(0x64, 0x62, 0x6f, 0x64, 0x79);

/** Bytes of the shortest CBOR head of an unsigned integer `n` (a safe integer). */
function headBytes(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

/** Writes the head (major type bits `major`, argument `n`, `bytes` long) at `at`; returns the end. */
function writeHead(out: Uint8Array, at: number, major: number, n: number, bytes: number): number {
  if (bytes === 1) {
    out[at] = major | n;
    return at + 1;
  }
  out[at] = major | (bytes === 2 ? 24 : bytes === 3 ? 25 : bytes === 5 ? 26 : 27);
  // Big-endian, from the last byte up (n is a safe integer: division, not shifts, past 32 bits).
  let rest = n;
  for (let i = at + bytes - 1; i > at; i--) {
    out[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  return at + bytes;
}

/**
 * nonce ‖ XChaCha20-Poly1305(key, plaintext, ad = mid): byte for byte what sealDelivery
 * makes, with the nonce given, so that a fan-out draws all its nonces in one call.
 */
export function sealDeliveryPlaintext(
  key: Uint8Array,
  nonce: Uint8Array,
  mid: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  if (nonce.length !== AEAD_NONCE_BYTES) throw new UsageError('nonce must be 24 bytes');
  const ct = seal(key, nonce, plaintext, mid);
  const out = new Uint8Array(AEAD_NONCE_BYTES + ct.length);
  out.set(nonce, 0);
  out.set(ct, AEAD_NONCE_BYTES);
  return out;
}
