import type { JSX } from 'preact';
import type { Chat, GroupChat } from '../engine-loader.ts';
import { formatListTime } from '../format-time.ts';
import { useI18n } from '../i18n.ts';
import { Avatar } from './avatar.tsx';
import { MutedIcon, WarningIcon } from './icons.tsx';
import { GroupListItem } from './group-list-item.tsx';
import { messagePreview } from './message-preview.ts';
import { PeerText } from './peer-text.tsx';

export function ChatList(props: {
  chats: Chat[];
  active: string | undefined;
  onOpen: (alias: string) => void;
  isMuted: (alias: string) => boolean;
  /** Groups, mixed in by their latest message (a group without messages by when it came). */
  groups?: GroupChat[];
  activeGroup?: string | undefined;
  onOpenGroup?: (id: string) => void;
}): JSX.Element {
  const { t } = useI18n();
  const now = new Date();
  type Entry = { at: number; chat?: Chat; group?: GroupChat };
  const entries: Entry[] = props.chats.map((chat) => ({ at: chat.last?.ts ?? chat.contact.created, chat }));
  (props.groups ?? []).forEach((group, i) => {
    // Without messages, a group sits where the list had it (its place among the groups kept).
    entries.push({ at: group.last?.ts ?? Number.MAX_SAFE_INTEGER - i, group });
  });
  entries.sort((a, b) => b.at - a.at);
  return (
    <ul class="chat-list" aria-label={t('list.label')}>
      {entries.map(({ chat, group }) => {
        if (group)
          return (
            <GroupListItem
              key={`group-${group.group.id}`}
              chat={group}
              now={now}
              active={props.activeGroup === group.group.id}
              onOpen={() => props.onOpenGroup?.(group.group.id)}
            />
          );
        const { contact, last, unread } = chat!;
        const warn = contact.keyChanged || contact.state === 'compromised';
        const muted = props.isMuted(contact.alias);
        const preview =
          contact.status === 'pending' && !last
            ? t('list.pending')
            : last
              ? messagePreview(last, t, last.dir === 'out' ? t('chat.you') : contact.alias)
              : t('list.noMessages');
        return (
          <li key={contact.alias}>
            <button
              type="button"
              class="chat-item"
              aria-current={props.active === contact.alias ? 'true' : undefined}
              onClick={() => props.onOpen(contact.alias)}
            >
              <Avatar name={contact.alias} />
              <span class="chat-item-main">
                <span class="chat-item-top">
                  <span class="chat-name">
                    <PeerText text={contact.alias} />
                  </span>
                  {muted && (
                    <span class="chat-muted">
                      <MutedIcon />
                      <span class="visually-hidden">{t('list.muted')}</span>
                    </span>
                  )}
                  {last && (
                    <time class="chat-time" dateTime={new Date(last.ts).toISOString()}>
                      {formatListTime(new Date(last.ts), now, t)}
                    </time>
                  )}
                </span>
                <span class="chat-item-bottom">
                  {warn && (
                    <span class="chat-warn">
                      <WarningIcon />
                      <span class="visually-hidden">
                        {contact.keyChanged ? t('list.keyChanged') : t('list.compromised')}
                      </span>
                    </span>
                  )}
                  <bdi class="chat-preview">{preview}</bdi>
                  {unread > 0 && (
                    <span class={`badge${muted ? ' badge-muted' : ''}`}>
                      <span aria-hidden="true">{unread > 99 ? '99+' : unread}</span>
                      <span class="visually-hidden">{t('list.unread', { count: unread })}</span>
                    </span>
                  )}
                </span>
              </span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}
