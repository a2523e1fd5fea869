/**
 * How a send reaches a queue on some relay (docs/decisions/0033): a queue on the account's own
 * relay directly; a queue on another relay of the same cloud through the own relay, which
 * forwards it (`fwd`), so the client keeps one connection; otherwise (the own relay does not
 * know that relay, or is down) a connection of its own to that relay, as before the mesh.
 *
 * Whether the own relay knows a relay is asked once (`rkey`, whose answer also gives the key the
 * forward is authenticated for) and remembered for a minute, refusals included.
 */
import { ParusError, parseRelayAddress } from '@parus/core';
import type { RelayConnection } from './relay-connection.ts';

/** How long an answer about a relay (forwards there or not) is kept. */
const REMEMBER_MS = 60_000;
const MAX_REMEMBERED = 1_024;

export interface SendPath {
  /** Sends `body` to queue `sid`, authenticated with the sender key's secret when given. */
  send(sid: Uint8Array, body: Uint8Array, senderKey?: Uint8Array): Promise<void>;
  /** Through the own relay (true), or directly to the queue's relay. */
  forwarded: boolean;
}

export interface SendRoutesOptions {
  home: () => string;
  connection: (address: string) => RelayConnection;
  now: () => number;
}

export class SendRoutes {
  private readonly known = new Map<string, { forwards: boolean; at: number }>();

  constructor(private readonly opts: SendRoutesOptions) {}

  /** The way to send to a queue on `relay` now, or undefined when there is none yet (not connected). */
  async path(relay: string): Promise<SendPath | undefined> {
    const home = this.opts.home();
    if (relay !== home) {
      const own = this.opts.connection(home);
      if (own.connected && (await this.forwards(own, relay))) {
        const to = parseRelayAddress(relay).fingerprint;
        return {
          forwarded: true,
          send: (sid, body, senderKey) => own.forward(to, sid, body, senderKey),
        };
      }
    }
    const r = this.opts.connection(relay);
    r.connect();
    if (!r.connected) return undefined;
    return {
      forwarded: false,
      send: async (sid, body, senderKey) => {
        await r.command({ t: 'send', sid, body }, senderKey);
      },
    };
  }

  private async forwards(own: RelayConnection, relay: string): Promise<boolean> {
    const now = this.opts.now();
    const known = this.known.get(relay);
    if (known && now - known.at < REMEMBER_MS) return known.forwards;
    let forwards: boolean;
    try {
      await own.relayKey(parseRelayAddress(relay).fingerprint);
      forwards = true;
    } catch (error) {
      // Not in the cloud, or a relay without a mesh (which does not know `rkey`): send
      // directly. A dropped connection or a timeout says nothing, and is not remembered.
      if (error instanceof ParusError && (error.code === 'TRANSPORT' || error.code === 'TIMEOUT'))
        return false;
      forwards = false;
    }
    if (this.known.size >= MAX_REMEMBERED) this.known.clear();
    this.known.set(relay, { forwards, at: now });
    return forwards;
  }
}
