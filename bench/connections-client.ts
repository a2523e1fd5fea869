/**
 * The load side of the connections benchmark (connections-bench.ts): one process holding
 * many idle, authenticated relay connections, forked by the orchestrator, which may run
 * several of them (a process has a file-descriptor limit of its own, and one core).
 *
 * Each connection does what a client at rest has done: hello (the relay's fingerprint and
 * welcome signature checked), a queue of its own (`new`, secured at once with a sender key),
 * and `sub` to it; then it stays open and answers the relay's pings (ws does). Nothing more
 * is kept per connection than its socket: the keys and the derived command key are dropped
 * once the `sub` is answered, so that the process's memory grows with sockets, not with
 * state.
 *
 * Connections leave from loopback source addresses 127.a.b.c handed in by the orchestrator,
 * at most `perAddress` from each, to stay under the relay's limit per source address and
 * under the ephemeral ports of one address.
 */
import {
  CHALLENGE_BYTES,
  DH_BYTES,
  MAX_FRAME_BYTES,
  RELAY_PROTOCOL_VERSION,
  authenticateCommand,
  decodeRelayFrame,
  deriveCommandAuthKey,
  dhKeyPairFromSecret,
  encodeFrame,
  fingerprintMatches,
  generateDhKeyPair,
  initCrypto,
  parseRelayAddress,
  relayWebSocketUrl,
  systemRandom,
  verify,
  welcomeSigningBytes,
} from '@parus/core';
import type { AuthenticatedCommand, RelayAddress, RelayFrame } from '@parus/core';
import WebSocket from 'ws';
import { describeError } from './ipc.ts';
import { asBytes } from './relay-client.ts';

export interface ConnectionsClientConfig {
  /** The relay's `parus://` address. */
  address: string;
  /** Source addresses this process may connect from, in order. */
  sources: string[];
  /** Connections per source address. */
  perAddress: number;
  /** Connections being set up at once. */
  concurrency: number;
  /** How long one connection may take to be set up. */
  timeoutMs: number;
}

/** Orchestrator → client process. */
export type ConnectionsCommand = { type: 'open'; count: number } | { type: 'close' };

/** Client process → orchestrator. */
export type ConnectionsMessage =
  | {
      type: 'opened';
      /** Connections open and set up (hello, queue, sub) right now. */
      open: number;
      /** Attempts of this `open` that failed, and why (first words of the error, counted). */
      failed: number;
      errors: Record<string, number>;
      /** Connections set up earlier that closed since. */
      lost: number;
      ms: number;
    }
  | { type: 'closed' }
  | { type: 'failed'; error: string };

function post(message: ConnectionsMessage): void {
  process.send?.(message);
}

function sendThenExit(message: ConnectionsMessage, code: number): void {
  if (!process.send) process.exit(code);
  process.send(message, undefined, {}, () => process.exit(code));
}

/** One connection, set up: hello, a queue, subscribed. Rejects with the reason it is not. */
function openOne(relay: RelayAddress, localAddress: string, timeoutMs: number): Promise<WebSocket> {
  const rng = systemRandom;
  const ws = new WebSocket(relayWebSocketUrl(relay), {
    perMessageDeflate: false,
    maxPayload: 2 * MAX_FRAME_BYTES,
    localAddress,
  });
  return new Promise<WebSocket>((resolve, reject) => {
    const challenge = rng.bytes(CHALLENGE_BYTES);
    let session: Uint8Array | undefined;
    let relayDh: Uint8Array | undefined;
    const rk = generateDhKeyPair(rng);
    const rdh = dhKeyPairFromSecret(rng.bytes(DH_BYTES));
    const sk = generateDhKeyPair(rng);
    let commandKey: Uint8Array | undefined;
    const fail = (why: string): void => {
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
      reject(new Error(why));
    };
    const timer = setTimeout(() => fail('timeout'), timeoutMs);
    const authed = <F extends AuthenticatedCommand>(frame: F): Uint8Array => {
      commandKey ??= deriveCommandAuthKey(rk.secretKey, relayDh!, session!, rk.publicKey);
      frame.auth = authenticateCommand(commandKey, session!, frame);
      return encodeFrame(frame);
    };
    ws.on('error', (error) => fail(`socket error ${(error as NodeJS.ErrnoException).code ?? error.message}`));
    ws.on('unexpected-response', (_req, res) => fail(`HTTP ${res.statusCode}`));
    ws.on('close', (code) => fail(`closed ${code}`));
    ws.on('open', () => ws.send(encodeFrame({ t: 'hello', v: RELAY_PROTOCOL_VERSION, challenge })));
    ws.on('message', (data: WebSocket.RawData) => {
      let frame: RelayFrame;
      try {
        frame = decodeRelayFrame(asBytes(data));
      } catch {
        return fail('undecodable frame');
      }
      if (frame.t === 'err') return fail(`relay error ${frame.code}`);
      if (frame.t === 'welcome') {
        if (!fingerprintMatches(relay, frame.key)) return fail('relay key does not match the address');
        if (!verify(frame.key, welcomeSigningBytes(challenge, frame.session, frame.dh), frame.sig))
          return fail('bad welcome signature');
        session = frame.session;
        relayDh = frame.dh;
        const auth = new Uint8Array(0);
        ws.send(authed({ t: 'new', id: 1, rk: rk.publicKey, rdh: rdh.publicKey, sk: sk.publicKey, auth }));
        return;
      }
      if (frame.t === 'ids' && frame.id === 1) {
        ws.send(authed({ t: 'sub', id: 2, rid: frame.rid, auth: new Uint8Array(0) }));
        return;
      }
      if (frame.t === 'ok' && frame.id === 2) {
        clearTimeout(timer);
        ws.removeAllListeners();
        resolve(ws);
        return;
      }
      fail(`unexpected ${frame.t}`);
    });
  });
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('connections-client.ts is forked by connections-bench.ts');
  const cfg = JSON.parse(process.argv[2]!) as ConnectionsClientConfig;
  await initCrypto();
  const relay = parseRelayAddress(cfg.address);
  const open = new Set<WebSocket>();
  let lost = 0;
  /** Connection attempts so far: the next one's source address is sources[attempts / perAddress]. */
  let attempts = 0;

  const openMany = async (count: number): Promise<void> => {
    const started = performance.now();
    const errors: Record<string, number> = {};
    let failed = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        next += 1;
        const source = cfg.sources[Math.floor(attempts / cfg.perAddress)];
        attempts += 1;
        if (source === undefined) {
          failed += 1;
          errors['no source address left'] = (errors['no source address left'] ?? 0) + 1;
          continue;
        }
        try {
          const ws = await openOne(relay, source, cfg.timeoutMs);
          open.add(ws);
          ws.on('error', () => {});
          ws.once('close', () => {
            if (open.delete(ws)) lost += 1;
          });
        } catch (error) {
          failed += 1;
          const why = error instanceof Error ? error.message : String(error);
          errors[why] = (errors[why] ?? 0) + 1;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(cfg.concurrency, count) }, worker));
    post({ type: 'opened', open: open.size, failed, errors, lost, ms: performance.now() - started });
  };

  process.on('message', (command: ConnectionsCommand) => {
    if (command.type === 'open') {
      openMany(command.count).catch((error: unknown) =>
        sendThenExit({ type: 'failed', error: describeError(error) }, 1),
      );
      return;
    }
    for (const ws of open) ws.terminate();
    open.clear();
    sendThenExit({ type: 'closed' }, 0);
  });
}

main().catch((error: unknown) => sendThenExit({ type: 'failed', error: describeError(error) }, 1));
