/**
 * Renders the benchmark's figures as docs/BENCHMARKS.md, and the short summary printed on
 * stdout. The prose is generated with the figures, so that it never disagrees with them.
 */
import type { ProfileSummary } from './cpu-profile.ts';
import type { RunOptions, RunResult } from './load-run.ts';
import type { Machine } from './machine.ts';
import type { OpCost } from './op-costs.ts';
import type { RatchetResult } from './ratchet-bench.ts';
import { runsTable } from './relay-bench.ts';
import { BENCH_RELAY_LIMITS } from './relay-limits.ts';
import { fixed, int, mib } from './stats.ts';

export interface Report {
  machine: Machine;
  /** The tree when the run started, and whether it changed during the run (others work in it). */
  git: { commit: string; dirty: number; changedDuringRun: boolean };
  /** % of a core a busy loop got, before and after the runs. */
  availability: [number, number];
  config: Omit<RunOptions, 'target' | 'clients'> & {
    rounds: number;
    idle: Omit<RunOptions, 'target'>;
    profiled: Omit<RunOptions, 'target'>;
  };
  ratchet: RatchetResult[];
  runs: RunResult[];
  profiled: RunResult;
  profile: ProfileSummary;
  opCosts: OpCost[];
  elapsedMs: number;
}

/** The relay's target, as a share of raw forwarding throughput. */
const TARGET_RATIO = 0.5;

interface Pair {
  clients: number;
  raw: RunResult;
  relay: RunResult;
  ratio: number;
}

function loadRuns(report: Report): RunResult[] {
  return report.runs.filter((r) => r.window === report.config.window);
}

function best(runs: RunResult[], target: string, clients: number): RunResult | undefined {
  return runs
    .filter((r) => r.target === target && r.clients === clients)
    .reduce<
      RunResult | undefined
    >((a, r) => (a === undefined || r.perSecond > a.perSecond ? r : a), undefined);
}

function pairs(report: Report): Pair[] {
  const runs = loadRuns(report);
  const counts = [...new Set(runs.map((r) => r.clients))].sort((a, b) => a - b);
  const out: Pair[] = [];
  for (const clients of counts) {
    const raw = best(runs, 'raw', clients);
    const relay = best(runs, 'relay', clients);
    if (raw && relay) out.push({ clients, raw, relay, ratio: relay.perSecond / raw.perSecond });
  }
  return out;
}

function pct(ratio: number): string {
  return `${fixed(ratio * 100, 1)} %`;
}

function ms(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return v >= 100 ? int(v) : fixed(v, v < 1 ? 2 : 1);
}

function table(head: string[], rows: string[][], align?: string[]): string {
  const sep = align ?? head.map(() => '---');
  return [head, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

function summaryTable(report: Report): string {
  const rows = pairs(report).map((p) => [
    int(p.clients),
    int(p.raw.perSecond),
    int(p.relay.perSecond),
    `**${pct(p.ratio)}**`,
    `${ms(p.raw.load.latencyMs.p50)} / ${ms(p.raw.load.latencyMs.p99)}`,
    `${ms(p.relay.load.latencyMs.p50)} / ${ms(p.relay.load.latencyMs.p99)}`,
    fixed(p.raw.serverCpuUsPerMessage, 0),
    fixed(p.relay.serverCpuUsPerMessage, 0),
    mib(p.relay.server.peakRssBytes),
  ]);
  return table(
    [
      'clients',
      'raw forwarder msg/s',
      'relay msg/s',
      'relay / raw',
      'raw p50 / p99 ms',
      'relay p50 / p99 ms',
      'raw CPU µs/msg',
      'relay CPU µs/msg',
      'relay peak RSS',
    ],
    rows,
    ['--:', '--:', '--:', '--:', '--:', '--:', '--:', '--:', '--:'],
  );
}

function ratchetTable(report: Report): string {
  return table(
    ['mode', 'randomness', 'messages/s', 'µs per message', 'message bytes'],
    report.ratchet.map((r) => [
      r.mode,
      r.random,
      int(r.perSecond),
      fixed(1e6 / r.perSecond, 0),
      String(r.messageBytes),
    ]),
    ['---', '---', '--:', '--:', '--:'],
  );
}

function profileTable(profile: ProfileSummary, usPerMessage: number): string {
  return table(
    ['activity', 'share of busy time', '≈ µs per message'],
    profile.activities
      .filter((a) => a.percent >= 0.5)
      .map((a) => [a.name, `${fixed(a.percent, 1)} %`, fixed((a.percent / 100) * usPerMessage, 0)]),
    ['---', '--:', '--:'],
  );
}

function functionsTable(profile: ProfileSummary): string {
  return table(
    ['function (self time)', 'share'],
    profile.functions.map((f) => [`\`${f.name}\``, `${fixed(f.percent, 1)} %`]),
    ['---', '--:'],
  );
}

function opCostTable(costs: OpCost[]): string {
  return table(
    ['operation', 'µs per call', 'calls per message', 'µs per message', 'note'],
    costs.map((c) => [
      c.name,
      fixed(c.us, 1),
      c.perMessage === 0 ? '–' : String(c.perMessage),
      c.perMessage === 0 ? '–' : fixed(c.us * c.perMessage, 0),
      c.note ?? '',
    ]),
    ['---', '--:', '--:', '--:', '---'],
  );
}

function share(profile: ProfileSummary, name: string): number {
  return profile.activities.find((a) => a.name === name)?.percent ?? 0;
}

function cost(costs: OpCost[], prefix: string): OpCost | undefined {
  return costs.find((c) => c.name.startsWith(prefix));
}

function analysis(report: Report): string {
  const ps = pairs(report);
  const { profile, profiled, opCosts } = report;
  const usPerMsg = profiled.serverCpuUsPerMessage;
  const verify = cost(opCosts, 'Ed25519 verify (core');
  const nodeVerify = cost(opCosts, 'Ed25519 verify (node');
  const budget = opCosts.reduce((sum, c) => sum + c.us * c.perMessage, 0);
  const rawCost = Math.min(...ps.map((p) => p.raw.serverCpuUsPerMessage));
  const verifyShare = share(profile, 'Ed25519 verify (libsodium)');
  const cborShare = share(profile, 'CBOR encode') + share(profile, 'CBOR decode');
  const sqliteShare = share(profile, 'SQLite writes (group commit)') + share(profile, 'SQLite reads');
  const socketShare =
    share(profile, 'Node sockets, streams, timers') + share(profile, 'WebSocket framing (ws)');
  const gcShare = share(profile, 'garbage collection');
  const relayLoads = loadRuns(report).filter((r) => r.target === 'relay');
  const idle = report.runs.filter((r) => r.window !== report.config.window);
  const rawLoads = loadRuns(report).filter((r) => r.target === 'raw');
  const maxLoop = Math.max(...relayLoads.map((r) => r.loopDelay.maxMs));
  const rawLoadGen = Math.max(...rawLoads.map((r) => r.load.cpuPercent));
  const relayLoadGen = Math.max(...relayLoads.map((r) => r.load.cpuPercent));
  const verifyCap = verify ? 1e6 / (2 * verify.us) : NaN;
  const bestRaw = Math.max(...ps.map((p) => p.raw.perSecond));
  const met = ps.length > 0 && ps.every((p) => p.ratio >= TARGET_RATIO);

  const lines: string[] = [];
  lines.push(
    met
      ? `The relay reached the target of ${pct(TARGET_RATIO)} of raw forwarding throughput at every load measured.`
      : `**The relay falls far short of the target** of ${pct(TARGET_RATIO)} of raw forwarding throughput: ` +
          ps.map((p) => `${pct(p.ratio)} with ${int(p.clients)} clients`).join(', ') +
          '. It does not fall short on storage: it falls short on CPU per message.',
  );
  lines.push('');
  lines.push(
    `Per delivered message the relay spent ${fixed(usPerMsg, 0)} µs of CPU in the profiled run ` +
      `(${ps.map((p) => `${fixed(p.relay.serverCpuUsPerMessage, 0)} µs at ${int(p.clients)} clients`).join(', ')} ` +
      `in the measured ones), the raw forwarder about ${fixed(rawCost, 0)} µs. The relay handles five frames per ` +
      'message (send and ack in; ok, msg and ok out), the forwarder two, so a ratio near 50 % was never on ' +
      'the cards for a relay that checks, seals, stores and acknowledges each message, but the gap is a ' +
      `factor of about ${fixed(usPerMsg / rawCost, 0)}` +
      (profile.activities[0]?.name === 'Ed25519 verify (libsodium)'
        ? ', and the largest part of it is one thing:'
        : '. In order of the profile below:'),
  );
  lines.push('');
  // Protocol version 1 verified an Ed25519 signature per send and per ack; version 2
  // checks X25519-keyed authenticators (docs/decisions/0005). Say so if signatures are back.
  if (verify && verify.perMessage > 0) {
    lines.push(
      `- **Ed25519 verification: ${fixed(verifyShare, 0)} % of the relay's busy time**, ` +
        `${fixed(verify.us, 0)} µs per verification (libsodium's WebAssembly build); verification alone caps one ` +
        `core at about ${int(verifyCap)} messages/s, ${pct(verifyCap / bestRaw)} of the best raw figure` +
        (nodeVerify ? `; Node's own Ed25519 took ${fixed(nodeVerify.us, 0)} µs here.` : '.'),
    );
  }
  lines.push(
    `- **CBOR: ${fixed(cborShare, 0)} %.** Six encodes per message (two re-encodings of authenticated commands ` +
      'for `checkCommandAuth`, the sealed `{ts, body}`, `ok` twice, `msg`) and two decodes. The encoder already ' +
      'writes into a shared scratch buffer and caches short texts (core/src/cbor.ts); checking the authenticator ' +
      'over the received bytes instead of a re-encoding would save two of the six.',
  );
  lines.push(
    `- **SQLite: ${fixed(sqliteShare, 0)} % (reads and writes).** Group commit puts every mutation of an ` +
      'event-loop turn in one WAL transaction, fsynced (`synchronous = FULL`: a message answered `ok` survives ' +
      'a power cut, not only a crash of the relay) once per turn, not once per message. Each message is one ' +
      'insert and one delete; each send and each ack also looks its queue up; an in-memory cache of queue ' +
      'records would remove those reads.',
  );
  lines.push(
    `- **Sockets and WebSocket framing: ${fixed(socketShare, 0)} %; garbage collection: ${fixed(gcShare, 0)} %.** ` +
      'Each of the three frames the relay writes per message is its own `writev` system call.',
  );
  lines.push('');
  lines.push(
    `The steps timed one by one (table below) add up to ${fixed(budget, 0)} µs per message; the rest of the ` +
      `${fixed(usPerMsg, 0)} µs measured is WebSocket and socket I/O, promises and garbage collection.`,
  );
  lines.push('');
  lines.push(
    `**Latency under load is queueing.** Every client keeps ${report.config.window} messages on their way, so ` +
      "p50 is of the order of clients × window ÷ throughput (Little's law): " +
      ps
        .map(
          (p) =>
            `with ${int(p.clients)} clients ${ms(p.relay.load.latencyMs.p50)} ms for the relay ` +
            `(${int(p.clients * report.config.window)} ÷ ${int(p.relay.perSecond)}/s = ` +
            `${ms((p.clients * report.config.window * 1000) / p.relay.perSecond)} ms) and ` +
            `${ms(p.raw.load.latencyMs.p50)} ms for the forwarder`,
        )
        .join('; ') +
      '. With 2 clients and a window of 1, a message waits only for its own processing: ' +
      idle
        .map(
          (r) =>
            `${ms(r.load.latencyMs.p50)} ms p50 through the ${r.target === 'relay' ? 'relay' : 'forwarder'}`,
        )
        .join(', ') +
      '. ' +
      (maxLoop > 200
        ? 'Under overload the relay also takes in everything its sockets have ready before the turn ends and the ' +
          `group commit runs, so single turns of its event loop took up to ${int(maxLoop)} ms: nothing bounds ` +
          "a turn's work beyond the per-connection rate limit (raised here), so many connections sending at once " +
          'stretch every turn, and every answer waits for the end of its turn.'
        : ''),
  );
  lines.push('');
  lines.push(
    `**The load generator shares the machine.** It ran at up to ${fixed(relayLoadGen, 0)} % of a core in the ` +
      `relay runs (authenticating each send and ack, opening each sealed body) and up to ${fixed(rawLoadGen, 0)} % in the ` +
      'raw runs. ' +
      (rawLoadGen >= 85
        ? 'In the raw runs it was about as busy as the forwarder, so the raw figures are a floor of what the ' +
          "forwarder can do: its true ceiling is higher, and the relay's true ratio lower, than shown."
        : 'The servers, not the load generator, set the pace.'),
  );
  return lines.join('\n');
}

function limitsText(): string {
  return Object.entries(BENCH_RELAY_LIMITS)
    .map(([name, value]) => `\`${name}\` ${int(value)}`)
    .join(', ');
}

/** The whole file; `relaySection` is the relay phase's (relay-bench.ts), put in its place. */
export function renderReport(report: Report, relaySection: string): string {
  const { machine, config } = report;
  const [before, after] = report.availability;
  const oneWay = report.ratchet.find((r) => r.mode === 'one way' && r.random.startsWith('core'));
  const pingPong = report.ratchet.find((r) => r.mode === 'ping-pong' && r.random.startsWith('core'));
  const nodeOneWay = report.ratchet.find((r) => r.mode === 'one way' && !r.random.startsWith('core'));
  const tree =
    (report.git.dirty > 0
      ? `commit ${report.git.commit} with ${report.git.dirty} uncommitted change(s) in packages/core/src and packages/relay/src`
      : `commit ${report.git.commit}`) +
    (report.git.changedDuringRun
      ? '; packages/core/src or packages/relay/src changed while the benchmark ran'
      : '');
  return `# Benchmarks

_Generated by \`npm run bench\` (bench/run.ts) on ${machine.date} in ${fixed(report.elapsedMs / 1000, 0)} s. Do not edit: the next run overwrites this file, except the web client's section, which \`npm run bench:web\` writes, and the figures measured by hand at the end. \`npm run bench -- --only NAME\` (relay, fanout, groupsend, conversation) replaces only that phase's section._

## Machine

| | |
| --- | --- |
| CPU | ${machine.cpu} |
| cores | ${machine.cores} |
| memory | ${mib(machine.memoryBytes)} |
| Node | ${machine.node} |
| OS | ${machine.os} |
| tree | ${tree} |
| CPU the host gave a busy loop | ${fixed(before, 0)} % of a core before the runs, ${fixed(after, 0)} % after |

The machine is a shared virtual machine: the share of a core that a process gets moves from run to run (last
row). Throughput moves with it; **CPU time per message** (measured from /proc for the server) moves much less and
is the steadier figure for comparing the relay with the raw forwarder.

${relaySection}

## Where the relay's time goes

${analysis(report)}

### Profile

A separate, shorter relay run (${int(config.profiled.clients)} clients, ${fixed(config.profiled.measureMs / 1000, 0)} s measured, ${int(report.profiled.perSecond)} msg/s, ${fixed(report.profiled.serverCpuUsPerMessage, 0)} µs of relay CPU per message)
under \`node --cpu-prof\`, its samples restricted to the measured window. Each sample counts for the innermost
activity on its stack (so CBOR encoding inside an authenticator check counts as CBOR, libsodium's WebAssembly
inside \`checkCommandAuth\` as command authenticators). The profiler slows the relay; the shares, not the speed, are the point.

${profileTable(report.profile, report.profiled.serverCpuUsPerMessage)}

Busiest functions by self time (\`wasm-function[…]\` is libsodium's WebAssembly; \`(anonymous)\` in
sqlite-queue-store.ts holds the time spent in better-sqlite3's native calls):

${functionsTable(report.profile)}

Each step of the relay's per-message work timed alone in the benchmark process (same core functions, the
relay's own SqliteQueueStore in a temporary folder), with how often the relay calls it per delivered message
(from commands.ts, connection.ts and subscriptions.ts):

${opCostTable(report.opCosts)}

## Double Ratchet

Encrypt + decrypt of ${int(config.bodyBytes)}-byte plaintexts between two sessions in one process (header
encryption, checked round trip), ${fixed(1.5, 1)} s per row. _One way_ turns only the symmetric ratchet;
_ping-pong_ alternates the direction every message, so every message also takes a DH ratchet step (a new X25519
key pair, two X25519 agreements, two root-KDF steps).

${ratchetTable(report)}

${
  oneWay && pingPong && nodeOneWay
    ? `With core's \`systemRandom\`, as the sessions will run in Parus today, one way runs at ${int(oneWay.perSecond)} messages/s and ` +
      `ping-pong at ${int(pingPong.perSecond)}. The node:crypto rows differ only in the randomness: the header nonce ` +
      `(and, in ping-pong, the new ratchet key) comes from libsodium's \`randombytes_buf\`, which in its ` +
      `WebAssembly build under Node fetches 4 bytes per call from node:crypto; that alone makes one way ` +
      `${fixed(nodeOneWay.perSecond / oneWay.perSecond, 1)} times slower. Fast enough for a messenger either way ` +
      '(a person does not send thousands of messages a second), but a `Random` on `crypto.getRandomValues` at the ' +
      'I/O edge of the client, as the relay now does (packages/relay/src/node-random.ts), would be free speed.'
    : ''
}

## Method

- \`npm run bench\` runs everything in one go. The orchestrator (bench/run.ts) forks the server under test
  (bench/server-process.ts: the relay through \`startRelay\`, or bench/raw-forwarder.ts; or starts an anchor,
  bench/anchor-servers.ts) and, separately, one load-generator process with every client
  (bench/load-generator.ts), so that the server has a core to itself; the load generator has the other one,
  and the two cores are all the machine has. Loopback only (127.0.0.1). The relay phase alone:
  \`npm run bench -- --only relay\` (its section above, and a JSON line of its figures on stdout).
- Relay clients speak the real protocol: \`hello\`/\`welcome\` with the fingerprint and signature checks, a
  queue each (\`new\` with \`sk\`, so secured at once) and \`sub\`; client i sends to client i ± 1's queue with
  authenticated \`send\` frames; the recipient opens each sealed body (checking it), reads the sender's sequence number
  from it, and answers with an authenticated \`ack\`. The relay's per-connection limits are raised for the run
  (${limitsText()}); nothing about storage or checks changes, and the store is a fresh SQLite database in a
  temporary folder.
- Raw clients send frames of the same size as the relay's send frames to the forwarder, which forwards each to
  the client whose 24-byte id starts it: no storage, no crypto, no acks.
- Each client keeps at most ${config.window} messages on their way (sent, not yet received by its partner);
  every arrival lets the sender send again. The warm-up lasts at least ${fixed(config.warmupMs / 1000, 1)} s and until
  clients × window messages have arrived (at most ${fixed(config.maxWarmupMs / 1000, 0)} s); then ${fixed(config.measureMs / 1000, 0)} s
  are measured (longer for a server that delivers in waves: see the relay section); then sending stops and the run waits (at most ${fixed(config.drainMs / 1000, 0)} s) for every message to arrive.
- The servers run in rounds, each round in the other order, to spread the host's slow spells.
`;
}

export function renderSummary(report: Report): string {
  const lines = [
    'Relay against raw forwarding (best of rounds):',
    '',
    summaryTable(report),
    '',
    'Every run:',
    '',
  ];
  const profiled = (r: RunResult): string =>
    r.profilePath !== undefined || r === report.profiled ? `${r.target} (profiled)` : r.target;
  lines.push(
    runsTable([...report.runs, report.profiled], profiled),
    '',
    'Double Ratchet:',
    '',
    ratchetTable(report),
  );
  return lines.join('\n');
}
