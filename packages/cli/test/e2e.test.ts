// End to end: the real `parus` binary for two accounts and a real relay process, over real
// WebSockets on loopback. Messages must arrive exactly once and in order — across offline
// periods and a relay killed with SIGKILL — and the relay's files must hold no plaintext.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { SqliteStore } from '@parus/client/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARGON2ID_INTERACTIVE, ARGON2ID_MODERATE, decodeCbor } from '@parus/core';

const BIN = resolve(import.meta.dirname, '../bin/parus.js');
const root = mkdtempSync(join(tmpdir(), 'parus-e2e-'));
const relayData = join(root, 'relay');
const homes = { alice: join(root, 'alice'), bob: join(root, 'bob') };
const passphrases = { alice: 'alice: 一二三四五六', bob: 'bob passphrase 7' };
let relay: ChildProcess | undefined;
let relayPort = 0;
let relayAddress = '';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function parus(
  who: 'alice' | 'bob',
  args: string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<Run> {
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      {
        env: {
          ...process.env,
          PARUS_HOME: homes[who],
          PARUS_PASSPHRASE: passphrases[who],
          PARUS_INSECURE_TEST_KDF: '1', // the light Argon2id profile: tests only (decision 0027)
          ...env,
        },
        timeout: 90_000,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

async function json(who: 'alice' | 'bob', args: string[]): Promise<Record<string, unknown>> {
  const r = await parus(who, [...args, '--json']);
  if (r.code !== 0) throw new Error(`parus ${args.join(' ')} failed (${r.code}): ${r.stdout} ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

async function readTexts(who: 'alice' | 'bob'): Promise<string[]> {
  const r = await json(who, ['read']);
  return (r.messages as Array<{ text: string }>).map((m) => m.text);
}

function startRelay(port: number): Promise<void> {
  return new Promise((ready, fail) => {
    const child = spawn(
      process.execPath,
      [BIN, 'relay', '--port', String(port), '--data', relayData, '--json'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    relay = child;
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      const info = JSON.parse(line) as { address: string; port: number };
      relayPort = info.port;
      relayAddress = info.address;
      ready();
    });
    child.once('exit', (code) => fail(new Error(`relay exited early with ${code}`)));
  });
}

function killRelay(): Promise<void> {
  return new Promise((done) => {
    if (!relay || relay.exitCode !== null) return done();
    relay.once('exit', () => done());
    relay.kill('SIGKILL');
  });
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

const sent: string[] = [];
const marker = (label: string): string => {
  const text = `${label} 測試訊息 marker-${label}-${Math.random().toString(36).slice(2, 10)}`;
  sent.push(text);
  return text;
};

beforeAll(async () => {
  await startRelay(0);
}, 60_000);

afterAll(async () => {
  await killRelay();
  rmSync(root, { recursive: true, force: true });
});

describe('parus end to end', () => {
  it('creates two accounts and connects them with a rendez-vous card', async () => {
    expect(relayAddress).toMatch(/^parus:\/\/[A-Za-z0-9_-]{43}@127\.0\.0\.1:\d+$/);
    await json('alice', ['init', '--name', 'Alice', '--relay', relayAddress]);
    await json('bob', ['init', '--name', 'Bob', '--relay', relayAddress]);
    const invite = await json('alice', ['invite']);
    expect(String(invite.link)).toMatch(/^parus:/);
    const accepted = await json('bob', ['accept', String(invite.link), '--alias', 'alice']);
    expect((accepted.contact as { alias: string }).alias).toBe('alice');
    const aliceRead = await json('alice', ['read']);
    expect((aliceRead.contacts as Array<{ alias: string }>).map((c) => c.alias)).toEqual(['Bob']);
    await json('bob', ['read']); // takes Alice's answer: the contact becomes active
    const bobContacts = await json('bob', ['contacts']);
    expect(bobContacts.contacts).toMatchObject([{ alias: 'alice', status: 'active', state: 'unvalidated' }]);
  }, 180_000);

  it('shows the same safety number on both sides and records verification', async () => {
    const a = await json('alice', ['verify', 'Bob']);
    const b = await json('bob', ['verify', 'alice', '--confirm']);
    expect(a.digits).toMatch(/^\d{60}$/);
    expect(a.digits).toBe(b.digits);
    expect(b.state).toBe('validated');
    const again = await json('bob', ['contacts']);
    expect(again.contacts).toMatchObject([{ alias: 'alice', state: 'validated' }]);
  }, 60_000);

  it('delivers messages both ways, exactly once, and a second read prints nothing again', async () => {
    const m1 = marker('b1');
    await json('bob', ['send', 'alice', m1]);
    expect(await readTexts('alice')).toEqual([m1]);
    expect(await readTexts('alice')).toEqual([]);
    const r1 = marker('a1');
    await json('alice', ['send', 'Bob', r1]);
    expect(await readTexts('bob')).toEqual([r1]);
  }, 120_000);

  it('delivers what was sent while the recipient was offline, in order', async () => {
    const batch = [marker('b2'), marker('b3'), marker('b4')];
    for (const t of batch) await json('bob', ['send', 'alice', t]);
    expect(await readTexts('alice')).toEqual(batch);
  }, 120_000);

  it('loses nothing when the relay is killed with SIGKILL between send and read', async () => {
    const batch = [marker('b5'), marker('b6')];
    for (const t of batch) await json('bob', ['send', 'alice', t]);
    await killRelay();
    await startRelay(relayPort);
    expect(await readTexts('alice')).toEqual(batch);
  }, 120_000);

  it('keeps a message sent while the relay is down in the outbox and delivers it later', async () => {
    await killRelay();
    const down = marker('b7');
    const r = await json('bob', ['send', 'alice', down]);
    expect((r.message as { status: string }).status).toBe('pending');
    await startRelay(relayPort);
    const after = marker('b8');
    await json('bob', ['send', 'alice', after]);
    expect(await readTexts('alice')).toEqual([down, after]);
  }, 120_000);

  it('has the whole conversation once, in causal order, with delivery receipts', async () => {
    await json('bob', ['read']); // collects Alice's receipts
    const alice = await json('alice', ['history', 'Bob']);
    const texts = (alice.messages as Array<{ text: string }>).map((m) => m.text);
    expect(texts).toEqual(sent);
    const bob = await json('bob', ['history', 'alice']);
    const bobMessages = bob.messages as Array<{ text: string; dir: string; status: string }>;
    expect(bobMessages.map((m) => m.text)).toEqual(sent);
    for (const m of bobMessages.filter((x) => x.dir === 'out')) expect(m.status).toBe('delivered');
  }, 120_000);

  it('keeps no plaintext in the relay files nor in the account files', () => {
    const files = [...filesUnder(relayData), ...filesUnder(homes.alice), ...filesUnder(homes.bob)];
    expect(files.length).toBeGreaterThan(2);
    for (const f of files) {
      const bytes = readFileSync(f);
      for (const text of sent) {
        expect(bytes.includes(Buffer.from(text))).toBe(false);
        expect(bytes.includes(Buffer.from(text.split(' ').pop()!))).toBe(false);
      }
      expect(bytes.includes(Buffer.from('測試訊息'))).toBe(false);
    }
  });

  it("keeps the account folders and the relay data the owner's alone: folders 0700, files 0600", () => {
    for (const dir of [homes.alice, homes.bob, relayData]) {
      const folders = [dir];
      for (const f of filesUnder(dir)) {
        expect([f, statSync(f).mode & 0o777]).toEqual([f, 0o600]);
        folders.push(dirname(f));
      }
      for (const d of new Set(folders)) expect([d, statSync(d).mode & 0o777]).toEqual([d, 0o700]);
    }
    expect(filesUnder(homes.alice).map((f) => f.slice(homes.alice.length))).toContain('/account.db');
  });

  it('a wrong passphrase gets a clear error and reveals nothing', async () => {
    const r = await parus('alice', ['history', 'Bob'], { PARUS_PASSPHRASE: 'not the passphrase' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('AuthError');
    expect(r.stdout).toBe('');
    for (const text of sent) expect(r.stderr.includes(text)).toBe(false);
    const ok = await json('alice', ['contacts']);
    expect(ok.contacts).toHaveLength(1);
  }, 60_000);
  it('sends a file: read saves an identical copy in the files folder, and the relay keeps no plaintext', async () => {
    // Distinctive plaintext, larger than one chunk, with a name that tries to leave the folder.
    const line = Buffer.from('parus file plaintext 檔案內容 FILE-MARKER-7f3a\n');
    const contents = Buffer.concat(Array.from({ length: 3000 }, () => line));
    const path = join(root, '..%2f報告.txt');
    writeFileSync(path, contents);
    const sentFile = await json('alice', ['send-file', 'Bob', path, '--name', '../../報告.txt']);
    expect(sentFile.message).toMatchObject({
      kind: 'file',
      file: { name: '../../報告.txt', size: contents.length },
    });
    const read = await json('bob', ['read']);
    const [m] = read.messages as Array<{ kind: string; saved: string; file: { name: string } }>;
    expect(m).toMatchObject({ kind: 'file', file: { name: '../../報告.txt' } });
    const folder = join(homes.bob, 'files', 'alice');
    expect(dirname(m!.saved)).toBe(folder);
    expect(readFileSync(m!.saved).equals(contents)).toBe(true);

    // The same file again is saved beside it, never over it.
    await json('alice', ['send-file', 'Bob', path, '--name', '../../報告.txt']);
    const again = await json('bob', ['read']);
    const second = (again.messages as Array<{ saved: string }>)[0]!.saved;
    expect(second).not.toBe(m!.saved);
    expect(dirname(second)).toBe(folder);
    expect(readFileSync(m!.saved).equals(contents)).toBe(true);
    // Saving a received file again, by the id prefix history shows.
    const id = (again.messages as Array<{ id: string }>)[0]!.id;
    const third = await json('bob', ['download', 'alice', id.slice(0, 12)]);
    expect(dirname(String(third.saved))).toBe(folder);
    expect(readFileSync(String(third.saved)).equals(contents)).toBe(true);
    expect(readdirSync(folder)).toHaveLength(3);

    for (const f of filesUnder(relayData)) {
      const bytes = readFileSync(f);
      expect(bytes.includes(Buffer.from('FILE-MARKER-7f3a'))).toBe(false);
      expect(bytes.includes(Buffer.from('檔案內容'))).toBe(false);
    }
    for (const f of [...filesUnder(homes.alice), ...filesUnder(homes.bob)].filter(
      (f) => !f.startsWith(folder),
    ))
      expect(readFileSync(f).includes(Buffer.from('FILE-MARKER-7f3a'))).toBe(false);
  }, 180_000);

  it('read leaves a file over the automatic download limit for parus download, which streams it', async () => {
    const contents = Buffer.from(randomBytes(300_000));
    const path = join(root, 'large.bin');
    writeFileSync(path, contents);
    await json('alice', ['send-file', 'Bob', path]);
    const limited = await parus('bob', ['read', '--auto-download', '0.25']); // 256 KB
    expect(limited.code).toBe(0);
    expect(limited.stdout).toContain('not downloaded: 293.0 KB is over the automatic limit of 256.0 KB');
    const id = /parus download alice ([0-9a-f]{12})/.exec(limited.stdout)?.[1];
    expect(id).toBeDefined();
    const folder = join(homes.bob, 'files', 'alice');
    expect(readdirSync(folder).filter((n) => n.startsWith('large'))).toEqual([]);
    const saved = await json('bob', ['download', 'alice', id!]);
    expect(String(saved.saved)).toBe(join(folder, 'large.bin'));
    expect(readFileSync(String(saved.saved)).equals(contents)).toBe(true);
    expect(statSync(String(saved.saved)).mode & 0o777).toBe(0o600);
    expect(readdirSync(folder).some((n) => n.endsWith('.part'))).toBe(false);
    // The setting from the environment too; the same file under the limit is saved by read.
    await json('alice', ['send-file', 'Bob', path]);
    const env = await parus('bob', ['read', '--json'], { PARUS_AUTO_DOWNLOAD_MB: '1' });
    const [m] = (JSON.parse(env.stdout.trim().split('\n').pop()!) as { messages: Array<{ saved: string }> })
      .messages;
    expect(readFileSync(m!.saved).equals(contents)).toBe(true);
  }, 180_000);

  it('sends stickers and actions, and unsends a message on both sides', async () => {
    await json('alice', ['send', 'Bob', '--sticker', 'thanks']);
    await json('alice', ['send', 'Bob', '--me', 'waves']);
    const oops = await json('alice', ['send', 'Bob', 'oops wrong chat 不該傳的']);
    const got = (await json('bob', ['read'])).messages as Array<Record<string, unknown>>;
    expect(got.map((m) => [m.kind, m.sticker ?? null, m.action ?? false, m.text])).toEqual([
      ['sticker', { pack: 'parus', id: 'thanks' }, false, ''],
      ['text', null, true, 'waves'],
      ['text', null, false, 'oops wrong chat 不該傳的'],
    ]);
    const id = (oops.message as { id: string }).id;
    const refused = await parus('bob', ['unsend', 'alice', id, '--json']);
    expect(refused.code).toBe(2);
    await json('alice', ['unsend', 'Bob', id.slice(0, 12)]);
    await json('bob', ['read']);
    for (const [who, alias] of [
      ['alice', 'Bob'],
      ['bob', 'alice'],
    ] as const) {
      const h = (await json(who, ['history', alias])).messages as Array<{
        id: string;
        text: string;
        unsent?: boolean;
      }>;
      expect(h.find((m) => m.id === id)).toMatchObject({ text: '', unsent: true });
    }
    const human = await parus('bob', ['history', 'alice']);
    expect(human.stdout).toContain('[sticker parus/thanks]');
    expect(human.stdout).toContain('* alice waves');
    expect(human.stdout).toContain('[file ../../報告.txt');
    expect(human.stdout).toContain('已收回');
    expect(human.stdout).not.toContain('不該傳的');
  }, 180_000);

  it('parus chat sends every line piped into it, even lines that arrive while it connects', async () => {
    const chat = await parus(
      'alice',
      ['chat', 'Bob'],
      {},
      '第一行 from chat\n/me nods\n/bogus\n/retry\nlast line\n',
    );
    expect(chat.code).toBe(0);
    expect(chat.stdout).toContain('unknown command /bogus');
    // Connected: /retry has nothing to cut short (and is not sent as a message).
    expect(chat.stdout).toContain('(not waiting to reconnect)');
    const got = (await json('bob', ['read'])).messages as Array<{ text: string; action?: boolean }>;
    expect(got.map((m) => [m.text, m.action ?? false])).toEqual([
      ['第一行 from chat', false],
      ['nods', true],
      ['last line', false],
    ]);
  }, 120_000);
});

// Alice on relay A and Dave on relay B: every command touches both relays (its own queues on
// one, the contact's on the other). Each one must exit, with code 0, once its work is done.
describe('parus end to end across two relays', () => {
  const relays: ChildProcess[] = [];
  const addresses: string[] = [];
  const twoHomes = { alice: join(root, 'two-alice'), dave: join(root, 'two-dave') };

  beforeAll(async () => {
    for (const name of ['relay-a', 'relay-b']) {
      addresses.push(
        await new Promise<string>((ready, fail) => {
          const child = spawn(
            process.execPath,
            [BIN, 'relay', '--port', '0', '--data', join(root, name), '--json'],
            {
              stdio: ['ignore', 'pipe', 'pipe'],
            },
          );
          relays.push(child);
          createInterface({ input: child.stdout! }).once('line', (line) =>
            ready((JSON.parse(line) as { address: string }).address),
          );
          child.once('exit', (code) => fail(new Error(`relay exited early with ${code}`)));
        }),
      );
    }
  }, 60_000);

  afterAll(async () => {
    for (const child of relays) {
      if (child.exitCode !== null) continue;
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
    }
  });

  /** Runs `parus … --json` and waits (generously) for it to exit on its own. */
  function run(
    who: 'alice' | 'dave',
    args: string[],
  ): Promise<{ exited: boolean; code: number | null; out: string }> {
    return new Promise((done) => {
      execFile(
        process.execPath,
        [BIN, ...args, '--json'],
        {
          env: {
            ...process.env,
            PARUS_HOME: twoHomes[who],
            PARUS_PASSPHRASE: `${who} passphrase 42`,
            PARUS_INSECURE_TEST_KDF: '1',
          },
          timeout: 150_000,
        },
        (error, stdout) => {
          // Killed by the timeout: it never exited by itself.
          if (error?.killed) return done({ exited: false, code: null, out: stdout });
          done({
            exited: true,
            code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
            out: stdout,
          });
        },
      );
    });
  }

  async function ok(who: 'alice' | 'dave', args: string[]): Promise<Record<string, unknown>> {
    const r = await run(who, args);
    expect({ command: args[0], exited: r.exited, code: r.code }).toEqual({
      command: args[0],
      exited: true,
      code: 0,
    });
    return JSON.parse(r.out.trim().split('\n').pop()!) as Record<string, unknown>;
  }

  const texts = (r: Record<string, unknown>): string[] =>
    (r.messages as Array<{ text: string }>).map((m) => m.text);

  it('send and read exit once their work is done, and messages go both ways', async () => {
    const [relayA, relayB] = addresses as [string, string];
    await ok('alice', ['init', '--name', 'Alice', '--relay', relayA]);
    await ok('dave', ['init', '--name', 'Dave', '--relay', relayB]);
    const invite = await ok('alice', ['invite']);
    await ok('dave', ['accept', String(invite.link), '--alias', 'alice']);
    expect((await ok('alice', ['read'])).contacts).toMatchObject([{ alias: 'Dave' }]);
    await ok('dave', ['read']);
    for (let round = 0; round < 3; round++) {
      const [fromAlice, fromDave] = [`alice to dave ${round}`, `dave to alice ${round}`];
      await Promise.all([ok('alice', ['send', 'Dave', fromAlice]), ok('dave', ['send', 'alice', fromDave])]);
      const [aliceRead, daveRead] = await Promise.all([ok('alice', ['read']), ok('dave', ['read'])]);
      expect(texts(aliceRead)).toEqual([fromDave]);
      expect(texts(daveRead)).toEqual([fromAlice]);
    }
  }, 900_000);
});

// The passphrase's Argon2id profile (decision 0027): real accounts get the moderate one, and
// an account made with the light test profile is raised to it when opened without the switch.
describe('parus account passphrase profile', () => {
  const home = join(root, 'profile');

  function run(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
    return new Promise((done) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        {
          env: { ...process.env, PARUS_HOME: home, PARUS_PASSPHRASE: 'profile passphrase 9', ...env },
          timeout: 150_000,
        },
        (error, _stdout, stderr) =>
          done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr }),
      );
    });
  }

  /** The profile stored beside the data (the one record that is not sealed). */
  async function storedProfile(): Promise<{ ops: number; mem: number }> {
    const db = new SqliteStore(join(home, 'account.db'));
    try {
      const m = decodeCbor((await db.get('_meta', 'kdf'))!) as { ops: number; mem: number };
      return { ops: m.ops, mem: m.mem };
    } finally {
      await db.close();
    }
  }

  it('a test account (light profile) is raised to the moderate profile when opened without the switch', async () => {
    const made = await run(['init', '--name', 'Pat', '--relay', relayAddress], {
      PARUS_INSECURE_TEST_KDF: '1',
    });
    expect(made.code).toBe(0);
    expect(made.stderr).toContain('PARUS_INSECURE_TEST_KDF');
    expect(await storedProfile()).toEqual({
      ops: ARGON2ID_INTERACTIVE.opsLimit,
      mem: ARGON2ID_INTERACTIVE.memLimit,
    });
    expect((await run(['contacts'], {})).code).toBe(0);
    expect(await storedProfile()).toEqual({
      ops: ARGON2ID_MODERATE.opsLimit,
      mem: ARGON2ID_MODERATE.memLimit,
    });
    // Still opens, with the switch too (never lowered), and a wrong passphrase changes nothing.
    expect((await run(['contacts'], { PARUS_INSECURE_TEST_KDF: '1' })).code).toBe(0);
    const wrong = await run(['contacts'], { PARUS_PASSPHRASE: 'not the passphrase' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('AuthError');
    expect(await storedProfile()).toEqual({
      ops: ARGON2ID_MODERATE.opsLimit,
      mem: ARGON2ID_MODERATE.memLimit,
    });
  }, 300_000);

  it('a real account is created with the moderate profile', async () => {
    rmSync(home, { recursive: true, force: true });
    const made = await run(['init', '--name', 'Pat', '--relay', relayAddress], {});
    expect(made.code).toBe(0);
    expect(made.stderr).not.toContain('PARUS_INSECURE_TEST_KDF');
    expect(await storedProfile()).toEqual({
      ops: ARGON2ID_MODERATE.opsLimit,
      mem: ARGON2ID_MODERATE.memLimit,
    });
  }, 300_000);
});
