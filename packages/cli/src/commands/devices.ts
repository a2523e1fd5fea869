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
import { LinkChannel, decodeSnapshot, encodeSnapshot, type Account } from '@parus/client';
import { nodeTransport } from '@parus/client/node';
import {
  DecodeError,
  LinkTransferReader,
  MAX_BACKUP_BYTES,
  equalBytes,
  type LinkMessage,
  ProtocolError,
  ReplayError,
  UsageError,
  answerLinkOffer,
  createLinkOffer,
  decodeLinkMessage,
  parseLinkOffer,
  receiveLinkAnswer,
  receiveLinkNonce,
  receiveLinkReveal,
  sealLinkTransfer,
  toHex,
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
  parus init --link --name NAME --relay ADDRESS [--yes]
                                           link this new device: prints a link, waits
  parus device link LINK [--yes]           answer a new device's link from this one
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
  if (sub === 'link') return answerLinkCommand(rest, makeOut);
  if (sub !== 'revoke') throw new UsageError('usage: parus device revoke ID | parus device link LINK');
  const { values, positionals } = parse(rest, {});
  const out = makeOut(values.json === true);
  const id = positionals[0];
  if (!id || positionals.length !== 1) throw new UsageError('usage: parus device revoke ID');
  const { account, passphrase } = await openAccountWithPassphrase(resolveHome(str(values, 'home')));
  try {
    await withLog(account, passphrase);
    // The passphrase the account was opened with is the proof; a store kept under another
    // passphrase than the account's gives an AuthError here and nothing changes.
    // Contacts are told too: a device set without it, signed by the pre-rotated identity.
    const devices = await account.revokeDevice(id, passphrase);
    await account
      .sync()
      .catch((e: unknown) => out.warn(`Contacts will be told at the next sync: ${String(e)}`));
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

/**
 * A new device introduces itself to the snapshot's contacts (decision 0038): a sync makes its
 * queues and sends the introductions. Returns how many contacts still wait (unreachable now,
 * or with no device set in the snapshot); `parus sync` tries them again.
 */
async function introduce(account: Account, out: Output): Promise<number> {
  await account.sync().catch((e: unknown) => out.warn(`Contacts could not be reached yet: ${String(e)}`));
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
    const contacts = snapshot.contacts.length;
    const waiting = await introduce(account, out);
    out.result(
      { home, name: account.name, relay: account.relay, device: name, devices, contacts, waiting },
      () => {
        out.line(`Account of ${account.name} restored in ${home} as a new device, ${name}.`);
        out.line(`Devices: ${devices.filter((d) => !d.revoked).length}; contacts: ${contacts - waiting}.`);
        if (waiting) out.line(`${waiting} contacts wait until they can be reached (parus sync tries again).`);
      },
    );
  } finally {
    await account.close();
  }
  return 0;
}

// ---- Linking (core device-link.ts) ------------------------------------------------------

/** Both screens show the code; the user says whether they match (`--yes` in scripts). */
async function confirmCode(code: string, yes: boolean, out: Output): Promise<void> {
  out.warn(`Short code: ${code}. Check that the other device shows the same code.`);
  if (yes) return;
  process.stderr.write('Same code on both devices? [y/N] ');
  const lines = createInterface({ input: process.stdin });
  const answer = await new Promise<string>((done) => {
    lines.once('line', done);
    lines.once('close', () => done(''));
  });
  lines.close();
  if (!/^y(es)?$/i.test(answer.trim()))
    throw new UsageError('the codes were not confirmed: nothing was linked');
}

/**
 * The next link message of this link. The queues are unsecured, so anyone who saw the link can
 * write to them: bodies that do not decode, or belong to another link, are skipped rather than
 * allowed to end the link.
 */
async function nextMessage(channel: LinkChannel, id: Uint8Array, deadline: number): Promise<LinkMessage> {
  for (;;) {
    let message: LinkMessage;
    try {
      message = decodeLinkMessage(await channel.next(deadline));
    } catch (e) {
      if (e instanceof DecodeError) continue;
      throw e;
    }
    if (equalBytes(message.id, id)) return message;
  }
}

/** Writes every frame in order (a relay keeps a queue's order). */
async function sendAll(channel: LinkChannel, sid: Uint8Array, frames: Uint8Array[]): Promise<void> {
  for (const f of frames) await channel.send(sid, f);
}

/** Reads `data` frames until the payload is complete (frames seen before are skipped). */
async function receiveAll(
  channel: LinkChannel,
  id: Uint8Array,
  reader: LinkTransferReader,
  deadline: number,
): Promise<Uint8Array> {
  for (;;) {
    let payload: Uint8Array | undefined;
    try {
      payload = reader.push(await nextMessage(channel, id, deadline));
    } catch (e) {
      if (e instanceof ReplayError) continue;
      throw e;
    }
    if (payload) return payload;
  }
}

/** How long a linking device waits for the other one after the code is shown. */
const TRANSFER_WAIT_MS = 10 * 60_000;

/** `parus init --link --name NAME --relay ADDRESS`: this new device shows a link and waits. */
export async function linkInitCommand(
  values: Record<string, string | boolean | undefined>,
  out: Output,
): Promise<number> {
  const home = resolveHome(str(values, 'home'));
  const relay = str(values, 'relay');
  if (!relay)
    throw new UsageError('usage: parus init --link --name NAME --relay ADDRESS (the relay carries the link)');
  const name = deviceName(str(values, 'name'));
  await initCrypto();
  const passphrase = await readPassphrase();
  const channel = await LinkChannel.open({ address: relay, transport: nodeTransport(), rng: systemRandom });
  try {
    const offered = createLinkOffer({ rng: systemRandom, relay, sid: channel.sid, now: Date.now(), name });
    let state = offered.state;
    // The link goes out at once (JSON: a line of its own before the result), then we wait.
    if (out.json) process.stdout.write(`${JSON.stringify({ link: offered.link })}\n`);
    out.line('On a device of your account run:');
    out.line(`  parus device link '${offered.link}'`);
    if (!out.json && process.stdout.isTTY)
      process.stdout.write(await QRCode.toString(offered.link, { type: 'utf8', errorCorrectionLevel: 'L' }));
    const expires = state.offer.expires;
    let answerSid: Uint8Array | undefined;
    // The first answer counts; later ones (someone else who saw the link) are refused by core.
    while (!answerSid) {
      const message = await nextMessage(channel, state.offer.id, expires);
      if (message.t !== 'answer') continue;
      const r = receiveLinkAnswer(state, message, { rng: systemRandom, now: Date.now() });
      state = r.state;
      answerSid = message.sid;
      await channel.send(message.sid, r.reply);
    }
    let session;
    while (!session) {
      const message = await nextMessage(channel, state.offer.id, expires);
      if (message.t === 'answer') continue; // a second answer: ignored
      ({ session } = receiveLinkReveal(state, message));
    }
    await confirmCode(session.code, values.yes === true, out);
    const deadline = Date.now() + TRANSFER_WAIT_MS;
    const snapshot = decodeSnapshot(
      await receiveAll(channel, session.id, new LinkTransferReader(session.receiveKey, session.id), deadline),
    );
    const account = await createAccount(home, snapshot.name, snapshot.relay, passphrase);
    try {
      await account.restoreSnapshot(snapshot, { passphrase, deviceName: name });
      const op = await account.devices.lastOp();
      await sendAll(
        channel,
        answerSid,
        sealLinkTransfer({ key: session.sendKey, id: session.id, rng: systemRandom, payload: op }),
      );
      const devices = await account.devices.list();
      const waiting = await introduce(account, out);
      out.result(
        {
          home,
          name: account.name,
          relay: account.relay,
          device: name,
          code: session.code,
          devices,
          waiting,
        },
        () => {
          out.line(`Linked: this device (${name}) is now a device of ${account.name}'s account, in ${home}.`);
          if (waiting)
            out.line(`${waiting} contacts wait until they can be reached (parus sync tries again).`);
        },
      );
    } catch (e) {
      await account.close();
      removeAccountFiles(home);
      throw e;
    }
    await account.close();
  } finally {
    await channel.close();
  }
  return 0;
}

/** `parus device link LINK`: this device answers a new device's link and sends it the account. */
async function answerLinkCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, { yes: { type: 'boolean', default: false } });
  const out = makeOut(values.json === true);
  const link = positionals[0];
  if (!link || positionals.length !== 1) throw new UsageError('usage: parus device link LINK [--yes]');
  const offer = parseLinkOffer(link);
  const { account, passphrase } = await openAccountWithPassphrase(resolveHome(str(values, 'home')));
  try {
    await withLog(account, passphrase);
    const id = toHex(offer.id);
    const channel = await LinkChannel.open({
      address: offer.relay,
      transport: nodeTransport(),
      rng: systemRandom,
    });
    try {
      const answered = await account.devices.linkAnswered(id);
      const { state, message } = answerLinkOffer({
        offer,
        rng: systemRandom,
        now: Date.now(),
        relay: offer.relay,
        sid: channel.sid,
        answered: () => answered,
      });
      // Noted before the answer leaves: a crash after it still refuses the link again.
      await account.devices.markLinkAnswered(id, offer.expires);
      await channel.send(offer.sid, message);
      let reply;
      while (!reply) {
        const m = await nextMessage(channel, offer.id, offer.expires);
        if (m.t !== 'nonce') throw new ProtocolError('expected the new device’s nonce');
        reply = receiveLinkNonce(state, m);
      }
      await channel.send(offer.sid, reply.reply);
      const { session } = reply;
      await confirmCode(session.code, values.yes === true, out);
      const snapshot = encodeSnapshot(await account.snapshot());
      await sendAll(
        channel,
        offer.sid,
        sealLinkTransfer({ key: session.sendKey, id: session.id, rng: systemRandom, payload: snapshot }),
      );
      const op = await receiveAll(
        channel,
        session.id,
        new LinkTransferReader(session.receiveKey, session.id, 8192),
        Date.now() + TRANSFER_WAIT_MS,
      );
      const device = await account.devices.acceptAdd(op);
      out.result({ code: session.code, device, bytes: snapshot.length }, () =>
        out.line(`Linked ${device.name} (${device.id}) to this account.`),
      );
    } finally {
      await channel.close();
    }
  } finally {
    await account.close();
  }
  return 0;
}
