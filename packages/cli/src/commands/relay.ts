import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startRelay } from '@parus/relay';
import { initCrypto } from '@parus/core';
import { num, parse, str } from '../args.ts';
import type { Output } from '../output.ts';

export const RELAY_HELP = `parus relay [--host H] [--port N] [--data DIR] [--web DIR]
  Runs a relay: a WebSocket endpoint that holds encrypted queues (default 127.0.0.1:7400, data in ./.parus/relay),
  serving the web client (the built packages/web, or --web DIR).`;

/** The built web client of this checkout, if it has been built. */
const BUILT_WEB = resolve(import.meta.dirname, '../../../web/dist');

export async function relayCommand(argv: string[], makeOut: (json: boolean) => Output): Promise<number> {
  const { values } = parse(argv, {
    host: { type: 'string' },
    port: { type: 'string' },
    data: { type: 'string' },
  });
  const out = makeOut(values.json === true);
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
    ...(webRoot ? { webRoot } : {}),
  });
  const webUrl = webRoot ? `http://${relay.host}:${relay.port}/` : null;
  out.result(
    { address: relay.address, host: relay.host, port: relay.port, data: dataDir, web: webUrl },
    () => {
      out.line(`Parus relay running.`);
      out.line(`  address: ${relay.address}`);
      if (webUrl) out.line(`  web:     ${webUrl}  (open it in a browser to chat)`);
      out.line(`  health:  http://${relay.host}:${relay.port}/health`);
      out.line(`  data:    ${dataDir}`);
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
