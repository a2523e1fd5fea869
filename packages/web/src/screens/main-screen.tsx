/** The app once unlocked: the chat list beside the open conversation (one at a time on a phone). */
import type { JSX } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { AddFriend, SpentInvites } from '../components/add-friend.tsx';
import { SearchBox, type JumpTarget } from '../components/search-box.tsx';
import { Avatar } from '../components/avatar.tsx';
import { ChatList } from '../components/chat-list.tsx';
import { ChatView } from '../components/chat-view.tsx';
import { ConnectionStatus } from '../components/connection-status.tsx';
import { messagePreview } from '../components/message-preview.ts';
import { AddFriendIcon, LockIcon, ParusLogo, SettingsIcon } from '../components/icons.tsx';
import { SafetyNumber } from '../components/safety-number.tsx';
import { Settings } from '../components/settings.tsx';
import { GroupMembers } from '../components/group-members.tsx';
import { GroupView } from '../components/group-view.tsx';
import { NewGroupIcon } from '../components/group-icons.tsx';
import { NewGroup } from '../components/new-group.tsx';
import { ChatRequests } from '../components/chat-requests.tsx';
import { ForwardDialog, canForward } from '../components/forward-dialog.tsx';
import { Dialog } from '../components/dialog.tsx';
import { ChatPrefs } from '../chat-prefs.ts';
import type { MessageInfo } from '@parus/client';
import { useRoomUi } from '../components/room-ui-loader.ts';
import { useDeviceUi } from '../components/device-ui-loader.ts';
import { useCalls } from '../calls/call-loader.ts';
import { useGroupCalls } from '../calls/group-call-loader.ts';
import { GroupCallBanner, GroupCallButtons, useGroupCall } from '../calls/group-call-bar.tsx';
import type { Session } from '../engine-loader.ts';
import { useI18n } from '../i18n.ts';
import { MuteList } from '../mute-list.ts';
import {
  notificationPermission,
  shouldNotify,
  showNotification,
  storedNotifyPrefs,
} from '../notifications.ts';
import { showText } from '@parus/core/display-text';

type Open =
  | { kind: 'none' }
  | { kind: 'friend' }
  | { kind: 'settings' }
  | { kind: 'devices' }
  | { kind: 'backup' }
  | { kind: 'safety'; alias: string }
  | { kind: 'new-group' }
  | { kind: 'group-members'; id: string }
  | { kind: 'room-share'; id: string }
  | { kind: 'forward'; message: MessageInfo }
  | { kind: 'delete-chat'; chat: string; name: string };

function useSessionVersion(session: Session): number {
  const [version, setVersion] = useState(0);
  useEffect(() => session.subscribe(() => setVersion((v) => v + 1)), [session]);
  return version;
}

/**
 * Muted and pinned chats, from the account's synced state (decision 0039: they follow the account
 * to its other devices). `chat` is `c:<alias>` or `g:<group id>`. What an older version kept in
 * this browser (mute-list.ts digests, chat-prefs.ts pins) is handed over to the account once.
 */
function useChatSettings(
  session: Session,
  aliases: readonly string[],
  prefs: ChatPrefs,
): {
  isMuted: (chat: string) => boolean;
  isPinned: (chat: string) => boolean;
  setMuted: (chat: string, muted: boolean) => void;
  setPinned: (chat: string, pinned: boolean) => void;
} {
  const [, setVersion] = useState(0);
  const key = aliases.join('\n');
  useEffect(() => {
    let live = true;
    const move = async (): Promise<void> => {
      for (const chat of prefs.takeLegacyPinned())
        await session.setChatPinned(chat, true).catch(() => undefined);
      if (!MuteList.hasLegacy() || aliases.length === 0) return;
      const legacy = MuteList.load();
      await legacy.resolve(aliases);
      for (const alias of aliases)
        if (legacy.isMuted(alias)) await session.setChatMuted(`c:${alias}`, true).catch(() => undefined);
      legacy.clear();
      if (live) setVersion((v) => v + 1);
    };
    void move();
    return () => {
      live = false;
    };
  }, [session, prefs, key]);
  const fail = (e: unknown): void => console.warn('parus: chat setting not saved', e);
  return {
    isMuted: (chat) => session.chatSettings(chat).muted,
    isPinned: (chat) => session.chatSettings(chat).pinned,
    setMuted: (chat, muted) => void session.setChatMuted(chat, muted).catch(fail),
    setPinned: (chat, pinned) => void session.setChatPinned(chat, pinned).catch(fail),
  };
}

export function MainScreen({ session, onLock }: { session: Session; onLock: () => void }): JSX.Element {
  const { t } = useI18n();
  const version = useSessionVersion(session);
  const [activeChat, setActiveChat] = useState<string | undefined>();
  // A group on screen instead of a 1:1 chat (one conversation at a time).
  const [activeGroup, setActiveGroup] = useState<string | undefined>();
  const active = activeGroup ? undefined : activeChat;
  const setActive = (alias: string | undefined): void => {
    setActiveGroup(undefined);
    setActiveChat(alias);
  };
  const openGroup = (id: string | undefined): void => {
    setActiveChat(undefined);
    setActiveGroup(id);
  };
  /** Opens a search result's chat; for a message, shows it (scrolled to, marked for a moment). */
  const jumpTo = (to: JumpTarget): void => {
    if (to.group !== undefined) openGroup(to.group);
    else if (to.alias !== undefined) setActive(to.alias);
    if (to.id === undefined) return;
    const id = to.id;
    let tries = 0;
    const look = (): void => {
      const row = document.querySelector<HTMLElement>(`.chat-pane li[data-id="${CSS.escape(id)}"]`);
      if (!row) {
        if (++tries < 120) requestAnimationFrame(look);
        return;
      }
      row.scrollIntoView({ block: 'center' });
      row.classList.add('msg-found');
      setTimeout(() => row.classList.remove('msg-found'), 2_500);
    };
    requestAnimationFrame(look);
  };
  const groupChats = session.groups.chats();
  const [open, setOpen] = useState<Open>({ kind: 'none' });
  const close = (): void => setOpen({ kind: 'none' });
  const roomUi = useRoomUi(open.kind === 'room-share');
  const deviceUi = useDeviceUi(open.kind === 'devices' || open.kind === 'backup');
  const calls = useCalls(session, t);
  const groupCalls = useGroupCalls(session, t, (id) => openGroup(id));
  const groupCall = useGroupCall(session, activeGroup);

  const prefs = useMemo(() => new ChatPrefs(), []);
  const [, setPrefsVersion] = useState(0);
  const prefsChanged = (): void => setPrefsVersion((v) => v + 1);
  const deleteChat = async (chat: string): Promise<void> => {
    // Every message goes from this device, then the chat leaves the list until a new one comes.
    if (chat.startsWith('c:')) {
      const alias = chat.slice(2);
      for (const m of [...session.messages(alias)]) await session.deleteForMe(alias, m.id);
      if (active === alias) setActive(undefined);
    } else {
      const id = chat.slice(2);
      for (const m of [...session.groups.messages(id)]) await session.groups.deleteForMe(id, m.id);
      if (activeGroup === id) openGroup(undefined);
    }
    prefs.hide(chat, Date.now());
    if (session.chatSettings(chat).pinned) await session.setChatPinned(chat, false);
    prefsChanged();
  };
  const chats = session.chats();
  const mutes = useChatSettings(
    session,
    chats.map((c) => c.contact.alias),
    prefs,
  );
  const activeRef = useRef(active);
  activeRef.current = active;
  const mutesRef = useRef(mutes);
  mutesRef.current = mutes;

  // New messages are read out by screen readers, politely, whichever chat is open; and
  // notified when the page is hidden or the chat is not open, unless that chat is muted.
  const [announcement, setAnnouncement] = useState('');
  const announced = useRef<{ alias: string; id: string } | undefined>(undefined);
  // An unsent message leaves the live region too, not only the conversation.
  useEffect(() => {
    const last = announced.current;
    if (last && session.messages(last.alias).find((m) => m.id === last.id)?.unsent) {
      announced.current = undefined;
      setAnnouncement('');
    }
  }, [session, version]);
  useEffect(
    () =>
      session.onIncoming((m) => {
        const text = messagePreview(m, t, m.alias);
        announced.current = { alias: m.alias, id: m.id };
        setAnnouncement(t('chat.announce', { name: m.alias, text }));
        const hidden = document.visibilityState === 'hidden';
        const chatOpen = activeRef.current === m.alias;
        const muted = mutesRef.current.isMuted(`c:${m.alias}`);
        const prefs = storedNotifyPrefs();
        const permission = notificationPermission();
        if (!shouldNotify({ prefs, permission, muted, hidden, chatOpen })) return;
        showNotification({
          title: showText(m.alias),
          body: prefs.preview ? text : t('notify.hiddenPreview'),
          tag: `parus-${m.alias}`,
          onClick: () => setActive(m.alias),
        });
      }),
    [session, t],
  );

  // Group messages: read out and notified as 1:1 ones are ("阿美 @ 週末爬山"), unless that group is open and visible.
  const activeGroupRef = useRef(activeGroup);
  activeGroupRef.current = activeGroup;
  useEffect(
    () =>
      session.groups.onIncoming((m) => {
        const id = m.group!;
        const name = `${showText(m.from ?? '?')} @ ${showText(m.alias)}`;
        setAnnouncement(t('chat.announce', { name, text: m.text }));
        const hidden = document.visibilityState === 'hidden';
        const chatOpen = activeGroupRef.current === id;
        const prefs = storedNotifyPrefs();
        const permission = notificationPermission();
        const muted = mutesRef.current.isMuted(`g:${id}`);
        if (!shouldNotify({ prefs, permission, muted, hidden, chatOpen })) return;
        showNotification({
          title: name,
          body: prefs.preview ? showText(m.text, { multiline: true }) : t('notify.hiddenPreview'),
          tag: `parus-group-${id}`,
          onClick: () => openGroup(id),
        });
      }),
    [session, t],
  );

  useEffect(() => {
    const onVisible = (): void => {
      session.readActive();
      session.groups.readActive();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => document.removeEventListener('visibilitychange', onVisible);
  }, [session]);

  // The tab's title counts unread messages, as messengers' tabs do: "(2) Parus 山雀";
  // muted chats keep their badge in the list but do not count here.
  const unread = chats.reduce(
    (n, c) => (mutes.isMuted(`c:${c.contact.alias}`) ? n : n + c.unread),
    groupChats.reduce((n, g) => (mutes.isMuted(`g:${g.group.id}`) ? n : n + g.unread), 0),
  );
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) ${t('app.title')}` : t('app.title');
    return () => {
      document.title = t('app.title');
    };
  }, [unread, t]);

  return (
    <div class={`app${active || activeGroup ? ' has-active' : ''}`}>
      <aside class="sidebar">
        <header class="side-head">
          <Avatar name={session.name} src={session.avatarUrl('')} />
          <div class="me">
            <strong>{session.name}</strong>
            <ConnectionStatus
              state={session.connection}
              retryAt={session.retryAt}
              onRetry={() => session.retryNow()}
            />
          </div>
          <button
            type="button"
            class="icon-button"
            aria-label={t('main.addFriend')}
            title={t('main.addFriend')}
            onClick={() => setOpen({ kind: 'friend' })}
          >
            <AddFriendIcon />
          </button>
          <button
            type="button"
            class="icon-button"
            aria-label={t('group.create')}
            title={t('group.create')}
            onClick={() => setOpen({ kind: 'new-group' })}
          >
            <NewGroupIcon />
          </button>
          <button
            type="button"
            class="icon-button"
            aria-label={t('main.settings')}
            title={t('main.settings')}
            onClick={() => setOpen({ kind: 'settings' })}
          >
            <SettingsIcon />
          </button>
          <button
            type="button"
            class="icon-button"
            aria-label={t('main.lock')}
            title={t('main.lock')}
            onClick={onLock}
          >
            <LockIcon />
          </button>
        </header>
        <h2 class="side-title">{t('main.chats')}</h2>
        <SearchBox session={session} onJump={jumpTo} />
        <SpentInvites session={session} />
        <ChatRequests session={session} onAccepted={setActive} />
        {chats.length === 0 && groupChats.length === 0 ? (
          <div class="empty-list">
            <p class="muted">{t('main.noChats')}</p>
            <button type="button" class="primary" onClick={() => setOpen({ kind: 'friend' })}>
              {t('main.addFriend')}
            </button>
          </div>
        ) : (
          <ChatList
            chats={chats}
            active={active}
            onOpen={setActive}
            isMuted={mutes.isMuted}
            isPinned={mutes.isPinned}
            groups={groupChats}
            activeGroup={activeGroup}
            onOpenGroup={openGroup}
            prefs={prefs}
            avatarUrl={(alias) => session.avatarUrl(alias)}
            groupAvatarUrl={(id) => session.groups.avatarUrl(id)}
            actions={{
              pin: (chat, pinned) => mutes.setPinned(chat, pinned),
              hide: (chat) => {
                prefs.hide(chat, Date.now());
                if (mutes.isPinned(chat)) mutes.setPinned(chat, false);
                if (chat === `c:${active ?? ''}`) setActive(undefined);
                if (chat === `g:${activeGroup ?? ''}`) openGroup(undefined);
                prefsChanged();
              },
              remove: (chat, name) => setOpen({ kind: 'delete-chat', chat, name }),
              mute: (chat, muted) => mutes.setMuted(chat, muted),
            }}
          />
        )}
      </aside>
      <main class="chat-pane">
        {activeGroup && session.groups.group(activeGroup) ? (
          <GroupView
            key={`group-${activeGroup}`}
            session={session}
            id={activeGroup}
            version={version}
            onBack={() => openGroup(undefined)}
            onMembers={() => setOpen({ kind: 'group-members', id: activeGroup })}
            onShare={() => setOpen({ kind: 'room-share', id: activeGroup })}
            callButtons={
              <GroupCallButtons
                t={t}
                info={groupCall}
                onStart={(video) => groupCalls.start(activeGroup, video)}
              />
            }
            callBanner={
              <GroupCallBanner t={t} info={groupCall} onJoin={() => groupCalls.join(activeGroup)} />
            }
            onForward={(message) => canForward(message) && setOpen({ kind: 'forward', message })}
          />
        ) : active && session.contact(active) ? (
          <ChatView
            key={active}
            session={session}
            alias={active}
            version={version}
            onBack={() => setActive(undefined)}
            onSafety={() => setOpen({ kind: 'safety', alias: active })}
            muted={mutes.isMuted(`c:${active}`)}
            onToggleMute={() => mutes.setMuted(`c:${active}`, !mutes.isMuted(`c:${active}`))}
            onForward={(message) => canForward(message) && setOpen({ kind: 'forward', message })}
            onCall={(video) => calls.start(active, video)}
          />
        ) : (
          <div class="chat-empty">
            <ParusLogo size={96} />
            <p class="muted">{t('main.pickChat')}</p>
          </div>
        )}
      </main>
      <p class="visually-hidden" aria-live="polite">
        {announcement}
      </p>
      {open.kind === 'friend' && (
        <AddFriend
          session={session}
          inviteGeneration={session.inviteGeneration}
          onClose={close}
          onAdded={(alias) => {
            close();
            setActive(alias);
          }}
          onJoinedRoom={(id) => {
            close();
            openGroup(id);
          }}
        />
      )}
      {open.kind === 'settings' && (
        <Settings
          session={session}
          onClose={close}
          onLock={onLock}
          onDevices={() => setOpen({ kind: 'devices' })}
          onBackup={() => setOpen({ kind: 'backup' })}
        />
      )}
      {open.kind === 'devices' && deviceUi && <deviceUi.DevicesDialog session={session} onClose={close} />}
      {open.kind === 'backup' && deviceUi && <deviceUi.BackupDialog session={session} onClose={close} />}
      {open.kind === 'safety' && <SafetyNumber session={session} alias={open.alias} onClose={close} />}
      {open.kind === 'new-group' && (
        <NewGroup
          session={session}
          onClose={close}
          onCreated={(id) => {
            close();
            openGroup(id);
          }}
        />
      )}
      {open.kind === 'group-members' && (
        <GroupMembers session={session} id={open.id} version={version} onClose={close} onLeft={close} />
      )}
      {open.kind === 'delete-chat' && (
        <Dialog title={t('list.deleteTitle')} class="confirm-delete-chat" onClose={close}>
          <p>{t('list.deleteBody', { name: open.name })}</p>
          <div class="row">
            <button
              type="button"
              class="danger"
              onClick={() => {
                const chat = open.chat;
                close();
                void deleteChat(chat).catch((e: unknown) => console.warn('parus: delete chat failed', e));
              }}
            >
              {t('list.delete')}
            </button>
            <button type="button" onClick={close}>
              {t('msg.cancel')}
            </button>
          </div>
        </Dialog>
      )}
      {open.kind === 'forward' && (
        <ForwardDialog
          session={session}
          message={open.message}
          onClose={close}
          onDone={(to) => {
            close();
            if (to.kind === 'contact') setActive(to.alias);
            else openGroup(to.id);
          }}
        />
      )}
      {open.kind === 'room-share' && roomUi && (
        <roomUi.RoomShare session={session} id={open.id} onClose={close} />
      )}
      {calls.ui && calls.media && <calls.ui.CallLayer media={calls.media} />}
      {groupCalls.ui && groupCalls.media && (
        <groupCalls.ui.GroupCallLayer
          media={groupCalls.media}
          groupName={(id) => {
            const g = session.groups.group(id);
            return g?.alias ?? g?.name ?? '';
          }}
        />
      )}
    </div>
  );
}
