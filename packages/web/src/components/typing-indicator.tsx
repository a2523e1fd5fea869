/**
 * 「阿美正在輸入…」 under the conversation while the friend types. The parent feeds it typing
 * events (`typingUntil` = when the last one expires, from its own clock); it is a polite live
 * region, so screen readers hear it once, and it takes no space when nobody types.
 */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useI18n } from '../i18n.ts';

export function TypingIndicator(props: { name: string; typingUntil: number | undefined }): JSX.Element {
  const { t } = useI18n();
  const [now, setNow] = useState(() => Date.now());
  const until = props.typingUntil;
  useEffect(() => {
    const current = Date.now();
    setNow(current);
    if (until === undefined || until <= current) return;
    const timer = setTimeout(() => setNow(Date.now()), until - current);
    return () => clearTimeout(timer);
  }, [until]);
  const typing = until !== undefined && until > now;
  return (
    <p class={`typing${typing ? ' typing-on' : ''}`} aria-live="polite">
      {typing && (
        <>
          <span class="typing-dots" aria-hidden="true">
            <span />
            <span />
            <span />
          </span>
          {t('typing.one', { name: props.name })}
        </>
      )}
    </p>
  );
}
