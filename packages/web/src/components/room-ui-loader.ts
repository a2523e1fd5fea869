/**
 * The room screens that are not on the first screen (the share-link dialog, the join form, the
 * private chat request form) come in a chunk of their own, loaded the first time one is needed.
 */
import { useEffect, useState } from 'preact/hooks';

export type RoomUi = typeof import('./room-ui.tsx');

let loading: Promise<RoomUi> | undefined;
let loaded: RoomUi | undefined;

export function loadRoomUi(): Promise<RoomUi> {
  loading ??= import('./room-ui.tsx').then(
    (m) => (loaded = m),
    (e: unknown) => {
      loading = undefined; // a later call tries again
      throw e;
    },
  );
  return loading;
}

/** The room screens once loaded (undefined for the moment it takes); `want` false loads nothing yet. */
export function useRoomUi(want = true): RoomUi | undefined {
  const [ui, setUi] = useState<RoomUi | undefined>(loaded);
  useEffect(() => {
    if (!want || ui) return;
    let live = true;
    loadRoomUi().then(
      (m) => live && setUi(m),
      (e: unknown) => console.warn('parus: room screens failed to load', e),
    );
    return () => {
      live = false;
    };
  }, [want, ui]);
  return ui;
}
