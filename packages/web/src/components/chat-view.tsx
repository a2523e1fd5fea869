/**
 * One conversation: bubbles with the time beside them, day headings (今天, 昨天, …),
 * ✓ / ✓✓ / 已讀 on my messages, replies, stickers, /me actions, photos and files, 收回
 * (unsend) from a message's menu, the typing indicator, the security banners, and the
 * composer. Files can also be dropped on the conversation or pasted into the composer.
 */
import type { JSX } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { MessageInfo } from '@parus/client';
import type { Session, UploadInfo } from '../engine-loader.ts';
import { errorName, fileErrorText } from '../errors.ts';
import { useI18n, type Translate } from '../i18n.ts';
import { Avatar } from './avatar.tsx';
import { HeaderActions } from './header-actions.tsx';
import { formatSize } from '../compose/thumbnail.ts';
import { outgoingFile } from '../compose/outgoing-file.ts';
import { Composer } from './composer.tsx';
import { FileBubble } from './file-bubble.tsx';
import { BackIcon, BellIcon, CloseIcon, MutedIcon, ShieldIcon, WarningIcon } from './icons.tsx';
import {
  ChatMessage,
  ConfirmUnsend,
  MessageList,
  ReplyBar,
  snippet,
  withDayHeadings,
} from './message-row.tsx';
import { copyText, putOffVerify, verifyPutOff } from './message-actions.ts';
import { canForward } from './forward-dialog.tsx';
import { CallButtons } from '../calls/call-buttons.tsx';
import { callLogText } from '../calls/call-log.ts';
import { VoiceBubble, isVoice } from '../voice/voice-bubble.tsx';
import { VoiceRecorder } from '../voice/voice-recorder.tsx';
import { messagePreview } from './message-preview.ts';
import { TypingIndicator } from './typing-indicator.tsx';
import { NAME_SLOT, PeerText, Sentence } from './peer-text.tsx';

function StatusMark({ status, t }: { status: MessageInfo['status']; t: Translate }): JSX.Element | null {
  if (status === 'received') return null;
  const label = t(`chat.status.${status}`);
  // Read, and given up without a receipt (decision 0025), are said in words.
  if (status === 'read' || status === 'failed') return <span class={`status status-${status}`}>{label}</span>;
  const mark = status === 'pending' ? '…' : status === 'sent' ? '✓' : '✓✓';
  return (
    <span class={`status status-${status}`}>
      <span aria-hidden="true">{mark}</span>
      <span class="visually-hidden">{label}</span>
    </span>
  );
}

export function ChatView(props: {
  session: Session;
  alias: string;
  version: number;
  onBack: () => void;
  onSafety: () => void;
  muted: boolean;
  onToggleMute: () => void;
  /** 轉傳: send this message to another chat. */
  onForward?: (m: MessageInfo) => void;
  /** Calls this contact (calls/, decision 0046). */
  onCall?: (video: boolean) => void;
}): JSX.Element | null {
  const { t } = useI18n();
  const { session, alias } = props;
  const contact = session.contact(alias);
  const messages = session.messages(alias);
  const [draft, setDraft] = useState('');
  const [replyTo, setReplyTo] = useState<MessageInfo | undefined>();
  const [error, setError] = useState('');
  const [promptDismissed, setPromptDismissed] = useState(() => verifyPutOff(alias));
  const list = useRef<HTMLOListElement>(null);
  const input = useRef<HTMLTextAreaElement | null>(null);
  const stick = useRef(true);
  const sending = useRef(false);
  const [menuFor, setMenuFor] = useState<string | undefined>();
  const [confirmUnsend, setConfirmUnsend] = useState<MessageInfo | undefined>();
  const [pending, setPending] = useState<UploadInfo[]>([]);
  const resumePicker = useRef<HTMLInputElement>(null);
  const uploads = session.uploads(alias);

  // Uploads a closed page left unfinished: the engine resumes one when given the same file.
  useEffect(() => {
    let live = true;
    session.pendingUploads(alias).then(
      (list) => live && setPending(list),
      (e: unknown) => console.warn('parus: pendingUploads failed', e),
    );
    return () => {
      live = false;
    };
  }, [session, alias, uploads.length]);

  useEffect(() => {
    session.setActive(alias);
    return () => session.setActive(undefined);
  }, [session, alias]);

  useLayoutEffect(() => {
    const el = list.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [messages.length, props.version]);

  if (!contact) return null;
  const name = contact.alias;

  const send = async (typed: string): Promise<void> => {
    const text = typed.replace(/\s+$/u, '');
    if (text.trim() === '' || sending.current) return;
    const draftBefore = draft;
    sending.current = true;
    setError('');
    setDraft('');
    const reply = replyTo;
    setReplyTo(undefined);
    stick.current = true;
    try {
      await session.send(alias, text, reply?.id);
    } catch (e) {
      setDraft(draftBefore);
      setReplyTo(reply);
      setError(t('chat.sendFailed', { name: errorName(e) }));
    } finally {
      sending.current = false;
    }
  };

  /**
   * Stickers and actions: what is replied to goes with them; on failure the reply (and the
   * draft, for an action) comes back so that nothing typed is lost.
   */
  const sendOther = async (
    op: (replyTo: string | undefined) => Promise<unknown>,
    draftBefore?: string,
  ): Promise<void> => {
    const reply = replyTo;
    setReplyTo(undefined);
    setError('');
    if (draftBefore !== undefined) setDraft('');
    stick.current = true;
    try {
      await op(reply?.id);
    } catch (e) {
      if (draftBefore !== undefined) setDraft(draftBefore);
      setReplyTo(reply);
      setError(t('chat.sendFailed', { name: errorName(e) }));
    }
  };

  const sendFiles = async (files: File[]): Promise<void> => {
    let reply = replyTo;
    setReplyTo(undefined);
    setError('');
    stick.current = true;
    for (const f of files) {
      try {
        await session.sendFile(alias, await outgoingFile(f), reply?.id);
        reply = undefined;
      } catch (e) {
        const text = fileErrorText(e, t);
        if (text) setError(t('file.failedNamed', { name: f.name, reason: text }));
      }
    }
  };

  const closeMenu = (refocus: boolean): void => {
    const id = menuFor;
    setMenuFor(undefined);
    if (refocus && id)
      list.current?.querySelector<HTMLButtonElement>(`li[data-id="${id}"] .more-button`)?.focus();
  };

  const unsend = async (m: MessageInfo): Promise<void> => {
    setConfirmUnsend(undefined);
    setError('');
    try {
      await session.unsend(alias, m.id);
    } catch (e) {
      setError(t('msg.unsendFailed', { name: errorName(e) }));
    }
  };

  const startReply = (m: MessageInfo): void => {
    setReplyTo(m);
    input.current?.focus();
  };

  const act = async (work: () => Promise<unknown>): Promise<void> => {
    setError('');
    try {
      await work();
    } catch (e) {
      setError(t('msg.actionFailed', { name: errorName(e) }));
    }
  };
  const compromised = contact.state === 'compromised';
  const byId = new Map(messages.map((m) => [m.id, m]));
  const rows = withDayHeadings(messages, new Date(), t, (m, at) => {
    const quoted = m.replyTo ? byId.get(m.replyTo) : undefined;
    const author = m.dir === 'out' ? session.name : name;
    return (
      <ChatMessage
        key={m.id}
        m={m}
        at={at}
        t={t}
        author={author}
        avatar={name}
        meta={m.dir === 'out' && <StatusMark status={m.status} t={t} />}
        quote={
          quoted && {
            name: quoted.dir === 'out' ? t('chat.you') : <PeerText text={name} />,
            text: snippet(messagePreview(quoted, t, quoted.dir === 'out' ? session.name : name)),
          }
        }
        file={
          m.file && isVoice(m.file.mime) ? (
            <VoiceBubble session={session} message={m} />
          ) : (
            <FileBubble session={session} message={m} />
          )
        }
        call={m.call && <span class="text call-log">{callLogText(m.call, m.dir, t)}</span>}
        actions={{
          reply: () => startReply(m),
          copy: () => void copyText(m.text),
          forward: props.onForward && canForward(m) ? () => props.onForward?.(m) : undefined,
          react: compromised ? undefined : (emoji) => void act(() => session.react(alias, m.id, emoji)),
          deleteForMe: () => void act(() => session.deleteForMe(alias, m.id)),
          unsend: () => setConfirmUnsend(m),
        }}
        menuOpen={menuFor === m.id}
        setMenu={(open) => setMenuFor(open ? m.id : undefined)}
        onCloseMenu={closeMenu}
      />
    );
  });

  return (
    <section
      class="chat"
      aria-label={name}
      onDragOver={(e) => {
        if (!compromised && e.dataTransfer?.types.includes('Files')) e.preventDefault();
      }}
      onDrop={(e) => {
        const files = Array.from(e.dataTransfer?.files ?? []);
        if (files.length === 0) return;
        e.preventDefault();
        if (!compromised) void sendFiles(files);
      }}
    >
      <header class="chat-head">
        <button
          type="button"
          class="icon-button back-button"
          aria-label={t('main.back')}
          onClick={props.onBack}
        >
          <BackIcon />
        </button>
        <Avatar name={name} src={session.avatarUrl(alias)} />
        <div class="chat-title">
          <h2>
            <PeerText text={name} />
            {/* The name they gave themselves (decision 0056), beside the alias I gave them. */}
            {contact.profileName !== undefined && contact.profileName !== name && (
              <span class="profile-name">
                {' '}
                (<PeerText text={contact.profileName} />)
              </span>
            )}
          </h2>
          <span class={`state-tag state-${contact.state}`}>
            {contact.state === 'validated' ? (
              <ShieldIcon />
            ) : contact.state === 'compromised' ? (
              <WarningIcon />
            ) : null}
            {t(`state.${contact.state}`)}
          </span>
        </div>
        <HeaderActions>
          {props.onCall && !compromised && <CallButtons t={t} onCall={props.onCall} />}
          <button
            type="button"
            class="icon-button mute-button"
            aria-label={t('chat.mute')}
            title={props.muted ? t('chat.muted') : t('chat.mute')}
            aria-pressed={props.muted}
            onClick={props.onToggleMute}
          >
            {props.muted ? <MutedIcon /> : <BellIcon />}
          </button>
          <button type="button" class="pill-button" onClick={props.onSafety}>
            <ShieldIcon />
            {t('chat.safety')}
          </button>
        </HeaderActions>
      </header>

      {contact.keyChanged && (
        <div class="banner banner-danger" role="alert">
          <WarningIcon />
          <p>
            <Sentence text={t('chat.keyChanged', { name: NAME_SLOT })} name={name} />
          </p>
          <button type="button" onClick={props.onSafety}>
            {t('chat.verifyAction')}
          </button>
        </div>
      )}
      {compromised && (
        <div class="banner banner-danger" role="alert">
          <WarningIcon />
          <p>{t('chat.compromised', { name })}</p>
        </div>
      )}
      {contact.status === 'pending' && (
        <div class="banner banner-info" role="status">
          <p>{t('chat.pending', { name })}</p>
        </div>
      )}
      {contact.state === 'unvalidated' &&
        !contact.keyChanged &&
        contact.status === 'active' &&
        !promptDismissed && (
          <div class="banner banner-gentle" role="status">
            <ShieldIcon />
            <p>
              <Sentence text={t('chat.verifyPrompt', { name: NAME_SLOT })} name={name} />
            </p>
            <div class="row">
              <button type="button" class="primary" onClick={props.onSafety}>
                {t('chat.verifyAction')}
              </button>
              <button
                type="button"
                onClick={() => {
                  putOffVerify(alias);
                  setPromptDismissed(true);
                }}
              >
                {t('chat.verifyDismiss')}
              </button>
            </div>
          </div>
        )}

      <MessageList t={t} name={name} list={list} stick={stick}>
        {rows}
      </MessageList>

      {replyTo && (
        <ReplyBar
          t={t}
          name={replyTo.dir === 'out' ? t('chat.you') : name}
          text={snippet(messagePreview(replyTo, t, replyTo.dir === 'out' ? session.name : name))}
          onCancel={() => setReplyTo(undefined)}
        />
      )}
      {pending.length > 0 && (
        <div class="banner banner-info pending-uploads" role="status">
          <ul>
            {pending.map((u) => (
              <li key={u.id}>
                <span>{t('file.resumePrompt', { name: u.name, size: formatSize(u.size) })}</span>
                <button
                  type="button"
                  aria-label={t('file.resumeNamed', { name: u.name })}
                  onClick={() => resumePicker.current?.click()}
                >
                  {t('file.resume')}
                </button>
                <button
                  type="button"
                  aria-label={t('file.discardNamed', { name: u.name })}
                  onClick={() =>
                    void session.cancelUpload(u.id).then(
                      () => setPending((p) => p.filter((x) => x.id !== u.id)),
                      (e: unknown) => setError(t('error.generic', { name: errorName(e) })),
                    )
                  }
                >
                  {t('file.discard')}
                </button>
              </li>
            ))}
          </ul>
          <input
            ref={resumePicker}
            type="file"
            hidden
            aria-label={t('file.resume')}
            onChange={(e) => {
              const files = Array.from(e.currentTarget.files ?? []);
              e.currentTarget.value = '';
              if (files.length > 0) void sendFiles(files);
            }}
          />
        </div>
      )}
      {uploads.map((u) => (
        <div key={u.key} class="transfer">
          <span class="transfer-name">{t('file.uploading', { name: u.name })}</span>
          <progress
            class="transfer-bar"
            max={Math.max(1, u.progress.total)}
            value={u.progress.done}
            aria-label={t('file.uploading', { name: u.name })}
          />
          <button
            type="button"
            class="icon-button"
            aria-label={t('file.cancelNamed', { name: u.name })}
            onClick={() => u.controller.abort()}
          >
            <CloseIcon />
          </button>
        </div>
      ))}
      {confirmUnsend && (
        <ConfirmUnsend
          t={t}
          name={name}
          onConfirm={() => void unsend(confirmUnsend)}
          onCancel={() => setConfirmUnsend(undefined)}
        />
      )}
      {error && (
        <p class="form-error chat-error" role="alert">
          {error}
        </p>
      )}
      <TypingIndicator name={name} typingUntil={session.typingUntil(alias)} />
      <div class="composer-row">
        <VoiceRecorder
          t={t}
          disabled={compromised}
          onError={setError}
          onRecorded={(file) => {
            stick.current = true;
            session.sendFile(alias, file).catch((e: unknown) => setError(fileErrorText(e, t)));
          }}
        />
        <Composer
          value={draft}
          onChange={setDraft}
          onSend={(text) => void send(text)}
          onAction={(text) => void sendOther((reply) => session.sendAction(alias, text, reply), draft)}
          onSticker={(pack, id) => void sendOther((reply) => session.sendSticker(alias, pack, id, reply))}
          onTyping={() => session.typing(alias)}
          onFiles={(files) => void sendFiles(files)}
          disabled={compromised}
          inputRef={input}
        />
      </div>
    </section>
  );
}
