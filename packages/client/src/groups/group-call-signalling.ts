/**
 * Small group calls (docs/decisions/0053): up to MAX_GROUP_CALL_PARTICIPANTS members, a mesh of
 * peer connections (one per pair) that the UI runs; this part carries the signalling and keeps
 * who is in each call, in memory only.
 *
 * Signals are `gcall` envelopes (core group-call-body.ts), ephemeral like 1:1 `call` signals:
 * sent at once over the pairwise session with each member (a contact or a group peer, bound to
 * the member key by the group's `bind`), never stored, never in the group's DAG, never resent.
 * `ring`, `join` and `leave` go to every member I have a session with; `offer`, `answer` and
 * `ice` to the one member of the pair. The member already in the call offers to the one who
 * joins; each offer and answer carries the sender's DTLS fingerprint signed by its member key
 * for this group, this call and the recipient member, checked on receipt, against the SDP,
 * against the description the connection applied and against the certificate it reports
 * (checkFingerprint): a pair whose fingerprint does not hold is refused (`refused`, with a
 * warning), the rest of the call goes on.
 *
 * Refusals (ProtocolError: the envelope is dropped, nothing changes): a signal from someone who
 * is not (or no longer) a member of the group, for a group I am not in or a public room, pair
 * signals for a call I am not in or from a member not in it. A join when the call has four
 * already is answered `full`; the joiner then leaves. The last one to leave writes the call-log
 * message in the group (群組通話 12:34), an ordinary group message.
 */
import {
  MAX_CALL_SECONDS,
  MAX_GROUP_CALL_PARTICIPANTS,
  ProtocolError,
  QuotaError,
  UsageError,
  VerificationError,
  CALL_ID_BYTES,
  callFingerprintMatches,
  decodeGroupCallSignalBody,
  encodeGroupCallSignalBody,
  equalBytes,
  fromHex,
  parseFingerprint,
  signGroupCallFingerprint,
  toHex,
  verifyGroupCallFingerprint,
  type CallCandidate,
  type CallLogBody,
  type Envelope,
  type GroupCallSignalBody,
} from '@parus/core';
import type { GroupCallEvent, GroupCallInfo, MessageInfo } from '../public-shapes.ts';
import type { ContactRecord } from '../records.ts';
import type { GroupContext, Loaded } from './engine-context.ts';
import type { GroupBody } from './group-records.ts';

const hex = toHex;

/** A ring older than this (by its sender's clock) is not shown: the call may be over. */
export const GROUP_CALL_RING_FRESH_MS = 60_000;
/** The one who started a call leaves it when nobody joined within this time (a missed call). */
export const GROUP_CALL_ALONE_MS = 45_000;
/** Calls are offered in groups of at most this many members (a ring is one envelope each). */
export const MAX_GROUP_CALL_GROUP_MEMBERS = 256;
/** Calls heard of (rung, not joined) kept at once; the oldest is forgotten first. */
export const MAX_KNOWN_GROUP_CALLS = 32;

interface Participant {
  /** The device it signals from (the one I answer and offer to). */
  device: Uint8Array | undefined;
  /** The fingerprint it signed for our pair, once known. */
  fp?: Uint8Array;
  refused?: true;
}

interface GroupCall {
  id: Uint8Array;
  group: Uint8Array;
  video: boolean;
  started: number;
  /** Members in the call by member key (hex), me included while joined. */
  in: Map<string, Participant>;
  joined: boolean;
  /** Whether anyone joined the one who started it (the log says answered, else missed). */
  answered: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

export type GroupCallsContext = Pick<
  GroupContext,
  'host' | 'groups' | 'find' | 'state' | 'me' | 'linkOf' | 'memberOfContact' | 'displayName'
>;

export class GroupCallSignalling {
  /** By group id (hex): one call per group. */
  private readonly calls = new Map<string, GroupCall>();

  constructor(
    private readonly ctx: GroupCallsContext,
    private readonly sendLog: (ref: string, body: GroupBody) => Promise<MessageInfo>,
  ) {}

  /** The call under way in a group (one I am in, or one I heard of), if any. */
  current(ref: string): GroupCallInfo | undefined {
    const l = this.ctx.find(ref);
    const c = this.calls.get(hex(l.rec.id));
    return c && this.info(l, c);
  }

  /** Every call under way that I know of. */
  list(): GroupCallInfo[] {
    const out: GroupCallInfo[] = [];
    for (const c of this.calls.values()) {
      const l = this.ctx.groups.get(hex(c.group));
      if (l) out.push(this.info(l, c));
    }
    return out;
  }

  private info(l: Loaded, c: GroupCall): GroupCallInfo {
    return {
      group: hex(c.group),
      call: hex(c.id),
      video: c.video,
      started: c.started,
      joined: c.joined,
      me: hex(this.ctx.me(l).publicKey),
      members: [...c.in.keys()].map((k) => ({ key: k, name: this.ctx.displayName(l, fromHex(k)) })),
      refused: [...c.in.entries()].filter(([, p]) => p.refused).map(([k]) => k),
    };
  }

  private joinedCall(): GroupCall | undefined {
    return [...this.calls.values()].find((c) => c.joined);
  }

  /** A group I may call in: joined, private, not too big. */
  private callable(ref: string): Loaded {
    const l = this.ctx.find(ref);
    if (l.rec.status !== 'joined') throw new UsageError('you are not a member of this group');
    const st = this.ctx.state(l);
    if (st.settings.public) throw new UsageError('public rooms have no calls');
    if (!st.members.has(hex(this.ctx.me(l).publicKey)))
      throw new UsageError('you are not a member of this group');
    if (st.members.size > MAX_GROUP_CALL_GROUP_MEMBERS)
      throw new UsageError(`calls are for groups of at most ${MAX_GROUP_CALL_GROUP_MEMBERS} members`);
    return l;
  }

  /** Starts a call in the group: rings every member; I am in it. Resolves with the call id. */
  async start(ref: string, video: boolean): Promise<string> {
    const l = this.callable(ref);
    if (this.joinedCall()) throw new UsageError('a call is already under way');
    const g = hex(l.rec.id);
    const known = this.calls.get(g);
    if (known && known.in.size > 0) throw new UsageError('a call is under way in this group: join it');
    const me = hex(this.ctx.me(l).publicKey);
    const c: GroupCall = {
      id: this.ctx.host.rng.bytes(CALL_ID_BYTES),
      group: l.rec.id,
      video,
      started: this.ctx.host.now(),
      in: new Map([[me, { device: undefined }]]),
      joined: true,
      answered: false,
    };
    this.keep(c);
    c.timer = setTimeout(() => {
      if (c.joined && c.in.size === 1) void this.leave(g).catch(() => undefined);
    }, GROUP_CALL_ALONE_MS);
    c.timer.unref?.();
    const reached = await this.toMembers(l, { g: c.group, call: c.id, op: 'ring', video });
    if (reached === 0) {
      this.forget(c);
      throw new UsageError('nobody in the group could be reached');
    }
    return hex(c.id);
  }

  /** Joins the call under way in the group; QuotaError when it is full. */
  async join(ref: string): Promise<GroupCallInfo> {
    const l = this.callable(ref);
    const c = this.calls.get(hex(l.rec.id));
    if (!c || c.in.size === 0) throw new UsageError('no call under way in this group');
    if (c.joined) return this.info(l, c);
    const other = this.joinedCall();
    if (other) throw new UsageError('a call is already under way');
    if (c.in.size >= MAX_GROUP_CALL_PARTICIPANTS)
      throw new QuotaError(`the call is full (${MAX_GROUP_CALL_PARTICIPANTS} participants)`);
    c.in.set(hex(this.ctx.me(l).publicKey), { device: undefined });
    c.joined = true;
    c.answered = true;
    clearTimeout(c.timer);
    await this.toMembers(l, { g: c.group, call: c.id, op: 'join', video: c.video });
    return this.info(l, c);
  }

  /**
   * Leaves the call: tells every member. The last one out writes the call-log message (群組通話
   * 12:34, or a call nobody joined).
   */
  async leave(ref: string, reason: GroupCallEvent['reason'] = 'left'): Promise<void> {
    const l = this.ctx.find(ref);
    const c = this.calls.get(hex(l.rec.id));
    if (!c?.joined) return;
    c.joined = false;
    clearTimeout(c.timer);
    c.in.delete(hex(this.ctx.me(l).publicKey));
    const last = c.in.size === 0;
    this.ctx.host.emitCall({ group: hex(c.group), call: hex(c.id), type: 'ended', reason });
    for (const p of c.in.values()) {
      delete p.fp;
      delete p.refused;
    }
    if (last) this.forget(c);
    await this.toMembers(l, { g: c.group, call: c.id, op: 'leave' }).catch(() => 0);
    if (last && reason !== 'full') {
      const log: CallLogBody = { call: c.id, video: c.video, outcome: c.answered ? 'answered' : 'missed' };
      if (c.answered)
        log.secs = Math.min(
          MAX_CALL_SECONDS,
          Math.max(0, Math.round((this.ctx.host.now() - c.started) / 1000)),
        );
      await this.sendLog(hex(c.group), { kind: 'call-log', text: '', callLog: log }).catch(() => undefined);
    }
  }

  /** One pair's offer (n 0) or ICE restart (n > 0) to `member`, with my signed fingerprint. */
  async offer(ref: string, member: string, o: { n: number; sdp: string; fp: Uint8Array }): Promise<void> {
    await this.toPair(ref, member, (l, c, to) => ({
      g: c.group,
      call: c.id,
      op: 'offer',
      ...o,
      sig: this.signFp(l, c, to, o.fp),
    }));
  }

  /** Answers `member`'s offer `n`. */
  async answer(ref: string, member: string, a: { n: number; sdp: string; fp: Uint8Array }): Promise<void> {
    await this.toPair(ref, member, (l, c, to) => ({
      g: c.group,
      call: c.id,
      op: 'answer',
      ...a,
      sig: this.signFp(l, c, to, a.fp),
    }));
  }

  /** Trickled ICE candidates of the pair with `member`. */
  async candidates(ref: string, member: string, cands: CallCandidate[]): Promise<void> {
    await this.toPair(ref, member, (_l, c) => ({ g: c.group, call: c.id, op: 'ice', cands }));
  }

  /**
   * The pair with `member`: the a=fingerprint of the description the connection applied and
   * (once connected) the remote certificate it reports must be the one the member signed. A
   * mismatch refuses the pair (`refused` event) and is a VerificationError.
   */
  checkFingerprint(ref: string, member: string, appliedSdp: string, statsFingerprint?: string): void {
    const l = this.ctx.find(ref);
    const c = this.calls.get(hex(l.rec.id));
    const p = c?.joined ? c.in.get(member) : undefined;
    if (!c || !p) throw new UsageError('that member is not in the call');
    let ok = !p.refused && p.fp !== undefined && callFingerprintMatches(appliedSdp, p.fp);
    if (ok && statsFingerprint !== undefined) {
      const s = parseFingerprint(statsFingerprint);
      ok = s !== undefined && equalBytes(s, p.fp!);
    }
    if (!ok) {
      this.refuse(l, c, member);
      throw new VerificationError('the media path is not the one the member signed');
    }
  }

  /** Removed from the group, or the group left: out of its call. */
  groupGone(group: Uint8Array): void {
    const c = this.calls.get(hex(group));
    if (!c) return;
    this.forget(c);
    if (c.joined)
      this.ctx.host.emitCall({ group: hex(group), call: hex(c.id), type: 'ended', reason: 'left' });
  }

  /** Members who left the group or were removed: out of its call (`left`, or `ended` when nobody stays). */
  membersGone(l: Loaded, keys: readonly string[]): void {
    const c = this.calls.get(hex(l.rec.id));
    if (!c) return;
    for (const k of keys) {
      if (!c.in.delete(k)) continue;
      const e: GroupCallEvent = { group: hex(c.group), call: hex(c.id), type: c.joined ? 'left' : 'state' };
      e.member = k;
      e.name = this.ctx.displayName(l, fromHex(k));
      this.ctx.host.emitCall(e);
    }
    if (c.in.size === 0) {
      this.forget(c);
      this.ctx.host.emitCall({ group: hex(c.group), call: hex(c.id), type: 'ended', reason: 'left' });
    }
  }

  /**
   * A `gcall` envelope from `from` (a contact or group peer, one device's view), under the
   * account's lock. Throws ProtocolError (or VerificationError) to refuse; replies go out after.
   */
  receive(from: ContactRecord, env: Envelope, after: Array<() => void>): void {
    const b = decodeGroupCallSignalBody(env.body);
    const g = hex(b.g);
    const l = this.ctx.groups.get(g);
    if (!l || l.rec.status !== 'joined') throw new ProtocolError('a call signal for a group I am not in');
    const st = this.ctx.state(l);
    if (st.settings.public) throw new ProtocolError('a call signal in a public room');
    const key = this.ctx.memberOfContact(l, from);
    // Bound to a member key by the group's bind; that member must be in the group now.
    if (!key || !st.members.has(hex(key))) throw new ProtocolError('a call signal from someone not a member');
    const m = hex(key);
    const me = hex(this.ctx.me(l).publicKey);
    if (m === me) throw new ProtocolError('a call signal from my own member key');
    const device = env.device;
    let c = this.calls.get(g);
    if (c && !equalBytes(c.id, b.call)) {
      // One call per group: another one's signals count only when the one known is empty.
      if (c.in.size > 0 || (b.op !== 'ring' && b.op !== 'join')) return;
      this.forget(c);
      c = undefined;
    }
    const emit = (e: Omit<GroupCallEvent, 'group' | 'call'>): void => {
      after.push(() => this.ctx.host.emitCall({ group: g, call: hex(b.call), ...e }));
    };
    const named = { member: m, name: this.ctx.displayName(l, key) };
    switch (b.op) {
      case 'ring':
      case 'join': {
        if (!c) {
          if (b.op === 'ring' && Math.abs(this.ctx.host.now() - env.ts) > GROUP_CALL_RING_FRESH_MS) return;
          c = {
            id: b.call,
            group: l.rec.id,
            video: b.video!,
            started: Math.min(env.ts, this.ctx.host.now()),
            in: new Map(),
            joined: false,
            answered: false,
          };
          this.keep(c);
        }
        const known = c.in.get(m);
        if (known) {
          known.device = device;
          return;
        }
        if (c.in.size >= MAX_GROUP_CALL_PARTICIPANTS) {
          if (c.joined) after.push(() => this.reply(l, from, device, b, 'full'));
          return;
        }
        c.in.set(m, { device });
        if (b.op === 'join') c.answered = true;
        if (c.joined) clearTimeout(c.timer);
        emit({ type: c.joined ? 'joined' : b.op === 'ring' ? 'ring' : 'state', video: c.video, ...named });
        return;
      }
      case 'leave': {
        if (!c || !c.in.delete(m)) return;
        if (c.in.size === 0) {
          this.forget(c);
          emit({ type: 'ended', reason: 'left' });
        } else emit({ type: c.joined ? 'left' : 'state', ...named });
        return;
      }
      case 'full': {
        if (!c?.joined || !c.in.has(m)) throw new ProtocolError('full for a call I am not joining');
        after.push(() => void this.leave(g, 'full').catch(() => undefined));
        return;
      }
      case 'offer':
      case 'answer':
      case 'ice': {
        if (!c?.joined) throw new ProtocolError('a pair signal for a call I am not in');
        let p = c.in.get(m);
        if (!p) {
          // An offer from one who joined before my ring or join reached me.
          if (b.op !== 'offer' || b.n !== 0 || c.in.size >= MAX_GROUP_CALL_PARTICIPANTS)
            throw new ProtocolError('a pair signal from a member not in the call');
          p = { device };
          c.in.set(m, p);
          emit({ type: 'joined', video: c.video, ...named });
        }
        if (p.refused) throw new ProtocolError('a pair signal from a member refused in this call');
        if (p.device && !equalBytes(p.device, device) && b.op !== 'offer')
          throw new ProtocolError('a pair signal from another device than the call');
        if (b.op === 'ice') {
          emit({ type: 'ice', cands: b.cands!, ...named });
          return;
        }
        const held =
          verifyGroupCallFingerprint(b.sig!, b.g, b.call, key, fromHex(me), b.fp!) &&
          callFingerprintMatches(b.sdp!, b.fp!) &&
          (p.fp === undefined || equalBytes(p.fp, b.fp!));
        if (!held) {
          const call = c;
          after.push(() => this.refuse(l, call, m));
          return;
        }
        p.fp = b.fp!;
        p.device = device;
        emit({ type: b.op, sdp: b.sdp!, n: b.n!, ...named });
        return;
      }
    }
  }

  private signFp(l: Loaded, c: GroupCall, to: Uint8Array, fp: Uint8Array): Uint8Array {
    const me = this.ctx.me(l);
    return signGroupCallFingerprint(me.secretKey, c.group, c.id, me.publicKey, to, fp);
  }

  private refuse(l: Loaded, c: GroupCall, member: string): void {
    const p = c.in.get(member);
    if (!p || p.refused) return;
    p.refused = true;
    this.ctx.host.emitCall({
      group: hex(c.group),
      call: hex(c.id),
      type: 'refused',
      reason: 'fingerprint',
      member,
      name: this.ctx.displayName(l, fromHex(member)),
    });
  }

  /** Sends one pair signal to `member` (to the device it signals from). */
  private async toPair(
    ref: string,
    member: string,
    body: (l: Loaded, c: GroupCall, to: Uint8Array) => GroupCallSignalBody,
  ): Promise<void> {
    const l = this.ctx.find(ref);
    const c = this.calls.get(hex(l.rec.id));
    const p = c?.joined ? c.in.get(member) : undefined;
    if (!c || !p || p.refused) throw new UsageError('that member is not in the call');
    const key = fromHex(member);
    const link = this.ctx.linkOf(l, key);
    if (!link) throw new UsageError('no session with that member yet');
    await this.ctx.host.sendNow(link, 'gcall', encodeGroupCallSignalBody(body(l, c, key)), p.device);
  }

  /** Ring, join, leave: to every member with a session; how many were reached. */
  private async toMembers(l: Loaded, b: GroupCallSignalBody): Promise<number> {
    const me = this.ctx.me(l).publicKey;
    const body = encodeGroupCallSignalBody(b);
    const sent = await Promise.all(
      [...this.ctx.state(l).members.values()]
        .filter((x) => !equalBytes(x.key, me))
        .map((x) => this.ctx.linkOf(l, x.key))
        .filter((c): c is ContactRecord => c !== undefined && c.status === 'active')
        .map((c) =>
          this.ctx.host.sendNow(c, 'gcall', body).then(
            () => 1,
            () => 0,
          ),
        ),
    );
    return sent.reduce<number>((a, x) => a + x, 0);
  }

  private reply(l: Loaded, to: ContactRecord, device: Uint8Array, b: GroupCallSignalBody, op: 'full'): void {
    void this.ctx.host
      .sendNow(to, 'gcall', encodeGroupCallSignalBody({ g: l.rec.id, call: b.call, op }), device)
      .catch(() => undefined);
  }

  /** Keeps a call; the oldest call heard of (not joined) goes first when too many are known. */
  private keep(c: GroupCall): void {
    this.calls.set(hex(c.group), c);
    if (this.calls.size <= MAX_KNOWN_GROUP_CALLS) return;
    const oldest = [...this.calls.values()].filter((x) => !x.joined).sort((a, b) => a.started - b.started)[0];
    if (oldest) this.forget(oldest);
  }

  private forget(c: GroupCall): void {
    clearTimeout(c.timer);
    if (this.calls.get(hex(c.group)) === c) this.calls.delete(hex(c.group));
  }
}
