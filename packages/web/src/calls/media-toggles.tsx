/** The microphone and camera buttons of a call screen, 1:1 and group alike. */
import type { JSX } from 'preact';
import { useI18n } from '../i18n.ts';

export function MediaToggles(props: {
  muted: boolean;
  video: boolean;
  cameraOn: boolean;
  onMute: () => void;
  onCamera: () => void;
}): JSX.Element {
  const { t } = useI18n();
  return (
    <>
      <button type="button" class="call-button" aria-pressed={props.muted} onClick={props.onMute}>
        {props.muted ? t('call.unmute') : t('call.mute')}
      </button>
      {props.video && (
        <button type="button" class="call-button" aria-pressed={!props.cameraOn} onClick={props.onCamera}>
          {props.cameraOn ? t('call.cameraOff') : t('call.cameraOn')}
        </button>
      )}
    </>
  );
}

/** Turns a local stream's tracks of one kind on or off (a muted track sends silence or black). */
export function setTracksEnabled(
  stream: MediaStream | undefined,
  kind: 'audio' | 'video',
  on: boolean,
): void {
  for (const track of (kind === 'audio' ? stream?.getAudioTracks() : stream?.getVideoTracks()) ?? [])
    track.enabled = on;
}
