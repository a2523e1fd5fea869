/**
 * Peak memory of `parus read` (or `parus download`) saving a large received file: a relay
 * process on loopback, two accounts in temporary homes, Alice sends a file of SIZE_MB, and
 * Bob's command runs under GNU time, whose "Maximum resident set size" is the figure.
 *
 *   node --import tsx bench/download-rss.ts [SIZE_MB=60] [read|download]
 *
 * With `read`, the auto-download limit is raised above the file so that `read` fetches it.
 * Figures of 2026-12 are in docs/BENCHMARKS.md ("Downloading large files").
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const BIN = resolve(import.meta.dirname, '../packages/cli/bin/parus.js');
const sizeMb = Number(process.argv[2] ?? 60);
const mode = process.argv[3] === 'download' ? 'download' : 'read';
const root = mkdtempSync(join(tmpdir(), 'parus-download-rss-'));

function run(
  who: string,
  args: string[],
  opts: { timed?: boolean; env?: Record<string, string> } = {},
): Promise<{ stdout: string; stderr: string }> {
  const argv = opts.timed ? ['-v', process.execPath, BIN, ...args] : [BIN, ...args];
  const file = opts.timed ? '/usr/bin/time' : process.execPath;
  return new Promise((done, fail) => {
    execFile(
      file,
      argv,
      {
        env: {
          ...process.env,
          PARUS_HOME: join(root, who),
          PARUS_PASSPHRASE: `${who} passphrase`,
          ...opts.env,
        },
        maxBuffer: 1 << 24,
        timeout: 600_000,
      },
      (error, stdout, stderr) =>
        error ? fail(new Error(`${args[0]}: ${stderr}`)) : done({ stdout, stderr }),
    );
  });
}

const last = (s: string): Record<string, unknown> =>
  JSON.parse(s.trim().split('\n').pop()!) as Record<string, unknown>;

async function main(): Promise<void> {
  let relay: ChildProcess | undefined;
  try {
    const address = await new Promise<string>((ready, fail) => {
      relay = spawn(
        process.execPath,
        [BIN, 'relay', '--port', '0', '--data', join(root, 'relay'), '--json'],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      createInterface({ input: relay.stdout! }).once('line', (l) => ready(String(JSON.parse(l).address)));
      relay.once('exit', (code) => fail(new Error(`relay exited with ${code}`)));
    });
    await run('alice', ['init', '--name', 'Alice', '--relay', address, '--json']);
    await run('bob', ['init', '--name', 'Bob', '--relay', address, '--json']);
    const invite = last((await run('alice', ['invite', '--json'])).stdout);
    await run('bob', ['accept', String(invite.link), '--alias', 'alice', '--json']);
    await run('alice', ['read', '--json']);
    await run('bob', ['read', '--json']);
    const path = join(root, 'big.bin');
    writeFileSync(path, randomBytes(sizeMb * 1024 * 1024));
    await run('alice', ['send-file', 'Bob', path, '--json']);
    const limit = { PARUS_AUTO_DOWNLOAD_MB: String(mode === 'read' ? sizeMb + 1 : 0) };
    const read = await run('bob', ['read', '--json'], { timed: mode === 'read', env: limit });
    let timed = read.stderr;
    if (mode === 'download') {
      const id = String((last(read.stdout).messages as Array<{ id: string }>)[0]!.id);
      timed = (await run('bob', ['download', 'alice', id.slice(0, 12), '--json'], { timed: true })).stderr;
    }
    const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(timed)?.[1]);
    const seconds = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (.+)/.exec(timed)?.[1];
    console.log(
      `parus ${mode} of a ${sizeMb} MB file: peak RSS ${(kb / 1024).toFixed(0)} MB, wall ${seconds}`,
    );
  } finally {
    relay?.kill('SIGTERM');
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
