/**
 * The safety number with a friend: 60 digits in twelve groups and a QR code, and the
 * friend's state (unverified, verified, untrusted), which only the user changes.
 */
import type { JSX } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import type { Session } from '../engine-loader.ts';
import { errorText } from '../errors.ts';
import { useI18n, type MessageKey } from '../i18n.ts';
import { Dialog } from './dialog.tsx';
import { QrCode } from './qr-code.tsx';
import { QrScan } from './qr-scan.tsx';

type State = 'unvalidated' | 'validated' | 'compromised';
const STATES: ReadonlyArray<{ state: State; hint: MessageKey }> = [
  { state: 'validated', hint: 'safety.validatedHint' },
  { state: 'unvalidated', hint: 'safety.unvalidatedHint' },
  { state: 'compromised', hint: 'safety.compromisedHint' },
];

export function SafetyNumber(props: { session: Session; alias: string; onClose: () => void }): JSX.Element {
  const { t } = useI18n();
  const { session, alias } = props;
  const sn = useMemo(() => session.safetyNumber(alias), [session, alias]);
  const contact = session.contact(alias);
  const [error, setError] = useState('');
  const [scanning, setScanning] = useState(false);
  const [scanned, setScanned] = useState<'match' | 'mismatch' | 'other' | undefined>();
  const groups = sn.formatted.split(' ');

  // The choice shows at once and stays while the engine keeps it (a render in between, say for a
  // profile that arrives, must not flip the radio back); a refusal puts the kept state back.
  const [pending, setPending] = useState<State | undefined>();
  const shown = pending ?? contact?.state;
  const choose = (state: State): void => {
    setError('');
    setPending(state);
    session
      .setState(alias, state)
      .catch((e: unknown) => setError(errorText(e, t)))
      .finally(() => setPending(undefined));
  };

  return (
    <Dialog title={t('safety.title', { name: alias })} onClose={props.onClose} class="safety">
      <p class="muted">{t('safety.intro', { name: alias })}</p>
      {contact?.keyChanged && (
        <p class="banner banner-danger" role="alert">
          {t('chat.keyChanged', { name: alias })}
        </p>
      )}
      <div class="safety-body">
        <p class="sn-digits" aria-label={t('safety.digits')}>
          {groups.map((g, i) => (
            <span key={i}>{g}</span>
          ))}
        </p>
        <QrCode matrix={sn.qr} label={t('safety.qr')} />
      </div>
      {/* The intro says to scan their code: the scanner is right here. */}
      {scanning ? (
        <QrScan
          onResult={(text) => {
            session.checkSafetyScan(alias, text).then(
              (same) => {
                setScanned(same ? 'match' : 'mismatch');
                setScanning(false);
              },
              () => setScanned('other'),
            );
          }}
        />
      ) : (
        <button type="button" onClick={() => setScanning(true)}>
          {t('safety.scan')}
        </button>
      )}
      {scanned && (
        <p
          class={`banner ${scanned === 'match' ? 'banner-ok' : scanned === 'mismatch' ? 'banner-danger' : 'banner-warn'}`}
          role="alert"
        >
          {scanned === 'match'
            ? t('safety.scanMatch', { name: alias })
            : scanned === 'mismatch'
              ? t('safety.scanMismatch', { name: alias })
              : t('safety.scanOther')}
        </p>
      )}
      <fieldset class="state-options">
        <legend>{t('safety.state')}</legend>
        {STATES.map(({ state, hint }) => (
          <label key={state} class={`state-option state-${state}`}>
            <input
              type="radio"
              name="contact-state"
              value={state}
              checked={shown === state}
              onChange={() => choose(state)}
            />
            <span>
              <strong>{t(`state.${state}`)}</strong>
              <small>{t(hint)}</small>
            </span>
          </label>
        ))}
      </fieldset>
      <p class="form-error" role="alert">
        {error}
      </p>
    </Dialog>
  );
}
