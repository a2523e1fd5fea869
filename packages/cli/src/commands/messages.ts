import { UsageError } from '@parus/core';
import { parse, str } from '../args.ts';
import { formatMessage } from '../format.ts';
import { formatGroup } from './group.ts';
import { openAccount, resolveHome } from '../home.ts';
import type { Output } from '../output.ts';

type MakeOut = (json: boolean) => Output;

export async function sendCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, { reply: { type: 'string' } });
  const out = makeOut(values.json === true);
  const [alias, ...words] = positionals;
  const text = words.join(' ');
  if (!alias || !text) throw new UsageError('usage: parus send ALIAS TEXT');
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    const reply = str(values, 'reply');
    const message = await account.sendText(alias, text, reply ? { replyTo: reply } : {});
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
  } finally {
    await account.close();
  }
  return 0;
}

export async function readCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values } = parse(argv, {});
  const out = makeOut(values.json === true);
  const account = await openAccount(resolveHome(str(values, 'home')));
  const contactsBefore = new Set(account.contacts().map((c) => c.alias));
  const groupsBefore = new Set(account.groups.list().map((g) => g.id));
  try {
    await account.start();
    await account.sync({ timeoutMs: 30_000 });
    const messages = await account.takeUnshown();
    const newContacts = account.contacts().filter((c) => !contactsBefore.has(c.alias));
    const invitations = account.groups
      .list()
      .filter((g) => g.status === 'invited' && !groupsBefore.has(g.id));
    out.result({ messages, contacts: newContacts, invitations }, () => {
      for (const c of newContacts) {
        out.line(
          `New contact: ${c.alias} (unvalidated). Check the safety number with: parus verify ${c.alias}`,
        );
      }
      for (const g of invitations) out.line(formatGroup(g));
      for (const m of messages) out.line(formatMessage(m));
      if (messages.length === 0 && newContacts.length === 0 && invitations.length === 0)
        out.line('No new messages.');
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
