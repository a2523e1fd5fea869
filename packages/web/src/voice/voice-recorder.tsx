/**
 * Hold to record a voice message (decision 0046): press and hold (mouse, touch or the space /
 * Enter key), speak, let go to send. The browser records Opus (MediaRecorder: Ogg where it can,
 * else WebM); the length and a 48-level waveform go with the encrypted file, so the other side
 * draws it before downloading anything. Moving the pointer off the button before letting go
 * cancels.
 */
import type { JSX } from 'preact';
import { useRef, useState } from 'preact/hooks';
import type { OutgoingFile } from '@parus/client';
import type { Translate } from '../i18n.ts';
import './voice.css';

const LEVELS = 48;
/** Shorter than this is a tap, not a message. */
const MIN_MS = 500;
const MAX_MS = 15 * 60_000;

/** The loudest sample of each of LEVELS slices, 0-255. */
async function waveform(blob: Blob): Promise<Uint8Array> {
  const ctx = new AudioContext();
  try {
    const audio = await ctx.decodeAudioData(await blob.arrayBuffer());
    const data = audio.getChannelData(0);
    const out = new Uint8Array(LEVELS);
    const step = Math.max(1, Math.floor(data.length / LEVELS));
    for (let i = 0; i < LEVELS; i++) {
      let peak = 0;
      for (let j = i * step; j < Math.min(data.length, (i + 1) * step); j++)
        peak = Math.max(peak, Math.abs(data[j]!));
      out[i] = Math.min(255, Math.round(peak * 255));
    }
    return out;
  } catch {
    return new Uint8Array(0); // not decodable here: sent without a waveform
  } finally {
    void ctx.close();
  }
}

export function VoiceRecorder(props: {
  t: Translate;
  disabled?: boolean;
  onRecorded: (file: OutgoingFile) => void;
  onError: (message: string) => void;
}): JSX.Element | null {
  const { t } = props;
  const [recording, setRecording] = useState(false);
  const rec = useRef<{ recorder: MediaRecorder; started: number; cancelled: boolean } | undefined>(undefined);
  if (typeof MediaRecorder !== 'function') return null;

  const start = async (): Promise<void> => {
    if (rec.current || props.disabled) return;
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      props.onError(t('call.mediaError'));
      return;
    }
    const type = MediaRecorder.isTypeSupported('audio/ogg;codecs=opus') ? 'audio/ogg' : 'audio/webm';
    const recorder = new MediaRecorder(stream, { mimeType: `${type};codecs=opus` });
    const parts: Blob[] = [];
    const state = { recorder, started: Date.now(), cancelled: false };
    rec.current = state;
    recorder.ondataavailable = (e) => parts.push(e.data);
    recorder.onstop = () => {
      for (const tr of stream.getTracks()) tr.stop();
      rec.current = undefined;
      setRecording(false);
      const ms = Math.min(MAX_MS, Date.now() - state.started);
      if (state.cancelled || ms < MIN_MS) return;
      const blob = new Blob(parts, { type });
      void (async () => {
        const wave = await waveform(blob);
        const bytes = new Uint8Array(await blob.arrayBuffer());
        const name = `${t('voice.label')}.${type === 'audio/ogg' ? 'ogg' : 'webm'}`;
        props.onRecorded({ name, mime: type, bytes, voice: { ms, wave } });
      })();
    };
    recorder.start();
    setRecording(true);
  };
  const stop = (cancel = false): void => {
    const r = rec.current;
    if (!r) return;
    r.cancelled ||= cancel;
    if (r.recorder.state !== 'inactive') r.recorder.stop();
  };

  return (
    <button
      type="button"
      class={`icon-button voice-record${recording ? ' recording' : ''}`}
      aria-label={recording ? t('voice.recording') : t('voice.hold')}
      aria-pressed={recording}
      disabled={props.disabled}
      onPointerDown={(e) => {
        e.currentTarget.setPointerCapture?.(e.pointerId);
        void start();
      }}
      onPointerUp={() => stop()}
      onPointerCancel={() => stop(true)}
      onKeyDown={(e) => {
        if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) {
          e.preventDefault();
          void start();
        }
      }}
      onKeyUp={(e) => {
        if (e.key === ' ' || e.key === 'Enter') stop();
      }}
    >
      <svg
        class="icon"
        viewBox="0 0 24 24"
        aria-hidden="true"
        focusable="false"
        fill="none"
        stroke="currentColor"
        stroke-width="2"
        stroke-linecap="round"
      >
        <rect x="9" y="3" width="6" height="11" rx="3" />
        <path d="M5 11a7 7 0 0 0 14 0M12 18v3" />
      </svg>
    </button>
  );
}
