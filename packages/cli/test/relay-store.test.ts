// `parus relay --store postgres://… --key-secret FILE` (decision 0047): a store that is not a
// PostgreSQL URL, or one without its key secret, is a UsageError before anything is created.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '@parus/core';
import { afterEach, describe, expect, it } from 'vitest';
import { relayCommand } from '../src/commands/relay.ts';
import { makeOutput } from '../src/output.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('parus relay --store', () => {
  it('refuses a store that is not postgres://, and one without --key-secret, creating nothing', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'parus-relay-store-'));
    dirs.push(tmp);
    const data = join(tmp, 'data');
    const run = (...args: string[]): Promise<number> =>
      relayCommand(['--port', '0', '--data', data, ...args], (json) => makeOutput(json));
    await expect(
      run('--store', 'mysql://u@127.0.0.1/db', '--key-secret', join(tmp, 's')),
    ).rejects.toBeInstanceOf(UsageError);
    await expect(run('--store', 'postgres://u@127.0.0.1:1/db')).rejects.toBeInstanceOf(UsageError);
    await expect(run('--key-secret', join(tmp, 's'))).rejects.toBeInstanceOf(UsageError);
    // A secret file that is missing is refused before the database is asked.
    await expect(
      run('--store', 'postgres://u@127.0.0.1:1/db', '--key-secret', join(tmp, 'missing')),
    ).rejects.toBeInstanceOf(UsageError);
    expect(existsSync(data)).toBe(false);
  });

  it('refuses --blobs without --store postgres:// (decision 0048), creating nothing', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'parus-relay-store-'));
    dirs.push(tmp);
    const data = join(tmp, 'data');
    const run = (...args: string[]): Promise<number> =>
      relayCommand(['--port', '0', '--data', data, ...args], (json) => makeOutput(json));
    await expect(run('--blobs', 'postgres')).rejects.toBeInstanceOf(UsageError);
    await expect(run('--blobs', join(tmp, 'shared'))).rejects.toBeInstanceOf(UsageError);
    await expect(
      run('--store', 'postgres://u@127.0.0.1:1/db', '--key-secret', join(tmp, 's'), '--blobs', ''),
    ).rejects.toBeInstanceOf(UsageError);
    expect(existsSync(data)).toBe(false);
    expect(existsSync(join(tmp, 'shared'))).toBe(false);
  });
});
