/** The account folder (`--home`, PARUS_HOME, or ~/.parus) and opening the account in it. */
import { chmodSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Account, SealedStore } from '@parus/client';
import { SqliteStore, nodeTransport } from '@parus/client/node';
import {
  ARGON2ID_INTERACTIVE,
  ARGON2ID_MODERATE,
  NotFoundError,
  ParusError,
  UsageError,
  initCrypto,
  systemRandom,
  type Argon2idCost,
} from '@parus/core';
import { fault, t } from './i18n.ts';
import { readNewPassphrase, readPassphrase } from './passphrase.ts';

export function resolveHome(flag: string | undefined): string {
  return resolve(flag ?? process.env.PARUS_HOME ?? join(homedir(), '.parus', 'account'));
}

export function accountDb(home: string): string {
  return join(home, 'account.db');
}

/** Set to 1 by the test suites only: accounts then use the light Argon2id profile (decision 0027). */
export const INSECURE_TEST_KDF = 'PARUS_INSECURE_TEST_KDF';

/**
 * The Argon2id profile an account is created with and raised to when opened: the moderate one
 * (3 passes, 256 MiB), or the light one when PARUS_INSECURE_TEST_KDF=1, which the test suites
 * set because they run hundreds of commands. Never set it for a real account: an account
 * created with it is raised to the moderate profile the first time it is opened without it.
 */
export function kdfProfile(): Argon2idCost {
  return process.env[INSECURE_TEST_KDF] === '1' ? ARGON2ID_INTERACTIVE : ARGON2ID_MODERATE;
}

/** The account folder is the owner's alone (0700); its files are made 0600 by SqliteStore. */
function makePrivate(home: string): void {
  if ((statSync(home).mode & 0o777) !== 0o700) chmodSync(home, 0o700);
}

export async function createAccount(
  home: string,
  name: string,
  relay: string,
  given?: string,
  relay2?: string,
): Promise<Account> {
  await initCrypto();
  mkdirSync(home, { recursive: true, mode: 0o700 });
  makePrivate(home);
  if (existsSync(accountDb(home))) throw fault(UsageError, 'home.exists', { home });
  const passphrase = given ?? (await readPassphrase({ confirm: true }));
  const cost = kdfProfile();
  if (cost !== ARGON2ID_MODERATE) process.stderr.write(`${t('home.testKdf', { name: INSECURE_TEST_KDF })}\n`);
  const store = await SealedStore.open(new SqliteStore(accountDb(home)), passphrase, {
    rng: systemRandom,
    create: true,
    cost,
  });
  try {
    return await Account.create({
      store,
      transport: nodeTransport(),
      name,
      relay,
      ...(relay2 === undefined ? {} : { relay2 }),
    });
  } catch (e) {
    // A refused name or relay leaves no half-made account behind.
    await store.close();
    removeAccountFiles(home);
    throw e;
  }
}

/** Removes a half-made account (a refused name, a restore that failed). */
export function removeAccountFiles(home: string): void {
  rmSync(accountDb(home), { force: true });
  for (const suffix of ['-wal', '-shm']) rmSync(`${accountDb(home)}${suffix}`, { force: true });
}

export async function openAccount(home: string): Promise<Account> {
  return (await openAccountWithPassphrase(home)).account;
}

/** Opens the account and keeps the passphrase it was opened with, for operations that need it again (devices). */
export async function openAccountWithPassphrase(
  home: string,
): Promise<{ account: Account; passphrase: string }> {
  await initCrypto();
  if (!existsSync(accountDb(home))) throw fault(NotFoundError, 'home.noAccount', { home });
  makePrivate(home);
  const passphrase = await readPassphrase();
  const raw = new SqliteStore(accountDb(home));
  let store: SealedStore;
  try {
    store = await SealedStore.open(raw, passphrase, { rng: systemRandom, cost: kdfProfile() });
  } catch (e) {
    await raw.close();
    throw e;
  }
  const account = await Account.open({ store, transport: nodeTransport() });
  // What waits for the passphrase (decision 0061): sealed secrets still under an account key
  // changed on another device, ops of mine that lost a fork. Nothing to do costs no Argon2id.
  await account.settleDevices([passphrase]).catch((e: unknown) => {
    if (!(e instanceof ParusError)) throw e;
  });
  return { account, passphrase };
}

/**
 * `parus passphrase` (decision 0061): users know one passphrase, so the account passphrase (the
 * device log's `passphrase` op, Account.changeAccountPassphrase) and the passphrase that opens
 * this device's store change together. The old one opens the store first (AuthError, nothing
 * changed). When the account passphrase was already changed on another device, the new one must
 * be it: this device catches up ('device') and only its store passphrase changes.
 */
export async function changePassphrase(home: string, deviceName: string): Promise<'account' | 'device'> {
  await initCrypto();
  if (!existsSync(accountDb(home))) throw new NotFoundError(t('home.noAccount', { home }));
  const { account, passphrase: old } = await openAccountWithPassphrase(home);
  let scope: 'account' | 'device';
  let next: string;
  try {
    next = await readNewPassphrase();
    await account.devices.ensureLog({ passphrase: old, cost: kdfProfile(), name: deviceName });
    scope = await account.changeAccountPassphrase(old, next, { cost: kdfProfile() });
  } finally {
    await account.close();
  }
  const raw = new SqliteStore(accountDb(home));
  try {
    await SealedStore.changePassphrase(raw, old, next, { rng: systemRandom, cost: kdfProfile() });
  } finally {
    await raw.close();
  }
  return scope;
}
