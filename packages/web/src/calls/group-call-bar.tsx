/**
 * The group header's part of group calls (decision 0053), on the first screen: the call buttons
 * while no call is under way, and the banner of a call under way (群組通話進行中, 加入通話, or
 * full at four).
 */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { GroupCallInfo } from '@parus/client';
import type { Session } from '../engine-loader.ts';
import type { Translate } from '../i18n.ts';
import { PeerText } from '../components/peer-text.tsx';
import { CallButtons } from './call-buttons.tsx';
import { PhoneIcon } from './call-icons.tsx';

/** The most participants of a group call (core MAX_GROUP_CALL_PARTICIPANTS). */
const MAX_PARTICIPANTS = 4;

export function useGroupCall(session: Session, group: string | undefined): GroupCallInfo | undefined {
  const api = session.groupCallApi;
  const read = (): GroupCallInfo | undefined => {
    if (group === undefined) return undefined;
    try {
      return api.calls.current(group);
    } catch {
      return undefined;
    }
  };
  const [info, setInfo] = useState(read);
  useEffect(() => {
    setInfo(read());
    return api.events.on('groupCall', (e) => {
      if (e.group === group) setInfo(read());
    });
  }, [session, group]);
  return info;
}

export function GroupCallButtons(props: {
  t: Translate;
  info: GroupCallInfo | undefined;
  onStart: (video: boolean) => void;
}): JSX.Element | null {
  if (props.info) return null;
  return <CallButtons t={props.t} onCall={props.onStart} />;
}

export function GroupCallBanner(props: {
  t: Translate;
  info: GroupCallInfo | undefined;
  onJoin: () => void;
}): JSX.Element | null {
  const { t, info } = props;
  if (!info || info.joined || info.members.length === 0) return null;
  const full = info.members.length >= MAX_PARTICIPANTS;
  return (
    <section class="banner gcall-banner" role="region" aria-label={t('gcall.banner')}>
      <PhoneIcon />
      <p>
        {t(info.video ? 'gcall.ongoingVideo' : 'gcall.ongoing', { count: info.members.length })}{' '}
        <span class="muted">
          {info.members.map((m, i) => (
            <span key={m.key}>
              {i > 0 && '、'}
              <PeerText text={m.name} />
            </span>
          ))}
        </span>
      </p>
      {full ? (
        <p class="gcall-full-note" role="status">
          {t('gcall.full')}
        </p>
      ) : (
        <button type="button" class="primary" onClick={props.onJoin}>
          {t('gcall.join')}
        </button>
      )}
    </section>
  );
}
