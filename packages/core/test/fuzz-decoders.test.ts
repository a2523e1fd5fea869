/**
 * Fuzzing every decoder core exports (docs/decisions/0029). Each starts from valid
 * encodings made with the encoders and a scripted Random, then takes mutated inputs
 * (fuzz-support.ts) and random ones. The decoder must either return a value, which then
 * survives a re-encode and decode unchanged (byte for byte where the codec is canonical),
 * or throw one of the project's typed errors: never a TypeError, RangeError or plain Error.
 *
 * Seed and counts: PARUS_FUZZ_SEED (default DEFAULT_FUZZ_SEED) and PARUS_FUZZ_ITERATIONS (a
 * multiplier, default 1). A failure names the seed, the target, the iteration and the input.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as core from '../src/index.ts';
import {
  decodeLinkFrame,
  encodeLinkFrame,
  type LinkFrame,
  CARD_LINK_PREFIX,
  FileDecryptor,
  GROUP_ID_BYTES,
  MESSAGE_KINDS,
  RELAY_PROTOCOL_VERSION,
  cardFromLink,
  cardToLink,
  checkGroupEvent,
  concatBytes,
  defaultGroupSettings,
  GROUP_EVENT_ID_BYTES,
  hash,
  sign,
  compareSafetyNumberQr,
  createCard,
  createDeviceCertificate,
  createDeviceEntry,
  sealAccountBackup,
  openAccountBackup,
  createLinkOffer,
  answerLinkOffer,
  receiveLinkAnswer,
  receiveLinkNonce,
  parseLinkOffer,
  encodeLinkOffer,
  decodeLinkMessage,
  encodeLinkMessage,
  sealLinkTransfer,
  createDeviceOp,
  createGenesisOp,
  startDeviceLog,
  applyDeviceOp,
  deviceId,
  decodeDeviceOp,
  decodeDeviceLog,
  encodeDeviceOp,
  encodeDeviceLog,
  createEnvelope,
  createGroup,
  createGroupEvent,
  CheckedAdvertCache,
  LinkStateDatabase,
  createLinkStateAdvert,
  createRelayDescriptor,
  createRoomLink,
  decodeLinkStateAdvert,
  decodeRelayDescriptor,
  encodeLinkStateAdvert,
  encodeRelayDescriptor,
  relayIdOf,
  decodeCard,
  decodeCbor,
  decodeClientFrame,
  decodeContactRequest,
  decodeDeviceCertificate,
  decodeEnvelope,
  decodeFileBody,
  decodeGroupEvent,
  decodeRatchetMessage,
  decodeRatchetState,
  decodeRelayFrame,
  decodeSenderChain,
  decodeSenderKeyDistribution,
  decodeSenderMessage,
  decodeSenderReceiverState,
  decodeStickerBody,
  decodeTextBody,
  decodeRekeyBody,
  decodeQueueBody,
  decodeProfileBody,
  encodeProfileBody,
  decodeCallSignalBody,
  decodeCallLogBody,
  decodeGroupCallSignalBody,
  encodeGroupCallSignalBody,
  encodeCallSignalBody,
  encodeCallLogBody,
  formatFingerprint,
  decodeTypingBody,
  decodeUnsendBody,
  encodeCard,
  encodeCbor,
  encodeContactRequest,
  encodeDeviceCertificate,
  encodeEnvelope,
  encodeFileBody,
  encodeFrame,
  encodeGroupEvent,
  encodeRatchetMessage,
  encodeRatchetState,
  encodeSenderChain,
  encodeSenderKeyDistribution,
  encodeSenderMessage,
  encodeSenderReceiverState,
  encodeStickerBody,
  encodeTextBody,
  encodeRekeyBody,
  encodeQueueBody,
  encodeUnsendBody,
  encryptFileChunks,
  formatRelayAddress,
  fromBase64Url,
  fromHex,
  fromUtf8,
  generateDhKeyPair,
  generateSignKeyPair,
  generateXwingKeyPair,
  initCrypto,
  initRatchetReceiver,
  initRatchetSender,
  openDelivery,
  packAckIds,
  packOkIds,
  packFanoutEntries,
  padToBucket,
  parseRelayAddress,
  parseRoomLink,
  ratchetDecrypt,
  ratchetEncrypt,
  relayFingerprint,
  rotateSenderChain,
  safetyNumberQrPayload,
  sealDelivery,
  senderDecrypt,
  senderEncrypt,
  senderKeyDistribution,
  senderReceiverFromDistribution,
  splitAckIds,
  splitOkIds,
  splitSids,
  toBase64Url,
  toHex,
  unpad,
  utf8,
  type CborMap,
  type DeviceEntry,
  type DeviceOp,
  type SignKeyPair,
  type CborValue,
  type CreateGroupEventOptions,
  type GroupEvent,
  type GroupEventType,
  type ClientFrame,
  type RelayFrame,
  createDeviceInboxCard,
  encodeDeviceInboxCard,
  decodeDeviceInboxCard,
  encodeSyncBody,
  decodeSyncBody,
  applySyncOp,
  emptySyncState,
  encodeSyncState,
  decodeSyncState,
  type SyncOp,
  DecodeError,
  decodeHotFrame,
  decodeReactionBody,
  encodeReactionBody,
  openCardRecord,
  openRoomRecord,
  parseShortRoomLink,
  sealRoomRecord,
  shortRoomLinkToText,
  parseShortLink,
  sealCardRecord,
  shortLinkToText,
} from '../src/index.ts';
import { scriptedRandom } from './contact-test-helpers.ts';
import { samplePng } from './image-samples.ts';
import {
  FuzzRng,
  fuzzSettings,
  mutate,
  mutateText,
  mutateValue,
  randomValue,
  typedOutcome,
} from './fuzz-support.ts';

const { seed, scale } = fuzzSettings();
/** Mutated inputs per target, and random ones. */
const MUTATIONS = Math.round(1500 * scale);
const RANDOM_INPUTS = Math.round(150 * scale);

interface Target<I> {
  /** The exported functions this target reaches. */
  covers: string[];
  seeds: I[];
  decode(input: I): unknown;
  /** Encodes a decoded value again; decoding that must give the same value. */
  reencode?(value: never): I;
  /** Re-encoding gives the input back exactly: the decoder accepts one encoding per value. */
  canonical?: boolean;
  /** Share of the iterations, for decoders that are slow on purpose (key stretching). */
  share?: number;
  /** Makes a mutated input from a seed, in place of the generic mutations. */
  mutator?(rng: FuzzRng, base: I): I;
}
type BytesTarget = Target<Uint8Array> & { kind: 'bytes' };
type TextTarget = Target<string> & { kind: 'text' };

const targets = new Map<string, BytesTarget | TextTarget>();
const bytesTarget = (name: string, t: Omit<BytesTarget, 'kind'>): void => {
  targets.set(name, { kind: 'bytes', ...t });
};
const textTarget = (name: string, t: Omit<TextTarget, 'kind'>): void => {
  targets.set(name, { kind: 'text', ...t });
};

/**
 * Inputs fuzzing once found wrong, kept as regression cases (hex for bytes targets): each
 * goes through the same check as a mutated input on every run.
 */
const REGRESSIONS: Record<string, string[]> = {
  // {"text": ""}: decoded, though encodeTextBody refuses an empty message.
  decodeTextBody: ['a1647465787460'],
};

/** Functions that match the decoder pattern but are crypto primitives, fuzzed through the wire decoders that call them. */
const NOT_WIRE_DECODERS: Record<string, string> = {
  open: 'XChaCha20-Poly1305 primitive, fuzzed through openDelivery',
  openWithNonce: 'XChaCha20-Poly1305 primitive, fuzzed through openDelivery',
  openSecretStream: 'starts a secretstream from a key and header; fuzzed through FileDecryptor',
  openSealedBox: "libsodium's sealed box primitive; only this account's own sealed next identities reach it",
  openNextIdentity:
    'opens a next identity this account sealed (records and snapshots, never a peer); tested in device-set.test.ts',
  parseFingerprint:
    "reads the AA:BB:… text of an SDP fingerprint line or the browser's getStats (a bounded regex, no state); tested in call-body.test.ts",
};
/** What counts as a decoder among core's exports: whatever reads bytes or text a peer sent. */
const DECODER_NAME = /^(decode|parse|split|unpad|from|open)|FromLink$|Decrypt/;

const rng = scriptedRandom('fuzz-decoders');
const NOW = 1_750_000_000_000;

beforeAll(async () => {
  await initCrypto();
  console.log(`fuzz-decoders: seed ${seed} (PARUS_FUZZ_SEED), ×${scale} (PARUS_FUZZ_ITERATIONS)`);
  buildTargets();
});

/** A small device log (genesis, add, revoke, passphrase), made once. */
let deviceLogMemo: DeviceOp[] | undefined;
function deviceLogOps(): DeviceOp[] {
  if (deviceLogMemo) return deviceLogMemo;
  const r = scriptedRandom('fuzz-device-log');
  const mk = (name: string): { key: SignKeyPair; entry: DeviceEntry } => {
    const key = generateSignKeyPair(r);
    const entry = createDeviceEntry({
      device: key,
      dh: generateDhKeyPair(r).publicKey,
      kem: generateXwingKeyPair(r).publicKey,
      name,
    });
    return { key, entry };
  };
  const a = mk('laptop');
  const b = mk('phone');
  const accountKey = generateSignKeyPair(r);
  const ops = [createGenesisOp({ device: a.key, entry: a.entry, accountKey, time: NOW })];
  let state = startDeviceLog(ops[0]!);
  const push = (op: DeviceOp): void => {
    state = applyDeviceOp(state, op);
    ops.push(op);
  };
  push(createDeviceOp(state, { type: 'add', entry: b.entry, device: a.key, accountKey, time: NOW + 1 }));
  const newAccountKey = generateSignKeyPair(r);
  push(
    createDeviceOp(state, {
      type: 'passphrase',
      newAccountKey,
      params: { salt: r.bytes(16), cost: { opsLimit: 1, memLimit: 8192 } },
      device: b.key,
      accountKey,
      time: NOW + 2,
    }),
  );
  push(
    createDeviceOp(state, {
      type: 'revoke',
      id: deviceId(a.key.publicKey),
      device: b.key,
      accountKey: newAccountKey,
      time: NOW + 3,
    }),
  );
  deviceLogMemo = ops;
  return ops;
}

function relayAddress(name: string, port = 443): string {
  const key = generateSignKeyPair(scriptedRandom(`relay-${name}`)).publicKey;
  return formatRelayAddress({
    fingerprint: relayFingerprint(key),
    host: `${name}.example.org`,
    port,
    transport: 'wss',
  });
}

function clientFrames(): ClientFrame[] {
  const b = (n: number): Uint8Array => rng.bytes(n);
  return [
    { t: 'hello', v: RELAY_PROTOCOL_VERSION, challenge: b(32) },
    { t: 'hello', v: RELAY_PROTOCOL_VERSION, challenge: b(32), oks: 1 },
    { t: 'new', id: 1, rk: b(32), rdh: b(32), auth: b(32) },
    { t: 'new', id: 2, rk: b(32), rdh: b(32), sk: b(32), auth: b(32) },
    { t: 'secure', id: 3, rid: b(24), sk: b(32), auth: b(32) },
    { t: 'sub', id: 4, rid: b(24), auth: b(32) },
    { t: 'del', id: 300, rid: b(24), auth: b(32) },
    { t: 'send', id: 70_000, sid: b(24), body: b(300) },
    { t: 'send', id: 5, sid: b(24), body: b(20), auth: b(32) },
    { t: 'ack', id: 6, rid: b(24), mid: b(16), auth: b(32) },
    { t: 'ack', id: 7, rid: b(24), mids: packAckIds([b(16), b(16), b(16)]), auth: b(32) },
    { t: 'ping', id: 2 ** 32 },
    { t: 'bnew', id: 8, uk: b(32), dk: b(32), size: 100_000, auth: b(32) },
    { t: 'bput', id: 9, bid: b(32), n: 1, data: b(100), auth: b(32) },
    { t: 'bfin', id: 10, bid: b(32), hash: b(32), auth: b(32) },
    { t: 'bstat', id: 11, bid: b(32), auth: b(32) },
    { t: 'bget', id: 12, bid: b(32), n: 0, auth: b(32) },
    { t: 'bdel', id: 13, bid: b(32), auth: b(32) },
    { t: 'fnew', id: 14, fk: b(32), auth: b(32) },
    { t: 'fadd', id: 15, lid: b(24), ents: packFanoutEntries([{ sid: b(24), proof: b(32) }]), auth: b(32) },
    { t: 'frem', id: 16, lid: b(24), sids: b(48), auth: b(32) },
    { t: 'fdrop', id: 17, lid: b(24), auth: b(32) },
    { t: 'fsend', id: 18, lid: b(24), body: b(64), auth: b(32) },
    { t: 'fwd', id: 20, to: b(32), sid: b(24), body: b(90) },
    { t: 'fwd', id: 21, to: b(32), sid: b(24), body: b(0), auth: b(32) },
    { t: 'rkey', id: 22, to: b(32) },
    { t: 'cput', id: 23, ck: b(32), data: b(200), exp: NOW, auth: b(32) },
    { t: 'cget', id: 24, cid: b(16) },
    { t: 'cdel', id: 25, cid: b(16), auth: b(32) },
  ];
}

function relayFrames(): RelayFrame[] {
  const b = (n: number): Uint8Array => rng.bytes(n);
  return [
    {
      t: 'welcome',
      v: RELAY_PROTOCOL_VERSION,
      key: b(32),
      session: b(32),
      dh: b(32),
      sig: b(64),
      rate: 500,
      burst: 1000,
    },
    { t: 'ids', id: 1, rid: b(24), sid: b(24), sdh: b(32) },
    { t: 'ok', id: 2 },
    { t: 'ok', id: 3, pending: 12 },
    { t: 'oks', ids: [4, 5, 300] },
    { t: 'msg', rid: b(24), mid: b(16), body: b(100) },
    { t: 'end', rid: b(24) },
    { t: 'err', id: 4, code: 'QUOTA', msg: 'queue full' },
    { t: 'err', code: 'DECODE', msg: 'bad frame' },
    { t: 'blob', id: 5, bid: b(32), size: 1000, have: 1, done: true, expires: NOW },
    { t: 'chunk', id: 6, n: 0, data: b(50) },
    { t: 'flist', id: 7, lid: b(24) },
    { t: 'fsent', id: 8, n: 2, full: b(24), gone: new Uint8Array(0) },
    { t: 'rkey', id: 12, key: b(32), dh: b(32), sig: b(64) },
    { t: 'crec', id: 13, cid: b(16), exp: NOW },
    { t: 'crec', id: 14, cid: b(16), exp: NOW, data: b(120) },
  ];
}

function buildTargets(): void {
  const cborSeeds: CborValue[] = [
    0,
    23,
    24,
    2 ** 32,
    Number.MAX_SAFE_INTEGER,
    -1,
    Number.MIN_SAFE_INTEGER,
    '',
    '山雀 🐦',
    rng.bytes(40),
    [1, [2, [3, null]], true, false],
    { t: 'x', id: 1, nested: { a: [rng.bytes(3), 'b'] }, z: -300 },
  ];
  bytesTarget('cbor', {
    covers: ['decodeCbor'],
    seeds: cborSeeds.map((v) => encodeCbor(v)),
    decode: (b) => decodeCbor(b),
    reencode: (v: CborValue) => encodeCbor(v),
    canonical: true,
  });
  bytesTarget('client frames', {
    covers: ['decodeClientFrame', 'decodeCardCommand'],
    seeds: clientFrames().map((f) => encodeFrame(f)),
    decode: decodeClientFrame,
    reencode: (f: ClientFrame) => encodeFrame(f),
  });
  // The relay's fast path for send and ack (decision 0042): its one canonical layout, or
  // nothing (the generic decoder then takes the frame).
  bytesTarget('hot frames', {
    covers: ['decodeHotFrame'],
    seeds: clientFrames()
      .filter((f) => f.t === 'send' || (f.t === 'ack' && 'mid' in f)) // an ack of one id
      .map((f) => encodeFrame(f)),
    decode: (b: Uint8Array) => {
      const f = decodeHotFrame(b);
      if (f === undefined) throw new DecodeError('not a hot frame');
      return f;
    },
    reencode: (f: ClientFrame) => encodeFrame(f),
    canonical: true,
  });
  bytesTarget('relay frames', {
    covers: ['decodeRelayFrame', 'decodeCardRecordFrame'],
    seeds: relayFrames().map((f) => encodeFrame(f)),
    decode: decodeRelayFrame,
    reencode: (f: RelayFrame) => encodeFrame(f),
  });
  bytesTarget('ack ids', {
    covers: ['splitAckIds'],
    seeds: [packAckIds([rng.bytes(16)]), packAckIds([rng.bytes(16), rng.bytes(16), rng.bytes(16)])],
    decode: splitAckIds,
    reencode: (ids: Uint8Array[]) => packAckIds(ids),
    canonical: true,
  });
  bytesTarget('ok ids', {
    covers: ['splitOkIds'],
    seeds: [packOkIds([1, 2]), packOkIds([0, 24, 300, 70_000, 0xffffffff])],
    decode: splitOkIds,
    reencode: (ids: number[]) => packOkIds(ids),
    canonical: true,
  });
  bytesTarget('fan-out sids', {
    covers: ['splitSids'],
    seeds: [rng.bytes(24), rng.bytes(72), new Uint8Array(0)],
    decode: splitSids,
  });
  bytesTarget('padding', {
    covers: ['unpad'],
    seeds: [padToBucket(new Uint8Array(0)), padToBucket(rng.bytes(255)), padToBucket(rng.bytes(300))],
    decode: unpad,
    reencode: (b: Uint8Array) => padToBucket(b),
  });
  bytesTarget('utf-8', {
    covers: ['fromUtf8'],
    seeds: [utf8('plain'), utf8('山雀 🐦 \u202e')],
    decode: fromUtf8,
    reencode: (s: string) => utf8(s),
    canonical: true,
  });
  textTarget('hex', {
    covers: ['fromHex'],
    seeds: ['', '00ff7e', toHex(rng.bytes(32))],
    decode: fromHex,
    reencode: (b: Uint8Array) => toHex(b),
  });
  textTarget('base64url', {
    covers: ['fromBase64Url'],
    seeds: ['', toBase64Url(rng.bytes(1)), toBase64Url(rng.bytes(2)), toBase64Url(rng.bytes(33))],
    decode: fromBase64Url,
    reencode: (b: Uint8Array) => toBase64Url(b),
    canonical: true,
  });
  textTarget('relay address', {
    covers: ['parseRelayAddress'],
    seeds: [
      relayAddress('home'),
      relayAddress('backup', 5223),
      'parus://' + 'A'.repeat(43) + '@127.0.0.1:80',
    ],
    decode: parseRelayAddress,
    reencode: (a: ReturnType<typeof parseRelayAddress>) => formatRelayAddress(a),
  });

  // Message bodies: CBOR values inside an envelope.
  const textBodies = [
    encodeTextBody({ text: '早安 ☀️' }),
    encodeTextBody({ text: 'waves', action: true, replyTo: rng.bytes(32) }),
  ];
  const bodyTarget = <T>(
    name: string,
    decode: (v: CborValue) => T,
    values: CborValue[],
    encode?: (b: T) => CborValue,
  ): void =>
    bytesTarget(name, {
      covers: [name],
      seeds: values.map((v) => encodeCbor(v)),
      decode: (b) => decode(decodeCbor(b)),
      ...(encode ? { reencode: (v: T) => encodeCbor(encode(v)), canonical: true } : {}),
    });
  bodyTarget('decodeTextBody', decodeTextBody, textBodies, encodeTextBody);
  bodyTarget(
    'decodeStickerBody',
    decodeStickerBody,
    [encodeStickerBody({ pack: 'parus', id: 'hello', replyTo: rng.bytes(32) })],
    encodeStickerBody,
  );
  bodyTarget(
    'decodeFileBody',
    decodeFileBody,
    [
      encodeFileBody({
        relay: relayAddress('files'),
        blob: rng.bytes(32),
        dk: rng.bytes(32),
        key: rng.bytes(32),
        header: rng.bytes(24),
        hash: rng.bytes(32),
        size: 1000,
        name: '報告 final.pdf',
        mime: 'application/pdf',
        expires: NOW,
        thumb: rng.bytes(100),
      }),
    ],
    encodeFileBody,
  );
  bodyTarget(
    'decodeUnsendBody',
    decodeUnsendBody,
    [encodeUnsendBody({ target: rng.bytes(32) })],
    encodeUnsendBody,
  );
  bodyTarget(
    'decodeReactionBody',
    decodeReactionBody,
    [
      encodeReactionBody({ target: rng.bytes(32), emoji: '👍' }),
      encodeReactionBody({ target: rng.bytes(32), emoji: '' }),
    ],
    encodeReactionBody,
  );
  bodyTarget('decodeTypingBody', decodeTypingBody, [{}]);
  bodyTarget(
    'decodeRekeyBody',
    decodeRekeyBody,
    [encodeRekeyBody({ reply: false }), encodeRekeyBody({ reply: true })],
    encodeRekeyBody,
  );
  {
    const png = new Uint8Array(40);
    png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    png.set([0, 0, 0, 64, 0, 0, 0, 48, 8, 6], 16);
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xc0, 0, 17, 8, 0, 32, 0, 32, 3, ...rng.bytes(14)]);
    bodyTarget(
      'decodeProfileBody',
      decodeProfileBody,
      [
        encodeProfileBody({ name: '小明' }),
        encodeProfileBody({ name: 'Alice', avatar: png }),
        encodeProfileBody({ name: 'Bob', avatar: jpeg }),
      ],
      encodeProfileBody,
    );
  }
  bodyTarget(
    'decodeQueueBody',
    decodeQueueBody,
    [
      encodeQueueBody({
        queue: { relay: relayAddress('backup', 5223), sid: rng.bytes(24) },
        sk: rng.bytes(32),
        ask: true,
      }),
      encodeQueueBody({ sk: rng.bytes(32), ask: false }),
    ],
    encodeQueueBody,
  );
  // Sync bodies and the merged state they make (decision 0039).
  const syncDevice = rng.bytes(8);
  const syncConv = rng.bytes(16);
  const syncOps: SyncOp[] = [
    { t: 'sent', env: rng.bytes(200), l: 1, d: syncDevice },
    { t: 'read', conv: syncConv, upto: 9, l: 2, d: syncDevice },
    { t: 'del', conv: syncConv, id: rng.bytes(32), at: 3, l: 3, d: syncDevice },
    { t: 'clear', conv: syncConv, upto: 2, l: 4, d: syncDevice },
    { t: 'mute', chat: syncConv, until: NOW, l: 5, d: syncDevice },
    { t: 'pin', chat: syncConv, l: 6, d: syncDevice },
    { t: 'unpin', chat: syncConv, tags: [{ l: 6, d: syncDevice }], l: 7, d: syncDevice },
    { t: 'pin', chat: rng.bytes(16), l: 7, d: syncDevice },
    { t: 'state', conv: syncConv, state: 'validated', l: 8, d: syncDevice },
    { t: 'alias', conv: syncConv, alias: '小明', l: 9, d: syncDevice },
    {
      t: 'contact',
      contact: {
        alias: 'carol',
        name: 'Carol',
        state: 'unvalidated',
        identity: rng.bytes(64),
        their: rng.bytes(32),
      },
      l: 10,
      d: syncDevice,
    },
    { t: 'log', log: rng.bytes(64), l: 11, d: syncDevice },
    { t: 'inbox', card: rng.bytes(64), l: 12, d: syncDevice },
    {
      t: 'myset',
      conv: syncConv,
      set: rng.bytes(300),
      id: rng.bytes(64),
      next: rng.bytes(80),
      l: 12,
      d: syncDevice,
    },
    {
      t: 'group',
      g: syncConv,
      ev: [rng.bytes(300)],
      key: rng.bytes(64),
      nx: rng.bytes(80),
      l: 13,
      d: syncDevice,
    },
    { t: 'group', g: syncConv, sec: rng.bytes(200), l: 14, d: syncDevice },
  ];
  bodyTarget(
    'decodeSyncBody',
    decodeSyncBody,
    [encodeSyncBody(syncOps), encodeSyncBody(syncOps.slice(1, 3))],
    encodeSyncBody,
  );
  bytesTarget('sync states', {
    covers: ['decodeSyncState'],
    seeds: [
      encodeSyncState(syncOps.reduce(applySyncOp, emptySyncState())),
      encodeSyncState(emptySyncState()),
    ],
    decode: decodeSyncState,
    reencode: encodeSyncState,
    canonical: true,
  });
  const callFp = rng.bytes(32);
  const callSdp = `v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=fingerprint:sha-256 ${formatFingerprint(callFp)}\r\n`;
  bodyTarget(
    'decodeCallSignalBody',
    decodeCallSignalBody,
    [
      encodeCallSignalBody({ call: rng.bytes(16), op: 'offer', n: 0, sdp: callSdp, fp: callFp, video: true }),
      encodeCallSignalBody({ call: rng.bytes(16), op: 'answer', n: 1, sdp: callSdp, fp: callFp }),
      encodeCallSignalBody({
        call: rng.bytes(16),
        op: 'ice',
        cands: [{ c: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', mid: '0', i: 0 }],
      }),
      encodeCallSignalBody({ call: rng.bytes(16), op: 'hangup' }),
    ],
    encodeCallSignalBody,
  );
  bodyTarget(
    'decodeGroupCallSignalBody',
    decodeGroupCallSignalBody,
    [
      encodeGroupCallSignalBody({ g: rng.bytes(16), call: rng.bytes(16), op: 'ring', video: false }),
      encodeGroupCallSignalBody({
        g: rng.bytes(16),
        call: rng.bytes(16),
        op: 'offer',
        n: 0,
        sdp: callSdp,
        fp: callFp,
        sig: rng.bytes(64),
      }),
      encodeGroupCallSignalBody({
        g: rng.bytes(16),
        call: rng.bytes(16),
        op: 'ice',
        cands: [{ c: '', i: 0 }],
      }),
      encodeGroupCallSignalBody({ g: rng.bytes(16), call: rng.bytes(16), op: 'leave' }),
    ],
    encodeGroupCallSignalBody,
  );
  bodyTarget(
    'decodeCallLogBody',
    decodeCallLogBody,
    [
      encodeCallLogBody({ call: rng.bytes(16), video: true, outcome: 'answered', secs: 192 }),
      encodeCallLogBody({ call: rng.bytes(16), video: false, outcome: 'missed' }),
    ],
    encodeCallLogBody,
  );

  // Cards, links, contact requests, device certificates, envelopes.
  const identity = generateSignKeyPair(rng);
  const cardOptions = {
    identity,
    signedPrekey: generateDhKeyPair(rng).publicKey,
    kemKey: generateXwingKeyPair(rng).publicKey,
    queue: { relay: relayAddress('home'), sid: rng.bytes(24) },
    relays: [relayAddress('home'), relayAddress('backup', 5223)],
    name: '小明 Ming 🐦',
    expires: NOW + 86_400_000,
    oneTime: true,
  };
  const cards = [
    createCard(cardOptions),
    createCard({ ...cardOptions, name: undefined, oneTime: false }),
    createCard({ ...cardOptions, queue2: { relay: relayAddress('backup', 5223), sid: rng.bytes(24) } }),
  ];
  // Short invitations (decision 0045): the link's text, and the sealed card its key opens.
  const shortKey = rng.bytes(32);
  textTarget('short links', {
    covers: ['parseShortLink'],
    seeds: [
      shortLinkToText({ relay: relayAddress('home'), cid: rng.bytes(16), key: shortKey }),
      shortLinkToText({ relay: relayAddress('backup', 5223), cid: rng.bytes(16), key: rng.bytes(32) }),
    ],
    decode: parseShortLink,
    reencode: shortLinkToText,
  });
  bytesTarget('card records', {
    covers: ['openCardRecord'],
    seeds: cards.map((c) => sealCardRecord(c, shortKey, rng)),
    decode: (b: Uint8Array) => openCardRecord(b, shortKey),
  });
  bytesTarget('cards', {
    covers: ['decodeCard'],
    seeds: cards.map(encodeCard),
    decode: decodeCard,
    reencode: encodeCard,
    canonical: true,
  });
  textTarget('card links', {
    covers: ['cardFromLink'],
    seeds: cards.map(cardToLink),
    decode: cardFromLink,
    reencode: cardToLink,
  });
  const keeper = generateSignKeyPair(rng);
  const roomLinks = [
    createRoomLink(
      {
        group: rng.bytes(GROUP_ID_BYTES),
        name: '公開 room',
        keeper: keeper.publicKey,
        card: encodeCard(cards[1]!),
        secret: rng.bytes(32),
      },
      keeper,
    ),
  ];
  textTarget('room links', { covers: ['parseRoomLink'], seeds: roomLinks, decode: parseRoomLink });
  // Short room links (decision 0059): the link's text, and the sealed room link its key opens.
  textTarget('short room links', {
    covers: ['parseShortRoomLink'],
    seeds: [shortRoomLinkToText({ relay: relayAddress('home'), cid: rng.bytes(16), key: shortKey })],
    decode: parseShortRoomLink,
    reencode: shortRoomLinkToText,
  });
  bytesTarget('room records', {
    covers: ['openRoomRecord'],
    seeds: roomLinks.map((l) => sealRoomRecord(l, shortKey, rng)),
    decode: (b: Uint8Array) => openRoomRecord(b, shortKey),
  });
  const request = {
    v: 1 as const,
    card: rng.bytes(32),
    identityKey: rng.bytes(32),
    init: { ephemeralKey: rng.bytes(32), kemCiphertext: rng.bytes(1120) },
    message: rng.bytes(700),
  };
  bytesTarget('contact requests', {
    covers: ['decodeContactRequest'],
    seeds: [encodeContactRequest(request)],
    decode: decodeContactRequest,
    reencode: encodeContactRequest,
    canonical: true,
    share: 0.5,
  });
  bytesTarget('device certificates', {
    covers: ['decodeDeviceCertificate'],
    seeds: [
      encodeDeviceCertificate(
        createDeviceCertificate({ identity, deviceKey: generateSignKeyPair(rng).publicKey, issued: NOW }),
      ),
    ],
    decode: decodeDeviceCertificate,
    reencode: encodeDeviceCertificate,
    canonical: true,
  });
  bytesTarget('device inbox cards', {
    covers: ['decodeDeviceInboxCard'],
    seeds: [
      encodeDeviceInboxCard(
        createDeviceInboxCard({
          device: identity,
          relay: relayAddress('inbox'),
          sid: rng.bytes(24),
          prekey: generateDhKeyPair(rng).publicKey,
          kem: generateXwingKeyPair(rng).publicKey,
          issued: NOW,
        }),
      ),
    ],
    decode: decodeDeviceInboxCard,
    reencode: encodeDeviceInboxCard,
    canonical: true,
  });
  bytesTarget('device ops', {
    covers: ['decodeDeviceOp'],
    seeds: deviceLogOps().map(encodeDeviceOp),
    decode: decodeDeviceOp,
    reencode: encodeDeviceOp,
    canonical: true,
    share: 0.5,
  });
  bytesTarget('device logs', {
    covers: ['decodeDeviceLog'],
    seeds: [encodeDeviceLog(deviceLogOps()), encodeDeviceLog(deviceLogOps().slice(0, 2))],
    decode: decodeDeviceLog,
    reencode: (v: ReturnType<typeof decodeDeviceLog>) => encodeDeviceLog(v.ops),
    canonical: true,
    share: 0.3,
  });
  // Device sets toward a contact and device introductions (decision 0038).
  const setDevice = (): core.DeviceSetEntry =>
    core.createDeviceSetEntry({
      identity,
      device: generateSignKeyPair(rng),
      prekey: generateDhKeyPair(rng).publicKey,
      kem: generateXwingKeyPair(rng).publicKey,
      queue: { relay: relayAddress('home'), sid: rng.bytes(24) },
      ...(rng.bytes(1)[0]! & 1 ? { queue2: { relay: relayAddress('second'), sid: rng.bytes(24) } } : {}),
      issued: NOW,
    });
  bytesTarget('device sets', {
    covers: ['decodeDeviceSet'],
    seeds: [
      core.encodeDeviceSet(core.createDeviceSet({ identity, seq: 1, devices: [setDevice()] })),
      core.encodeDeviceSet(
        core.createDeviceSet({
          identity,
          seq: 7,
          devices: [setDevice(), setDevice()],
          next: core.nextIdentityCommitment(generateSignKeyPair(rng).publicKey),
        }),
      ),
    ],
    decode: core.decodeDeviceSet,
    reencode: core.encodeDeviceSet,
    canonical: true,
    share: 0.3,
  });
  bytesTarget('device introductions', {
    covers: ['decodeDeviceIntro'],
    seeds: [
      core.encodeDeviceIntro({
        v: 1,
        card: core.prekeyId(generateDhKeyPair(rng).publicKey),
        identityKey: identity.publicKey,
        init: { ephemeralKey: generateDhKeyPair(rng).publicKey, kemCiphertext: rng.bytes(1120) },
        message: rng.bytes(200),
      }),
    ],
    decode: core.decodeDeviceIntro,
    reencode: core.encodeDeviceIntro,
    canonical: true,
    share: 0.3,
  });
  const linkRelay = relayAddress('link', 7000);
  const linkNew = createLinkOffer({
    rng,
    relay: linkRelay,
    sid: rng.bytes(24),
    now: NOW,
    name: 'new laptop',
  });
  const linkOld = answerLinkOffer({
    offer: parseLinkOffer(linkNew.link),
    rng,
    now: NOW,
    relay: linkRelay,
    sid: rng.bytes(24),
    answered: () => false,
  });
  const linkNonce = receiveLinkAnswer(linkNew.state, decodeLinkMessage(linkOld.message), { rng, now: NOW });
  const linkReveal = receiveLinkNonce(linkOld.state, decodeLinkMessage(linkNonce.reply));
  textTarget('device links', {
    covers: ['parseLinkOffer'],
    seeds: [linkNew.link],
    decode: parseLinkOffer,
    reencode: encodeLinkOffer,
    // Pasted links are trimmed and their prefix read in any case, as card and room links are.
  });
  bytesTarget('device link messages', {
    covers: ['decodeLinkMessage'],
    seeds: [
      linkOld.message,
      linkNonce.reply,
      linkReveal.reply,
      ...sealLinkTransfer({
        key: linkReveal.session.sendKey,
        id: linkReveal.session.id,
        rng,
        payload: rng.bytes(40),
        chunkBytes: 16,
      }),
    ],
    decode: decodeLinkMessage,
    reencode: encodeLinkMessage,
    canonical: true,
  });
  const backupCost = { opsLimit: 1, memLimit: 8192 };
  bytesTarget('account backups', {
    covers: ['openAccountBackup'],
    seeds: [
      sealAccountBackup({
        passphrase: 'fuzz',
        payload: rng.bytes(40),
        rng,
        cost: backupCost,
        chunkBytes: 16,
      }),
      sealAccountBackup({ passphrase: 'fuzz', payload: new Uint8Array(0), rng, cost: backupCost }),
    ],
    // A mutated header may ask for up to 1 GiB of Argon2id; the fuzzer pays no more than the seeds' cost.
    decode: (b) => openAccountBackup(b, 'fuzz', { maxCost: backupCost }),
    share: 0.3,
  });
  const device = generateSignKeyPair(rng);
  const envelopes = MESSAGE_KINDS.slice(0, 3).map((kind, i) =>
    createEnvelope({
      device,
      conv: rng.bytes(16),
      parents: Array.from({ length: i }, () => rng.bytes(32)),
      lamport: i * 300,
      ts: NOW,
      kind,
      body: encodeTextBody({ text: `message ${i}` }),
    }),
  );
  bytesTarget('envelopes', {
    covers: ['decodeEnvelope'],
    seeds: envelopes.map(encodeEnvelope),
    decode: decodeEnvelope,
    reencode: encodeEnvelope,
    canonical: true,
  });

  // Groups: state events and Sender Keys.
  const alice = generateSignKeyPair(rng);
  const bob = generateSignKeyPair(rng);
  const create = createGroup({ author: alice, name: '山雀 Tits', ts: NOW, rng });
  const group = create.group;
  const events = [
    create,
    createGroupEvent({
      author: alice,
      group,
      parents: [create.id],
      lamport: 1,
      ts: NOW,
      type: 'invite',
      content: { member: bob.publicKey },
    }),
    createGroupEvent({
      author: alice,
      group,
      parents: [create.id],
      lamport: 2,
      ts: NOW,
      type: 'topic',
      content: { topic: '今天吃什麼？' },
    }),
    createGroupEvent({
      author: alice,
      group,
      parents: [create.id],
      lamport: 3,
      ts: NOW,
      type: 'kick',
      content: { member: bob.publicKey, reason: 'spam' },
    }),
  ];
  bytesTarget('group events', {
    covers: ['decodeGroupEvent'],
    seeds: events.map((e) => encodeGroupEvent(e)),
    decode: (b) => decodeGroupEvent(b),
    reencode: encodeGroupEvent,
    canonical: true,
  });
  // Signed by the author after the change, so the content reaches the checks behind the id
  // and the signature (each type's content reader). Non-create events only: their id is the
  // hash of the unsigned fields (group-event.ts eventId), signed under the signature context.
  const others: GroupEvent[] = (
    [
      ['invite', { member: bob.publicKey }],
      ['join', {}],
      ['leave', {}],
      ['kick', { member: bob.publicKey, reason: 'spam\nagain' }],
      ['ban', { member: bob.publicKey }],
      ['unban', { member: bob.publicKey }],
      ['role', { member: bob.publicKey, role: 'moderator' }],
      ['topic', { topic: '今天吃什麼？ 🐦' }],
      ['name', { name: 'Parus major' }],
      ['avatar', { avatar: samplePng(96, 96) }],
      ['settings', { settings: defaultGroupSettings({ public: true, shareHistory: true }) }],
      ['status', { status: 'away' }],
      ['nick', { nick: 'tit' }],
      ['pin', { pin: { text: '公告：週五聚餐', message: rng.bytes(32) } }],
    ] as const
  ).map(
    ([type, content], i) =>
      createGroupEvent({
        author: alice,
        group,
        parents: [create.id],
        lamport: 1 + i,
        ts: NOW,
        type,
        content,
      } as CreateGroupEventOptions<GroupEventType>) as GroupEvent,
  );
  const resign = (m: CborMap): Uint8Array => {
    const { id: _id, sig: _sig, ...unsigned } = m;
    const id = hash(concatBytes(utf8('parus-group-event-v1'), encodeCbor(unsigned)), GROUP_EVENT_ID_BYTES);
    return encodeCbor({
      ...unsigned,
      id,
      sig: sign(alice.secretKey, concatBytes(utf8('parus-group-event-sig-v1'), id)),
    });
  };
  bytesTarget('group events, signed after the change', {
    covers: ['decodeGroupEvent', 'checkGroupEvent'],
    // Re-signed as they are, the seeds must decode: this test's signing matches the module's.
    seeds: others.map((e) => resign(decodeCbor(encodeGroupEvent(e)) as CborMap)),
    decode: (b) => checkGroupEvent(decodeGroupEvent(b)),
    reencode: encodeGroupEvent,
    canonical: true,
    share: 0.6, // two signatures per input
    mutator: (fr, base) => {
      const m = decodeCbor(base) as CborMap;
      if (fr.chance(0.7)) {
        m.content = mutateValue(fr, m.content!);
        return resign(m);
      }
      const changed = mutateValue(fr, m);
      const isMap =
        typeof changed === 'object' &&
        changed !== null &&
        !Array.isArray(changed) &&
        !(changed instanceof Uint8Array);
      return isMap ? resign(changed) : encodeCbor(changed);
    },
  });
  const chain = rotateSenderChain(rng);
  const distribution = senderKeyDistribution(chain, group);
  const receiver = senderReceiverFromDistribution(distribution);
  const ad = utf8('fuzz ad');
  const first = senderEncrypt(chain, utf8('one'), ad);
  const second = senderEncrypt(first.chain, utf8('two'), ad);
  const third = senderEncrypt(second.chain, new Uint8Array(0), ad);
  const senderMessages = [first.message, second.message, third.message];
  bytesTarget('sender messages', {
    covers: ['decodeSenderMessage'],
    seeds: senderMessages,
    decode: decodeSenderMessage,
    reencode: encodeSenderMessage,
    canonical: true,
  });
  bytesTarget('sender decryption', {
    covers: ['senderDecrypt'],
    seeds: senderMessages,
    decode: (b) => senderDecrypt(receiver, b, ad),
  });
  const skipped = senderDecrypt(receiver, third.message, ad).state;
  bytesTarget('sender key distributions', {
    covers: ['decodeSenderKeyDistribution'],
    seeds: [encodeSenderKeyDistribution(distribution)],
    decode: decodeSenderKeyDistribution,
    reencode: encodeSenderKeyDistribution,
    canonical: true,
  });
  bytesTarget('sender chains', {
    covers: ['decodeSenderChain'],
    seeds: [encodeSenderChain(chain), encodeSenderChain(third.chain)],
    decode: decodeSenderChain,
    reencode: encodeSenderChain,
    canonical: true,
  });
  bytesTarget('sender receiver states', {
    covers: ['decodeSenderReceiverState'],
    seeds: [encodeSenderReceiverState(receiver), encodeSenderReceiverState(skipped)],
    decode: decodeSenderReceiverState,
    reencode: encodeSenderReceiverState,
    canonical: true,
  });

  // The Double Ratchet: messages, stored states, decryption.
  const sharedSecret = rng.bytes(32);
  const sharedHeaderKey = rng.bytes(32);
  const nextHeaderKey = rng.bytes(32);
  const bobRatchet = generateDhKeyPair(rng);
  let aliceState = initRatchetSender({
    sharedSecret,
    peerRatchetKey: bobRatchet.publicKey,
    sharedHeaderKey,
    nextHeaderKey,
    rng,
  });
  const bobState = initRatchetReceiver({
    sharedSecret,
    ownRatchetKeyPair: bobRatchet,
    sharedHeaderKey,
    nextHeaderKey,
  });
  const ratchetMessages: Uint8Array[] = [];
  for (const text of ['a', 'bb', 'ccc']) {
    const out = ratchetEncrypt(aliceState, utf8(text), ad, rng);
    aliceState = out.state;
    ratchetMessages.push(out.message);
  }
  const bobLater = ratchetDecrypt(bobState, ratchetMessages[2]!, ad, rng).state;
  bytesTarget('ratchet messages', {
    covers: ['decodeRatchetMessage'],
    seeds: ratchetMessages,
    decode: decodeRatchetMessage,
    reencode: encodeRatchetMessage,
    canonical: true,
  });
  bytesTarget('ratchet decryption', {
    covers: ['ratchetDecrypt'],
    seeds: ratchetMessages,
    decode: (b) => ratchetDecrypt(bobState, b, ad, rng),
  });
  bytesTarget('ratchet states', {
    covers: ['decodeRatchetState'],
    seeds: [encodeRatchetState(aliceState), encodeRatchetState(bobState), encodeRatchetState(bobLater)],
    decode: decodeRatchetState,
    reencode: encodeRatchetState,
    canonical: true,
  });

  // What relays hand over: sealed deliveries and file chunks; the safety number QR.
  const queueKey = rng.bytes(32);
  const mid = rng.bytes(16);
  bytesTarget('deliveries', {
    covers: ['openDelivery'],
    seeds: [
      sealDelivery(rng, queueKey, mid, { ts: NOW, body: rng.bytes(100) }),
      sealDelivery(rng, queueKey, mid, { ts: 0, body: new Uint8Array(0) }),
    ],
    decode: (b) => openDelivery(queueKey, mid, b),
  });
  const fileKey = rng.bytes(32);
  const fileHeader = rng.bytes(24);
  const plaintext = rng.bytes(3000);
  const [chunk] = [...encryptFileChunks(fileKey, fileHeader, plaintext)];
  bytesTarget('file chunks', {
    covers: ['FileDecryptor'],
    seeds: [chunk!],
    decode: (b) => {
      const d = new FileDecryptor(fileKey, fileHeader, plaintext.length);
      const out = d.push(b);
      d.finish();
      return out;
    },
  });
  const ours = generateSignKeyPair(rng).publicKey;
  const theirs = generateSignKeyPair(rng).publicKey;
  bytesTarget('safety number QR', {
    covers: ['compareSafetyNumberQr'],
    seeds: [safetyNumberQrPayload(theirs, ours)],
    decode: (b) => compareSafetyNumberQr(b, ours, theirs),
    share: 0.05, // each check derives two fingerprints with iterated hashing
  });
  // The relay mesh: descriptors and link-state adverts (decision 0032).
  const meshKey = generateSignKeyPair(rng);
  const meshAddress = (host: string): string =>
    formatRelayAddress({
      fingerprint: relayFingerprint(meshKey.publicKey),
      host,
      port: 443,
      transport: 'wss',
    });
  const descriptors = [
    createRelayDescriptor({
      relay: meshKey,
      addresses: [meshAddress('a.example.org')],
      version: '0.1.0',
      capacity: 100,
      issued: NOW,
    }),
    createRelayDescriptor({
      relay: meshKey,
      addresses: [meshAddress('b.example.tw'), meshAddress('[2001:db8::7]')],
      version: '0.2.0-beta',
      capacity: 0,
      note: '台灣的中繼站 🐦',
      issued: NOW + 1,
    }),
  ];
  bytesTarget('relay descriptors', {
    covers: ['decodeRelayDescriptor'],
    seeds: descriptors.map(encodeRelayDescriptor),
    decode: decodeRelayDescriptor,
    reencode: encodeRelayDescriptor,
    canonical: true,
  });
  const neighbour = (): string => relayIdOf(generateSignKeyPair(rng).publicKey);
  const adverts = [
    createLinkStateAdvert({ relay: meshKey, seq: 1, issued: NOW, descriptor: descriptors[0]!, links: [] }),
    createLinkStateAdvert({
      relay: meshKey,
      seq: 2 ** 32 - 1,
      issued: NOW,
      descriptor: descriptors[1]!,
      links: [neighbour(), neighbour(), neighbour()].map((to, i) => ({ to, cost: 1 + i * 1000 })),
    }),
  ];
  // Relay links (decision 0033).
  const linkFrames: LinkFrame[] = [
    { t: 'lhello', v: 1, key: rng.bytes(32), challenge: rng.bytes(32) },
    { t: 'lwelcome', v: 1, key: rng.bytes(32), challenge: rng.bytes(32), sig: rng.bytes(64) },
    { t: 'lauth', sig: rng.bytes(64) },
    { t: 'lsa', data: encodeLinkStateAdvert(adverts[0]!) },
    { t: 'lkey', key: rng.bytes(32), dh: rng.bytes(32), sig: rng.bytes(64) },
    { t: 'lfwd', to: rng.bytes(32), sid: rng.bytes(24), body: rng.bytes(70), hops: 3 },
    { t: 'lfwd', to: rng.bytes(32), sid: rng.bytes(24), body: rng.bytes(1), auth: rng.bytes(32), hops: 0 },
    { t: 'ldone', fid: rng.bytes(16) },
    { t: 'ldone', fid: rng.bytes(16), code: 'AUTH' },
    { t: 'lerr', code: 'DECODE', msg: 'bad frame' },
  ];
  bytesTarget('relay link frames', {
    covers: ['decodeLinkFrame'],
    seeds: linkFrames.map(encodeLinkFrame),
    decode: decodeLinkFrame,
    reencode: encodeLinkFrame,
    canonical: true,
  });
  bytesTarget('link-state adverts', {
    covers: ['decodeLinkStateAdvert'],
    seeds: [...adverts.map(encodeLinkStateAdvert), encodeLinkStateAdvert({ ...adverts[1]!, age: 3599 })],
    decode: decodeLinkStateAdvert,
    reencode: encodeLinkStateAdvert,
    canonical: true,
  });
  // What a relay does with an advert a neighbour sent: the header read first, the rest only for
  // an advert that may be newer (the held one's instances are among the seeds), with and
  // without the cache simulations share.
  const otherKey = generateSignKeyPair(rng);
  const otherDescriptor = createRelayDescriptor({
    relay: otherKey,
    addresses: [
      formatRelayAddress({
        fingerprint: relayFingerprint(otherKey.publicKey),
        host: 'c.example.org',
        port: 443,
        transport: 'wss',
      }),
    ],
    version: '0.1.0',
    capacity: 1,
    issued: NOW,
  });
  const heldAdvert = createLinkStateAdvert({
    relay: otherKey,
    seq: 5,
    issued: NOW,
    descriptor: otherDescriptor,
    links: [{ to: relayIdOf(meshKey.publicKey), cost: 1 }],
  });
  const received = [4, 5, 6].map((seq) =>
    encodeLinkStateAdvert(
      createLinkStateAdvert({ ...heldAdvert, relay: otherKey, seq, descriptor: otherDescriptor, links: [] }),
    ),
  );
  const checkedAdverts = new CheckedAdvertCache();
  bytesTarget('link-state database receive', {
    covers: ['LinkStateDatabase', 'CheckedAdvertCache'],
    seeds: [...received, ...adverts.map(encodeLinkStateAdvert)],
    decode: (b) => {
      const db = new LinkStateDatabase({
        self: relayIdOf(meshKey.publicKey),
        ...(b.length % 2 ? { checkedAdverts } : {}),
      });
      db.receive(encodeLinkStateAdvert(heldAdvert), { now: NOW, neighbours: [] });
      const out = db.receive(b, { now: NOW + 1000, from: relayIdOf(otherKey.publicKey), neighbours: [] });
      return out.kind;
    },
    share: 0.5,
  });
}

function show(input: Uint8Array | string): string {
  return typeof input === 'string'
    ? JSON.stringify(input.slice(0, 2000))
    : `hex ${toHex(input.subarray(0, 4096))}`;
}

/** Decodes `input`; a value must survive re-encoding. Returns whether it decoded. */
function check(name: string, t: BytesTarget | TextTarget, input: Uint8Array | string, at: string): boolean {
  const where = (): string => `seed ${seed}, target ${name}, ${at}: ${show(input)}`;
  const decode = t.decode as (i: Uint8Array | string) => unknown;
  const outcome = typedOutcome(() => decode(input), where);
  if (!outcome.ok || !t.reencode) return outcome.ok;
  const reencode = t.reencode as (v: unknown) => Uint8Array | string;
  const again = typedOutcome(() => reencode(outcome.value), where);
  if (!again.ok) throw new Error(`decoded value does not encode again (${again.error.name}) for ${where()}`);
  const encoded = again.value as Uint8Array | string;
  if (t.canonical) {
    const same =
      typeof encoded === 'string' ? encoded === input : toHex(encoded) === toHex(input as Uint8Array);
    if (!same)
      throw new Error(`accepted a non-canonical encoding: ${where()} re-encodes as ${show(encoded)}`);
  }
  expect(decode(encoded), where()).toEqual(outcome.value);
  return true;
}

function fuzzTarget(name: string, t: BytesTarget | TextTarget): { decoded: number; refused: number } {
  const fr = new FuzzRng(seed, name);
  let decoded = 0;
  for (const [i, s] of t.seeds.entries()) {
    expect(check(name, t, s, `seed input ${i}`), `${name}: seed input ${i} must decode`).toBe(true);
  }
  for (const [i, hex] of (REGRESSIONS[name] ?? []).entries()) {
    check(name, t, t.kind === 'bytes' ? fromHex(hex) : hex, `regression ${i}`);
  }
  const mutations = Math.ceil(MUTATIONS * (t.share ?? 1));
  const randomInputs = Math.ceil(RANDOM_INPUTS * (t.share ?? 1));
  for (let i = 0; i < mutations; i++) {
    const base = fr.pick(t.seeds as Array<Uint8Array | string>);
    const custom = t.mutator as
      | ((rng: FuzzRng, base: Uint8Array | string) => Uint8Array | string)
      | undefined;
    const input = custom
      ? custom(fr, base)
      : t.kind === 'bytes'
        ? mutate(fr, base as Uint8Array, t.seeds)
        : mutateText(fr, base as string, t.seeds);
    if (check(name, t, input, `mutation ${i}`)) decoded++;
  }
  for (let i = 0; i < randomInputs; i++) {
    let input: Uint8Array | string;
    const bytes = fr.chance(0.5) ? fr.bytes(fr.length(200)) : encodeCbor(randomValue(fr));
    if (t.kind === 'bytes') input = bytes;
    else
      input = fr.chance(0.5) ? new TextDecoder().decode(bytes) : `${CARD_LINK_PREFIX}${toBase64Url(bytes)}`;
    if (check(name, t, input, `random input ${i}`)) decoded++;
  }
  return { decoded, refused: mutations + randomInputs - decoded };
}

describe('fuzzing core decoders', () => {
  it('covers every decoder core exports', () => {
    const exported = Object.keys(core).filter((n) => DECODER_NAME.test(n) && !(n in NOT_WIRE_DECODERS));
    const covered = new Set([...targets.values()].flatMap((t) => t.covers));
    expect(
      exported.filter((n) => !covered.has(n)),
      'exported decoders without a fuzz target',
    ).toEqual([]);
    for (const n of covered) expect(Object.keys(core), `${n} is exported`).toContain(n);
  });

  it(
    'each decoder returns a value that round-trips, or a typed error, for mutated and random input',
    () => {
      const summary: Record<string, string> = {};
      const failures: string[] = [];
      for (const [name, t] of targets) {
        try {
          const started = performance.now();
          const { decoded, refused } = fuzzTarget(name, t);
          summary[name] =
            `${decoded} decoded, ${refused} refused, ${Math.round(performance.now() - started)} ms`;
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
      console.log('fuzz-decoders:', summary);
      expect(failures, 'the first failure of each target').toEqual([]);
      expect(Object.keys(summary).length).toBe(targets.size);
    },
    300_000 * scale,
  );
});
