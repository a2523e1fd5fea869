/**
 * Starting a group: its name, private (invite only) or a public room (anyone with the link),
 * then contacts to invite (more can be invited later).
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { Session } from '../engine-loader.ts';
import { useI18n } from '../i18n.ts';
import { Dialog } from './dialog.tsx';
import { groupErrorText } from './group-errors.ts';

export function NewGroup(props: {
  session: Session;
  onClose: () => void;
  onCreated: (id: string) => void;
}): JSX.Element {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [picked, setPicked] = useState<string[]>([]);
  const [isPublic, setPublic] = useState(false);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const contacts = props.session
    .chats()
    .map((c) => c.contact)
    .filter((c) => c.status === 'active');

  const create = async (): Promise<void> => {
    if (name.trim() === '' || busy) return;
    setBusy(true);
    setError('');
    try {
      const g = await props.session.groups.create(name, { public: isPublic });
      for (const alias of picked) await props.session.groups.invite(g.id, alias);
      props.onCreated(g.id);
    } catch (e) {
      setError(groupErrorText(e, t));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title={t('group.create')} onClose={props.onClose} class="new-group">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <label class="field">
          <span>{t('group.name')}</span>
          <input
            value={name}
            maxLength={64}
            required
            onInput={(e) => setName(e.currentTarget.value)}
            placeholder={t('group.namePlaceholder')}
          />
        </label>
        <fieldset class="group-kind">
          <legend>{t('room.kindLabel')}</legend>
          <label class="check">
            <input
              type="radio"
              name="group-kind"
              checked={!isPublic}
              aria-describedby="group-kind-private"
              onChange={() => setPublic(false)}
            />
            {t('room.private')}
          </label>
          <small id="group-kind-private" class="muted kind-hint">
            {t('room.privateHint')}
          </small>
          <label class="check">
            <input
              type="radio"
              name="group-kind"
              checked={isPublic}
              aria-describedby="group-kind-public"
              onChange={() => setPublic(true)}
            />
            {t('room.public')}
          </label>
          <small id="group-kind-public" class="muted kind-hint">
            {t('room.publicHint')}
          </small>
        </fieldset>
        <fieldset class="group-pick">
          <legend>{t('group.inviteContacts')}</legend>
          {contacts.length === 0 && <p class="muted">{t('group.noContacts')}</p>}
          {contacts.map((c) => (
            <label key={c.alias} class="check">
              <input
                type="checkbox"
                checked={picked.includes(c.alias)}
                onChange={(e) => {
                  const on = e.currentTarget.checked;
                  setPicked((p) => (on ? [...p, c.alias] : p.filter((a) => a !== c.alias)));
                }}
              />
              {c.alias}
            </label>
          ))}
        </fieldset>
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy || name.trim() === ''}>
          {t('group.createAction')}
        </button>
      </form>
    </Dialog>
  );
}
