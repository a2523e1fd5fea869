/**
 * The call screen (decision 0046), in a chunk of its own: the incoming call (接聽, 拒絕), the
 * call under way (the other side's video or avatar, my preview, the timer, 靜音, 鏡頭, 切換鏡頭,
 * 喇叭, 結束通話), and how it ended, with a warning when the media path was not the one the
 * contact signed.
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { Avatar } from '../components/avatar.tsx';
import { PeerText } from '../components/peer-text.tsx';
import { WarningIcon } from '../components/icons.tsx';
import { useI18n } from '../i18n.ts';
import { CallMedia, type CallView } from './call-media.ts';
import { callDuration } from './call-log.ts';
import { PhoneIcon, VideoIcon } from './call-icons.tsx';
import { MediaToggles } from './media-toggles.tsx';
import './calls.css';

export { CallMedia };

function useView(media: CallMedia): CallView | undefined {
  const [, setN] = useState(0);
  useEffect(() => media.subscribe(() => setN((n) => n + 1)), [media]);
  return media.view;
}

function useTicker(on: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!on) return;
    const i = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(i);
  }, [on]);
  return now;
}

function Stream(props: {
  stream: MediaStream | undefined;
  video: boolean;
  muted?: boolean;
  class: string;
  label: string;
  sink?: (el: HTMLMediaElement | null) => void;
}): JSX.Element {
  const ref = useRef<HTMLVideoElement & HTMLAudioElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (el && el.srcObject !== (props.stream ?? null)) el.srcObject = props.stream ?? null;
    props.sink?.(el);
  });
  return props.video ? (
    <video ref={ref} class={props.class} autoPlay playsInline muted={props.muted} aria-label={props.label} />
  ) : (
    <audio ref={ref} class={props.class} autoPlay muted={props.muted} aria-label={props.label} />
  );
}

export function CallLayer({ media }: { media: CallMedia }): JSX.Element | null {
  const { t } = useI18n();
  const v = useView(media);
  const now = useTicker(v?.phase === 'connected');
  const remoteEl = useRef<HTMLMediaElement | null>(null);
  // An ended call's screen closes by itself, unless it carries a warning.
  useEffect(() => {
    if (v?.phase !== 'ended' || v.reason === 'fingerprint') return;
    const timer = setTimeout(() => media.dismiss(), 2500);
    return () => clearTimeout(timer);
  }, [v?.phase, v?.reason, media]);
  if (!v) return null;

  const status =
    v.phase === 'incoming'
      ? t(v.video ? 'call.incomingVideo' : 'call.incomingVoice')
      : v.phase === 'calling'
        ? t('call.calling')
        : v.phase === 'connecting'
          ? t('call.connecting')
          : v.phase === 'reconnecting'
            ? t('call.reconnecting')
            : v.phase === 'connected'
              ? callDuration((now - (v.connectedAt ?? now)) / 1000)
              : v.reason === 'fingerprint'
                ? t('call.ended')
                : v.reason === 'declined'
                  ? t('call.log.declined')
                  : v.reason === 'busy'
                    ? t('call.log.busy')
                    : v.reason === 'taken'
                      ? t('call.taken')
                      : v.reason === 'failed'
                        ? t('call.log.failed')
                        : v.missed
                          ? t('call.log.missed')
                          : t('call.ended');
  const live =
    v.phase === 'connecting' ||
    v.phase === 'connected' ||
    v.phase === 'reconnecting' ||
    v.phase === 'calling';
  const showRemoteVideo = v.video && media.remote.getVideoTracks().length > 0 && live;

  return (
    <div class={`call-screen call-${v.phase}`} role="dialog" aria-modal="true" aria-label={t('call.screen')}>
      {showRemoteVideo ? (
        <Stream stream={media.remote} video class="call-remote" label={t('call.remoteVideo')} />
      ) : (
        <div class="call-who">
          <Avatar name={v.alias} />
        </div>
      )}
      {!v.video && live && (
        <Stream
          stream={media.remote}
          video={false}
          class="call-remote-audio"
          label={t('call.remoteAudio')}
          sink={(el) => (remoteEl.current = el)}
        />
      )}
      {v.video && live && media.local && (
        <Stream stream={media.local} video muted class="call-self" label={t('call.selfVideo')} />
      )}
      <div class="call-info">
        <h2 class="call-name">
          <PeerText text={v.alias} />
        </h2>
        <p class="call-status" aria-live="polite">
          {status}
        </p>
        {v.verified && v.phase === 'connected' && <p class="call-verified">{t('call.verified')}</p>}
      </div>
      {v.reason === 'fingerprint' && (
        <div class="banner banner-danger call-warning" role="alert">
          <WarningIcon />
          <p>{t('call.fingerprintWarning')}</p>
        </div>
      )}
      {v.error && v.phase === 'ended' && (
        <p class="call-error" role="alert">
          {t('call.mediaError')}
        </p>
      )}
      <div class="call-controls">
        {v.phase === 'incoming' ? (
          <>
            <button type="button" class="call-button call-decline" onClick={() => void media.decline()}>
              <PhoneIcon />
              {t('call.decline')}
            </button>
            <button type="button" class="call-button call-accept" onClick={() => void media.accept()}>
              {v.video ? <VideoIcon /> : <PhoneIcon />}
              {t('call.accept')}
            </button>
          </>
        ) : v.phase === 'ended' ? (
          <button type="button" class="call-button" onClick={() => media.dismiss()}>
            {t('call.close')}
          </button>
        ) : (
          <>
            <MediaToggles
              muted={v.muted}
              video={v.video}
              cameraOn={v.cameraOn}
              onMute={() => media.toggleMute()}
              onCamera={() => media.toggleCamera()}
            />
            {v.video && v.cameras > 1 && (
              <button type="button" class="call-button" onClick={() => void media.switchCamera()}>
                {t('call.switchCamera')}
              </button>
            )}
            {v.speakers > 1 && (
              <button
                type="button"
                class="call-button"
                onClick={() => void media.switchSpeaker(remoteEl.current)}
              >
                {t('call.speaker')}
              </button>
            )}
            <button type="button" class="call-button call-decline" onClick={() => void media.hangUp()}>
              <PhoneIcon />
              {t('call.hangUp')}
            </button>
          </>
        )}
      </div>
    </div>
  );
}
