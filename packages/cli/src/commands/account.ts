import { readFileSync, writeFileSync } from 'node:fs';
import QRCode from 'qrcode';
import { ProtocolError, UsageError, toBase64Url } from '@parus/core';
import { fault, t } from '../i18n.ts';
import { parse, str } from '../args.ts';
import { formatContact, shown } from '../format.ts';
import { resolveLink } from './links.ts';
import { createAccount, openAccount, resolveHome } from '../home.ts';
import { linkInitCommand, restoreCommand } from './devices.ts';
import type { Output } from '../output.ts';

type MakeOut = (json: boolean) => Output;

export async function initCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values } = parse(argv, {
    name: { type: 'string' },
    relay: { type: 'string', multiple: true },
    restore: { type: 'string' },
    link: { type: 'boolean', default: false },
    yes: { type: 'boolean', default: false },
  });
  const out = makeOut(values.json === true);
  // A second --relay: receive queues there too, for failover (decision 0037).
  const relays = (values.relay as unknown as string[] | undefined) ?? [];
  const restore = str(values, 'restore');
  if (restore !== undefined) {
    if (relays.length > 0) throw fault(UsageError, 'init.restoreRelay');
    return restoreCommand(values, restore, out);
  }
  if (values.link === true) {
    if (relays.length > 1) throw fault(UsageError, 'init.linkRelay');
    return linkInitCommand({ ...values, relay: relays[0] }, out);
  }
  const name = str(values, 'name');
  if (!name || relays.length < 1 || relays.length > 2) throw fault(UsageError, 'usage.init');
  const home = resolveHome(str(values, 'home'));
  const account = await createAccount(home, name, relays[0]!, undefined, relays[1]);
  try {
    out.result({ home, name: account.name, relay: account.relay, relay2: account.relay2 ?? null }, () => {
      out.line(t('init.created', { name: account.name, home }));
      out.line(t('init.relay', { relay: account.relay }));
      if (account.relay2) out.line(t('init.relay2', { relay: account.relay2 }));
      out.line(t('init.next'));
    });
  } finally {
    await account.close();
  }
  return 0;
}

/**
 * `parus relay add ADDRESS`: a second relay for the account (decision 0037). New cards and
 * contacts get a queue there too; every contact is told of its new queue in our session now.
 */
export async function relayAddCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const out = makeOut(values.json === true);
  if (positionals.length !== 1) throw fault(UsageError, 'usage.relayAdd');
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    await account.start();
    const { relay2, told, failed } = await account.addRelay(positionals[0]!);
    // Sends the `queue` messages now where the contacts' relays answer; the rest go later.
    await account.sync().catch(() => undefined);
    out.result({ relay: account.relay, relay2, told, failed }, () => {
      out.line(t('init.relay2', { relay: relay2 }));
      out.line(t('relayAdd.told', { count: told }));
      if (failed > 0) out.line(t('relayAdd.failed', { count: failed, relay: relay2 }));
    });
  } finally {
    await account.close();
  }
  return 0;
}

/** Writes a QR code as PNG or SVG, chosen by the file's extension. */
export async function writeQr(path: string, text: string): Promise<void> {
  if (path.endsWith('.svg'))
    writeFileSync(path, await QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'L' }));
  else if (path.endsWith('.png'))
    await QRCode.toFile(path, text, { type: 'png', errorCorrectionLevel: 'L', scale: 8 });
  else throw fault(UsageError, 'error.qrFile');
}

export async function inviteCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values } = parse(argv, {
    reusable: { type: 'boolean', default: false },
    reset: { type: 'boolean', default: false },
    long: { type: 'boolean', default: false },
    qr: { type: 'string' },
    out: { type: 'string' },
  });
  const out = makeOut(values.json === true);
  if (values.reset === true && values.reusable !== true) throw fault(UsageError, 'invite.resetAlone');
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    await account.start();
    // The short link (decision 0045) unless --long; the long one when the relay keeps no card records.
    let made: { link: string; longLink: string; expires: number; oneTime: boolean };
    if (values.reusable === true) {
      const code = values.reset === true ? await account.resetMyCode() : await account.myCode();
      made = { ...code, oneTime: false };
    } else {
      const inv = await account.createInvite({ oneTime: true, short: values.long !== true });
      made = { link: inv.short ?? inv.link, longLink: inv.link, expires: inv.card.expires, oneTime: true };
    }
    const link = values.long === true ? made.longLink : made.link;
    const qrFile = str(values, 'qr');
    if (qrFile) await writeQr(qrFile, link);
    const file = str(values, 'out');
    if (file) writeFileSync(file, `${link}\n`, { mode: 0o600 });
    out.result(
      {
        link,
        longLink: made.longLink,
        short: link !== made.longLink,
        expires: made.expires,
        oneTime: made.oneTime,
        qr: qrFile ?? null,
        file: file ?? null,
      },
      () => {
        out.line(made.oneTime ? t('invite.oneTime') : t('invite.reusable'));
        out.line(link);
        if (qrFile) out.line(t('qr.written', { path: qrFile }));
        if (file) out.line(t('invite.cardWritten', { path: file }));
      },
    );
    if (!out.json && process.stdout.isTTY) {
      const qr = await QRCode.toString(link, { type: 'utf8', errorCorrectionLevel: 'L' });
      const width = qr.split('\n')[0]?.length ?? 0;
      if (width <= (process.stdout.columns ?? 80)) process.stdout.write(qr);
      else out.line(t('qr.tooWide', { width, file: 'card.png' }));
    }
    out.line(t('invite.friendRuns', { alias: account.name.replace(/\s+/g, '-') }));
  } finally {
    await account.close();
  }
  return 0;
}

export async function acceptCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, {
    alias: { type: 'string' },
    replace: { type: 'boolean', default: false },
  });
  const out = makeOut(values.json === true);
  let link = positionals[0];
  if (!link) throw fault(UsageError, 'usage.accept');
  if (!link.startsWith('parus:')) {
    try {
      link = readFileSync(link, 'utf8').trim();
    } catch {
      throw fault(UsageError, 'accept.notLink');
    }
  }
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    await account.start();
    const opts: { alias?: string; replace?: boolean } = { replace: values.replace === true };
    const alias = str(values, 'alias');
    if (alias) opts.alias = alias;
    // A short link is fetched first; a friend's old link says so instead of "keys differ".
    const resolved = await resolveLink(() => account.resolveInvite(link));
    if (resolved.friend !== undefined) {
      out.result({ contact: account.contact(resolved.friend), already: true }, () =>
        out.line(t('accept.already', { alias: shown(resolved.friend!) })),
      );
      return 0;
    }
    // A spent card's queue is gone: the relay says so at the first send (decision 0045).
    let spent = false;
    account.events.on('contact', (e) => {
      if (e.change === 'spent') spent = true;
    });
    const contact = await account.acceptInvite(resolved.link, opts);
    await account.sync({ timeoutMs: 20_000 });
    if (spent) throw fault(ProtocolError, 'link.spent');
    const now = account.contact(contact.alias);
    out.result({ contact: now }, () => {
      if (contact.keyChanged) out.warn(t('accept.keyChanged', { alias: shown(contact.alias) }));
      out.line(t('accept.sent', { alias: shown(now.alias) }));
      out.line(t('accept.safetyNumber', { number: now.safetyNumber }));
      out.line(t('accept.compare', { alias: shown(now.alias) }));
    });
  } finally {
    await account.close();
  }
  return 0;
}

export async function contactsCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values } = parse(argv, {});
  const out = makeOut(values.json === true);
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    const list = account.contacts();
    out.result({ contacts: list }, () => {
      if (list.length === 0) out.line(t('contacts.none'));
      for (const c of list) out.line(formatContact(c));
    });
  } finally {
    await account.close();
  }
  return 0;
}

export async function verifyCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, {
    confirm: { type: 'boolean', default: false },
    compromised: { type: 'boolean', default: false },
    reset: { type: 'boolean', default: false },
    qr: { type: 'string' },
  });
  const out = makeOut(values.json === true);
  const alias = positionals[0];
  if (!alias) throw fault(UsageError, 'usage.verify');
  const flags = [values.confirm, values.compromised, values.reset].filter((v) => v === true).length;
  if (flags > 1) throw fault(UsageError, 'verify.oneFlag');
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    let contact = account.contact(alias);
    if (values.confirm === true) contact = await account.setContactState(alias, 'validated');
    if (values.compromised === true) contact = await account.setContactState(alias, 'compromised');
    if (values.reset === true) contact = await account.setContactState(alias, 'unvalidated');
    const sn = account.safetyNumber(alias);
    const qrFile = str(values, 'qr');
    const qrText = `parus-sn:${toBase64Url(sn.qr)}`;
    if (qrFile) {
      if (qrFile.endsWith('.svg')) writeFileSync(qrFile, await QRCode.toString(qrText, { type: 'svg' }));
      else await QRCode.toFile(qrFile, qrText, { type: 'png' });
    }
    out.result(
      { alias, state: contact.state, safetyNumber: sn.formatted, digits: sn.digits, qr: qrText },
      () => {
        if (contact.keyChanged) out.warn(t('verify.keyChanged', { alias: shown(alias) }));
        out.line(t('verify.title', { alias: shown(alias) }));
        out.line(`  ${sn.formatted}`);
        out.line(t('verify.state', { state: t(`state.${contact.state}`) }));
        if (contact.state === 'unvalidated') out.line(t('verify.confirmHint', { alias: shown(alias) }));
      },
    );
    if (!out.json && process.stdout.isTTY)
      process.stdout.write(await QRCode.toString(qrText, { type: 'utf8' }));
  } finally {
    await account.close();
  }
  return 0;
}
