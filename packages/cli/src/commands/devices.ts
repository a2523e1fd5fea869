/**
 * The account's devices and backups (docs/decisions/0030, 0031): `parus devices`,
 * `parus device revoke ID`, `parus backup export FILE`, and `parus init --restore FILE`
 * (called by init). The backup passphrase is the account passphrase (PARUS_PASSPHRASE in
 * scripts), as the account key is derived from it.
 */
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import QRCode from 'qrcode';
import { hostname } from 'node:os';
import {
  answerDeviceLink,
  decodeSnapshot,
  encodeSnapshot,
  offerDeviceLink,
  parseHistoryChoice,
  type Account,
  type ConfirmCode,
  type HistoryChoice,
} from '@parus/client';
import { nodeTransport } from '@parus/client/node';
import {
  MAX_BACKUP_BYTES,
  UsageError,
  parseLinkOffer,
  nameFault,
  openAccountBackup,
  sealAccountBackup,
  initCrypto,
  systemRandom,
  MAX_DEVICE_NAME_CHARS,
} from '@parus/core';
import { parse, str } from '../args.ts';
import { shown } from '../format.ts';
import {
  createAccount,
  kdfProfile,
  openAccountWithPassphrase,
  removeAccountFiles,
  resolveHome,
} from '../home.ts';
import { fault, t } from '../i18n.ts';
import type { Output } from '../output.ts';
import { readPassphrase } from '../passphrase.ts';

type MakeOut = (json: boolean) => Output;

/** This machine's name as a device name, cut to the device-name rule. */
export function defaultDeviceName(): string {
  const name = [...hostname().trim()].slice(0, MAX_DEVICE_NAME_CHARS).join('');
  return nameFault(name, MAX_DEVICE_NAME_CHARS) === undefined ? name : 'device';
}

function deviceName(flag: string | undefined): string {
  const name = flag?.trim() ?? defaultDeviceName();
  const problem = nameFault(name, MAX_DEVICE_NAME_CHARS);
  if (problem !== undefined) throw fault(UsageError, 'device.badName', { problem });
  return name;
}

/** The device log, started with this device when the account has none yet. */
async function withLog(account: Account, passphrase: string): Promise<void> {
  await account.devices.ensureLog({ passphrase, cost: kdfProfile(), name: defaultDeviceName() });
}

export async function devicesCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, {});
  if (positionals.length > 0) throw fault(UsageError, 'usage.generic', { usage: 'parus devices [--json]' });
  const out = makeOut(values.json === true);
  const { account, passphrase } = await openAccountWithPassphrase(resolveHome(str(values, 'home')));
  try {
    await withLog(account, passphrase);
    const devices = await account.devices.list();
    // Decision 0061: ops of mine that lost a fork wait for the account passphrase; this store's
    // passphrase may be an older one when the account passphrase was changed on another device.
    const waiting = (await account.devices.pendingOps()).length;
    const accountPassphrase = await account.devices.isAccountPassphrase(passphrase);
    out.result({ devices, waiting, accountPassphrase }, () => {
      for (const d of devices)
        out.line(
          `${d.id}  ${shown(d.name)}${d.current ? `  ${t('device.current')}` : ''}${d.revoked ? `  ${t('device.revoked')}` : ''}`,
        );
      if (!accountPassphrase) out.line(t('device.otherPassphrase'));
      if (waiting > 0) out.line(t('device.waiting', { n: String(waiting) }));
    });
  } finally {
    await account.close();
  }
  return 0;
}

export async function deviceCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'link') return answerLinkCommand(rest, makeOut);
  if (sub !== 'revoke')
    throw fault(UsageError, 'usage.generic', { usage: 'parus device revoke ID | parus device link LINK' });
  const { values, positionals } = parse(rest, {});
  const out = makeOut(values.json === true);
  const id = positionals[0];
  if (!id || positionals.length !== 1)
    throw fault(UsageError, 'usage.generic', { usage: 'parus device revoke ID' });
  const { account, passphrase } = await openAccountWithPassphrase(resolveHome(str(values, 'home')));
  try {
    await withLog(account, passphrase);
    // The passphrase the account was opened with is the proof; a store kept under another
    // passphrase than the account's gives an AuthError here and nothing changes.
    // Contacts are told too: a device set without it, signed by the pre-rotated identity.
    const devices = await account.revokeDevice(id, passphrase);
    await account.sync().catch((e: unknown) => out.warn(t('device.toldLater', { error: String(e) })));
    const gone = devices.find((d) => d.revoked && d.id.startsWith(id.trim().toLowerCase()));
    out.result({ revoked: gone?.id, devices }, () =>
      out.line(t('device.revokedLine', { id: gone?.id ?? id, name: shown(gone?.name ?? '') })),
    );
  } finally {
    await account.close();
  }
  return 0;
}

export async function backupCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const [sub, ...rest] = argv;
  const usage = 'parus backup export FILE [--history all|none|DAYS]';
  if (sub !== 'export') throw fault(UsageError, 'usage.generic', { usage });
  const { values, positionals } = parse(rest, { history: { type: 'string' } });
  const out = makeOut(values.json === true);
  const file = positionals[0];
  if (!file || positionals.length !== 1) throw fault(UsageError, 'usage.generic', { usage });
  // A backup is there to lose nothing: all of the history unless told otherwise (decision 0041).
  const history = historyFlag(values, 'all');
  const { account, passphrase } = await openAccountWithPassphrase(resolveHome(str(values, 'home')));
  try {
    await withLog(account, passphrase);
    const snapshot = await account.snapshot({ history });
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
      throw fault(UsageError, 'backup.cannotCreate', { path: file }, { cause });
    }
    try {
      writeSync(fd, bytes);
    } finally {
      closeSync(fd);
    }
    const messages = snapshot.history?.length ?? 0;
    out.result({ file, bytes: bytes.length, contacts: snapshot.contacts.length, messages }, () =>
      out.line(
        t('backup.written', {
          contacts: snapshot.contacts.length,
          messages,
          path: file,
          bytes: bytes.length,
        }),
      ),
    );
  } finally {
    await account.close();
  }
  return 0;
}

/**
 * A new device introduces itself to the snapshot's contacts (decision 0038): a sync makes its
 * queues and sends the introductions. Returns how many contacts still wait (unreachable now,
 * or with no device set in the snapshot); `parus sync` tries them again.
 */
async function introduce(account: Account, out: Output): Promise<number> {
  await account.sync().catch((e: unknown) => out.warn(t('device.notReached', { error: String(e) })));
  return (await account.restoredContacts()).length;
}

/** `parus init --restore FILE`: a new device of the backup's account, in an empty home. */
export async function restoreCommand(
  values: Record<string, string | boolean | undefined>,
  file: string,
  out: Output,
): Promise<number> {
  const home = resolveHome(str(values, 'home'));
  await initCrypto();
  if (statSync(file).size > MAX_BACKUP_BYTES + 1024 * 1024) throw fault(UsageError, 'backup.tooLarge');
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
    const contacts = snapshot.contacts.length;
    const messages = snapshot.history?.length ?? 0;
    const waiting = await introduce(account, out);
    out.result(
      { home, name: account.name, relay: account.relay, device: name, devices, contacts, waiting, messages },
      () => {
        out.line(t('restore.done', { name: shown(account.name), home, device: shown(name) }));
        out.line(
          t('restore.counts', {
            devices: devices.filter((d) => !d.revoked).length,
            contacts: contacts - waiting,
            messages,
          }),
        );
        if (waiting) out.line(t('restore.waiting', { count: waiting }));
      },
    );
  } finally {
    await account.close();
  }
  return 0;
}

// ---- Linking (client device-linking.ts) ---------------------------------------------------

/** Both screens show the code; the user says whether they match (`--yes` in scripts). */
function confirmCode(yes: boolean, out: Output): ConfirmCode {
  return async (code) => {
    out.warn(t('link.code', { code }));
    if (yes) return true;
    process.stderr.write(t('link.sameCode'));
    const lines = createInterface({ input: process.stdin });
    const answer = await new Promise<string>((done) => {
      lines.once('line', done);
      lines.once('close', () => done(''));
    });
    lines.close();
    return /^y(es)?$/i.test(answer.trim());
  };
}

/** `--history all|none|DAYS`, with the default of each command (decision 0041). */
function historyFlag(
  values: Record<string, string | boolean | undefined>,
  fallback: HistoryChoice,
): HistoryChoice {
  const flag = str(values, 'history');
  return flag === undefined ? fallback : parseHistoryChoice(flag);
}

/** What a link carries unless `--history` says otherwise: the last 30 days (decision 0041). */
export const LINK_HISTORY_DEFAULT: HistoryChoice = { days: 30 };

/** `parus init --link --name NAME --relay ADDRESS`: this new device shows a link and waits. */
export async function linkInitCommand(
  values: Record<string, string | boolean | undefined>,
  out: Output,
): Promise<number> {
  const home = resolveHome(str(values, 'home'));
  const relay = str(values, 'relay');
  if (!relay) throw fault(UsageError, 'usage.initLink');
  const name = deviceName(str(values, 'name'));
  await initCrypto();
  const passphrase = await readPassphrase();
  const { code, result } = await offerDeviceLink({
    relay,
    name,
    transport: nodeTransport(),
    rng: systemRandom,
    confirm: confirmCode(values.yes === true, out),
    onLink: (link) => {
      // The link goes out at once (JSON: a line of its own before the result), then we wait.
      if (out.json) process.stdout.write(`${JSON.stringify({ link })}\n`);
      out.line(t('link.runThere'));
      out.line(`  parus device link '${link}'`);
      if (!out.json && process.stdout.isTTY)
        void QRCode.toString(link, { type: 'utf8', errorCorrectionLevel: 'L' }).then((qr) =>
          process.stdout.write(qr),
        );
    },
    adopt: async (snapshot) => {
      const account = await createAccount(home, snapshot.name, snapshot.relay, passphrase);
      try {
        await account.restoreSnapshot(snapshot, { passphrase, deviceName: name });
        return {
          op: await account.devices.lastOp(),
          result: { account, messages: snapshot.history?.length ?? 0 },
        };
      } catch (e) {
        await account.close();
        removeAccountFiles(home);
        throw e;
      }
    },
  });
  const { account, messages } = result;
  try {
    const devices = await account.devices.list();
    const waiting = await introduce(account, out);
    out.result(
      { home, name: account.name, relay: account.relay, device: name, code, devices, waiting, messages },
      () => {
        out.line(t('link.linked', { device: shown(name), name: shown(account.name), home }));
        out.line(t('link.history', { messages }));
        if (waiting) out.line(t('restore.waiting', { count: waiting }));
      },
    );
  } finally {
    await account.close();
  }
  return 0;
}

/** `parus device link LINK`: this device answers a new device's link and sends it the account. */
async function answerLinkCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, {
    yes: { type: 'boolean', default: false },
    history: { type: 'string' },
  });
  const out = makeOut(values.json === true);
  const link = positionals[0];
  if (!link || positionals.length !== 1)
    throw fault(UsageError, 'usage.generic', {
      usage: 'parus device link LINK [--history all|none|DAYS] [--yes]',
    });
  const history = historyFlag(values, LINK_HISTORY_DEFAULT);
  parseLinkOffer(link);
  const { account, passphrase } = await openAccountWithPassphrase(resolveHome(str(values, 'home')));
  try {
    await withLog(account, passphrase);
    const r = await answerDeviceLink({
      account,
      link,
      history,
      transport: nodeTransport(),
      rng: systemRandom,
      confirm: confirmCode(values.yes === true, out),
    });
    out.result({ code: r.code, device: r.device, bytes: r.bytes, messages: r.messages }, () =>
      out.line(t('link.answered', { name: shown(r.device.name), id: r.device.id, messages: r.messages })),
    );
  } finally {
    await account.close();
  }
  return 0;
}
