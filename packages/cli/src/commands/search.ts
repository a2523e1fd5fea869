/**
 * `parus search TEXT [--limit N]`: friends, groups and messages (1:1 and group) on this device
 * whose text holds TEXT (client search.ts: literal, Chinese included, Latin case-insensitive).
 */
import type { SearchHit } from '@parus/client';
import { UsageError } from '@parus/core';
import { parse, str } from '../args.ts';
import { formatTime, shown, shownText } from '../format.ts';
import { openAccount, resolveHome } from '../home.ts';
import { fault, t } from '../i18n.ts';
import type { Output } from '../output.ts';

type MakeOut = (json: boolean) => Output;

function formatHit(h: SearchHit): string {
  switch (h.kind) {
    case 'contact':
      return t('search.friend', { alias: shown(h.alias), name: shown(h.name) });
    case 'group':
      return t('search.group', { name: shown(h.name), id: h.group });
    case 'message': {
      const who = h.dir === 'out' ? t('format.me') : (h.from ?? h.alias);
      const where = h.group !== undefined ? `${shown(h.alias)} | ` : '';
      return `[${formatTime(h.ts)}] ${where}${shown(who)}: ${shownText(h.text)}  #${h.id.slice(0, 12)}`;
    }
  }
}

export async function searchCommand(argv: string[], makeOut: MakeOut): Promise<number> {
  const { values, positionals } = parse(argv, { limit: { type: 'string' } });
  const out = makeOut(values.json === true);
  if (positionals.length !== 1) throw fault(UsageError, 'usage.search');
  const limitText = str(values, 'limit');
  const limit = limitText === undefined ? undefined : Number(limitText);
  if (limit !== undefined && !Number.isSafeInteger(limit)) throw fault(UsageError, 'search.limit');
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    const hits = await account.search(positionals[0]!, limit === undefined ? {} : { limit });
    out.result({ query: positionals[0], results: hits }, () => {
      for (const h of hits) out.line(formatHit(h));
      if (hits.length === 0) out.line(t('search.none'));
    });
  } finally {
    await account.close();
  }
  return 0;
}
