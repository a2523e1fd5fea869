import { generateSignKeyPair, type SignKeyPair } from '../src/crypto.ts';
import {
  createRelayDescriptor,
  relayIdOf,
  type RelayDescriptor,
  type RelayId,
} from '../src/mesh/relay-descriptor.ts';
import { formatRelayAddress, relayFingerprint } from '../src/relay-address.ts';
import { scriptedRandom } from './contact-test-helpers.ts';

export const T0 = 1_750_000_000_000;

export interface TestRelay {
  key: SignKeyPair;
  id: RelayId;
  descriptor: RelayDescriptor;
}

/** A relay with a reproducible key and a descriptor with one address on loopback. */
export function testRelay(name: string, issued = T0): TestRelay {
  const key = generateSignKeyPair(scriptedRandom(`mesh-relay-${name}`));
  const address = formatRelayAddress({
    fingerprint: relayFingerprint(key.publicKey),
    host: '127.0.0.1',
    port: 7000 + (name.length % 1000),
    transport: 'ws',
  });
  const descriptor = createRelayDescriptor({
    relay: key,
    addresses: [address],
    version: '0.1.0',
    capacity: 10_000,
    note: `relay ${name}`,
    issued,
  });
  return { key, id: relayIdOf(key.publicKey), descriptor };
}
