import type { JSX } from 'preact';
import { LANGS, useI18n } from '../i18n.ts';

/** 繁體中文 | English, each button named in its own language. */
export function LangSwitch(): JSX.Element {
  const { lang, t, setLang } = useI18n();
  return (
    <div class="lang-switch" role="group" aria-label={t('settings.language')}>
      {LANGS.map((l) => (
        <button
          type="button"
          key={l}
          lang={l === 'en' ? 'en' : 'zh-Hant-TW'}
          aria-pressed={lang === l}
          onClick={() => setLang(l)}
        >
          {t(`lang.${l}`)}
        </button>
      ))}
    </div>
  );
}
