/**
 * The media side of a 1:1 call (decision 0046), in the call chunk: one RTCPeerConnection, the
 * camera and microphone, and the engine's signalling (Account.startCall and friends). The
 * engine carries the SDP and candidates end to end and checks the DTLS fingerprints; this side
 * hands it what the browser applied: the remote description, and once connected the remote
 * certificate's fingerprint from getStats. Only the caller restarts ICE (after a network change),
 * so that the two sides never offer at once.
 */
import type { CallEvent } from '@parus/client';
import type { CallApi } from '../engine-loader.ts';
import { relayOnly } from './relay-only.ts';
import { setTracksEnabled } from './media-toggles.tsx';

export type CallPhase = 'incoming' | 'calling' | 'connecting' | 'connected' | 'reconnecting' | 'ended';

export interface CallView {
  call?: string;
  alias: string;
  dir: 'in' | 'out';
  video: boolean;
  phase: CallPhase;
  reason?: CallEvent['reason'];
  missed?: boolean;
  /** The media path's certificate is the one the contact signed (checked once connected). */
  verified: boolean;
  muted: boolean;
  cameraOn: boolean;
  connectedAt?: number;
  cameras: number;
  speakers: number;
  /** Something the browser refused (no microphone, permission denied). */
  error?: string;
}

/** The SHA-256 fingerprint of the certificate as bytes. */
export async function certificateFingerprint(cert: RTCCertificate): Promise<Uint8Array> {
  const f = cert.getFingerprints().find((x) => x.algorithm?.toLowerCase() === 'sha-256');
  if (!f?.value) throw new Error('no SHA-256 certificate fingerprint');
  const parts = f.value.split(':');
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

/** Waits until ICE gathering is complete, or `ms` passed (the rest trickles). */
export function gathered(pc: RTCPeerConnection, ms = 4000): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = (): void => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** While the media path stays down, the caller offers a new ICE restart this often. */
export const RESTART_AGAIN_MS = 8000;

export class CallMedia {
  view: CallView | undefined;
  readonly remote = new MediaStream();
  local: MediaStream | undefined;
  private pc: RTCPeerConnection | undefined;
  private cert: RTCCertificate | undefined;
  private offer: string | undefined;
  private pendingCands: RTCIceCandidateInit[] = [];
  private sdpSent = false;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** The negotiation number of my last ICE restart offer. */
  private lastRestart = 0;
  private readonly listeners = new Set<() => void>();
  private readonly off: () => void;

  constructor(
    private readonly api: CallApi,
    private readonly iceServers: () => Promise<RTCIceServer[]>,
  ) {
    this.off = api.events.on('call', (e) => this.feed(e));
  }

  subscribe(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private changed(): void {
    for (const f of this.listeners) f();
  }

  private set(patch: Partial<CallView>): void {
    if (this.view) this.view = { ...this.view, ...patch };
    this.changed();
  }

  /** Events from the engine (and, replayed once, those that came while this chunk loaded). */
  feed(e: CallEvent): void {
    void this.handle(e).catch((err: unknown) => console.warn('parus: call event failed', err));
  }

  private async handle(e: CallEvent): Promise<void> {
    const v = this.view;
    if (e.type === 'incoming') {
      if (v && v.phase !== 'ended') return; // the engine answers busy itself
      this.reset();
      this.offer = e.sdp;
      this.view = {
        call: e.call,
        alias: e.alias,
        dir: 'in',
        video: e.video === true,
        phase: 'incoming',
        verified: false,
        muted: false,
        cameraOn: e.video === true,
        cameras: 0,
        speakers: 0,
      };
      this.changed();
      return;
    }
    if (
      e.type === 'ended' &&
      e.reason === 'fingerprint' &&
      (!v || v.call !== e.call || v.phase === 'ended')
    ) {
      // An offer refused before it rang: the warning still shows.
      this.reset();
      this.view = {
        call: e.call,
        alias: e.alias,
        dir: 'in',
        video: false,
        phase: 'ended',
        reason: 'fingerprint',
        verified: false,
        muted: false,
        cameraOn: false,
        cameras: 0,
        speakers: 0,
      };
      this.changed();
      return;
    }
    if (!v || v.call !== e.call) return;
    if (e.type === 'ended') {
      this.stopMedia();
      const end: Partial<CallView> = { phase: 'ended', reason: e.reason };
      if (e.missed) end.missed = true;
      this.set(end);
      return;
    }
    const pc = this.pc;
    if (e.type === 'ice') {
      for (const c of e.cands ?? []) {
        const init: RTCIceCandidateInit = { candidate: c.c };
        if (c.mid !== undefined) init.sdpMid = c.mid;
        if (c.i !== undefined) init.sdpMLineIndex = c.i;
        if (pc?.remoteDescription) await pc.addIceCandidate(init).catch(() => undefined);
        else this.pendingCands.push(init);
      }
      return;
    }
    if (!pc) return;
    if (e.type === 'answer') {
      // An answer to an ICE restart offered before the last one: the connection waits for the last.
      if ((e.n ?? 0) > 0 && e.n !== this.lastRestart) return;
      await pc.setRemoteDescription({ type: 'answer', sdp: e.sdp! });
      await this.api.checkCallFingerprint(e.call, pc.remoteDescription!.sdp);
      await this.flushCandidates();
      if (v.phase === 'calling') this.set({ phase: 'connecting' });
      return;
    }
    if (e.type === 'offer') {
      // The caller restarted ICE (a network change): answer on the same connection.
      await pc.setRemoteDescription({ type: 'offer', sdp: e.sdp! });
      await this.api.checkCallFingerprint(e.call, pc.remoteDescription!.sdp);
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
      await this.api.answerCallRenegotiation(e.call, e.n!, {
        sdp: pc.localDescription!.sdp,
        fp: await certificateFingerprint(this.cert!),
      });
    }
  }

  private async flushCandidates(): Promise<void> {
    const pc = this.pc!;
    for (const c of this.pendingCands.splice(0)) await pc.addIceCandidate(c).catch(() => undefined);
  }

  /** Camera and microphone, and a connection with its own certificate. */
  private async open(video: boolean): Promise<RTCPeerConnection> {
    this.local = await navigator.mediaDevices.getUserMedia({ audio: true, video });
    this.cert = await RTCPeerConnection.generateCertificate({
      name: 'ECDSA',
      namedCurve: 'P-256',
    } as EcKeyGenParams);
    const config: RTCConfiguration = { iceServers: await this.iceServers(), certificates: [this.cert] };
    if (relayOnly()) config.iceTransportPolicy = 'relay';
    const pc = new RTCPeerConnection(config);
    this.pc = pc;
    for (const t of this.local.getTracks()) pc.addTrack(t, this.local);
    pc.ontrack = (ev) => {
      if (!this.remote.getTracks().includes(ev.track)) this.remote.addTrack(ev.track);
      this.changed();
    };
    pc.onicecandidate = (ev) => {
      const call = this.view?.call;
      if (!ev.candidate || !call || !this.sdpSent) return;
      const c: { c: string; mid?: string; i?: number } = { c: ev.candidate.candidate };
      if (ev.candidate.sdpMid !== null) c.mid = ev.candidate.sdpMid;
      if (ev.candidate.sdpMLineIndex !== null) c.i = ev.candidate.sdpMLineIndex;
      void this.api.sendCallCandidates(call, [c]).catch(() => undefined);
    };
    pc.onconnectionstatechange = () => void this.onState().catch(() => undefined);
    await this.countDevices();
    return pc;
  }

  private async countDevices(): Promise<void> {
    const all = await navigator.mediaDevices.enumerateDevices().catch(() => []);
    const speakers =
      'setSinkId' in HTMLMediaElement.prototype ? all.filter((d) => d.kind === 'audiooutput').length : 0;
    this.set({ cameras: all.filter((d) => d.kind === 'videoinput').length, speakers });
  }

  private async onState(): Promise<void> {
    const pc = this.pc;
    const v = this.view;
    if (!pc || !v?.call || v.phase === 'ended') return;
    const s = pc.connectionState;
    if (s === 'connected') {
      clearTimeout(this.restartTimer);
      const first = v.connectedAt === undefined;
      if (first) performance.mark('parus:call-connected');
      this.set({ phase: 'connected', ...(first ? { connectedAt: Date.now() } : {}) });
      if (first) this.api.callConnected(v.call);
      // The certificate the media path actually uses must be the one the contact signed.
      const stats = new Map<string, Record<string, unknown>>();
      (await pc.getStats()).forEach((r: Record<string, unknown>) => stats.set(r.id as string, r));
      let fingerprint: string | undefined;
      for (const r of stats.values()) {
        if (r.type !== 'transport' || typeof r.remoteCertificateId !== 'string') continue;
        const cert = stats.get(r.remoteCertificateId);
        if (String(cert?.fingerprintAlgorithm).toLowerCase() === 'sha-256')
          fingerprint = String(cert!.fingerprint);
      }
      await this.api.checkCallFingerprint(v.call, pc.remoteDescription!.sdp, fingerprint ?? '');
      this.set({ verified: true });
    } else if (s === 'disconnected' || s === 'failed') {
      this.set({ phase: 'reconnecting' });
      if (v.dir !== 'out') return;
      clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(
        () => void this.restart().catch(() => undefined),
        s === 'failed' ? 0 : 2000,
      );
    }
  }

  /**
   * An ICE restart, offered by the caller, after a network change; tried again every
   * RESTART_AGAIN_MS while the path stays down (the network, or the TURN server, may come back
   * later than the first try).
   */
  private async restart(): Promise<void> {
    const pc = this.pc;
    const call = this.view?.call;
    if (!pc || !call || this.view?.phase !== 'reconnecting') return;
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => void this.restart().catch(() => undefined), RESTART_AGAIN_MS);
    if (pc.signalingState !== 'stable') await pc.setLocalDescription({ type: 'rollback' });
    await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
    await gathered(pc);
    this.lastRestart = await this.api.renegotiateCall(call, {
      sdp: pc.localDescription!.sdp,
      fp: await certificateFingerprint(this.cert!),
    });
  }

  /** Calls `alias`: rings every device of theirs. */
  async start(alias: string, video: boolean): Promise<void> {
    if (this.view && this.view.phase !== 'ended') return;
    this.reset();
    this.view = {
      alias,
      dir: 'out',
      video,
      phase: 'calling',
      verified: false,
      muted: false,
      cameraOn: video,
      cameras: 0,
      speakers: 0,
    };
    this.changed();
    performance.mark('parus:call-start');
    try {
      const pc = await this.open(video);
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      // For bench/calls-bench.ts (setup time, offer to connected) and the browser's tools.
      performance.mark('parus:call-offer');
      const call = await this.api.startCall(alias, {
        video,
        sdp: pc.localDescription!.sdp,
        fp: await certificateFingerprint(this.cert!),
      });
      this.sdpSent = true;
      this.set({ call });
    } catch (e) {
      this.stopMedia();
      this.set({ phase: 'ended', reason: 'failed', error: e instanceof Error ? e.name : 'Error' });
    }
  }

  async accept(): Promise<void> {
    const v = this.view;
    if (!v?.call || v.phase !== 'incoming') return;
    this.set({ phase: 'connecting' });
    try {
      const pc = await this.open(v.video);
      await pc.setRemoteDescription({ type: 'offer', sdp: this.offer! });
      await this.api.checkCallFingerprint(v.call, pc.remoteDescription!.sdp);
      await this.flushCandidates();
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
      await this.api.answerCall(v.call, {
        sdp: pc.localDescription!.sdp,
        fp: await certificateFingerprint(this.cert!),
      });
      this.sdpSent = true;
    } catch (e) {
      // A fingerprint mismatch has ended the call already (the `ended` event says why).
      if (this.view?.phase !== 'ended') {
        await this.api.hangUpCall(v.call).catch(() => undefined);
        this.stopMedia();
        this.set({ phase: 'ended', reason: 'failed', error: e instanceof Error ? e.name : 'Error' });
      }
    }
  }

  async decline(): Promise<void> {
    const call = this.view?.call;
    if (call) await this.api.declineCall(call).catch(() => undefined);
  }

  async hangUp(): Promise<void> {
    const call = this.view?.call;
    this.stopMedia();
    if (call) await this.api.hangUpCall(call).catch(() => undefined);
    if (this.view && this.view.phase !== 'ended') this.set({ phase: 'ended', reason: 'hangup' });
  }

  toggleMute(): void {
    const muted = !this.view?.muted;
    setTracksEnabled(this.local, 'audio', !muted);
    this.set({ muted });
  }

  toggleCamera(): void {
    const on = !this.view?.cameraOn;
    setTracksEnabled(this.local, 'video', on);
    this.set({ cameraOn: on });
  }

  /** The next camera (front/back on a phone), where the browser has more than one. */
  async switchCamera(): Promise<void> {
    const pc = this.pc;
    const current = this.local?.getVideoTracks()[0];
    if (!pc || !current || !this.local) return;
    const cams = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
    if (cams.length < 2) return;
    const at = cams.findIndex((d) => d.deviceId === current.getSettings().deviceId);
    const next = cams[(at + 1) % cams.length]!;
    const s = await navigator.mediaDevices.getUserMedia({ video: { deviceId: { exact: next.deviceId } } });
    const track = s.getVideoTracks()[0]!;
    track.enabled = this.view?.cameraOn !== false;
    await pc
      .getSenders()
      .find((x) => x.track?.kind === 'video')
      ?.replaceTrack(track);
    this.local.removeTrack(current);
    current.stop();
    this.local.addTrack(track);
    this.changed();
  }

  /** The next audio output (speaker, earpiece, headset), where the browser lets a page choose. */
  async switchSpeaker(el: HTMLMediaElement | null): Promise<void> {
    const withSink = el as
      | (HTMLMediaElement & { setSinkId?: (id: string) => Promise<void>; sinkId?: string })
      | null;
    if (!withSink?.setSinkId) return;
    const outs = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'audiooutput');
    if (outs.length < 2) return;
    const at = outs.findIndex((d) => d.deviceId === withSink.sinkId);
    await withSink.setSinkId(outs[(at + 1) % outs.length]!.deviceId);
  }

  /** Closes the ended call's screen. */
  dismiss(): void {
    if (this.view?.phase === 'ended') {
      this.view = undefined;
      this.changed();
    }
  }

  private stopMedia(): void {
    clearTimeout(this.restartTimer);
    for (const t of this.local?.getTracks() ?? []) t.stop();
    this.pc?.close();
    this.pc = undefined;
  }

  private reset(): void {
    this.stopMedia();
    for (const t of this.remote.getTracks()) this.remote.removeTrack(t);
    this.local = undefined;
    this.offer = undefined;
    this.pendingCands = [];
    this.sdpSent = false;
  }

  close(): void {
    this.stopMedia();
    this.off();
  }
}
