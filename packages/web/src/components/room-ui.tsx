/**
 * Public rooms' screens that are not on the first screen (loaded by room-ui-loader.ts): the
 * share-link dialog (link, QR code, a new link), the join form for a pasted or scanned room
 * link, and the note form of a private chat request.
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { RoomLinkView, RoomPreview, Session } from '../engine-loader.ts';
import { errorName, errorText } from '../errors.ts';
import { useI18n, type Translate } from '../i18n.ts';
import { Dialog } from './dialog.tsx';
import { Field } from './field.tsx';
import { groupErrorText } from './group-errors.ts';
import { QrCode } from './qr-code.tsx';

/** A room link's problems, in words (core room-link.ts, rendezvous-card.ts, the engine's joinRoom). */
export function roomErrorText(e: unknown, t: Translate): string {
  switch (errorName(e)) {
    case 'DecodeError':
    case 'VerificationError':
      return t('room.invalid');
    case 'ProtocolError':
    case 'ExpiredError':
      return t('room.expired');
    case 'UsageError':
      return t('room.already');
    case 'TransportError':
    case 'TimeoutError':
      return t('room.unreachable');
    default:
      return errorText(e, t);
  }
}

/** 分享連結: my room link as text and QR code; 更換連結 makes earlier links stop working. */
export function RoomShare(props: { session: Session; id: string; onClose: () => void }): JSX.Element {
  const { t } = useI18n();
  const { session, id } = props;
  const group = session.groups.group(id);
  const [view, setView] = useState<RoomLinkView | undefined>();
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [copied, setCopied] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    session.rooms.link(id).then(
      (v) => live && setView(v),
      (e: unknown) => live && setError(groupErrorText(e, t)),
    );
    return () => {
      live = false;
    };
  }, [session, id]);

  const copy = async (): Promise<void> => {
    if (!view) return;
    try {
      await navigator.clipboard.writeText(view.link);
      setCopied(true);
    } catch {
      (document.getElementById('room-link') as HTMLTextAreaElement | null)?.select();
    }
  };

  const rotate = async (): Promise<void> => {
    setBusy(true);
    setError('');
    setNotice('');
    try {
      setView(await session.rooms.link(id, { rotate: true }));
      setCopied(false);
      setNotice(t('room.rotated'));
    } catch (e) {
      setError(groupErrorText(e, t));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog
      title={t('room.shareTitle', { name: group?.alias ?? group?.name ?? '' })}
      onClose={props.onClose}
      class="room-share"
    >
      <p class="muted">{t('room.shareIntro')}</p>
      {view ? (
        <>
          <QrCode matrix={view.qr} label={t('room.qr')} />
          <Field id="room-link" label={t('room.link')}>
            <textarea id="room-link" class="link-box" readOnly rows={3} value={view.link} />
          </Field>
          <div class="row">
            <button type="button" class="primary" onClick={() => void copy()}>
              {copied ? t('friend.copied') : t('friend.copy')}
            </button>
            <button
              type="button"
              disabled={busy}
              aria-describedby="room-rotate-hint"
              onClick={() => void rotate()}
            >
              {t('room.rotate')}
            </button>
          </div>
          <small id="room-rotate-hint" class="muted room-hint">
            {t('room.rotateHint')}
          </small>
          {view.longLink !== view.link && (
            <details class="room-long-link">
              <summary>{t('room.longLink')}</summary>
              <textarea
                class="link-box"
                readOnly
                rows={3}
                aria-label={t('room.longLinkLabel')}
                value={view.longLink}
              />
            </details>
          )}
        </>
      ) : (
        !error && (
          <p class="muted" role="status">
            {t('room.making')}
          </p>
        )
      )}
      {notice && (
        <p class="group-notice" role="status">
          {notice}
        </p>
      )}
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
    </Dialog>
  );
}

/** A room link was pasted or scanned: which room, my nickname there (optional), 加入聊天室. */
export function JoinRoom(props: {
  session: Session;
  link: string;
  onJoined: (id: string) => void;
}): JSX.Element {
  const { t } = useI18n();
  const { session, link } = props;
  // A short link is fetched from its relay first (decision 0059); a long one is checked at once.
  const [checked, setChecked] = useState<{ room?: RoomPreview; error?: unknown } | undefined>();
  useEffect(() => {
    let live = true;
    setChecked(undefined);
    session.rooms.preview(link).then(
      (room) => live && setChecked({ room }),
      (error: unknown) => live && setChecked({ error }),
    );
    return () => {
      live = false;
    };
  }, [session, link]);
  const [nick, setNick] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  if (!checked) return <p class="room-checking">{t('room.checking')}</p>;
  const room = checked.room;
  if (!room)
    return (
      <p class="form-error" role="alert">
        {roomErrorText(checked.error, t)}
      </p>
    );
  const join = async (): Promise<void> => {
    setBusy(true);
    setError('');
    try {
      const g = await session.rooms.join(room.link, nick.trim() ? { nick } : {});
      props.onJoined(g.id);
    } catch (e) {
      setError(roomErrorText(e, t));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      class="form join-room"
      aria-label={t('room.join')}
      onSubmit={(e) => {
        e.preventDefault();
        void join();
      }}
    >
      <p class="room-found">{t('room.linkDetected', { name: room.name })}</p>
      <Field id="room-nick" label={t('room.nick')} hint={t('room.nickHint')}>
        <input
          id="room-nick"
          value={nick}
          maxLength={64}
          placeholder={session.name}
          aria-describedby="room-nick-hint"
          onInput={(e) => setNick(e.currentTarget.value)}
        />
      </Field>
      <p class="form-error" role="alert">
        {error}
      </p>
      <button type="submit" class="primary" disabled={busy}>
        {busy ? t('room.joining') : t('room.join')}
      </button>
    </form>
  );
}

/** 私訊: an optional short note, then the request goes to the member (they see 「X 想和你私訊」). */
export function ChatRequestForm(props: {
  name: string;
  onSend: (note: string) => Promise<boolean>;
  onCancel: () => void;
}): JSX.Element {
  const { t } = useI18n();
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  return (
    <form
      class="group-edit chat-request-form"
      aria-label={t('room.dmTitle', { name: props.name })}
      onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        void props.onSend(note).finally(() => setBusy(false));
      }}
    >
      <label>
        <span>{t('room.dmNote')}</span>
        <input
          value={note}
          maxLength={280}
          aria-describedby="chat-request-hint"
          onInput={(e) => setNote(e.currentTarget.value)}
          ref={input}
        />
      </label>
      <small id="chat-request-hint" class="muted room-hint">
        {t('room.dmHint')}
      </small>
      <div class="row">
        <button type="submit" class="primary" disabled={busy}>
          {t('room.dmSend')}
        </button>
        <button type="button" onClick={props.onCancel}>
          {t('room.dmCancel')}
        </button>
      </div>
    </form>
  );
}
