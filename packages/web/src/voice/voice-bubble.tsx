/**
 * A voice message (decision 0046): an audio file (Opus in Ogg or WebM, AAC in MP4, MP3), e.g.
 * one `parus send-file` sent, played inline. The first press downloads and decrypts it; the
 * audio plays from an object URL, revoked when the row goes.
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { MessageInfo } from '@parus/client';
import type { Session } from '../engine-loader.ts';
import { fileErrorText } from '../errors.ts';
import { useI18n } from '../i18n.ts';
import { formatSize } from '../compose/thumbnail.ts';
import { callDuration } from '../calls/call-log.ts';
import './voice.css';

const VOICE_TYPES = new Set([
  'audio/ogg',
  'audio/webm',
  'audio/mp4',
  'audio/mpeg',
  'audio/opus',
  'audio/aac',
]);

export function isVoice(mime: string): boolean {
  return VOICE_TYPES.has(mime);
}

export function VoiceBubble(props: { session: Session; message: MessageInfo }): JSX.Element | null {
  const { t } = useI18n();
  const { session, message } = props;
  const file = message.file;
  const [url, setUrl] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const audio = useRef<HTMLAudioElement>(null);
  useEffect(() => () => url && URL.revokeObjectURL(url), [url]);
  useEffect(() => {
    if (url) void audio.current?.play().catch(() => undefined);
  }, [url]);
  if (!file) return null;

  const load = async (): Promise<void> => {
    if (busy) return;
    setBusy(true);
    setError('');
    try {
      const bytes = await session.downloadMessageFile(message);
      setUrl(URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: file.mime })));
    } catch (e) {
      setError(fileErrorText(e, t));
    } finally {
      setBusy(false);
    }
  };

  return (
    <span class="file-message voice-message">
      {file.voice && (
        <>
          <span class="voice-wave" aria-hidden="true">
            {Array.from(file.voice.wave, (level, i) => (
              <span key={i} style={{ height: `${Math.max(8, Math.round((level / 255) * 100))}%` }} />
            ))}
          </span>
          <span class="voice-length">{callDuration(Math.round(file.voice.ms / 1000))}</span>
        </>
      )}
      {url ? (
        <audio ref={audio} class="voice-player" controls src={url} aria-label={t('voice.label')} />
      ) : (
        <button type="button" class="file-save voice-play" disabled={busy} onClick={() => void load()}>
          ▶ {t('voice.play')} <span class="file-size">{formatSize(file.size)}</span>
        </button>
      )}
      {error && (
        <span class="file-error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}
