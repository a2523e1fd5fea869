/**
 * One sticker as it shows in a conversation: its SVG, named in the active language. A
 * sticker this client does not know (another pack, a newer id) or whose file fails to load
 * shows a neutral placeholder with the same footprint; it never breaks the conversation.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n.ts';
import { findSticker } from '../stickers/manifest.ts';

export function StickerView(props: { pack: string; id: string; size?: number }): JSX.Element {
  const { lang, t } = useI18n();
  const [failed, setFailed] = useState(false);
  const size = props.size ?? 120;
  const sticker = findSticker(props.pack, props.id);
  if (!sticker || failed)
    return (
      <span
        class={`sticker sticker-missing sticker-${size}`}
        role="img"
        aria-label={t('sticker.unknown')}
        data-pack={props.pack}
        data-id={props.id}
      >
        <span aria-hidden="true">?</span>
      </span>
    );
  return (
    <img
      class={`sticker sticker-${size}`}
      src={sticker.url}
      alt={t('sticker.named', { name: sticker.name[lang] })}
      width={size}
      height={size}
      loading="lazy"
      decoding="async"
      draggable={false}
      onError={() => setFailed(true)}
      data-pack={sticker.pack}
      data-id={sticker.id}
    />
  );
}
