export { SqliteStore } from './sqlite-store.ts';
export { nodeTransport } from './node-transport.ts';
