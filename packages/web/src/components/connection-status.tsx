/**
 * The relay link under one's name: connected, connecting, or offline with the time left
 * before the next attempt and a button to try at once (docs/decisions/0028-reconnect-policy.md).
 */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { ConnectionState } from '../engine-loader.ts';
import { useI18n } from '../i18n.ts';

/** Whole seconds until `at`, at least 1 (a wait about to end still shows "1 s"). */
export function secondsUntil(at: number, now: number): number {
  return Math.max(1, Math.ceil((at - now) / 1000));
}

export function ConnectionStatus({
  state,
  retryAt,
  onRetry,
}: {
  state: ConnectionState;
  retryAt: number | undefined;
  onRetry: () => void;
}): JSX.Element {
  const { t } = useI18n();
  const [now, setNow] = useState(() => Date.now());
  const waiting = state === 'disconnected' && retryAt !== undefined;
  useEffect(() => {
    if (!waiting) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, [waiting, retryAt]);
  const text =
    state === 'connected'
      ? t('main.connected')
      : state === 'connecting'
        ? t('main.connecting')
        : retryAt !== undefined && retryAt > now
          ? t('main.retryIn', { seconds: secondsUntil(retryAt, now) })
          : t('main.disconnected');
  return (
    <span class={`conn conn-${state}`}>
      <span role="status">{text}</span>
      {state === 'disconnected' && (
        <button type="button" class="conn-retry" onClick={onRetry}>
          {t('main.retryNow')}
        </button>
      )}
    </span>
  );
}
