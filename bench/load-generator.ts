/**
 * The load generator: every client of one run, in one process of its own, forked by
 * run.ts with a JSON LoadConfig as its argument.
 *
 * Clients are paired (0↔1, 2↔3, ...) and each sends to its partner as fast as its window
 * allows: a send takes a place in the sender's window until the partner has received it,
 * end to end, so the server is kept saturated and the number of messages on their way
 * stays bounded (clients × window). Relay clients speak the real protocol: hello with the
 * fingerprint check, a queue of their own secured with their partner's sender key,
 * authenticated sends, and an ack for each message, authenticated, after opening its sealed body. Raw clients
 * send frames of the same size to the raw forwarder. The anchors' clients do the same with
 * their own protocols: MQTT clients (mqtt-client.ts) publish with QoS 1 to their partner's
 * topic and PUBACK what they receive; XMPP clients (xmpp-client.ts) send chat messages to
 * their partner's full JID with stream-management acks both ways.
 *
 * Phases: setup, then (on `go`) a warm-up, the measured window, and a bounded drain.
 */
import { performance } from 'node:perf_hooks';
import {
  dhKeyPairFromSecret,
  generateDhKeyPair,
  initCrypto,
  encodeCbor,
  encodeFrame,
  openDelivery,
  parseRelayAddress,
  queueKey,
  systemRandom,
  DH_BYTES,
  QUEUE_ID_BYTES,
  COMMAND_AUTH_BYTES,
} from '@parus/core';
import type { MsgFrame } from '@parus/core';
import WebSocket from 'ws';
import { describeError, sendThenExit } from './ipc.ts';
import { BenchMqttClient, mqttPublishBytes } from './mqtt-client.ts';
import { BenchXmppClient, xmppMessageBytes } from './xmpp-client.ts';
import type { LoadCommand, LoadConfig, LoadMessage, LoadResult } from './ipc.ts';
import { RAW_ID_BYTES } from './raw-forwarder.ts';
import { BenchRelayClient, asBytes } from './relay-client.ts';
import { Samples, summarise } from './stats.ts';

const REQUEST_TIMEOUT_MS = 60_000;
const MAX_LATENCY_SAMPLES = 4_000_000;
/** Offset of the sequence number inside a raw frame (after the destination id). */
const RAW_SEQ_OFFSET = RAW_ID_BYTES;

/** One direction of a pair: what a sender has on its way to its partner. */
interface Flow {
  inflight: number;
  nextSeq: number;
  /** Send time (performance.now()) of each sequence number not yet received. */
  sentAt: Map<number, number>;
}

/** What the measurement needs from a client, whatever it talks to. */
interface Client {
  flow: Flow;
  /** Sends one message with this sequence number to the partner. */
  sendTo(seq: number): void;
  close(): Promise<void>;
  terminate(): void;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function post(message: LoadMessage): void {
  process.send?.(message);
}

/** Runs `task` for each index with at most `limit` running at once. */
async function pool(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

class Meter {
  measuring = false;
  measureStart = Infinity;
  measureEnd = Infinity;
  delivered = 0;
  received = 0;
  sent = 0;
  /** Deliveries of a sequence number that was not on its way (a duplicate, or never sent). */
  unexpected = 0;
  readonly latencies = new Samples(MAX_LATENCY_SAMPLES);

  /** A message with sequence number `seq` from `sender` arrived. */
  arrived(sender: Client, seq: number): void {
    const now = performance.now();
    const flow = sender.flow;
    const sentAt = flow.sentAt.get(seq);
    if (sentAt === undefined) {
      this.unexpected += 1;
      return;
    }
    flow.sentAt.delete(seq);
    flow.inflight -= 1;
    this.received += 1;
    if (now >= this.measureStart && now < this.measureEnd) {
      this.delivered += 1;
      this.latencies.push(now - sentAt);
    }
  }
}

/** A connection whose answers to fire-and-forget requests, and errors, are counted at the end. */
interface Answering {
  fired: number;
  oks: number;
  /** Message ids the relay's `ok`s to acks acknowledged (a batch counts each of its ids). */
  ackedIds?: number;
  readonly errors: Map<string, number>;
}

interface Setup {
  clients: Client[];
  /** The connections whose answers and errors are counted at the end (none for raw). */
  answering: Answering[];
  /** Bytes of one client → server and one server → client message, when not the relay's. */
  frameBytes?: { up: number; down: number };
}

async function setupRelay(cfg: LoadConfig, meter: Meter, pump: (c: Client) => void): Promise<Setup> {
  const rng = systemRandom;
  const address = parseRelayAddress(cfg.address);
  const n = cfg.clients;
  // Each client's queue is secured with a sender key that its partner holds (in Parus the
  // key would travel in a rendez-vous card; here the pair shares a process).
  const senderKeys = Array.from({ length: n }, () => generateDhKeyPair(rng));
  const conns: BenchRelayClient[] = new Array<BenchRelayClient>(n);
  const sids: Uint8Array[] = new Array<Uint8Array>(n);
  const clients: Client[] = new Array<Client>(n);
  const bodies = Array.from({ length: n }, () => rng.bytes(cfg.bodyBytes));
  const partner = (i: number): number => i ^ 1;

  await pool(n, cfg.setupConcurrency, async (i) => {
    const conn = await BenchRelayClient.connect(address, rng, REQUEST_TIMEOUT_MS);
    const rk = generateDhKeyPair(rng);
    const rdh = dhKeyPairFromSecret(rng.bytes(DH_BYTES));
    const ids = await conn.createQueue(rk.publicKey, rk.secretKey, rdh.publicKey, senderKeys[i]!.publicKey);
    const key = queueKey(rdh.secretKey, ids.sdh, ids.rid);
    conn.onMsg = (frame: MsgFrame) => {
      const delivered = openDelivery(key, frame.mid, frame.body);
      const seq = new DataView(delivered.body.buffer, delivered.body.byteOffset).getUint32(0);
      // As the account engine acks (client relay-connection.ts): the deliveries of one turn
      // in one batched ack per queue, answered by one ok (docs/decisions/0051).
      conn.ackBatched(ids.rid, frame.mid, rk.secretKey);
      const sender = clients[partner(i)]!;
      meter.arrived(sender, seq);
      pump(sender);
    };
    const ok = await conn.subscribe(ids.rid, rk.secretKey);
    if (ok.pending !== 0) throw new Error('a new queue has pending messages');
    conns[i] = conn;
    sids[i] = ids.sid;
  });

  for (let i = 0; i < n; i++) {
    const conn = conns[i]!;
    const to = sids[partner(i)]!;
    const skSecret = senderKeys[partner(i)]!.secretKey;
    const body = bodies[i]!;
    const view = new DataView(body.buffer, body.byteOffset);
    const flow: Flow = { inflight: 0, nextSeq: 0, sentAt: new Map() };
    clients[i] = {
      flow,
      sendTo: (seq) => {
        view.setUint32(0, seq);
        conn.send(to, body, skSecret);
        flow.sentAt.set(seq, performance.now());
      },
      close: () => conn.close(),
      terminate: () => conn.terminate(),
    };
  }
  return { clients, answering: conns };
}

/** The size of a relay `send` frame carrying a body of `bodyBytes`, with a 3-byte request id. */
function relaySendFrameBytes(bodyBytes: number): number {
  return encodeFrame({
    t: 'send',
    id: 50_000,
    sid: new Uint8Array(QUEUE_ID_BYTES),
    body: new Uint8Array(bodyBytes),
    auth: new Uint8Array(COMMAND_AUTH_BYTES),
  }).length;
}

async function setupRaw(cfg: LoadConfig, meter: Meter, pump: (c: Client) => void): Promise<Setup> {
  const n = cfg.clients;
  const frameBytes = relaySendFrameBytes(cfg.bodyBytes);
  const ids = Array.from({ length: n }, () => Buffer.from(systemRandom.bytes(RAW_ID_BYTES)));
  const padding = Buffer.from(systemRandom.bytes(frameBytes));
  const sockets: WebSocket[] = new Array<WebSocket>(n);
  const clients: Client[] = new Array<Client>(n);
  const partner = (i: number): number => i ^ 1;

  await pool(n, cfg.setupConcurrency, async (i) => {
    const ws = new WebSocket(cfg.address, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('raw forwarder did not register the client')),
        REQUEST_TIMEOUT_MS,
      );
      ws.once('error', reject);
      ws.once('open', () => ws.send(ids[i]!));
      ws.once('message', () => {
        clearTimeout(timer);
        ws.off('error', reject);
        resolve();
      });
    });
    ws.on('error', () => ws.terminate());
    ws.on('message', (data: WebSocket.RawData) => {
      const frame = asBytes(data);
      const seq = new DataView(frame.buffer, frame.byteOffset).getUint32(RAW_SEQ_OFFSET);
      const sender = clients[partner(i)]!;
      meter.arrived(sender, seq);
      pump(sender);
    });
    sockets[i] = ws;
  });

  for (let i = 0; i < n; i++) {
    const ws = sockets[i]!;
    const to = ids[partner(i)]!;
    const flow: Flow = { inflight: 0, nextSeq: 0, sentAt: new Map() };
    clients[i] = {
      flow,
      sendTo: (seq) => {
        // A fresh buffer per frame, as the relay client encodes a fresh one per send.
        const frame = Buffer.allocUnsafe(frameBytes);
        padding.copy(frame);
        to.copy(frame, 0);
        frame.writeUInt32BE(seq, RAW_SEQ_OFFSET);
        ws.send(frame);
        flow.sentAt.set(seq, performance.now());
      },
      close: () =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once('close', () => resolve());
          ws.close();
        }),
      terminate: () => ws.terminate(),
    };
  }
  return { clients, answering: [] };
}

/** The sequence number a body starts with, as text (XMPP bodies are text). */
const SEQ_CHARS = 8;

/** The XMPP clients' message text: `seq` in hex, then the filler (bodyBytes ASCII characters in all). */
function textBody(seq: number, filler: string): string {
  return seq.toString(16).padStart(SEQ_CHARS, '0') + filler;
}

async function setupMqtt(cfg: LoadConfig, meter: Meter, pump: (c: Client) => void): Promise<Setup> {
  const n = cfg.clients;
  const url = new URL(cfg.address);
  const run = systemRandom.bytes(4).reduce((s, b) => s + b.toString(16).padStart(2, '0'), '');
  const topic = (i: number): string => `parus-bench/${run}/${i}`;
  const conns: BenchMqttClient[] = new Array<BenchMqttClient>(n);
  const clients: Client[] = new Array<Client>(n);
  const partner = (i: number): number => i ^ 1;

  await pool(n, cfg.setupConcurrency, async (i) => {
    const conn = await BenchMqttClient.connect(
      url.hostname,
      Number(url.port),
      `pb-${run}-${i}`,
      REQUEST_TIMEOUT_MS,
    );
    conn.onPublish = (_topic, payload) => {
      const seq = payload.readUInt32BE(0);
      const sender = clients[partner(i)]!;
      meter.arrived(sender, seq);
      pump(sender);
    };
    await conn.subscribe(topic(i), REQUEST_TIMEOUT_MS);
    conns[i] = conn;
  });

  for (let i = 0; i < n; i++) {
    const conn = conns[i]!;
    const name = Buffer.from(topic(partner(i)), 'utf8');
    const to = Buffer.alloc(2 + name.length);
    to.writeUInt16BE(name.length);
    name.copy(to, 2);
    const padding = Buffer.from(systemRandom.bytes(cfg.bodyBytes));
    const flow: Flow = { inflight: 0, nextSeq: 0, sentAt: new Map() };
    clients[i] = {
      flow,
      sendTo: (seq) => {
        // A fresh payload per message, as the relay client encodes a fresh frame per send.
        const payload = Buffer.allocUnsafe(cfg.bodyBytes);
        padding.copy(payload);
        payload.writeUInt32BE(seq, 0);
        conn.publish(to, payload);
        flow.sentAt.set(seq, performance.now());
      },
      close: () => conn.close(),
      terminate: () => conn.terminate(),
    };
  }
  const publishBytes = mqttPublishBytes(topic(0), cfg.bodyBytes);
  return { clients, answering: conns, frameBytes: { up: publishBytes, down: publishBytes } };
}

async function setupXmpp(cfg: LoadConfig, meter: Meter, pump: (c: Client) => void): Promise<Setup> {
  const n = cfg.clients;
  // xmpp://host:port/domain
  const url = new URL(cfg.address);
  const domain = url.pathname.slice(1);
  const conns: BenchXmppClient[] = new Array<BenchXmppClient>(n);
  const jids: string[] = new Array<string>(n);
  const clients: Client[] = new Array<Client>(n);
  const partner = (i: number): number => i ^ 1;
  const filler = Buffer.from(systemRandom.bytes(cfg.bodyBytes))
    .toString('base64')
    .slice(0, cfg.bodyBytes - SEQ_CHARS);

  await pool(n, cfg.setupConcurrency, async (i) => {
    const password = Buffer.from(systemRandom.bytes(12)).toString('hex');
    const { client, jid } = await BenchXmppClient.connect({
      host: url.hostname,
      port: Number(url.port),
      domain,
      user: `u${i}`,
      password,
      resource: 'bench',
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
    client.onMessage = (_from, body) => {
      const seq = parseInt(body.slice(0, SEQ_CHARS), 16);
      const sender = clients[partner(i)]!;
      meter.arrived(sender, seq);
      pump(sender);
    };
    conns[i] = client;
    jids[i] = jid;
  });

  for (let i = 0; i < n; i++) {
    const conn = conns[i]!;
    const to = jids[partner(i)]!;
    const flow: Flow = { inflight: 0, nextSeq: 0, sentAt: new Map() };
    clients[i] = {
      flow,
      sendTo: (seq) => {
        conn.send(to, textBody(seq, filler));
        flow.sentAt.set(seq, performance.now());
      },
      close: () => conn.close(),
      terminate: () => conn.terminate(),
    };
  }
  const fallback = `u1@${domain}/bench`;
  const frameBytes = xmppMessageBytes(jids[0] ?? fallback, jids[1] ?? fallback, cfg.bodyBytes);
  return { clients, answering: conns, frameBytes };
}

const SETUPS: Record<
  LoadConfig['target'],
  (cfg: LoadConfig, meter: Meter, pump: (c: Client) => void) => Promise<Setup>
> = {
  relay: setupRelay,
  raw: setupRaw,
  mosquitto: setupMqtt,
  prosody: setupXmpp,
  broadcast: () => Promise.reject(new Error('the broadcast target belongs to fanout-bench.ts')),
};

async function run(cfg: LoadConfig): Promise<void> {
  await initCrypto();
  const meter = new Meter();
  let sending = false;
  const pump = (c: Client): void => {
    while (sending && c.flow.inflight < cfg.window) {
      c.flow.inflight += 1;
      meter.sent += 1;
      c.sendTo(c.flow.nextSeq++);
    }
  };

  const setupStarted = performance.now();
  const { clients, answering, frameBytes } = await SETUPS[cfg.target](cfg, meter, pump);
  const setupMs = performance.now() - setupStarted;
  post({ type: 'ready', setupMs });
  await new Promise<void>((resolve) => {
    process.once('message', (m: LoadCommand) => {
      if (m.type === 'go') resolve();
    });
  });

  const started = performance.now();
  sending = true;
  for (const c of clients) pump(c);

  // Warm-up, then the measured window; both bounded in time.
  const fullWindows = cfg.clients * cfg.window;
  while (true) {
    await sleep(20);
    const elapsed = performance.now() - started;
    if (elapsed >= cfg.maxWarmupMs || (elapsed >= cfg.warmupMs && meter.received >= fullWindows)) break;
  }
  const cpuStart = process.cpuUsage();
  meter.measureStart = performance.now();
  post({ type: 'measure-start' });
  const maxMeasureMs = Math.max(cfg.measureMs, cfg.maxMeasureMs ?? cfg.measureMs);
  while (true) {
    await sleep(Math.min(20, cfg.measureMs));
    const elapsed = performance.now() - meter.measureStart;
    if (elapsed >= maxMeasureMs || (elapsed >= cfg.measureMs && meter.delivered >= fullWindows)) break;
  }
  meter.measureEnd = performance.now();
  const cpu = process.cpuUsage(cpuStart);
  const cpuPercent = ((cpu.user + cpu.system) / 1000 / (performance.now() - meter.measureStart)) * 100;
  sending = false;
  post({ type: 'measure-end' });
  const warmupMs = meter.measureStart - started;

  const drainUntil = performance.now() + cfg.drainMs;
  const onTheirWay = (): number => clients.reduce((sum, c) => sum + c.flow.inflight, 0);
  while (onTheirWay() > 0 && performance.now() < drainUntil) await sleep(20);
  // Give the last acks' answers a moment to come back before counting them.
  const okDeadline = performance.now() + 2_000;
  const missing = (): number => answering.reduce((sum, c) => sum + (c.fired - c.oks), 0);
  while (missing() > 0 && performance.now() < okDeadline) await sleep(20);

  const errors: Record<string, number> = {};
  if (meter.unexpected > 0) errors['unexpected delivery'] = meter.unexpected;
  for (const c of answering) for (const [code, n] of c.errors) errors[code] = (errors[code] ?? 0) + n;
  if (cfg.target === 'relay') {
    // Every message received was acked, and every ack answered: none counted twice or lost.
    const acked = answering.reduce((sum, c) => sum + (c.ackedIds ?? 0), 0);
    if (acked !== meter.received)
      errors['acks answered ≠ messages received'] = Math.abs(acked - meter.received);
  }
  const measuredMs = Math.min(meter.measureEnd, performance.now()) - meter.measureStart;
  const upBytes = relaySendFrameBytes(cfg.bodyBytes);
  const result: LoadResult = {
    setupMs,
    warmupMs,
    measuredMs,
    delivered: meter.delivered,
    sent: meter.sent,
    received: meter.received,
    undelivered: onTheirWay(),
    latencyMs: summarise(meter.latencies.values()),
    errors,
    missingOks: missing(),
    cpuPercent,
    frameBytes: frameBytes ?? {
      up: upBytes,
      down: cfg.target === 'relay' ? relayMsgFrameBytes(cfg.bodyBytes) : upBytes,
    },
  };

  const closing = Promise.all(clients.map((c) => c.close()));
  const closeTimer = new Promise<void>((resolve) => setTimeout(resolve, 3_000).unref());
  await Promise.race([closing, closeTimer]);
  for (const c of clients) c.terminate();
  sendThenExit({ type: 'result', result }, 0);
}

/** The size of the `msg` frame the relay pushes for a body of `bodyBytes` (sealed, with its timestamp). */
function relayMsgFrameBytes(bodyBytes: number): number {
  // nonce (24) || XChaCha20-Poly1305(CBOR {ts, body}) with a 16-byte tag; ts is a 9-byte CBOR uint.
  const sealed = 24 + encodeCbor({ ts: 2 ** 40, body: new Uint8Array(bodyBytes) }).length + 16;
  return encodeFrame({
    t: 'msg',
    rid: new Uint8Array(QUEUE_ID_BYTES),
    mid: new Uint8Array(16),
    body: new Uint8Array(sealed),
  }).length;
}

function fail(error: unknown): void {
  sendThenExit({ type: 'failed', error: describeError(error) }, 1);
}

// A body that does not open, say, is a failed run, not a crash without a word.
process.on('uncaughtException', fail);
const config = JSON.parse(process.argv[2] ?? '{}') as LoadConfig;
run(config).catch(fail);
