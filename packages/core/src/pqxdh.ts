/**
 * The contact handshake: PQXDH (Kret & Schmidt, "The PQXDH Key Agreement Protocol",
 * revision 3, 2023) with curve X25519, hash SHA-256 and X-Wing
 * (draft-connolly-cfrg-xwing-kem) as the KEM in place of CRYSTALS-Kyber.
 *
 * Roles (PQXDH §2.3): the responder "Bob" is the inviter, whose rendez-vous card is the
 * prekey bundle (§3.2): identity key IK_B, signed prekey SPK_B (X25519) and KEM prekey
 * PQSPK_B (X-Wing). The card's single Ed25519 signature by IK_B covers both prekeys, so
 * it plays the part of the prekey signatures; a caller passes a bundle only from a card
 * that decodeCard has verified. There are no one-time prekeys: one-time cards serve that
 * role, so DH4 is never computed.
 *
 * Identity keys are the per-contact Ed25519 keys (Ckp). PQXDH uses XEdDSA so that one key
 * both signs and agrees; Parus instead maps the Ed25519 key to X25519 with libsodium's
 * birational map (crypto_sign_ed25519_{pk,sk}_to_curve25519, RFC 7748 §4.1) for DH1/DH2.
 *
 * The KDF output is 96 bytes rather than 32: SK || shared_hka || shared_nhkb, the three
 * values the Double Ratchet with header encryption is initialised with (Double Ratchet
 * §4.4, §5.1). The initiator starts its ratchet with peerRatchetKey = SPK_B, the
 * responder with ownRatchetKeyPair = SPK_B's key pair.
 */
import { assertLength, concatBytes, utf8 } from './bytes.ts';
import {
  DH_BYTES,
  SIGN_PUBLIC_BYTES,
  SIGN_SECRET_BYTES,
  XWING_CIPHERTEXT_BYTES,
  XWING_PUBLIC_BYTES,
  XWING_SECRET_BYTES,
  dh,
  generateDhKeyPair,
  hkdf,
  signPublicToDh,
  signSecretToDh,
  wipe,
  xwingDecapsulate,
  xwingEncapsulate,
  type DhKeyPair,
  type KemKeyPair,
  type Random,
  type SignKeyPair,
} from './crypto.ts';

/** PQXDH §2.1 "info": identifies the application, curve, hash and KEM. */
const PQXDH_INFO = utf8('Parus_PQXDH_CURVE25519_XWING_SHA-256');
/** PQXDH §2.2: for X25519, F is 32 0xFF bytes (domain separation from XEdDSA). */
const KDF_F = new Uint8Array(32).fill(0xff);
/** PQXDH §2.2: the HKDF salt is a zero-filled byte sequence as long as the hash output. */
const KDF_SALT = new Uint8Array(32);

export const HANDSHAKE_SECRET_BYTES = 32;

/** What the responder publishes (PQXDH §3.2), taken from its verified rendez-vous card. */
export interface PrekeyBundle {
  identityKey: Uint8Array; // IK_B, Ed25519 public key
  signedPrekey: Uint8Array; // SPK_B, X25519 public key
  kemKey: Uint8Array; // PQSPK_B, X-Wing public key
}

/** The output both sides derive. Secrets: the caller wipes them once the ratchet holds them. */
export interface HandshakeKeys {
  sharedSecret: Uint8Array; // SK, the ratchet's first root key
  sharedHeaderKey: Uint8Array; // shared_hka
  nextHeaderKey: Uint8Array; // shared_nhkb
  associatedData: Uint8Array; // AD = IK_A || IK_B (Ed25519 public keys)
}

/** The public part of PQXDH's initial message (§3.3) besides IK_A: EK_A and CT. */
export interface HandshakeInit {
  ephemeralKey: Uint8Array; // EK_A, X25519 public key
  kemCiphertext: Uint8Array; // CT, X-Wing ciphertext
}

/**
 * PQXDH §2.2 KDF: HKDF(salt = 0^32, IKM = F || KM, info), expanded to 96 bytes, then split.
 * Wipes its intermediate buffers; the caller wipes `parts`.
 */
function deriveKeys(parts: Uint8Array[], initiatorKey: Uint8Array, responderKey: Uint8Array): HandshakeKeys {
  const km = concatBytes(KDF_F, ...parts);
  const okm = hkdf(km, KDF_SALT, PQXDH_INFO, 3 * HANDSHAKE_SECRET_BYTES);
  const keys: HandshakeKeys = {
    sharedSecret: okm.slice(0, 32),
    sharedHeaderKey: okm.slice(32, 64),
    nextHeaderKey: okm.slice(64, 96),
    // PQXDH §3.3: AD = Encode(IK_A) || Encode(IK_B).
    associatedData: concatBytes(initiatorKey, responderKey),
  };
  wipe(km, okm);
  return keys;
}

function checkSignKeyPair(identity: SignKeyPair, what: string): void {
  assertLength(identity.publicKey, SIGN_PUBLIC_BYTES, `${what} public key`);
  assertLength(identity.secretKey, SIGN_SECRET_BYTES, `${what} secret key`);
}

/**
 * The initiator (the invitee who scanned the card): PQXDH §3.3 "Sending the initial
 * message". Returns the derived keys and what goes into the contact request.
 */
export function pqxdhInitiate(opts: { rng: Random; identity: SignKeyPair; bundle: PrekeyBundle }): {
  keys: HandshakeKeys;
  init: HandshakeInit;
} {
  const { rng, identity, bundle } = opts;
  checkSignKeyPair(identity, 'identity');
  assertLength(bundle.identityKey, SIGN_PUBLIC_BYTES, 'bundle identity key');
  assertLength(bundle.signedPrekey, DH_BYTES, 'bundle signed prekey');
  assertLength(bundle.kemKey, XWING_PUBLIC_BYTES, 'bundle KEM key');

  // §3.3: Alice generates an ephemeral key pair EK_A and encapsulates to PQSPK_B.
  const ephemeral = generateDhKeyPair(rng);
  const ikA = signSecretToDh(identity.secretKey);
  const ikB = signPublicToDh(bundle.identityKey);
  const parts: Uint8Array[] = [];
  try {
    parts.push(dh(ikA, bundle.signedPrekey)); // DH1 = DH(IK_A, SPK_B)
    parts.push(dh(ephemeral.secretKey, ikB)); // DH2 = DH(EK_A, IK_B)
    parts.push(dh(ephemeral.secretKey, bundle.signedPrekey)); // DH3 = DH(EK_A, SPK_B)
    const { ciphertext, sharedSecret } = xwingEncapsulate(rng, bundle.kemKey); // (CT, SS)
    parts.push(sharedSecret);
    // SK = KDF(DH1 || DH2 || DH3 || SS); §3.3 then deletes EK_A's secret and the DH outputs.
    const keys = deriveKeys(parts, identity.publicKey, bundle.identityKey);
    return { keys, init: { ephemeralKey: ephemeral.publicKey, kemCiphertext: ciphertext } };
  } finally {
    wipe(ikA, ephemeral.secretKey, ...parts);
  }
}

/**
 * The responder (the inviter, owner of the card): PQXDH §3.4 "Receiving the initial
 * message". A tampered EK_A or CT does not throw here (X-Wing decapsulation rejects
 * implicitly): it yields different keys, so the first ratchet message fails to decrypt.
 * A low-order EK_A or a malformed key throws VerificationError.
 */
export function pqxdhRespond(opts: {
  identity: SignKeyPair;
  signedPrekey: DhKeyPair;
  kemKeyPair: KemKeyPair;
  peerIdentityKey: Uint8Array;
  init: HandshakeInit;
}): HandshakeKeys {
  const { identity, signedPrekey, kemKeyPair, peerIdentityKey, init } = opts;
  checkSignKeyPair(identity, 'identity');
  assertLength(signedPrekey.secretKey, DH_BYTES, 'signed prekey secret');
  assertLength(peerIdentityKey, SIGN_PUBLIC_BYTES, 'peer identity key');
  assertLength(init.ephemeralKey, DH_BYTES, 'ephemeral key');
  assertLength(init.kemCiphertext, XWING_CIPHERTEXT_BYTES, 'KEM ciphertext');
  assertLength(kemKeyPair.secretKey, XWING_SECRET_BYTES, 'KEM secret key');

  const ikB = signSecretToDh(identity.secretKey);
  const ikA = signPublicToDh(peerIdentityKey);
  const parts: Uint8Array[] = [];
  try {
    // §3.4: Bob repeats the DH and decapsulation calculations of §3.3 with his private keys.
    parts.push(dh(signedPrekey.secretKey, ikA)); // DH1 = DH(SPK_B, IK_A)
    parts.push(dh(ikB, init.ephemeralKey)); // DH2 = DH(IK_B, EK_A)
    parts.push(dh(signedPrekey.secretKey, init.ephemeralKey)); // DH3 = DH(SPK_B, EK_A)
    parts.push(xwingDecapsulate(kemKeyPair.secretKey, init.kemCiphertext)); // SS = DECAPS(PQSPK_B, CT)
    return deriveKeys(parts, peerIdentityKey, identity.publicKey);
  } finally {
    wipe(ikB, ...parts);
  }
}
