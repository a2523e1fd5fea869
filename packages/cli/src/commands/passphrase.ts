/**
 * `parus passphrase`: a new passphrase for the account and this device's store together
 * (decision 0061): old once, new twice (PARUS_PASSPHRASE / PARUS_NEW_PASSPHRASE in scripts).
 */
import { UsageError } from '@parus/core';
import { parse, str } from '../args.ts';
import { changePassphrase, resolveHome } from '../home.ts';
import { t } from '../i18n.ts';
import type { Output } from '../output.ts';
import { defaultDeviceName } from './devices.ts';

export async function passphraseCommand(argv: string[], makeOut: (json: boolean) => Output): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const out = makeOut(values.json === true);
  if (positionals.length > 0) throw new UsageError(t('usage.passphrase'));
  const scope = await changePassphrase(resolveHome(str(values, 'home')), defaultDeviceName());
  out.result({ changed: true, scope }, () =>
    out.line(t(scope === 'account' ? 'passphrase.changed' : 'passphrase.caughtUp')),
  );
  return 0;
}
