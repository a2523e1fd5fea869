/** What /help shows: a local card (nothing is sent) listing the slash commands of this chat. */
import type { JSX } from 'preact';
import { COMMANDS } from '../compose/commands.ts';
import { useI18n } from '../i18n.ts';
import { CloseIcon } from './icons.tsx';

export function HelpCard(props: { chat?: 'direct' | 'group'; onClose: () => void }): JSX.Element {
  const { t } = useI18n();
  const chat = props.chat ?? 'direct';
  const commands = COMMANDS.filter((c) => c.scope === 'any' || chat === 'group');
  return (
    <section class="help-card" role="region" aria-labelledby="help-card-title">
      <header>
        <h3 id="help-card-title">{t('command.title')}</h3>
        <button type="button" class="icon-button" aria-label={t('command.close')} onClick={props.onClose}>
          <CloseIcon />
        </button>
      </header>
      <dl>
        {commands.map((c) => (
          <div key={c.name} class="help-row">
            <dt>
              <code>{t(c.usage)}</code>
            </dt>
            <dd>{t(c.description)}</dd>
          </div>
        ))}
      </dl>
      <p class="muted">{t('command.escape')}</p>
    </section>
  );
}
