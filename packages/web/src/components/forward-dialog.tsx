/**
 * 轉傳 (forward): a message's text or sticker sent again, by me, to another chat (a friend or a
 * group I am in). Files are not forwarded (their blob is the original sender's upload).
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { MessageInfo } from '@parus/client';
import type { Session } from '../engine-loader.ts';
import { errorName } from '../errors.ts';
import { useI18n } from '../i18n.ts';
import { Avatar } from './avatar.tsx';
import { Dialog } from './dialog.tsx';
import { GroupAvatar } from './group-icons.tsx';
import { PeerText } from './peer-text.tsx';

export type ForwardTarget = { kind: 'contact'; alias: string } | { kind: 'group'; id: string };

/** Whether a message can be forwarded (text, action or sticker, not taken back). */
export function canForward(m: MessageInfo): boolean {
  return !m.unsent && !m.file && (m.sticker !== undefined || m.text !== '');
}

export function ForwardDialog(props: {
  session: Session;
  message: MessageInfo;
  onClose: () => void;
  onDone: (to: ForwardTarget) => void;
}): JSX.Element {
  const { t } = useI18n();
  const { session, message: m } = props;
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const contacts = session
    .chats()
    .filter((c) => c.contact.status === 'active' && c.contact.state !== 'compromised');
  const groups = session.groups.chats().filter((g) => g.group.status === 'joined');

  const send = async (to: ForwardTarget): Promise<void> => {
    if (busy) return;
    setBusy(true);
    setError('');
    try {
      if (to.kind === 'contact') {
        if (m.sticker) await session.sendSticker(to.alias, m.sticker.pack, m.sticker.id);
        else await session.send(to.alias, m.text);
      } else if (m.sticker) await session.groups.sendSticker(to.id, m.sticker.pack, m.sticker.id);
      else await session.groups.send(to.id, m.text);
      props.onDone(to);
    } catch (e) {
      setError(t('msg.forwardFailed', { name: errorName(e) }));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title={t('msg.forwardTitle')} class="forward-dialog" onClose={props.onClose}>
      <ul class="forward-list">
        {contacts.map((c) => (
          <li key={`c-${c.contact.alias}`}>
            <button
              type="button"
              disabled={busy}
              onClick={() => void send({ kind: 'contact', alias: c.contact.alias })}
            >
              <Avatar name={c.contact.alias} small />
              <PeerText text={c.contact.alias} />
            </button>
          </li>
        ))}
        {groups.map((g) => {
          const name = g.group.alias ?? g.group.name;
          return (
            <li key={`g-${g.group.id}`}>
              <button
                type="button"
                disabled={busy}
                onClick={() => void send({ kind: 'group', id: g.group.id })}
              >
                <GroupAvatar name={name} small />
                <PeerText text={name} />
              </button>
            </li>
          );
        })}
      </ul>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
    </Dialog>
  );
}
