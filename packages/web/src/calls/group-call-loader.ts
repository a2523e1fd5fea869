/**
 * Group calls (decision 0053) on the first screen: only this and the group header's bar
 * (group-call-bar.tsx). The group call screen and its media code come in the call chunk, loaded
 * when I start or join a call. A ring while the page is hidden is notified.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Session } from '../engine-loader.ts';
import type { Translate } from '../i18n.ts';
import { notificationPermission, showNotification, storedNotifyPrefs } from '../notifications.ts';
import { showText } from '@parus/core/display-text';

export type GroupCallUi = typeof import('./group-call-ui.tsx');
type GroupCallMedia = InstanceType<GroupCallUi['GroupCallMedia']>;

let loading: Promise<GroupCallUi> | undefined;

function loadGroupCallUi(): Promise<GroupCallUi> {
  loading ??= import('./group-call-ui.tsx').catch((e: unknown) => {
    loading = undefined;
    throw e;
  });
  return loading;
}

export interface GroupCalls {
  ui: GroupCallUi | undefined;
  media: GroupCallMedia | undefined;
  start(group: string, video: boolean): void;
  join(group: string): void;
}

export function useGroupCalls(session: Session, t: Translate, onOpen: (group: string) => void): GroupCalls {
  const [ui, setUi] = useState<GroupCallUi | undefined>();
  const media = useRef<GroupCallMedia | undefined>(undefined);
  const tRef = useRef(t);
  tRef.current = t;
  const openRef = useRef(onOpen);
  openRef.current = onOpen;

  const ready = (): Promise<GroupCallMedia> =>
    loadGroupCallUi().then((m) => {
      media.current ??= new m.GroupCallMedia(session.groupCallApi, () => session.callApi.turnServers());
      setUi(m);
      return media.current;
    });

  useEffect(() => {
    const off = session.groupCallApi.events.on('groupCall', (e) => {
      if (e.type !== 'ring' || document.visibilityState !== 'hidden') return;
      const prefs = storedNotifyPrefs();
      if (!prefs.enabled || notificationPermission() !== 'granted') return;
      const group = session.groups.group(e.group);
      showNotification({
        title: showText(group?.alias ?? group?.name ?? ''),
        body: tRef.current('gcall.notify', { name: showText(e.name ?? '') }),
        tag: `parus-gcall-${e.call}`,
        onClick: () => openRef.current(e.group),
      });
    });
    return () => {
      off();
      media.current?.close();
      media.current = undefined;
    };
  }, [session]);

  const run = (f: (m: GroupCallMedia) => Promise<void>): void => {
    void ready()
      .then(f)
      .catch((err: unknown) => console.warn('parus: group call failed', err));
  };
  return {
    ui,
    media: media.current,
    start: (group, video) => run((m) => m.start(group, video)),
    join: (group) => run((m) => m.join(group)),
  };
}
