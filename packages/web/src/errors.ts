/**
 * Engine errors shown to people. The engine's errors are typed classes with a fixed `name`
 * (DESIGN.md "Errors"), so the first screen can tell them apart without importing them.
 */
import type { Translate } from './i18n.ts';

export function errorName(e: unknown): string {
  return e instanceof Error ? e.name : 'Error';
}

export function errorText(e: unknown, t: Translate): string {
  const name = errorName(e);
  if (name === 'TransportError' || name === 'TimeoutError') return t('error.network');
  if (name === 'StorageError') return t('error.storage', { name });
  if (name === 'AccountInUseError') return t('error.inUse');
  return t('error.generic', { name });
}

/**
 * Why a file could not be sent or opened, in words: too big (QuotaError), gone from its
 * relay (ExpiredError), not what the sender sent (VerificationError), unsent (NotFoundError).
 * An abort the user asked for is no error: empty.
 */
export function fileErrorText(e: unknown, t: Translate): string {
  switch (errorName(e)) {
    case 'AbortError':
      return '';
    case 'QuotaError':
      return t('file.tooBig');
    case 'ExpiredError':
      return t('file.expired');
    case 'VerificationError':
      return t('file.corrupt');
    case 'NotFoundError':
      return t('file.gone');
    default:
      return errorText(e, t);
  }
}
