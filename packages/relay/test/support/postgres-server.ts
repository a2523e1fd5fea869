/**
 * A PostgreSQL server of the test's own: Debian's initdb + postgres (/usr/lib/postgresql/N/bin)
 * in a temporary folder, on a free loopback port, no TCP elsewhere and no Unix socket in the
 * system folder; never the system service. As root (CI), the server runs as the `postgres`
 * user (PostgreSQL refuses root). `postgresAvailable` is false when the binaries are absent
 * (tests then skip with a message; .ci/run installs them).
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './free-port.ts';

function findBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'postgres')) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

export const POSTGRES_BIN = findBin();
export const postgresAvailable = POSTGRES_BIN !== undefined;
export const POSTGRES_MISSING =
  "PostgreSQL is not installed (/usr/lib/postgresql/*/bin); .ci/run installs Debian's postgresql";

export interface PostgresServer {
  port: number;
  /** postgres://USER@127.0.0.1:PORT/parus — the first database. */
  url: string;
  /** Creates another empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** The uid/gid the server runs as: ours, or the `postgres` user's when we are root. */
function serverUser(): { uid: number; gid: number; name: string } {
  const me = userInfo();
  if (me.uid !== 0) return { uid: me.uid, gid: me.gid, name: me.username };
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      return { uid, gid, name };
    } catch {
      // try the next one
    }
  }
  throw new Error('running as root and no unprivileged user for PostgreSQL');
}

export async function startPostgresServer(): Promise<PostgresServer> {
  if (POSTGRES_BIN === undefined) throw new Error(POSTGRES_MISSING);
  const bin = POSTGRES_BIN;
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'parus-pg-'));
  chmodSync(dir, 0o700);
  chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const asUser = { uid: user.uid, gid: user.gid };
  const dbUser = 'parus';
  execFileSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', dbUser, '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8'],
    { ...asUser, stdio: 'ignore' },
  );
  const port = await freePort();
  const child: ChildProcess = spawn(
    join(bin, 'postgres'),
    [
      '-D',
      data,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${dir}`,
      '-c',
      'max_connections=100',
      '-c',
      'shared_buffers=32MB',
    ],
    { ...asUser, stdio: 'ignore' },
  );
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (!exited) {
      // SIGINT: fast shutdown (rolls back open transactions, no long checkpoint wait).
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exit;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const psql = (sql: string): void => {
    execFileSync(
      join(bin, 'psql'),
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-U',
        dbUser,
        '-d',
        'postgres',
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        sql,
      ],
      { stdio: 'ignore' },
    );
  };
  try {
    await waitForPort(port, 60_000, () => !exited);
    // The port answers before the server accepts logins; psql retries until it does.
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        psql('CREATE DATABASE parus');
        break;
      } catch (error) {
        if (exited || Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const urlOf = (db: string): string => `postgres://${dbUser}@127.0.0.1:${port}/${db}`;
  return {
    port,
    url: urlOf('parus'),
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error('database names here are lower-case words');
      psql(`CREATE DATABASE ${name}`);
      return urlOf(name);
    },
    stop,
  };
}
