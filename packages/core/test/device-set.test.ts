import sodium from 'libsodium-wrappers-sumo';
import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex, utf8 } from '../src/bytes.ts';
import { decodeCbor, encodeCbor, type CborMap } from '../src/cbor.ts';
import {
  generateDhKeyPair,
  generateSignKeyPair,
  generateXwingKeyPair,
  initCrypto,
  openSealedBox,
  sealToPublicKey,
  sign,
  signPublicToDh,
  signSecretToDh,
  type SignKeyPair,
} from '../src/crypto.ts';
import { createDeviceCertificate, encodeDeviceCertificate } from '../src/device-certificate.ts';
import {
  MAX_DEVICE_SET_BYTES,
  MAX_SET_DEVICES,
  checkDeviceNews,
  checkDeviceSetUpdate,
  createDeviceSet,
  createDeviceSetEntry,
  decodeDeviceIntro,
  decodeDeviceSet,
  encodeDeviceIntro,
  encodeDeviceSet,
  heldDeviceSet,
  isDeviceIntro,
  nextIdentityCommitment,
  openNextIdentity,
  prekeyId,
  sealNextIdentity,
  type DeviceSetEntry,
} from '../src/device-set.ts';
import { DecodeError, ProtocolError, ReplayError, UsageError, VerificationError } from '../src/errors.ts';
import {
  expectMutationsRejected,
  expectTruncationsRejected,
  scriptedRandom,
  versionOffset,
} from './contact-test-helpers.ts';
import frozen from './vectors/device-set.json' with { type: 'json' };

const ISSUED = 1_750_000_000_000;
const RELAY = 'parus://qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqo@relay.example:443';
const RELAY2 = 'parus://u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7s@second.example:443';

let rng = scriptedRandom('device-set');
let ckp: SignKeyPair;
let next: SignKeyPair;
let laptop: SignKeyPair;
let phone: SignKeyPair;

function entry(device: SignKeyPair, identity = ckp, two = false): DeviceSetEntry {
  return createDeviceSetEntry({
    identity,
    device,
    prekey: generateDhKeyPair(rng).publicKey,
    kem: generateXwingKeyPair(rng).publicKey,
    queue: { relay: RELAY, sid: rng.bytes(24) },
    ...(two ? { queue2: { relay: RELAY2, sid: rng.bytes(24) } } : {}),
    issued: ISSUED,
  });
}

/** The frozen pair of sets: laptop alone (seq 1), then laptop and phone (seq 2), both committing to `next`. */
function build(): { first: Uint8Array; second: Uint8Array; rotated: Uint8Array } {
  rng = scriptedRandom('device-set');
  ckp = generateSignKeyPair(rng);
  next = generateSignKeyPair(rng);
  laptop = generateSignKeyPair(rng);
  phone = generateSignKeyPair(rng);
  const after = generateSignKeyPair(rng);
  const laptopEntry = entry(laptop);
  const first = createDeviceSet({
    identity: ckp,
    seq: 1,
    devices: [laptopEntry],
    next: nextIdentityCommitment(next.publicKey),
  });
  const second = createDeviceSet({
    identity: ckp,
    seq: 2,
    devices: [laptopEntry, entry(phone, ckp, true)],
    next: nextIdentityCommitment(next.publicKey),
  });
  const rotated = createDeviceSet({
    identity: next,
    seq: 3,
    devices: [entry(laptop, next)],
    next: nextIdentityCommitment(after.publicKey),
  });
  return {
    first: encodeDeviceSet(first),
    second: encodeDeviceSet(second),
    rotated: encodeDeviceSet(rotated),
  };
}

beforeAll(async () => {
  await initCrypto();
  await sodium.ready;
  build();
});

function edited(bytes: Uint8Array, edit: (m: CborMap) => void, resignWith?: SignKeyPair): Uint8Array {
  const m = decodeCbor(bytes) as CborMap;
  edit(m);
  if (!resignWith) return encodeCbor(m);
  const { sig: _sig, ...rest } = m;
  const sig = sign(resignWith.secretKey, concatBytes(utf8('parus-device-set-v1'), encodeCbor(rest)));
  return encodeCbor({ ...rest, sig });
}

describe('device set codec', () => {
  it('matches the frozen vectors (never regenerate them)', () => {
    const { first, second, rotated } = build();
    expect(toHex(first)).toBe(frozen.first);
    expect(toHex(second)).toBe(frozen.second);
    expect(toHex(rotated)).toBe(frozen.rotated);
    const decoded = decodeDeviceSet(fromHex(frozen.second));
    expect(toHex(decoded.identityKey)).toBe(frozen.identityKey);
    expect(decoded.devices.map((d) => toHex(d.cert.deviceKey))).toEqual(frozen.devices);
  });

  it('round-trips byte for byte, second queues included', () => {
    const { second } = build();
    const set = decodeDeviceSet(second);
    expect(set.seq).toBe(2);
    expect(set.devices[1]!.queue2?.relay).toBe(RELAY2);
    expect(toHex(encodeDeviceSet(set))).toBe(toHex(second));
  });

  it('refuses every truncation with DecodeError', () => {
    expectTruncationsRejected(build().first, decodeDeviceSet);
  });

  it('refuses 400 random mutations with typed errors', () => {
    const bytes = build().first;
    const { byClass } = expectMutationsRejected(bytes, decodeDeviceSet, {
      count: 400,
      seed: 11,
      versionOffset: versionOffset(bytes),
    });
    expect((byClass.VerificationError ?? 0) + (byClass.DecodeError ?? 0)).toBeGreaterThan(0);
  });

  it('refuses oversized input, unknown fields and more than 16 devices with DecodeError', () => {
    const { first } = build();
    expect(() => decodeDeviceSet(new Uint8Array(MAX_DEVICE_SET_BYTES + 1))).toThrow(DecodeError);
    expect(() => decodeDeviceSet(concatBytes(first, new Uint8Array(1)))).toThrow(DecodeError);
    expect(() => decodeDeviceSet(edited(first, (m) => (m.extra = 1), ckp))).toThrow(DecodeError);
    const one = (decodeCbor(first) as CborMap).devices as CborMap[];
    const many = Array.from({ length: MAX_SET_DEVICES + 1 }, () => one[0]!);
    expect(() => decodeDeviceSet(edited(first, (m) => (m.devices = many), ckp))).toThrow(DecodeError);
    expect(() => decodeDeviceSet(edited(first, (m) => (m.devices = []), ckp))).toThrow(DecodeError);
    expect(() => createDeviceSet({ identity: ckp, seq: 1, devices: [] })).toThrow(UsageError);
  });

  it('refuses a forged device certificate with VerificationError', () => {
    const { first } = build();
    const thief = generateSignKeyPair(rng);
    // A certificate for the thief's device made by a key that is not the set's Ckp.
    const forged = encodeDeviceCertificate(
      createDeviceCertificate({ identity: thief, deviceKey: thief.publicKey, issued: ISSUED }),
    );
    const bytes = edited(
      first,
      (m) => ((m.devices as CborMap[])[0]!.cert = forged),
      ckp, // even re-signed by the Ckp, the certificate is not the Ckp's
    );
    expect(() => decodeDeviceSet(bytes)).toThrow(VerificationError);
    // A certificate whose own signature is broken.
    const cert = decodeCbor(
      ((decodeCbor(first) as CborMap).devices as CborMap[])[0]!.cert as Uint8Array,
    ) as CborMap;
    (cert.sig as Uint8Array)[0]! ^= 1;
    const broken = edited(first, (m) => ((m.devices as CborMap[])[0]!.cert = encodeCbor(cert)), ckp);
    expect(() => decodeDeviceSet(broken)).toThrow(VerificationError);
    // A set not signed by its key.
    expect(() => decodeDeviceSet(edited(first, (m) => (m.seq = 9), thief))).toThrow(VerificationError);
  });

  it('refuses a prekey not signed by its device', () => {
    const { first } = build();
    const other = generateDhKeyPair(rng).publicKey;
    expect(() =>
      decodeDeviceSet(edited(first, (m) => ((m.devices as CborMap[])[0]!.prekey = other), ckp)),
    ).toThrow(VerificationError);
  });
});

describe('device set updates (pre-rotation)', () => {
  it('takes a first set by the current key, then only higher sequence numbers', () => {
    const { first, second } = build();
    const a = decodeDeviceSet(first);
    const b = decodeDeviceSet(second);
    expect(checkDeviceSetUpdate(undefined, a, ckp.publicKey)).toEqual({ rotated: false });
    expect(checkDeviceSetUpdate(heldDeviceSet(a), b, ckp.publicKey)).toEqual({ rotated: false });
    expect(() => checkDeviceSetUpdate(heldDeviceSet(b), a, ckp.publicKey)).toThrow(ReplayError);
    expect(() => checkDeviceSetUpdate(heldDeviceSet(b), b, ckp.publicKey)).toThrow(ReplayError);
  });

  it('refuses a first set by another key than the contact identity', () => {
    const { rotated } = build();
    expect(() => checkDeviceSetUpdate(undefined, decodeDeviceSet(rotated), ckp.publicKey)).toThrow(
      VerificationError,
    );
  });

  it('takes a set by the committed next key, then refuses the old key', () => {
    const { second, rotated } = build();
    const held = heldDeviceSet(decodeDeviceSet(second));
    const r = decodeDeviceSet(rotated);
    expect(checkDeviceSetUpdate(held, r, ckp.publicKey)).toEqual({ rotated: true });
    const later = decodeDeviceSet(
      encodeDeviceSet(createDeviceSet({ identity: ckp, seq: 9, devices: [entry(laptop)], next: held.next! })),
    );
    expect(() => checkDeviceSetUpdate(heldDeviceSet(r), later, next.publicKey)).toThrow(VerificationError);
  });

  it('refuses a key that does not match the commitment, and a changed commitment', () => {
    const { second } = build();
    const held = heldDeviceSet(decodeDeviceSet(second));
    const stranger = generateSignKeyPair(rng);
    const bad = createDeviceSet({
      identity: stranger,
      seq: 5,
      devices: [entry(laptop, stranger)],
      next: nextIdentityCommitment(stranger.publicKey),
    });
    expect(() => checkDeviceSetUpdate(held, bad, ckp.publicKey)).toThrow(VerificationError);
    const moved = createDeviceSet({
      identity: ckp,
      seq: 5,
      devices: [entry(laptop)],
      next: nextIdentityCommitment(stranger.publicKey),
    });
    expect(() => checkDeviceSetUpdate(held, moved, ckp.publicKey)).toThrow(ProtocolError);
  });
});

describe('device set news (decision 0062)', () => {
  /** A device's entry dated `issued` (its own, made when it signs). */
  function dated(device: SignKeyPair, issued: number, identity = ckp): DeviceSetEntry {
    return {
      ...entry(device, identity),
      cert: createDeviceCertificate({ identity, deviceKey: device.publicKey, issued }),
    };
  }

  it('takes a set reusing the held seq for its sender’s own entry: a new device, or a newer entry', () => {
    const { second } = build();
    const held = decodeDeviceSet(second); // seq 2: laptop and phone
    const tablet = generateSignKeyPair(rng);
    // The tablet extended the laptop's seq 1 to seq 2 too, not knowing the phone's set.
    const fromTablet = createDeviceSet({
      identity: ckp,
      seq: 2,
      devices: [held.devices[0]!, dated(tablet, ISSUED + 5)],
      next: held.next!,
    });
    expect(() => checkDeviceSetUpdate(heldDeviceSet(held), fromTablet, ckp.publicKey)).toThrow(ReplayError);
    expect(
      checkDeviceNews(heldDeviceSet(held), fromTablet, tablet.publicKey, undefined).cert.deviceKey,
    ).toEqual(tablet.publicKey);
    // The laptop's entry made later (its weekly prekey): news; dated as held or before: a replay.
    const laptopLater = createDeviceSet({
      identity: ckp,
      seq: 1,
      devices: [dated(laptop, ISSUED + 9)],
      next: held.next!,
    });
    expect(checkDeviceNews(heldDeviceSet(held), laptopLater, laptop.publicKey, ISSUED).prekey).toEqual(
      laptopLater.devices[0]!.prekey,
    );
    for (const at of [ISSUED + 9, ISSUED + 10])
      expect(() => checkDeviceNews(heldDeviceSet(held), laptopLater, laptop.publicKey, at)).toThrow(
        ReplayError,
      );
    // The held set itself again, from the laptop: nothing newer in it.
    expect(() => checkDeviceNews(heldDeviceSet(held), held, laptop.publicKey, ISSUED)).toThrow(ReplayError);
  });

  it('refuses news by another key, with another commitment, or from a device the set does not list', () => {
    const { second, rotated } = build();
    const held = heldDeviceSet(decodeDeviceSet(second));
    const r = decodeDeviceSet(rotated);
    expect(() => checkDeviceNews(held, r, laptop.publicKey, ISSUED)).toThrow(VerificationError);
    const stranger = generateSignKeyPair(rng);
    const moved = createDeviceSet({
      identity: ckp,
      seq: 1,
      devices: [dated(laptop, ISSUED + 9)],
      next: nextIdentityCommitment(stranger.publicKey),
    });
    expect(() => checkDeviceNews(held, moved, laptop.publicKey, ISSUED)).toThrow(ProtocolError);
    const laptopOnly = createDeviceSet({
      identity: ckp,
      seq: 1,
      devices: [dated(laptop, ISSUED + 9)],
      next: held.next!,
    });
    expect(() => checkDeviceNews(held, laptopOnly, phone.publicKey, ISSUED)).toThrow(VerificationError);
  });
});

describe('the sealed next identity', () => {
  it('opens with the account key only, and is what crypto_box_seal writes', () => {
    const account = generateSignKeyPair(rng);
    const seed = rng.bytes(32);
    const sealed = sealNextIdentity(rng, account.publicKey, seed);
    const opened = openNextIdentity(account, sealed);
    expect(toHex(opened.secretKey.slice(0, 32))).toBe(toHex(seed));
    // libsodium's own crypto_box_seal_open opens it (the construction is libsodium's sealed box).
    const plain = sodium.crypto_box_seal_open(
      sealed,
      signPublicToDh(account.publicKey),
      signSecretToDh(account.secretKey),
    );
    expect(toHex(plain)).toBe(toHex(seed));
    // And ours opens libsodium's.
    const theirs = sodium.crypto_box_seal(seed, signPublicToDh(account.publicKey));
    const dh = { publicKey: signPublicToDh(account.publicKey), secretKey: signSecretToDh(account.secretKey) };
    expect(toHex(openSealedBox(dh, theirs))).toBe(toHex(seed));
    expect(() => openNextIdentity(generateSignKeyPair(rng), sealed)).toThrow(VerificationError);
    const tampered = sealed.slice();
    tampered[40]! ^= 1;
    expect(() => openNextIdentity(account, tampered)).toThrow(VerificationError);
    expect(() => sealToPublicKey(rng, new Uint8Array(31), seed)).toThrow(UsageError);
  });
});

describe('device introductions', () => {
  it('round-trip behind their tag and refuse anything else', () => {
    const intro = {
      v: 1 as const,
      card: prekeyId(generateDhKeyPair(rng).publicKey),
      identityKey: ckp.publicKey,
      init: { ephemeralKey: generateDhKeyPair(rng).publicKey, kemCiphertext: rng.bytes(1120) },
      message: rng.bytes(300),
    };
    const bytes = encodeDeviceIntro(intro);
    expect(isDeviceIntro(bytes)).toBe(true);
    expect(isDeviceIntro(Uint8Array.of(1, 2, 3))).toBe(false);
    expect(toHex(decodeDeviceIntro(bytes).message)).toBe(toHex(intro.message));
    expect(() => decodeDeviceIntro(bytes.subarray(1))).toThrow(DecodeError);
    expectTruncationsRejected(bytes, decodeDeviceIntro);
  });
});
