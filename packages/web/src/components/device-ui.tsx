/**
 * The devices and backup screens (docs/decisions/0030, 0031, 0041), in a chunk of their own
 * (device-ui-loader.ts) so that the first screen stays small: 裝置 (the list, revoking with the
 * account passphrase, linking a new device), 備份 (an encrypted backup file), and on the
 * welcome screen 連結到現有帳號 and 從備份還原.
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  loadEngine,
  type DeviceInfo,
  type DeviceLinkView,
  type HistoryChoice,
  type Session,
} from '../engine-loader.ts';
import { errorName, errorText } from '../errors.ts';
import { formatClock, formatDay } from '../format-time.ts';
import { useI18n } from '../i18n.ts';
import { Shell, pageRelay, RELAY_ADDRESS, MIN_PASSPHRASE } from '../screens/welcome.tsx';
import { Dialog } from './dialog.tsx';
import { Field } from './field.tsx';
import { QrCode } from './qr-code.tsx';
import { QrScan } from './qr-scan.tsx';

const DEVICE_LINK = /^parus:device\//i;

// ---- The history choice ----------------------------------------------------------------

type HistoryKind = 'all' | 'none' | 'days';
const HISTORY_LABELS = { all: 'history.all', days: 'history.days', none: 'history.none' } as const;

function useHistoryChoice(initial: HistoryKind, initialDays = 30) {
  const [kind, setKind] = useState<HistoryKind>(initial);
  const [days, setDays] = useState(String(initialDays));
  const choice = (): HistoryChoice | undefined => {
    if (kind !== 'days') return kind;
    const n = Number(days);
    return Number.isInteger(n) && n >= 1 && n <= 3650 ? { days: n } : undefined;
  };
  return { kind, setKind, days, setDays, choice };
}

function HistoryField(props: { id: string; h: ReturnType<typeof useHistoryChoice> }): JSX.Element {
  const { t } = useI18n();
  const { h } = props;
  return (
    <fieldset class="settings-section history-choice">
      <legend>{t('history.label')}</legend>
      <div class="row">
        {(['all', 'days', 'none'] as const).map((k) => (
          <label key={k} class="radio-pill">
            <input
              type="radio"
              name={`${props.id}-history`}
              value={k}
              checked={h.kind === k}
              onChange={() => h.setKind(k)}
            />
            <span>{t(HISTORY_LABELS[k])}</span>
          </label>
        ))}
      </div>
      {h.kind === 'days' && (
        <Field id={`${props.id}-days`} label={t('history.daysCount')}>
          <input
            id={`${props.id}-days`}
            type="number"
            inputMode="numeric"
            min={1}
            max={3650}
            value={h.days}
            onInput={(e) => h.setDays(e.currentTarget.value)}
          />
        </Field>
      )}
    </fieldset>
  );
}

/** The account passphrase, as every device screen asks it (revoke, back up, restore, link). */
function AccountPassphrase(props: {
  id: string;
  value: string;
  onInput: (value: string) => void;
  hint?: string;
  autoFocus?: boolean;
}): JSX.Element {
  const { t } = useI18n();
  return (
    <Field id={props.id} label={t('devices.passphrase')} {...(props.hint ? { hint: props.hint } : {})}>
      <input
        id={props.id}
        type="password"
        autoComplete="current-password"
        autoFocus={props.autoFocus}
        value={props.value}
        onInput={(e) => props.onInput(e.currentTarget.value)}
        {...(props.hint ? { 'aria-describedby': `${props.id}-hint` } : {})}
      />
    </Field>
  );
}

/** The short code, large and spaced, with the two answers. */
function CodeCheck(props: { code: string; onAnswer: (same: boolean) => void }): JSX.Element {
  const { t } = useI18n();
  return (
    <div class="link-code" role="group" aria-labelledby="link-code-label">
      <p id="link-code-label" class="muted">
        {t('link.compare')}
      </p>
      <p class="code-digits" aria-label={`${t('link.code')} ${props.code}`}>
        {props.code}
      </p>
      <div class="row">
        <button type="button" class="primary" onClick={() => props.onAnswer(true)}>
          {t('link.same')}
        </button>
        <button type="button" onClick={() => props.onAnswer(false)}>
          {t('link.different')}
        </button>
      </div>
    </div>
  );
}

function linkErrorText(e: unknown, t: ReturnType<typeof useI18n>['t']): string {
  switch (errorName(e)) {
    case 'DecodeError':
    case 'VerificationError':
      return t('link.badLink');
    case 'ExpiredError':
      return t('link.expired');
    case 'ReplayError':
      return t('link.replayed');
    case 'UsageError':
      return t('link.cancelled');
    case 'AuthError':
      return t('devices.wrongPassphrase');
    default:
      return errorText(e, t);
  }
}

/** A promise the user's click resolves: the code check on either side. */
function useAnswer(): {
  ask: () => Promise<boolean>;
  answer: (same: boolean) => void;
} {
  const pending = useRef<((same: boolean) => void) | undefined>();
  return {
    ask: () => new Promise<boolean>((resolve) => (pending.current = resolve)),
    answer: (same) => {
      pending.current?.(same);
      pending.current = undefined;
    },
  };
}

// ---- 裝置 ----------------------------------------------------------------------------------

function DeviceRow(props: { device: DeviceInfo; onRevoke: () => void }): JSX.Element {
  const { t } = useI18n();
  const d = props.device;
  const added = new Date(d.added);
  return (
    <li class={`device-row${d.revoked ? ' device-revoked' : ''}`}>
      <div class="device-main">
        <strong>{d.name}</strong>
        {d.current && <span class="badge">{t('devices.this')}</span>}
        {d.revoked && <span class="badge badge-muted">{t('devices.revoked')}</span>}
        <div class="muted small">
          <span class="mono">{t('devices.id', { id: d.id })}</span> ·{' '}
          {t('devices.added', { date: `${formatDay(added, new Date(), t)} ${formatClock(added, t)}` })}
        </div>
      </div>
      {!d.current && !d.revoked && (
        <button type="button" class="danger" onClick={props.onRevoke}>
          {t('devices.revoke')}
        </button>
      )}
    </li>
  );
}

function RevokeForm(props: {
  session: Session;
  device: DeviceInfo;
  onDone: (devices: DeviceInfo[]) => void;
  onCancel: () => void;
}): JSX.Element {
  const { t } = useI18n();
  const [pass, setPass] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!pass) return;
    setBusy(true);
    setError('');
    try {
      props.onDone(await props.session.devices.revoke(props.device.id, pass));
    } catch (err) {
      setBusy(false);
      setPass('');
      setError(errorName(err) === 'AuthError' ? t('devices.wrongPassphrase') : errorText(err, t));
    }
  };
  return (
    <form class="form revoke-form" onSubmit={submit}>
      <h3>{t('devices.revokeTitle', { name: props.device.name })}</h3>
      <p class="muted">{t('devices.revokeIntro')}</p>
      <AccountPassphrase id="revoke-passphrase" value={pass} onInput={setPass} autoFocus />
      <p class="form-error" role="alert">
        {error}
      </p>
      <div class="row">
        <button type="submit" class="danger" disabled={busy || !pass}>
          {busy ? t('devices.revoking') : t('devices.revokeSubmit')}
        </button>
        <button type="button" onClick={props.onCancel}>
          {t('devices.cancel')}
        </button>
      </div>
    </form>
  );
}

type AnswerStep =
  | { kind: 'form' }
  | { kind: 'connecting' }
  | { kind: 'code'; code: string }
  | { kind: 'sending' }
  | { kind: 'done'; name: string; count: number };

/** An existing device answers a new device's link: scan or paste, code, history, send. */
function LinkDevice(props: { session: Session; onLinked: () => void }): JSX.Element {
  const { t } = useI18n();
  const [link, setLink] = useState('');
  const [error, setError] = useState('');
  const [step, setStep] = useState<AnswerStep>({ kind: 'form' });
  const history = useHistoryChoice('days');
  const check = useAnswer();

  const start = async (text = link): Promise<void> => {
    const choice = history.choice();
    if (!choice) return setError(t('history.daysError'));
    setError('');
    try {
      props.session.devices.checkLink(text);
    } catch (e) {
      return setError(linkErrorText(e, t));
    }
    setStep({ kind: 'connecting' });
    try {
      const r = await props.session.devices.answerLink({
        link: text,
        history: choice,
        onCode: (code) => setStep({ kind: 'code', code }),
        confirm: async () => {
          const same = await check.ask();
          if (same) setStep({ kind: 'sending' });
          return same;
        },
      });
      setStep({ kind: 'done', name: r.device.name, count: r.messages });
      props.onLinked();
    } catch (e) {
      setStep({ kind: 'form' });
      setError(linkErrorText(e, t));
    }
  };

  if (step.kind === 'code') return <CodeCheck code={step.code} onAnswer={check.answer} />;
  if (step.kind === 'connecting' || step.kind === 'sending')
    return (
      <p class="muted" role="status">
        {t(step.kind === 'connecting' ? 'link.connecting' : 'link.sending')}
      </p>
    );
  if (step.kind === 'done')
    return (
      <p class="banner banner-info" role="status">
        {t('link.done', { name: step.name, count: String(step.count) })}
      </p>
    );
  return (
    <div class="link-device">
      <p class="muted">{t('link.answerIntro')}</p>
      <QrScan
        onResult={(text) => {
          setLink(text);
          if (DEVICE_LINK.test(text.trim())) void start(text);
          else setError(t('link.badLink'));
        }}
      />
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          void start();
        }}
      >
        <Field id="device-link" label={t('link.paste')} hint={t('link.pasteHint')}>
          <textarea
            id="device-link"
            class="link-box"
            rows={3}
            spellcheck={false}
            placeholder="parus:device/…"
            value={link}
            onInput={(e) => {
              setLink(e.currentTarget.value);
              setError('');
            }}
            aria-describedby="device-link-hint"
          />
        </Field>
        <HistoryField id="link" h={history} />
        <p class="form-error" role="alert">
          {error}
        </p>
        <button type="submit" class="primary" disabled={!link.trim()}>
          {t('link.start')}
        </button>
      </form>
    </div>
  );
}

export function DevicesDialog(props: { session: Session; onClose: () => void }): JSX.Element {
  const { t } = useI18n();
  const [devices, setDevices] = useState<DeviceInfo[] | undefined>();
  const [error, setError] = useState('');
  const [revoking, setRevoking] = useState<DeviceInfo | undefined>();
  const [done, setDone] = useState('');
  const [linking, setLinking] = useState(false);
  const reload = (): void => {
    props.session.devices.list().then(setDevices, (e: unknown) => setError(errorText(e, t)));
  };
  useEffect(reload, []);
  return (
    <Dialog title={t('devices.title')} onClose={props.onClose} class="devices">
      <p class="muted">{t('devices.intro')}</p>
      {devices ? (
        <ul class="device-list" aria-label={t('devices.list')}>
          {devices.map((d) => (
            <DeviceRow
              key={d.id}
              device={d}
              onRevoke={() => {
                setDone('');
                setRevoking(d);
              }}
            />
          ))}
        </ul>
      ) : (
        <p class={error ? 'form-error' : 'muted'} role="status">
          {error || t('devices.loading')}
        </p>
      )}
      {done && (
        <p class="banner banner-info" role="status">
          {done}
        </p>
      )}
      {revoking && (
        <RevokeForm
          session={props.session}
          device={revoking}
          onCancel={() => setRevoking(undefined)}
          onDone={(list) => {
            setDevices(list);
            setDone(t('devices.revokedDone', { name: revoking.name }));
            setRevoking(undefined);
          }}
        />
      )}
      <section class="settings-section" aria-labelledby="link-title">
        <h3 id="link-title">{t('link.title')}</h3>
        {linking ? (
          <LinkDevice session={props.session} onLinked={reload} />
        ) : (
          <button type="button" class="primary" onClick={() => setLinking(true)}>
            {t('devices.linkNew')}
          </button>
        )}
      </section>
    </Dialog>
  );
}

// ---- 備份 ----------------------------------------------------------------------------------

/** Saves bytes as a file through a download link (blob: URL, revoked after). */
function download(bytes: Uint8Array, name: string): void {
  const url = URL.createObjectURL(new Blob([Uint8Array.from(bytes)], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function backupName(now: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `parus-backup-${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}.parus`;
}

export function BackupDialog(props: { session: Session; onClose: () => void }): JSX.Element {
  const { t } = useI18n();
  const [pass, setPass] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [done, setDone] = useState('');
  const history = useHistoryChoice('all');
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const choice = history.choice();
    if (!choice) return setError(t('history.daysError'));
    if (!pass) return;
    setBusy(true);
    setError('');
    setDone('');
    try {
      const { bytes, messages } = await props.session.devices.exportBackup(pass, choice);
      download(bytes, backupName(new Date()));
      setDone(t('backup.done', { count: String(messages) }));
    } catch (err) {
      setError(errorName(err) === 'AuthError' ? t('devices.wrongPassphrase') : errorText(err, t));
    } finally {
      setBusy(false);
      setPass('');
    }
  };
  return (
    <Dialog title={t('backup.title')} onClose={props.onClose} class="backup">
      <p class="muted">{t('backup.intro')}</p>
      <form class="form" onSubmit={submit}>
        <AccountPassphrase id="backup-passphrase" value={pass} onInput={setPass} />
        <HistoryField id="backup" h={history} />
        <p class="form-error" role="alert">
          {error}
        </p>
        {done && (
          <p class="banner banner-info" role="status">
            {done}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy || !pass}>
          {busy ? t('backup.exporting') : t('backup.export')}
        </button>
      </form>
    </Dialog>
  );
}

// ---- On the welcome screen ---------------------------------------------------------------

function BackButton({ onBack }: { onBack: () => void }): JSX.Element {
  const { t } = useI18n();
  return (
    <button type="button" class="link-button" onClick={onBack}>
      {t('welcome.back')}
    </button>
  );
}

export function RestoreBackup(props: { onDone: (s: Session) => void; onBack: () => void }): JSX.Element {
  const { t } = useI18n();
  const [file, setFile] = useState<File | undefined>();
  const [pass, setPass] = useState('');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!file) return setError(t('restore.noFile'));
    if (!pass) return;
    setBusy(true);
    setError('');
    try {
      const engine = await loadEngine();
      const bytes = new Uint8Array(await file.arrayBuffer());
      props.onDone(
        await engine.restoreBackup({
          file: bytes,
          passphrase: pass,
          deviceName: name.trim() || engine.browserDeviceName(),
        }),
      );
    } catch (err) {
      setBusy(false);
      const n = errorName(err);
      setError(
        n === 'VerificationError' || n === 'AuthError'
          ? t('restore.wrong')
          : n === 'DecodeError'
            ? t('restore.badFile')
            : errorText(err, t),
      );
    }
  };
  return (
    <Shell>
      <h2>{t('restore.title')}</h2>
      <p class="muted">{t('restore.intro')}</p>
      <form class="form" onSubmit={submit} noValidate>
        <Field id="restore-file" label={t('restore.file')}>
          <input
            id="restore-file"
            type="file"
            accept=".parus,application/octet-stream"
            onChange={(e) => {
              setFile(e.currentTarget.files?.[0]);
              setError('');
            }}
          />
        </Field>
        <AccountPassphrase id="restore-passphrase" value={pass} onInput={setPass} />
        <Field id="restore-name" label={t('link.deviceName')} hint={t('link.deviceNameHint')}>
          <input
            id="restore-name"
            maxLength={64}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            aria-describedby="restore-name-hint"
          />
        </Field>
        <p class="form-error" role="alert">
          {error}
        </p>
        <button class="primary" type="submit" disabled={busy || !pass}>
          {busy ? t('restore.working') : t('restore.submit')}
        </button>
      </form>
      <BackButton onBack={props.onBack} />
    </Shell>
  );
}

type OfferStep =
  | { kind: 'form' }
  | { kind: 'waiting'; view?: DeviceLinkView }
  | { kind: 'code'; code: string }
  | { kind: 'receiving' };

export function LinkToAccount(props: { onDone: (s: Session) => void; onBack: () => void }): JSX.Element {
  const { t } = useI18n();
  const [relay, setRelay] = useState('');
  const [name, setName] = useState('');
  const [pass, setPass] = useState('');
  const [error, setError] = useState('');
  const [copied, setCopied] = useState(false);
  const [step, setStep] = useState<OfferStep>({ kind: 'form' });
  const check = useAnswer();
  const stop = useRef<AbortController | undefined>();

  useEffect(() => {
    const ac = new AbortController();
    void pageRelay(ac.signal).then((address) => {
      if (address) setRelay((r) => r || address);
    });
    return () => {
      ac.abort();
      stop.current?.abort();
    };
  }, []);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!RELAY_ADDRESS.test(relay.trim())) return setError(t('create.errorRelay'));
    if (pass.length < MIN_PASSPHRASE) return setError(t('create.errorShort'));
    setError('');
    setStep({ kind: 'waiting' });
    const ac = new AbortController();
    stop.current = ac;
    try {
      const engine = await loadEngine();
      const session = await engine.linkToAccount({
        relay: relay.trim(),
        deviceName: name.trim() || engine.browserDeviceName(),
        passphrase: pass,
        onLink: (view) => setStep({ kind: 'waiting', view }),
        confirm: async (code) => {
          setStep({ kind: 'code', code });
          const same = await check.ask();
          if (same) setStep({ kind: 'receiving' });
          return same;
        },
        signal: ac.signal,
      });
      props.onDone(session);
    } catch (err) {
      setStep({ kind: 'form' });
      setError(linkErrorText(err, t));
    }
  };

  const back = (): void => {
    stop.current?.abort();
    props.onBack();
  };

  let body: JSX.Element;
  if (step.kind === 'waiting')
    body = step.view ? (
      <div class="link-offer">
        <p class="muted">{t('link.waiting')}</p>
        <QrCode matrix={step.view.qr} label={t('link.myLink')} />
        <Field id="my-device-link" label={t('link.myLink')}>
          <textarea id="my-device-link" class="link-box" readOnly rows={3} value={step.view.link} />
        </Field>
        <button
          type="button"
          onClick={() => {
            const link = step.view!.link;
            navigator.clipboard.writeText(link).then(
              () => setCopied(true),
              () => (document.getElementById('my-device-link') as HTMLTextAreaElement | null)?.select(),
            );
          }}
        >
          {copied ? t('link.copied') : t('link.copy')}
        </button>
      </div>
    ) : (
      <p class="muted" role="status">
        {t('link.connecting')}
      </p>
    );
  else if (step.kind === 'code') body = <CodeCheck code={step.code} onAnswer={check.answer} />;
  else if (step.kind === 'receiving')
    body = (
      <p class="muted" role="status">
        {t('link.receiving')}
      </p>
    );
  else
    body = (
      <form class="form" onSubmit={submit} noValidate>
        <Field id="link-name" label={t('link.deviceName')} hint={t('link.deviceNameHint')}>
          <input
            id="link-name"
            maxLength={64}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            aria-describedby="link-name-hint"
          />
        </Field>
        <Field id="link-relay" label={t('create.relay')} hint={t('create.relayHint')}>
          <input
            id="link-relay"
            autoComplete="off"
            spellcheck={false}
            value={relay}
            onInput={(e) => setRelay(e.currentTarget.value)}
            aria-describedby="link-relay-hint"
          />
        </Field>
        <AccountPassphrase
          id="link-passphrase"
          value={pass}
          onInput={setPass}
          hint={t('link.passphraseHint')}
        />
        <p class="form-error" role="alert">
          {error}
        </p>
        <button class="primary" type="submit">
          {t('link.showLink')}
        </button>
      </form>
    );
  return (
    <Shell>
      <h2>{t('link.newTitle')}</h2>
      <p class="muted">{t('link.newIntro')}</p>
      {body}
      <BackButton onBack={back} />
    </Shell>
  );
}
