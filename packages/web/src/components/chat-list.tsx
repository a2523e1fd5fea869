import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { ChatPrefs } from '../chat-prefs.ts';
import { PinIcon } from './group-icons.tsx';
import { MessageMenu, type MenuItem } from './message-menu.tsx';
import type { Chat, GroupChat } from '../engine-loader.ts';
import { formatListTime } from '../format-time.ts';
import { useI18n } from '../i18n.ts';
import { Avatar } from './avatar.tsx';
import { MoreIcon, MutedIcon, WarningIcon } from './icons.tsx';
import { GroupListItem } from './group-list-item.tsx';
import { messagePreview } from './message-preview.ts';
import { PeerText } from './peer-text.tsx';

/** What a chat's ⋯ menu in the list does (main-screen.tsx). */
export interface ChatListActions {
  pin: (chat: string, pinned: boolean) => void;
  hide: (chat: string) => void;
  remove: (chat: string, name: string) => void;
  /** `chat`: `c:<alias>` or `g:<group id>`, for both. */
  mute: (chat: string, muted: boolean) => void;
}

export function ChatList(props: {
  chats: Chat[];
  active: string | undefined;
  onOpen: (alias: string) => void;
  /** Muted and pinned, by chat (`c:<alias>`, `g:<group id>`), from the account's synced state. */
  isMuted: (chat: string) => boolean;
  isPinned?: (chat: string) => boolean;
  /** Groups, mixed in by their latest message (a group without messages by when it came). */
  groups?: GroupChat[];
  activeGroup?: string | undefined;
  onOpenGroup?: (id: string) => void;
  /** Hidden chats (chat-prefs.ts), and what the ⋯ menu of a chat does. */
  prefs?: ChatPrefs;
  actions?: ChatListActions;
  /** The picture a friend sent (decision 0056), by alias. */
  avatarUrl?: (alias: string) => string | undefined;
  /** A group's picture by group id (decision 0066). */
  groupAvatarUrl?: (id: string) => string | undefined;
}): JSX.Element {
  const { t } = useI18n();
  const now = new Date();
  const [menuFor, setMenuFor] = useState<string | undefined>();
  type Entry = { at: number; key: string; chat?: Chat; group?: GroupChat };
  const entries: Entry[] = props.chats.map((chat) => ({
    at: chat.last?.ts ?? chat.contact.created,
    key: `c:${chat.contact.alias}`,
    chat,
  }));
  (props.groups ?? []).forEach((group, i) => {
    // Without messages, a group sits where the list had it (its place among the groups kept).
    entries.push({ at: group.last?.ts ?? Number.MAX_SAFE_INTEGER - i, key: `g:${group.group.id}`, group });
  });
  const prefs = props.prefs;
  const shown = entries.filter((e) => !prefs?.isHidden(e.key, (e.chat ?? e.group)?.last?.ts));
  const pinned = (e: Entry): number => (props.isPinned?.(e.key) ? 1 : 0);
  shown.sort((a, b) => pinned(b) - pinned(a) || b.at - a.at);
  const row = (e: Entry, name: string, item: JSX.Element): JSX.Element => {
    const a = props.actions;
    const isPinned = pinned(e) === 1;
    const items: MenuItem[] = [];
    if (a) {
      items.push({
        label: isPinned ? t('list.unpin') : t('list.pin'),
        onSelect: () => a.pin(e.key, !isPinned),
      });
      const muted = props.isMuted(e.key);
      items.push({
        label: muted ? t('list.unmute') : t('list.mute'),
        onSelect: () => a.mute(e.key, !muted),
      });
      items.push({ label: t('list.hide'), onSelect: () => a.hide(e.key) });
      items.push({ label: t('list.delete'), danger: true, onSelect: () => a.remove(e.key, name) });
    }
    return (
      <li key={e.key} class={`chat-row${isPinned ? ' chat-pinned' : ''}`} data-chat={e.key}>
        {item}
        {isPinned && (
          <span class="chat-pin-mark" title={t('list.pinned')}>
            <PinIcon />
            <span class="visually-hidden">{t('list.pinned')}</span>
          </span>
        )}
        {items.length > 0 && (
          <button
            type="button"
            class="icon-button chat-more"
            aria-label={t('list.actions')}
            title={name}
            aria-haspopup="menu"
            aria-expanded={menuFor === e.key}
            onClick={() => setMenuFor(menuFor === e.key ? undefined : e.key)}
          >
            <MoreIcon />
          </button>
        )}
        {menuFor === e.key && (
          <MessageMenu items={items} label={t('list.actions')} onClose={() => setMenuFor(undefined)} />
        )}
      </li>
    );
  };
  return (
    <ul class="chat-list" aria-label={t('list.label')}>
      {shown.map((e) => {
        const { chat, group } = e;
        if (group)
          return row(
            e,
            group.group.alias ?? group.group.name,
            <GroupListItem
              chat={group}
              now={now}
              active={props.activeGroup === group.group.id}
              muted={props.isMuted(e.key)}
              avatarUrl={props.groupAvatarUrl?.(group.group.id)}
              onOpen={() => props.onOpenGroup?.(group.group.id)}
            />,
          );
        const { contact, last, unread } = chat!;
        const warn = contact.keyChanged || contact.state === 'compromised';
        const muted = props.isMuted(e.key);
        const preview =
          contact.status === 'pending' && !last
            ? t('list.pending')
            : last
              ? messagePreview(last, t, last.dir === 'out' ? t('chat.you') : contact.alias)
              : t('list.noMessages');
        return row(
          e,
          contact.alias,
          <>
            <button
              type="button"
              class="chat-item"
              aria-current={props.active === contact.alias ? 'true' : undefined}
              onClick={() => props.onOpen(contact.alias)}
            >
              <Avatar name={contact.alias} src={props.avatarUrl?.(contact.alias)} />
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
          </>,
        );
      })}
    </ul>
  );
}
