import { UsageError } from '@parus/core';
import type { MessageInfo } from '@parus/client';
import { parse, str } from '../args.ts';
import { openChatTerminal } from '../chat-terminal.ts';
import { formatMessage, shown } from '../format.ts';
import { groupChat } from './group.ts';
import { fault, localMessage, t } from '../i18n.ts';
import { openAccount, resolveHome } from '../home.ts';
import type { Output } from '../output.ts';
import { stickerFor, stickerListing } from '../stickers.ts';

export async function chatCommand(argv: string[], makeOut: (json: boolean) => Output): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const out = makeOut(values.json === true);
  const alias = positionals[0];
  if (!alias) throw fault(UsageError, 'usage.chat');
  const account = await openAccount(resolveHome(str(values, 'home')));
  const terminal = openChatTerminal(out);
  const { rl, lines, interactive, show, emit } = terminal;
  let isGroup = false;
  if (!account.contacts().some((c) => c.alias === alias)) {
    try {
      account.groups.get(alias);
      isGroup = true;
    } catch {
      // not a group either: the contact path below reports it
    }
  }
  if (isGroup) {
    try {
      await groupChat(account, alias, out, terminal);
    } finally {
      await account.close();
    }
    return 0;
  }
  try {
    account.contact(alias);
    rl.setPrompt(`${account.name}> `);
    account.events.on('contact', (c) => {
      if (c.alias === alias && c.change === 'key-changed')
        show(t('chat.keyChanged', { alias: shown(alias) }));
    });
    await account.start();
    await account.sync({ timeoutMs: 20_000 }).catch(() => undefined);
    const history = await account.history(alias);
    const sentTexts = new Map(history.filter((m) => m.dir === 'out').map((m) => [m.id, m.text]));
    // Live events only from here on: what came before is in the history just read.
    account.events.on('message', (m: MessageInfo) => {
      if (m.alias !== alias) return;
      emit({ event: 'message', message: m }, formatMessage(m));
      if (m.file && !m.unsent && !out.json)
        show(t('chat.saveWith', { alias: shown(alias), id: m.id.slice(0, 12) }));
      void account.markRead(alias);
    });
    account.events.on('receipt', (r) => {
      if (r.alias !== alias || r.status === 'sent') return;
      const snippet = (sentTexts.get(r.id) ?? r.id.slice(0, 8)).slice(0, 24);
      emit({ event: 'receipt', ...r }, t(r.status === 'read' ? 'chat.read' : 'chat.delivered', { snippet }));
    });
    account.events.on('unsent', (u) => {
      if (u.alias === alias) emit({ event: 'unsent', ...u }, t('chat.unsent', { id: u.id.slice(0, 12) }));
    });
    account.events.on('typing', (typing) => {
      if (typing.alias === alias && interactive && !out.json) show(t('chat.typing', { alias: shown(alias) }));
    });
    // Once per outage and relay: the engine announces every scheduled attempt (at most 4 s apart).
    const down = new Set<string>();
    account.events.on('connection', (c) => {
      if (!interactive) return;
      if (c.state === 'connected') {
        down.delete(c.relay);
        show(t('chat.connected'));
      } else if (c.retryAt !== undefined && !down.has(c.relay)) {
        down.add(c.relay);
        const seconds = Math.max(1, Math.ceil((c.retryAt - Date.now()) / 1000));
        show(t('chat.unreachable', { seconds }));
      }
    });
    await account.takeUnshown();
    if (!out.json) {
      for (const m of history.slice(-20)) out.line(formatMessage(m));
      if (interactive) out.line(t('chat.banner', { alias: shown(alias) }));
    }
    await account.markRead(alias);
    // Typing signals: the engine sends at most one per 3 s, and only while connected.
    if (interactive) process.stdin.on('keypress', () => void account.sendTyping(alias).catch(() => false));
    if (interactive) rl.prompt();
    for await (const raw of lines) {
      const line = raw.trim();
      if (line === '') {
        if (interactive) rl.prompt();
        continue;
      }
      if (line === '/quit' || line === '/exit') break;
      if (line === '/help') {
        show(t('chat.help'));
        continue;
      }
      if (line === '/stickers' || line.startsWith('/stickers ')) {
        for (const l of stickerListing(line.slice('/stickers'.length))) show(l);
        continue;
      }
      if (line === '/retry') {
        const waiting = account.retryAt() !== undefined;
        account.retryNow();
        show(t(waiting ? 'chat.reconnecting' : 'chat.notWaiting'));
        continue;
      }
      const [command, ...args] = line.split(/\s+/);
      const rest = line.slice(command!.length).trim();
      if (line.startsWith('/') && !['/me', '/sticker', '/unsend'].includes(command!)) {
        show(t('chat.unknownCommand', { command: command! }));
        continue;
      }
      try {
        if (command === '/unsend') {
          const prefix = (args[0] ?? '').replace(/^#/, '').toLowerCase();
          const ids = (await account.history(alias))
            .filter((m) => m.dir === 'out' && prefix.length >= 8 && m.id.startsWith(prefix))
            .map((m) => m.id);
          if (ids.length !== 1) {
            show(t('chat.unsendUsage'));
            continue;
          }
          await account.unsend(alias, ids[0]!); // the 'unsent' event prints it
          continue;
        }
        if ((command === '/me' || command === '/sticker') && rest === '') {
          show(t(command === '/me' ? 'chat.meUsage' : 'chat.stickerUsage'));
          continue;
        }
        const sticker = command === '/sticker' ? stickerFor(rest) : undefined;
        if (command === '/sticker' && !sticker) {
          show(t('sticker.unknown', { name: rest }));
          continue;
        }
        const m =
          command === '/me'
            ? await account.sendText(alias, rest, { action: true })
            : sticker
              ? await account.sendSticker(alias, sticker.pack, sticker.id)
              : await account.sendText(alias, raw);
        sentTexts.set(m.id, m.text);
        if (interactive) process.stdout.write('\x1b[1A\r\x1b[2K'); // replace the typed line by the message
        emit({ event: 'sent', message: m }, formatMessage(m));
      } catch (e) {
        show(t('chat.error', { message: localMessage(e as Error) }));
      }
      if (interactive) rl.prompt();
    }
    await account.sync({ timeoutMs: 20_000 }).catch(() => undefined);
  } finally {
    rl.close();
    await account.close();
  }
  return 0;
}
