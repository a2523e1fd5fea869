import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import {
  MAX_FILE_BYTES,
  NotFoundError,
  ParusError,
  QuotaError,
  StorageError,
  UsageError,
  isFileName,
  isMimeType,
} from '@parus/core';
import type { Account, MessageInfo } from '@parus/client';
import { parse, str } from '../args.ts';
import { filesFolder, formatBytes, guessMime, progressLine, saveStreamed } from '../files.ts';
import { formatMessage, shown } from '../format.ts';
import { formatGroup } from './group.ts';
import { formatRefusal, formatRequest } from './room.ts';
import { openAccount, resolveHome } from '../home.ts';
import type { Output } from '../output.ts';

type MakeOut = (json: boolean) => Output;

/** The built-in sticker set the clients draw (packages/web); `--pack` picks another. */
const DEFAULT_STICKER_PACK = 'parus';

export async function sendCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, {
    reply: { type: 'string' },
    sticker: { type: 'string' },
    pack: { type: 'string' },
    me: { type: 'boolean', default: false },
  });
  const out = makeOut(values.json === true);
  const [alias, ...words] = positionals;
  const text = words.join(' ');
  const sticker = str(values, 'sticker');
  if (!alias || (!text && !sticker) || (text && sticker))
    throw new UsageError('usage: parus send ALIAS TEXT | parus send ALIAS --sticker ID [--pack PACK]');
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    const reply = str(values, 'reply');
    const replyOpt = reply ? { replyTo: reply } : {};
    const message = sticker
      ? await account.sendSticker(alias, str(values, 'pack') ?? DEFAULT_STICKER_PACK, sticker, replyOpt)
      : await account.sendText(alias, text, { ...replyOpt, action: values.me === true });
    await deliver(account, alias, message, out);
  } finally {
    await account.close();
  }
  return 0;
}

/** Sends what waits, then prints the message with its state (and why it may still wait). */
async function deliver(account: Account, alias: string, message: MessageInfo, out: Output): Promise<void> {
  let note = '';
  try {
    await account.start();
    await account.sync({ timeoutMs: 20_000 });
  } catch {
    note = 'the relay is not reachable now; the message waits in the outbox and goes out on the next run';
  }
  const contact = account.contact(alias);
  if (contact.status === 'pending')
    note = `${alias} has not answered the invitation yet; the message waits in the outbox`;
  const [latest] = (await account.history(alias)).filter((m) => m.id === message.id);
  out.result({ message: latest ?? message, note: note || null }, () => {
    out.line(formatMessage(latest ?? message));
    if (note) out.warn(note);
  });
}

export async function sendFileCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, { name: { type: 'string' }, mime: { type: 'string' } });
  const out = makeOut(values.json === true);
  const [alias, path] = positionals;
  if (!alias || !path || positionals.length > 2) throw new UsageError('usage: parus send-file ALIAS PATH');
  let size: number;
  try {
    size = statSync(path).size;
  } catch (cause) {
    throw new UsageError(`cannot read ${path}`, { cause });
  }
  if (size > MAX_FILE_BYTES) throw new QuotaError(`file larger than ${MAX_FILE_BYTES} bytes`);
  const bytes = new Uint8Array(readFileSync(path));
  const name = str(values, 'name') ?? basename(path);
  const mime = str(values, 'mime') ?? guessMime(name);
  // Refused before anything opens: the same checks as the engine's (and a peer's decoder).
  if (!isFileName(name))
    throw new UsageError(
      'file name must be 1-255 characters without control, bidirectional or invisible characters',
    );
  if (!isMimeType(mime)) throw new UsageError('MIME type must look like type/subtype');
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    // No start() before the engine's own checks: sendFile connects when it needs the relay, so a
    // refusal never closes the account while a relay connection is still being opened (docs/decisions/0024).
    const progress = progressLine(`uploading ${shown(name)}`);
    let message: MessageInfo;
    try {
      message = await account.sendFile(
        alias,
        { name, mime, bytes },
        progress.onProgress ? { onProgress: progress.onProgress } : {},
      );
    } finally {
      progress.end();
    }
    await deliver(account, alias, message, out);
  } finally {
    await account.close();
  }
  return 0;
}

export async function unsendCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const out = makeOut(values.json === true);
  const [alias, id] = positionals;
  if (!alias || !id || positionals.length > 2) throw new UsageError('usage: parus unsend ALIAS MESSAGE_ID');
  const prefix = id.toLowerCase().replace(/^#/, '');
  if (!/^[0-9a-f]{8,64}$/.test(prefix))
    throw new UsageError('MESSAGE_ID is 8 to 64 hex digits (as history shows it)');
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    // The id as printed (its first 12 digits) is enough when it names one of our messages.
    const mine = (await account.history(alias)).filter((m) => m.dir === 'out' && m.id.startsWith(prefix));
    if (mine.length > 1) throw new UsageError('that id prefix names several messages; give more digits');
    const message = await account.unsend(alias, mine[0]?.id ?? prefix.padEnd(64, '0'));
    await deliver(account, alias, message, out);
  } finally {
    await account.close();
  }
  return 0;
}

/**
 * `parus delete MESSAGE_ID` (one message, either direction) or `parus delete --chat ALIAS` (a
 * whole conversation): deleted for me on this device and on my other devices (decision 0039);
 * the contact keeps theirs.
 */
export async function deleteCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, { chat: { type: 'string' } });
  const out = makeOut(values.json === true);
  const chat = str(values, 'chat');
  if (chat === undefined ? positionals.length !== 1 : positionals.length !== 0)
    throw new UsageError('usage: parus delete MESSAGE_ID, or parus delete --chat ALIAS');
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    let result: { alias: string; id?: string; deleted: number };
    if (chat !== undefined) {
      result = { alias: chat, deleted: await account.deleteConversation(chat) };
    } else {
      const prefix = positionals[0]!.toLowerCase().replace(/^#/, '');
      if (!/^[0-9a-f]{8,64}$/.test(prefix))
        throw new UsageError('MESSAGE_ID is 8 to 64 hex digits (as history shows it)');
      // The id as printed (its first 12 digits) is enough when it names one message.
      const found: Array<{ alias: string; id: string }> = [];
      for (const c of account.contacts())
        for (const m of await account.history(c.alias))
          if (m.id.startsWith(prefix)) found.push({ alias: c.alias, id: m.id });
      if (found.length === 0) throw new NotFoundError('no such message');
      if (found.length > 1) throw new UsageError('that id prefix names several messages; give more digits');
      await account.deleteMessage(found[0]!.alias, found[0]!.id);
      result = { ...found[0]!, deleted: 1 };
    }
    let note = '';
    try {
      await account.start();
      await account.sync({ timeoutMs: 20_000 });
    } catch {
      note = 'the relay is not reachable now; your other devices hear of it on the next run';
    }
    out.result({ ...result, note: note || null }, () => {
      out.line(
        result.id
          ? `Deleted ${result.id.slice(0, 12)} from ${result.alias} (for you, on all your devices).`
          : `Deleted the conversation with ${result.alias} (for you, on all your devices).`,
      );
      if (note) out.warn(note);
    });
  } finally {
    await account.close();
  }
  return 0;
}

/** A received file saved to disk, or why it was not. */
interface Saved {
  id: string;
  path?: string;
  error?: { name: string; code: string; message: string };
  /** Larger than the automatic download limit: it waits for `parus download`. */
  tooLarge?: true;
}

/** Files up to this size are saved by `read` itself (PARUS_AUTO_DOWNLOAD_MB, --auto-download). */
const DEFAULT_AUTO_DOWNLOAD_MB = 25;

/** The automatic download limit in bytes: the flag, else PARUS_AUTO_DOWNLOAD_MB, else 25 MB. */
function autoDownloadLimit(flag: string | undefined): number {
  const raw = flag ?? process.env.PARUS_AUTO_DOWNLOAD_MB;
  if (raw === undefined || raw === '') return DEFAULT_AUTO_DOWNLOAD_MB * 1024 * 1024;
  const mb = Number(raw);
  if (!Number.isFinite(mb) || mb < 0 || mb > 1024)
    throw new UsageError('--auto-download (or PARUS_AUTO_DOWNLOAD_MB) is a size in MB from 0 to 1024');
  return Math.floor(mb * 1024 * 1024);
}

/**
 * Downloads the files among `messages` into the account's files folder, each streamed to disk
 * (files.ts saveStreamed); a file above `limit` bytes is left for `parus download`.
 */
async function saveFiles(
  account: Account,
  home: string,
  messages: MessageInfo[],
  out: Output,
  limit = Infinity,
): Promise<Saved[]> {
  const saved: Saved[] = [];
  for (const m of messages) {
    if (m.dir !== 'in' || !m.file || m.unsent) continue;
    if (m.file.size > limit) {
      saved.push({ id: m.id, tooLarge: true });
      continue;
    }
    const progress = progressLine(`downloading ${shown(m.file.name)}`);
    try {
      const path = await saveStreamed(filesFolder(home, m.alias), m.file.name, (sink) =>
        account.downloadFileTo(
          m.alias,
          m.id,
          sink,
          progress.onProgress ? { onProgress: progress.onProgress } : {},
        ),
      );
      saved.push({ id: m.id, path });
    } catch (e) {
      if (!(e instanceof ParusError)) throw e;
      saved.push({ id: m.id, error: { name: e.name, code: e.code, message: e.message } });
      if (e instanceof StorageError) out.warn(`parus: could not save ${shown(m.file.name)}: ${e.message}`);
    } finally {
      progress.end();
    }
  }
  return saved;
}

/** Saves a received file again (or for the first time, when `read` could not fetch it). */
export async function downloadCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const out = makeOut(values.json === true);
  const [alias, id] = positionals;
  if (!alias || !id || positionals.length > 2) throw new UsageError('usage: parus download ALIAS MESSAGE_ID');
  const prefix = id.toLowerCase().replace(/^#/, '');
  if (!/^[0-9a-f]{8,64}$/.test(prefix))
    throw new UsageError('MESSAGE_ID is 8 to 64 hex digits (as history shows it)');
  const home = resolveHome(str(values, 'home'));
  const account = await openAccount(home);
  try {
    const files = (await account.history(alias)).filter((m) => m.file && m.id.startsWith(prefix));
    if (files.length !== 1)
      throw new UsageError(
        files.length === 0 ? 'no file message with that id' : 'that id names several files',
      );
    await account.start();
    const [saved] = await saveFiles(account, home, [{ ...files[0]!, dir: 'in' }], out);
    if (saved?.error) {
      out.result({ id: saved.id, saved: null, error: saved.error }, () =>
        out.warn(`parus: not saved: ${saved.error!.message} (${saved.error!.name})`),
      );
      return 1;
    }
    out.result({ id: saved!.id, saved: saved!.path }, () => out.line(`saved to ${saved!.path}`));
  } finally {
    await account.close();
  }
  return 0;
}

export async function readCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values } = parse(argv, { 'auto-download': { type: 'string' } });
  const out = makeOut(values.json === true);
  const limit = autoDownloadLimit(str(values, 'auto-download'));
  const home = resolveHome(str(values, 'home'));
  const account = await openAccount(home);
  const contactsBefore = new Set(account.contacts().map((c) => c.alias));
  const groupsBefore = new Set(account.groups.list().map((g) => g.id));
  const joiningBefore = account.groups.list().filter((g) => g.status === 'invited' && !g.refused);
  try {
    await account.start();
    await account.sync({ timeoutMs: 30_000 });
    const messages = await account.takeUnshown();
    const files = await saveFiles(account, home, messages, out, limit);
    const newContacts = account.contacts().filter((c) => !contactsBefore.has(c.alias));
    const withFiles = messages.map((m) => {
      const f = files.find((x) => x.id === m.id);
      return f
        ? {
            ...m,
            saved: f.path ?? null,
            saveError: f.error ?? null,
            ...(f.tooLarge ? { tooLarge: true } : {}),
          }
        : m;
    });
    const invitations = account.groups
      .list()
      .filter((g) => g.status === 'invited' && !groupsBefore.has(g.id));
    const requests = await account.groups.takeChatRequests();
    // Rooms joined by link, or refused, since the last run (the door answered meanwhile).
    const now = joiningBefore.map((g) => account.groups.list().find((x) => x.id === g.id) ?? g);
    const joined = now.filter((g) => g.status === 'joined');
    const refused = now.filter((g) => g.status === 'invited' && g.refused);
    const result = { messages: withFiles, contacts: newContacts, invitations, requests, joined, refused };
    out.result(result, () => {
      for (const g of joined) out.line(`Joined the room ${shown(g.name)} (id ${g.id}).`);
      for (const g of refused) out.line(formatRefusal(g));
      for (const r of requests) out.line(formatRequest(r));
      for (const c of newContacts) {
        out.line(
          `New contact: ${shown(c.alias)} (unvalidated). Check the safety number with: parus verify ${shown(c.alias)}`,
        );
      }
      for (const g of invitations) out.line(formatGroup(g));
      for (const m of messages) {
        out.line(formatMessage(m));
        const f = files.find((x) => x.id === m.id);
        if (f?.path) out.line(`  saved to ${f.path}`);
        if (f?.tooLarge && m.file) {
          out.line(
            `  not downloaded: ${formatBytes(m.file.size)} is over the automatic limit of ${formatBytes(limit)}`,
          );
          out.line(`  download it with: parus download ${m.alias} ${m.id.slice(0, 12)}`);
        }
        if (f?.error) {
          out.line(`  not saved: ${f.error.message} (${f.error.name})`);
          out.line(`  try again later with: parus download ${shown(m.alias)} ${m.id.slice(0, 12)}`);
        }
      }
      const told = newContacts.length + invitations.length + requests.length + joined.length + refused.length;
      if (messages.length === 0 && told === 0) out.line('No new messages.');
    });
  } finally {
    await account.close();
  }
  return 0;
}

export async function historyCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const out = makeOut(values.json === true);
  const alias = positionals[0];
  if (!alias) throw new UsageError('usage: parus history ALIAS');
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    const isContact = account.contacts().some((c) => c.alias === alias);
    const messages = isContact ? await account.history(alias) : await account.groups.history(alias);
    out.result({ alias, messages }, () => {
      for (const m of messages) out.line(formatMessage(m));
      if (messages.length === 0) out.line(`No messages with ${alias} yet.`);
    });
  } finally {
    await account.close();
  }
  return 0;
}
