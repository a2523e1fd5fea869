// Failover end to end (decision 0037): the real `parus` binary and two real relay processes on
// loopback. Alice keeps queues on both relays (`init --relay A --relay B`), Bob adds a second
// relay later (`parus relay add`); with one relay killed, Bob's messages still reach Alice once.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = resolve(import.meta.dirname, '../bin/parus.js');
const root = mkdtempSync(join(tmpdir(), 'parus-failover-e2e-'));
const homes = { alice: join(root, 'alice'), bob: join(root, 'bob') };
const relays: ChildProcess[] = [];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function parus(who: 'alice' | 'bob', args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        env: {
          ...process.env,
          PARUS_HOME: homes[who],
          PARUS_PASSPHRASE: `${who} passphrase`,
          PARUS_INSECURE_TEST_KDF: '1', // the light Argon2id profile: tests only (decision 0027)
        },
        timeout: 120_000,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
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

function startRelay(name: string): Promise<{ child: ChildProcess; address: string }> {
  return new Promise((ready, fail) => {
    const child = spawn(
      process.execPath,
      [BIN, 'relay', '--port', '0', '--data', join(root, name), '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    relays.push(child);
    createInterface({ input: child.stdout! }).once('line', (line) => {
      ready({ child, address: (JSON.parse(line) as { address: string }).address });
    });
    child.once('exit', (code) => fail(new Error(`relay exited early with ${code}`)));
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGKILL');
  });
}

afterAll(async () => {
  for (const r of relays) await kill(r);
  rmSync(root, { recursive: true, force: true });
});

describe('parus with two relays', () => {
  it('keeps Alice reachable while one of her relays is killed', async () => {
    const one = await startRelay('relay-1');
    const two = await startRelay('relay-2');
    const alice = await json('alice', [
      'init',
      '--name',
      'Alice',
      '--relay',
      one.address,
      '--relay',
      two.address,
    ]);
    expect(alice).toMatchObject({ relay: one.address, relay2: two.address });
    const bob = await json('bob', ['init', '--name', 'Bob', '--relay', two.address]);
    expect(bob).toMatchObject({ relay: two.address, relay2: null });
    const three = await parus('bob', [
      'init',
      '--name',
      'Bob',
      '--relay',
      'a',
      '--relay',
      'b',
      '--relay',
      'c',
    ]);
    expect(three.code).not.toBe(0);

    const invite = await json('alice', ['invite']);
    await json('bob', ['accept', String(invite.link), '--alias', 'alice']);
    await json('alice', ['read']);
    await json('bob', ['read']);

    // Bob adds relay 1 as his second relay: Alice is told in their session.
    const added = await json('bob', ['relay', 'add', one.address]);
    expect(added).toMatchObject({ relay: two.address, relay2: one.address, told: 1 });
    expect(await json('bob', ['relay', 'add', one.address])).toMatchObject({ told: 0 });
    const another = await parus('bob', ['relay', 'add', one.address.replace(/:\d+$/, ':1')]);
    expect(another.code).not.toBe(0);
    await json('alice', ['read']);

    await kill(one.child);
    await json('bob', ['send', 'alice', 'while relay 1 is down']);
    expect(await readTexts('alice')).toEqual(['while relay 1 is down']);
    expect(await readTexts('alice')).toEqual([]);
    await json('alice', ['send', 'Bob', 'got it']);
    expect(await readTexts('bob')).toEqual(['got it']);
  }, 300_000);
});
