/**
 * 個人資料 in the settings (decision 0056): my display name and avatar, sent to every friend end
 * to end. A picture is drawn on a canvas at most 256 px a side and written as a JPEG of at most
 * 48 KiB (compose/avatar-image.ts, shared with the group's picture); one the browser cannot decode,
 * or one that cannot be made small enough, gets a clear message and changes nothing.
 */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Session } from '../engine-loader.ts';
import { errorName, errorText } from '../errors.ts';
import { useI18n } from '../i18n.ts';
import { makeAvatar } from '../compose/avatar-image.ts';
import { Avatar } from './avatar.tsx';
import { Field } from './field.tsx';

export function ProfileEdit(props: { session: Session }): JSX.Element {
  const { t } = useI18n();
  const { session } = props;
  const [name, setName] = useState(session.name);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [done, setDone] = useState(false);
  const [hasAvatar, setHasAvatar] = useState(false);
  useEffect(() => {
    void session.profile().then((p) => setHasAvatar(p.avatar !== undefined));
  }, [session]);

  const save = async (change: { name?: string; avatar?: Uint8Array | null }): Promise<void> => {
    setBusy(true);
    setError('');
    setDone(false);
    try {
      await session.setProfile(change);
      setHasAvatar((await session.profile()).avatar !== undefined);
      setDone(true);
    } catch (x) {
      const n = errorName(x);
      setError(
        n === 'UsageError'
          ? t('profile.badName')
          : n === 'DecodeError'
            ? t('profile.notImage')
            : n === 'QuotaError'
              ? t('profile.tooLarge')
              : errorText(x, t),
      );
    } finally {
      setBusy(false);
    }
  };

  const pick = async (input: HTMLInputElement): Promise<void> => {
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    setError('');
    setDone(false);
    const made = await makeAvatar(file);
    if (made === 'not-image') return setError(t('profile.notImage'));
    if (made === 'too-large') return setError(t('profile.tooLarge'));
    await save({ avatar: made });
  };

  return (
    <form
      class="settings-section profile-edit"
      onSubmit={(e) => {
        e.preventDefault();
        void save({ name });
      }}
    >
      <h3>{t('profile.title')}</h3>
      <div class="row">
        <Avatar name={session.name} src={session.avatarUrl('')} />
        <label class="file-button button-like">
          {t('profile.choose')}
          <input
            type="file"
            class="visually-hidden"
            accept="image/*"
            aria-label={t('profile.choose')}
            onChange={(e) => void pick(e.currentTarget)}
          />
        </label>
        {hasAvatar && (
          <button type="button" disabled={busy} onClick={() => void save({ avatar: null })}>
            {t('profile.remove')}
          </button>
        )}
      </div>
      <Field id="profile-name" label={t('profile.name')} hint={t('profile.hint')}>
        <input
          id="profile-name"
          value={name}
          maxLength={64}
          aria-describedby="profile-name-hint"
          onInput={(e) => setName(e.currentTarget.value)}
        />
      </Field>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {done && <p role="status">{t('profile.saved')}</p>}
      <button type="submit" disabled={busy || name.trim() === '' || name.trim() === session.name}>
        {t('profile.save')}
      </button>
    </form>
  );
}
