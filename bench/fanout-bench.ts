/**
 * Group fan-out benchmark (issue 4 §9, docs/decisions/0011-fan-out.md): one sender sends
 * to a group of 10, 100 and 1,000 recipient queues, each with its own subscribed connection,
 * through the relay (`fsend` to a fan-out list) and, in the same run, through a raw `ws`
 * broadcaster that copies the same frames to the same number of clients (the ceiling).
 *
 * Measured per run, over a window after a warm-up:
 * - sender CPU per send and bytes uploaded per send (the sender is this process, using the
 *   client's RelayConnection.fanoutSend, the call the group engine makes);
 * - copies delivered to recipients per second, and p50/p99 from send to receipt;
 * - the server's CPU per delivered copy (from /proc), the recipients' CPU.
 * Also, without a relay: what the sender would spend sending each copy itself (one
 * authenticated `send` per recipient), the alternative the fan-out list replaces.
 *
 * `npm run bench -- --only fanout` runs this alone and replaces only its section of
 * docs/BENCHMARKS.md; a full `npm run bench` runs it after the other phases.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import {
  COMMAND_AUTH_BYTES,
  QUEUE_ID_BYTES,
  authenticateCommand,
  encodeFrame,
  fromHex,
  generateDhKeyPair,
  initCrypto,
  systemRandom,
  toHex,
} from '@parus/core';
import type { FanoutSendFrame, SendFrame } from '@parus/core';
import { RelayConnection } from '@parus/client';
import type { Transport } from '@parus/client';
import { nodeTransport } from '@parus/client/node';
import WebSocket from 'ws';
import { summariseProfile } from './cpu-profile.ts';
import type { ProfileSummary } from './cpu-profile.ts';
import { BENCHMARKS_FILE, spliceSection, writeSection, type SectionMarkers } from './doc-sections.ts';
import type { FanoutRecipientsConfig, RecipientsCommand, RecipientsMessage } from './fanout-recipients.ts';
import type { LatencySummary, ServerCommand, ServerMessage } from './ipc.ts';
import { describeMachine } from './machine.ts';
import type { Machine } from './machine.ts';
import { cpuTimeMs, monotonicUs } from './proc-stat.ts';
import { GROUP_ID_BYTES, ROLE_SENDER } from './raw-broadcaster.ts';
import { asBytes } from './relay-client.ts';

const SERVER_SCRIPT = fileURLToPath(new URL('./server-process.ts', import.meta.url));
const RECIPIENTS_SCRIPT = fileURLToPath(new URL('./fanout-recipients.ts', import.meta.url));

export const FANOUT_SECTION_START = '<!-- fan-out benchmark: start -->';
export const FANOUT_SECTION_END = '<!-- fan-out benchmark: end -->';

export type FanoutTarget = 'relay' | 'broadcast';

export interface FanoutOptions {
  target: FanoutTarget;
  recipients: number;
  /** `fsend`s (or broadcast frames) on their way at once: sent, not yet answered. */
  window: number;
  bodyBytes: number;
  warmupMs: number;
  measureMs: number;
  drainMs: number;
  /** Relay recipients ack every copy, as they must; false measures the fan-out path alone. */
  ack: boolean;
  /**
   * Relay recipients subscribe (default). False: the recipients are offline, their queues
   * only fill, and copies/s counts copies durably queued (the `fsent` answers), the relay's
   * fan-out rate without any socket to the recipients.
   */
  online?: boolean;
  profile?: boolean;
}

export interface FanoutResult {
  target: FanoutTarget;
  recipients: number;
  ack: boolean;
  /** False: recipients offline, copies/s are copies durably queued. */
  online: boolean;
  setupMs: number;
  /** Sends answered inside the window. */
  sends: number;
  deliveredPerSecond: number;
  latencyMs: LatencySummary;
  senderCpuUsPerSend: number;
  /** The synchronous part of a send (build, authenticate, hand to the socket), µs. */
  senderSyncUsPerSend: number;
  bytesPerSend: number;
  serverCpuPercent: number;
  serverCpuUsPerCopy: number;
  recipientsCpuPercent: number;
  /** Every copy arrived, no errors, all acked (relay). */
  check: string;
  profile?: ProfileSummary;
}

export interface OneByOneCost {
  recipients: number;
  /** The same work for one `fsend` to a list of them: constant in `recipients`. */
  fanoutCpuUsPerMessage: number;
  fanoutBytesPerMessage: number;
  cpuUsPerMessage: number;
  bytesPerMessage: number;
}

export interface FanoutReport {
  machine: Machine;
  config: Omit<FanoutOptions, 'target' | 'recipients' | 'profile' | 'ack' | 'online'> & { sizes: number[] };
  runs: FanoutResult[];
  oneByOne: OneByOneCost[];
  elapsedMs: number;
}

export const FANOUT_SIZES = [10, 100, 1_000];
const LOAD: Omit<FanoutOptions, 'target' | 'recipients' | 'ack' | 'online'> = {
  // Enough sends on their way that the relay's commit latency (an fsync per group commit)
  // does not bound the run: sends that arrive together are committed together.
  window: 16,
  bodyBytes: 256,
  warmupMs: 2_000,
  measureMs: 6_000,
  drainMs: 20_000,
};

function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Messages from a child, buffered until awaited. */
export class Child<In extends { type: string }, Out> {
  private readonly queue: In[] = [];
  private waiter: ((m: In) => void) | undefined;
  private exited: string | undefined;

  constructor(
    readonly child: ChildProcess,
    readonly name: string,
  ) {
    child.on('message', (m: In) => (this.waiter ? this.waiter(m) : this.queue.push(m)));
    child.on('exit', (code, signal) => {
      this.exited = `${name} exited (${signal ?? code})`;
      this.waiter?.({ type: 'exited' } as unknown as In);
    });
  }

  send(m: Out): void {
    if (this.child.connected) this.child.send(m as object);
  }

  next<T extends In['type']>(type: T, timeoutMs: number): Promise<Extract<In, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const done = (m: In | undefined): void => {
        clearTimeout(timer);
        this.waiter = undefined;
        if (!m) return reject(new Error(`${this.name}: no '${type}' within ${timeoutMs} ms`));
        if (m.type !== type) {
          const detail = 'error' in m ? `: ${String(m.error)}` : (this.exited ?? '');
          return reject(new Error(`${this.name}: expected '${type}', got '${m.type}'${detail}`));
        }
        resolve(m as Extract<In, { type: T }>);
      };
      const queued = this.queue.shift();
      if (queued) return done(queued);
      if (this.exited) return reject(new Error(this.exited));
      this.waiter = done;
    });
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** The sender's side of one run: sends one body, resolves when the server has answered. */
interface Sender {
  send(body: Uint8Array): Promise<void>;
  bytesSent(): number;
  close(): void;
}

/** A Transport that counts the bytes the sender uploads. */
function countingTransport(inner: Transport, counter: { bytes: number }): Transport {
  return {
    async connect(url, signal) {
      const conn = await inner.connect(url, signal);
      return {
        send: (data) => {
          counter.bytes += data.length;
          conn.send(data);
        },
        close: () => conn.close(),
        onMessage: (h) => conn.onMessage(h),
        onClose: (h) => conn.onClose(h),
      };
    },
  };
}

async function relaySender(
  address: string,
  entries: Array<{ sid: string; sk: string }>,
): Promise<Sender & { copies(): number; skipped(): number }> {
  const counter = { bytes: 0 };
  const conn = new RelayConnection({
    address,
    transport: countingTransport(nodeTransport(), counter),
    rng: systemRandom,
    onMessage: () => {},
    requestTimeoutMs: 120_000,
  });
  await conn.start();
  const fk = generateDhKeyPair(systemRandom).secretKey;
  const lid = await conn.createFanout(fk);
  await conn.addToFanout(
    lid,
    fk,
    entries.map((e) => ({ sid: fromHex(e.sid), sk: fromHex(e.sk) })),
  );
  let copies = 0;
  let skipped = 0;
  return {
    async send(body) {
      const r = await conn.fanoutSend(lid, fk, body);
      copies += r.stored;
      skipped += r.full.length + r.gone.length;
    },
    bytesSent: () => counter.bytes,
    copies: () => copies,
    skipped: () => skipped,
    close: () => conn.close(),
  };
}

/** The size of the relay's `fsend` frame for this body, so the broadcaster moves the same bytes. */
function fsendFrameBytes(bodyBytes: number): number {
  return encodeFrame({
    t: 'fsend',
    id: 50_000,
    lid: new Uint8Array(24),
    body: new Uint8Array(bodyBytes),
    auth: new Uint8Array(COMMAND_AUTH_BYTES),
  }).length;
}

async function broadcastSender(url: string, group: Uint8Array, frameBytes: number): Promise<Sender> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const hello = new Uint8Array(GROUP_ID_BYTES + 1);
  hello.set(group);
  hello[GROUP_ID_BYTES] = ROLE_SENDER;
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => ws.send(hello));
    ws.once('message', () => {
      ws.off('error', reject);
      resolve();
    });
  });
  const answers: Array<() => void> = [];
  ws.on('message', (data: WebSocket.RawData) => {
    if (asBytes(data).length === 1) answers.shift()?.();
  });
  let bytes = 0;
  const padding = systemRandom.bytes(frameBytes);
  return {
    send(body) {
      const frame = padding.slice();
      frame.set(body.subarray(0, Math.min(body.length, frame.length)));
      bytes += frame.length;
      return new Promise<void>((resolve) => {
        answers.push(resolve);
        ws.send(frame);
      });
    },
    bytesSent: () => bytes,
    close: () => ws.terminate(),
  };
}

export async function runFanout(opts: FanoutOptions): Promise<FanoutResult> {
  const profileDir = opts.profile ? await mkdtemp(join(tmpdir(), 'parus-fanout-prof-')) : undefined;
  const execArgv = [...process.execArgv];
  if (profileDir) execArgv.push('--cpu-prof', '--cpu-prof-dir', profileDir);
  const online = opts.online ?? true;
  // Without acks nothing leaves the queues or the delivery window during the run.
  const limits = opts.ack && online ? {} : { deliveryWindow: 10_000_000, maxQueueMessages: 10_000_000 };
  const server = new Child<ServerMessage, ServerCommand>(
    fork(SERVER_SCRIPT, [opts.target, JSON.stringify(limits)], {
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
    `${opts.target} server`,
  );
  let recipients: Child<RecipientsMessage, RecipientsCommand> | undefined;
  let sender: (Sender & { copies?(): number; skipped?(): number }) | undefined;
  try {
    const { address } = await server.next('listening', 30_000);
    const group = systemRandom.bytes(GROUP_ID_BYTES);
    const frameBytes = fsendFrameBytes(opts.bodyBytes);
    const cfg: FanoutRecipientsConfig = {
      target: opts.target,
      address,
      recipients: opts.recipients,
      group: toHex(group),
      setupConcurrency: 32,
      rawTimeOffset: 0,
      ack: opts.ack,
      subscribe: online,
    };
    recipients = new Child<RecipientsMessage, RecipientsCommand>(
      fork(RECIPIENTS_SCRIPT, [JSON.stringify(cfg)], {
        execArgv: [...process.execArgv],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
      'recipients',
    );
    const ready = await recipients.next('ready', 300_000);
    sender =
      opts.target === 'relay'
        ? await relaySender(address, ready.entries)
        : await broadcastSender(address, group, frameBytes);

    // The sending loop: `window` sends on their way; each answer lets the next one go.
    const body = systemRandom.bytes(opts.bodyBytes);
    const view = new DataView(body.buffer, body.byteOffset);
    let sending = true;
    let answered = 0;
    let syncMs = 0;
    let failure: unknown;
    const loops = Array.from({ length: opts.window }, async () => {
      while (sending) {
        const t = performance.now();
        view.setFloat64(0, wallMs());
        const sent = sender!.send(body);
        syncMs += performance.now() - t;
        await sent;
        answered += 1;
      }
    });
    const allLoops = Promise.all(loops).catch((error: unknown) => {
      failure = error;
      sending = false;
    });

    await sleep(opts.warmupMs);
    const start = {
      us: monotonicUs(),
      serverCpuMs: cpuTimeMs(server.child.pid),
      cpu: process.cpuUsage(),
      answered,
      syncMs,
      bytes: sender.bytesSent(),
      copies: sender.copies?.() ?? 0,
    };
    recipients.send({ type: 'mark-start' });
    server.send({ type: 'mark-start' });
    await sleep(opts.measureMs);
    const windowMessage = recipients.next('window', 60_000);
    recipients.send({ type: 'mark-end' });
    server.send({ type: 'mark-end' });
    const end = {
      us: monotonicUs(),
      serverCpuMs: cpuTimeMs(server.child.pid),
      cpu: process.cpuUsage(start.cpu),
      answered,
      syncMs,
      bytes: sender.bytesSent(),
      copies: sender.copies?.() ?? 0,
    };
    const window = await windowMessage;
    sending = false;
    await Promise.race([allLoops, sleep(opts.drainMs)]);
    if (failure) throw failure;
    // Let the last copies arrive before counting.
    const expected = opts.target === 'relay' ? (sender.copies?.() ?? 0) : answered * opts.recipients;
    if (online) await sleep(Math.min(opts.drainMs, 500 + opts.recipients));
    await server.next('loop-delay', 30_000);
    recipients.send({ type: 'stop', expected: online ? expected : 0 });
    const stopped = await recipients.next('stopped', 90_000);
    server.send({ type: 'stop' });
    const serverStopped = await server.next('stopped', 60_000);

    const seconds = (end.us - start.us) / 1e6;
    const sends = end.answered - start.answered;
    const serverCpuMs = end.serverCpuMs - start.serverCpuMs;
    // Offline recipients: the copies the relay answered for in the window, each durable
    // (committed) before its `fsent`.
    const counted = online ? window.delivered : end.copies - start.copies;
    const problems: string[] = [];
    if (!online) {
      const held = serverStopped.stats.relay?.messages;
      if (held !== expected) problems.push(`${String(held)} of ${expected} copies held by the relay`);
    } else if (stopped.received !== expected)
      problems.push(`${stopped.received} of ${expected} copies arrived`);
    if (sender.skipped && sender.skipped() > 0) problems.push(`${sender.skipped()} copies skipped`);
    if (opts.target === 'relay' && opts.ack && stopped.acked < stopped.received) {
      problems.push(`${stopped.received - stopped.acked} acks unanswered`);
    }
    const errors = Object.entries(stopped.errors);
    if (errors.length > 0) problems.push(`errors: ${errors.map(([k, v]) => `${k} ${v}`).join(', ')}`);
    const result: FanoutResult = {
      target: opts.target,
      recipients: opts.recipients,
      ack: opts.ack,
      online,
      setupMs: ready.setupMs,
      sends,
      deliveredPerSecond: counted / seconds,
      latencyMs: window.latencyMs,
      senderCpuUsPerSend: (end.cpu.user + end.cpu.system) / sends,
      senderSyncUsPerSend: ((end.syncMs - start.syncMs) * 1000) / sends,
      bytesPerSend: (end.bytes - start.bytes) / sends,
      serverCpuPercent: (serverCpuMs / (seconds * 1000)) * 100,
      serverCpuUsPerCopy: (serverCpuMs * 1000) / counted,
      recipientsCpuPercent: (window.cpuMs / (seconds * 1000)) * 100,
      check:
        problems.length === 0
          ? `ok, all ${expected.toLocaleString('en-US')} ${online ? 'arrived' : 'stored'}`
          : problems.join('; '),
    };
    if (profileDir) {
      await sleep(500);
      const file = (await readdir(profileDir)).find((f) => f.endsWith('.cpuprofile'));
      if (file) {
        const startUs = start.us;
        result.profile = await summariseProfile(join(profileDir, file), startUs, end.us);
      }
      await rm(profileDir, { recursive: true, force: true });
    }
    return result;
  } finally {
    sender?.close();
    recipients?.kill();
    await sleep(200);
    server.kill();
  }
}

/** What a sender would spend to send each copy itself: N authenticated `send` frames. */
export function oneByOneCost(recipients: number, bodyBytes: number): OneByOneCost {
  const session = systemRandom.bytes(32);
  const keys = Array.from({ length: recipients }, () => systemRandom.bytes(32));
  const sids = Array.from({ length: recipients }, () => systemRandom.bytes(QUEUE_ID_BYTES));
  const body = systemRandom.bytes(bodyBytes);
  let bytes = 0;
  let messages = 0;
  const cpu = process.cpuUsage();
  const until = performance.now() + 1_000;
  let id = 1;
  while (performance.now() < until || messages === 0) {
    for (let i = 0; i < recipients; i++) {
      const frame: SendFrame = { t: 'send', id: id++, sid: sids[i]!, body };
      frame.auth = authenticateCommand(keys[i]!, session, frame);
      bytes += encodeFrame(frame).length;
    }
    messages += 1;
  }
  const used = process.cpuUsage(cpu);
  // The fan-out sender's work for the same message: one `fsend`, whatever the list holds.
  const lid = systemRandom.bytes(24);
  let fanoutBytes = 0;
  let fanoutMessages = 0;
  const fanoutCpu = process.cpuUsage();
  const fanoutUntil = performance.now() + 500;
  while (performance.now() < fanoutUntil || fanoutMessages === 0) {
    const frame: FanoutSendFrame = { t: 'fsend', id: id++, lid, body, auth: new Uint8Array(0) };
    frame.auth = authenticateCommand(keys[0]!, session, frame);
    fanoutBytes += encodeFrame(frame).length;
    fanoutMessages += 1;
  }
  const fanoutUsed = process.cpuUsage(fanoutCpu);
  return {
    recipients,
    cpuUsPerMessage: (used.user + used.system) / messages,
    bytesPerMessage: bytes / messages,
    fanoutCpuUsPerMessage: (fanoutUsed.user + fanoutUsed.system) / fanoutMessages,
    fanoutBytesPerMessage: fanoutBytes / fanoutMessages,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function benchFanout(log: (line: string) => void): Promise<FanoutReport> {
  await initCrypto();
  const started = performance.now();
  const machine = await describeMachine();
  const runs: FanoutResult[] = [];
  const kinds: Array<{ target: FanoutTarget; ack: boolean; online: boolean }> = [
    { target: 'broadcast', ack: false, online: true },
    { target: 'relay', ack: false, online: false },
    { target: 'relay', ack: true, online: true },
    { target: 'relay', ack: false, online: true },
  ];
  for (const recipients of FANOUT_SIZES) {
    for (const kind of kinds) {
      const r = await runFanout({ ...LOAD, ...kind, recipients });
      runs.push(r);
      log(
        `fan-out ${label(r)} to ${recipients}: ${Math.round(r.deliveredPerSecond)} copies/s, p50 ${ms(r.latencyMs.p50 ?? NaN)} ms, ` +
          `sender ${r.senderSyncUsPerSend.toFixed(0)} µs and ${Math.round(r.bytesPerSend)} B per send, server ${r.serverCpuUsPerCopy.toFixed(1)} µs/copy; ${r.check}`,
      );
    }
  }
  const profiled = await runFanout({
    ...LOAD,
    target: 'relay',
    // The fan-out path itself; the ack path is the 1:1 one, profiled above.
    ack: false,
    recipients: 1_000,
    measureMs: 4_000,
    profile: true,
  });
  log(`fan-out relay to 1000 (profiled): ${Math.round(profiled.deliveredPerSecond)} copies/s`);
  runs.push(profiled);
  const oneByOne = FANOUT_SIZES.map((n) => oneByOneCost(n, LOAD.bodyBytes));
  return {
    machine,
    config: { ...LOAD, sizes: FANOUT_SIZES },
    runs,
    oneByOne,
    elapsedMs: performance.now() - started,
  };
}

// ---- Report ----------------------------------------------------------------------------

function label(r: FanoutResult): string {
  if (r.target === 'broadcast') return 'raw broadcast';
  if (!r.online) return 'relay, offline: durably queued';
  return r.ack ? 'relay, online: pushed and acked' : 'relay, online, no acks';
}

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const ms = (n: number): string =>
  !Number.isFinite(n) ? '–' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : int(n);

export function renderFanoutSection(r: FanoutReport): string {
  const measured = r.runs.filter((x) => !x.profile);
  const lines: string[] = [];
  lines.push(FANOUT_SECTION_START);
  lines.push('## Group fan-out');
  lines.push('');
  lines.push(
    `_Generated by \`npm run bench -- --only fanout\` (bench/fanout-bench.ts) on ${r.machine.date} in ${int(r.elapsedMs / 1000)} s, ` +
      `on ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}. The machine is shared with other work: ` +
      'throughput moves from run to run; CPU per send and per copy move less._',
  );
  lines.push('');
  lines.push(
    `One sender, one group of N recipient queues, each with its own subscribed connection (all recipients in one process); ` +
      `${r.config.bodyBytes}-byte bodies, ${r.config.window} sends on their way at once, ` +
      `${r.config.warmupMs / 1000} s warm-up, ${r.config.measureMs / 1000} s measured. _Relay_: \`fsend\` to a fan-out list ` +
      '(RelayConnection.fanoutSend), durably stored once per queue (SQLite WAL, synchronous = FULL, group commit), sealed per queue, ' +
      'pushed to subscribers, each copy opened and acked by its recipient (the acks of one event-loop turn in one batched `ack` ' +
      'per queue, as the account engine acks a burst). _Raw broadcast_: bench/raw-broadcaster.ts copies the ' +
      'same number of bytes to the same clients and does nothing else (the ceiling).',
  );
  lines.push('');
  lines.push(
    '**What "fan-out deliveries per second" means here.** Two figures, each counted only when it happened: ' +
      '_durably queued_ (recipients offline: copies the relay committed and fsynced into their queues before answering ' +
      "`fsent`, counted from the `fsent` answers; the relay's fan-out rate proper, with no socket to any recipient) " +
      'and _pushed_ (recipients online: copies received and opened and, in the acked rows, acked by their recipients, ' +
      "counted in the recipients' process).",
  );
  lines.push('');
  lines.push(
    '| N | server | copies/s | / raw | p50 / p99 ms | server CPU µs/copy | server CPU % | sender µs/send | sender process CPU µs/send | bytes up/send | recipients CPU % | check |',
  );
  lines.push('| --: | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |');
  for (const n of r.config.sizes) {
    const raw = measured.find((x) => x.recipients === n && x.target === 'broadcast');
    for (const x of measured.filter((m) => m.recipients === n)) {
      const ratio =
        raw && x !== raw ? `${((x.deliveredPerSecond / raw.deliveredPerSecond) * 100).toFixed(1)} %` : '';
      lines.push(
        `| ${int(n)} | ${label(x)} | ${int(x.deliveredPerSecond)} | ${ratio} | ${ms(x.latencyMs.p50)} / ${ms(x.latencyMs.p99)} | ` +
          `${x.serverCpuUsPerCopy.toFixed(1)} | ${int(x.serverCpuPercent)} | ${x.senderSyncUsPerSend.toFixed(0)} | ${int(x.senderCpuUsPerSend)} | ` +
          `${int(x.bytesPerSend)} | ${int(x.recipientsCpuPercent)} | ${x.check} |`,
      );
    }
  }
  lines.push('');
  lines.push(
    '_Relay_ rows: recipients open and ack every copy, as they must (each ack is a frame in, a durable delete, an `ok` out). ' +
      "_Relay, no acks_: the same with recipients that only open their copies (the relay's delivery window and queue limit " +
      'raised for the run), which isolates the fan-out path: check, one body row, the copies appended by one statement, seal per queue, push. ' +
      "_Sender µs/send_ is the synchronous part of a send in the sender's process (build and authenticate the frame, hand it " +
      "to the socket); _sender process CPU_ is that process's whole CPU time over the window divided by the sends, so it also " +
      'carries the fixed cost of a mostly idle process (timers, IPC, garbage collection) when sends are few. Bytes up are the ' +
      'WebSocket payloads the sender handed to its socket. Copies/s count copies received by recipients in the window; latency ' +
      "runs from the send time written into the body to its receipt in the recipients' process (two clocks of one machine). " +
      'Server CPU is from /proc; a server below 100 % is waiting, for the disk (each group commit is fsynced, and better-sqlite3 ' +
      'blocks the event loop meanwhile) or for its clients.',
  );
  lines.push('');
  lines.push(...whatChanged(measured));
  const relayAt = (n: number): FanoutResult | undefined =>
    measured.find((x) => x.recipients === n && x.target === 'relay' && x.ack && x.online);
  const small = relayAt(r.config.sizes[0]!);
  const large = relayAt(r.config.sizes[r.config.sizes.length - 1]!);
  const bestOf = (keep: (x: FanoutResult) => boolean): number =>
    Math.max(...measured.filter((x) => x.target === 'relay' && keep(x)).map((x) => x.deliveredPerSecond));
  const bestQueued = bestOf((x) => !x.online);
  const bestAcked = bestOf((x) => x.online && x.ack);
  const bestPushed = bestOf((x) => x.online && !x.ack);
  const bestRaw = Math.max(
    ...measured.filter((x) => x.target === 'broadcast').map((x) => x.deliveredPerSecond),
  );
  if (small && large) {
    lines.push(
      `**Sender cost:** from ${int(small.recipients)} to ${int(large.recipients)} recipients a send uploaded ` +
        `${int(small.bytesPerSend)} and ${int(large.bytesPerSend)} bytes, and its synchronous part took ` +
        `${small.senderSyncUsPerSend.toFixed(0)} and ${large.senderSyncUsPerSend.toFixed(0)} µs on the busy machine ` +
        `(in-process, without sockets: ${r.oneByOne.map((c) => c.fanoutCpuUsPerMessage.toFixed(0)).join(', ')} µs for ` +
        `N = ${r.oneByOne.map((c) => int(c.recipients)).join(', ')}; one send per recipient would take ` +
        `${r.oneByOne.map((c) => int(c.cpuUsPerMessage)).join(', ')} µs). ` +
        `**Relay throughput:** durably queued at best ${int(bestQueued)} copies/s, ` +
        (bestQueued >= 100_000 ? 'which meets' : '**which misses**') +
        ` the target of 100,000 fan-out deliveries per second; pushed to online recipients at best ${int(bestPushed)} copies/s, ` +
        (bestPushed >= 100_000 ? 'which meets it' : '**which misses it**') +
        `, and to online recipients that also ack every copy at best ${int(bestAcked)}, ` +
        (bestAcked >= 100_000 ? 'which meets it' : '**which misses it**') +
        `; the raw broadcaster, which only copies frames, reached ${int(bestRaw)} on the same machine in the same run.`,
    );
    lines.push('');
  }
  const largest = r.config.sizes[r.config.sizes.length - 1]!;
  const at = (t: FanoutTarget, ack: boolean, online: boolean): FanoutResult | undefined =>
    measured.find((x) => x.recipients === largest && x.target === t && x.ack === ack && x.online === online);
  const [rawL, queuedL, ackL, pathL] = [
    at('broadcast', false, true),
    at('relay', false, false),
    at('relay', true, true),
    at('relay', false, true),
  ];
  if (rawL && queuedL && ackL && pathL) {
    lines.push(
      `**Where the time goes.** With N = ${int(largest)} a copy cost the relay ${queuedL.serverCpuUsPerCopy.toFixed(1)} µs of CPU to ` +
        `queue durably (recipients offline), ${pathL.serverCpuUsPerCopy.toFixed(1)} µs to queue, seal and push, and ` +
        `${ackL.serverCpuUsPerCopy.toFixed(1)} µs with its ack, against ${rawL.serverCpuUsPerCopy.toFixed(1)} µs for the raw ` +
        "broadcaster's copy; 100,000 copies/s on one core leave 10 µs per copy. A server below 100 % CPU was waiting: for the " +
        'disk (each group commit is fsynced) or, on this shared machine, for a core.',
    );
    lines.push('');
  }
  lines.push(
    "The sender's work per message measured in-process, without sockets or a relay (build the frames, authenticate them, " +
      'encode them): one `fsend` to the list, against what a sender without fan-out would do, one authenticated `send` per recipient:',
  );
  lines.push('');
  lines.push(
    '| N | fan-out: CPU µs/message | fan-out: bytes up/message | one send per recipient: CPU µs/message | one send per recipient: bytes up/message |',
  );
  lines.push('| --: | --: | --: | --: | --: |');
  for (const c of r.oneByOne) {
    lines.push(
      `| ${int(c.recipients)} | ${c.fanoutCpuUsPerMessage.toFixed(0)} | ${int(c.fanoutBytesPerMessage)} | ${int(c.cpuUsPerMessage)} | ${int(c.bytesPerMessage)} |`,
    );
  }
  const profiled = r.runs.find((x) => x.profile);
  if (profiled?.profile) {
    lines.push('');
    lines.push(
      `Where the relay's time goes on the fan-out path, N = 1,000 and no acks (a separate run under \`--cpu-prof\`, ${int(profiled.deliveredPerSecond)} copies/s, ` +
        'samples restricted to the measured window; the same attribution rules as above):',
    );
    lines.push('');
    lines.push('| activity | share of busy time | ≈ µs per copy |');
    lines.push('| --- | --: | --: |');
    const copies = profiled.deliveredPerSecond * (profiled.profile.windowMs / 1000);
    for (const a of profiled.profile.activities.slice(0, 12)) {
      lines.push(`| ${a.name} | ${a.percent.toFixed(1)} % | ${((a.ms * 1000) / copies).toFixed(1)} |`);
    }
    lines.push('');
    lines.push('| function (self time) | share |');
    lines.push('| --- | --: |');
    for (const f of profiled.profile.functions.slice(0, 12))
      lines.push(`| \`${f.name}\` | ${f.percent.toFixed(1)} % |`);
  }
  lines.push('');
  lines.push(FANOUT_SECTION_END);
  return lines.join('\n');
}

/**
 * The figures before decision 0020 (docs/decisions/0020-relay-delivery-path.md): the run of
 * 2026-12-02 22:02 with the code of decision 0016, load about 1–2 on two cores: copies/s and
 * server µs per copy pushed to online recipients, by N.
 */
const BEFORE_0020: Record<'acked' | 'pushed', Record<number, [number, number]>> = {
  acked: { 10: [13_600, 60.9], 100: [25_737, 38.5], 1_000: [21_328, 51.1] },
  pushed: { 10: [19_356, 41.3], 100: [43_490, 22.7], 1_000: [37_725, 29.8] },
};

/**
 * What changed and what it bought: decision 0020 seals each delivery with libsodium's native
 * build, carves the delivery path's arrays from slabs and applies an ack of one id without a
 * savepoint. The paragraph sets this run's online rows against the figures before it.
 */
function whatChanged(measured: FanoutResult[]): string[] {
  const cell = (kind: 'acked' | 'pushed', n: number): string | undefined => {
    const before = BEFORE_0020[kind][n];
    const now = measured.find(
      (x) => x.target === 'relay' && x.recipients === n && x.online && x.ack === (kind === 'acked'),
    );
    if (!before || !now) return undefined;
    return (
      `N = ${int(n)}: ${int(before[0])} → ${int(now.deliveredPerSecond)} copies/s, ` +
      `${before[1]} → ${now.serverCpuUsPerCopy.toFixed(1)} µs/copy`
    );
  };
  const sizes = [10, 100, 1_000];
  const pushed = sizes.map((n) => cell('pushed', n)).filter((c) => c !== undefined);
  const acked = sizes.map((n) => cell('acked', n)).filter((c) => c !== undefined);
  if (pushed.length === 0 && acked.length === 0) return [];
  return [
    "**What changed (decision 0020) and what it bought.** The relay seals each delivered copy with libsodium's native " +
      'build instead of its WebAssembly one (the same bytes, written straight into place), carves the sealed copy and its ' +
      '`msg` frame from 64 KiB slabs instead of an ArrayBuffer each, and applies an ack of one id without a savepoint of its ' +
      "own. Against the run before it (same benchmark, 2026-12-02, load about 1–2; copies/s follow the machine's load, " +
      `µs per copy much less): pushed, no acks ${pushed.join('; ')}; pushed and acked ${acked.join('; ')}.`,
    '',
  ];
}

const FANOUT_MARKERS: SectionMarkers = {
  start: FANOUT_SECTION_START,
  end: FANOUT_SECTION_END,
  before: '## Double Ratchet',
};

/** Puts the section into the report, replacing an earlier one, else before "## Double Ratchet". */
export function spliceFanoutSection(markdown: string, section: string): string {
  return spliceSection(markdown, FANOUT_MARKERS, section);
}

/** `--only fanout`: run this benchmark alone and update its section of docs/BENCHMARKS.md. */
export async function fanoutOnly(log: (line: string) => void): Promise<void> {
  await writeSection(FANOUT_MARKERS, renderFanoutSection(await benchFanout(log)));
  log(`wrote the fan-out section of ${BENCHMARKS_FILE}`);
}
