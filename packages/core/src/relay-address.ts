/**
 * Relay addresses: `parus://<fingerprint>@host:port`. The fingerprint is the base64url
 * BLAKE2b-256 of the relay's Ed25519 key, so a client that holds an address can tell the
 * real relay from an impostor at connection time. `?transport=wss` selects TLS.
 */
import { equalBytes, fromBase64Url, toBase64Url } from './bytes.ts';
import { hash } from './crypto.ts';
import { DecodeError } from './errors.ts';

export type RelayTransport = 'ws' | 'wss';

export interface RelayAddress {
  fingerprint: Uint8Array; // 32 bytes
  host: string;
  port: number;
  transport: RelayTransport;
}

export const FINGERPRINT_BYTES = 32;

export function relayFingerprint(serverSignPublicKey: Uint8Array): Uint8Array {
  return hash(serverSignPublicKey, FINGERPRINT_BYTES);
}

export function fingerprintMatches(address: RelayAddress, serverSignPublicKey: Uint8Array): boolean {
  return equalBytes(address.fingerprint, relayFingerprint(serverSignPublicKey));
}

const ADDRESS =
  /^parus:\/\/([A-Za-z0-9_-]{43})@(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})(?:\?transport=(ws|wss))?$/;

export function parseRelayAddress(text: string): RelayAddress {
  const m = ADDRESS.exec(text.trim());
  if (!m) throw new DecodeError('not a relay address (expected parus://<fingerprint>@host:port)');
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new DecodeError('relay port out of range');
  return {
    fingerprint: fromBase64Url(m[1]!),
    host: m[2]!,
    port,
    transport: (m[4] as RelayTransport | undefined) ?? 'ws',
  };
}

export function formatRelayAddress(a: RelayAddress): string {
  const base = `parus://${toBase64Url(a.fingerprint)}@${a.host}:${a.port}`;
  return a.transport === 'ws' ? base : `${base}?transport=${a.transport}`;
}

/** The WebSocket URL a transport dials for this relay. */
export function relayWebSocketUrl(a: RelayAddress): string {
  return `${a.transport}://${a.host}:${a.port}/ws`;
}

export function sameRelay(a: RelayAddress, b: RelayAddress): boolean {
  return equalBytes(a.fingerprint, b.fingerprint) && a.host === b.host && a.port === b.port;
}
