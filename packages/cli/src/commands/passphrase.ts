/** `parus passphrase`: a new passphrase for this device's account store. */
import { UsageError } from '@parus/core';
import { parse, str } from '../args.ts';
import { changeStorePassphrase, resolveHome } from '../home.ts';
import { t } from '../i18n.ts';
import type { Output } from '../output.ts';

export async function passphraseCommand(argv: string[], makeOut: (json: boolean) => Output): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const out = makeOut(values.json === true);
  if (positionals.length > 0) throw new UsageError(t('usage.passphrase'));
  await changeStorePassphrase(resolveHome(str(values, 'home')));
  out.result({ changed: true }, () => out.line(t('passphrase.changed')));
  return 0;
}
