/**
 * 變更密碼 in the settings: the account passphrase and the one that opens the account in this
 * browser, together (decision 0061). The old one is checked by the engine (a wrong one changes
 * nothing); the new one is typed twice.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { Session } from '../engine-loader.ts';
import { errorName, errorText } from '../errors.ts';
import { useI18n } from '../i18n.ts';
import { Field } from './field.tsx';

export function PassphraseChange(props: { session: Session }): JSX.Element {
  const { t } = useI18n();
  const [old, setOld] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [done, setDone] = useState<'' | 'changed' | 'caughtUp'>('');
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setError('');
    setDone('');
    if ([...next].length < 8) return setError(t('passphrase.tooShort'));
    if (next !== again) return setError(t('passphrase.mismatch'));
    setBusy(true);
    try {
      const scope = await props.session.changePassphrase(old, next);
      setOld('');
      setNext('');
      setAgain('');
      setDone(scope === 'device' ? 'caughtUp' : 'changed');
    } catch (x) {
      setError(errorName(x) === 'AuthError' ? t('passphrase.wrongOld') : errorText(x, t));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="settings-section passphrase-change" onSubmit={(e) => void submit(e)}>
      <h3>{t('passphrase.title')}</h3>
      <Field id="passphrase-old" label={t('passphrase.old')}>
        <input
          id="passphrase-old"
          type="password"
          autoComplete="current-password"
          value={old}
          onInput={(e) => setOld(e.currentTarget.value)}
        />
      </Field>
      <Field id="passphrase-new" label={t('passphrase.new')} hint={t('passphrase.hint')}>
        <input
          id="passphrase-new"
          type="password"
          autoComplete="new-password"
          aria-describedby="passphrase-new-hint"
          value={next}
          onInput={(e) => setNext(e.currentTarget.value)}
        />
      </Field>
      <Field id="passphrase-again" label={t('passphrase.again')}>
        <input
          id="passphrase-again"
          type="password"
          autoComplete="new-password"
          value={again}
          onInput={(e) => setAgain(e.currentTarget.value)}
        />
      </Field>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {done && <p role="status">{t(done === 'caughtUp' ? 'passphrase.caughtUp' : 'passphrase.changed')}</p>}
      <button type="submit" disabled={busy || old === '' || next === ''}>
        {t('passphrase.submit')}
      </button>
    </form>
  );
}
