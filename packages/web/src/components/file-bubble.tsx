/**
 * A photo or file message. A photo shows the preview it carries; clicking it downloads and
 * decrypts the full image and shows it (an object URL, revoked when the viewer closes). Any
 * other file shows its name and size and a save button. Downloads show a progress bar and
 * typed errors (expired, verification failed) in the active language.
 */
import type { JSX } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { MessageInfo, TransferProgress } from '@parus/client';
import type { Session } from '../engine-loader.ts';
import { fileErrorText } from '../errors.ts';
import { formatSize, isImage } from '../compose/thumbnail.ts';
import { useI18n } from '../i18n.ts';
import { Dialog } from './dialog.tsx';
import { FileIcon } from './icons.tsx';
import { PeerText } from './peer-text.tsx';

function objectUrl(bytes: Uint8Array, mime: string): string {
  return URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mime }));
}

/** Hands the bytes to the browser's download, under the file's own name. */
function saveBytes(bytes: Uint8Array, name: string, mime: string): void {
  const url = objectUrl(bytes, mime);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  // The download has taken its copy once click() returns in current browsers; a grace
  // period covers the ones that read the URL a moment later.
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

export function FileBubble(props: { session: Session; message: MessageInfo }): JSX.Element | null {
  const { t } = useI18n();
  const { session, message } = props;
  const file = message.file;
  const [progress, setProgress] = useState<TransferProgress | undefined>();
  const [error, setError] = useState('');
  const [full, setFull] = useState<{ url: string; bytes: Uint8Array } | undefined>();
  const abort = useRef<AbortController | undefined>(undefined);

  const thumb = useMemo(
    () => (file?.thumbnail ? objectUrl(file.thumbnail, 'image/webp') : undefined),
    [file?.thumbnail],
  );
  useEffect(() => () => thumb && URL.revokeObjectURL(thumb), [thumb]);
  useEffect(() => () => abort.current?.abort(), []);
  useEffect(() => () => full && URL.revokeObjectURL(full.url), [full]);

  if (!file) return null;
  const image = isImage(file.mime);

  const download = async (): Promise<Uint8Array | undefined> => {
    if (abort.current) return undefined;
    const controller = new AbortController();
    abort.current = controller;
    setError('');
    setProgress({ done: 0, total: file.size });
    try {
      return await session.downloadMessageFile(message, {
        signal: controller.signal,
        onProgress: setProgress,
      });
    } catch (e) {
      setError(fileErrorText(e, t));
      return undefined;
    } finally {
      abort.current = undefined;
      setProgress(undefined);
    }
  };

  const open = async (): Promise<void> => {
    const bytes = await download();
    if (bytes) setFull({ url: objectUrl(bytes, file.mime), bytes });
  };
  const save = async (): Promise<void> => {
    const bytes = await download();
    if (bytes) saveBytes(bytes, file.name, file.mime);
  };

  return (
    <span class={`file-message${image ? ' file-image' : ''}`}>
      {image ? (
        <button
          type="button"
          class="image-open"
          aria-label={t('file.openImage', { name: file.name })}
          onClick={() => void open()}
        >
          {thumb ? (
            <img class="thumbnail" src={thumb} alt="" draggable={false} />
          ) : (
            <span class="thumbnail thumbnail-none" aria-hidden="true">
              <FileIcon />
            </span>
          )}
        </button>
      ) : (
        <span class="file-card">
          <FileIcon />
          <PeerText class="file-name" text={file.name} />
          <span class="file-size">{formatSize(file.size)}</span>
          <button
            type="button"
            class="file-save"
            aria-label={t('file.saveNamed', { name: file.name })}
            onClick={() => void save()}
          >
            {t('file.save')}
          </button>
        </span>
      )}
      {progress && (
        <progress
          class="transfer-bar"
          max={Math.max(1, progress.total)}
          value={progress.done}
          aria-label={t('file.downloading', { name: file.name })}
        />
      )}
      {error && (
        <span class="file-error" role="alert">
          {error}
        </span>
      )}
      {full && (
        <Dialog title={file.name} class="image-viewer" onClose={() => setFull(undefined)}>
          <img class="full-image" src={full.url} alt={file.name} />
          <p class="row">
            <button type="button" class="primary" onClick={() => saveBytes(full.bytes, file.name, file.mime)}>
              {t('file.save')}
            </button>
          </p>
        </Dialog>
      )}
    </span>
  );
}
