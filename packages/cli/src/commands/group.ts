/** `parus group …`: private groups, and the group side of `parus chat`. */
import type { ChatTerminal } from '../chat-terminal.ts';
import { UsageError, isRoomLink } from '@parus/core';
import type { Account, GroupInfo, GroupMemberInfo, MessageInfo } from '@parus/client';
import { parse, str } from '../args.ts';
import { formatMessage, shown, shownText } from '../format.ts';
import { openAccount, resolveHome } from '../home.ts';
import { formatRefusal, joinRoomLink, printRoomLink, requestChat } from './room.ts';
import type { Output } from '../output.ts';
import { t } from '../i18n.ts';
import { progressLine } from '../files.ts';
import { readOutgoingFile } from '../outgoing-file.ts';

type MakeOut = (json: boolean) => Output;

export function formatGroup(g: GroupInfo): string {
  const name = g.alias ? `${shown(g.alias)} (${shown(g.name)})` : shown(g.name);
  if (g.refused) return formatRefusal(g);
  if (g.status === 'invited')
    return `✉ ${name}  invitation from ${shown(g.invitedBy ?? '?')} — parus group join ${g.id}`;
  const role = g.role ? `, you are ${g.role}` : '';
  const state =
    g.status === 'joined'
      ? `${g.members} members${role}`
      : g.status === 'removed'
        ? 'removed (kicked or banned)'
        : g.status;
  const sharing = g.status === 'joined' && g.shareHistory ? '\n    history sharing: on' : '';
  return `${name}  ${state}  id ${g.id}${g.topic ? `\n    topic: ${shownText(g.topic)}` : ''}${sharing}`;
}

function formatMember(m: GroupMemberInfo): string {
  return `${shown(m.name)}${m.me ? ' (you)' : ''}  ${m.role}  ${m.key.slice(0, 16)}${m.linked ? '' : '  (no session yet)'}`;
}

/** Sends what an action queued, and what it set off; a down relay leaves it in the outbox. */
async function deliver(account: Account): Promise<string | null> {
  try {
    await account.start();
    await account.sync({ timeoutMs: 30_000 });
    return null;
  } catch {
    return 'the relay is not reachable now; this waits in the outbox and goes out on the next run';
  }
}

export async function groupCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, {
    me: { type: 'boolean', default: false },
    ping: { type: 'boolean', default: false },
    public: { type: 'boolean', default: false },
    rotate: { type: 'boolean', default: false },
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
      throw new UsageError(`usage: ${usage}`);
    return args;
  };
  if (!sub) throw new UsageError(`usage:\n  ${t('help.group')}`);
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    const g = account.groups;
    const done = async (info: GroupInfo, human: string): Promise<void> => {
      const note = await deliver(account);
      const latest = g.list().find((x) => x.id === info.id) ?? info;
      out.result({ group: latest, note }, () => {
        out.line(human);
        if (note) out.warn(note);
      });
    };
    switch (sub) {
      case 'create': {
        const name = need(1, 'parus group create NAME').join(' ');
        const info = await g.create(name, { public: values.public === true });
        await done(
          info,
          info.public
            ? `Public room ${info.name} created (id ${info.id}). Share it with: parus group link ${info.name}`
            : `Group ${info.name} created (id ${info.id}). Invite with: parus group invite ${info.name} ALIAS`,
        );
        break;
      }
      case 'link': {
        const [ref] = need(1, 'parus group link GROUP [--rotate] [--qr FILE]');
        await printRoomLink(account, out, ref!, { rotate: values.rotate === true, qr: str(values, 'qr') });
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
        await done(info, `Invitation to ${info.name} sent to ${alias}.`);
        break;
      }
      case 'list': {
        const note = await deliver(account);
        const groups = g.list();
        out.result({ groups, note }, () => {
          for (const x of groups) out.line(formatGroup(x));
          if (groups.length === 0) out.line('No groups yet.');
          if (note) out.warn(note);
        });
        break;
      }
      case 'join': {
        const [ref] = need(1, 'parus group join ID|LINK');
        if (isRoomLink(ref!)) {
          const wait = str(values, 'wait');
          const seconds = wait === undefined ? 0 : Number(wait);
          if (!Number.isInteger(seconds) || seconds < 0 || seconds > 3600)
            throw new UsageError('--wait takes whole seconds, 0-3600');
          return await joinRoomLink(account, out, ref!, str(values, 'nick'), seconds);
        }
        await deliver(account); // the invitation's events may still be on their way
        const info = await g.join(ref!);
        await done(info, `Joined ${info.name}.`);
        break;
      }
      case 'decline': {
        const [ref] = need(1, 'parus group decline ID');
        const info = g.get(ref!);
        await g.decline(ref!);
        const note = await deliver(account);
        out.result({ declined: info.id, note }, () => out.line(`Declined the invitation to ${info.name}.`));
        break;
      }
      case 'alias': {
        const [ref, ...name] = need(2, 'parus group alias ID NAME');
        const info = await g.setAlias(ref!, name.join(' '));
        out.result({ group: info }, () => out.line(`Group ${info.id} is now called ${info.alias} here.`));
        break;
      }
      case 'leave': {
        const [ref] = need(1, 'parus group leave GROUP');
        const info = await g.leave(ref!);
        await done(info, `You left ${info.name}.`);
        break;
      }
      case 'kick':
      case 'ban':
      case 'unban': {
        const [ref, member] = need(2, `parus group ${sub} GROUP MEMBER`);
        const info = await g[sub](ref!, member!);
        await done(
          info,
          `${member} ${sub === 'kick' ? 'removed from' : sub === 'ban' ? 'banned from' : 'unbanned in'} ${info.name}.`,
        );
        break;
      }
      case 'role': {
        const [ref, member, role] = need(3, 'parus group role GROUP MEMBER admin|moderator|member');
        const info = await g.setRole(ref!, member!, role!);
        await done(info, `${member} is now ${role} in ${info.name}.`);
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
          `${sub === 'nick' ? 'Your nick' : sub === 'name' ? 'The name' : 'The topic'} is now: ${text}`,
        );
        break;
      }
      case 'history-sharing': {
        const [ref, value] = need(2, 'parus group history-sharing GROUP on|off');
        if (value !== 'on' && value !== 'off')
          throw new UsageError('usage: parus group history-sharing GROUP on|off');
        const info = await g.setShareHistory(ref!, value === 'on');
        await done(
          info,
          value === 'on'
            ? `History sharing is on in ${info.name}: newcomers will get the messages written from now on.`
            : `History sharing is off in ${info.name}: newcomers read only what comes after they join.`,
        );
        break;
      }
      case 'confirm': {
        const [ref, id] = need(2, 'parus group confirm GROUP MSGID');
        await deliver(account);
        const m = await g.confirmLate(ref!, id!.replace(/^#/, ''));
        const note = await deliver(account);
        const latest = (await g.history(ref!)).find((x) => x.id === m.id) ?? m;
        out.result({ message: latest, note }, () => {
          out.line(formatMessage(latest));
          if (note) out.warn(note);
        });
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
        const note = await deliver(account);
        const latest = (await g.history(ref!)).find((x) => x.id === m.id) ?? m;
        out.result({ message: latest, note }, () => {
          out.line(formatMessage(latest));
          if (note) out.warn(note);
        });
        break;
      }
      case 'send-file': {
        const [ref, path] = need(2, 'parus group send-file GROUP PATH [--name N] [--mime TYPE]');
        if (args.length > 2)
          throw new UsageError('usage: parus group send-file GROUP PATH [--name N] [--mime TYPE]');
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
        const note = await deliver(account);
        const latest = (await g.history(ref!)).find((x) => x.id === m.id) ?? m;
        out.result({ message: latest, note }, () => {
          out.line(formatMessage(latest));
          if (note) out.warn(note);
        });
        break;
      }
      default:
        throw new UsageError(`unknown group command '${sub}'\n  ${t('help.group')}`);
    }
  } finally {
    await account.close();
  }
  return 0;
}

const CHAT_HELP = `Type a message and press Enter to send it to the group.
  /me ACTION          an action ("* you waves")
  /topic TEXT         set the topic (moderators)
  /nick NICK          your nick in this group
  /invite ALIAS       invite a contact
  /kick MEMBER        remove a member (moderators)
  /ban MEMBER         ban a member (moderators)
  /op MEMBER [ROLE]   make a member moderator, or give ROLE (admin|moderator|member)
  /confirm MSGID      confirm a message marked late (its #id)
  /help  /quit`;

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
      emit({ event: 'group', ...c }, `(${c.change})`);
    });
    await account.takeUnshown();
    if (!out.json) {
      const info = g.get(id);
      for (const m of history.slice(-20)) out.line(formatMessage(m));
      if (interactive)
        out.line(`— ${shown(info.name)}${info.topic ? `: ${shownText(info.topic)}` : ''}; /help for help —`);
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
        } else if (cmd === '/help') show(CHAT_HELP);
        else if (cmd === '/me')
          emit(
            { event: 'sent', message: await g.send(id, arg, { kind: 'action' }) },
            `* ${account.name} ${arg}`,
          );
        else if (cmd === '/topic') show(`topic: ${(await g.setTopic(id, arg)).topic}`);
        else if (cmd === '/nick') {
          await g.setNick(id, arg);
          show(`your nick is now ${arg}`);
        } else if (cmd === '/invite') {
          await g.invite(id, arg);
          show(`invited ${arg}`);
        } else if (cmd === '/kick' || cmd === '/ban') {
          if (cmd === '/kick') await g.kick(id, arg);
          else await g.ban(id, arg);
          show(`${cmd === '/kick' ? 'kicked' : 'banned'} ${arg}`);
        } else if (cmd === '/op') {
          const [member, role] = rest;
          if (!member) throw new UsageError('usage: /op MEMBER [ROLE]');
          await g.setRole(id, member, role ?? 'moderator');
          show(`${member} is now ${role ?? 'moderator'}`);
        } else if (cmd === '/confirm') {
          if (!arg) throw new UsageError('usage: /confirm MSGID');
          const m = await g.confirmLate(id, arg.replace(/^#/, ''));
          show(
            m.confirmed
              ? 'confirmed: the message moves to its place'
              : `confirmed (${m.confirmations ?? 0}/${m.confirmationsNeeded ?? '?'})`,
          );
        } else show(`unknown command ${cmd}; /help lists them`);
      } catch (e) {
        show(`parus: ${(e as Error).message}`);
      }
      if (interactive) rl.prompt();
    }
    await account.sync({ timeoutMs: 20_000 }).catch(() => undefined);
  } finally {
    rl.close();
  }
}
