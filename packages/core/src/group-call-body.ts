/**
 * Group call signalling bodies (docs/decisions/0053): a small call (≤ 4 participants, a mesh of
 * peer connections) in a private group, signalled pairwise inside the members' 1:1 sessions
 * (envelope kind `gcall`, ephemeral like `call`). Strict like call-body.ts: each op carries
 * exactly its fields.
 *
 *   gcall  {g: id16, call: id16, op, video?, n?, sdp?, fp?, sig?, cands?}
 *     ring    {video}               the call starts: to every member, the sender is in it
 *     join    {video}               the sender joined: to every member
 *     leave   {}                    the sender left: to every member
 *     full    {}                    to a joiner: four are in already, it is refused
 *     offer   {n, sdp, fp, sig}     one pair's connection: the one already in offers to the one
 *                                   who joins (n 0), or restarts ICE (n > 0)
 *     answer  {n, sdp, fp, sig}
 *     ice     {cands}
 *
 * `sig` is the sender's member key (Ed25519) over
 *   "parus-group-call-fp-v1" || g || call || sender member key || recipient member key || fp
 * so the DTLS fingerprint of each pair is bound to the member identity that sent it, to this
 * call and to the one member it is meant for (a member cannot replay it toward another).
 */
import { asBytes, asMap, asText, asUint, type CborMap, type CborValue } from './cbor.ts';
import {
  CALL_FINGERPRINT_BYTES,
  CALL_ID_BYTES,
  MAX_CALL_NEGOTIATIONS,
  MAX_CALL_SDP_CHARS,
  checkCallCandidates,
  decodeCallCandidates,
  encodeCallCandidates,
  type CallCandidate,
} from './call-body.ts';
import { concatBytes, utf8 } from './bytes.ts';
import { sign, verify } from './crypto.ts';
import { DecodeError, UsageError } from './errors.ts';
import { GROUP_ID_BYTES } from './group-event.ts';

/** Participants of one group call, the caller included: a mesh of 4 is 6 connections. */
export const MAX_GROUP_CALL_PARTICIPANTS = 4;
const KEY_LEN = 32;
const SIG_LEN = 64;

export const GROUP_CALL_OPS = ['ring', 'join', 'leave', 'full', 'offer', 'answer', 'ice'] as const;
export type GroupCallOp = (typeof GROUP_CALL_OPS)[number];

export interface GroupCallSignalBody {
  g: Uint8Array;
  call: Uint8Array;
  op: GroupCallOp;
  video?: boolean;
  n?: number;
  sdp?: string;
  fp?: Uint8Array;
  sig?: Uint8Array;
  cands?: CallCandidate[];
}

const FIELDS = ['video', 'n', 'sdp', 'fp', 'sig', 'cands'] as const;
const OP_FIELDS: Record<GroupCallOp, readonly string[]> = {
  ring: ['video'],
  join: ['video'],
  leave: [],
  full: [],
  offer: ['n', 'sdp', 'fp', 'sig'],
  answer: ['n', 'sdp', 'fp', 'sig'],
  ice: ['cands'],
};

function check(b: GroupCallSignalBody, fail: (m: string) => Error): void {
  if (!(b.g instanceof Uint8Array) || b.g.length !== GROUP_ID_BYTES)
    throw fail(`group id must be ${GROUP_ID_BYTES} bytes`);
  if (!(b.call instanceof Uint8Array) || b.call.length !== CALL_ID_BYTES)
    throw fail(`call id must be ${CALL_ID_BYTES} bytes`);
  if (!(GROUP_CALL_OPS as readonly string[]).includes(b.op)) throw fail('unknown group call signal');
  const want = OP_FIELDS[b.op];
  for (const k of FIELDS) {
    const present = b[k] !== undefined;
    if (present !== want.includes(k)) throw fail(`group call ${b.op} ${present ? 'has no' : 'needs'} ${k}`);
  }
  if (b.video !== undefined && typeof b.video !== 'boolean') throw fail('video must be true or false');
  if (b.n !== undefined && (!Number.isSafeInteger(b.n) || b.n < 0 || b.n > MAX_CALL_NEGOTIATIONS))
    throw fail('negotiation number out of range');
  if (
    b.sdp !== undefined &&
    (typeof b.sdp !== 'string' || b.sdp.length === 0 || b.sdp.length > MAX_CALL_SDP_CHARS)
  )
    throw fail(`SDP must be 1..${MAX_CALL_SDP_CHARS} characters`);
  if (b.fp !== undefined && (!(b.fp instanceof Uint8Array) || b.fp.length !== CALL_FINGERPRINT_BYTES))
    throw fail(`fingerprint must be ${CALL_FINGERPRINT_BYTES} bytes`);
  if (b.sig !== undefined && (!(b.sig instanceof Uint8Array) || b.sig.length !== SIG_LEN))
    throw fail('fingerprint signature must be 64 bytes');
  if (b.cands !== undefined) checkCallCandidates(b.cands, fail);
}

export function encodeGroupCallSignalBody(b: GroupCallSignalBody): CborMap {
  check(b, (m) => new UsageError(m));
  const m: CborMap = { g: b.g, call: b.call, op: b.op };
  if (b.video !== undefined) m.video = b.video;
  if (b.n !== undefined) m.n = b.n;
  if (b.sdp !== undefined) m.sdp = b.sdp;
  if (b.fp !== undefined) m.fp = b.fp;
  if (b.sig !== undefined) m.sig = b.sig;
  if (b.cands !== undefined) m.cands = encodeCallCandidates(b.cands);
  return m;
}

/** Strict (DecodeError): a known op with exactly its fields, bounded sizes. */
export function decodeGroupCallSignalBody(body: CborValue): GroupCallSignalBody {
  const m = asMap(body, 'group call body');
  for (const k of Object.keys(m))
    if (!['g', 'call', 'op', ...FIELDS].includes(k))
      throw new DecodeError('group call body has unknown fields');
  const op = asText(m.op, 'group call op', 16);
  if (!(GROUP_CALL_OPS as readonly string[]).includes(op)) throw new DecodeError('unknown group call signal');
  const b: GroupCallSignalBody = {
    g: asBytes(m.g, 'group id', { len: GROUP_ID_BYTES }),
    call: asBytes(m.call, 'call id', { len: CALL_ID_BYTES }),
    op: op as GroupCallOp,
  };
  if (m.video !== undefined) {
    if (typeof m.video !== 'boolean') throw new DecodeError('video must be true or false');
    b.video = m.video;
  }
  if (m.n !== undefined) b.n = asUint(m.n, 'n', MAX_CALL_NEGOTIATIONS);
  if (m.sdp !== undefined) b.sdp = asText(m.sdp, 'SDP', MAX_CALL_SDP_CHARS);
  if (m.fp !== undefined) b.fp = asBytes(m.fp, 'fingerprint', { len: CALL_FINGERPRINT_BYTES });
  if (m.sig !== undefined) b.sig = asBytes(m.sig, 'fingerprint signature', { len: SIG_LEN });
  if (m.cands !== undefined) b.cands = decodeCallCandidates(m.cands);
  check(b, (msg) => new DecodeError(msg));
  return b;
}

const FP_CONTEXT = utf8('parus-group-call-fp-v1');

function fpMessage(
  g: Uint8Array,
  call: Uint8Array,
  from: Uint8Array,
  to: Uint8Array,
  fp: Uint8Array,
): Uint8Array {
  if (from.length !== KEY_LEN || to.length !== KEY_LEN) throw new UsageError('member keys are 32 bytes');
  return concatBytes(FP_CONTEXT, g, call, from, to, fp);
}

/** The member key's signature binding one pair's DTLS fingerprint (see the file's comment). */
export function signGroupCallFingerprint(
  secretKey: Uint8Array,
  g: Uint8Array,
  call: Uint8Array,
  from: Uint8Array,
  to: Uint8Array,
  fp: Uint8Array,
): Uint8Array {
  return sign(secretKey, fpMessage(g, call, from, to, fp));
}

export function verifyGroupCallFingerprint(
  sig: Uint8Array,
  g: Uint8Array,
  call: Uint8Array,
  from: Uint8Array,
  to: Uint8Array,
  fp: Uint8Array,
): boolean {
  return verify(from, fpMessage(g, call, from, to, fp), sig);
}
