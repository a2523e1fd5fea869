/**
 * The devices and backup screens (device-ui.tsx: 裝置, 備份, 連結到現有帳號, 從備份還原) come in
 * a chunk of their own, loaded the first time one is needed, as the room screens do.
 */
import { useEffect, useState } from 'preact/hooks';

export type DeviceUi = typeof import('./device-ui.tsx');

let loading: Promise<DeviceUi> | undefined;
let loaded: DeviceUi | undefined;

export function loadDeviceUi(): Promise<DeviceUi> {
  loading ??= import('./device-ui.tsx').then(
    (m) => (loaded = m),
    (e: unknown) => {
      loading = undefined; // a later call tries again
      throw e;
    },
  );
  return loading;
}

/** The device screens once loaded (undefined for the moment it takes); `want` false loads nothing yet. */
export function useDeviceUi(want = true): DeviceUi | undefined {
  const [ui, setUi] = useState<DeviceUi | undefined>(loaded);
  useEffect(() => {
    if (!want || ui) return;
    let live = true;
    loadDeviceUi().then(
      (m) => live && setUi(m),
      (e: unknown) => console.warn('parus: device screens failed to load', e),
    );
    return () => {
      live = false;
    };
  }, [want, ui]);
  return ui;
}
