/**
 * One relay ↔ relay link over a WebSocket, whichever side dialled it (core relay-link.ts):
 * the handshake that authenticates both relays by their Ed25519 keys, then frames both ways.
 * A link a relay behind NAT dialled out carries traffic both ways, as any other.
 *
 * A frame that does not decode, or comes out of turn, is answered with an `lerr` frame
 * carrying its typed error's code and changes nothing; a peer that keeps sending such frames
 * (MAX_BAD_FRAMES) is dropped. Frames are bounded by ws's maxPayload (MAX_LINK_FRAME_BYTES).
 */
import {
  CHALLENGE_BYTES,
  DecodeError,
  ParusError,
  ProtocolError,
  RELAY_LINK_VERSION,
  VerificationError,
  decodeLinkFrame,
  encodeLinkFrame,
  relayFingerprint,
  equalBytes,
  signLinkAuth,
  signLinkWelcome,
  toBase64Url,
  verifyLinkAuth,
  verifyLinkWelcome,
} from '@parus/core';
import type { LinkFrame, LinkWelcome, Random } from '@parus/core';
import { WebSocket } from 'ws';
import type { RawData } from 'ws';
import type { ServerKeys } from '../server-keys.ts';

/** Refused frames a peer may send before its link is dropped. */
const MAX_BAD_FRAMES = 16;
/** Bytes queued to a peer that does not read before its link is dropped. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

export interface LinkOptions {
  keys: ServerKeys;
  rng: Random;
  /** The dialer's pinned peer fingerprint (from the address it dialled); the listener has none. */
  expect?: Uint8Array;
  handshakeTimeoutMs: number;
  log: (line: string) => void;
  /** The handshake is done: the peer's key is known. Return false to refuse the link (closed at once). */
  onOpen: (link: MeshLink) => boolean;
  onFrame: (link: MeshLink, frame: LinkFrame) => void;
  onClose: (link: MeshLink) => void;
}

export type LinkRole = 'dialer' | 'listener';

export class MeshLink {
  /** The peer's Ed25519 key and fingerprint, once the handshake is done. */
  peerKey: Uint8Array | undefined;
  peerFingerprint: Uint8Array | undefined;
  /** base64url of the peer fingerprint, once known. */
  peerId = '';
  private readonly challenge: Uint8Array;
  private peerChallenge: Uint8Array | undefined;
  private state: 'hello' | 'auth' | 'open' | 'closed' = 'hello';
  private badFrames = 0;
  private readonly timer: NodeJS.Timeout;
  /** Frames the peer sent that this side refused (tests and status). */
  refused = 0;

  constructor(
    private readonly ws: WebSocket,
    readonly role: LinkRole,
    private readonly opts: LinkOptions,
  ) {
    this.challenge = opts.rng.bytes(CHALLENGE_BYTES);
    this.timer = setTimeout(() => this.close(1008, 'link handshake timeout'), opts.handshakeTimeoutMs);
    this.timer.unref();
    ws.on('message', (data: RawData, isBinary: boolean) => this.receive(asBytes(data), isBinary));
    ws.on('error', () => undefined);
    ws.on('close', () => {
      clearTimeout(this.timer);
      const wasOpen = this.state === 'open';
      this.state = 'closed';
      if (wasOpen) opts.onClose(this);
    });
    if (role === 'dialer') {
      const send = (): void =>
        this.sendRaw({
          t: 'lhello',
          v: RELAY_LINK_VERSION,
          key: opts.keys.sign.publicKey,
          challenge: this.challenge,
        });
      if (ws.readyState === WebSocket.OPEN) send();
      else ws.once('open', send);
    }
  }

  get open(): boolean {
    return this.state === 'open' && this.ws.readyState === WebSocket.OPEN;
  }

  send(frame: LinkFrame): void {
    if (!this.open) return;
    this.sendRaw(frame);
  }

  close(code = 1000, reason = 'link closed'): void {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(code, reason);
    const cut = setTimeout(() => this.ws.terminate(), 1_000);
    cut.unref();
  }

  /** Cuts the socket at once (a peer that is gone, a relay shutting down). */
  terminate(): void {
    this.ws.terminate();
  }

  private sendRaw(frame: LinkFrame): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(encodeLinkFrame(frame));
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.opts.log('dropping a relay link that does not read its frames');
      this.ws.terminate();
    }
  }

  private receive(data: Uint8Array, isBinary: boolean): void {
    if (this.state === 'closed') return;
    try {
      if (!isBinary) throw new DecodeError('text messages are not part of the link protocol');
      const frame = decodeLinkFrame(data);
      this.handle(frame);
    } catch (error) {
      this.refuse(error);
    }
  }

  private refuse(error: unknown): void {
    this.refused += 1;
    const parus = error instanceof ParusError;
    if (!parus)
      this.opts.log(`relay link: internal error: ${error instanceof Error ? error.message : 'non-error'}`);
    this.sendRaw({
      t: 'lerr',
      code: parus ? error.code : 'INTERNAL',
      msg: parus ? error.message.slice(0, 200) : 'internal error',
    });
    // Before the handshake is done a bad frame ends the link: there is no one to keep it for.
    if (this.state !== 'open') {
      this.opts.log(`relay link refused during its handshake: ${parus ? error.name : 'internal error'}`);
      this.close(1008, 'link handshake failed');
    } else if (++this.badFrames > MAX_BAD_FRAMES) this.close(1008, 'bad link frames');
  }

  private handle(frame: LinkFrame): void {
    switch (this.state) {
      case 'hello':
        if (this.role === 'listener') {
          if (frame.t !== 'lhello') throw new ProtocolError('send lhello first');
          if (frame.v !== RELAY_LINK_VERSION)
            throw new ProtocolError(`link version ${RELAY_LINK_VERSION} only`);
          this.peerKey = frame.key;
          this.peerChallenge = frame.challenge;
          const { keys } = this.opts;
          this.state = 'auth';
          this.sendRaw({
            t: 'lwelcome',
            v: RELAY_LINK_VERSION,
            key: keys.sign.publicKey,
            challenge: this.challenge,
            sig: signLinkWelcome(keys.sign.secretKey, frame.challenge, this.challenge, frame.key),
          });
          return;
        }
        if (frame.t !== 'lwelcome') throw new ProtocolError('expected lwelcome');
        return this.welcomed(frame);
      case 'auth': {
        if (frame.t !== 'lauth') throw new ProtocolError('expected lauth');
        const { keys } = this.opts;
        if (
          !verifyLinkAuth(this.peerKey!, frame.sig, this.challenge, this.peerChallenge!, keys.sign.publicKey)
        )
          throw new VerificationError('link peer did not prove its key');
        return this.opened();
      }
      case 'open':
        if (frame.t === 'lhello' || frame.t === 'lwelcome' || frame.t === 'lauth')
          throw new ProtocolError('the link handshake is done');
        if (frame.t === 'lerr') {
          this.opts.log(`relay link ${this.peerId.slice(0, 8)}… refused a frame: ${frame.code}`);
          return;
        }
        this.opts.onFrame(this, frame);
        return;
      default:
        return;
    }
  }

  private welcomed(frame: LinkWelcome): void {
    const { keys, expect } = this.opts;
    if (frame.v !== RELAY_LINK_VERSION) throw new ProtocolError(`link version ${RELAY_LINK_VERSION} only`);
    if (expect && !equalBytes(relayFingerprint(frame.key), expect))
      throw new VerificationError('the relay at that address has another key than its fingerprint says');
    if (!verifyLinkWelcome(frame, this.challenge, keys.sign.publicKey))
      throw new VerificationError('link peer did not prove its key');
    this.peerKey = frame.key;
    this.sendRaw({
      t: 'lauth',
      sig: signLinkAuth(keys.sign.secretKey, frame.challenge, this.challenge, frame.key),
    });
    this.opened();
  }

  private opened(): void {
    clearTimeout(this.timer);
    this.peerFingerprint = relayFingerprint(this.peerKey!);
    this.peerId = toBase64Url(this.peerFingerprint);
    if (equalBytes(this.peerFingerprint, this.opts.keys.fingerprint)) {
      this.state = 'closed';
      this.close(1008, 'a link to itself');
      return;
    }
    this.state = 'open';
    if (!this.opts.onOpen(this)) {
      this.state = 'closed';
      this.close(1000, 'link not wanted');
    }
  }
}

function asBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) {
    const whole = Buffer.concat(data);
    return new Uint8Array(whole.buffer, whole.byteOffset, whole.byteLength);
  }
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
