/**
 * Call signalling and call-log bodies (docs/decisions/0046), checked as strictly as the other
 * bodies of message-body.ts: every field's type and size, the fields each op needs and no other.
 *
 *   call      {call: id16, op, n?, sdp?, fp?, video?, cands?}   a signal, ephemeral, never stored
 *     op offer   {n, sdp, fp, video}   rings every device of the callee (n 0), or renegotiates
 *                                     (ICE restart after a network change: n > 0)
 *     op answer  {n, sdp, fp}          the first device to answer takes the call
 *     op ice     {cands}               trickled ICE candidates
 *     op decline | busy | hangup | taken {}   taken: another of the callee's devices answered
 *   call-log  {call: id16, video, outcome, secs?}   what is kept: 通話時間 3:12, 未接來電
 *
 * `fp` is the SHA-256 DTLS certificate fingerprint of the sender's side of the media path, which
 * the signed, encrypted envelope carries beside the SDP: the receiver applies only an SDP whose
 * a=fingerprint is that one, and ends the call when the certificate the connection reports for
 * the remote side is another (callFingerprintMatches, sdpFingerprints).
 */
import { asArray, asBytes, asMap, asText, asUint, type CborMap, type CborValue } from './cbor.ts';
import { DecodeError, UsageError } from './errors.ts';

export const CALL_ID_BYTES = 16;
export const CALL_FINGERPRINT_BYTES = 32;
/** An SDP offer or answer, audio and video with its candidates: a few KB in practice. */
export const MAX_CALL_SDP_CHARS = 16 * 1024;
/** Candidates in one `ice` signal, and the characters of one candidate line. */
export const MAX_CALL_CANDIDATES = 32;
export const MAX_CALL_CANDIDATE_CHARS = 512;
const MAX_MID_CHARS = 32;
/** Renegotiations (ICE restarts) in one call. */
export const MAX_CALL_NEGOTIATIONS = 1000;
/** The longest call a log entry records: a day. */
export const MAX_CALL_SECONDS = 24 * 3600;

export const CALL_OPS = ['offer', 'answer', 'ice', 'decline', 'busy', 'hangup', 'taken'] as const;
export type CallOp = (typeof CALL_OPS)[number];
export const CALL_OUTCOMES = ['answered', 'missed', 'declined', 'busy', 'failed'] as const;
export type CallOutcome = (typeof CALL_OUTCOMES)[number];

export interface CallCandidate {
  /** The candidate line (RTCIceCandidate.candidate), empty for end-of-candidates. */
  c: string;
  mid?: string;
  i?: number;
}

export interface CallSignalBody {
  call: Uint8Array;
  op: CallOp;
  n?: number;
  sdp?: string;
  fp?: Uint8Array;
  video?: boolean;
  cands?: CallCandidate[];
}

export interface CallLogBody {
  call: Uint8Array;
  video: boolean;
  outcome: CallOutcome;
  /** Seconds connected, for an answered call. */
  secs?: number;
}

/** The fields each op carries besides `call` and `op`; `video` only on an offer. */
const OP_FIELDS: Record<CallOp, readonly string[]> = {
  offer: ['n', 'sdp', 'fp', 'video'],
  answer: ['n', 'sdp', 'fp'],
  ice: ['cands'],
  decline: [],
  busy: [],
  hangup: [],
  taken: [],
};

function check(b: CallSignalBody, fail: (m: string) => Error): void {
  if (!(b.call instanceof Uint8Array) || b.call.length !== CALL_ID_BYTES)
    throw fail(`call id must be ${CALL_ID_BYTES} bytes`);
  if (!(CALL_OPS as readonly string[]).includes(b.op)) throw fail('unknown call signal');
  const want = OP_FIELDS[b.op];
  for (const k of ['n', 'sdp', 'fp', 'video', 'cands'] as const) {
    const present = b[k] !== undefined;
    if (present !== want.includes(k)) throw fail(`call ${b.op} ${present ? 'has no' : 'needs'} ${k}`);
  }
  if (b.n !== undefined && (!Number.isSafeInteger(b.n) || b.n < 0 || b.n > MAX_CALL_NEGOTIATIONS))
    throw fail('call negotiation number out of range');
  if (b.sdp !== undefined) {
    if (typeof b.sdp !== 'string' || b.sdp.length === 0 || b.sdp.length > MAX_CALL_SDP_CHARS)
      throw fail(`call SDP must be 1..${MAX_CALL_SDP_CHARS} characters`);
  }
  if (b.fp !== undefined && (!(b.fp instanceof Uint8Array) || b.fp.length !== CALL_FINGERPRINT_BYTES))
    throw fail(`call fingerprint must be ${CALL_FINGERPRINT_BYTES} bytes`);
  if (b.video !== undefined && typeof b.video !== 'boolean') throw fail('call video must be true or false');
  if (b.cands !== undefined) checkCallCandidates(b.cands, fail);
}

/** The bounds of trickled ICE candidates, shared by 1:1 and group call signals. */
export function checkCallCandidates(cands: readonly CallCandidate[], fail: (m: string) => Error): void {
  if (!Array.isArray(cands) || cands.length === 0 || cands.length > MAX_CALL_CANDIDATES)
    throw fail(`1..${MAX_CALL_CANDIDATES} candidates in one signal`);
  for (const c of cands) {
    if (typeof c.c !== 'string' || c.c.length > MAX_CALL_CANDIDATE_CHARS || /[\r\n]/.test(c.c))
      throw fail('call candidate is malformed');
    if (c.mid !== undefined && (typeof c.mid !== 'string' || c.mid.length > MAX_MID_CHARS))
      throw fail('call candidate mid is malformed');
    if (c.i !== undefined && (!Number.isSafeInteger(c.i) || c.i < 0 || c.i > 64))
      throw fail('call candidate index is malformed');
  }
}

export function encodeCallCandidates(cands: readonly CallCandidate[]): CborMap[] {
  return cands.map((c) => {
    const o: CborMap = { c: c.c };
    if (c.mid !== undefined) o.mid = c.mid;
    if (c.i !== undefined) o.i = c.i;
    return o;
  });
}

/** Strict (DecodeError); the caller checks the whole signal afterwards (checkCallCandidates). */
export function decodeCallCandidates(v: CborValue): CallCandidate[] {
  return asArray(v, 'call candidates', MAX_CALL_CANDIDATES).map((item) => {
    const cm = asMap(item, 'call candidate');
    for (const k of Object.keys(cm))
      if (!['c', 'mid', 'i'].includes(k)) throw new DecodeError('call candidate has unknown fields');
    const c: CallCandidate = { c: asText(cm.c, 'candidate', MAX_CALL_CANDIDATE_CHARS) };
    if (cm.mid !== undefined) c.mid = asText(cm.mid, 'candidate mid', MAX_MID_CHARS);
    if (cm.i !== undefined) c.i = asUint(cm.i, 'candidate index', 64);
    return c;
  });
}

export function encodeCallSignalBody(b: CallSignalBody): CborMap {
  check(b, (m) => new UsageError(m));
  const m: CborMap = { call: b.call, op: b.op };
  if (b.n !== undefined) m.n = b.n;
  if (b.sdp !== undefined) m.sdp = b.sdp;
  if (b.fp !== undefined) m.fp = b.fp;
  if (b.video !== undefined) m.video = b.video;
  if (b.cands !== undefined) m.cands = encodeCallCandidates(b.cands);
  return m;
}

/**
 * Strict (DecodeError): a known op with exactly its fields, bounded sizes. Whether the SDP's
 * a=fingerprint is the signalled `fp` is the call's check (the call ends with a warning), not a
 * decoding fault.
 */
export function decodeCallSignalBody(body: CborValue): CallSignalBody {
  const m = asMap(body, 'call body');
  for (const k of Object.keys(m))
    if (!['call', 'op', 'n', 'sdp', 'fp', 'video', 'cands'].includes(k))
      throw new DecodeError('call body has unknown fields');
  const op = asText(m.op, 'call op', 16);
  if (!(CALL_OPS as readonly string[]).includes(op)) throw new DecodeError('unknown call signal');
  const b: CallSignalBody = { call: asBytes(m.call, 'call id', { len: CALL_ID_BYTES }), op: op as CallOp };
  if (m.n !== undefined) b.n = asUint(m.n, 'call n', MAX_CALL_NEGOTIATIONS);
  if (m.sdp !== undefined) b.sdp = asText(m.sdp, 'call SDP', MAX_CALL_SDP_CHARS);
  if (m.fp !== undefined) b.fp = asBytes(m.fp, 'call fingerprint', { len: CALL_FINGERPRINT_BYTES });
  if (m.video !== undefined) {
    if (typeof m.video !== 'boolean') throw new DecodeError('call video must be true or false');
    b.video = m.video;
  }
  if (m.cands !== undefined) b.cands = decodeCallCandidates(m.cands);
  check(b, (msg) => new DecodeError(msg));
  return b;
}

export function encodeCallLogBody(b: CallLogBody): CborMap {
  if (!(b.call instanceof Uint8Array) || b.call.length !== CALL_ID_BYTES)
    throw new UsageError(`call id must be ${CALL_ID_BYTES} bytes`);
  if (typeof b.video !== 'boolean') throw new UsageError('call log needs video');
  if (!(CALL_OUTCOMES as readonly string[]).includes(b.outcome)) throw new UsageError('unknown call outcome');
  const m: CborMap = { call: b.call, video: b.video, outcome: b.outcome };
  if (b.secs !== undefined) {
    if (b.outcome !== 'answered') throw new UsageError('only an answered call has a duration');
    if (!Number.isSafeInteger(b.secs) || b.secs < 0 || b.secs > MAX_CALL_SECONDS)
      throw new UsageError('call duration out of range');
    m.secs = b.secs;
  }
  return m;
}

export function decodeCallLogBody(body: CborValue): CallLogBody {
  const m = asMap(body, 'call log body');
  for (const k of Object.keys(m))
    if (!['call', 'video', 'outcome', 'secs'].includes(k))
      throw new DecodeError('call log body has unknown fields');
  if (typeof m.video !== 'boolean') throw new DecodeError('call log video must be true or false');
  const outcome = asText(m.outcome, 'call outcome', 16);
  if (!(CALL_OUTCOMES as readonly string[]).includes(outcome)) throw new DecodeError('unknown call outcome');
  const b: CallLogBody = {
    call: asBytes(m.call, 'call id', { len: CALL_ID_BYTES }),
    video: m.video,
    outcome: outcome as CallOutcome,
  };
  if (m.secs !== undefined) {
    if (outcome !== 'answered') throw new DecodeError('only an answered call has a duration');
    b.secs = asUint(m.secs, 'call seconds', MAX_CALL_SECONDS);
  }
  return b;
}

/**
 * The SHA-256 fingerprints an SDP names (a=fingerprint:sha-256 AA:BB:..., session or media
 * level), as bytes; other hash functions are listed as undefined so that callers refuse them.
 */
export function sdpFingerprints(sdp: string): Array<Uint8Array | undefined> {
  const out: Array<Uint8Array | undefined> = [];
  for (const line of sdp.split(/\r?\n/)) {
    const m = /^a=fingerprint:(\S+) ([0-9A-Fa-f:]+)\s*$/.exec(line);
    if (!m) {
      if (line.startsWith('a=fingerprint:')) out.push(undefined);
      continue;
    }
    out.push(m[1]!.toLowerCase() === 'sha-256' ? parseFingerprint(m[2]!) : undefined);
  }
  return out;
}

/** "AA:BB:..." (32 bytes) as bytes, or undefined when it is not one. */
export function parseFingerprint(text: string): Uint8Array | undefined {
  const parts = text.split(':');
  if (parts.length !== CALL_FINGERPRINT_BYTES) return undefined;
  const out = new Uint8Array(CALL_FINGERPRINT_BYTES);
  for (let i = 0; i < parts.length; i++) {
    if (!/^[0-9A-Fa-f]{2}$/.test(parts[i]!)) return undefined;
    out[i] = parseInt(parts[i]!, 16);
  }
  return out;
}

/** Bytes as "AA:BB:..." (the SDP and getStats form). */
export function formatFingerprint(fp: Uint8Array): string {
  return Array.from(fp, (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
}

/**
 * True when the SDP names at least one fingerprint and every one is `fp` (SHA-256). Not a
 * secret: a plain compare.
 */
export function callFingerprintMatches(sdp: string, fp: Uint8Array): boolean {
  const all = sdpFingerprints(sdp);
  return (
    all.length > 0 &&
    all.every((f) => f !== undefined && f.length === fp.length && f.every((v, i) => v === fp[i]))
  );
}
