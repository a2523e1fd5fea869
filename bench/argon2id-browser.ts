/**
 * Argon2id in Chromium (libsodium's WebAssembly, as the web client runs it) and in Node, at the
 * profiles the accounts may use: the figures behind docs/decisions/0027. Prints a table of
 * medians. Run: node --import tsx bench/argon2id-browser.ts [runs]
 */
import { join } from 'node:path';
import { build, type Rollup } from 'vite';
import { argon2id, initCrypto, systemRandom, utf8 } from '@parus/core';
import { launchChromium } from '../packages/web/test/helpers/browser.ts';
import { serveStatic } from '../packages/web/test/helpers/static-server.ts';

const PROFILES: Array<[number, number]> = [
  [2, 64],
  [3, 64],
  [3, 128],
  [4, 128],
  [3, 256],
];
const runs = Number(process.argv[2] ?? 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const root = join(import.meta.dirname, 'argon2id-page');
const out = (await build({
  configFile: false,
  root,
  base: './',
  logLevel: 'warn',
  build: { write: false, target: 'es2022', minify: true, modulePreload: { polyfill: false } },
})) as Rollup.RollupOutput;
const files = new Map<string, Uint8Array | string>();
for (const item of out.output) files.set(item.fileName, item.type === 'chunk' ? item.code : item.source);
const server = await serveStatic({ files });
const browser = await launchChromium();
await initCrypto();
const rows: string[] = [
  '| passes | memory | Chromium (ms, median) | Node (ms, median) |',
  '| --- | --- | --- | --- |',
];
try {
  const page = await browser.newPage();
  await page.goto(server.url);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached', timeout: 60_000 });
  for (const [ops, mib] of PROFILES) {
    const web: number[] = [];
    let failure = '';
    for (let i = 0; i < runs; i++) {
      const r = await page.evaluate(([o, m]) => window.parusArgon2id(o!, m!), [ops, mib]);
      if (typeof r === 'string') failure = r;
      else web.push(r);
    }
    const node: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      argon2id(utf8('a passphrase of some length'), systemRandom.bytes(16), {
        opsLimit: ops,
        memLimit: mib * 1024 * 1024,
      });
      node.push(performance.now() - t);
    }
    const webCell = failure || Math.round(median(web)).toString();
    rows.push(`| ${ops} | ${mib} MiB | ${webCell} | ${Math.round(median(node))} |`);
    console.log(rows.at(-1));
  }
} finally {
  await browser.close();
  await server.close();
}
console.log(`\n${rows.join('\n')}`);
