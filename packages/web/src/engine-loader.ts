/**
 * The only door to the engine chunk. Nothing in the first screen imports @parus/core or
 * @parus/client directly (only their types), so libsodium stays out of the first load.
 */
export type Engine = typeof import('./engine/session.ts');
export type {
  CallApi,
  GroupCallApi,
  Chat,
  ChatRequestInfo,
  ConnectionState,
  DeviceInfo,
  DeviceLinkView,
  GroupChat,
  HistoryChoice,
  Invite,
  QrMatrix,
  RoomLinkView,
  RoomPreview,
  SafetyNumberView,
  SearchHit,
  Session,
  Upload,
  UploadInfo,
} from './engine/session.ts';

let loading: Promise<Engine> | undefined;

export function loadEngine(): Promise<Engine> {
  loading ??= import('./engine/session.ts').then(
    (engine) => {
      // For bench/web-load.ts ("engine ready") and the browser's performance tools.
      performance.mark('parus:engine');
      return engine;
    },
    (e: unknown) => {
      loading = undefined; // a later call tries again
      throw e;
    },
  );
  return loading;
}

/** The account database exists in this browser (a hint before the engine can look inside). */
export async function databaseHint(name: string): Promise<boolean | undefined> {
  try {
    if (typeof indexedDB.databases !== 'function') return undefined;
    return (await indexedDB.databases()).some((d) => d.name === name);
  } catch {
    return undefined;
  }
}
