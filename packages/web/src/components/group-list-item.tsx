/** A group in the chat list: the group icon, its latest message with who wrote it, unread badge. */
import type { JSX } from 'preact';
import type { GroupChat } from '../engine-loader.ts';
import { formatListTime } from '../format-time.ts';
import { useI18n } from '../i18n.ts';
import { GroupAvatar } from './group-icons.tsx';
import { GlobeIcon } from './room-icons.tsx';
import { MutedIcon } from './icons.tsx';
import { PeerText } from './peer-text.tsx';
import { messagePreview } from './message-preview.ts';
import { showText } from '@parus/core/display-text';

/** A room I am joining by link: invited with no inviter, until a member's invitation for my key comes. */
export function isJoiningRoom(group: { status: string; invitedBy?: string }): boolean {
  return group.status === 'invited' && group.invitedBy === undefined;
}

export function GroupListItem(props: {
  chat: GroupChat;
  now: Date;
  active: boolean;
  onOpen: () => void;
  /** Muted (from the list's menu): a mark beside the name, a grey badge, no notifications. */
  muted?: boolean;
  /** The group's picture (decision 0066), if it has one. */
  avatarUrl?: string | undefined;
}): JSX.Element {
  const { t } = useI18n();
  const { group, last, unread } = props.chat;
  const name = group.alias ?? group.name;
  const joining = isJoiningRoom(group);
  const preview = group.refused
    ? t('room.listRefused')
    : joining
      ? t('room.listJoining')
      : group.status === 'invited'
        ? t('group.listInvited', { name: group.invitedBy ?? '?' })
        : group.status === 'removed'
          ? t('group.listRemoved')
          : group.status === 'left'
            ? t('group.listLeft')
            : last
              ? last.kind === 'action'
                ? `* ${last.dir === 'out' ? t('chat.you') : showText(last.from ?? '')} ${showText(last.text.replace(/\s+/g, ' '))}`
                : `${last.dir === 'out' ? t('chat.you') : showText(last.from ?? '')}: ${messagePreview(last, t, last.from ?? '')}`
              : t('list.noMessages');
  return (
    <>
      <button
        type="button"
        class={`chat-item group-item${group.status === 'invited' ? ' group-item-invited' : ''}`}
        aria-current={props.active ? 'true' : undefined}
        onClick={props.onOpen}
      >
        <GroupAvatar name={name} src={props.avatarUrl} />
        <span class="chat-item-main">
          <span class="chat-item-top">
            <span class="chat-name">
              <PeerText text={name} />
              <span class="visually-hidden"> {t(group.public ? 'room.public' : 'group.kind')}</span>
            </span>
            {group.public && (
              <span class="room-mark" title={t('room.public')}>
                <GlobeIcon />
              </span>
            )}
            <span class="chat-count" aria-hidden="true">
              ({group.members})
            </span>
            {props.muted && (
              <span class="chat-muted">
                <MutedIcon />
                <span class="visually-hidden">{t('list.muted')}</span>
              </span>
            )}
            {last && (
              <time class="chat-time" dateTime={new Date(last.ts).toISOString()}>
                {formatListTime(new Date(last.ts), props.now, t)}
              </time>
            )}
          </span>
          <span class="chat-item-bottom">
            <bdi class="chat-preview">{preview}</bdi>
            {group.status === 'invited' && (
              <span class={`badge badge-invite${group.refused ? ' badge-refused' : ''}`}>
                {group.refused ? t('room.badgeRefused') : joining ? t('room.badgeJoining') : t('group.new')}
              </span>
            )}
            {unread > 0 && (
              <span class={`badge${props.muted ? ' badge-muted' : ''}`}>
                <span aria-hidden="true">{unread > 99 ? '99+' : unread}</span>
                <span class="visually-hidden">{t('list.unread', { count: unread })}</span>
              </span>
            )}
          </span>
        </span>
      </button>
    </>
  );
}
