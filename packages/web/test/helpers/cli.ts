/**
 * The real `parus` CLI (packages/cli/bin/parus.js) beside the browser: one-shot commands with
 * their JSON answer, and long-running ones (init --link, device link) read line by line.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Page } from 'playwright-core';
import type { ParusJson } from '../../../cli/test/support/friends.ts';
import { REPO, WAIT } from './app.ts';

const BIN = join(REPO, 'packages/cli/bin/parus.js');

function env(home: string, passphrase: string): NodeJS.ProcessEnv {
  return { ...process.env, PARUS_HOME: home, PARUS_PASSPHRASE: passphrase, PARUS_INSECURE_TEST_KDF: '1' };
}

/** Runs `parus ARGS --json` in `home`; fails on a non-zero exit; the last JSON line it printed. */
export function cli(home: string, args: string[], passphrase: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, ...args, '--json'],
      { env: env(home, passphrase), timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error)
          return reject(
            new Error(`parus ${args.join(' ')} failed (${error.code ?? error.signal}): ${stdout} ${stderr}`),
          );
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>);
      },
    );
  });
}

/** `cli` bound to one device (its home and passphrase), as the shared CLI test steps take it. */
export function cliDevice(home: string, passphrase: string): ParusJson {
  return (args) => cli(home, args, passphrase);
}

/** A long-running `parus` (init --link, device link): its JSON lines as they come, and its end. */
export function cliProcess(
  home: string,
  args: string[],
  passphrase: string,
): { lines: string[]; line: (n: number) => Promise<string>; done: Promise<number>; child: ChildProcess } {
  const child = spawn(process.execPath, [BIN, ...args, '--json'], {
    env: env(home, passphrase),
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
  const answer = cliProcess(
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
