import type { JSX } from 'preact';
import type { Chat } from '../engine-loader.ts';
import { formatListTime } from '../format-time.ts';
import { useI18n } from '../i18n.ts';
import { Avatar } from './avatar.tsx';
import { MutedIcon, WarningIcon } from './icons.tsx';
import { messagePreview } from './message-preview.ts';

export function ChatList(props: {
  chats: Chat[];
  active: string | undefined;
  onOpen: (alias: string) => void;
  isMuted: (alias: string) => boolean;
}): JSX.Element {
  const { t } = useI18n();
  const now = new Date();
  return (
    <ul class="chat-list" aria-label={t('list.label')}>
      {props.chats.map(({ contact, last, unread }) => {
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
                  <span class="chat-name">{contact.alias}</span>
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
                  <span class="chat-preview">{preview}</span>
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
