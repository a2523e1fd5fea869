/**
 * `npm run bench -- --only hops`: sends through 1, 2 and 4 relay hops against direct delivery,
 * in the same run (docs/decisions/0033). Real relays in this process, linked by the mesh rules
 * into one cloud over loopback WebSockets; a client on one relay sends `fwd` to a queue on a
 * relay that many hops away (by the routes status.json shows) and waits for each `ok`, which
 * comes once the destination has committed the message; "direct" is a client on the
 * destination relay sending `send`. Reports messages per second, latency of the `ok`, and the
 * process's CPU time per message (relays and client together: the figure to compare on a
 * loaded machine). Writes its own section of docs/BENCHMARKS.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  RELAY_PROTOCOL_VERSION,
  authenticateCommand,
  authenticateForward,
  checkKeyRecord,
  decodeRelayFrame,
  deriveCommandAuthKey,
  deriveForwardAuthKey,
  encodeFrame,
  generateDhKeyPair,
  parseRelayAddress,
  relayWebSocketUrl,
  systemRandom,
  toBase64Url,
} from '@parus/core';
import type { AuthenticatedCommand, ClientFrame, DhKeyPair, RelayFrame } from '@parus/core';
import { startRelay } from '@parus/relay';
import type { Relay } from '@parus/relay';
import { WebSocket } from 'ws';
import { spliceSection, writeSection, type SectionMarkers } from './doc-sections.ts';
import { describeMachine } from './machine.ts';

const MARKERS: SectionMarkers = {
  start: '<!-- hops benchmark: start -->',
  end: '<!-- hops benchmark: end -->',
  before: '## Double Ratchet',
};

const HOPS = [1, 2, 4];
const MESSAGES = 1_500;
const WINDOW = 16;
const BODY_BYTES = 256;
const MAX_RELAYS = 40;

export interface HopsRow {
  hops: number;
  messages: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerMessage: number;
}

/** A client connection as the bench needs it: hello, then frames with ids and their answers. */
class Client {
  private nextId = 1;
  private readonly waiting = new Map<number, (f: RelayFrame) => void>();
  session: Uint8Array = new Uint8Array(0);
  relayDh: Uint8Array = new Uint8Array(0);

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const f = decodeRelayFrame(new Uint8Array(data));
      if ('id' in f && f.id !== undefined) {
        const w = this.waiting.get(f.id);
        this.waiting.delete(f.id);
        w?.(f);
      }
    });
  }

  static async connect(address: string): Promise<Client> {
    const ws = new WebSocket(relayWebSocketUrl(parseRelayAddress(address)), { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const welcome = new Promise<RelayFrame>((resolve) =>
      ws.once('message', (data: Buffer) => resolve(decodeRelayFrame(new Uint8Array(data)))),
    );
    ws.send(encodeFrame({ t: 'hello', v: RELAY_PROTOCOL_VERSION, challenge: systemRandom.bytes(32) }));
    const w = await welcome;
    if (w.t !== 'welcome') throw new Error('no welcome');
    const c = new Client(ws);
    c.session = w.session;
    c.relayDh = w.dh;
    return c;
  }

  request(build: (id: number) => ClientFrame): Promise<RelayFrame> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.ws.send(encodeFrame(build(id)));
    });
  }

  authed(bare: Omit<AuthenticatedCommand, 'id' | 'auth'>, key: DhKeyPair): Promise<RelayFrame> {
    const k = deriveCommandAuthKey(key.secretKey, this.relayDh, this.session, key.publicKey);
    return this.request((id) => {
      const frame = { ...bare, id } as AuthenticatedCommand;
      return { ...frame, auth: authenticateCommand(k, this.session, frame) } as ClientFrame;
    });
  }

  close(): void {
    this.ws.close();
  }
}

async function statusOf(relay: Relay): Promise<{
  routes: Array<{ to: string; hops: number }>;
  bridges: unknown[];
  neighbours: string[];
}> {
  return (await (await fetch(`http://127.0.0.1:${relay.port}/status.json`)).json()) as never;
}

async function settled(relays: Relay[]): Promise<boolean> {
  const all = await Promise.all(relays.map(statusOf));
  return all.every(
    (s) => s.routes.length === relays.length - 1 && s.bridges.length === 0 && s.neighbours.length >= 3,
  );
}

async function waitSettled(relays: Relay[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!(await settled(relays))) {
    if (Date.now() > deadline) throw new Error('the cloud did not settle');
    await new Promise((r) => setTimeout(r, 250));
  }
  // Quiet for a while: no link being added.
  await new Promise((r) => setTimeout(r, 1_000));
  while (!(await settled(relays))) await new Promise((r) => setTimeout(r, 250));
}

function idOf(r: Relay): string {
  return toBase64Url(parseRelayAddress(r.address).fingerprint);
}

/** Sends MESSAGES to a fresh queue on `dest`, from a client on `from` (or directly when it is `dest`). */
async function run(from: Relay, dest: Relay, hops: number): Promise<HopsRow> {
  const owner = await Client.connect(dest.address);
  const rk = generateDhKeyPair(systemRandom);
  const sk = generateDhKeyPair(systemRandom);
  const ids = await owner.authed(
    { t: 'new', rk: rk.publicKey, rdh: generateDhKeyPair(systemRandom).publicKey, sk: sk.publicKey } as never,
    rk,
  );
  if (ids.t !== 'ids') throw new Error('no queue');
  const sender = hops === 0 ? owner : await Client.connect(from.address);
  const to = parseRelayAddress(dest.address).fingerprint;
  let forwardKey: Uint8Array | undefined;
  if (hops > 0) {
    const record = await sender.request((id) => ({ t: 'rkey', id, to }));
    if (record.t !== 'rkey') throw new Error('no key record');
    checkKeyRecord(record, to);
    forwardKey = deriveForwardAuthKey(sk.secretKey, record.dh, to, sk.publicKey);
  }
  const send = (body: Uint8Array): Promise<RelayFrame> =>
    forwardKey
      ? sender.request((id) => ({
          t: 'fwd',
          id,
          to,
          sid: ids.sid,
          body,
          auth: authenticateForward(forwardKey!, to, ids.sid, body),
        }))
      : sender.authed({ t: 'send', sid: ids.sid, body } as never, sk);
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < MESSAGES) {
      next += 1;
      const at = performance.now();
      const answer = await send(systemRandom.bytes(BODY_BYTES));
      if (answer.t !== 'ok') throw new Error(`refused: ${JSON.stringify(answer)}`);
      latencies.push(performance.now() - at);
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  owner.close();
  if (sender !== owner) sender.close();
  return {
    hops,
    messages: MESSAGES,
    perSecond: MESSAGES / seconds,
    p50Ms: latencies[Math.floor(latencies.length * 0.5)]!,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)]!,
    cpuUsPerMessage: (used.user + used.system) / MESSAGES,
  };
}

export async function benchHops(log: (line: string) => void): Promise<HopsRow[]> {
  const dirs: string[] = [];
  const relays: Relay[] = [];
  const start = async (joinTo: string[]): Promise<Relay> => {
    const dir = mkdtempSync(join(tmpdir(), 'parus-hops-'));
    dirs.push(dir);
    const r = await startRelay({ dataDir: dir, join: joinTo });
    relays.push(r);
    return r;
  };
  try {
    // Grow the cloud until some pair of relays is 4 hops apart (each joins through the last).
    let pairs = new Map<number, [Relay, Relay]>();
    await start([]);
    while (relays.length < MAX_RELAYS) {
      for (let i = 0; i < 4; i++) await start([relays.at(-1)!.address]);
      await waitSettled(relays);
      pairs = new Map();
      for (const r of relays) {
        const s = await statusOf(r);
        for (const route of s.routes) {
          if (!pairs.has(route.hops)) pairs.set(route.hops, [r, relays.find((x) => idOf(x) === route.to)!]);
        }
      }
      log(`hops: ${relays.length} relays, longest route ${Math.max(...pairs.keys())} hops`);
      if (HOPS.every((h) => pairs.has(h))) break;
    }
    const rows: HopsRow[] = [];
    const [, farthest] = pairs.get(Math.max(...HOPS.filter((h) => pairs.has(h))))!;
    rows.push(await run(farthest, farthest, 0));
    for (const h of HOPS) {
      const pair = pairs.get(h);
      if (!pair) {
        log(`hops: no pair of relays ${h} hops apart in ${relays.length} relays`);
        continue;
      }
      rows.push(await run(pair[0], pair[1], h));
      log(`hops: ${h} → ${rows.at(-1)!.perSecond.toFixed(0)} msg/s`);
    }
    // Direct again at the end, so that a machine that got busier shows in the two direct rows.
    rows.push(await run(farthest, farthest, 0));
    return rows;
  } finally {
    await Promise.all(relays.map((r) => r.close()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

export async function renderHopsSection(rows: HopsRow[]): Promise<string> {
  const machine = await describeMachine();
  const direct = rows.filter((r) => r.hops === 0);
  const base = direct.reduce((s, r) => s + r.cpuUsPerMessage, 0) / Math.max(1, direct.length);
  const lines = rows.map(
    (r) =>
      `| ${r.hops === 0 ? 'direct (send)' : `${r.hops} hop${r.hops > 1 ? 's' : ''} (fwd)`} | ${r.perSecond.toFixed(0)} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${r.cpuUsPerMessage.toFixed(0)} | ${(r.cpuUsPerMessage / base).toFixed(2)} |`,
  );
  return `${MARKERS.start}
## Forwarding through relay hops

\`npm run bench -- --only hops\` (bench/hops-bench.ts), ${new Date().toISOString().slice(0, 10)}, ${machine.cpu}, ${machine.cores} cores.
One client sends ${MESSAGES} messages of ${BODY_BYTES} bytes, ${WINDOW} in flight, to a queue on a relay that
many hops away in a cloud built by the mesh rules (every relay in this one process), and waits for each \`ok\`: it
comes once the destination committed the message and its answer came back along the path. Each hop commits the
forward to its own forward queue before passing it on (docs/decisions/0033). "direct" is a client on the destination
relay; it runs first and last. CPU is the whole process's (relays and client) per message; the last column is that
against the direct runs' mean, the figure to compare when the machine is shared.

| path | msg/s | p50 ms | p99 ms | CPU µs/msg | CPU × direct |
| --- | ---: | ---: | ---: | ---: | ---: |
${lines.join('\n')}
${MARKERS.end}`;
}

export function spliceHopsSection(markdown: string, section: string): string {
  return spliceSection(markdown, MARKERS, section);
}

/** `--only hops`: run this benchmark alone and update its section of docs/BENCHMARKS.md. */
export async function hopsOnly(log: (line: string) => void): Promise<void> {
  const rows = await benchHops(log);
  const section = await renderHopsSection(rows);
  process.stdout.write(`${section}\n`);
  await writeSection(MARKERS, section);
  log('wrote the hops section of docs/BENCHMARKS.md');
}
