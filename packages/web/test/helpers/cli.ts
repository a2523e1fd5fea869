// The `parus` CLI driven from the browser tests, as packages/cli/test/e2e.test.ts drives it:
// the real bin (packages/cli/bin/parus.js) in a child process with its own home, `--json`
// output, and the test-only fast KDF: one-shot commands with their JSON answer, long-running
// ones (init --link, device link) read line by line, a browser linked to a CLI account, and the
// test photo the browser tests send.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import jpeg from 'jpeg-js';
import type { Page } from 'playwright-core';
import type { ParusJson } from '../../../cli/test/support/friends.ts';
import { REPO, WAIT, chatList, createAccount } from './app.ts';

export const CLI_BIN = join(REPO, 'packages/cli/bin/parus.js');

/** The CLI's environment: its home, its passphrase, the test KDF and an English locale. */
export function cliEnv(home: string, passphrase: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PARUS_HOME: home,
    PARUS_PASSPHRASE: passphrase,
    PARUS_INSECURE_TEST_KDF: '1',
    LANG: 'C.UTF-8',
  };
}

export interface CliOptions {
  passphrase: string;
  /** Milliseconds before the child is killed (a loaded machine is slow). */
  timeout?: number;
}

/** Runs `parus ARGS --json` in HOME and resolves with the last JSON line it printed. */
export function runCli(
  home: string,
  args: string[],
  { passphrase, timeout = 90_000 }: CliOptions,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI_BIN, ...args, '--json'],
      { env: cliEnv(home, passphrase), timeout },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`parus ${args.join(' ')} failed: ${stdout} ${stderr}`));
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>);
      },
    );
  });
}

export interface CliProcess {
  lines: string[];
  /** Resolves with the n-th line (from 0) once printed; rejects if the process ends first. */
  line: (n: number) => Promise<string>;
  done: Promise<number>;
  child: ChildProcess;
}

/** A long-running `parus` (init --link, device link): its JSON lines as they come, and its end. */
export function spawnCli(home: string, args: string[], passphrase: string): CliProcess {
  const child = spawn(process.execPath, [CLI_BIN, ...args, '--json'], {
    env: cliEnv(home, passphrase),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) w();
  });
  const done = new Promise<number>((end) => child.once('exit', (code) => end(code ?? 1)));
  const line = (n: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (lines.length > n) resolve(lines[n]!);
        else waiters.push(check);
      };
      void done.then(() =>
        lines.length > n ? resolve(lines[n]!) : reject(new Error(`parus ${args[0]} ended`)),
      );
      check();
    });
  return { lines, line, done, child };
}

/** `runCli` bound to one device (its home and passphrase), as the shared CLI test steps take it. */
export function cliDevice(home: string, passphrase: string): ParusJson {
  return (args) => runCli(home, args, { passphrase, timeout: 120_000 });
}

/**
 * 連結到現有帳號 on a fresh page, answered by the CLI account in `home` (`parus device link
 * LINK --yes`): the browser makes its offer, both show the short code, the browser confirms it
 * and opens the account. `shots` is called at the form, the offer and the code (screenshots).
 * Returns the code the browser showed and the CLI's last JSON line.
 */
export async function linkBrowserToCli(
  page: Page,
  opts: {
    relay: string;
    home: string;
    passphrase: string;
    name: string;
    history?: string;
    shots?: (step: 'form' | 'offer' | 'code') => Promise<void>;
  },
): Promise<{ code: string; link: string; result: Record<string, unknown> }> {
  await page.getByRole('button', { name: '連結到現有帳號' }).click();
  await page.getByRole('heading', { name: '連結到現有帳號' }).waitFor({ timeout: 60_000 });
  await page.waitForFunction(
    (want) => (document.getElementById('link-relay') as HTMLInputElement | null)?.value === want,
    opts.relay,
    WAIT,
  );
  await page.getByLabel('這個裝置的名稱').fill(opts.name);
  await page.getByLabel('帳號密碼').fill(opts.passphrase);
  await opts.shots?.('form');
  await page.getByRole('button', { name: '產生連結' }).click();
  await page.waitForFunction(
    () =>
      (document.getElementById('my-device-link') as HTMLTextAreaElement | null)?.value.startsWith('parus:'),
    undefined,
    { timeout: 60_000 },
  );
  const link = await page.getByRole('textbox', { name: '這個裝置的連結' }).inputValue();
  await opts.shots?.('offer');
  const answer = spawnCli(
    opts.home,
    ['device', 'link', link, '--history', opts.history ?? 'all', '--yes'],
    opts.passphrase,
  );
  const digits = page.locator('.code-digits');
  await digits.waitFor({ timeout: 60_000 });
  const code = (await digits.innerText()).trim();
  await opts.shots?.('code');
  await page.getByRole('button', { name: '相同，繼續' }).click();
  await page.getByRole('button', { name: '加入好友' }).first().waitFor({ timeout: 60_000 });
  const exit = await answer.done;
  if (exit !== 0) throw new Error(`parus device link ended with ${exit}: ${answer.lines.join('\n')}`);
  return {
    code,
    link,
    result: JSON.parse(answer.lines[answer.lines.length - 1]!) as Record<string, unknown>,
  };
}

/**
 * 阿美 in the browser PAGE and Bob on the CLI (CLI, bound to Bob's home) make their accounts on
 * RELAY at once, and Bob accepts 阿美's invitation link as `amei`; resolves once Bob is in her
 * chat list, with the link and the CLI's answer to `accept`.
 */
export async function browserMeetsCli(
  page: Page,
  cli: ParusJson,
  relay: string,
): Promise<{ link: string; accepted: Record<string, unknown> }> {
  await Promise.all([
    createAccount(page, '阿美', 'web passphrase 8642', relay),
    cli(['init', '--name', 'Bob', '--relay', relay]),
  ]);
  await page.getByRole('button', { name: '加入好友' }).first().click();
  const link = await page.getByLabel('我的邀請連結').inputValue({ timeout: WAIT.timeout });
  await page.keyboard.press('Escape');
  const accepted = await cli(['accept', link, '--alias', 'amei']);
  await chatList(page).getByRole('button', { name: /Bob/ }).first().waitFor(WAIT);
  return { link, accepted };
}

/** A JPEG of WIDTH × HEIGHT: red and green gradients over a constant blue. */
export function testPhoto(width: number, height: number, blue = 120): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    data[i * 4] = ((i % width) * 255) / width;
    data[i * 4 + 1] = (Math.floor(i / width) * 255) / height;
    data[i * 4 + 2] = blue;
    data[i * 4 + 3] = 255;
  }
  return Buffer.from(jpeg.encode({ width, height, data }, 85).data);
}
