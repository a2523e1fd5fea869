/**
 * The relay phase's anchors: Debian's mosquitto 2.0 (MQTT) and prosody 0.12 (XMPP), each
 * started by the bench itself, as the user running it, in a temporary folder with its own
 * configuration on a loopback port, and stopped (and the folder removed) after its run.
 * Never the system services. The bench installs nothing: an anchor whose program is absent
 * is skipped, and the report says so.
 *
 * - mosquitto: QoS 1 is the clients' choice (mqtt-client.ts); persistence on, in the
 *   temporary folder, with Debian's defaults otherwise.
 * - prosody: one virtual host `localhost`, c2s without TLS on loopback (PLAIN allowed
 *   there), in-band registration, stream management (mod_smacks, part of 0.12).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { ServerStats } from './ipc.ts';

export type Anchor = 'mosquitto' | 'prosody';
export const ANCHORS: readonly Anchor[] = ['mosquitto', 'prosody'];

export const ANCHOR_PROGRAMS: Record<Anchor, string> = {
  mosquitto: '/usr/sbin/mosquitto',
  prosody: '/usr/bin/prosody',
};

/** The XMPP domain of the bench's prosody. */
export const XMPP_DOMAIN = 'localhost';
const LOG_LINES_KEPT = 20;

export function isAnchor(target: string): target is Anchor {
  return (ANCHORS as readonly string[]).includes(target);
}

/** Whether the anchor's program is installed (and executable) on this machine. */
export function anchorInstalled(anchor: Anchor): boolean {
  try {
    accessSync(ANCHOR_PROGRAMS[anchor], constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The anchor's version, for the report ('' when unknown): mosquitto prints it with `-h`;
 * prosody's is in the file beside its sources (`prosody --version` would start a server
 * with the system's configuration).
 */
export async function anchorVersion(anchor: Anchor): Promise<string> {
  if (anchor === 'prosody') {
    try {
      const version = readFileSync('/usr/lib/prosody/prosody.version', 'utf8').trim();
      return /^[\w.+-]{1,40}$/.test(version) ? `Prosody ${version}` : '';
    } catch {
      return '';
    }
  }
  const out = await new Promise<string>((resolve) => {
    const child = spawn(ANCHOR_PROGRAMS[anchor], ['-h'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    child.on('error', () => resolve(''));
    child.on('close', () => resolve(text));
  });
  return /mosquitto version [\d.]+/i.exec(out)?.[0] ?? '';
}

export interface AnchorServer {
  pid: number | undefined;
  /** `mqtt://127.0.0.1:port` or `xmpp://127.0.0.1:port/localhost`. */
  address: string;
  /** Stops the server and removes its folder; its peak RSS is read from /proc just before. */
  stop(): Promise<ServerStats>;
  /** Kills it at once (after a failure). */
  kill(): void;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free loopback port');
  return address.port;
}

/** Peak resident set of `pid` (VmHWM in /proc), bytes; NaN where /proc is not available. */
function peakRssBytes(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
    return kib === undefined ? NaN : Number(kib) * 1024;
  } catch {
    return NaN;
  }
}

function mosquittoConfig(dir: string, port: number): string {
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    // Nagle's algorithm off, as ws turns it off for the relay and the raw forwarder.
    'set_tcp_nodelay true',
    'persistence true',
    `persistence_location ${dir}/`,
    // Debian's defaults otherwise (autosave_interval 1800 s, max_inflight_messages 20,
    // max_queued_messages 1000). A broker started as root drops to user `mosquitto`, which
    // could not write the bench's folder: keep the user the bench runs as.
    ...(process.getuid?.() === 0 ? [`user ${userInfo().username}`] : []),
    'log_dest stderr',
    'log_type error',
    'log_type warning',
  ];
  return `${lines.join('\n')}\n`;
}

function prosodyConfig(dir: string, port: number, window: number): string {
  const lua = (s: string): string => JSON.stringify(s);
  return `-- Written by bench/anchor-servers.ts for one run of the relay bench.
data_path = ${lua(join(dir, 'data'))}
pidfile = ${lua(join(dir, 'prosody.pid'))}
daemonize = false
run_as_root = true
log = { { levels = { min = "warn" }, to = "console" } }
modules_enabled = { "saslauth", "register", "smacks" }
modules_disabled = { "s2s", "offline" }
c2s_ports = { ${port} }
c2s_interfaces = { "127.0.0.1" }
-- Nagle's algorithm off, as ws turns it off for the relay and the raw forwarder.
network_settings = { nagle = false }
s2s_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = true
authentication = "internal_plain"
storage = "internal"
-- Every client acks each stanza it receives; the server need not ask while a window is on its way.
smacks_max_unacked_stanzas = ${window}
VirtualHost ${lua(XMPP_DOMAIN)}
`;
}

/** Waits until something accepts TCP connections on the port (the server is up). */
async function waitForPort(
  port: number,
  child: ChildProcess,
  name: string,
  timeoutMs: number,
): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited on start`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${name} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/** Starts `anchor` for one run; `window` is the clients' window (prosody's ack threshold). */
export async function startAnchor(anchor: Anchor, window: number): Promise<AnchorServer> {
  const dir = await mkdtemp(join(tmpdir(), `parus-bench-${anchor}-`));
  const port = await freePort();
  let args: string[];
  if (anchor === 'mosquitto') {
    const config = join(dir, 'mosquitto.conf');
    await writeFile(config, mosquittoConfig(dir, port));
    args = ['-c', config];
  } else {
    const config = join(dir, 'prosody.cfg.lua');
    await writeFile(config, prosodyConfig(dir, port, window));
    // No TLS, so no certificates; an empty folder keeps prosody from complaining of none.
    await mkdir(join(dir, 'certs'));
    args = ['--config', config, '-F'];
  }
  const child = spawn(ANCHOR_PROGRAMS[anchor], args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  let logLines = 0;
  const onOutput = (d: Buffer): void => {
    for (const line of d.toString().split('\n')) {
      if (line.trim() === '') continue;
      logLines += 1;
      if (log.length < LOG_LINES_KEPT) log.push(line.slice(0, 300));
    }
  };
  child.stdout!.on('data', onOutput);
  child.stderr!.on('data', onOutput);
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  // Should the bench itself die, the anchor goes with it.
  process.on('exit', kill);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      process.off('exit', kill);
      resolve();
    }),
  );
  try {
    await waitForPort(port, child, anchor, 30_000);
  } catch (error) {
    kill();
    await exited;
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}${log.length > 0 ? `: ${log.join(' / ')}` : ''}`);
  }
  return {
    pid: child.pid,
    address: anchor === 'mosquitto' ? `mqtt://127.0.0.1:${port}` : `xmpp://127.0.0.1:${port}/${XMPP_DOMAIN}`,
    kill: () => {
      kill();
      void exited.then(() => rm(dir, { recursive: true, force: true }));
    },
    stop: async () => {
      const peak = peakRssBytes(child.pid);
      child.kill('SIGTERM');
      const timer = setTimeout(kill, 10_000);
      await exited;
      clearTimeout(timer);
      await rm(dir, { recursive: true, force: true });
      return { peakRssBytes: peak, log, logLines };
    },
  };
}
