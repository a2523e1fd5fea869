/**
 * Public rooms and private chat requests on the command line (docs/decisions/0013):
 * `parus group link`, `parus group join LINK`, `parus group chat`, and `parus requests`.
 */
import QRCode from 'qrcode';
import { UsageError } from '@parus/core';
import type { Account, ChatRequestInfo, GroupInfo, RoomRefusal } from '@parus/client';
import { parse, str } from '../args.ts';
import { shown, shownText } from '../format.ts';
import { openAccount, resolveHome } from '../home.ts';
import type { Output } from '../output.ts';
import { writeQr } from './account.ts';
import { en, fault, t, type MessageKey } from '../i18n.ts';
import { resolveLink } from './links.ts';

type MakeOut = (json: boolean) => Output;

/** Sends what waits, and takes in what came; a down relay leaves it for the next run. */
async function exchange(account: Account): Promise<string | null> {
  try {
    await account.start();
    await account.sync({ timeoutMs: 30_000 });
    return null;
  } catch {
    return en('outbox.waits');
  }
}

export function formatRequest(r: ChatRequestInfo): string {
  const note = r.note ? `  “${shownText(r.note)}”` : '';
  return t('request.line', { from: shown(r.from), group: shown(r.groupName), note, id: r.id });
}

export async function printRoomLink(
  account: Account,
  out: Output,
  ref: string,
  opts: { rotate: boolean; long: boolean; qr: string | undefined },
): Promise<void> {
  const note = await exchange(account);
  // The short link (decision 0059) unless --long; the long one when the relay keeps no records.
  const made = await account.roomLink(ref, { rotate: opts.rotate });
  const link = opts.long ? made.longLink : made.link;
  if (opts.qr) await writeQr(opts.qr, link);
  const info = account.groups.get(ref);
  out.result(
    { group: info, link, longLink: made.longLink, short: link !== made.longLink, qr: opts.qr ?? null, note },
    () => {
      out.line(t(opts.rotate ? 'room.linkRotated' : 'room.link', { name: shown(info.name) }));
      out.line(link);
      if (opts.qr) out.line(t('qr.written', { path: opts.qr }));
      if (note) out.warn(t('outbox.waits'));
    },
  );
  if (!out.json && !opts.qr) {
    const qr = await QRCode.toString(link, { type: 'utf8', errorCorrectionLevel: 'L' });
    const width = qr.split('\n')[0]?.length ?? 0;
    if (width <= (process.stdout.columns ?? 80)) process.stdout.write(qr);
    else out.line(t('qr.tooWide', { width, file: 'room.png' }));
  }
}

/** Why a room's door refused a join, for people (decision 0017). */
export const REFUSAL_TEXT: Record<RoomRefusal, MessageKey> = {
  'link-invalid': 'refusal.linkInvalid',
  'not-allowed': 'refusal.notAllowed',
  'too-many-joins': 'refusal.tooMany',
};

export function formatRefusal(g: GroupInfo): string {
  return t('refusal.line', { name: shown(g.name), why: t(REFUSAL_TEXT[g.refused!]), id: g.id });
}

/** Resolves once the room `id` is joined or refused, or after `ms`. */
function doorAnswer(account: Account, id: string, ms: number): Promise<void> {
  const answered = (): boolean => {
    const g = account.groups.list().find((x) => x.id === id);
    return !g || g.status !== 'invited' || g.refused !== undefined;
  };
  if (answered()) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(finish, ms);
    const off = account.events.on('group', (c) => {
      if (c.group === id && answered()) finish();
    });
    function finish(): void {
      clearTimeout(timer);
      off();
      done();
    }
  });
}

/**
 * `parus group join LINK`: asks the room's door, and with `wait` (seconds) stays online until it
 * answers. A refusal (then or already) is an error: exit status 1, `refused` in the JSON.
 */
export async function joinRoomLink(
  account: Account,
  out: Output,
  link: string,
  nick: string | undefined,
  wait = 0,
): Promise<number> {
  await account.start();
  // A short link is fetched first; its refusals are the long form's (links.ts).
  const long = await resolveLink(() => account.resolveRoomLink(link));
  const started = await resolveLink(() => account.groups.joinRoom(long, nick === undefined ? {} : { nick }));
  let note = await exchange(account);
  if (wait > 0 && !note) {
    await doorAnswer(account, started.id, wait * 1000);
    note = await exchange(account);
  }
  const info = account.groups.list().find((g) => g.id === started.id) ?? started;
  out.result({ group: info, refused: info.refused ?? null, note }, () => {
    if (info.refused) out.warn(t('chat.error', { message: formatRefusal(info) }));
    else if (info.status === 'joined') out.line(t('read.joined', { name: shown(info.name), id: info.id }));
    else out.line(t('room.asked', { name: shown(info.name), id: info.id }));
    if (note) out.warn(t('outbox.waits'));
  });
  return info.refused ? 1 : 0;
}

export async function requestChat(
  account: Account,
  out: Output,
  ref: string,
  member: string,
  note: string | undefined,
): Promise<void> {
  await account.start();
  await account.sync({ timeoutMs: 30_000 }).catch(() => undefined);
  const r = await account.groups.requestChat(ref, member, note === undefined ? {} : { note });
  const warn = await exchange(account);
  out.result({ requested: member, group: account.groups.get(ref).id, expires: r.expires, note: warn }, () => {
    out.line(t('request.asked', { member: shown(member) }));
    if (warn) out.warn(t('outbox.waits'));
  });
}

export async function requestsCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, { alias: { type: 'string' } });
  const out = makeOut(values.json === true);
  const [sub, id] = positionals;
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    const g = account.groups;
    switch (sub) {
      case undefined: {
        const note = await exchange(account);
        const requests = await g.chatRequests();
        out.result({ requests, note }, () => {
          for (const r of requests) out.line(formatRequest(r));
          if (requests.length === 0) out.line(t('request.none'));
          if (note) out.warn(t('outbox.waits'));
        });
        break;
      }
      case 'accept': {
        if (!id) throw fault(UsageError, 'usage.generic', { usage: 'parus requests accept ID [--alias A]' });
        await account.start();
        const alias = str(values, 'alias');
        const contact = await g.acceptChatRequest(id, alias === undefined ? {} : { alias });
        const note = await exchange(account);
        out.result({ contact, note }, () => {
          out.line(t('request.accepted', { alias: shown(contact.alias) }));
          if (note) out.warn(t('outbox.waits'));
        });
        break;
      }
      case 'decline': {
        if (!id) throw fault(UsageError, 'usage.generic', { usage: 'parus requests decline ID' });
        await g.declineChatRequest(id);
        out.result({ declined: id }, () => out.line(t('request.declined')));
        break;
      }
      default:
        throw fault(UsageError, 'request.unknown', { sub, help: en('help.requests') });
    }
  } finally {
    await account.close();
  }
  return 0;
}
