/**
 * Private chat requests from room members, at the top of the chat list: 「X 想和你私訊」 with
 * the room and their note, 接受 (they become a contact and the chat opens) or 拒絕 (forgotten;
 * they are told nothing).
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { Session } from '../engine-loader.ts';
import { errorName, errorText } from '../errors.ts';
import { useI18n } from '../i18n.ts';
import { Avatar } from './avatar.tsx';
import { PeerText } from './peer-text.tsx';

export function ChatRequests(props: {
  session: Session;
  onAccepted: (alias: string) => void;
}): JSX.Element | null {
  const { t } = useI18n();
  const { session } = props;
  const [busy, setBusy] = useState<string | undefined>();
  const [error, setError] = useState('');
  const requests = session.rooms.requests();
  if (requests.length === 0 && !error) return null;

  const act = async (id: string, work: () => Promise<void>): Promise<void> => {
    setBusy(id);
    setError('');
    try {
      await work();
    } catch (e) {
      setError(
        errorName(e) === 'ExpiredError' || errorName(e) === 'NotFoundError'
          ? t('room.requestExpired')
          : errorText(e, t),
      );
      await session.rooms.refresh().catch(() => undefined);
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <section class="chat-requests" aria-labelledby="chat-requests-title">
      <h2 id="chat-requests-title" class="visually-hidden">
        {t('room.requests')}
      </h2>
      <ul aria-live="polite">
        {requests.map((r) => (
          <li key={r.id} class="chat-request">
            <Avatar name={r.from} small />
            <div class="chat-request-main">
              <strong>{t('room.requestFrom', { name: r.from })}</strong>
              <span class="muted">{t('room.requestVia', { group: r.groupName })}</span>
              {r.note && (
                <q class="chat-request-note">
                  <PeerText text={r.note} multiline />
                </q>
              )}
              <div class="row">
                <button
                  type="button"
                  class="primary"
                  disabled={busy !== undefined}
                  aria-label={t('room.acceptName', { name: r.from })}
                  onClick={() =>
                    void act(r.id, async () => {
                      const contact = await session.acceptChatRequest(r.id);
                      props.onAccepted(contact.alias);
                    })
                  }
                >
                  {t('room.accept')}
                </button>
                <button
                  type="button"
                  disabled={busy !== undefined}
                  aria-label={t('room.rejectName', { name: r.from })}
                  onClick={() => void act(r.id, () => session.rooms.decline(r.id))}
                >
                  {t('room.reject')}
                </button>
              </div>
            </div>
          </li>
        ))}
      </ul>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
