// IndexedDbStore in real Chromium runs the same Store compliance cases as the Node backends
// (packages/client/test/store-compliance-suite.ts), bundled by Vite into a test page served
// under the production CSP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, type Rollup } from 'vite';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { storeComplianceCases } from '../../client/test/store-compliance-suite.ts';
import { launchChromium, watchPage } from './helpers/browser.ts';
import { serveStatic, type StaticServer } from './helpers/static-server.ts';

const BACKENDS = ['IndexedDbStore', 'SealedStore over IndexedDbStore'];
const BROWSER_CASES = [
  'keeps its data after close, in a new connection',
  'databases of different names are apart',
  'after close it is a UsageError, and destroy removes everything',
  'sealed: a wrong passphrase is an AuthError and the database holds no plaintext',
];

let server: StaticServer;
let browser: Browser;
let page: Page;
let problems: string[];

async function buildPage(): Promise<Map<string, Uint8Array | string>> {
  const root = join(import.meta.dirname, 'store-page');
  const out = (await build({
    configFile: false,
    root,
    base: './',
    logLevel: 'warn',
    build: { write: false, target: 'es2022', minify: false, modulePreload: { polyfill: false } },
  })) as Rollup.RollupOutput;
  const files = new Map<string, Uint8Array | string>();
  for (const item of out.output) files.set(item.fileName, item.type === 'chunk' ? item.code : item.source);
  return files;
}

beforeAll(async () => {
  const [files, b] = await Promise.all([buildPage(), launchChromium()]);
  browser = b;
  server = await serveStatic({ files });
  page = await browser.newPage();
  problems = watchPage(page);
  await page.goto(server.url);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached', timeout: 30_000 });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe.each(BACKENDS)('%s in Chromium', (backend) => {
  for (const c of storeComplianceCases) {
    it(c.name, async () => {
      await page.evaluate(([b, n]) => window.parusStoreTests.run(b!, n!), [backend, c.name]);
    });
  }
});

describe('IndexedDbStore in Chromium, browser-only cases', () => {
  for (const name of BROWSER_CASES) {
    it(name, async () => {
      await page.evaluate((n) => window.parusStoreTests.runBrowserCase(n), name);
    });
  }

  it('ran with no CSP violation and no uncaught error', () => {
    expect(problems).toEqual([]);
  });
});
