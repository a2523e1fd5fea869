import { NotFoundError, ParusError, StorageError, UsageError } from '@parus/core';
import type { Account, MessageInfo } from '@parus/client';
import { parse, str } from '../args.ts';
import { filesFolder, formatBytes, progressLine, saveStreamed } from '../files.ts';
import { en, fault, t, type MessageKey } from '../i18n.ts';
import { formatMessage, shown } from '../format.ts';
import { formatGroup } from './group.ts';
import { readOutgoingFile } from '../outgoing-file.ts';
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
  if (!alias || (!text && !sticker) || (text && sticker)) throw fault(UsageError, 'usage.send');
  const replyFlag = str(values, 'reply');
  if (replyFlag !== undefined) idPrefix(replyFlag, 'error.replyId');
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    const replyOpt = replyFlag === undefined ? {} : { replyTo: await messageId(account, alias, replyFlag) };
    const message = sticker
      ? await account.sendSticker(alias, str(values, 'pack') ?? DEFAULT_STICKER_PACK, sticker, replyOpt)
      : await account.sendText(alias, text, { ...replyOpt, action: values.me === true });
    await deliver(account, alias, message, out);
  } finally {
    await account.close();
  }
  return 0;
}

/** A message id as `read` and `history` print it (`#` and 12 hex digits), checked and lower-cased. */
function idPrefix(id: string, which: 'error.messageId' | 'error.replyId' = 'error.messageId'): string {
  const prefix = id.trim().toLowerCase().replace(/^#/, '');
  if (!/^[0-9a-f]{8,64}$/.test(prefix)) throw fault(UsageError, which);
  return prefix;
}

/**
 * The full id of the message with `alias` that `id` (the short id `read` prints, or more
 * digits) names: one message of the conversation, either side. A full id not in the history
 * is passed on as it is (the engine decides).
 */
async function messageId(account: Account, alias: string, id: string): Promise<string> {
  const prefix = idPrefix(id, 'error.replyId');
  const found = (await account.history(alias)).filter((m) => m.id.startsWith(prefix));
  if (found.length > 1) throw fault(UsageError, 'error.idNamesSeveral');
  if (found.length === 1) return found[0]!.id;
  if (prefix.length === 64) return prefix;
  throw fault(UsageError, 'error.idNamesNone', { alias: shown(alias) });
}

/** Sends what waits, then prints the message with its state (and why it may still wait). */
async function deliver(account: Account, alias: string, message: MessageInfo, out: Output): Promise<void> {
  let note: { key: MessageKey; params: { alias?: string } } | undefined;
  try {
    await account.start();
    await account.sync({ timeoutMs: 20_000 });
  } catch {
    note = { key: 'send.relayDown', params: {} };
  }
  const contact = account.contact(alias);
  if (contact.status === 'pending') note = { key: 'send.pending', params: { alias: shown(alias) } };
  const [latest] = (await account.history(alias)).filter((m) => m.id === message.id);
  out.result({ message: latest ?? message, note: note ? en(note.key, note.params) : null }, () => {
    out.line(formatMessage(latest ?? message));
    if (note) out.warn(t(note.key, note.params));
  });
}

export async function sendFileCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, { name: { type: 'string' }, mime: { type: 'string' } });
  const out = makeOut(values.json === true);
  const [alias, path] = positionals;
  if (!alias || !path || positionals.length > 2) throw fault(UsageError, 'usage.sendFile');
  const file = await readOutgoingFile(path, { name: str(values, 'name'), mime: str(values, 'mime') });
  const name = file.name;
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    // No start() before the engine's own checks: sendFile connects when it needs the relay, so a
    // refusal never closes the account while a relay connection is still being opened (docs/decisions/0024).
    const progress = progressLine(t('file.uploading', { name: shown(name) }));
    let message: MessageInfo;
    try {
      message = await account.sendFile(
        alias,
        file,
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
  if (!alias || !id || positionals.length > 2) throw fault(UsageError, 'usage.unsend');
  const prefix = idPrefix(id);
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    // The id as printed (its first 12 digits) is enough when it names one of our messages.
    const mine = (await account.history(alias)).filter((m) => m.dir === 'out' && m.id.startsWith(prefix));
    if (mine.length > 1) throw fault(UsageError, 'error.idNamesSeveral');
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
    throw fault(UsageError, 'usage.delete');
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    let result: { alias: string; id?: string; deleted: number };
    if (chat !== undefined) {
      result = { alias: chat, deleted: await account.deleteConversation(chat) };
    } else {
      const prefix = positionals[0]!.toLowerCase().replace(/^#/, '');
      if (!/^[0-9a-f]{8,64}$/.test(prefix)) throw fault(UsageError, 'error.messageId');
      // The id as printed (its first 12 digits) is enough when it names one message.
      const found: Array<{ alias: string; id: string }> = [];
      for (const c of account.contacts())
        for (const m of await account.history(c.alias))
          if (m.id.startsWith(prefix)) found.push({ alias: c.alias, id: m.id });
      if (found.length === 0) throw fault(NotFoundError, 'error.noMessage');
      if (found.length > 1) throw fault(UsageError, 'error.idNamesSeveral');
      await account.deleteMessage(found[0]!.alias, found[0]!.id);
      result = { ...found[0]!, deleted: 1 };
    }
    let down = false;
    try {
      await account.start();
      await account.sync({ timeoutMs: 20_000 });
    } catch {
      down = true;
    }
    out.result({ ...result, note: down ? en('delete.relayDown') : null }, () => {
      out.line(
        result.id
          ? t('delete.message', { id: result.id.slice(0, 12), alias: shown(result.alias) })
          : t('delete.chat', { alias: shown(result.alias) }),
      );
      if (down) out.warn(t('delete.relayDown'));
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
  if (!Number.isFinite(mb) || mb < 0 || mb > 1024) throw fault(UsageError, 'error.autoDownload');
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
    const progress = progressLine(t('file.downloading', { name: shown(m.file.name) }));
    try {
      const path = await saveStreamed(filesFolder(home, m.alias), m.file.name, (sink) =>
        m.group
          ? account.downloadGroupFileTo(
              m.group,
              m.id,
              sink,
              progress.onProgress ? { onProgress: progress.onProgress } : {},
            )
          : account.downloadFileTo(
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
      if (e instanceof StorageError)
        out.warn(t('file.couldNotSave', { name: shown(m.file.name), message: e.message }));
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
  if (!alias || !id || positionals.length > 2) throw fault(UsageError, 'usage.download');
  const prefix = idPrefix(id);
  const home = resolveHome(str(values, 'home'));
  const account = await openAccount(home);
  try {
    // ALIAS names a contact, else a group (its alias, name or id), as for `history`.
    const isContact = account.contacts().some((c) => c.alias === alias);
    const history = isContact ? await account.history(alias) : await account.groups.history(alias);
    const files = history.filter((m) => m.file && m.id.startsWith(prefix));
    if (files.length !== 1)
      throw fault(UsageError, files.length === 0 ? 'error.noFile' : 'error.severalFiles');
    await account.start();
    const [saved] = await saveFiles(account, home, [{ ...files[0]!, dir: 'in' }], out);
    if (saved?.error) {
      out.result({ id: saved.id, saved: null, error: saved.error }, () =>
        out.warn(t('file.notSaved', { message: saved.error!.message, name: saved.error!.name })),
      );
      return 1;
    }
    out.result({ id: saved!.id, saved: saved!.path }, () =>
      out.line(t('file.savedTo', { path: saved!.path! })),
    );
  } finally {
    await account.close();
  }
  return 0;
}

export async function readCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values } = parse(argv, {
    'auto-download': { type: 'string' },
    'mark-read': { type: 'boolean', default: false },
  });
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
    // --mark-read: the conversations of what is printed here are marked read (read receipts go
    // out to the senders), as `parus chat` does for what it shows.
    let markedRead = 0;
    if (values['mark-read'] === true) {
      const received = messages.filter((m) => m.dir === 'in');
      for (const group of new Set(received.filter((m) => m.group !== undefined).map((m) => m.group!)))
        markedRead += await account.groups.markRead(group);
      for (const alias of new Set(received.filter((m) => m.group === undefined).map((m) => m.alias)))
        markedRead += await account.markRead(alias);
      if (markedRead > 0) await account.sync({ timeoutMs: 20_000 }).catch(() => undefined);
    }
    const result = {
      messages: withFiles,
      contacts: newContacts,
      invitations,
      requests,
      joined,
      refused,
      ...(values['mark-read'] === true ? { markedRead } : {}),
    };
    out.result(result, () => {
      for (const g of joined) out.line(t('read.joined', { name: shown(g.name), id: g.id }));
      for (const g of refused) out.line(formatRefusal(g));
      for (const r of requests) out.line(formatRequest(r));
      for (const c of newContacts) {
        out.line(t('read.newContact', { alias: shown(c.alias) }));
      }
      for (const g of invitations) out.line(formatGroup(g));
      for (const m of messages) {
        out.line(formatMessage(m));
        const f = files.find((x) => x.id === m.id);
        const again = { alias: shown(m.alias), id: m.id.slice(0, 12) };
        if (f?.path) out.line(t('read.savedTo', { path: f.path }));
        if (f?.tooLarge && m.file) {
          out.line(t('read.tooLarge', { size: formatBytes(m.file.size), limit: formatBytes(limit) }));
          out.line(t('read.downloadWith', again));
        }
        if (f?.error) {
          out.line(t('read.notSaved', { message: f.error.message, name: f.error.name }));
          out.line(t('read.tryLater', again));
        }
      }
      const told = newContacts.length + invitations.length + requests.length + joined.length + refused.length;
      if (messages.length === 0 && told === 0) out.line(t('read.none'));
      if (markedRead > 0) out.line(t('read.markedRead', { count: markedRead }));
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
  if (!alias) throw fault(UsageError, 'usage.history');
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    const isContact = account.contacts().some((c) => c.alias === alias);
    const messages = isContact ? await account.history(alias) : await account.groups.history(alias);
    out.result({ alias, messages }, () => {
      for (const m of messages) out.line(formatMessage(m));
      if (messages.length === 0) out.line(t('history.none', { alias: shown(alias) }));
    });
  } finally {
    await account.close();
  }
  return 0;
}
