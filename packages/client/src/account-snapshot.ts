/**
 * The account snapshot (docs/decisions/0030, 0031): what a backup file holds and what a link
 * will carry to a new device. Account data only: the profile, the device log with the account
 * key's parameters, and the contacts (my per-contact identity, theirs, their device, the name,
 * alias and state). Never ratchet state, queue keys or this device's keys: a restored or linked
 * device is a new device with fresh sessions.
 *
 *   CBOR map { v: 1, name, relay, created, made, devices: { log, akp: { salt, ops, mem } },
 *              contacts: [ { alias, name, state, identity (64), theirIdentity (32), device? (32) } ] }
 *
 * Strict decoding: unknown fields, wrong sizes and more than MAX_SNAPSHOT_CONTACTS contacts are
 * DecodeErrors.
 */
import {
  DecodeError,
  asArray,
  asBytes,
  asMap,
  asText,
  asUint,
  decodeCbor,
  encodeCbor,
  parseRelayAddress,
  toHex,
  type CborMap,
} from '@parus/core';
import { decodeAccountKeyParams, type DevicesPart } from './account/device-registry.ts';
import type { ContactState } from './records.ts';
import { decodeSnapshotGroups, encodeSnapshotGroups, type SnapshotGroup } from './snapshot-groups.ts';

export const SNAPSHOT_VERSION = 1;
export const MAX_SNAPSHOT_CONTACTS = 10_000;
export const MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024;
/** CBOR items the groups section may hold (snapshot-groups.ts bounds each group). */
const MAX_SNAPSHOT_GROUP_ITEMS = 4_000_000;
const CONTACT_STATES: readonly ContactState[] = ['unvalidated', 'validated', 'compromised'];

export interface SnapshotContact {
  alias: string;
  name: string;
  state: ContactState;
  /** My per-contact identity (Ckp) secret key. */
  identity: Uint8Array;
  theirIdentity: Uint8Array;
  /** Their device key as last certified. */
  device?: Uint8Array;
}

export interface AccountSnapshot {
  name: string;
  relay: string;
  created: number;
  /** When the snapshot was made. */
  made: number;
  devices: DevicesPart;
  contacts: SnapshotContact[];
  /** Groups and rooms (snapshot-groups.ts, decision 0040); absent in older snapshots: none. */
  groups?: SnapshotGroup[];
}

export function encodeSnapshot(s: AccountSnapshot): Uint8Array {
  return encodeCbor({
    v: SNAPSHOT_VERSION,
    name: s.name,
    relay: s.relay,
    created: s.created,
    made: s.made,
    devices: {
      log: s.devices.log,
      akp: {
        salt: s.devices.params.salt,
        ops: s.devices.params.cost.opsLimit,
        mem: s.devices.params.cost.memLimit,
      },
    },
    contacts: s.contacts.map((c) => {
      const m: CborMap = {
        alias: c.alias,
        name: c.name,
        state: c.state,
        identity: c.identity,
        theirIdentity: c.theirIdentity,
      };
      if (c.device) m.device = c.device;
      return m;
    }),
    ...(s.groups ? { groups: encodeSnapshotGroups(s.groups) } : {}),
  });
}

function fields(m: CborMap, allowed: string[], what: string): void {
  for (const k of Object.keys(m))
    if (!allowed.includes(k)) throw new DecodeError(`${what} has unknown fields`);
}

export function decodeSnapshot(bytes: Uint8Array): AccountSnapshot {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_SNAPSHOT_BYTES)
    throw new DecodeError('snapshot too large');
  const m = asMap(
    decodeCbor(bytes, {
      maxBytes: MAX_SNAPSHOT_BYTES,
      maxDepth: 8,
      maxItems: MAX_SNAPSHOT_CONTACTS + 8,
      maxTotalItems: 16 * MAX_SNAPSHOT_CONTACTS + 64 + MAX_SNAPSHOT_GROUP_ITEMS,
    }),
    'snapshot',
  );
  fields(m, ['v', 'name', 'relay', 'created', 'made', 'devices', 'contacts', 'groups'], 'snapshot');
  if (asUint(m.v, 'snapshot version') !== SNAPSHOT_VERSION) throw new DecodeError('unknown snapshot version');
  const relay = asText(m.relay, 'relay', 512);
  try {
    parseRelayAddress(relay);
  } catch (cause) {
    throw new DecodeError('snapshot relay is not a relay address', { cause });
  }
  const d = asMap(m.devices, 'snapshot devices');
  fields(d, ['log', 'akp'], 'snapshot devices');
  const contacts = asArray(m.contacts, 'snapshot contacts', MAX_SNAPSHOT_CONTACTS).map((value) => {
    const c = asMap(value, 'snapshot contact');
    fields(c, ['alias', 'name', 'state', 'identity', 'theirIdentity', 'device'], 'snapshot contact');
    const state = asText(c.state, 'contact state', 16);
    const known = CONTACT_STATES.find((s) => s === state);
    if (!known) throw new DecodeError('unknown contact state');
    const out: SnapshotContact = {
      alias: asText(c.alias, 'alias', 64),
      name: asText(c.name, 'name', 64),
      state: known,
      identity: asBytes(c.identity, 'identity', { len: 64 }),
      theirIdentity: asBytes(c.theirIdentity, 'their identity', { len: 32 }),
    };
    if (c.device !== undefined) out.device = asBytes(c.device, 'their device', { len: 32 });
    return out;
  });
  return {
    name: asText(m.name, 'name', 64),
    relay,
    created: asUint(m.created, 'created'),
    made: asUint(m.made, 'made'),
    devices: {
      log: asBytes(d.log, 'device log', { max: 8 * 1024 * 1024 }),
      params: decodeAccountKeyParams(d.akp),
    },
    contacts,
    groups: decodeSnapshotGroups(m.groups, new Set(contacts.map((c) => toHex(c.theirIdentity)))),
  };
}
