/**
 * The media side of a small group call (decision 0053), in the call chunk: the camera and
 * microphone once, and one RTCPeerConnection per other participant (a mesh of at most 4). The
 * engine (groups/group-call-signalling.ts) carries each pair's signals and checks the DTLS
 * fingerprint each member signed with its member key; this side hands it what the browser
 * applied and, once a pair is connected, the remote certificate from getStats. The member who
 * was in the call first offers to the one who joins and restarts that pair's ICE after a
 * network change; should both offer at once, the offer of the smaller member key wins.
 */
import type { GroupCallEvent } from '@parus/client';
import type { GroupCallApi } from '../engine-loader.ts';
import { RESTART_AGAIN_MS, certificateFingerprint, gathered } from './call-media.ts';
import { relayOnly } from './relay-only.ts';
import { setTracksEnabled } from './media-toggles.tsx';

export type PeerPhase = 'connecting' | 'connected' | 'reconnecting' | 'refused';

export interface PeerView {
  key: string;
  name: string;
  phase: PeerPhase;
  verified: boolean;
  stream: MediaStream;
}

export interface GroupCallView {
  group: string;
  call?: string;
  video: boolean;
  phase: 'joining' | 'in' | 'ended';
  /** Why it ended here: left, full (a fifth participant), failed (media or network). */
  reason?: 'left' | 'full' | 'failed';
  muted: boolean;
  cameraOn: boolean;
  peers: PeerView[];
  /** Members whose media path was not the one they signed (a warning stays shown). */
  refused: string[];
  error?: string;
}

interface Pair {
  key: string;
  name: string;
  pc: RTCPeerConnection;
  cert: RTCCertificate;
  /** I offered on this pair (I was in first); I restart its ICE. */
  offerer: boolean;
  n: number;
  pending: RTCIceCandidateInit[];
  remote: MediaStream;
  phase: PeerPhase;
  verified: boolean;
  restart?: ReturnType<typeof setTimeout>;
}

export class GroupCallMedia {
  view: GroupCallView | undefined;
  local: MediaStream | undefined;
  private me = '';
  private readonly pairs = new Map<string, Pair>();
  private readonly listeners = new Set<() => void>();
  private readonly off: () => void;

  constructor(
    private readonly api: GroupCallApi,
    private readonly iceServers: () => Promise<RTCIceServer[]>,
  ) {
    this.off = api.events.on('groupCall', (e) => {
      void this.handle(e).catch((err: unknown) => console.warn('parus: group call event failed', err));
    });
  }

  subscribe(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private changed(): void {
    if (this.view) this.view = { ...this.view, peers: this.peerViews() };
    for (const f of this.listeners) f();
  }

  private peerViews(): PeerView[] {
    return [...this.pairs.values()].map((p) => ({
      key: p.key,
      name: p.name,
      phase: p.phase,
      verified: p.verified,
      stream: p.remote,
    }));
  }

  private set(patch: Partial<GroupCallView>): void {
    if (this.view) this.view = { ...this.view, ...patch };
    this.changed();
  }

  /** Starts a call in the group (rings every member). */
  async start(group: string, video: boolean): Promise<void> {
    if (!this.begin(group, video)) return;
    try {
      await this.openLocal(video);
      const call = await this.api.calls.start(group, video);
      this.me = this.api.calls.current(group)?.me ?? '';
      this.set({ call, phase: 'in' });
    } catch (e) {
      this.fail(e);
    }
  }

  /** Joins the call under way in the group; those already in offer to me. */
  async join(group: string): Promise<void> {
    const info = this.api.calls.current(group);
    if (!info || !this.begin(group, info.video, info.call)) return;
    try {
      await this.openLocal(info.video);
      const joined = await this.api.calls.join(group);
      this.me = joined.me;
      this.set({ phase: 'in' });
    } catch (e) {
      if (e instanceof Error && e.name === 'QuotaError') {
        this.stopAll();
        this.set({ phase: 'ended', reason: 'full' });
      } else this.fail(e);
    }
  }

  private begin(group: string, video: boolean, call?: string): boolean {
    if (this.view && this.view.phase !== 'ended') return false;
    this.stopAll();
    this.view = {
      group,
      video,
      phase: 'joining',
      muted: false,
      cameraOn: video,
      peers: [],
      refused: [],
      ...(call ? { call } : {}),
    };
    this.changed();
    return true;
  }

  private fail(e: unknown): void {
    const group = this.view?.group;
    this.stopAll();
    if (group) void this.api.calls.leave(group).catch(() => undefined);
    this.set({ phase: 'ended', reason: 'failed', error: e instanceof Error ? e.name : 'Error' });
  }

  private async openLocal(video: boolean): Promise<void> {
    this.local = await navigator.mediaDevices.getUserMedia({ audio: true, video });
  }

  private async handle(e: GroupCallEvent): Promise<void> {
    const v = this.view;
    if (!v || v.phase === 'ended' || e.group !== v.group) return;
    if (v.call && e.call !== v.call) return;
    const key = e.member ?? '';
    switch (e.type) {
      case 'joined':
        // I was in first: I offer to the one who joined.
        if (!this.pairs.has(key)) await this.offerTo(key, e.name ?? '');
        return;
      case 'offer': {
        const have = this.pairs.get(key);
        if (e.n! > 0 && have) return this.answerRestart(have, e.sdp!, e.n!);
        if (have?.offerer && have.pc.signalingState === 'have-local-offer') {
          // Both offered at once: the smaller member key's offer wins.
          if (this.me < key) return;
          this.closePair(key);
        } else if (have) this.closePair(key);
        return this.answerOffer(key, e.name ?? '', e.sdp!);
      }
      case 'answer': {
        const p = this.pairs.get(key);
        if (!p || p.pc.signalingState !== 'have-local-offer' || (e.n ?? 0) !== p.n) return;
        await p.pc.setRemoteDescription({ type: 'answer', sdp: e.sdp! });
        this.check(p);
        await this.flush(p);
        return;
      }
      case 'ice': {
        const p = this.pairs.get(key);
        if (!p) return;
        for (const c of e.cands ?? []) {
          const init: RTCIceCandidateInit = { candidate: c.c };
          if (c.mid !== undefined) init.sdpMid = c.mid;
          if (c.i !== undefined) init.sdpMLineIndex = c.i;
          if (p.pc.remoteDescription) await p.pc.addIceCandidate(init).catch(() => undefined);
          else p.pending.push(init);
        }
        return;
      }
      case 'left':
        this.closePair(key);
        this.changed();
        return;
      case 'refused': {
        const p = this.pairs.get(key);
        if (p) {
          p.pc.close();
          p.phase = 'refused';
          p.verified = false;
        }
        if (!v.refused.includes(e.name ?? key)) this.set({ refused: [...v.refused, e.name ?? key] });
        else this.changed();
        return;
      }
      case 'ended':
        this.stopAll();
        this.set({ phase: 'ended', reason: e.reason === 'full' ? 'full' : 'left' });
        return;
      default:
        return;
    }
  }

  private async newPair(key: string, name: string, offerer: boolean): Promise<Pair> {
    const cert = await RTCPeerConnection.generateCertificate({
      name: 'ECDSA',
      namedCurve: 'P-256',
    } as EcKeyGenParams);
    const config: RTCConfiguration = { iceServers: await this.iceServers(), certificates: [cert] };
    if (relayOnly()) config.iceTransportPolicy = 'relay';
    const pc = new RTCPeerConnection(config);
    const p: Pair = {
      key,
      name,
      pc,
      cert,
      offerer,
      n: 0,
      pending: [],
      remote: new MediaStream(),
      phase: 'connecting',
      verified: false,
    };
    this.pairs.set(key, p);
    for (const t of this.local?.getTracks() ?? []) pc.addTrack(t, this.local!);
    pc.ontrack = (ev) => {
      if (!p.remote.getTracks().includes(ev.track)) p.remote.addTrack(ev.track);
      this.changed();
    };
    pc.onicecandidate = (ev) => {
      if (!ev.candidate || !pc.localDescription || this.pairs.get(key) !== p) return;
      const c: { c: string; mid?: string; i?: number } = { c: ev.candidate.candidate };
      if (ev.candidate.sdpMid !== null) c.mid = ev.candidate.sdpMid;
      if (ev.candidate.sdpMLineIndex !== null) c.i = ev.candidate.sdpMLineIndex;
      void this.api.calls.candidates(this.view!.group, key, [c]).catch(() => undefined);
    };
    pc.onconnectionstatechange = () => void this.onState(p).catch(() => undefined);
    this.changed();
    return p;
  }

  private async offerTo(key: string, name: string): Promise<void> {
    const p = await this.newPair(key, name, true);
    await p.pc.setLocalDescription(await p.pc.createOffer());
    await gathered(p.pc);
    const offer = { n: 0, sdp: p.pc.localDescription!.sdp, fp: await certificateFingerprint(p.cert) };
    // A member who just joined the group may have no session with me yet (its introduction is
    // under way): try again for a while.
    for (let tries = 0; ; tries++) {
      try {
        await this.api.calls.offer(this.view!.group, key, offer);
        return;
      } catch (e) {
        if (tries >= 40 || this.pairs.get(key) !== p || this.view?.phase === 'ended') throw e;
        await new Promise((r) => setTimeout(r, 1500));
      }
    }
  }

  private async answerOffer(key: string, name: string, sdp: string): Promise<void> {
    const p = await this.newPair(key, name, false);
    await p.pc.setRemoteDescription({ type: 'offer', sdp });
    this.check(p);
    await this.flush(p);
    await p.pc.setLocalDescription(await p.pc.createAnswer());
    await gathered(p.pc);
    await this.api.calls.answer(this.view!.group, key, {
      n: 0,
      sdp: p.pc.localDescription!.sdp,
      fp: await certificateFingerprint(p.cert),
    });
  }

  private async answerRestart(p: Pair, sdp: string, n: number): Promise<void> {
    await p.pc.setRemoteDescription({ type: 'offer', sdp });
    this.check(p);
    await p.pc.setLocalDescription(await p.pc.createAnswer());
    await gathered(p.pc);
    await this.api.calls.answer(this.view!.group, p.key, {
      n,
      sdp: p.pc.localDescription!.sdp,
      fp: await certificateFingerprint(p.cert),
    });
  }

  /** The applied remote description must name the fingerprint the member signed. */
  private check(p: Pair, stats?: string): void {
    this.api.calls.checkFingerprint(this.view!.group, p.key, p.pc.remoteDescription!.sdp, stats);
  }

  private async flush(p: Pair): Promise<void> {
    for (const c of p.pending.splice(0)) await p.pc.addIceCandidate(c).catch(() => undefined);
  }

  private async onState(p: Pair): Promise<void> {
    if (this.pairs.get(p.key) !== p || p.phase === 'refused') return;
    const s = p.pc.connectionState;
    if (s === 'connected') {
      clearTimeout(p.restart);
      p.phase = 'connected';
      this.changed();
      // The certificate this pair's media path uses must be the one the member signed.
      const stats = new Map<string, Record<string, unknown>>();
      (await p.pc.getStats()).forEach((r: Record<string, unknown>) => stats.set(r.id as string, r));
      let fingerprint = '';
      for (const r of stats.values()) {
        if (r.type !== 'transport' || typeof r.remoteCertificateId !== 'string') continue;
        const cert = stats.get(r.remoteCertificateId);
        if (String(cert?.fingerprintAlgorithm).toLowerCase() === 'sha-256')
          fingerprint = String(cert!.fingerprint);
      }
      this.check(p, fingerprint);
      p.verified = true;
      this.changed();
    } else if (s === 'disconnected' || s === 'failed') {
      p.phase = 'reconnecting';
      this.changed();
      if (!p.offerer) return;
      clearTimeout(p.restart);
      p.restart = setTimeout(() => void this.restart(p).catch(() => undefined), s === 'failed' ? 0 : 2000);
    }
  }

  /** An ICE restart of one pair, offered by the member who offered it first. */
  private async restart(p: Pair): Promise<void> {
    if (this.pairs.get(p.key) !== p || p.phase !== 'reconnecting') return;
    clearTimeout(p.restart);
    p.restart = setTimeout(() => void this.restart(p).catch(() => undefined), RESTART_AGAIN_MS);
    if (p.pc.signalingState !== 'stable') await p.pc.setLocalDescription({ type: 'rollback' });
    await p.pc.setLocalDescription(await p.pc.createOffer({ iceRestart: true }));
    await gathered(p.pc);
    await this.api.calls.offer(this.view!.group, p.key, {
      n: ++p.n,
      sdp: p.pc.localDescription!.sdp,
      fp: await certificateFingerprint(p.cert),
    });
  }

  async leave(): Promise<void> {
    const group = this.view?.group;
    this.stopAll();
    if (group) await this.api.calls.leave(group).catch(() => undefined);
    if (this.view && this.view.phase !== 'ended') this.set({ phase: 'ended', reason: 'left' });
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

  dismiss(): void {
    if (this.view?.phase === 'ended') {
      this.view = undefined;
      this.changed();
    }
  }

  private closePair(key: string): void {
    const p = this.pairs.get(key);
    if (!p) return;
    clearTimeout(p.restart);
    p.pc.close();
    this.pairs.delete(key);
  }

  private stopAll(): void {
    for (const key of [...this.pairs.keys()]) this.closePair(key);
    for (const t of this.local?.getTracks() ?? []) t.stop();
    this.local = undefined;
  }

  close(): void {
    this.stopAll();
    this.off();
  }
}
