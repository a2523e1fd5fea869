/** The account folder (`--home`, PARUS_HOME, or ~/.parus) and opening the account in it. */
import { mkdirSync, existsSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Account, SealedStore } from '@parus/client';
import { SqliteStore, nodeTransport } from '@parus/client/node';
import { NotFoundError, UsageError, initCrypto, systemRandom } from '@parus/core';
import { readPassphrase } from './passphrase.ts';

export function resolveHome(flag: string | undefined): string {
  return resolve(flag ?? process.env.PARUS_HOME ?? join(homedir(), '.parus', 'account'));
}

export function accountDb(home: string): string {
  return join(home, 'account.db');
}

export async function createAccount(home: string, name: string, relay: string): Promise<Account> {
  await initCrypto();
  mkdirSync(home, { recursive: true, mode: 0o700 });
  if (existsSync(accountDb(home))) throw new UsageError(`an account already exists in ${home}`);
  const passphrase = await readPassphrase({ confirm: true });
  const store = await SealedStore.open(new SqliteStore(accountDb(home)), passphrase, {
    rng: systemRandom,
    create: true,
  });
  try {
    return await Account.create({ store, transport: nodeTransport(), name, relay });
  } catch (e) {
    // A refused name or relay leaves no half-made account behind.
    await store.close();
    rmSync(accountDb(home), { force: true });
    for (const suffix of ['-wal', '-shm']) rmSync(`${accountDb(home)}${suffix}`, { force: true });
    throw e;
  }
}

export async function openAccount(home: string): Promise<Account> {
  await initCrypto();
  if (!existsSync(accountDb(home))) throw new NotFoundError(`no account in ${home}: run 'parus init' first`);
  const passphrase = await readPassphrase();
  const raw = new SqliteStore(accountDb(home));
  let store: SealedStore;
  try {
    store = await SealedStore.open(raw, passphrase, { rng: systemRandom });
  } catch (e) {
    await raw.close();
    throw e;
  }
  return Account.open({ store, transport: nodeTransport() });
}
