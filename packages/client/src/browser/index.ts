export { IndexedDbStore } from './indexeddb-store.ts';
export type { IndexedDbStoreOptions } from './indexeddb-store.ts';
export { browserTransport } from './browser-transport.ts';
