/**
 * The group call screen (decision 0053), in the call chunk: a tile per participant (their video,
 * or their avatar, and whether their media path is checked), my preview, 靜音, 鏡頭, 離開通話;
 * a warning for a member whose media path was not the one they signed, and why a join was
 * refused (full: four already in).
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { Avatar } from '../components/avatar.tsx';
import { PeerText } from '../components/peer-text.tsx';
import { WarningIcon } from '../components/icons.tsx';
import { useI18n } from '../i18n.ts';
import { GroupCallMedia, type GroupCallView, type PeerView } from './group-call-media.ts';
import { PhoneIcon } from './call-icons.tsx';
import { MediaToggles } from './media-toggles.tsx';
import './calls.css';

export { GroupCallMedia };

function useView(media: GroupCallMedia): GroupCallView | undefined {
  const [, setN] = useState(0);
  useEffect(() => media.subscribe(() => setN((n) => n + 1)), [media]);
  return media.view;
}

function Media(props: { stream: MediaStream; video: boolean; muted?: boolean; label: string }): JSX.Element {
  const ref = useRef<HTMLVideoElement & HTMLAudioElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (el && el.srcObject !== props.stream) el.srcObject = props.stream;
  });
  return props.video ? (
    <video ref={ref} class="gcall-video" autoPlay playsInline muted={props.muted} aria-label={props.label} />
  ) : (
    <audio ref={ref} class="gcall-audio" autoPlay muted={props.muted} aria-label={props.label} />
  );
}

function Tile({ peer, video }: { peer: PeerView; video: boolean }): JSX.Element {
  const { t } = useI18n();
  const hasVideo = video && peer.stream.getVideoTracks().length > 0 && peer.phase !== 'refused';
  const status =
    peer.phase === 'refused'
      ? t('gcall.refusedShort')
      : peer.phase === 'connecting'
        ? t('call.connecting')
        : peer.phase === 'reconnecting'
          ? t('call.reconnecting')
          : peer.verified
            ? t('gcall.verified')
            : t('call.connecting');
  return (
    <li class={`gcall-tile gcall-${peer.phase}`} aria-label={peer.name}>
      {hasVideo ? (
        <Media stream={peer.stream} video label={t('gcall.videoOf', { name: peer.name })} />
      ) : (
        <Avatar name={peer.name} />
      )}
      {!hasVideo && peer.phase !== 'refused' && (
        <Media stream={peer.stream} video={false} label={t('gcall.audioOf', { name: peer.name })} />
      )}
      <p class="gcall-name">
        <PeerText text={peer.name} />
      </p>
      <p class="gcall-status">{status}</p>
    </li>
  );
}

export function GroupCallLayer(props: {
  media: GroupCallMedia;
  groupName: (id: string) => string;
}): JSX.Element | null {
  const { media } = props;
  const { t } = useI18n();
  const v = useView(media);
  // An ended call's screen closes by itself, unless it carries a warning or a refusal.
  useEffect(() => {
    if (v?.phase !== 'ended' || v.refused.length > 0 || v.reason === 'full' || v.error) return;
    const timer = setTimeout(() => media.dismiss(), 2500);
    return () => clearTimeout(timer);
  }, [v?.phase, v?.refused.length, v?.reason, v?.error, media]);
  if (!v) return null;
  const live = v.phase !== 'ended';
  const status =
    v.phase === 'joining'
      ? t('call.connecting')
      : v.phase === 'ended'
        ? v.reason === 'full'
          ? t('gcall.full')
          : v.reason === 'failed'
            ? t('call.log.failed')
            : t('gcall.ended')
        : v.peers.length === 0
          ? t('gcall.waiting')
          : t('gcall.count', { count: v.peers.length + 1 });
  return (
    <div
      class={`call-screen gcall-screen gcall-${v.phase}`}
      role="dialog"
      aria-modal="true"
      aria-label={t('gcall.screen')}
    >
      <div class="call-info">
        <h2 class="call-name">
          <PeerText text={props.groupName(v.group)} />
        </h2>
        <p
          class={v.reason === 'full' ? 'call-status gcall-full' : 'call-status'}
          role={v.reason === 'full' ? 'alert' : undefined}
          aria-live="polite"
        >
          {status}
        </p>
      </div>
      {live && (
        <ul class="gcall-tiles" aria-label={t('gcall.participants')}>
          {v.peers.map((p) => (
            <Tile key={p.key} peer={p} video={v.video} />
          ))}
          {v.video && media.local && (
            <li class="gcall-tile gcall-me" aria-label={t('gcall.you')}>
              <Media stream={media.local} video muted label={t('call.selfVideo')} />
              <p class="gcall-name">{t('gcall.you')}</p>
            </li>
          )}
        </ul>
      )}
      {v.refused.map((name) => (
        <div key={name} class="banner banner-danger call-warning" role="alert">
          <WarningIcon />
          <p>{t('gcall.refused', { name })}</p>
        </div>
      ))}
      {v.error && v.phase === 'ended' && (
        <p class="call-error" role="alert">
          {t('call.mediaError')}
        </p>
      )}
      <div class="call-controls">
        {live ? (
          <>
            <MediaToggles
              muted={v.muted}
              video={v.video}
              cameraOn={v.cameraOn}
              onMute={() => media.toggleMute()}
              onCamera={() => media.toggleCamera()}
            />
            <button type="button" class="call-button call-decline" onClick={() => void media.leave()}>
              <PhoneIcon />
              {t('gcall.leave')}
            </button>
          </>
        ) : (
          <button type="button" class="call-button" onClick={() => media.dismiss()}>
            {t('call.close')}
          </button>
        )}
      </div>
    </div>
  );
}
