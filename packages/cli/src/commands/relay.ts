import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_RELAY_LIMITS, readTurnSecret, startRelay } from '@parus/relay';
import type { RelayLimits } from '@parus/relay';
import { TransportError, UsageError, initCrypto, parseRelayAddress, toBase64Url } from '@parus/core';
import { num, parse, str } from '../args.ts';
import type { Output } from '../output.ts';

/** `NAME=VALUE` pairs of --limit, as relay limits (startRelay checks names and values). */
export function parseLimits(pairs: readonly string[]): Partial<RelayLimits> {
  const limits: Record<string, number> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const name = at > 0 ? pair.slice(0, at) : '';
    const value = Number(pair.slice(at + 1));
    if (!Object.prototype.hasOwnProperty.call(DEFAULT_RELAY_LIMITS, name))
      throw new UsageError(`--limit takes NAME=VALUE with a relay limit's name, not ${JSON.stringify(pair)}`);
    if (at + 1 >= pair.length || !Number.isFinite(value) || value <= 0)
      throw new UsageError(`--limit ${name} needs a positive number`);
    limits[name] = value;
  }
  return limits as Partial<RelayLimits>;
}

/** The built web client of this checkout, if it has been built. */
const BUILT_WEB = resolve(import.meta.dirname, '../../../web/dist');

export async function relayCommand(argv: string[], makeOut: (json: boolean) => Output): Promise<number> {
  if (argv[0] === 'status') return relayStatusCommand(argv.slice(1), makeOut);
  const { values } = parse(argv, {
    host: { type: 'string' },
    port: { type: 'string' },
    'public-host': { type: 'string' },
    data: { type: 'string' },
    web: { type: 'string' },
    limit: { type: 'string', multiple: true },
    small: { type: 'boolean' },
    join: { type: 'string', multiple: true },
    note: { type: 'string' },
    turn: { type: 'string', multiple: true },
    'turn-secret': { type: 'string' },
    store: { type: 'string' },
    'key-secret': { type: 'string' },
    blobs: { type: 'string' },
  });
  const store = str(values, 'store');
  const keySecret = str(values, 'key-secret');
  if (store !== undefined && !/^postgres(ql)?:\/\//.test(store))
    throw new UsageError(
      '--store takes postgres://USER@HOST:PORT/DB (without it the relay keeps SQLite in --data)',
    );
  if ((store !== undefined) !== (keySecret !== undefined))
    throw new UsageError('--store and --key-secret go together');
  const blobsFlag = str(values, 'blobs');
  if (blobsFlag !== undefined && store === undefined)
    throw new UsageError('--blobs goes with --store postgres://… (without it, blobs stay in --data)');
  if (blobsFlag === '') throw new UsageError('--blobs takes postgres or a folder every relay process shares');
  const blobs = blobsFlag === undefined || blobsFlag === 'postgres' ? blobsFlag : resolve(blobsFlag);
  const turnUrls = (values.turn as unknown as string[] | undefined) ?? [];
  const turnSecretFile = str(values, 'turn-secret');
  if (turnUrls.length > 0 !== (turnSecretFile !== undefined))
    throw new UsageError('--turn and --turn-secret go together');
  const joins = (values.join as unknown as string[] | undefined) ?? [];
  for (const address of joins) {
    try {
      parseRelayAddress(address);
    } catch {
      throw new UsageError(
        `--join takes a relay address (parus://<fingerprint>@host:port), not ${JSON.stringify(address)}`,
      );
    }
  }
  const out = makeOut(values.json === true);
  const limits = parseLimits((values.limit as unknown as string[] | undefined) ?? []);
  await initCrypto();
  const dataDir = resolve(str(values, 'data') ?? '.parus/relay');
  // With a PostgreSQL store the relay makes the folder once the store is reached (nothing on a bad URL).
  if (store === undefined) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const webFlag = str(values, 'web');
  const webRoot = webFlag
    ? resolve(webFlag)
    : existsSync(join(BUILT_WEB, 'index.html'))
      ? BUILT_WEB
      : undefined;
  const relay = await startRelay({
    host: str(values, 'host') ?? '127.0.0.1',
    port: num(values, 'port') ?? 7400,
    dataDir,
    log: (line) => process.stderr.write(`${line}\n`),
    limits,
    small: values.small === true,
    join: joins,
    ...(str(values, 'public-host') ? { publicHost: str(values, 'public-host')! } : {}),
    ...(str(values, 'note') ? { note: str(values, 'note')! } : {}),
    ...(webRoot ? { webRoot } : {}),
    ...(store !== undefined ? { store, keySecret: resolve(keySecret!) } : {}),
    ...(blobs !== undefined ? { blobs } : {}),
    ...(turnSecretFile ? { turn: { urls: turnUrls, secret: readTurnSecret(resolve(turnSecretFile)) } } : {}),
  });
  const webUrl = webRoot ? `http://${relay.host}:${relay.port}/` : null;
  const small = values.small === true;
  out.result(
    {
      address: relay.address,
      host: relay.host,
      port: relay.port,
      data: dataDir,
      web: webUrl,
      small,
      store: store === undefined ? 'sqlite' : 'postgres',
      blobs:
        store === undefined ? 'sqlite' : blobs === undefined || blobs === 'postgres' ? 'postgres' : blobs,
    },
    () => {
      out.line(`Parus relay running.`);
      out.line(`  address: ${relay.address}`);
      if (webUrl) out.line(`  web:     ${webUrl}  (open it in a browser to chat)`);
      out.line(`  health:  http://${relay.host}:${relay.port}/health`);
      out.line(`  status:  http://${relay.host}:${relay.port}/status`);
      if (joins.length) out.line(`  joining: ${joins.join(', ')}`);
      if (turnUrls.length) out.line(`  turn:    ${turnUrls.join(', ')}`);
      out.line(`  data:    ${dataDir}`);
      if (store !== undefined) out.line('  store:   postgres (shared with the other relay processes on it)');
      if (store !== undefined)
        out.line(
          `  blobs:   ${blobs === undefined || blobs === 'postgres' ? 'postgres' : `${blobs} (shared folder)`}`,
        );
      if (small) out.line('  profile: small (lower limits and caches, for a board with 512 MB)');
      out.line('');
      out.line('Start chatting (in another terminal):');
      out.line(`  npm run parus -- init --name Alice --relay '${relay.address}'`);
      out.line(`  npm run parus -- invite          # prints a link and a QR code to give a friend`);
      out.line(`  npm run parus -- accept 'parus:…' --alias friend   # on the friend's side`);
      out.line('Press Ctrl+C to stop.');
    },
  );
  await new Promise<void>((resolveStop) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void relay.close().then(resolveStop);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}

interface StatusJson {
  relay: { fingerprint: string; address: string; version: string };
  uptime: number;
  users: number;
  queues: number;
  relays: Array<{ fingerprint: string; addresses: string[]; reachable: boolean }>;
  links: Array<{ from: string; to: string }>;
  neighbours: string[];
  routes: Array<{ to: string; nextHop: string; hops: number; path: string[] }>;
  bridges: Array<{ from: string; to: string }>;
  forwards: { held: number; forwarded: number; delivered: number };
}

/** `parus relay status [ADDRESS]`: what the relay's /status.json says, as lines (or as is with --json). */
async function relayStatusCommand(argv: string[], makeOut: (json: boolean) => Output): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const out = makeOut(values.json === true);
  const target = positionals[0] ?? 'http://127.0.0.1:7400';
  let base: string;
  let expect: string | undefined;
  if (target.startsWith('parus://')) {
    const a = parseRelayAddress(target);
    base = `${a.transport === 'wss' ? 'https' : 'http'}://${a.host}:${a.port}`;
    expect = toBase64Url(a.fingerprint);
  } else if (/^https?:\/\//.test(target)) base = target.replace(/\/+$/, '');
  else if (/^[A-Za-z0-9.[\]:-]+:\d{1,5}$/.test(target)) base = `http://${target}`;
  else throw new UsageError('parus relay status takes a relay address, http://host:port or host:port');
  let status: StatusJson;
  try {
    const res = await fetch(`${base}/status.json`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new TransportError(`the relay answered ${res.status}`);
    status = (await res.json()) as StatusJson;
  } catch (cause) {
    if (cause instanceof TransportError) throw cause;
    throw new TransportError(`cannot read ${base}/status.json`, { cause });
  }
  if (expect && status.relay?.fingerprint !== expect)
    throw new TransportError('the relay at that address has another fingerprint than the address says');
  const short = (id: string): string => `${id.slice(0, 8)}…`;
  out.result(status as unknown as Record<string, unknown>, () => {
    out.line(`relay:     ${status.relay.address}`);
    out.line(`version:   ${status.relay.version}   uptime: ${status.uptime} s`);
    out.line(`users:     ${status.users}   queues: ${status.queues}`);
    out.line(`links:     ${status.neighbours.map(short).join(' ') || '(none)'}`);
    out.line(`relays:    ${status.relays.length} known, ${status.links.length} links in the cloud`);
    for (const r of status.relays)
      out.line(
        `  ${r.fingerprint === status.relay.fingerprint ? '*' : r.reachable ? ' ' : '!'} ${r.addresses[0] ?? short(r.fingerprint)}`,
      );
    out.line('links in the cloud:');
    for (const l of status.links) out.line(`  ${short(l.from)} — ${short(l.to)}`);
    out.line('routes:');
    for (const r of status.routes)
      out.line(`  ${short(r.to)} via ${short(r.nextHop)} (${r.hops} hops): ${r.path.map(short).join(' → ')}`);
    out.line(
      `bridges:   ${status.bridges.length ? status.bridges.map((b) => `${short(b.from)} — ${short(b.to)}`).join(', ') : 'none'}`,
    );
    out.line(
      `forwards:  ${status.forwards.held} held, ${status.forwards.forwarded} sent on, ${status.forwards.delivered} delivered here`,
    );
  });
  return 0;
}
