/**
 * The account's devices and backups (docs/decisions/0030, 0031): `parus devices`,
 * `parus device revoke ID`, `parus backup export FILE`, and `parus init --restore FILE`
 * (called by init). The backup passphrase is the account passphrase (PARUS_PASSPHRASE in
 * scripts), as the account key is derived from it.
 */
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { decodeSnapshot, encodeSnapshot, type Account } from '@parus/client';
import {
  MAX_BACKUP_BYTES,
  UsageError,
  nameFault,
  openAccountBackup,
  sealAccountBackup,
  initCrypto,
  systemRandom,
  MAX_DEVICE_NAME_CHARS,
} from '@parus/core';
import { parse, str } from '../args.ts';
import {
  createAccount,
  kdfProfile,
  openAccountWithPassphrase,
  removeAccountFiles,
  resolveHome,
} from '../home.ts';
import type { Output } from '../output.ts';
import { readPassphrase } from '../passphrase.ts';

type MakeOut = (json: boolean) => Output;

export const DEVICES_HELP = `parus devices                            this account's devices (id, name, current)
  parus device revoke ID                   revoke a lost device (asks the passphrase)
  parus backup export FILE                 write an encrypted backup (the account passphrase)
  parus init --restore FILE [--name DEVICE]
                                           restore a backup here, as a new device`;

/** This machine's name as a device name, cut to the device-name rule. */
function defaultDeviceName(): string {
  const name = [...hostname().trim()].slice(0, MAX_DEVICE_NAME_CHARS).join('');
  return nameFault(name, MAX_DEVICE_NAME_CHARS) === undefined ? name : 'device';
}

function deviceName(flag: string | undefined): string {
  const name = flag?.trim() ?? defaultDeviceName();
  const fault = nameFault(name, MAX_DEVICE_NAME_CHARS);
  if (fault !== undefined) throw new UsageError(`device name ${fault}`);
  return name;
}

/** The device log, started with this device when the account has none yet. */
async function withLog(account: Account, passphrase: string): Promise<void> {
  await account.devices.ensureLog({ passphrase, cost: kdfProfile(), name: defaultDeviceName() });
}

export async function devicesCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, {});
  if (positionals.length > 0) throw new UsageError('usage: parus devices [--json]');
  const out = makeOut(values.json === true);
  const { account, passphrase } = await openAccountWithPassphrase(resolveHome(str(values, 'home')));
  try {
    await withLog(account, passphrase);
    const devices = await account.devices.list();
    out.result({ devices }, () => {
      for (const d of devices)
        out.line(`${d.id}  ${d.name}${d.current ? '  (this device)' : ''}${d.revoked ? '  (revoked)' : ''}`);
    });
  } finally {
    await account.close();
  }
  return 0;
}

export async function deviceCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'revoke') throw new UsageError('usage: parus device revoke ID');
  const { values, positionals } = parse(rest, {});
  const out = makeOut(values.json === true);
  const id = positionals[0];
  if (!id || positionals.length !== 1) throw new UsageError('usage: parus device revoke ID');
  const { account, passphrase } = await openAccountWithPassphrase(resolveHome(str(values, 'home')));
  try {
    await withLog(account, passphrase);
    // The passphrase the account was opened with is the proof; a store kept under another
    // passphrase than the account's gives an AuthError here and nothing changes.
    const devices = await account.devices.revoke(id, passphrase);
    const gone = devices.find((d) => d.revoked && d.id.startsWith(id.trim().toLowerCase()));
    out.result({ revoked: gone?.id, devices }, () =>
      out.line(`Revoked ${gone?.id ?? id} (${gone?.name ?? ''}).`),
    );
  } finally {
    await account.close();
  }
  return 0;
}

export async function backupCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'export') throw new UsageError('usage: parus backup export FILE');
  const { values, positionals } = parse(rest, {});
  const out = makeOut(values.json === true);
  const file = positionals[0];
  if (!file || positionals.length !== 1) throw new UsageError('usage: parus backup export FILE');
  const { account, passphrase } = await openAccountWithPassphrase(resolveHome(str(values, 'home')));
  try {
    await withLog(account, passphrase);
    const snapshot = await account.snapshot();
    const bytes = sealAccountBackup({
      passphrase,
      payload: encodeSnapshot(snapshot),
      rng: systemRandom,
      cost: kdfProfile(),
    });
    // A new file, the owner's alone; an existing one is never replaced.
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (cause) {
      throw new UsageError(`cannot create ${file} (it may exist already)`, { cause });
    }
    try {
      writeSync(fd, bytes);
    } finally {
      closeSync(fd);
    }
    out.result({ file, bytes: bytes.length, contacts: snapshot.contacts.length }, () =>
      out.line(`Backup of ${snapshot.contacts.length} contacts written to ${file} (${bytes.length} bytes).`),
    );
  } finally {
    await account.close();
  }
  return 0;
}

/** `parus init --restore FILE`: a new device of the backup's account, in an empty home. */
export async function restoreCommand(
  values: Record<string, string | boolean | undefined>,
  file: string,
  out: Output,
): Promise<number> {
  const home = resolveHome(str(values, 'home'));
  await initCrypto();
  if (statSync(file).size > MAX_BACKUP_BYTES + 1024 * 1024) throw new UsageError('backup file too large');
  const bytes = new Uint8Array(readFileSync(file));
  const passphrase = await readPassphrase();
  // Checks the whole file (passphrase, integrity) before anything is created.
  const snapshot = decodeSnapshot(openAccountBackup(bytes, passphrase));
  const name = deviceName(str(values, 'name'));
  const account = await createAccount(home, snapshot.name, snapshot.relay, passphrase);
  try {
    await account.restoreSnapshot(snapshot, { passphrase, deviceName: name });
  } catch (e) {
    await account.close();
    removeAccountFiles(home);
    throw e;
  }
  try {
    const devices = await account.devices.list();
    const contacts = (await account.restoredContacts()).length;
    out.result({ home, name: account.name, relay: account.relay, device: name, devices, contacts }, () => {
      out.line(`Account of ${account.name} restored in ${home} as a new device, ${name}.`);
      out.line(`Devices: ${devices.filter((d) => !d.revoked).length}; contacts kept: ${contacts}.`);
      out.line('New sessions with your contacts on this device are not built yet (issue 12).');
    });
  } finally {
    await account.close();
  }
  return 0;
}
