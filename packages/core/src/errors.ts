/**
 * Typed errors. Every error Parus raises on purpose is one of these, so callers and tests
 * can branch on the class (never on the message text). Messages name the bad input, never
 * a key, a secret or a plaintext.
 */
export type ErrorCode =
  | 'DECODE'
  | 'VERIFICATION'
  | 'PROTOCOL'
  | 'USAGE'
  | 'QUOTA'
  | 'STORAGE'
  | 'TRANSPORT'
  | 'TIMEOUT'
  | 'AUTH'
  | 'REPLAY'
  | 'NOT_FOUND'
  | 'EXPIRED'
  | 'INTERNAL';

export abstract class ParusError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Bytes that do not parse: truncated, malformed, non-canonical, over a size limit of the codec. */
export class DecodeError extends ParusError {
  override readonly name = 'DecodeError';
  readonly code = 'DECODE';
}

/** A signature, MAC, AEAD tag or fingerprint that does not check out. */
export class VerificationError extends ParusError {
  override readonly name = 'VerificationError';
  readonly code = 'VERIFICATION';
}

/** Well-formed input that breaks the protocol: wrong state, unknown version, expired card. */
export class ProtocolError extends ParusError {
  override readonly name = 'ProtocolError';
  readonly code = 'PROTOCOL';
}

/** A caller passed arguments that make no sense (wrong length, unknown alias...). */
export class UsageError extends ParusError {
  override readonly name = 'UsageError';
  readonly code = 'USAGE';
}

/** A bound was exceeded: queue quota, rate limit, skipped-key limit, frame size. */
export class QuotaError extends ParusError {
  override readonly name = 'QuotaError';
  readonly code = 'QUOTA';
}

/** The store failed or holds something unreadable. */
export class StorageError extends ParusError {
  override readonly name = 'StorageError';
  readonly code = 'STORAGE';
}

/** The connection failed or closed. */
export class TransportError extends ParusError {
  override readonly name = 'TransportError';
  readonly code = 'TRANSPORT';
}

export class TimeoutError extends ParusError {
  override readonly name = 'TimeoutError';
  readonly code = 'TIMEOUT';
}

/** Wrong passphrase, or a command not signed by the key that owns the object. */
export class AuthError extends ParusError {
  override readonly name = 'AuthError';
  readonly code = 'AUTH';
}

/** Something seen before arrives again: a ratchet message, a signed relay command. */
export class ReplayError extends ParusError {
  override readonly name = 'ReplayError';
  readonly code = 'REPLAY';
}

export class NotFoundError extends ParusError {
  override readonly name = 'NotFoundError';
  readonly code = 'NOT_FOUND';
}

/** Something that existed has run out its time: a relay blob past its expiry. */
export class ExpiredError extends ParusError {
  override readonly name = 'ExpiredError';
  readonly code = 'EXPIRED';
}

/** A bug: an invariant of our own code does not hold. */
export class InternalError extends ParusError {
  override readonly name = 'InternalError';
  readonly code = 'INTERNAL';
}

const byCode: Record<ErrorCode, new (message: string) => ParusError> = {
  DECODE: DecodeError,
  VERIFICATION: VerificationError,
  PROTOCOL: ProtocolError,
  USAGE: UsageError,
  QUOTA: QuotaError,
  STORAGE: StorageError,
  TRANSPORT: TransportError,
  TIMEOUT: TimeoutError,
  AUTH: AuthError,
  REPLAY: ReplayError,
  NOT_FOUND: NotFoundError,
  EXPIRED: ExpiredError,
  INTERNAL: InternalError,
};

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(byCode, value);
}

/** Rebuilds a typed error from a code received over the wire (relay error frames). */
export function errorFromCode(code: ErrorCode, message: string): ParusError {
  return new byCode[code](message);
}
