import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_RELAY_LIMITS, startRelay } from '@parus/relay';
import type { RelayLimits } from '@parus/relay';
import { UsageError, initCrypto } from '@parus/core';
import { num, parse, str } from '../args.ts';
import type { Output } from '../output.ts';

export const RELAY_HELP = `parus relay [--host H] [--port N] [--data DIR] [--web DIR] [--small] [--limit NAME=VALUE]...
  Runs a relay: a WebSocket endpoint that holds encrypted queues (default 127.0.0.1:7400, data in ./.parus/relay),
  serving the web client (the built packages/web, or --web DIR). --limit sets one of the relay's limits, e.g.
  --limit maxStoredBytes=50e9 --limit maxConnectionsPerAddress=256 (names and defaults: the user guide).
  --small: the profile for a board with 512 MB (lower limits, smaller caches; --limit still applies).
parus relay add ADDRESS                  receive on a second relay too (failover): contacts are told`;

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
  const { values } = parse(argv, {
    host: { type: 'string' },
    port: { type: 'string' },
    data: { type: 'string' },
    web: { type: 'string' },
    limit: { type: 'string', multiple: true },
    small: { type: 'boolean' },
  });
  const out = makeOut(values.json === true);
  const limits = parseLimits((values.limit as unknown as string[] | undefined) ?? []);
  await initCrypto();
  const dataDir = resolve(str(values, 'data') ?? '.parus/relay');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
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
    ...(webRoot ? { webRoot } : {}),
  });
  const webUrl = webRoot ? `http://${relay.host}:${relay.port}/` : null;
  const small = values.small === true;
  out.result(
    { address: relay.address, host: relay.host, port: relay.port, data: dataDir, web: webUrl, small },
    () => {
      out.line(`Parus relay running.`);
      out.line(`  address: ${relay.address}`);
      if (webUrl) out.line(`  web:     ${webUrl}  (open it in a browser to chat)`);
      out.line(`  health:  http://${relay.host}:${relay.port}/health`);
      out.line(`  data:    ${dataDir}`);
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
