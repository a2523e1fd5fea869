/** `parus group …`: private groups, and the group side of `parus chat`. */
import type { ChatTerminal } from '../chat-terminal.ts';
import { GROUP_AVATAR_BOUNDS, UsageError, isRoomLink, isShortRoomLink } from '@parus/core';
import type { Account, GroupInfo, GroupMemberInfo, MessageInfo } from '@parus/client';
import { parse, str } from '../args.ts';
import { formatMessage, shown, shownText } from '../format.ts';
import { openAccount, resolveHome } from '../home.ts';
import { formatRefusal, joinRoomLink, printRoomLink, requestChat } from './room.ts';
import type { Output } from '../output.ts';
import { en, fault, localMessage, t } from '../i18n.ts';
import { progressLine } from '../files.ts';
import { readOutgoingFile } from '../outgoing-file.ts';
import { avatarFrom } from './profile.ts';
import { stickerFor, stickerListing } from '../stickers.ts';

type MakeOut = (json: boolean) => Output;

export function formatGroup(g: GroupInfo): string {
  const name = g.alias ? `${shown(g.alias)} (${shown(g.name)})` : shown(g.name);
  if (g.refused) return formatRefusal(g);
  if (g.status === 'invited')
    return t('group.invitation', { name, from: shown(g.invitedBy ?? '?'), id: g.id });
  const state =
    g.status === 'joined'
      ? g.role
        ? t('group.membersRole', { count: g.members, role: roleName(g.role) })
        : t('group.members', { count: g.members })
      : g.status === 'removed'
        ? t('group.removed')
        : t('group.leftState');
  const sharing = g.status === 'joined' && g.shareHistory ? `\n    ${t('group.sharingOn')}` : '';
  const topic = g.topic ? `\n    ${t('group.topicLine', { topic: shownText(g.topic) })}` : '';
  return `${name}  ${state}  id ${g.id}${topic}${sharing}`;
}

function formatMember(m: GroupMemberInfo): string {
  const you = m.me ? ` ${t('group.you')}` : '';
  const linked = m.linked ? '' : `  ${t('group.noSession')}`;
  return `${shown(m.name)}${you}  ${roleName(m.role)}  ${m.key.slice(0, 16)}${linked}`;
}

/** A member role as people read it (the role names stay as typed in commands). */
function roleName(role: string): string {
  return role === 'creator' || role === 'admin' || role === 'moderator' || role === 'member'
    ? t(`role.${role}`)
    : role;
}

/** Sends what an action queued, and what it set off; a down relay leaves it in the outbox. */
async function deliver(account: Account): Promise<string | null> {
  try {
    await account.start();
    await account.sync({ timeoutMs: 30_000 });
    return null;
  } catch {
    return en('outbox.waits');
  }
}

export async function groupCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, {
    me: { type: 'boolean', default: false },
    ping: { type: 'boolean', default: false },
    public: { type: 'boolean', default: false },
    rotate: { type: 'boolean', default: false },
    long: { type: 'boolean', default: false },
    none: { type: 'boolean', default: false },
    qr: { type: 'string' },
    nick: { type: 'string' },
    note: { type: 'string' },
    wait: { type: 'string' },
    name: { type: 'string' },
    mime: { type: 'string' },
  });
  const out = makeOut(values.json === true);
  const [sub, ...args] = positionals;
  const need = (n: number, usage: string): string[] => {
    if (args.length < n || args.slice(0, n).some((a) => a.trim() === ''))
      throw fault(UsageError, 'usage.generic', { usage });
    return args;
  };
  if (!sub) throw fault(UsageError, 'usage.group', { help: en('help.group') });
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    const g = account.groups;
    const done = async (info: GroupInfo, human: string): Promise<void> => {
      const note = await deliver(account);
      const latest = g.list().find((x) => x.id === info.id) ?? info;
      out.result({ group: latest, note }, () => {
        out.line(human);
        if (note) out.warn(t('outbox.waits'));
      });
    };
    // A message this command made or changed, as the group's history now shows it.
    const sent = async (ref: string, m: MessageInfo): Promise<void> => {
      const note = await deliver(account);
      const latest = (await g.history(ref)).find((x) => x.id === m.id) ?? m;
      out.result({ message: latest, note }, () => {
        out.line(formatMessage(latest));
        if (note) out.warn(t('outbox.waits'));
      });
    };
    switch (sub) {
      case 'create': {
        const name = need(1, 'parus group create NAME').join(' ');
        const info = await g.create(name, { public: values.public === true });
        await done(
          info,
          info.public
            ? t('group.createdRoom', { name: shown(info.name), id: info.id })
            : t('group.created', { name: shown(info.name), id: info.id }),
        );
        break;
      }
      case 'link': {
        const [ref] = need(1, 'parus group link GROUP [--rotate] [--long] [--qr FILE]');
        await printRoomLink(account, out, ref!, {
          rotate: values.rotate === true,
          long: values.long === true,
          qr: str(values, 'qr'),
        });
        break;
      }
      case 'chat': {
        const [ref, member] = need(2, 'parus group chat GROUP MEMBER [--note TEXT]');
        await requestChat(account, out, ref!, member!, str(values, 'note'));
        break;
      }
      case 'invite': {
        const [ref, alias] = need(2, 'parus group invite GROUP ALIAS');
        const info = await g.invite(ref!, alias!);
        await done(info, t('group.invited', { name: shown(info.name), alias: shown(alias!) }));
        break;
      }
      case 'list': {
        const note = await deliver(account);
        const groups = g.list();
        out.result({ groups, note }, () => {
          for (const x of groups) out.line(formatGroup(x));
          if (groups.length === 0) out.line(t('group.none'));
          if (note) out.warn(t('outbox.waits'));
        });
        break;
      }
      case 'join': {
        const [ref] = need(1, 'parus group join ID|LINK');
        if (isRoomLink(ref!) || isShortRoomLink(ref!)) {
          const wait = str(values, 'wait');
          const seconds = wait === undefined ? 0 : Number(wait);
          if (!Number.isInteger(seconds) || seconds < 0 || seconds > 3600)
            throw fault(UsageError, 'group.wait');
          return await joinRoomLink(account, out, ref!, str(values, 'nick'), seconds);
        }
        await deliver(account); // the invitation's events may still be on their way
        const info = await g.join(ref!);
        await done(info, t('group.joined', { name: shown(info.name) }));
        break;
      }
      case 'decline': {
        const [ref] = need(1, 'parus group decline ID');
        const info = g.get(ref!);
        await g.decline(ref!);
        const note = await deliver(account);
        out.result({ declined: info.id, note }, () =>
          out.line(t('group.declined', { name: shown(info.name) })),
        );
        break;
      }
      case 'alias': {
        const [ref, ...name] = need(2, 'parus group alias ID NAME');
        const info = await g.setAlias(ref!, name.join(' '));
        out.result({ group: info }, () =>
          out.line(t('group.aliased', { id: info.id, alias: shown(info.alias ?? '') })),
        );
        break;
      }
      case 'leave': {
        const [ref] = need(1, 'parus group leave GROUP');
        const info = await g.leave(ref!);
        await done(info, t('group.left', { name: shown(info.name) }));
        break;
      }
      case 'kick':
      case 'ban':
      case 'unban': {
        const [ref, member] = need(2, `parus group ${sub} GROUP MEMBER`);
        const info = await g[sub](ref!, member!);
        await done(
          info,
          t(sub === 'kick' ? 'group.kicked' : sub === 'ban' ? 'group.banned' : 'group.unbanned', {
            member: shown(member!),
            name: shown(info.name),
          }),
        );
        break;
      }
      case 'role': {
        const [ref, member, role] = need(3, 'parus group role GROUP MEMBER admin|moderator|member');
        const info = await g.setRole(ref!, member!, role!);
        await done(
          info,
          t('group.roleSet', { member: shown(member!), role: roleName(role!), name: shown(info.name) }),
        );
        break;
      }
      case 'topic':
      case 'name':
      case 'nick': {
        const [ref, ...words] = need(2, `parus group ${sub} GROUP TEXT`);
        const text = words.join(' ');
        const info =
          sub === 'topic'
            ? await g.setTopic(ref!, text)
            : sub === 'name'
              ? await g.setName(ref!, text)
              : await g.setNick(ref!, text);
        await done(
          info,
          t(sub === 'nick' ? 'group.nickSet' : sub === 'name' ? 'group.nameSet' : 'group.topicSet', {
            text: shownText(text),
          }),
        );
        break;
      }
      case 'avatar': {
        // The group's picture (decision 0066): shrunk as a profile avatar is, to the group's bounds.
        const none = values.none === true;
        const [ref, file] = need(1, 'parus group avatar GROUP FILE|--none');
        if (none === (file !== undefined)) throw fault(UsageError, 'group.avatarBoth');
        const info = await g.setAvatar(ref!, none ? null : await avatarFrom(file!, GROUP_AVATAR_BOUNDS));
        await done(info, t(none ? 'group.avatarRemoved' : 'group.avatarSet', { name: shown(info.name) }));
        break;
      }
      case 'history-sharing': {
        const [ref, value] = need(2, 'parus group history-sharing GROUP on|off');
        if (value !== 'on' && value !== 'off')
          throw fault(UsageError, 'usage.generic', { usage: 'parus group history-sharing GROUP on|off' });
        const info = await g.setShareHistory(ref!, value === 'on');
        await done(
          info,
          value === 'on'
            ? t('group.sharingOnSet', { name: shown(info.name) })
            : t('group.sharingOffSet', { name: shown(info.name) }),
        );
        break;
      }
      case 'confirm': {
        const [ref, id] = need(2, 'parus group confirm GROUP MSGID');
        await deliver(account);
        const m = await g.confirmLate(ref!, id!.replace(/^#/, ''));
        await sent(ref!, m);
        break;
      }
      case 'members': {
        const [ref] = need(1, 'parus group members GROUP');
        await deliver(account);
        const info = g.get(ref!);
        const members = g.members(ref!);
        out.result({ group: info, members }, () => {
          out.line(formatGroup(info));
          for (const m of members) out.line(`  ${formatMember(m)}`);
        });
        break;
      }
      case 'send': {
        const [ref, ...words] =
          values.ping === true
            ? need(1, 'parus group send GROUP --ping')
            : need(2, 'parus group send GROUP TEXT');
        const kind = values.ping === true ? 'ping' : values.me === true ? 'action' : 'text';
        const m = await g.send(ref!, words.join(' '), { kind });
        await sent(ref!, m);
        break;
      }
      case 'send-file': {
        const [ref, path] = need(2, 'parus group send-file GROUP PATH [--name N] [--mime TYPE]');
        if (args.length > 2) throw fault(UsageError, 'usage.groupSendFile');
        const file = await readOutgoingFile(path!, { name: str(values, 'name'), mime: str(values, 'mime') });
        const progress = progressLine(t('file.uploading', { name: shown(file.name) }));
        let m: MessageInfo;
        try {
          m = await account.sendGroupFile(
            ref!,
            file,
            progress.onProgress ? { onProgress: progress.onProgress } : {},
          );
        } finally {
          progress.end();
        }
        await sent(ref!, m);
        break;
      }
      default:
        throw fault(UsageError, 'group.unknown', { sub, help: en('help.group') });
    }
  } finally {
    await account.close();
  }
  return 0;
}

/** `parus chat GROUP`: the group's recent history, then live messages and slash commands. */
export async function groupChat(
  account: Account,
  ref: string,
  out: Output,
  terminal: ChatTerminal,
): Promise<void> {
  const g = account.groups;
  const id = g.get(ref).id;
  const { rl, lines, interactive, show, emit } = terminal;
  try {
    rl.setPrompt(`${shown(account.name)}@${shown(g.get(id).name)}> `);
    await account.start();
    await account.sync({ timeoutMs: 20_000 }).catch(() => undefined);
    const history = await g.history(id);
    account.events.on('message', (m: MessageInfo) => {
      if (m.group !== id) return;
      emit({ event: 'message', message: m }, formatMessage(m));
      void g.markRead(id);
    });
    account.events.on('group', (c) => {
      if (c.group !== id || c.change === 'state') return;
      emit({ event: 'group', ...c }, t('group.change', { change: c.change }));
    });
    await account.takeUnshown();
    if (!out.json) {
      const info = g.get(id);
      for (const m of history.slice(-20)) out.line(formatMessage(m));
      if (interactive)
        out.line(
          info.topic
            ? t('group.bannerTopic', { name: shown(info.name), topic: shownText(info.topic) })
            : t('group.banner', { name: shown(info.name) }),
        );
    }
    await g.markRead(id);
    if (interactive) rl.prompt();
    for await (const raw of lines) {
      const line = raw.trim();
      if (line === '') {
        if (interactive) rl.prompt();
        continue;
      }
      if (line === '/quit' || line === '/exit') break;
      try {
        const [cmd, ...rest] = line.split(/\s+/);
        const arg = line.slice(cmd!.length).trim();
        if (!line.startsWith('/')) {
          const m = await g.send(id, raw);
          if (interactive) process.stdout.write('\x1b[1A\r\x1b[2K');
          emit({ event: 'sent', message: m }, formatMessage(m));
        } else if (cmd === '/help') show(t('group.chatHelp'));
        else if (cmd === '/stickers') for (const l of stickerListing(arg)) show(l);
        else if (cmd === '/sticker') {
          const sticker = arg === '' ? undefined : stickerFor(arg);
          if (!sticker) show(t(arg === '' ? 'chat.stickerUsage' : 'sticker.unknown', { name: arg }));
          else {
            const m = await g.sendSticker(id, sticker.pack, sticker.id);
            if (interactive) process.stdout.write('\x1b[1A\r\x1b[2K');
            emit({ event: 'sent', message: m }, formatMessage(m));
          }
        } else if (cmd === '/me')
          emit(
            { event: 'sent', message: await g.send(id, arg, { kind: 'action' }) },
            `* ${account.name} ${arg}`,
          );
        else if (cmd === '/topic')
          show(t('group.topicLine', { topic: shownText((await g.setTopic(id, arg)).topic ?? '') }));
        else if (cmd === '/nick') {
          await g.setNick(id, arg);
          show(t('group.nickNow', { nick: shown(arg) }));
        } else if (cmd === '/invite') {
          await g.invite(id, arg);
          show(t('group.invitedShort', { alias: shown(arg) }));
        } else if (cmd === '/kick' || cmd === '/ban') {
          if (cmd === '/kick') await g.kick(id, arg);
          else await g.ban(id, arg);
          show(t(cmd === '/kick' ? 'group.kickedShort' : 'group.bannedShort', { member: shown(arg) }));
        } else if (cmd === '/op') {
          const [member, role] = rest;
          if (!member) throw fault(UsageError, 'group.opUsage');
          await g.setRole(id, member, role ?? 'moderator');
          show(t('group.roleNow', { member: shown(member), role: roleName(role ?? 'moderator') }));
        } else if (cmd === '/confirm') {
          if (!arg) throw fault(UsageError, 'group.confirmUsage');
          const m = await g.confirmLate(id, arg.replace(/^#/, ''));
          show(
            m.confirmed
              ? t('group.confirmedPlaced')
              : t('group.confirmedCount', {
                  count: m.confirmations ?? 0,
                  needed: m.confirmationsNeeded ?? '?',
                }),
          );
        } else show(t('chat.unknownCommand', { command: cmd! }));
      } catch (e) {
        show(t('chat.error', { message: localMessage(e as Error) }));
      }
      if (interactive) rl.prompt();
    }
    await account.sync({ timeoutMs: 20_000 }).catch(() => undefined);
  } finally {
    rl.close();
  }
}
