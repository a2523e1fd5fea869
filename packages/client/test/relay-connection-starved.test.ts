// A client that keeps to the rate the relay announces is never refused or closed, even when
// the relay's event loop is blocked for seconds and then reads everything that came meanwhile
// at once (docs/decisions/0023). The relay runs in a child process whose loop the test blocks.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCrypto, systemRandom } from '@parus/core';
import { RelayConnection } from '../src/index.ts';
import { nodeTransport } from '../src/node/index.ts';

const FIXTURE = join(import.meta.dirname, 'support/starved-relay.ts');
let dir: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  await initCrypto();
  dir = mkdtempSync(join(tmpdir(), 'parus-starved-'));
});
afterAll(() => {
  child?.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** The next IPC message from the child that has `key`. */
function nextMessage<T>(proc: ChildProcess, key: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: Record<string, unknown>): void => {
      if (!(key in message)) return;
      proc.off('message', onMessage);
      proc.off('exit', onExit);
      resolve(message as T);
    };
    const onExit = (code: number | null): void => reject(new Error(`starved relay exited (${code})`));
    proc.on('message', onMessage);
    proc.once('exit', onExit);
  });
}

describe('a CPU-starved relay', () => {
  it('never refuses or closes a client that paces at the announced rate', async () => {
    // 100 frames a second, 20 at once: the client's pacer sends 90 a second.
    const limits = { framesPerSecond: 100, frameBurst: 20 };
    const proc = fork(FIXTURE, [join(dir, 'relay'), JSON.stringify(limits)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child = proc;
    const { address } = await nextMessage<{ address: string }>(proc, 'address');
    const states: string[] = [];
    const conn = new RelayConnection({
      address,
      transport: nodeTransport(),
      rng: systemRandom,
      onMessage: () => {},
      onState: (state) => states.push(state),
      requestTimeoutMs: 300_000,
    });
    try {
      await conn.start();
      // About 6 s of pings at the paced rate, while the relay is blocked three times for 2 s:
      // each time about 180 frames wait in its socket, where its burst is 20.
      const pings = Array.from({ length: 540 }, () => conn.command({ t: 'ping' }));
      for (let i = 0; i < 3; i++) {
        const blocked = nextMessage(proc, 'blocked');
        proc.send({ block: 2_000 });
        await blocked;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const results = await Promise.allSettled(pings);
      const refused = results.filter((r) => r.status === 'rejected').map((r) => (r.reason as Error).name);
      expect(refused).toEqual([]);
      expect(conn.connected).toBe(true);
      expect(states).toEqual(['connected']);
    } finally {
      conn.close();
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.send({ stop: true });
      await exited;
      child = undefined;
    }
  }, 300_000);
});
