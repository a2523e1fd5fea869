/**
 * The first screen: create an account, or unlock the one this browser holds. It renders
 * before the engine chunk has loaded; submitting waits for it.
 */
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { Field } from '../components/field.tsx';
import { ParusLogo } from '../components/icons.tsx';
import { LangSwitch } from '../components/lang-switch.tsx';
import { loadEngine, type Session } from '../engine-loader.ts';
import { errorName, errorText } from '../errors.ts';
import { useI18n } from '../i18n.ts';

import { relayForPage } from '../relay-origin.ts';

export const RELAY_ADDRESS = /^parus:\/\/[A-Za-z0-9_-]{43}@\S+:\d{1,5}(\?transport=wss?)?$/;
export const MIN_PASSPHRASE = 8;

export function Shell({ children }: { children: ComponentChildren }): JSX.Element {
  const { t } = useI18n();
  return (
    <div class="welcome">
      <div class="welcome-top">
        <LangSwitch />
      </div>
      <main class="welcome-card">
        <div class="brand">
          <ParusLogo />
          <div>
            <h1>{t('app.title')}</h1>
            <p class="muted">{t('app.tagline')}</p>
          </div>
        </div>
        {children}
      </main>
    </div>
  );
}

/**
 * The relay that served the page says its address at /api/relay; it is offered with the host and
 * port the page was opened through (relay-origin.ts), unless the answer says the address is
 * `fixed` (a page server that is not the relay); else the field stays empty.
 */
export async function pageRelay(signal: AbortSignal): Promise<string | undefined> {
  try {
    const r = await fetch('/api/relay', { signal, headers: { accept: 'application/json' } });
    if (!r.ok) return undefined;
    const body = (await r.json()) as { address?: unknown; fixed?: unknown };
    if (typeof body.address !== 'string' || !RELAY_ADDRESS.test(body.address)) return undefined;
    const address = body.fixed === true ? body.address : relayForPage(body.address, window.location);
    return RELAY_ADDRESS.test(address) ? address : undefined;
  } catch {
    return undefined;
  }
}

export function CreateAccount({
  onDone,
  onOther,
}: {
  onDone: (s: Session) => void;
  /** 連結到現有帳號 or 從備份還原 (device-ui.tsx, loaded when chosen). */
  onOther?: (way: 'link' | 'restore') => void;
}): JSX.Element {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [relay, setRelay] = useState('');
  const [pass, setPass] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const relayTouched = useRef(false);

  useEffect(() => {
    const ac = new AbortController();
    void pageRelay(ac.signal).then((address) => {
      if (address && !relayTouched.current) setRelay(address);
    });
    return () => ac.abort();
  }, []);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const n = name.trim();
    if (n.length < 1 || n.length > 64) return setError(t('create.errorName'));
    if (!RELAY_ADDRESS.test(relay.trim())) return setError(t('create.errorRelay'));
    if (pass.length < MIN_PASSPHRASE) return setError(t('create.errorShort'));
    if (pass !== confirm) return setError(t('create.errorMismatch'));
    setError('');
    setBusy(true);
    try {
      const engine = await loadEngine();
      onDone(await engine.createAccount({ name: n, relay: relay.trim(), passphrase: pass }));
    } catch (err) {
      setBusy(false);
      setError(errorName(err) === 'DecodeError' ? t('create.errorRelay') : errorText(err, t));
    }
  };

  return (
    <Shell>
      <h2>{t('create.title')}</h2>
      <p class="muted">{t('create.intro')}</p>
      <form class="form" onSubmit={submit} noValidate>
        <Field id="create-name" label={t('create.name')} hint={t('create.nameHint')}>
          <input
            id="create-name"
            name="name"
            autoComplete="nickname"
            maxLength={64}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            aria-describedby="create-name-hint"
            required
          />
        </Field>
        <Field id="create-relay" label={t('create.relay')} hint={t('create.relayHint')}>
          <input
            id="create-relay"
            name="relay"
            autoComplete="off"
            spellcheck={false}
            value={relay}
            onInput={(e) => {
              relayTouched.current = true;
              setRelay(e.currentTarget.value);
            }}
            aria-describedby="create-relay-hint"
            required
          />
        </Field>
        <Field id="create-passphrase" label={t('create.passphrase')} hint={t('create.passphraseHint')}>
          <input
            id="create-passphrase"
            name="passphrase"
            type="password"
            autoComplete="new-password"
            value={pass}
            onInput={(e) => setPass(e.currentTarget.value)}
            aria-describedby="create-passphrase-hint"
            required
          />
        </Field>
        <Field id="create-confirm" label={t('create.confirm')}>
          <input
            id="create-confirm"
            name="confirm"
            type="password"
            autoComplete="new-password"
            value={confirm}
            onInput={(e) => setConfirm(e.currentTarget.value)}
            required
          />
        </Field>
        <p class="form-error" role="alert">
          {error}
        </p>
        <button class="primary" type="submit" disabled={busy}>
          {busy ? t('create.working') : t('create.submit')}
        </button>
      </form>
      {onOther && (
        <nav class="welcome-other" aria-label={t('welcome.otherWays')}>
          <p class="muted">{t('welcome.otherWays')}</p>
          <div class="row">
            <button type="button" onClick={() => onOther('link')}>
              {t('welcome.link')}
            </button>
            <button type="button" onClick={() => onOther('restore')}>
              {t('welcome.restore')}
            </button>
          </div>
        </nav>
      )}
    </Shell>
  );
}

export function Unlock({ onDone }: { onDone: (s: Session) => void }): JSX.Element {
  const { t } = useI18n();
  const [pass, setPass] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!pass) return;
    setError('');
    setBusy(true);
    try {
      const engine = await loadEngine();
      onDone(await engine.unlock(pass));
    } catch (err) {
      setBusy(false);
      setPass('');
      setError(errorName(err) === 'AuthError' ? t('unlock.wrong') : errorText(err, t));
      input.current?.focus();
    }
  };

  return (
    <Shell>
      <h2>{t('unlock.title')}</h2>
      <p class="muted">{t('unlock.intro')}</p>
      <form class="form" onSubmit={submit}>
        <Field id="unlock-passphrase" label={t('unlock.passphrase')}>
          <input
            id="unlock-passphrase"
            ref={input}
            name="passphrase"
            type="password"
            autoComplete="current-password"
            autoFocus
            value={pass}
            onInput={(e) => setPass(e.currentTarget.value)}
            aria-invalid={error ? true : undefined}
            required
          />
        </Field>
        <p class="form-error" role="alert">
          {error}
        </p>
        <button class="primary" type="submit" disabled={busy || !pass}>
          {busy ? t('unlock.working') : t('unlock.submit')}
        </button>
      </form>
    </Shell>
  );
}

export function Loading({ failed }: { failed: boolean }): JSX.Element {
  const { t } = useI18n();
  return (
    <Shell>
      <p class={failed ? 'form-error' : 'muted'} role="status">
        {failed ? t('app.loadFailed') : t('app.loading')}
      </p>
    </Shell>
  );
}
