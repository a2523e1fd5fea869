/**
 * The messages the benchmark's three processes exchange over Node's IPC channel: the
 * orchestrator (run.ts), the server under test (server-process.ts: the relay or the raw
 * forwarder) and the load generator (load-generator.ts, every client in one process).
 */

/**
 * `broadcast` is the raw fan-out ceiling (raw-broadcaster.ts) of fanout-bench.ts; `mosquitto`
 * and `prosody` are the anchors of the relay phase (anchor-servers.ts), Debian's MQTT broker
 * and XMPP server, started by the bench itself.
 */
export type Target = 'relay' | 'raw' | 'broadcast' | 'mosquitto' | 'prosody';

export interface LoadConfig {
  target: Target;
  /**
   * The relay's `parus://` address, the raw forwarder's `ws://` URL, or an anchor's
   * `mqtt://host:port` or `xmpp://host:port/domain`.
   */
  address: string;
  clients: number;
  /** Sends per client that may be on their way (sent, not yet received by the partner). */
  window: number;
  bodyBytes: number;
  /**
   * Warm-up: at least `warmupMs`, and until as many messages have arrived as the windows
   * hold (clients × window), so that the first burst has been through and the measured
   * window sees the steady state; at most `maxWarmupMs`.
   */
  warmupMs: number;
  maxWarmupMs: number;
  measureMs: number;
  /**
   * When given, the measured window lasts beyond `measureMs` until as many messages have
   * arrived in it as the windows hold (clients × window), at most this long: a server so far
   * behind that it delivers in waves is then measured over a whole wave, not between two.
   */
  maxMeasureMs?: number;
  /** How long to wait, after the measured window, for the last messages to arrive. */
  drainMs: number;
  /** Clients connecting and setting up at the same time. */
  setupConcurrency: number;
}

export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  setupMs: number;
  warmupMs: number;
  measuredMs: number;
  /** Messages received by their recipients inside the measured window. */
  delivered: number;
  /** Messages sent over the whole run (warm-up, measured window and drain). */
  sent: number;
  /** Messages received over the whole run. */
  received: number;
  /** Sent and never received, when the drain gave up. */
  undelivered: number;
  latencyMs: LatencySummary;
  /** Error frames from the server (relay `err` codes, protocol surprises), by kind. */
  errors: Record<string, number>;
  /**
   * Answers still missing at the end: relay `ok`s (sends and acks), MQTT PUBACKs to the
   * senders, XMPP stream-management `<a/>` answers to the senders' `<r/>`.
   */
  missingOks: number;
  /** CPU time of the load generator over the measured window, in % of one core. */
  cpuPercent: number;
  /** Bytes of one client → server frame and of one server → client frame. */
  frameBytes: { up: number; down: number };
}

/** Load generator → orchestrator. */
export type LoadMessage =
  | { type: 'ready'; setupMs: number }
  | { type: 'measure-start' }
  | { type: 'measure-end' }
  | { type: 'result'; result: LoadResult }
  | { type: 'failed'; error: string };

/** Orchestrator → load generator. */
export type LoadCommand = { type: 'go' };

export interface ServerStats {
  /** Peak resident set size of the server process, bytes. */
  peakRssBytes: number;
  /** The relay's own counters (absent for the other servers). */
  relay?: {
    messagesStored: number;
    messagesDelivered: number;
    errorsSent: number;
    messages: number;
    /** Messages acked while held for their acks (never written), and those written after the wait. */
    ackedUnwritten?: number;
    writtenLate?: number;
  };
  /** Frames the raw forwarder forwarded (absent for the other servers). */
  forwarded?: number;
  /** The first lines the relay logged, and how many there were. */
  log: string[];
  logLines: number;
}

/** Server process → orchestrator. */
export type ServerMessage =
  | { type: 'listening'; address: string }
  | {
      type: 'loop-delay';
      /**
       * Event-loop delay between the server's receipt of the two window marks, ms. Marks
       * travel through the server's own event loop, so under overload they arrive late;
       * these figures show how long single turns of the loop took, not the exact window.
       */
      p99Ms: number;
      maxMs: number;
    }
  | { type: 'stopped'; stats: ServerStats }
  | { type: 'failed'; error: string };

/** Orchestrator → server process. */
export type ServerCommand = { type: 'mark-start' } | { type: 'mark-end' } | { type: 'stop' };

export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (cause: ${error.cause.message})` : '';
  return `${error.name}: ${error.message}${cause}`;
}

/** Sends `message` to the parent, then exits (normally, so that --cpu-prof writes its profile). */
export function sendThenExit(message: LoadMessage | ServerMessage, code: number): void {
  if (!process.send) process.exit(code);
  process.send(message, undefined, {}, () => process.exit(code));
}
