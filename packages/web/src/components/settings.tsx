import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { Session } from '../engine-loader.ts';
import { useI18n } from '../i18n.ts';
import {
  askPermission,
  notificationPermission,
  storeNotifyPrefs,
  storedNotifyPrefs,
  type NotifyPrefs,
} from '../notifications.ts';
import {
  FONT_SIZES,
  THEMES,
  applyFontSize,
  applyTheme,
  storedFontSize,
  storedTheme,
  type FontSize,
  type ThemeChoice,
} from '../theme.ts';
import { relayOnly, setRelayOnly } from '../calls/relay-only.ts';
import { Dialog } from './dialog.tsx';
import { LangSwitch } from './lang-switch.tsx';
import { PassphraseChange } from './passphrase-change.tsx';
import { ProfileEdit } from './profile-edit.tsx';

function NotificationSettings(): JSX.Element {
  const { t } = useI18n();
  const [prefs, setPrefs] = useState<NotifyPrefs>(storedNotifyPrefs);
  const [problem, setProblem] = useState('');
  const save = (next: NotifyPrefs): void => {
    storeNotifyPrefs(next);
    setPrefs(next);
  };
  const toggle = async (on: boolean): Promise<void> => {
    setProblem('');
    if (!on) return save({ ...prefs, enabled: false });
    const permission = await askPermission();
    if (permission === 'granted') save({ ...prefs, enabled: true });
    else {
      save({ ...prefs, enabled: false });
      setProblem(t(permission === 'unsupported' ? 'settings.notify.unsupported' : 'settings.notify.denied'));
    }
  };
  const enabled = prefs.enabled && notificationPermission() === 'granted';
  return (
    <fieldset class="settings-section">
      <legend>{t('settings.notify')}</legend>
      <label class="check">
        <input type="checkbox" checked={enabled} onChange={(e) => void toggle(e.currentTarget.checked)} />
        <span>{t('settings.notify.enable')}</span>
      </label>
      <label class="check">
        <input
          type="checkbox"
          checked={prefs.preview}
          disabled={!enabled}
          onChange={(e) => save({ ...prefs, preview: e.currentTarget.checked })}
        />
        <span>{t('settings.notify.preview')}</span>
      </label>
      {problem && (
        <p class="form-error" role="alert">
          {problem}
        </p>
      )}
    </fieldset>
  );
}

/** 通話只經由中繼伺服器 (calls/relay-only.ts): the next call uses relayed candidates only. */
function CallSettings(): JSX.Element {
  const { t } = useI18n();
  const [on, setOn] = useState(relayOnly);
  return (
    <fieldset class="settings-section">
      <legend>{t('settings.calls')}</legend>
      <label class="check">
        <input
          type="checkbox"
          checked={on}
          aria-describedby="relay-only-hint"
          onChange={(e) => {
            setRelayOnly(e.currentTarget.checked);
            setOn(e.currentTarget.checked);
          }}
        />
        <span>{t('settings.relayOnly')}</span>
      </label>
      <p id="relay-only-hint" class="muted">
        {t('settings.relayOnlyHint')}
      </p>
    </fieldset>
  );
}

export function Settings(props: {
  session: Session;
  onClose: () => void;
  onLock: () => void;
  /** 裝置 and 備份 (device-ui.tsx, loaded when opened). */
  onDevices?: () => void;
  onBackup?: () => void;
}): JSX.Element {
  const { t } = useI18n();
  const [theme, setTheme] = useState<ThemeChoice>(storedTheme());
  const [fontSize, setFontSize] = useState<FontSize>(storedFontSize());
  const choose = (choice: ThemeChoice): void => {
    applyTheme(choice);
    setTheme(choice);
  };
  const chooseSize = (size: FontSize): void => {
    applyFontSize(size);
    setFontSize(size);
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
            <label key={choice} class={`radio-pill theme-pill theme-pill-${choice}`}>
              <input
                type="radio"
                name="theme"
                value={choice}
                checked={theme === choice}
                onChange={() => choose(choice)}
              />
              <span class="swatch" aria-hidden="true" />
              <span>{t(`settings.theme.${choice}`)}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset class="settings-section">
        <legend>{t('settings.fontSize')}</legend>
        <div class="row">
          {FONT_SIZES.map((size) => (
            <label key={size} class={`radio-pill size-pill size-pill-${size}`}>
              <input
                type="radio"
                name="font-size"
                value={size}
                checked={fontSize === size}
                onChange={() => chooseSize(size)}
              />
              <span>{t(`settings.fontSize.${size}`)}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <NotificationSettings />
      <CallSettings />
      <section class="settings-section">
        <h3>{t('settings.account')}</h3>
        <dl class="facts">
          <dt>{t('create.name')}</dt>
          <dd>{props.session.name}</dd>
          <dt>{t('settings.relay')}</dt>
          <dd class="mono">{props.session.relay}</dd>
        </dl>
        <div class="row">
          {props.onDevices && (
            <button type="button" onClick={props.onDevices}>
              {t('settings.devices')}
            </button>
          )}
          {props.onBackup && (
            <button type="button" onClick={props.onBackup}>
              {t('settings.backup')}
            </button>
          )}
          <button type="button" onClick={props.onLock}>
            {t('main.lock')}
          </button>
        </div>
      </section>
      <ProfileEdit session={props.session} />
      <PassphraseChange session={props.session} />
    </Dialog>
  );
}
