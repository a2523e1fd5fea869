/**
 * A Redis server of the test's own: Debian's redis-server on a free loopback port, no
 * persistence, in a temporary folder; never the system service. `redisAvailable` is false when
 * the binary is absent (tests then skip with a message; .ci/run installs it).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './free-port.ts';

export const REDIS_SERVER_BIN = '/usr/bin/redis-server';
export const redisAvailable = existsSync(REDIS_SERVER_BIN);
export const REDIS_MISSING = `redis-server is not installed (${REDIS_SERVER_BIN}); .ci/run installs Debian's redis-server`;

export interface RedisServer {
  port: number;
  /** redis://127.0.0.1:PORT */
  url: string;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
}

export async function startRedisServer(): Promise<RedisServer> {
  if (!redisAvailable) throw new Error(REDIS_MISSING);
  const dir = mkdtempSync(join(tmpdir(), 'parus-redis-'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    REDIS_SERVER_BIN,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  try {
    await waitForPort(port, 30_000, () => !exited);
  } catch (error) {
    child.kill('SIGKILL');
    await exit;
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
