/**
 * The group's panel: members with their roles, and what my resolved power allows — invite a
 * contact, change a role, kick, ban, edit the name, picture (0066), topic and pinned announcement (公告) —
 * plus my nick and leaving. Controls I have no power for are not shown. On other members, 私訊
 * sends a private chat request (its note form comes with the room screens, room-ui.tsx).
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { Session } from '../engine-loader.ts';
import { useI18n } from '../i18n.ts';
import { Dialog } from './dialog.tsx';
import { groupErrorText } from './group-errors.ts';
import { memberLabel } from './group-view.tsx';
import { Avatar } from './avatar.tsx';
import { GroupAvatar } from './group-icons.tsx';
import { GROUP_AVATAR, makeAvatar } from '../compose/avatar-image.ts';
import { useRoomUi } from './room-ui-loader.ts';
import { PeerText } from './peer-text.tsx';

type Role = 'admin' | 'moderator' | 'member';
const ASSIGNABLE: readonly Role[] = ['admin', 'moderator', 'member'];
const POWER: Record<string, number> = { creator: 100, admin: 75, moderator: 50, member: 0 };

function EditField(props: {
  label: string;
  value: string;
  multiline?: boolean;
  onSave: (value: string) => void;
  save: string;
}): JSX.Element {
  const [value, setValue] = useState(props.value);
  return (
    <form
      class="group-edit"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSave(value);
      }}
    >
      <label>
        <span>{props.label}</span>
        {props.multiline ? (
          <textarea rows={2} value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        ) : (
          <input value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        )}
      </label>
      <button type="submit" aria-label={`${props.save} ${props.label}`}>
        {props.save}
      </button>
    </form>
  );
}

export function GroupMembers(props: {
  session: Session;
  id: string;
  version: number;
  onClose: () => void;
  onLeft: () => void;
}): JSX.Element | null {
  const { t } = useI18n();
  const groups = props.session.groups;
  const group = groups.group(props.id);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [invitee, setInvitee] = useState('');
  /** The member (key) I am writing a private chat request to. */
  const [dmFor, setDmFor] = useState<string | undefined>();
  /** 移出 asks first: whom. */
  const [confirmKick, setConfirmKick] = useState<{ key: string; label: string } | undefined>();
  const roomUi = useRoomUi(dmFor !== undefined);
  if (!group) return null;
  const id = props.id;
  const members = groups.members(id);
  const joined = group.status === 'joined';
  const mine = joined ? groups.myPower(id) : -1;
  const can = (
    a: 'invite' | 'kick' | 'ban' | 'role' | 'topic' | 'name' | 'avatar' | 'pin' | 'settings',
  ): boolean => joined && groups.can(id, a);
  const memberNames = new Set(members.map((m) => m.name));
  const candidates = props.session
    .chats()
    .map((c) => c.contact)
    .filter((c) => c.status === 'active' && !memberNames.has(c.alias));

  const run = async (work: () => Promise<unknown>, done: string): Promise<boolean> => {
    setError('');
    setNotice('');
    try {
      await work();
      setNotice(done);
      return true;
    } catch (e) {
      setError(groupErrorText(e, t));
      return false;
    }
  };

  /** The group's picture from a file (decision 0066): shrunk as a profile avatar is, to 128 px, 6 KiB. */
  const pickAvatar = async (input: HTMLInputElement): Promise<void> => {
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    setError('');
    setNotice('');
    const made = await makeAvatar(file, GROUP_AVATAR);
    if (made === 'not-image') return setError(t('group.avatarNotImage'));
    if (made === 'too-large') return setError(t('group.avatarTooLarge'));
    await run(() => groups.setAvatar(id, made), t('group.done.avatar'));
  };

  return (
    <Dialog
      title={t('group.panelTitle', { name: group.alias ?? group.name })}
      onClose={props.onClose}
      class="group-panel"
    >
      <h3 id="group-members-title">{t('group.memberCount', { count: members.length })}</h3>
      <ul class="member-list" aria-labelledby="group-members-title">
        {members.map((m) => {
          const label = memberLabel(m, props.session.name);
          const over = joined && !m.me && POWER[m.role]! < mine;
          return (
            <li key={m.key} class="member">
              <Avatar name={label} small />
              <span class="member-name">
                <PeerText text={label} />
                {m.me && <span class="muted"> {t('group.you')}</span>}
              </span>
              <span class={`role-tag role-${m.role}`}>{t(`group.role.${m.role}`)}</span>
              {joined && !m.me && (
                <button
                  type="button"
                  aria-label={t('room.dmName', { name: label })}
                  aria-expanded={dmFor === m.key}
                  onClick={() => {
                    setNotice('');
                    setError('');
                    setDmFor(dmFor === m.key ? undefined : m.key);
                  }}
                >
                  {t('room.dm')}
                </button>
              )}
              {over && can('role') && (
                <select
                  aria-label={t('group.changeRole', { name: label })}
                  value={m.role}
                  onChange={(e) => {
                    const role = e.currentTarget.value as Role;
                    void run(() => groups.setRole(id, m.key, role), t('group.done.role', { name: label }));
                  }}
                >
                  {ASSIGNABLE.filter((r) => POWER[r]! < mine || r === m.role).map((r) => (
                    <option key={r} value={r}>
                      {t(`group.role.${r}`)}
                    </option>
                  ))}
                </select>
              )}
              {joined && m.me && (m.role === 'admin' || m.role === 'moderator') && (
                // Stepping down needs no power; one's role may be lowered, never raised (decision 0021).
                <select
                  aria-label={t('group.stepDown')}
                  value={m.role}
                  onChange={(e) => {
                    const role = e.currentTarget.value as Role;
                    void run(() => groups.setRole(id, m.key, role), t('group.done.stepDown'));
                  }}
                >
                  {ASSIGNABLE.filter((r) => POWER[r]! <= POWER[m.role]!).map((r) => (
                    <option key={r} value={r}>
                      {t(`group.role.${r}`)}
                    </option>
                  ))}
                </select>
              )}
              {over && can('kick') && (
                <button
                  type="button"
                  aria-label={t('group.kickName', { name: label })}
                  onClick={() => setConfirmKick({ key: m.key, label })}
                >
                  {t('group.kick')}
                </button>
              )}
              {over && can('ban') && (
                <button
                  type="button"
                  class="danger"
                  aria-label={t('group.banName', { name: label })}
                  onClick={() => void run(() => groups.ban(id, m.key), t('group.done.ban', { name: label }))}
                >
                  {t('group.ban')}
                </button>
              )}
            </li>
          );
        })}
      </ul>
      {dmFor !== undefined &&
        roomUi &&
        (() => {
          const m = members.find((x) => x.key === dmFor);
          if (!m) return null;
          const label = memberLabel(m, props.session.name);
          return (
            <roomUi.ChatRequestForm
              key={dmFor}
              name={label}
              onCancel={() => setDmFor(undefined)}
              onSend={(note) =>
                run(
                  () => props.session.rooms.requestChat(id, m.key, note),
                  t('room.dmSent', { name: label }),
                ).then((ok) => {
                  if (ok) setDmFor(undefined);
                  return ok;
                })
              }
            />
          );
        })()}
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
      {joined && can('invite') && (
        <form
          class="group-edit"
          onSubmit={(e) => {
            e.preventDefault();
            if (invitee)
              void run(() => groups.invite(id, invitee), t('group.done.invite', { name: invitee })).then(
                (ok) => ok && setInvitee(''),
              );
          }}
        >
          <label>
            <span>{t('group.invite')}</span>
            <select value={invitee} onChange={(e) => setInvitee(e.currentTarget.value)}>
              <option value="">{candidates.length ? t('group.pickContact') : t('group.noContacts')}</option>
              {candidates.map((c) => (
                <option key={c.alias} value={c.alias}>
                  {c.alias}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={!invitee}>
            {t('group.inviteAction')}
          </button>
        </form>
      )}
      {can('name') && (
        <EditField
          label={t('group.name')}
          value={group.name}
          save={t('group.save')}
          onSave={(v) => void run(() => groups.setName(id, v), t('group.done.name'))}
        />
      )}
      {can('avatar') && (
        <div class="group-edit group-avatar-edit">
          <span>{t('group.avatar')}</span>
          <div class="row">
            <GroupAvatar name={group.alias ?? group.name} src={groups.avatarUrl(id)} />
            <label class="file-button button-like">
              {t('group.avatarChoose')}
              <input
                type="file"
                class="visually-hidden"
                accept="image/*"
                aria-label={t('group.avatarChoose')}
                onChange={(e) => void pickAvatar(e.currentTarget)}
              />
            </label>
            {group.avatar && (
              <button
                type="button"
                onClick={() => void run(() => groups.setAvatar(id, null), t('group.done.avatarRemoved'))}
              >
                {t('group.avatarRemove')}
              </button>
            )}
          </div>
        </div>
      )}
      {can('topic') && (
        <EditField
          label={t('group.topic')}
          value={group.topic}
          save={t('group.save')}
          onSave={(v) => void run(() => groups.setTopic(id, v), t('group.done.topic', { name: v }))}
        />
      )}
      {can('pin') && (
        <EditField
          label={t('group.pinned')}
          value={group.pinned ?? ''}
          multiline
          save={t('group.save')}
          onSave={(v) =>
            void run(() => groups.setPinned(id, v.trim() === '' ? null : v), t('group.done.pin'))
          }
        />
      )}
      {joined &&
        (can('settings') ? (
          <label class="group-switch">
            <input
              type="checkbox"
              checked={group.shareHistory === true}
              onChange={(e) => {
                const on = e.currentTarget.checked;
                void run(
                  () => groups.setShareHistory(id, on),
                  t(on ? 'group.shareHistoryDoneOn' : 'group.shareHistoryDoneOff'),
                );
              }}
            />
            <span>
              {t('group.shareHistory')}
              <small class="muted">{t('group.shareHistoryHint')}</small>
            </span>
          </label>
        ) : (
          <p class="muted group-sharing">
            {t(group.shareHistory ? 'group.shareHistoryOn' : 'group.shareHistoryOff')}
          </p>
        ))}
      {joined && (
        <EditField
          label={t('group.nick')}
          value={members.find((m) => m.me)?.nick ?? ''}
          save={t('group.save')}
          onSave={(v) => void run(() => groups.setNick(id, v), t('group.done.nick', { name: v }))}
        />
      )}
      {joined && (
        <button
          type="button"
          class="danger group-leave"
          onClick={() => {
            if (!confirm(t('group.leaveConfirm'))) return;
            void run(() => groups.leave(id), t('group.left')).then((ok) => ok && props.onLeft());
          }}
        >
          {t('group.leave')}
        </button>
      )}
      {confirmKick && (
        <Dialog title={t('group.kickTitle')} class="confirm-kick" onClose={() => setConfirmKick(undefined)}>
          <p>{t('group.kickBody', { name: confirmKick.label })}</p>
          <div class="row">
            <button
              type="button"
              class="danger"
              onClick={() => {
                const k = confirmKick;
                setConfirmKick(undefined);
                void run(() => groups.kick(id, k.key), t('group.done.kick', { name: k.label }));
              }}
            >
              {t('group.kick')}
            </button>
            <button type="button" onClick={() => setConfirmKick(undefined)}>
              {t('msg.cancel')}
            </button>
          </div>
        </Dialog>
      )}
    </Dialog>
  );
}
