/**
 * The account snapshot (docs/decisions/0030, 0031): what a backup file holds and what a link
 * will carry to a new device. Account data only: the profile, the device log with the account
 * key's parameters, and the contacts (my per-contact identity, theirs, their device, the name,
 * alias and state). Never ratchet state, queue keys or this device's keys: a restored or linked
 * device is a new device with fresh sessions.
 *
 *   CBOR map { v: 1, name, relay, created, made, devices: { log, akp: { salt, ops, mem } },
 *              contacts: [ { alias, name, state, identity (64), theirIdentity (32), device? (32),
 *                            senderKey?, theirSenderKey?, theirSet?, mySet?, nextSealed? (decision 0038),
 *                            id? (16) } ],
 *              inboxes?: [ inbox card ],   the current devices' inbox cards (decision 0039)
 *              history?: [ message ] }   (history-snapshot.ts, decision 0041)
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
  MAX_ACCOUNT_DEVICES,
  MAX_DEVICE_INBOX_CARD_BYTES,
  toHex,
  type CborMap,
  type CborValue,
} from '@parus/core';
import { decodeAccountKeyParams, type DevicesPart } from './account/device-registry.ts';
import {
  MAX_SNAPSHOT_MESSAGES,
  decodeHistory,
  encodeHistory,
  type SnapshotMessage,
} from './history-snapshot.ts';
import type { ContactRecord, ContactState } from './records.ts';
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
  /** The contact record's id: the history's messages name their contact by it. */
  id?: Uint8Array;
  /** Decision 0038: my sender key for their queues (account data: the same on every device of mine). */
  senderKey?: Uint8Array;
  /** The public key their devices' sends to my queues are authenticated with. */
  theirSenderKey?: Uint8Array;
  /** Their device set toward me, and mine toward them (core device-set.ts). */
  theirSet?: Uint8Array;
  mySet?: Uint8Array;
  /** My next identity's seed sealed to the account key (pre-rotation). */
  nextSealed?: Uint8Array;
}

/** The device-set fields of a snapshot contact (decision 0038), kept apart from the rest. */
const DEVICE_SET_FIELDS = ['senderKey', 'theirSenderKey', 'theirSet', 'mySet', 'nextSealed'] as const;

function encodeDeviceSetFields(c: SnapshotContact, m: CborMap): void {
  for (const k of DEVICE_SET_FIELDS) {
    const v = c[k];
    if (v) m[k] = v;
  }
}

/** `out` with the device-set fields of contact `c` (what a new device needs to introduce itself). */
export function withDeviceSets(out: SnapshotContact, c: ContactRecord): SnapshotContact {
  const fields: Record<(typeof DEVICE_SET_FIELDS)[number], Uint8Array | undefined> = {
    senderKey: c.senderKey,
    theirSenderKey: c.theirSenderKey,
    theirSet: c.theirSet,
    mySet: c.mySet,
    nextSealed: c.nextSealed,
  };
  for (const k of DEVICE_SET_FIELDS) if (fields[k]) out[k] = fields[k];
  return out;
}

function decodeDeviceSetFields(c: CborMap, out: SnapshotContact): void {
  const sizes: Record<(typeof DEVICE_SET_FIELDS)[number], { len?: number; max?: number }> = {
    senderKey: { len: 32 },
    theirSenderKey: { len: 32 },
    theirSet: { max: 32 * 1024 },
    mySet: { max: 32 * 1024 },
    nextSealed: { len: 80 },
  };
  for (const k of DEVICE_SET_FIELDS) if (c[k] !== undefined) out[k] = asBytes(c[k], k, sizes[k]);
}

export interface AccountSnapshot {
  name: string;
  relay: string;
  created: number;
  /** When the snapshot was made. */
  made: number;
  devices: DevicesPart;
  contacts: SnapshotContact[];
  /** The current devices' inbox cards (core device-inbox-card.ts): a new device reaches them (decision 0039). */
  inboxes?: Uint8Array[];
  /** 1:1 messages, as the user chose to carry them (absent: none). */
  history?: SnapshotMessage[];
  /** Groups and rooms (snapshot-groups.ts, decision 0040); absent in older snapshots: none. */
  groups?: SnapshotGroup[];
}

export function encodeSnapshot(s: AccountSnapshot): Uint8Array {
  const m: CborMap = {
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
      if (c.id) m.id = c.id;
      encodeDeviceSetFields(c, m);
      return m;
    }),
  };
  if (s.inboxes && s.inboxes.length > 0) m.inboxes = s.inboxes;
  if (s.history && s.history.length > 0) m.history = encodeHistory(s.history);
  if (s.groups) m.groups = encodeSnapshotGroups(s.groups);
  return encodeCbor(m);
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
      maxItems: Math.max(MAX_SNAPSHOT_CONTACTS + 8, MAX_SNAPSHOT_MESSAGES),
      maxTotalItems: 24 * MAX_SNAPSHOT_CONTACTS + 32 * MAX_SNAPSHOT_MESSAGES + 64 + MAX_SNAPSHOT_GROUP_ITEMS,
    }),
    'snapshot',
  );
  fields(
    m,
    ['v', 'name', 'relay', 'created', 'made', 'devices', 'contacts', 'inboxes', 'history', 'groups'],
    'snapshot',
  );
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
    fields(
      c,
      ['alias', 'name', 'state', 'identity', 'theirIdentity', 'device', 'id', ...DEVICE_SET_FIELDS],
      'snapshot contact',
    );
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
    if (c.id !== undefined) out.id = asBytes(c.id, 'contact id', { len: 16 });
    decodeDeviceSetFields(c, out);
    return out;
  });
  const inboxes =
    m.inboxes === undefined
      ? undefined
      : asArray(m.inboxes, 'snapshot inbox cards', MAX_ACCOUNT_DEVICES).map((v) =>
          asBytes(v, 'inbox card', { max: MAX_DEVICE_INBOX_CARD_BYTES }),
        );
  const snapshot: AccountSnapshot = {
    ...(inboxes ? { inboxes } : {}),
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
  if (m.history !== undefined) snapshot.history = snapshotHistory(m.history, contacts);
  return snapshot;
}

function snapshotHistory(value: CborValue, contacts: readonly SnapshotContact[]): SnapshotMessage[] {
  const ids = new Set<string>();
  for (const c of contacts) if (c.id) ids.add(toHex(c.id));
  return decodeHistory(value, ids);
}
