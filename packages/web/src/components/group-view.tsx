/**
 * One group chat: the pinned announcement (公告) on top, messages with their sender's name,
 * /me actions, highlighted @mentions (a message that mentions me is marked), 已讀 N on my
 * messages and a mark on late (anti-backdated) ones; the composer completes @mentions from
 * the member list and runs the group commands. Photos, files and voice messages go as in a
 * 1:1 chat (the paper clip, paste, drop, the microphone). An invitation shows join / decline instead.
 */
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { GroupMemberInfo, MessageInfo, RoomRefusal } from '@parus/client';
import type { Session } from '../engine-loader.ts';
import type { GroupCommandName } from '../compose/commands.ts';
import {
  applyMention,
  matchMembers,
  mentionQuery,
  mentionsAny,
  splitMentions,
  type MentionQuery,
} from '../compose/mentions.ts';
import { useI18n, type MessageKey, type Translate } from '../i18n.ts';
import { groupErrorText } from './group-errors.ts';
import { Avatar } from './avatar.tsx';
import { HeaderActions } from './header-actions.tsx';
import { Composer } from './composer.tsx';
import { GroupAvatar, GroupIcon, PinIcon } from './group-icons.tsx';
import { BackIcon, CloseIcon } from './icons.tsx';
import { FileBubble } from './file-bubble.tsx';
import { fileErrorText } from '../errors.ts';
import { outgoingFile } from '../compose/outgoing-file.ts';
import { VoiceBubble, isVoice } from '../voice/voice-bubble.tsx';
import { VoiceRecorder } from '../voice/voice-recorder.tsx';
import { isJoiningRoom } from './group-list-item.tsx';
import {
  ChatMessage,
  ConfirmUnsend,
  Linked,
  MessageList,
  ReplyBar,
  snippet,
  withDayHeadings,
} from './message-row.tsx';
import { copyText } from './message-actions.ts';
import { canForward } from './forward-dialog.tsx';
import { groupCallLogText } from '../calls/call-log.ts';
import { messagePreview } from './message-preview.ts';
import { GlobeIcon, ShareLinkIcon } from './room-icons.tsx';
import { Marked, PeerText } from './peer-text.tsx';

/** Why a room's door refused my join (decision 0017). */
const REFUSAL_TEXT: Record<RoomRefusal, MessageKey> = {
  'link-invalid': 'room.refused.link-invalid',
  'not-allowed': 'room.refused.not-allowed',
  'too-many-joins': 'room.refused.too-many-joins',
};

/**
 * How a member is named in this chat and in mentions: their nick, else how I know them
 * (and I am my nick or my own name: the engine calls me "me").
 */
export function memberLabel(m: GroupMemberInfo, myName: string): string {
  return m.nick ?? (m.me ? myName : m.name);
}

/** A member's message, isolated and with its acting or invisible characters marked (decision 0024). */
function Text({ text, names, mine }: { text: string; names: string[]; mine: string[] }): JSX.Element {
  return (
    <>
      {splitMentions(text, names).map((s, i) =>
        s.mention === undefined ? (
          <Linked key={i} text={s.text} />
        ) : (
          <mark key={i} class={`mention${mine.includes(s.mention) ? ' mention-me' : ''}`}>
            <Marked text={s.text} />
          </mark>
        ),
      )}
    </>
  );
}

function ReadMark({ m, t }: { m: MessageInfo; t: Translate }): JSX.Element | null {
  const read = m.readCount ?? 0;
  if (read > 0) return <span class="status status-read">{t('group.readCount', { count: read })}</span>;
  if (m.status === 'received') return null;
  const label = t(`chat.status.${m.status}`);
  if (m.status === 'failed') return <span class="status status-failed">{label}</span>;
  const mark = m.status === 'pending' ? '…' : m.status === 'sent' ? '✓' : '✓✓';
  return (
    <span class={`status status-${m.status}`}>
      <span aria-hidden="true">{mark}</span>
      <span class="visually-hidden">{label}</span>
    </span>
  );
}

export function GroupView(props: {
  session: Session;
  id: string;
  version: number;
  onBack: () => void;
  onMembers: () => void;
  /** A public room: 分享連結 (the room link and its QR code). */
  onShare?: () => void;
  /** 轉傳: send this message to another chat. */
  onForward?: (m: MessageInfo) => void;
  /** Group calls (calls/group-call-bar.tsx, decision 0053): the header's buttons, the banner. */
  callButtons?: ComponentChildren;
  callBanner?: ComponentChildren;
}): JSX.Element | null {
  const { t } = useI18n();
  const { session, id } = props;
  const groups = session.groups;
  const group = groups.group(id);
  const messages = groups.messages(id);
  const members = groups.members(id);
  const [draft, setDraft] = useState('');
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [mention, setMention] = useState<MentionQuery | undefined>();
  const [choice, setChoice] = useState(0);
  const [replyTo, setReplyTo] = useState<MessageInfo | undefined>();
  const [menuFor, setMenuFor] = useState<string | undefined>();
  const [confirmUnsend, setConfirmUnsend] = useState<MessageInfo | undefined>();
  const list = useRef<HTMLOListElement>(null);
  const input = useRef<HTMLTextAreaElement | null>(null);
  const stick = useRef(true);
  const sending = useRef(false);

  useEffect(() => {
    groups.setActive(id);
    return () => groups.setActive(undefined);
  }, [groups, id]);

  // After a mention is put in, the caret goes after it in the same render (no frame later,
  // when typing may already have moved on).
  const caretAfter = useRef<number | undefined>(undefined);
  useLayoutEffect(() => {
    const at = caretAfter.current;
    const el = input.current;
    if (at === undefined || !el) return;
    caretAfter.current = undefined;
    el.focus();
    el.setSelectionRange(at, at);
  }, [draft]);

  useLayoutEffect(() => {
    const el = list.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [messages.length, props.version]);

  if (!group) return null;
  const name = group.alias ?? group.name;
  const me = members.find((m) => m.me);
  const others = members.filter((m) => !m.me).map((m) => memberLabel(m, session.name));
  const mine = [session.name, ...(me?.nick ? [me.nick] : [])];
  const names = [...others, ...mine];
  const options = mention ? matchMembers(others, mention.query).slice(0, 8) : [];
  const listOpen = options.length > 0;
  const listId = `mention-list-${id.slice(0, 8)}`;
  const optionId = (i: number): string => `${listId}-${i}`;

  const fail = (e: unknown): void => setError(groupErrorText(e, t));

  const run = async (work: () => Promise<unknown>, done?: string): Promise<boolean> => {
    if (sending.current) return false;
    sending.current = true;
    setError('');
    setNotice('');
    try {
      await work();
      if (done) setNotice(done);
      return true;
    } catch (e) {
      fail(e);
      return false;
    } finally {
      sending.current = false;
    }
  };

  const send = async (text: string, kind: 'text' | 'action'): Promise<void> => {
    const body = text.replace(/\s+$/u, '');
    if (body.trim() === '') return;
    const before = draft;
    const reply = replyTo;
    setDraft('');
    setReplyTo(undefined);
    setMention(undefined);
    stick.current = true;
    if (!(await run(() => groups.send(id, body, kind, reply?.id)))) {
      setDraft(before);
      setReplyTo(reply);
    }
  };

  const sendSticker = async (pack: string, sticker: string): Promise<void> => {
    const reply = replyTo;
    setReplyTo(undefined);
    stick.current = true;
    if (!(await run(() => groups.sendSticker(id, pack, sticker, reply?.id)))) setReplyTo(reply);
  };

  /** Photos and files, one by one; what is replied to goes with the first. */
  const sendFiles = async (files: File[]): Promise<void> => {
    let reply = replyTo;
    setReplyTo(undefined);
    setError('');
    setNotice('');
    stick.current = true;
    for (const f of files) {
      try {
        await groups.sendFile(id, await outgoingFile(f), reply?.id);
        reply = undefined;
      } catch (e) {
        const text = fileErrorText(e, t);
        if (text) setError(t('file.failedNamed', { name: f.name, reason: text }));
      }
    }
  };

  const command = async (cmd: GroupCommandName, arg: string): Promise<void> => {
    const before = draft;
    setDraft('');
    setMention(undefined);
    const target = arg.replace(/^@/u, '');
    const ok = await run(
      async () => {
        switch (cmd) {
          case 'topic':
            return groups.setTopic(id, arg);
          case 'nick':
            return groups.setNick(id, arg);
          case 'invite':
            if (!session.contact(target)) throw new NoContact(target);
            return groups.invite(id, target);
          case 'kick':
            return groups.kick(id, target);
          case 'ban':
            return groups.ban(id, target);
          case 'op':
            return groups.setRole(id, target, 'moderator');
        }
      },
      t(`group.done.${cmd}`, { name: target }),
    );
    if (!ok) setDraft(before);
  };

  const updateMention = (value: string): void => {
    const caret = input.current?.selectionEnd ?? value.length;
    const q = mentionQuery(value, caret);
    setMention(q);
    setChoice(0);
  };

  const pick = (label: string): void => {
    if (!mention) return;
    const caret = input.current?.selectionEnd ?? draft.length;
    const next = applyMention(draft, mention, caret, label);
    caretAfter.current = next.caret;
    setDraft(next.value);
    setMention(undefined);
  };

  const onKeyFirst = (e: KeyboardEvent): boolean => {
    if (!listOpen) return false;
    if (e.key === 'ArrowDown') setChoice((c) => (c + 1) % options.length);
    else if (e.key === 'ArrowUp') setChoice((c) => (c - 1 + options.length) % options.length);
    else if (e.key === 'Enter' || e.key === 'Tab') pick(options[Math.min(choice, options.length - 1)]!);
    else if (e.key === 'Escape') {
      e.stopPropagation();
      setMention(undefined);
    } else return false;
    return true;
  };

  const startReply = (m: MessageInfo): void => {
    setReplyTo(m);
    input.current?.focus();
  };
  const closeMenu = (refocus: boolean): void => {
    const mid = menuFor;
    setMenuFor(undefined);
    if (refocus && mid)
      list.current?.querySelector<HTMLButtonElement>(`li[data-id="${mid}"] .more-button`)?.focus();
  };
  const joined = group.status === 'joined';
  const byId = new Map(messages.map((m) => [m.id, m]));
  const authorOf = (m: MessageInfo): string => (m.dir === 'out' ? session.name : (m.from ?? '?'));

  const rows = withDayHeadings(messages, new Date(), t, (m, at) => {
    const who = m.dir === 'out' ? t('chat.you') : (m.from ?? '?');
    const toMe = m.dir === 'in' && mentionsAny(m.text, mine);
    const action = m.kind === 'action' || m.action === true;
    const quoted = m.replyTo ? byId.get(m.replyTo) : undefined;
    return (
      <ChatMessage
        key={m.id}
        m={m}
        at={at}
        t={t}
        author={authorOf(m)}
        avatar={who}
        classes={`${toMe ? ' msg-mentions-me' : ''}${action ? ' msg-action' : ''}`}
        sender={{ name: m.dir === 'in' && !action ? who : undefined }}
        flag={toMe && <span class="mention-flag">{t('group.mentionsYou')}</span>}
        quote={
          quoted && {
            name: quoted.dir === 'out' ? t('chat.you') : <PeerText text={quoted.from ?? '?'} />,
            text: snippet(messagePreview(quoted, t, authorOf(quoted))),
          }
        }
        text={(s) => <Text text={s} names={names} mine={mine} />}
        call={m.call && <span class="text call-log">{groupCallLogText(m.call, t)}</span>}
        file={
          m.file && isVoice(m.file.mime) ? (
            <VoiceBubble session={session} message={m} />
          ) : (
            <FileBubble session={session} message={m} />
          )
        }
        actions={{
          reply: joined ? () => startReply(m) : undefined,
          copy: () => void copyText(m.text),
          forward: props.onForward && canForward(m) ? () => props.onForward?.(m) : undefined,
          react: joined ? (emoji) => void run(() => groups.react(id, m.id, emoji)) : undefined,
          pin:
            joined && groups.can(id, 'pin')
              ? () => void run(() => groups.setPinned(id, m.text), t('group.done.pin'))
              : undefined,
          deleteForMe: () => void run(() => groups.deleteForMe(id, m.id)),
          unsend: joined ? () => setConfirmUnsend(m) : undefined,
        }}
        menuOpen={menuFor === m.id}
        setMenu={(open) => setMenuFor(open ? m.id : undefined)}
        onCloseMenu={closeMenu}
        meta={
          <>
            {m.late && (
              <span class="late-mark" title={t('group.lateHint')}>
                {t('group.late')}
                <span class="late-count">
                  {' '}
                  {t('group.lateCount', { count: m.confirmations ?? 0, needed: m.confirmationsNeeded ?? 1 })}
                </span>
              </span>
            )}
            {m.late && m.dir === 'in' && group.status === 'joined' && (
              <button
                type="button"
                class="late-confirm"
                aria-label={t('group.confirmLateName', { name: who })}
                onClick={() => void run(() => groups.confirmLate(id, m.id), t('group.lateDone'))}
              >
                {t('group.confirmLate')}
              </button>
            )}
            {m.confirmed && (
              <span class="late-mark late-confirmed" title={t('group.lateConfirmedHint')}>
                {t('group.lateConfirmed')}
              </span>
            )}
            {m.history && (
              <span class="history-mark" title={t('group.earlierHint')}>
                {t('group.earlier')}
              </span>
            )}
            {m.dir === 'out' && <ReadMark m={m} t={t} />}
          </>
        }
      />
    );
  });

  const head = (
    <header class="chat-head">
      <button
        type="button"
        class="icon-button back-button"
        aria-label={t('main.back')}
        onClick={props.onBack}
      >
        <BackIcon />
      </button>
      <GroupAvatar name={name} src={groups.avatarUrl(id)} />
      <div class="chat-title">
        <h2>
          <PeerText text={name} />
        </h2>
        <span class="group-sub">
          {group.public && (
            <span class="room-tag">
              <GlobeIcon />
              {t('room.publicTag')}
            </span>
          )}
          {t('group.memberCount', { count: group.members })}
          {group.topic ? (
            <>
              {' · '}
              <PeerText text={group.topic} class="group-topic" />
            </>
          ) : (
            ''
          )}
        </span>
      </div>
      <HeaderActions>
        {group.public && group.status === 'joined' && groups.can(id, 'invite') && props.onShare && (
          <button type="button" class="pill-button" onClick={props.onShare}>
            <ShareLinkIcon />
            {t('room.share')}
          </button>
        )}
        {group.status === 'joined' && !group.public && props.callButtons}
        {group.status !== 'invited' && (
          <button type="button" class="pill-button" onClick={props.onMembers}>
            <GroupIcon />
            {t('group.members')}
          </button>
        )}
      </HeaderActions>
    </header>
  );

  /** A room not joined (refused, or waiting for its door): why, and the way out of it. */
  const roomNotice = (o: {
    title: string;
    hint: string;
    role: 'alert' | 'status';
    action: string;
    refused?: boolean;
  }): JSX.Element => (
    <section class="chat group-chat" aria-label={name}>
      {head}
      <div
        class={o.refused ? 'group-invitation room-refused' : 'group-invitation'}
        role="region"
        aria-label={o.title}
      >
        <GroupAvatar name={name} src={groups.avatarUrl(id)} />
        <p role={o.role}>{o.title}</p>
        <p class="muted">{o.hint}</p>
        <button
          type="button"
          onClick={() => void run(() => groups.decline(id)).then((ok) => ok && props.onBack())}
        >
          {o.action}
        </button>
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
      </div>
    </section>
  );

  if (group.refused)
    return roomNotice({
      title: t('room.refusedTitle', { name }),
      hint: t(REFUSAL_TEXT[group.refused]),
      role: 'alert',
      action: t('room.dismiss'),
      refused: true,
    });

  if (isJoiningRoom(group))
    return roomNotice({
      title: t('room.joiningTitle', { name }),
      hint: t('room.joiningHint'),
      role: 'status',
      action: t('room.cancelJoin'),
    });

  if (group.status === 'invited')
    return (
      <section class="chat group-chat" aria-label={name}>
        {head}
        <div class="group-invitation" role="region" aria-label={t('group.invitation')}>
          <GroupAvatar name={name} src={groups.avatarUrl(id)} />
          <p>{t('group.invitedBy', { name: group.invitedBy ?? '?', group: name })}</p>
          <div class="row">
            <button type="button" class="primary" onClick={() => void run(() => groups.join(id))}>
              {t('group.join')}
            </button>
            <button
              type="button"
              onClick={() => void run(() => groups.decline(id)).then((ok) => ok && props.onBack())}
            >
              {t('group.decline')}
            </button>
          </div>
          {error && (
            <p class="form-error" role="alert">
              {error}
            </p>
          )}
        </div>
      </section>
    );

  const gone = group.status !== 'joined';
  const uploads = groups.uploads(id);
  return (
    <section
      class="chat group-chat"
      aria-label={name}
      onDragOver={(e) => {
        if (!gone && e.dataTransfer?.types.includes('Files')) e.preventDefault();
      }}
      onDrop={(e) => {
        const files = Array.from(e.dataTransfer?.files ?? []);
        if (files.length === 0) return;
        e.preventDefault();
        if (!gone) void sendFiles(files);
      }}
    >
      {head}
      {group.pinned && (
        <section class="group-pin" aria-label={t('group.pinned')}>
          <PinIcon />
          <p>
            <strong>{t('group.pinned')}</strong>{' '}
            <PeerText class="group-pin-text" text={group.pinned} multiline />
          </p>
        </section>
      )}
      {!gone && props.callBanner}
      {gone && (
        <div class="banner banner-danger" role="alert">
          <p>{group.status === 'removed' || groups.removed.has(id) ? t('group.removed') : t('group.left')}</p>
        </div>
      )}
      <MessageList t={t} name={name} list={list} stick={stick}>
        {rows}
      </MessageList>
      {notice && (
        <p class="group-notice" role="status">
          {notice}
        </p>
      )}
      {error && (
        <p class="form-error chat-error" role="alert">
          {error}
        </p>
      )}
      {listOpen && (
        <ul id={listId} class="mention-list" role="listbox" aria-label={t('group.mentionList')}>
          {options.map((o, i) => (
            <li
              key={o}
              id={optionId(i)}
              role="option"
              aria-selected={i === choice}
              class={i === choice ? 'active' : undefined}
              onMouseDown={(e) => {
                e.preventDefault();
                pick(o);
              }}
            >
              <Avatar name={o} small /> <span class="mention-name">{o}</span>
            </li>
          ))}
        </ul>
      )}
      {replyTo && (
        <ReplyBar
          t={t}
          name={replyTo.dir === 'out' ? t('chat.you') : (replyTo.from ?? '?')}
          text={snippet(messagePreview(replyTo, t, authorOf(replyTo)))}
          onCancel={() => setReplyTo(undefined)}
        />
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
          onConfirm={() => {
            const m = confirmUnsend;
            setConfirmUnsend(undefined);
            void run(() => groups.unsend(id, m.id));
          }}
          onCancel={() => setConfirmUnsend(undefined)}
        />
      )}
      <div class="composer-row">
        <VoiceRecorder
          t={t}
          disabled={gone}
          onError={setError}
          onRecorded={(file) => {
            stick.current = true;
            groups.sendFile(id, file).catch((e: unknown) => setError(fileErrorText(e, t)));
          }}
        />
        <Composer
          value={draft}
          onChange={(v) => {
            setDraft(v);
            updateMention(v);
          }}
          onFiles={(files) => void sendFiles(files)}
          onSend={(text) => void send(text, 'text')}
          onAction={(text) => void send(text, 'action')}
          onSticker={(pack, sticker) => void sendSticker(pack, sticker)}
          chat="group"
          onGroupCommand={(name, arg) => void command(name, arg)}
          onKeyFirst={onKeyFirst}
          combo={{ listId, expanded: listOpen, activeId: listOpen ? optionId(choice) : undefined }}
          disabled={gone}
          inputRef={input}
        />
      </div>
    </section>
  );
}

/** /invite with a name that is not a contact. */
export class NoContact extends Error {
  override readonly name = 'NoContactError';
  constructor(readonly alias: string) {
    super(`no contact named ${alias}`);
  }
}
