/** The chat header's call buttons (decision 0046): 語音通話 and 視訊通話. */
import type { JSX } from 'preact';
import type { Translate } from '../i18n.ts';
import { PhoneIcon, VideoIcon } from './call-icons.tsx';

export function CallButtons(props: { t: Translate; onCall: (video: boolean) => void }): JSX.Element {
  const { t } = props;
  return (
    <>
      <button
        type="button"
        class="icon-button call-voice-button"
        aria-label={t('call.voice')}
        title={t('call.voice')}
        onClick={() => props.onCall(false)}
      >
        <PhoneIcon />
      </button>
      <button
        type="button"
        class="icon-button call-video-button"
        aria-label={t('call.video')}
        title={t('call.video')}
        onClick={() => props.onCall(true)}
      >
        <VideoIcon />
      </button>
    </>
  );
}
