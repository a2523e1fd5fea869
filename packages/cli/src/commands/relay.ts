import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DEFAULT_RELAY_LIMITS, readTurnSecret, startRelay } from '@parus/relay';
import type { RelayLimits } from '@parus/relay';
import { TransportError, UsageError, initCrypto, parseRelayAddress, toBase64Url } from '@parus/core';
import { num, parse, str } from '../args.ts';
import { fault, t } from '../i18n.ts';
import type { Output } from '../output.ts';

/** `NAME=VALUE` pairs of --limit, as relay limits (startRelay checks names and values). */
export function parseLimits(pairs: readonly string[]): Partial<RelayLimits> {
  const limits: Record<string, number> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const name = at > 0 ? pair.slice(0, at) : '';
    const value = Number(pair.slice(at + 1));
    if (!Object.prototype.hasOwnProperty.call(DEFAULT_RELAY_LIMITS, name))
      throw fault(UsageError, 'relay.limitName', { pair: JSON.stringify(pair) });
    if (at + 1 >= pair.length || !Number.isFinite(value) || value <= 0)
      throw fault(UsageError, 'relay.limitValue', { name });
    limits[name] = value;
  }
  return limits as Partial<RelayLimits>;
}

/** What a relay config file (`--config FILE`) may set: the flags of the same names. */
const CONFIG_KEYS = ['host', 'port', 'public-host', 'data', 'note', 'store', 'key-secret', 'bus'] as const;
/** Config values that name files: relative to the config file's folder. */
const CONFIG_PATHS = new Set<string>(['data', 'key-secret']);
/** A config file is a few lines of JSON; anything much larger is not one. */
const MAX_CONFIG_BYTES = 64 * 1024;

/**
 * `parus relay --config FILE`: a JSON object with some of CONFIG_KEYS (strings; `port` may be
 * a number). UsageError for anything else. Paths are resolved against the file's folder.
 */
export function readRelayConfig(path: string): Record<string, string> {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_CONFIG_BYTES) throw fault(UsageError, 'error.configTooLarge');
    text = bytes.toString('utf8');
  } catch (cause) {
    if (cause instanceof UsageError) throw cause;
    throw fault(UsageError, 'error.configUnreadable', {}, { cause });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw fault(UsageError, 'error.configNotJson');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw fault(UsageError, 'error.configNotObject');
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key))
      throw fault(UsageError, 'error.configKey', { known: CONFIG_KEYS.join(', '), key: JSON.stringify(key) });
    if (typeof value !== 'string' && !(key === 'port' && typeof value === 'number'))
      throw fault(UsageError, 'error.configValue', { key });
    out[key] = CONFIG_PATHS.has(key) ? resolve(dirname(resolve(path)), String(value)) : String(value);
  }
  return out;
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
    bus: { type: 'string' },
    config: { type: 'string' },
    store: { type: 'string' },
    'key-secret': { type: 'string' },
    blobs: { type: 'string' },
  });
  // The config file's settings, under the command line's.
  const configFile = str(values, 'config');
  if (configFile !== undefined)
    for (const [key, value] of Object.entries(readRelayConfig(configFile))) values[key] ??= value;
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
  if (turnUrls.length > 0 !== (turnSecretFile !== undefined)) throw fault(UsageError, 'relay.turnPair');
  const joins = (values.join as unknown as string[] | undefined) ?? [];
  for (const address of joins) {
    try {
      parseRelayAddress(address);
    } catch {
      throw fault(UsageError, 'relay.joinAddress', { address: JSON.stringify(address) });
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
    ...(str(values, 'bus') ? { bus: str(values, 'bus')! } : {}),
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
      out.line(t('relay.running'));
      out.line(t('relayRun.address', { value: relay.address }));
      if (webUrl) out.line(t('relayRun.web', { value: webUrl }));
      out.line(t('relayRun.health', { value: `http://${relay.host}:${relay.port}/health` }));
      out.line(t('relayRun.status', { value: `http://${relay.host}:${relay.port}/status` }));
      if (joins.length) out.line(t('relayRun.joining', { value: joins.join(', ') }));
      if (turnUrls.length) out.line(t('relayRun.turn', { value: turnUrls.join(', ') }));
      // Host and port only: the URL may carry a password.
      if (str(values, 'bus')) out.line(t('relayRun.bus', { value: new URL(str(values, 'bus')!).host }));
      out.line(t('relayRun.data', { value: dataDir }));
      if (store !== undefined) out.line(t('relayRun.store'));
      if (store !== undefined)
        out.line(
          blobs === undefined || blobs === 'postgres'
            ? t('relayRun.blobsPostgres')
            : t('relayRun.blobsFolder', { value: blobs }),
        );
      if (small) out.line(t('relayRun.small'));
      out.line('');
      out.line(t('relay.start'));
      out.line(`  npm run parus -- init --name Alice --relay '${relay.address}'`);
      out.line(`  npm run parus -- invite          # ${t('relay.startInvite')}`);
      out.line(`  npm run parus -- accept 'parus:…' --alias friend   # ${t('relay.startAccept')}`);
      out.line(t('relay.stop'));
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
  store?: string;
  blobs?: string;
  process?: { id: string; name: string };
  bus?: { kind: string; connected: boolean };
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
  else throw fault(UsageError, 'relay.statusTarget');
  let status: StatusJson;
  try {
    const res = await fetch(`${base}/status.json`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw fault(TransportError, 'relay.answered', { status: res.status });
    status = (await res.json()) as StatusJson;
  } catch (cause) {
    if (cause instanceof TransportError) throw cause;
    throw fault(TransportError, 'relay.cannotRead', { url: `${base}/status.json` }, { cause });
  }
  if (expect && status.relay?.fingerprint !== expect) throw fault(TransportError, 'relay.otherFingerprint');
  const short = (id: string): string => `${id.slice(0, 8)}…`;
  out.result(status as unknown as Record<string, unknown>, () => {
    out.line(t('relayStatus.relay', { value: status.relay.address }));
    out.line(t('relayStatus.version', { version: status.relay.version, uptime: status.uptime }));
    out.line(t('relayStatus.users', { users: status.users, queues: status.queues }));
    if (status.store)
      out.line(t('relayStatus.store', { store: status.store, blobs: status.blobs ?? status.store }));
    if (status.process && status.bus?.kind === 'redis')
      out.line(
        t(status.bus.connected ? 'relayStatus.busUp' : 'relayStatus.busDown', {
          process: status.process.name,
        }),
      );
    out.line(t('relayStatus.links', { value: status.neighbours.map(short).join(' ') || t('relay.none') }));
    out.line(t('relay.known', { relays: status.relays.length, links: status.links.length }));
    for (const r of status.relays)
      out.line(
        `  ${r.fingerprint === status.relay.fingerprint ? '*' : r.reachable ? ' ' : '!'} ${r.addresses[0] ?? short(r.fingerprint)}`,
      );
    out.line(t('relay.cloudLinks'));
    for (const l of status.links) out.line(`  ${short(l.from)} — ${short(l.to)}`);
    out.line(t('relay.routes'));
    for (const r of status.routes)
      out.line(
        `  ${t('relay.route', { to: short(r.to), via: short(r.nextHop), hops: r.hops })}: ${r.path.map(short).join(' → ')}`,
      );
    out.line(
      t('relayStatus.bridges', {
        value: status.bridges.length
          ? status.bridges.map((b) => `${short(b.from)} — ${short(b.to)}`).join(', ')
          : t('relay.noneWord'),
      }),
    );
    out.line(
      t('relay.forwards', {
        held: status.forwards.held,
        forwarded: status.forwards.forwarded,
        delivered: status.forwards.delivered,
      }),
    );
  });
  return 0;
}
