import { createInterface } from 'node:readline';
import { UsageError } from '@parus/core';
import type { MessageInfo } from '@parus/client';
import { parse, str } from '../args.ts';
import { formatMessage } from '../format.ts';
import { groupChat } from './group.ts';
import { openAccount, resolveHome } from '../home.ts';
import type { Output } from '../output.ts';

const HELP = `Type a message and press Enter to send it.
  /help   this help
  /quit   leave the chat (Ctrl+D too)
Marks on your messages: … waiting, ✓ on the relay, ✓✓ delivered, 已讀 read.`;

export async function chatCommand(argv: string[], makeOut: (json: boolean) => Output): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const out = makeOut(values.json === true);
  const alias = positionals[0];
  if (!alias) throw new UsageError('usage: parus chat ALIAS');
  const account = await openAccount(resolveHome(str(values, 'home')));
  const interactive = process.stdin.isTTY === true;
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: interactive });
  const show = (text: string): void => {
    if (interactive) {
      process.stdout.write('\r\x1b[2K');
      process.stdout.write(`${text}\n`);
      rl.prompt(true);
    } else out.line(text);
  };
  const emit = (event: object, human: string): void => {
    if (out.json) process.stdout.write(`${JSON.stringify(event)}\n`);
    else show(human);
  };
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
      await groupChat(account, alias, out);
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
        show(`⚠ WARNING: ${alias}'s key changed. Verify again.`);
    });
    await account.start();
    await account.sync({ timeoutMs: 20_000 }).catch(() => undefined);
    const history = await account.history(alias);
    const sentTexts = new Map(history.filter((m) => m.dir === 'out').map((m) => [m.id, m.text]));
    // Live events only from here on: what came before is in the history just read.
    account.events.on('message', (m: MessageInfo) => {
      if (m.alias !== alias) return;
      emit({ event: 'message', message: m }, formatMessage(m));
      void account.markRead(alias);
    });
    account.events.on('receipt', (r) => {
      if (r.alias !== alias || r.status === 'sent') return;
      const snippet = (sentTexts.get(r.id) ?? r.id.slice(0, 8)).slice(0, 24);
      emit({ event: 'receipt', ...r }, `  ${r.status === 'read' ? '已讀' : '✓✓ delivered'}: ${snippet}`);
    });
    account.events.on('connection', (c) => {
      if (interactive) show(c.state === 'connected' ? '(connected)' : '(relay unreachable, retrying…)');
    });
    await account.takeUnshown();
    if (!out.json) {
      for (const m of history.slice(-20)) out.line(formatMessage(m));
      if (interactive) out.line(`— chatting with ${alias}; /help for help —`);
    }
    await account.markRead(alias);
    if (interactive) rl.prompt();
    for await (const raw of rl) {
      const line = raw.trim();
      if (line === '') {
        if (interactive) rl.prompt();
        continue;
      }
      if (line === '/quit' || line === '/exit') break;
      if (line === '/help') {
        show(HELP);
        continue;
      }
      if (line.startsWith('/')) {
        show(`unknown command ${line.split(' ')[0]}; /help lists them`);
        continue;
      }
      try {
        const m = await account.sendText(alias, raw);
        sentTexts.set(m.id, m.text);
        if (interactive) process.stdout.write('\x1b[1A\r\x1b[2K'); // replace the typed line by the message
        emit({ event: 'sent', message: m }, formatMessage(m));
      } catch (e) {
        show(`parus: ${(e as Error).message}`);
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
