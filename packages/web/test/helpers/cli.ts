// The `parus` CLI driven from the browser tests, as packages/cli/test/e2e.test.ts drives it:
// the real bin (packages/cli/bin/parus.js) in a child process with its own home, `--json`
// output, and the test-only fast KDF. One place for what web-cli, web-devices, web-profile and
// web-group-files share, and for the test photo they send.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import jpeg from 'jpeg-js';
import { REPO } from './app.ts';

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
