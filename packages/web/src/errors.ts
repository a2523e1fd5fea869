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
