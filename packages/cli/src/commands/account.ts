import { readFileSync, writeFileSync } from 'node:fs';
import QRCode from 'qrcode';
import { ProtocolError, UsageError, toBase64Url } from '@parus/core';
import { parse, str } from '../args.ts';
import { formatContact } from '../format.ts';
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
    if (relays.length > 0) throw new UsageError('--restore takes the relay from the backup');
    return restoreCommand(values, restore, out);
  }
  if (values.link === true) {
    if (relays.length > 1) throw new UsageError('--link takes one --relay, the one that carries the link');
    return linkInitCommand({ ...values, relay: relays[0] }, out);
  }
  const name = str(values, 'name');
  if (!name || relays.length < 1 || relays.length > 2)
    throw new UsageError('usage: parus init --name NAME --relay ADDRESS [--relay ADDRESS2]');
  const home = resolveHome(str(values, 'home'));
  const account = await createAccount(home, name, relays[0]!, undefined, relays[1]);
  try {
    out.result({ home, name: account.name, relay: account.relay, relay2: account.relay2 ?? null }, () => {
      out.line(`Account for ${account.name} created in ${home}`);
      out.line(`Relay: ${account.relay}`);
      if (account.relay2) out.line(`Second relay: ${account.relay2}`);
      out.line(`Next: 'parus invite' makes a card to give a friend.`);
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
  if (positionals.length !== 1) throw new UsageError('usage: parus relay add ADDRESS');
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    await account.start();
    const { relay2, told, failed } = await account.addRelay(positionals[0]!);
    // Sends the `queue` messages now where the contacts' relays answer; the rest go later.
    await account.sync().catch(() => undefined);
    out.result({ relay: account.relay, relay2, told, failed }, () => {
      out.line(`Second relay: ${relay2}`);
      out.line(`Told ${told} contact${told === 1 ? '' : 's'} of a queue there; new invitations carry it.`);
      if (failed > 0)
        out.line(`${failed} could not get a queue there now; run 'parus relay add ${relay2}' again later.`);
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
  else throw new UsageError('--qr takes a file name ending in .png or .svg');
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
  if (values.reset === true && values.reusable !== true)
    throw new UsageError('--reset resets the reusable card: parus invite --reusable --reset');
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
        out.line(
          made.oneTime ? 'One-time invitation (valid 7 days):' : 'Reusable contact address (my QR code):',
        );
        out.line(link);
        if (qrFile) out.line(`QR code written to ${qrFile}`);
        if (file) out.line(`Card written to ${file}`);
      },
    );
    if (!out.json && process.stdout.isTTY) {
      const qr = await QRCode.toString(link, { type: 'utf8', errorCorrectionLevel: 'L' });
      const width = qr.split('\n')[0]?.length ?? 0;
      if (width <= (process.stdout.columns ?? 80)) process.stdout.write(qr);
      else out.line(`(The QR code needs a terminal ${width} columns wide; widen it, or use --qr card.png.)`);
    }
    out.line(`Your friend runs: parus accept '<link>' --alias ${account.name.replace(/\s+/g, '-')}`);
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
  if (!link) throw new UsageError('usage: parus accept LINK|FILE --alias ALIAS');
  if (!link.startsWith('parus:')) {
    try {
      link = readFileSync(link, 'utf8').trim();
    } catch {
      throw new UsageError('the argument is neither a parus: link nor a readable card file');
    }
  }
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    await account.start();
    const opts: { alias?: string; replace?: boolean } = { replace: values.replace === true };
    const alias = str(values, 'alias');
    if (alias) opts.alias = alias;
    // A short link is fetched first; a friend's old link says so instead of "keys differ".
    const resolved = await account.resolveInvite(link);
    if (resolved.friend !== undefined) {
      out.result({ contact: account.contact(resolved.friend), already: true }, () =>
        out.line(`Already friends: this is the card of ${resolved.friend}.`),
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
    if (spent) throw new ProtocolError('this invitation was already used or withdrawn; ask for a new one');
    const now = account.contact(contact.alias);
    out.result({ contact: now }, () => {
      if (contact.keyChanged)
        out.warn(`⚠ WARNING: ${contact.alias} now has a different key. Verify it again.`);
      out.line(`Contact request sent to ${now.alias}.`);
      out.line(`Safety number: ${now.safetyNumber}`);
      out.line(`Compare it with ${now.alias} in person, then: parus verify ${now.alias} --confirm`);
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
      if (list.length === 0) out.line("No contacts yet. 'parus invite' makes a card to give a friend.");
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
  if (!alias) throw new UsageError('usage: parus verify ALIAS [--confirm | --compromised | --reset]');
  const flags = [values.confirm, values.compromised, values.reset].filter((v) => v === true).length;
  if (flags > 1) throw new UsageError('choose one of --confirm, --compromised, --reset');
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
        if (contact.keyChanged)
          out.warn(`⚠ WARNING: ${alias}'s key changed. Compare the safety number again.`);
        out.line(`Safety number with ${alias}:`);
        out.line(`  ${sn.formatted}`);
        out.line(`State: ${contact.state}`);
        if (contact.state === 'unvalidated')
          out.line(`If ${alias} sees the same digits: parus verify ${alias} --confirm`);
      },
    );
    if (!out.json && process.stdout.isTTY)
      process.stdout.write(await QRCode.toString(qrText, { type: 'utf8' }));
  } finally {
    await account.close();
  }
  return 0;
}
