/**
 * Calls (decision 0046) on the first screen: only this. The call screen and its media code come
 * in a chunk of their own, loaded the first time a call is made or rings; call events that come
 * while it loads are kept and handed over. A call that rings while the page is hidden is
 * notified (the missed-call notice is the call-log message, notified as messages are).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { CallEvent } from '@parus/client';
import type { Session } from '../engine-loader.ts';
import type { Translate } from '../i18n.ts';
import { notificationPermission, showNotification, storedNotifyPrefs } from '../notifications.ts';
import { showText } from '@parus/core/display-text';

export type CallUi = typeof import('./call-ui.tsx');
type CallMedia = InstanceType<CallUi['CallMedia']>;

let loading: Promise<CallUi> | undefined;

export function loadCallUi(): Promise<CallUi> {
  loading ??= import('./call-ui.tsx').catch((e: unknown) => {
    loading = undefined; // a later call tries again
    throw e;
  });
  return loading;
}

export interface Calls {
  ui: CallUi | undefined;
  media: CallMedia | undefined;
  /** Calls `alias` (voice, or video). */
  start(alias: string, video: boolean): void;
}

export function useCalls(session: Session, t: Translate): Calls {
  // TURN servers with short-lived credentials from the home relay, when it has one.
  const iceServers = (): Promise<RTCIceServer[]> => session.callApi.turnServers();
  const [ui, setUi] = useState<CallUi | undefined>();
  const media = useRef<CallMedia | undefined>(undefined);
  const held = useRef<CallEvent[]>([]);
  const tRef = useRef(t);
  tRef.current = t;

  const ready = (): Promise<CallMedia> =>
    loadCallUi().then((m) => {
      if (!media.current) {
        media.current = new m.CallMedia(session.callApi, iceServers);
        for (const e of held.current.splice(0)) media.current.feed(e);
      }
      setUi(m);
      return media.current;
    });

  useEffect(() => {
    const off = session.callApi.events.on('call', (e) => {
      if (e.type === 'incoming' && document.visibilityState === 'hidden') {
        const prefs = storedNotifyPrefs();
        if (prefs.enabled && notificationPermission() === 'granted')
          showNotification({
            title: showText(e.alias),
            body: tRef.current(e.video ? 'call.incomingVideo' : 'call.incomingVoice'),
            tag: `parus-call-${e.call}`,
            onClick: () => undefined,
          });
      }
      if (media.current) return; // the loaded call screen listens itself
      held.current.push(e);
      void ready().catch((err: unknown) => console.warn('parus: call screen failed to load', err));
    });
    return () => {
      off();
      media.current?.close();
      media.current = undefined;
    };
  }, [session]);

  return {
    ui,
    media: media.current,
    start(alias, video) {
      void ready()
        .then((m) => m.start(alias, video))
        .catch((err: unknown) => console.warn('parus: call failed to start', err));
    },
  };
}
