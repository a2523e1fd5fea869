/**
 * Scanning a friend's QR code: from an image file (chosen, or dropped on the box) or from
 * the camera where the browser offers one (getUserMedia needs a secure context: https or
 * localhost). The decoded text goes to `onResult`; the parent decides whether it is an
 * invitation.
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useI18n } from '../i18n.ts';
import { decodeQr, pixelsFromFile, pixelsFromVideo } from '../qr-decode.ts';
import { CameraIcon, ImageIcon } from './icons.tsx';

/** How often a camera frame is decoded: often enough to feel immediate, light on the CPU. */
const FRAME_INTERVAL_MS = 250;

function cameraAvailable(): boolean {
  return typeof navigator.mediaDevices?.getUserMedia === 'function';
}

export function QrScan(props: { onResult: (text: string) => void; busy?: boolean }): JSX.Element {
  const { t } = useI18n();
  const [status, setStatus] = useState('');
  const [dragging, setDragging] = useState(false);
  const [camera, setCamera] = useState<MediaStream | undefined>();
  const video = useRef<HTMLVideoElement>(null);
  const onResult = useRef(props.onResult);
  onResult.current = props.onResult;

  const fromFile = async (file: File | undefined): Promise<void> => {
    if (!file) return;
    setStatus(t('scan.reading'));
    try {
      const text = await decodeQr(await pixelsFromFile(file));
      if (text === undefined) setStatus(t('scan.none'));
      else {
        setStatus('');
        onResult.current(text);
      }
    } catch {
      setStatus(t('scan.unreadable'));
    }
  };

  const stopCamera = (): void => {
    setCamera((stream) => {
      stream?.getTracks().forEach((track) => track.stop());
      return undefined;
    });
  };

  const startCamera = async (): Promise<void> => {
    setStatus('');
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'environment' },
        audio: false,
      });
      setCamera(stream);
      setStatus(t('scan.looking'));
    } catch {
      setStatus(t('scan.noCamera'));
    }
  };

  // While the camera runs: show it, and decode a frame every FRAME_INTERVAL_MS.
  useEffect(() => {
    const el = video.current;
    if (!camera || !el) return;
    el.srcObject = camera;
    void el.play().catch(() => undefined);
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async (): Promise<void> => {
      const pixels = pixelsFromVideo(el);
      const text = pixels ? await decodeQr(pixels) : undefined;
      if (!live) return;
      if (text !== undefined) {
        stopCamera();
        setStatus('');
        onResult.current(text);
        return;
      }
      timer = setTimeout(() => void tick(), FRAME_INTERVAL_MS);
    };
    timer = setTimeout(() => void tick(), FRAME_INTERVAL_MS);
    return () => {
      live = false;
      clearTimeout(timer);
      el.srcObject = null;
    };
  }, [camera]);

  // Closing the dialog turns the camera off.
  useEffect(() => () => camera?.getTracks().forEach((track) => track.stop()), [camera]);

  return (
    <div
      class={`scan-drop${dragging ? ' dragging' : ''}`}
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => {
        e.preventDefault();
        setDragging(false);
        void fromFile(e.dataTransfer?.files[0]);
      }}
    >
      <p class="muted">{t('scan.intro')}</p>
      <div class="row">
        <label class="file-button button-like">
          <ImageIcon />
          <span>{t('scan.file')}</span>
          <input
            type="file"
            accept="image/png,image/jpeg,image/webp,image/gif"
            disabled={props.busy}
            onChange={(e) => {
              const input = e.currentTarget;
              void fromFile(input.files?.[0]).finally(() => {
                input.value = '';
              });
            }}
          />
        </label>
        {cameraAvailable() &&
          (camera ? (
            <button type="button" onClick={stopCamera}>
              <CameraIcon />
              {t('scan.cameraStop')}
            </button>
          ) : (
            <button type="button" disabled={props.busy} onClick={() => void startCamera()}>
              <CameraIcon />
              {t('scan.camera')}
            </button>
          ))}
      </div>
      {camera && <video ref={video} class="scan-video" muted playsInline aria-label={t('scan.video')} />}
      <p class="scan-status" role="status">
        {status}
      </p>
    </div>
  );
}
