/**
 * Call signalling, the account's part for it (docs/decisions/0046). The UI runs the media
 * (WebRTC); this engine carries its offers, answers and ICE candidates as `call` envelopes
 * inside the end-to-end sessions, ephemeral like typing signals (never stored, never resent,
 * sent at once to a connected relay), keeps each call's state in memory, and at the end of a
 * call the caller writes one `call-log` message (通話時間 3:12, 未接來電), which reaches both
 * sides through the ordinary outbox.
 *
 * A contact with several devices (decision 0038): an offer rings every device I have a session
 * with; the first answer takes the call, the other devices get `taken` and stop ringing, and
 * from then on the call's signals go to that device only. One call at a time: an offer while a
 * call is under way is answered `busy`.
 *
 * Refusals (ProtocolError: the envelope is dropped, nothing changes): an answer or a candidate
 * for a call never offered, an answer from a device the offer did not ring, a renegotiation from
 * another device than the call's. A signalled DTLS fingerprint that is not the one in the SDP,
 * or not the one the media path reports (checkFingerprint), ends the call with reason
 * `fingerprint`: the UI shows a warning.
 */
import {
  ProtocolError,
  UsageError,
  VerificationError,
  CALL_ID_BYTES,
  callFingerprintMatches,
  createEnvelope,
  decodeCallSignalBody,
  decodeRatchetState,
  encodeCallLogBody,
  encodeCallSignalBody,
  encodeEnvelope,
  encodeRatchetState,
  equalBytes,
  padToBucket,
  parseFingerprint,
  ratchetEncrypt,
  type CallCandidate,
  type CallLogBody,
  type CallOutcome,
  type CallSignalBody,
  type CborMap,
  type Envelope,
} from '@parus/core';
import type { ContactRecord } from '../records.ts';
import { hex, recvQueues, sendQueues, type AccountContext } from './account-context.ts';
import { deviceView, mergeDeviceView, remoteDevices } from './contact-devices.ts';
import type { DirectMessaging } from './direct-messaging.ts';

/** An offer older than this (by its sender's clock) does not ring: the caller has given up. */
export const CALL_RING_FRESH_MS = 60_000;
/** The caller gives up after this long without an answer (a missed call). */
export const CALL_RING_TIMEOUT_MS = 45_000;
/** An ended call is remembered this long, so that its late signals are dropped quietly. */
const ENDED_KEEP_MS = 120_000;
/** How long sending a signal waits for the relay to be connected. */
const SIGNAL_CONNECT_MS = 10_000;

export type { CallEndReason, CallEvent, CallInfo, TurnServer } from '../public-shapes.ts';
import type { CallEndReason, CallEvent, CallInfo, TurnServer } from '../public-shapes.ts';

interface Call {
  id: Uint8Array;
  contact: string;
  alias: string;
  dir: 'in' | 'out';
  video: boolean;
  state: 'ringing' | 'active' | 'ended';
  /** The other side's device: the caller's, or (once answered) the callee's. */
  device?: Uint8Array;
  /** Outgoing, while ringing: the devices the offer rang, and which of them said busy. */
  rang: Uint8Array[];
  busy: number;
  /** The fingerprint the other side signalled, once known. */
  remoteFp?: Uint8Array;
  /** Negotiations so far (0: the first offer). */
  n: number;
  started: number;
  connectedAt?: number;
  timer?: ReturnType<typeof setTimeout>;
}

export type CallsContext = Pick<
  AccountContext,
  | 'rng'
  | 'now'
  | 'lock'
  | 'events'
  | 'contactsById'
  | 'relays'
  | 'device'
  | 'connected'
  | 'saveContact'
  | 'mustSendable'
  | 'closed'
  | 'self'
>;

export class CallSignalling {
  private readonly calls = new Map<string, Call>();
  private turn: { servers: TurnServer[]; until: number } | undefined;

  constructor(
    private readonly ctx: CallsContext,
    private readonly messaging: DirectMessaging,
    private readonly emit: (e: CallEvent) => void,
  ) {}

  /** The calls not over yet. */
  list(): CallInfo[] {
    return [...this.calls.values()].filter((c) => c.state !== 'ended').map((c) => this.info(c));
  }

  private info(c: Call): CallInfo {
    const i: CallInfo = { call: hex(c.id), alias: c.alias, dir: c.dir, video: c.video, state: c.state };
    if (c.connectedAt !== undefined) i.connectedAt = c.connectedAt;
    return i;
  }

  private busyNow(): boolean {
    return [...this.calls.values()].some((c) => c.state !== 'ended');
  }

  private must(callHex: string): Call {
    const c = this.calls.get(callHex);
    if (!c || c.state === 'ended') throw new UsageError('no such call under way');
    return c;
  }

  /**
   * TURN servers for calls from my home relay (decision 0046): short-lived credentials the relay
   * hands to its own users, asked with one of my queues there; kept until an hour before they
   * expire. None when the relay offers none or cannot be asked now.
   */
  async iceServers(): Promise<TurnServer[]> {
    const now = this.ctx.now();
    if (this.turn && this.turn.until > now) return this.turn.servers;
    const home = this.ctx.self().relay;
    const q = [...this.ctx.contactsById.values()].flatMap(recvQueues).find((x) => x.relay === home);
    if (!q) return [];
    try {
      const r = await this.ctx.connected(home, SIGNAL_CONNECT_MS);
      const reply = await r.command({ t: 'turn', rid: q.rid }, q.rk);
      if (reply.t !== 'turnc') return [];
      const servers = [{ urls: reply.urls, username: reply.user, credential: reply.pass }];
      this.turn = { servers, until: now + Math.max(0, reply.ttl - 3600) * 1000 };
      return servers;
    } catch {
      return [];
    }
  }

  /** Rings every device of the contact with an offer; resolves with the call id. */
  async start(alias: string, offer: { video: boolean; sdp: string; fp: Uint8Array }): Promise<string> {
    const contact = this.ctx.mustSendable(alias);
    if (this.busyNow()) throw new UsageError('a call is already under way');
    const id = this.ctx.rng.bytes(CALL_ID_BYTES);
    const body = encodeCallSignalBody({ call: id, op: 'offer', n: 0, ...offer });
    const devices = remoteDevices(contact);
    if (devices.length === 0) throw new UsageError('this contact cannot be called yet');
    const call: Call = {
      id,
      contact: hex(contact.id),
      alias: contact.alias,
      dir: 'out',
      video: offer.video,
      state: 'ringing',
      rang: devices,
      busy: 0,
      n: 0,
      started: this.ctx.now(),
    };
    this.calls.set(hex(id), call);
    call.timer = setTimeout(
      () => void this.end(call, 'timeout', true).catch(() => undefined),
      CALL_RING_TIMEOUT_MS,
    );
    call.timer.unref?.();
    const sent = await Promise.all(
      devices.map((d) =>
        this.sendTo(call.contact, d, body).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (!sent.some(Boolean)) {
      await this.end(call, 'failed', false);
      throw new UsageError('the call could not be signalled: no relay reachable');
    }
    return hex(id);
  }

  /** Answers a ringing incoming call (this device takes it). */
  async answer(callHex: string, answer: { sdp: string; fp: Uint8Array }): Promise<void> {
    const c = this.must(callHex);
    if (c.dir !== 'in' || c.state !== 'ringing') throw new UsageError('this call is not ringing here');
    const body = encodeCallSignalBody({ call: c.id, op: 'answer', n: 0, ...answer });
    c.state = 'active';
    clearTimeout(c.timer);
    await this.sendTo(c.contact, c.device!, body);
  }

  /** A new offer (renegotiation, an ICE restart after a network change) in an answered call. */
  async renegotiate(callHex: string, offer: { sdp: string; fp: Uint8Array }): Promise<number> {
    const c = this.must(callHex);
    if (c.state !== 'active' || !c.device) throw new UsageError('the call is not answered yet');
    c.n++;
    await this.sendTo(
      c.contact,
      c.device,
      encodeCallSignalBody({ call: c.id, op: 'offer', n: c.n, video: c.video, ...offer }),
    );
    return c.n;
  }

  /** Answers the other side's renegotiation `n`. */
  async answerRenegotiation(
    callHex: string,
    n: number,
    answer: { sdp: string; fp: Uint8Array },
  ): Promise<void> {
    const c = this.must(callHex);
    if (c.state !== 'active' || !c.device) throw new UsageError('the call is not answered yet');
    await this.sendTo(c.contact, c.device, encodeCallSignalBody({ call: c.id, op: 'answer', n, ...answer }));
  }

  /** Trickled ICE candidates: to the call's device, or while it rings, to every device it rings. */
  async candidates(callHex: string, cands: CallCandidate[]): Promise<void> {
    const c = this.must(callHex);
    const body = encodeCallSignalBody({ call: c.id, op: 'ice', cands });
    const to = c.device ? [c.device] : c.rang;
    await Promise.all(to.map((d) => this.sendTo(c.contact, d, body).catch(() => undefined)));
  }

  /** Declines a ringing incoming call. */
  async decline(callHex: string): Promise<void> {
    const c = this.must(callHex);
    if (c.dir !== 'in' || c.state !== 'ringing') throw new UsageError('this call is not ringing here');
    await this.end(c, 'declined', true, 'decline');
  }

  /** Hangs up (or, for a call still ringing at the other side, cancels it: a missed call there). */
  async hangUp(callHex: string): Promise<void> {
    const c = this.calls.get(callHex);
    if (!c || c.state === 'ended') return;
    await this.end(c, 'hangup', true);
  }

  /** The media path is up: the duration counts from here. */
  connected(callHex: string): void {
    const c = this.must(callHex);
    c.connectedAt ??= this.ctx.now();
  }

  /**
   * Checks the DTLS fingerprint of the media path against the one the contact signalled: the
   * a=fingerprint of the remote description the connection applied, and (when known) the one its
   * stats report for the remote certificate ("AA:BB:..."). A mismatch ends the call (reason
   * `fingerprint`) and is a VerificationError.
   */
  async checkFingerprint(callHex: string, appliedSdp: string, statsFingerprint?: string): Promise<void> {
    const c = this.must(callHex);
    const fp = c.remoteFp;
    let ok = fp !== undefined && callFingerprintMatches(appliedSdp, fp);
    if (ok && statsFingerprint !== undefined) {
      const s = parseFingerprint(statsFingerprint);
      ok = s !== undefined && equalBytes(s, fp!);
    }
    if (!ok) {
      await this.end(c, 'fingerprint', true);
      throw new VerificationError('the media path is not the one the contact signed');
    }
  }

  /**
   * A `call` envelope from `from` (a device view of the contact), under the lock. Throws
   * ProtocolError to refuse; replies (busy, taken) go out after the lock is released.
   */
  receive(from: ContactRecord, env: Envelope, after: Array<() => void>): void {
    const b = decodeCallSignalBody(env.body);
    const key = hex(b.call);
    const c = this.calls.get(key);
    const device = from.device!;
    const contact = hex(from.id);
    if (c && c.contact !== contact) throw new ProtocolError('a call signal from another contact');
    if (c?.state === 'ended') {
      // Late signals of a call over: an answer is told so, the rest dropped.
      if (b.op === 'answer' && c.dir === 'out')
        after.push(() => this.reply(contact, device, b.call, 'hangup'));
      return;
    }
    switch (b.op) {
      case 'offer': {
        if (b.n! > 0) {
          if (!c || !c.device || !equalBytes(c.device, device) || c.state !== 'active')
            throw new ProtocolError('a renegotiation of a call not under way');
          if (!this.fingerprintHeld(c, b, after)) return;
          after.push(() => this.emit({ alias: c.alias, call: key, type: 'offer', sdp: b.sdp!, n: b.n! }));
          return;
        }
        if (c) return; // the same offer again
        if (Math.abs(this.ctx.now() - env.ts) > CALL_RING_FRESH_MS) return;
        if (this.busyNow()) {
          after.push(() => this.reply(contact, device, b.call, 'busy'));
          return;
        }
        const call: Call = {
          id: b.call,
          contact,
          alias: from.alias,
          dir: 'in',
          video: b.video!,
          state: 'ringing',
          device,
          rang: [],
          busy: 0,
          n: 0,
          started: this.ctx.now(),
        };
        this.calls.set(key, call);
        if (!this.fingerprintHeld(call, b, after)) return;
        // The caller gives up before this; this only frees the line if its hangup is lost.
        call.timer = setTimeout(
          () => void this.end(call, 'timeout', false).catch(() => undefined),
          CALL_RING_FRESH_MS,
        );
        call.timer.unref?.();
        after.push(() =>
          this.emit({ alias: call.alias, call: key, type: 'incoming', video: call.video, sdp: b.sdp!, n: 0 }),
        );
        return;
      }
      case 'answer': {
        if (!c || c.dir !== 'out') throw new ProtocolError('an answer for a call never offered');
        if (!c.rang.some((d) => equalBytes(d, device)))
          throw new ProtocolError('an answer from a device the call did not ring');
        if (b.n! > 0) {
          if (!c.device || !equalBytes(c.device, device) || b.n! > c.n)
            throw new ProtocolError('an answer to a renegotiation never offered');
          if (!this.fingerprintHeld(c, b, after)) return;
          after.push(() => this.emit({ alias: c.alias, call: key, type: 'answer', sdp: b.sdp!, n: b.n! }));
          return;
        }
        if (c.device) {
          // Another device answered first: this one stops.
          if (!equalBytes(c.device, device)) after.push(() => this.reply(contact, device, b.call, 'taken'));
          return;
        }
        c.device = device;
        c.state = 'active';
        clearTimeout(c.timer);
        if (!this.fingerprintHeld(c, b, after)) return;
        const others = c.rang.filter((d) => !equalBytes(d, device));
        after.push(() => {
          for (const d of others) this.reply(contact, d, b.call, 'taken');
          this.emit({ alias: c.alias, call: key, type: 'answer', sdp: b.sdp!, n: 0 });
        });
        return;
      }
      case 'ice': {
        if (!c) throw new ProtocolError('candidates for a call never offered');
        this.mustBeTheirs(c, device);
        after.push(() => this.emit({ alias: c.alias, call: key, type: 'ice', cands: b.cands! }));
        return;
      }
      case 'decline':
      case 'busy': {
        if (!c || c.dir !== 'out') throw new ProtocolError(`${b.op} for a call never offered`);
        if (!c.rang.some((d) => equalBytes(d, device)))
          throw new ProtocolError('a refusal from a device the call did not ring');
        if (c.device) return; // answered by another device already
        if (b.op === 'busy' && ++c.busy < c.rang.length) return; // another device may still answer
        after.push(
          () => void this.end(c, b.op === 'busy' ? 'busy' : 'declined', false).catch(() => undefined),
        );
        // Declined on one device: the others stop ringing.
        if (b.op === 'decline')
          for (const d of c.rang.filter((x) => !equalBytes(x, device)))
            after.push(() => this.reply(contact, d, b.call, 'hangup'));
        return;
      }
      case 'hangup':
      case 'taken': {
        if (!c) return; // a call that never rang here (too old, or busy)
        this.mustBeTheirs(c, device);
        if (b.op === 'taken' && c.dir !== 'in') throw new ProtocolError('taken for a call this device made');
        after.push(
          () => void this.end(c, b.op === 'taken' ? 'taken' : 'hangup', false).catch(() => undefined),
        );
        return;
      }
    }
  }

  /** A signal from a device that is not the call's other side is refused. */
  private mustBeTheirs(c: Call, device: Uint8Array): void {
    const theirs = c.device ? equalBytes(c.device, device) : c.rang.some((d) => equalBytes(d, device));
    if (!theirs) throw new ProtocolError('a call signal from a device not in the call');
  }

  /**
   * Keeps the signalled fingerprint; false (and the call ends with a warning) when the SDP
   * names another one, or when it changed within the call.
   */
  private fingerprintHeld(c: Call, b: CallSignalBody, after: Array<() => void>): boolean {
    const same = c.remoteFp === undefined || equalBytes(c.remoteFp, b.fp!);
    if (same && callFingerprintMatches(b.sdp!, b.fp!)) {
      c.remoteFp = b.fp!;
      return true;
    }
    after.push(() => void this.end(c, 'fingerprint', true).catch(() => undefined));
    return false;
  }

  /**
   * Ends a call here: tells the other side (`tell`: hangup, or decline), the UI (`ended`), and
   * for a call this device made, writes the call-log message.
   */
  private async end(
    c: Call,
    reason: CallEndReason,
    tell: boolean,
    op: 'hangup' | 'decline' = 'hangup',
  ): Promise<void> {
    if (c.state === 'ended') return;
    const wasRinging = c.state === 'ringing';
    c.state = 'ended';
    clearTimeout(c.timer);
    const key = hex(c.id);
    setTimeout(() => {
      if (this.calls.get(key) === c) this.calls.delete(key);
    }, ENDED_KEEP_MS).unref?.();
    const e: CallEvent = { alias: c.alias, call: key, type: 'ended', reason };
    if (c.dir === 'in' && wasRinging && reason !== 'declined' && reason !== 'taken') e.missed = true;
    this.emit(e);
    if (tell && !this.ctx.closed()) {
      const to = c.device && !(c.dir === 'out' && wasRinging) ? [c.device] : c.rang;
      await Promise.all(to.map((d) => this.reply(c.contact, d, c.id, op)));
    }
    if (c.dir === 'out' && !this.ctx.closed()) {
      const outcome: CallOutcome =
        reason === 'fingerprint' || reason === 'failed'
          ? 'failed'
          : wasRinging
            ? reason === 'busy'
              ? 'busy'
              : reason === 'declined'
                ? 'declined'
                : 'missed'
            : 'answered';
      const log: CallLogBody = { call: c.id, video: c.video, outcome };
      if (outcome === 'answered')
        log.secs =
          c.connectedAt === undefined ? 0 : Math.max(0, Math.round((this.ctx.now() - c.connectedAt) / 1000));
      await this.messaging
        .sendUserMessage(c.alias, 'call-log', undefined, () => ({
          body: encodeCallLogBody(log),
          fields: { text: '', callLog: log },
        }))
        .catch(() => undefined);
    }
  }

  /** A one-word answer (busy, taken, hangup, decline); lost answers are not retried. */
  private reply(
    contact: string,
    device: Uint8Array,
    call: Uint8Array,
    op: 'busy' | 'taken' | 'hangup' | 'decline',
  ): Promise<void> {
    return this.sendTo(contact, device, encodeCallSignalBody({ call, op })).catch(() => undefined);
  }

  /** Sends one `call` envelope through the session with one device of the contact, now. */
  private sendTo(contactHex: string, dev: Uint8Array, body: CborMap): Promise<void> {
    return this.sendNow(contactHex, dev, 'call', body);
  }

  /**
   * One ephemeral envelope (`call`, or a group call's `gcall`: decision 0053) through the session
   * with one device of a contact or group peer, now: never stored, never resent.
   */
  async sendNow(contactHex: string, dev: Uint8Array, kind: 'call' | 'gcall', body: CborMap): Promise<void> {
    const first = this.ctx.contactsById.get(contactHex);
    const firstView = first && deviceView(first, dev);
    if (!firstView?.send) throw new UsageError('no session with that device');
    // Wait for one of the device's relays (decision 0037: its second queue when the first is down).
    const queues = sendQueues(firstView);
    const up = queues.find((q) => this.ctx.relays.get(q.relay)?.connected) ?? queues[0]!;
    const r = await this.ctx.connected(up.relay, SIGNAL_CONNECT_MS);
    const prepared = await this.ctx.lock.run(async () => {
      const whole = this.ctx.contactsById.get(contactHex);
      const view = whole && deviceView(whole, dev);
      if (!whole || !view?.send) return undefined;
      const env = createEnvelope({
        device: this.ctx.device(),
        conv: view.conv,
        parents: [],
        lamport: 0,
        ts: this.ctx.now(),
        kind,
        body,
      });
      const enc = ratchetEncrypt(
        decodeRatchetState(view.session),
        padToBucket(encodeEnvelope(env)),
        view.ad,
        this.ctx.rng,
      );
      await this.ctx.saveContact(mergeDeviceView(whole, { ...view, session: encodeRatchetState(enc.state) }));
      const queue = sendQueues(view).find((q) => q.relay === up.relay) ?? view.send;
      return { wire: enc.message, sid: queue.sid, senderKey: view.senderKey };
    });
    if (!prepared) throw new UsageError('no session with that device');
    await r.command({ t: 'send', sid: prepared.sid, body: prepared.wire }, prepared.senderKey);
  }
}
