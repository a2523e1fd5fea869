/**
 * The relay phase of `npm run bench` (alone: `npm run bench -- --only relay [--rounds N]`):
 * the relay against the raw `ws` forwarder (its ceiling) and two anchors, Debian's mosquitto
 * (MQTT, QoS 1, persistence on) and prosody (XMPP with XEP-0198 acks), all under the same
 * load: 100 and 1,000 clients in pairs, 256-byte bodies, a window of 8 messages per client,
 * every message answered to its sender and acknowledged by its recipient; then the latency
 * of each with 2 clients and a window of 1. The anchors are started by the bench
 * (anchor-servers.ts); one that is not installed is skipped, and the report says so.
 *
 * It writes its own section of docs/BENCHMARKS.md (between its markers) and prints, as its
 * last line on stdout, one JSON line of its figures (RelayFigures) for scripts to check.
 */
import { performance } from 'node:perf_hooks';
import {
  ANCHOR_PROGRAMS,
  ANCHORS,
  anchorInstalled,
  anchorVersion,
  isAnchor,
  type Anchor,
} from './anchor-servers.ts';
import { BENCHMARKS_FILE, spliceSection, writeSection, type SectionMarkers } from './doc-sections.ts';
import { describeError, type Target } from './ipc.ts';
import { runLoad, type RunOptions, type RunResult } from './load-run.ts';
import { cpuAvailability, describeMachine, gitState, type Machine } from './machine.ts';
import { BENCH_RELAY_LIMITS } from './relay-limits.ts';
import { fixed, int, mib } from './stats.ts';

export const BODY_BYTES = 256;
export const RELAY_CLIENT_COUNTS = [100, 1_000];
export const RELAY_ROUNDS = 2;
/** Every server in the order of a round (the next round runs them the other way round). */
const SERVERS: Target[] = ['raw', 'relay', 'mosquitto', 'prosody'];

export const LOAD: Omit<RunOptions, 'target' | 'clients'> = {
  window: 8,
  bodyBytes: BODY_BYTES,
  warmupMs: 1_500,
  maxWarmupMs: 15_000,
  measureMs: 8_000,
  maxMeasureMs: 30_000,
  drainMs: 30_000,
  setupConcurrency: 32,
};
/** One pair, one message at a time: the latency of an idle server. */
export const IDLE: Omit<RunOptions, 'target'> = {
  ...LOAD,
  clients: 2,
  window: 1,
  warmupMs: 500,
  maxWarmupMs: 2_000,
  measureMs: 3_000,
  drainMs: 2_000,
};

/** The goals of issue 14 that this phase measures. */
const GOALS = {
  /** Relay msg/s ÷ raw forwarder msg/s, at each client count. */
  ofRaw: 0.5,
  /** Relay msg/s ÷ mosquitto msg/s. */
  ofMosquitto: 1.3,
  /** Relay msg/s ÷ prosody msg/s. */
  ofProsody: 5,
  /** Relay latency at 2 clients, window 1, ms. */
  idleP50Ms: 1,
  idleP99Ms: 5,
};

const MARKERS: SectionMarkers = {
  start: '<!-- relay benchmark: start -->',
  end: '<!-- relay benchmark: end -->',
  before: "## Where the relay's time goes",
};

export interface AnchorInfo {
  name: Anchor;
  program: string;
  installed: boolean;
  /** As the program prints it ('' when skipped). */
  version: string;
}

export interface RelayPhaseReport {
  /** The command that produced it, for the section's first line. */
  command: string;
  machine: Machine;
  git: { commit: string; dirty: number; changedDuringRun: boolean };
  /** % of a core a busy loop got, before and after the runs. */
  availability: [number, number];
  config: { load: typeof LOAD; idle: typeof IDLE; rounds: number; clientCounts: number[] };
  anchors: AnchorInfo[];
  /** Every run that completed, in order (idle runs first). */
  runs: RunResult[];
  /** Runs that failed, with why (the phase goes on without them). */
  failures: { target: Target; clients: number; window: number; error: string }[];
  elapsedMs: number;
}

type PerCount<T> = Record<string, T>;

/** The figures a script checks: the JSON line printed at the end of the phase. */
export interface RelayFigures {
  phase: 'relay';
  date: string;
  commit: string;
  bodyBytes: number;
  window: number;
  rounds: number;
  /** Anchors not run because their program is not installed. */
  skipped: Anchor[];
  /** Best of the rounds, by server and client count (null: skipped or every run failed). */
  msgPerSecond: Record<string, PerCount<number | null>>;
  /** Latency of the run above (send to the partner's receipt), ms. */
  latencyMs: Record<string, PerCount<{ p50: number; p99: number } | null>>;
  /** Server CPU time per delivered message in the run above, µs (from /proc). */
  serverCpuUsPerMessage: Record<string, PerCount<number | null>>;
  /** The relay's, again, for a quick look. */
  relayCpuUsPerMessage: PerCount<number | null>;
  /** Relay msg/s ÷ the other server's, by client count. */
  relayRatio: Record<string, PerCount<number | null>>;
  /** 2 clients, window 1. */
  idleLatencyMs: Record<string, { p50: number; p99: number } | null>;
  /** Whether every message of every run arrived, with no error and no answer missing. */
  allChecksPassed: boolean;
  /** Runs (`server/clients/window`) whose median latency exceeded the measured window. */
  unsteadyRuns: string[];
}

function isSkipped(report: RelayPhaseReport, target: Target): boolean {
  return isAnchor(target) && !report.anchors.find((a) => a.name === target)?.installed;
}

function servers(report: RelayPhaseReport): Target[] {
  return SERVERS.filter((s) => !isSkipped(report, s));
}

function loadRuns(report: RelayPhaseReport): RunResult[] {
  return report.runs.filter((r) => r.window === report.config.load.window);
}

/** The best run (highest msg/s) of `target` at `clients`. */
export function bestRun(runs: RunResult[], target: Target, clients: number): RunResult | undefined {
  return runs
    .filter((r) => r.target === target && r.clients === clients)
    .reduce<
      RunResult | undefined
    >((a, r) => (a === undefined || r.perSecond > a.perSecond ? r : a), undefined);
}

function idleRun(report: RelayPhaseReport, target: Target): RunResult | undefined {
  return report.runs.find((r) => r.target === target && r.window === report.config.idle.window);
}

/** What went wrong in a run, or "ok" with the count of messages that all arrived. */
export function checkRun(r: RunResult): string {
  const problems: string[] = [];
  if (r.load.undelivered > 0) problems.push(`${int(r.load.undelivered)} not delivered`);
  for (const [code, n] of Object.entries(r.load.errors)) problems.push(`${int(n)} × ${code}`);
  if (r.load.missingOks > 0) problems.push(`${int(r.load.missingOks)} answers missing`);
  const relay = r.server.relay;
  if (relay && relay.messagesStored !== relay.messagesDelivered) {
    problems.push(`relay stored ${int(relay.messagesStored)}, delivered ${int(relay.messagesDelivered)}`);
  }
  if (relay && relay.messages !== 0) problems.push(`${int(relay.messages)} left in the store`);
  return problems.length === 0 ? `ok, all ${int(r.load.sent)} arrived` : problems.join('; ');
}

/**
 * Whether the run's median message took longer than the measured window (or none arrived in
 * it): the server was so far behind that messages moved in waves longer than the window, and
 * the window's figures depend on where the waves fell.
 */
function unsteady(r: RunResult): boolean {
  // NaN (no message arrived in the window) counts as unsteady too.
  return !(r.load.latencyMs.p50 <= r.load.measuredMs);
}

const UNSTEADY_NOTE =
  '† The median message took longer than the measured window (or none arrived in it): the server was so far behind that messages ' +
  "moved in waves longer than the window, so that run's msg/s and CPU per message depend on where the waves " +
  'fell; read them as unsteady (on a loaded machine, the server got too little CPU).';

function passed(r: RunResult): boolean {
  return checkRun(r).startsWith('ok');
}

export async function benchRelay(
  log: (line: string) => void,
  opts: { rounds: number; command: string },
): Promise<RelayPhaseReport> {
  const started = performance.now();
  const machine = await describeMachine();
  const tree = gitState();
  const anchors: AnchorInfo[] = [];
  for (const name of ANCHORS) {
    const installed = anchorInstalled(name);
    anchors.push({
      name,
      program: ANCHOR_PROGRAMS[name],
      installed,
      version: installed ? await anchorVersion(name) : '',
    });
    if (!installed) log(`skipping the ${name} anchor: ${ANCHOR_PROGRAMS[name]} is not installed`);
  }
  const availabilityBefore = cpuAvailability(1_000);
  const report: RelayPhaseReport = {
    command: opts.command,
    machine,
    git: { commit: tree.commit, dirty: tree.dirty, changedDuringRun: false },
    availability: [availabilityBefore, NaN],
    config: { load: LOAD, idle: IDLE, rounds: opts.rounds, clientCounts: RELAY_CLIENT_COUNTS },
    anchors,
    runs: [],
    failures: [],
    elapsedMs: NaN,
  };
  const targets = servers(report);
  const run = async (o: RunOptions): Promise<void> => {
    try {
      const r = await runLoad(o);
      log(brief(r));
      report.runs.push(r);
    } catch (error) {
      const why = describeError(error);
      report.failures.push({ target: o.target, clients: o.clients, window: o.window, error: why });
      log(`${o.target} ${o.clients} clients, window ${o.window}: FAILED: ${why}`);
    }
  };
  for (const target of targets) await run({ ...IDLE, target });
  for (let round = 0; round < opts.rounds; round++) {
    // Alternate the order, so that a slow spell of the host does not always hit the same server.
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const clients of RELAY_CLIENT_COUNTS) {
      for (const target of order) await run({ ...LOAD, target, clients });
    }
  }
  report.availability[1] = cpuAvailability(1_000);
  report.git.changedDuringRun = gitState().fingerprint !== tree.fingerprint;
  report.elapsedMs = performance.now() - started;
  return report;
}

function brief(r: RunResult): string {
  return (
    `${r.target} ${r.clients} clients, window ${r.window}: ${Math.round(r.perSecond)} msg/s, ` +
    `p50 ${r.load.latencyMs.p50.toFixed(2)} ms, p99 ${r.load.latencyMs.p99.toFixed(2)} ms, ` +
    `server ${r.serverCpuUsPerMessage.toFixed(0)} µs/msg at ${r.serverCpuPercent.toFixed(0)} % CPU; ${checkRun(r)}`
  );
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;

export function relayFigures(report: RelayPhaseReport): RelayFigures {
  const runs = loadRuns(report);
  const per = <T>(f: (r: RunResult) => T): Record<string, PerCount<T | null>> => {
    const out: Record<string, PerCount<T | null>> = {};
    for (const target of SERVERS) {
      out[target] = {};
      for (const clients of report.config.clientCounts) {
        const r = bestRun(runs, target, clients);
        out[target][String(clients)] = r ? f(r) : null;
      }
    }
    return out;
  };
  const relayRatio: Record<string, PerCount<number | null>> = {};
  for (const other of SERVERS.filter((s) => s !== 'relay')) {
    relayRatio[other] = {};
    for (const clients of report.config.clientCounts) {
      const relay = bestRun(runs, 'relay', clients);
      const them = bestRun(runs, other, clients);
      relayRatio[other][String(clients)] = relay && them ? round3(relay.perSecond / them.perSecond) : null;
    }
  }
  const idleLatencyMs: Record<string, { p50: number; p99: number } | null> = {};
  for (const target of SERVERS) {
    const r = idleRun(report, target);
    idleLatencyMs[target] = r
      ? { p50: round3(r.load.latencyMs.p50), p99: round3(r.load.latencyMs.p99) }
      : null;
  }
  const serverCpuUsPerMessage = per((r) => Math.round(r.serverCpuUsPerMessage * 10) / 10);
  return {
    phase: 'relay',
    date: report.machine.date,
    commit: report.git.commit,
    bodyBytes: report.config.load.bodyBytes,
    window: report.config.load.window,
    rounds: report.config.rounds,
    skipped: report.anchors.filter((a) => !a.installed).map((a) => a.name),
    msgPerSecond: per((r) => Math.round(r.perSecond)),
    latencyMs: per((r) => ({ p50: round3(r.load.latencyMs.p50), p99: round3(r.load.latencyMs.p99) })),
    serverCpuUsPerMessage,
    relayCpuUsPerMessage: serverCpuUsPerMessage['relay'] ?? {},
    relayRatio,
    idleLatencyMs,
    allChecksPassed: report.failures.length === 0 && report.runs.every(passed),
    unsteadyRuns: report.runs.filter(unsteady).map((r) => `${r.target}/${r.clients}/${r.window}`),
  };
}

function ms(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return v >= 100 ? int(v) : fixed(v, v < 1 ? 2 : 1);
}

function table(head: string[], rows: string[][], align: string[]): string {
  return [head, align, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

const SERVER_NAMES: Record<string, string> = {
  relay: 'relay',
  raw: 'raw `ws` forwarder',
  mosquitto: 'mosquitto (MQTT QoS 1)',
  prosody: 'prosody (XMPP + XEP-0198)',
};

function comparisonTable(report: RelayPhaseReport): string {
  const runs = loadRuns(report);
  const rows: string[][] = [];
  for (const clients of report.config.clientCounts) {
    const relay = bestRun(runs, 'relay', clients);
    for (const target of servers(report)) {
      const r = bestRun(runs, target, clients);
      if (!r) {
        rows.push([int(clients), SERVER_NAMES[target]!, 'failed', '', '', '', '', '', '', '']);
        continue;
      }
      rows.push([
        int(clients),
        target === 'relay' ? `**${SERVER_NAMES[target]}**` : SERVER_NAMES[target]!,
        `${int(r.perSecond)}${unsteady(r) ? ' †' : ''}`,
        target === 'relay' || !relay ? '' : `${fixed(relay.perSecond / r.perSecond, 2)}×`,
        `${ms(r.load.latencyMs.p50)} / ${ms(r.load.latencyMs.p99)}`,
        fixed(r.serverCpuUsPerMessage, 0),
        fixed(r.serverCpuPercent, 0),
        fixed(r.load.cpuPercent, 0),
        mib(r.server.peakRssBytes),
        checkRun(r),
      ]);
    }
  }
  return table(
    [
      'clients',
      'server',
      'msg/s',
      'relay ÷ it',
      'p50 / p99 ms',
      'server CPU µs/msg',
      'server CPU %',
      'load-gen CPU %',
      'server peak RSS',
      'check',
    ],
    rows,
    ['--:', '---', '--:', '--:', '--:', '--:', '--:', '--:', '--:', '---'],
  );
}

function idleTable(report: RelayPhaseReport): string {
  const rows = servers(report).map((target) => {
    const r = idleRun(report, target);
    if (!r) return [SERVER_NAMES[target]!, 'failed', '', '', '', ''];
    return [
      target === 'relay' ? `**${SERVER_NAMES[target]}**` : SERVER_NAMES[target]!,
      ms(r.load.latencyMs.p50),
      ms(r.load.latencyMs.p99),
      int(r.perSecond),
      fixed(r.serverCpuUsPerMessage, 0),
      checkRun(r),
    ];
  });
  return table(['server', 'p50 ms', 'p99 ms', 'msg/s', 'server CPU µs/msg', 'check'], rows, [
    '---',
    '--:',
    '--:',
    '--:',
    '--:',
    '---',
  ]);
}

/** Every run, a row each; `label` names the server of a run (the report marks its profiled run). */
export function runsTable(
  runs: readonly RunResult[],
  label: (r: RunResult) => string = (r) => r.target,
): string {
  const rows = runs.map((r, i) => [
    String(i + 1),
    label(r),
    int(r.clients),
    String(r.window),
    `${int(r.perSecond)}${unsteady(r) ? ' †' : ''}`,
    ms(r.load.latencyMs.p50),
    ms(r.load.latencyMs.p99),
    fixed(r.serverCpuPercent, 0),
    fixed(r.serverCpuUsPerMessage, 0),
    fixed(r.load.cpuPercent, 0),
    mib(r.server.peakRssBytes),
    ms(r.loopDelay.maxMs),
    `${r.load.frameBytes.up} / ${r.load.frameBytes.down}`,
    fixed(r.load.setupMs / 1000, 1),
    fixed(r.load.warmupMs / 1000, 1),
    checkRun(r),
  ]);
  return table(
    [
      '#',
      'server',
      'clients',
      'window',
      'delivered/s',
      'p50 ms',
      'p99 ms',
      'server CPU %',
      'server CPU µs/msg',
      'load-gen CPU %',
      'server peak RSS',
      'server loop delay max ms',
      'bytes up / down per message',
      'setup s',
      'warm-up s',
      'check',
    ],
    rows,
    [
      '--:',
      '---',
      '--:',
      '--:',
      '--:',
      '--:',
      '--:',
      '--:',
      '--:',
      '--:',
      '--:',
      '--:',
      '--:',
      '--:',
      '--:',
      '---',
    ],
  );
}

function verdict(met: boolean): string {
  return met ? 'met' : '**missed**';
}

/** One line per goal of issue 14 measured here: the figures and whether each is met. */
function goals(report: RelayPhaseReport): string[] {
  const runs = loadRuns(report);
  const lines: string[] = [];
  const against = (other: Target, goal: number, what: string): void => {
    if (isSkipped(report, other)) {
      lines.push(`- ${what}: not measured, ${other} is not installed.`);
      return;
    }
    const parts = report.config.clientCounts.map((clients) => {
      const relay = bestRun(runs, 'relay', clients);
      const them = bestRun(runs, other, clients);
      if (!relay || !them) return `${int(clients)} clients: no figure (a run failed)`;
      const ratio = relay.perSecond / them.perSecond;
      const shown = goal < 1 ? `${fixed(ratio * 100, 1)} %` : `${fixed(ratio, 2)}×`;
      return `${int(clients)} clients ${shown} (${verdict(ratio >= goal)})`;
    });
    lines.push(`- ${what}: ${parts.join(', ')}.`);
  };
  against('raw', GOALS.ofRaw, `Relay ≥ ${GOALS.ofRaw * 100} % of the raw forwarder`);
  against('mosquitto', GOALS.ofMosquitto, `Relay ≥ ${GOALS.ofMosquitto}× mosquitto`);
  against('prosody', GOALS.ofProsody, `Relay ≥ ${GOALS.ofProsody}× prosody`);
  const idle = idleRun(report, 'relay');
  lines.push(
    idle
      ? `- Relay latency at 2 clients, window 1, p50 < ${GOALS.idleP50Ms} ms and p99 < ${GOALS.idleP99Ms} ms: ` +
          `p50 ${ms(idle.load.latencyMs.p50)} ms (${verdict(idle.load.latencyMs.p50 < GOALS.idleP50Ms)}), ` +
          `p99 ${ms(idle.load.latencyMs.p99)} ms (${verdict(idle.load.latencyMs.p99 < GOALS.idleP99Ms)}).`
      : '- Relay latency at 2 clients, window 1: no figure (the run failed).',
  );
  return lines;
}

function limitsText(): string {
  return Object.entries(BENCH_RELAY_LIMITS)
    .map(([name, value]) => `\`${name}\` ${int(value)}`)
    .join(', ');
}

function anchorsText(report: RelayPhaseReport): string {
  return report.anchors
    .map((a) =>
      a.installed
        ? `${a.version || a.name} (\`${a.program}\`)`
        : `**${a.name} skipped: \`${a.program}\` is not installed** (the bench installs nothing)`,
    )
    .join('; ');
}

export function renderRelaySection(report: RelayPhaseReport): string {
  const { machine, config } = report;
  const { load } = config;
  const [before, after] = report.availability;
  const tree =
    `commit ${report.git.commit}` +
    (report.git.dirty > 0
      ? ` with ${report.git.dirty} uncommitted change(s) in packages/core/src and packages/relay/src`
      : '') +
    (report.git.changedDuringRun ? '; packages/core/src or packages/relay/src changed while it ran' : '');
  const failures =
    report.failures.length === 0
      ? ''
      : '\n**Runs that failed** (left out of the tables):\n\n' +
        report.failures
          .map((f) => `- ${f.target}, ${int(f.clients)} clients, window ${f.window}: ${f.error}`)
          .join('\n') +
        '\n';
  return `${MARKERS.start}
## Relay against raw forwarding, mosquitto and prosody

_Generated by \`${report.command}\` (bench/relay-bench.ts) on ${machine.date} in ${fixed(report.elapsedMs / 1000, 0)} s, on ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; ${tree}. A busy loop got ${fixed(before, 0)} % of a core before the runs and ${fixed(after, 0)} % after: on a shared machine throughput moves with the load, server CPU µs per message much less._

Anchors: ${anchorsText(report)}.

The same load for every server: ${int(config.clientCounts[0]!)} and ${int(config.clientCounts[1]!)} clients in pairs, each sending to its partner; ${int(load.bodyBytes)}-byte bodies; at most ${load.window} messages of each client on their way (a message frees its place when its partner receives it); every message answered to its sender ("ok") and acknowledged by its recipient ("ack"), and every answer counted at the end. Best of ${config.rounds} round(s) for each server and client count; _relay ÷ it_ is the relay's msg/s divided by that server's.

${comparisonTable(report)}
${report.runs.some(unsteady) ? `\n${UNSTEADY_NOTE}\n` : ''}
Latency of an idle server: ${int(config.idle.clients)} clients, a window of ${config.idle.window}, ${fixed(config.idle.measureMs / 1000, 0)} s measured:

${idleTable(report)}

Goals of issue 14 measured here:

${goals(report).join('\n')}
${failures}
What "ok" and "ack" are for each server:

- **relay**: the ok is the relay's \`ok\` to an authenticated \`send\`, which it answers only once the message is durable (SQLite WAL, \`synchronous = FULL\`, group commit) or already acknowledged by its recipient; the ack is the recipient's authenticated \`ack\` after it has opened the sealed body, answered \`ok\` too, which deletes the message; as the account engine acks, the deliveries a client takes in one event-loop turn are acked by one batched \`ack\` (core ack-batch.ts) and answered by one \`ok\`, and the ids those answers acknowledged must add up to the messages received (decision 0051). Clients speak the real protocol (hello with the fingerprint check, a secured queue each, \`sub\`); limits raised for the run: ${limitsText()}.
- **raw \`ws\` forwarder** (bench/raw-forwarder.ts, the ceiling): neither. Frames of the size of the relay's \`send\` frames are forwarded to the client their first 24 bytes name; nothing is checked, stored or answered.
- **mosquitto**: the ok is the broker's PUBACK to a QoS 1 PUBLISH; the ack is the subscriber's PUBACK for the QoS 1 PUBLISH the broker delivers (each client subscribes to its own topic with QoS 1 and publishes to its partner's). Persistence is on, with Debian's defaults: mosquitto writes its in-memory store to disk every \`autosave_interval\` (1,800 s) and when it stops, so a PUBACK does not mean the message is on disk, as the relay's \`ok\` does. MQTT 3.1.1 over TCP (bench/mqtt-client.ts), clean sessions, \`set_tcp_nodelay true\`.
- **prosody**: XMPP chat messages to the partner's full JID over c2s on loopback without TLS, accounts made by in-band registration, SASL PLAIN, stream management (XEP-0198, mod_smacks). The ok is prosody's \`<a h='n'/>\` answer to the \`<r/>\` the sender sends after every message; the ack is the recipient's \`<a h='n'/>\` after every stanza it receives, which lets prosody drop the stanza from the queue it keeps for resuming the stream. Nothing is written to disk for an online recipient. Nagle's algorithm off (\`network_settings = { nagle = false }\`), as for the others.

Each anchor runs from a fresh temporary folder with its own configuration on a loopback port (bench/anchor-servers.ts), started and stopped by the bench; the system services are never touched. Every server runs in its own process, the clients of a run in one load-generator process (bench/load-generator.ts); the machine has ${machine.cores} cores. Latency is from the send handed to the socket to the partner's receipt. Server CPU is user + system time of the server process over the measured window, read from /proc, per second and per delivered message. mosquitto is written in C, prosody in Lua, the relay and the forwarder in TypeScript on Node.

### Every run of the relay phase

${runsTable(report.runs)}
${report.runs.some(unsteady) ? `\n${UNSTEADY_NOTE}\n` : ''}
Warm-up at least ${fixed(load.warmupMs / 1000, 1)} s and until clients × window messages have arrived (at most ${fixed(load.maxWarmupMs / 1000, 0)} s); ${fixed(load.measureMs / 1000, 0)} s measured, and longer until clients × window messages have arrived in the window (at most ${fixed((load.maxMeasureMs ?? load.measureMs) / 1000, 0)} s), so that a server far behind, which delivers in waves, is measured over a whole wave; then sending stops and the run waits (at most ${fixed(load.drainMs / 1000, 0)} s) for every message to arrive and 2 s more for the last answers. _Server loop delay_ is the Node servers' event-loop delay in the window (n/a for the anchors); _bytes up / down_ is one client → server message and one server → client message as the wire carries it, before TCP (and, for the relay and the forwarder, WebSocket framing).
${MARKERS.end}`;
}

/** Puts the section into the report, replacing an earlier one, else before "## Where the relay's time goes". */
export function spliceRelaySection(markdown: string, section: string): string {
  return spliceSection(markdown, MARKERS, section);
}

/** A plain summary for stdout. */
export function relaySummary(report: RelayPhaseReport): string {
  return [
    'Relay phase (best of rounds):',
    '',
    comparisonTable(report),
    '',
    idleTable(report),
    '',
    ...goals(report),
  ].join('\n');
}

/** The value of `--rounds N`, if given. */
export function roundsArgument(argv: string[]): number {
  const at = argv.indexOf('--rounds');
  if (at < 0) return RELAY_ROUNDS;
  const n = Number(argv[at + 1]);
  if (!Number.isInteger(n) || n < 1 || n > 10) throw new Error('--rounds takes a whole number from 1 to 10');
  return n;
}

/** `--only relay`: run this phase alone, update its section, end with its JSON line. */
export async function relayOnly(log: (line: string) => void, argv: string[]): Promise<void> {
  const rounds = roundsArgument(argv);
  const command = `npm run bench -- --only relay${rounds === RELAY_ROUNDS ? '' : ` --rounds ${rounds}`}`;
  const report = await benchRelay(log, { rounds, command });
  await writeSection(MARKERS, renderRelaySection(report));
  console.log(`\n${relaySummary(report)}\n`);
  log(`wrote the relay section of ${BENCHMARKS_FILE}`);
  console.log(JSON.stringify(relayFigures(report)));
}
