/**
 * Links this relay dials: the `--join` addresses (kept for good) and the links the repair
 * rule names this relay to dial (core mesh-topology.ts linksToDial). Each is dialled again
 * after it drops, waiting 0.5 s doubling to 30 s with full jitter; a link that stayed up a
 * while starts over from the shortest wait.
 */
import { parseRelayAddress, relayWebSocketUrl, toBase64Url, MAX_LINK_FRAME_BYTES } from '@parus/core';
import type { RelayAddress } from '@parus/core';
import { WebSocket } from 'ws';

const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
const STABLE_MS = 10_000;

export interface DialTarget {
  address: RelayAddress;
  text: string;
  /** base64url fingerprint: the relay's id. */
  id: string;
  /** `--join`: dialled for good; planned: dialled while the plan names it. */
  permanent: boolean;
}

export interface DialerOptions {
  /** A socket to `target` is open: hand it to a link (dialer side). Resolves when that link ends. */
  connected: (ws: WebSocket, target: DialTarget) => Promise<void>;
  /** Whether the relay already has an open link to `id` (then there is no need to dial). */
  linked: (id: string) => boolean;
  handshakeTimeoutMs: number;
}

export class Dialer {
  private readonly targets = new Map<
    string,
    { target: DialTarget; stop: boolean; wake: (() => void) | undefined }
  >();
  private closed = false;

  constructor(private readonly opts: DialerOptions) {}

  /** Dials `text` for good (a `--join` address). */
  join(text: string): void {
    const address = parseRelayAddress(text);
    this.add({ address, text, id: toBase64Url(address.fingerprint), permanent: true });
  }

  /** Makes the planned (non-permanent) targets exactly `wanted`. */
  plan(wanted: ReadonlyArray<{ id: string; address: string }>): void {
    const ids = new Set(wanted.map((w) => w.id));
    for (const [id, t] of this.targets) if (!t.target.permanent && !ids.has(id)) this.remove(id);
    for (const w of wanted) {
      if (this.targets.has(w.id)) continue;
      try {
        const address = parseRelayAddress(w.address);
        this.add({ address, text: w.address, id: w.id, permanent: false });
      } catch {
        // A descriptor's addresses were checked when it came in; nothing to dial otherwise.
      }
    }
  }

  /** Every waiting target tries now (a link came up, routes changed). */
  wakeAll(): void {
    for (const t of this.targets.values()) t.wake?.();
  }

  get size(): number {
    return this.targets.size;
  }

  close(): void {
    this.closed = true;
    for (const id of [...this.targets.keys()]) this.remove(id);
  }

  private remove(id: string): void {
    const t = this.targets.get(id);
    if (!t) return;
    t.stop = true;
    t.wake?.();
    this.targets.delete(id);
  }

  private add(target: DialTarget): void {
    const existing = this.targets.get(target.id);
    if (existing) {
      if (target.permanent) existing.target.permanent = true;
      return;
    }
    const entry: { target: DialTarget; stop: boolean; wake: (() => void) | undefined } = {
      target,
      stop: false,
      wake: undefined,
    };
    this.targets.set(target.id, entry);
    void this.loop(entry);
  }

  private async loop(entry: {
    target: DialTarget;
    stop: boolean;
    wake: (() => void) | undefined;
  }): Promise<void> {
    let failures = 0;
    while (!entry.stop && !this.closed) {
      const started = Date.now();
      if (!this.opts.linked(entry.target.id)) {
        try {
          const ws = await this.open(entry.target);
          await this.opts.connected(ws, entry.target);
        } catch {
          // Not reachable now: wait and try again.
        }
      }
      if (entry.stop || this.closed) return;
      failures = Date.now() - started >= STABLE_MS ? 0 : failures + 1;
      const cap = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** Math.min(failures, 16));
      // While linked (the peer dialled us), look again now and then.
      const wait = this.opts.linked(entry.target.id) ? 2_000 : Math.random() * cap;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        timer.unref();
        entry.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      entry.wake = undefined;
    }
  }

  private open(target: DialTarget): Promise<WebSocket> {
    const url = relayWebSocketUrl(target.address).replace(/\/ws$/, '/mesh');
    return new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url, { maxPayload: MAX_LINK_FRAME_BYTES, perMessageDeflate: false });
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error('dial timeout'));
      }, this.opts.handshakeTimeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(ws);
      });
      ws.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }
}
