// Shared by the CLI end-to-end tests of groups and rooms: a real relay process on port 0 and
// the real `parus` binary run for three accounts, each with its own home folder. Call
// `cliWorld` at the top level of a test file: it registers the vitest hooks.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll } from 'vitest';
import { befriend, type ParusJson } from './friends.ts';

const BIN = resolve(import.meta.dirname, '../../bin/parus.js');

export type Who = 'alice' | 'bob' | 'carol';
export const people: Who[] = ['alice', 'bob', 'carol'];

export interface Msg {
  text: string;
  group?: string;
  from?: string;
}

export interface CliWorld {
  relayAddress(): string;
  /** Runs `parus ARGS` as `who` (the English locale unless `env` sets another). */
  parus(
    who: Who,
    args: string[],
    env?: NodeJS.ProcessEnv,
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  /** The account folder of `who` (PARUS_HOME). */
  home(who: Who): string;
  /** Runs `parus` with `input` on its standard input (not a terminal: line by line, then EOF). */
  parusWithInput(who: Who, args: string[], input: string): Promise<{ code: number; stdout: string }>;
  /** Runs `parus … --json`, fails on a non-zero exit, and parses the last line it printed. */
  json(who: Who, args: string[]): Promise<Record<string, unknown>>;
  readAll(who: Who): Promise<Msg[]>;
  /** `json` bound to one device of `who`: the default home, or `home` (a second device). */
  device(who: Who, home?: string): ParusJson;
  /** `inviter` invites `invitee`, who calls them `inviter`; both read until the device sets are in. */
  befriend(inviter: Who, invitee: Who): Promise<{ link: string }>;
  /**
   * Runs `who`'s later commands with the wall clock moved by `offset` (libfaketime's syntax,
   * "+3h"; undefined: the real clock again). Needs Debian's faketime package (.ci/run installs it).
   */
  setClock(who: Who, offset: string | undefined): void;
}

/** Debian's libfaketime, which moves the wall clock of the processes it is preloaded into. */
function libfaketime(): string {
  for (const dir of readdirSync('/usr/lib', { withFileTypes: true })) {
    const lib = join('/usr/lib', dir.name, 'faketime', 'libfaketime.so.1');
    if (dir.isDirectory() && existsSync(lib)) return lib;
  }
  throw new Error('libfaketime not found: install Debian’s faketime package (apt-get install -y faketime)');
}

export function cliWorld(name: string): CliWorld {
  const root = mkdtempSync(join(tmpdir(), `parus-${name}-`));
  const relayData = join(root, 'relay');
  let relay: ChildProcess | undefined;
  let address = '';
  const clocks = new Map<Who, string>();
  const env = (who: Who): NodeJS.ProcessEnv => {
    const offset = clocks.get(who);
    return {
      ...process.env,
      PARUS_HOME: join(root, who),
      PARUS_PASSPHRASE: `${who} passphrase 42`,
      PARUS_INSECURE_TEST_KDF: '1', // the light Argon2id profile: tests only (decision 0027)
      // Messages in English whatever the machine's locale (the CLI speaks zh-TW under zh_TW).
      LANG: 'C.UTF-8',
      LC_ALL: '',
      LC_MESSAGES: '',
      // Only the wall clock moves: timers and timeouts keep the monotonic one.
      ...(offset ? { LD_PRELOAD: libfaketime(), FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' } : {}),
    };
  };

  beforeAll(async () => {
    await new Promise<void>((ready, fail) => {
      const child = spawn(process.execPath, [BIN, 'relay', '--port', '0', '--data', relayData, '--json'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      relay = child;
      createInterface({ input: child.stdout! }).once('line', (line) => {
        address = (JSON.parse(line) as { address: string }).address;
        ready();
      });
      child.once('exit', (code) => fail(new Error(`relay exited early with ${code}`)));
    });
  }, 60_000);

  afterAll(async () => {
    if (relay && relay.exitCode === null) {
      const exited = new Promise((done) => relay!.once('exit', done));
      relay.kill('SIGTERM');
      await exited;
    }
    rmSync(root, { recursive: true, force: true });
  });

  const world: CliWorld = {
    relayAddress: () => address,
    home: (who) => join(root, who),
    parus(who, args, extra = {}) {
      return new Promise((done) => {
        execFile(
          process.execPath,
          [BIN, ...args],
          { env: { ...env(who), ...extra }, timeout: 90_000 },
          (error, stdout, stderr) => {
            done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
          },
        );
      });
    },
    parusWithInput(who, args, input) {
      return new Promise((done) => {
        const child = spawn(process.execPath, [BIN, ...args], {
          env: env(who),
          stdio: ['pipe', 'pipe', 'inherit'],
          timeout: 90_000,
        });
        let stdout = '';
        child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
        child.once('exit', (code) => done({ code: code ?? 1, stdout }));
        child.stdin!.end(input);
      });
    },
    async json(who, args) {
      const r = await world.parus(who, [...args, '--json']);
      if (r.code !== 0)
        throw new Error(`parus ${args.join(' ')} failed (${r.code}): ${r.stdout} ${r.stderr}`);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    },
    async readAll(who) {
      return (await world.json(who, ['read'])).messages as Msg[];
    },
    device(who, home) {
      return (args) => world.json(who, home === undefined ? args : [...args, '--home', home]);
    },
    befriend(inviter, invitee) {
      return befriend(world.device(inviter), world.device(invitee), { alias: inviter });
    },
    setClock(who, offset) {
      if (offset === undefined) clocks.delete(who);
      else clocks.set(who, offset);
    },
  };
  return world;
}
