import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { Session } from '../engine-loader.ts';
import { useI18n } from '../i18n.ts';
import { THEMES, applyTheme, storedTheme, type ThemeChoice } from '../theme.ts';
import { Dialog } from './dialog.tsx';
import { LangSwitch } from './lang-switch.tsx';

export function Settings(props: { session: Session; onClose: () => void; onLock: () => void }): JSX.Element {
  const { t } = useI18n();
  const [theme, setTheme] = useState<ThemeChoice>(storedTheme());
  const choose = (choice: ThemeChoice): void => {
    applyTheme(choice);
    setTheme(choice);
  };
  return (
    <Dialog title={t('settings.title')} onClose={props.onClose} class="settings">
      <section class="settings-section">
        <h3>{t('settings.language')}</h3>
        <LangSwitch />
      </section>
      <fieldset class="settings-section">
        <legend>{t('settings.theme')}</legend>
        <div class="row">
          {THEMES.map((choice) => (
            <label key={choice} class="radio-pill">
              <input
                type="radio"
                name="theme"
                value={choice}
                checked={theme === choice}
                onChange={() => choose(choice)}
              />
              <span>{t(`settings.theme.${choice}`)}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <section class="settings-section">
        <h3>{t('settings.account')}</h3>
        <dl class="facts">
          <dt>{t('create.name')}</dt>
          <dd>{props.session.name}</dd>
          <dt>{t('settings.relay')}</dt>
          <dd class="mono">{props.session.relay}</dd>
        </dl>
        <button type="button" onClick={props.onLock}>
          {t('main.lock')}
        </button>
      </section>
    </Dialog>
  );
}
