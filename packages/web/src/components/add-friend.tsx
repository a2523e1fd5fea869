/**
 * Adding a friend, LINE-style: show my QR code and invite link, or paste theirs. A
 * one-time card is made when the dialog opens (it needs the relay, which makes the queue
 * the friend will answer on), and a new one after someone used it. A public room's link,
 * pasted or scanned here, offers to join the room instead (room-ui.tsx, loaded when needed).
 */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Invite, Session } from '../engine-loader.ts';
import { errorName, errorText } from '../errors.ts';
import { useI18n } from '../i18n.ts';
import { linkKind } from '../links.ts';
import { Dialog } from './dialog.tsx';
import { Field } from './field.tsx';
import { QrCode } from './qr-code.tsx';
import { QrScan } from './qr-scan.tsx';
import { useRoomUi } from './room-ui-loader.ts';

interface Conflict {
  alias: string;
  suggestion: string;
}

export function AddFriend(props: {
  session: Session;
  inviteGeneration: number;
  onClose: () => void;
  onAdded: (alias: string) => void;
  /** A room link was pasted or scanned and joined: the room, to open (it shows as joining). */
  onJoinedRoom: (id: string) => void;
}): JSX.Element {
  const { t } = useI18n();
  const { session } = props;
  const [invite, setInvite] = useState<Invite | undefined>();
  const [inviteError, setInviteError] = useState('');
  const [copied, setCopied] = useState(false);
  const [link, setLink] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [conflict, setConflict] = useState<Conflict | undefined>();
  const isRoom = linkKind(link) === 'room';
  const roomUi = useRoomUi(isRoom);

  const show = (fresh: boolean): (() => void) => {
    let live = true;
    setInvite(undefined);
    setInviteError('');
    setCopied(false);
    session.currentInvite(fresh).then(
      (i) => live && setInvite(i),
      (e: unknown) => live && setInviteError(errorText(e, t)),
    );
    return () => {
      live = false;
    };
  };
  useEffect(() => show(false), [props.inviteGeneration]);

  const copy = async (): Promise<void> => {
    if (!invite) return;
    try {
      await navigator.clipboard.writeText(invite.link);
      setCopied(true);
    } catch {
      (document.getElementById('my-invite-link') as HTMLTextAreaElement | null)?.select();
    }
  };

  const accept = async (opts: { alias?: string; replace?: boolean } = {}, text = link): Promise<void> => {
    if (!text.trim() || linkKind(text) === 'room') return;
    setBusy(true);
    setError('');
    try {
      const contact = await session.acceptInvite(text, opts);
      setConflict(undefined);
      props.onAdded(contact.alias);
    } catch (e) {
      const name = errorName(e);
      if (name === 'AliasTakenError') {
        const c = e as unknown as Conflict;
        setConflict({ alias: c.alias, suggestion: c.suggestion });
      } else if (name === 'AlreadyFriendsError')
        setError(t('friend.alreadyFriends', { name: (e as unknown as { alias: string }).alias }));
      else if (name === 'DecodeError' || name === 'VerificationError') setError(t('friend.invalid'));
      else if (name === 'ProtocolError') setError(t('friend.expired'));
      else if (name === 'TransportError' || name === 'TimeoutError') setError(t('friend.unreachable'));
      else if (name === 'OwnInviteError') setError(t('friend.own'));
      else if (name === 'UsageError') setError(t('friend.already'));
      else setError(errorText(e, t));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title={t('friend.title')} onClose={props.onClose} class="add-friend">
      <section class="friend-section" aria-labelledby="my-code-title">
        <h3 id="my-code-title">{t('friend.myCode')}</h3>
        <p class="muted">{t('friend.myCodeIntro')}</p>
        {invite ? (
          <>
            <QrCode matrix={invite.qr} label={t('friend.qr')} />
            <Field id="my-invite-link" label={t('friend.link')}>
              <textarea id="my-invite-link" class="link-box" readOnly rows={3} value={invite.link} />
            </Field>
            <div class="row">
              <button type="button" class="primary" onClick={() => void copy()}>
                {copied ? t('friend.copied') : t('friend.copy')}
              </button>
              <button type="button" onClick={() => show(true)}>
                {t('friend.newLink')}
              </button>
            </div>
          </>
        ) : (
          <p class={inviteError ? 'form-error' : 'muted'} role="status">
            {inviteError || t('friend.making')}
          </p>
        )}
      </section>
      <MyFriendCode session={session} />
      <section class="friend-section" aria-labelledby="scan-title">
        <h3 id="scan-title">{t('scan.title')}</h3>
        <QrScan
          busy={busy}
          onResult={(text) => {
            setConflict(undefined);
            if (!/^parus:/i.test(text.trim())) {
              setError(t('scan.notInvite'));
              document.getElementById('friend-link')?.focus();
              return;
            }
            setLink(text);
            if (linkKind(text) === 'room') {
              setError('');
              document.getElementById('friend-link')?.focus();
              return;
            }
            void accept({}, text);
          }}
        />
      </section>
      <section class="friend-section" aria-labelledby="paste-title">
        <h3 id="paste-title">{t('friend.paste')}</h3>
        <form
          class="form"
          onSubmit={(e) => {
            e.preventDefault();
            void accept();
          }}
        >
          <Field id="friend-link" label={t('friend.pasteLabel')} hint={t('friend.pasteIntro')}>
            <textarea
              id="friend-link"
              class="link-box"
              name="link"
              rows={3}
              spellcheck={false}
              placeholder="parus:…"
              value={link}
              onInput={(e) => {
                setLink(e.currentTarget.value);
                setConflict(undefined);
                setError('');
              }}
              aria-describedby="friend-link-hint"
            />
          </Field>
          {isRoom ? null : conflict ? (
            <div class="banner banner-warn" role="alert">
              <p>{t('friend.conflict', { name: conflict.alias })}</p>
              <div class="row">
                <button
                  type="button"
                  disabled={busy}
                  onClick={() => void accept({ alias: conflict.alias, replace: true })}
                >
                  {t('friend.replace')}
                </button>
                <button
                  type="button"
                  disabled={busy}
                  onClick={() => void accept({ alias: conflict.suggestion })}
                >
                  {t('friend.addAsNew', { name: conflict.suggestion })}
                </button>
              </div>
            </div>
          ) : (
            <>
              <p class="form-error" role="alert">
                {error}
              </p>
              <button class="primary" type="submit" disabled={busy || !link.trim()}>
                {busy ? t('friend.accepting') : t('friend.accept')}
              </button>
            </>
          )}
        </form>
        {isRoom &&
          (roomUi ? (
            <roomUi.JoinRoom key={link.trim()} session={session} link={link} onJoined={props.onJoinedRoom} />
          ) : (
            <p class="muted" role="status">
              {t('room.linkDetectedPlain')}
            </p>
          ))}
      </section>
    </Dialog>
  );
}

/**
 * My reusable QR code (好友條碼), as the CLI's `parus invite --reusable`: shown on request, the
 * same every time, until it is reset (decision 0045: the old code's card is then refused).
 */
function MyFriendCode(props: { session: Session }): JSX.Element {
  const { t } = useI18n();
  const [code, setCode] = useState<Invite | undefined>();
  const [state, setState] = useState<'idle' | 'busy' | 'confirm' | 'done'>('idle');
  const [error, setError] = useState('');
  const load = (reset: boolean): void => {
    setState('busy');
    setError('');
    props.session.myCode(reset).then(
      (c) => {
        setCode(c);
        setState(reset ? 'done' : 'idle');
      },
      (e: unknown) => {
        setError(errorText(e, t));
        setState('idle');
      },
    );
  };
  return (
    <section class="friend-section" aria-labelledby="friend-code-title">
      <h3 id="friend-code-title">{t('friend.code')}</h3>
      <p class="muted">{t('friend.codeIntro')}</p>
      {code ? (
        <>
          <QrCode matrix={code.qr} label={t('friend.codeQr')} />
          <Field id="my-friend-code" label={t('friend.codeLink')}>
            <textarea id="my-friend-code" class="link-box" readOnly rows={3} value={code.link} />
          </Field>
          {state === 'confirm' ? (
            <div class="banner banner-warn" role="alert">
              <p>{t('friend.codeResetConfirm')}</p>
              <div class="row">
                <button type="button" class="primary" onClick={() => load(true)}>
                  {t('friend.codeResetYes')}
                </button>
                <button type="button" onClick={() => setState('idle')}>
                  {t('friend.codeResetNo')}
                </button>
              </div>
            </div>
          ) : (
            <div class="row">
              <button type="button" disabled={state === 'busy'} onClick={() => setState('confirm')}>
                {t('friend.codeReset')}
              </button>
            </div>
          )}
          <p class="muted" role="status">
            {state === 'done' ? t('friend.codeDone') : ''}
          </p>
        </>
      ) : (
        <button type="button" disabled={state === 'busy'} onClick={() => load(false)}>
          {state === 'busy' ? t('friend.making') : t('friend.codeShow')}
        </button>
      )}
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

/** Invitations I answered that turned out spent (the long form: its queue was gone). */
export function SpentInvites(props: { session: Session }): JSX.Element | null {
  const { t } = useI18n();
  const spent = props.session.spentInvites;
  if (spent.length === 0) return null;
  return (
    <div class="banner banner-warn" role="alert">
      {spent.map((name) => (
        <p key={name}>{t('friend.spent', { name })}</p>
      ))}
      <button type="button" onClick={() => props.session.dismissSpent()}>
        {t('friend.spentDismiss')}
      </button>
    </div>
  );
}
