/**
 * The contact request: the first thing an invitee puts into the inviter's rendez-vous
 * queue. It is PQXDH's initial message (PQXDH §3.3): the invitee's identity key IK_A, the
 * ephemeral key EK_A, the KEM ciphertext CT, an identifier of the prekeys used (here the
 * id of the card answered), and the first Double Ratchet message, opaque to this codec.
 *
 *   CBOR map {
 *     v: 1,
 *     card: bytes 32            cardId of the card answered
 *     identityKey: bytes 32     the invitee's Ckp for this contact (Ed25519)
 *     init: { ephemeralKey: bytes 32, kemCiphertext: bytes 1120 }
 *     message: bytes (1..MAX_CONTACT_REQUEST_MESSAGE_BYTES)
 *   }
 *
 * There is no signature: IK_A is bound by the PQXDH associated data and EK_A and CT by the
 * key derivation, so a tampered request only makes the first message fail to decrypt
 * (PQXDH §3.4: Bob deletes SK if the initial ciphertext does not decrypt).
 */
import { asBytes, asMap, asUint, decodeCbor, encodeCbor } from './cbor.ts';
import { DH_BYTES, SIGN_PUBLIC_BYTES, XWING_CIPHERTEXT_BYTES } from './crypto.ts';
import { DecodeError, ProtocolError, UsageError } from './errors.ts';
import type { HandshakeInit } from './pqxdh.ts';
import { MAX_BODY_BYTES } from './relay-protocol.ts';

export const CONTACT_REQUEST_VERSION = 1;
/** The whole request must fit in one relay `send` body. */
export const MAX_CONTACT_REQUEST_BYTES = MAX_BODY_BYTES;
/** Room left for the ratchet message once the request's keys and framing (~1.3 KiB) are in. */
export const MAX_CONTACT_REQUEST_MESSAGE_BYTES = MAX_BODY_BYTES - 2048;
const CARD_ID_BYTES = 32;

export interface ContactRequest {
  v: 1;
  card: Uint8Array;
  identityKey: Uint8Array;
  init: HandshakeInit;
  message: Uint8Array;
}

function checkLength(value: Uint8Array, length: number, what: string): void {
  if (!(value instanceof Uint8Array) || value.length !== length)
    throw new UsageError(`${what} must be ${length} bytes`);
}

export function encodeContactRequest(request: ContactRequest): Uint8Array {
  if (request.v !== CONTACT_REQUEST_VERSION) throw new UsageError('contact request version must be 1');
  checkLength(request.card, CARD_ID_BYTES, 'card id');
  checkLength(request.identityKey, SIGN_PUBLIC_BYTES, 'identity key');
  checkLength(request.init.ephemeralKey, DH_BYTES, 'ephemeral key');
  checkLength(request.init.kemCiphertext, XWING_CIPHERTEXT_BYTES, 'KEM ciphertext');
  const { message } = request;
  if (
    !(message instanceof Uint8Array) ||
    message.length < 1 ||
    message.length > MAX_CONTACT_REQUEST_MESSAGE_BYTES
  ) {
    throw new UsageError(`contact request message must be 1..${MAX_CONTACT_REQUEST_MESSAGE_BYTES} bytes`);
  }
  return encodeCbor({
    v: request.v,
    card: request.card,
    identityKey: request.identityKey,
    init: { ephemeralKey: request.init.ephemeralKey, kemCiphertext: request.init.kemCiphertext },
    message,
  });
}

/** Strict: exact sizes, no unknown fields (DecodeError); a version other than 1 (ProtocolError). */
export function decodeContactRequest(bytes: Uint8Array): ContactRequest {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('contact request must be bytes');
  if (bytes.length > MAX_CONTACT_REQUEST_BYTES) {
    throw new DecodeError(`contact request larger than ${MAX_CONTACT_REQUEST_BYTES} bytes`);
  }
  const limits = { maxBytes: MAX_CONTACT_REQUEST_BYTES, maxDepth: 2, maxItems: 8, maxTotalItems: 16 };
  const m = asMap(decodeCbor(bytes, limits), 'contact request');
  const v = asUint(m.v, 'contact request version');
  if (v !== CONTACT_REQUEST_VERSION) throw new ProtocolError(`unknown contact request version ${v}`);
  const init = asMap(m.init, 'contact request init');
  const request: ContactRequest = {
    v: CONTACT_REQUEST_VERSION,
    card: asBytes(m.card, 'contact request card id', { len: CARD_ID_BYTES }),
    identityKey: asBytes(m.identityKey, 'contact request identity key', { len: SIGN_PUBLIC_BYTES }),
    init: {
      ephemeralKey: asBytes(init.ephemeralKey, 'contact request ephemeral key', { len: DH_BYTES }),
      kemCiphertext: asBytes(init.kemCiphertext, 'contact request KEM ciphertext', {
        len: XWING_CIPHERTEXT_BYTES,
      }),
    },
    message: asBytes(m.message, 'contact request message', { max: MAX_CONTACT_REQUEST_MESSAGE_BYTES }),
  };
  if (request.message.length === 0) throw new DecodeError('contact request message is empty');
  // Every known field has been read; any other key is unknown (repeats were refused by CBOR).
  if (Object.keys(m).length !== 5 || Object.keys(init).length !== 2) {
    throw new DecodeError('contact request has unknown fields');
  }
  return request;
}
