export * from './errors.ts';
export * from './bytes.ts';
export * from './crypto.ts';
export * from './cbor.ts';
export * from './relay-address.ts';
export * from './relay-protocol.ts';
