/**
 * One sticker as it shows in a conversation: its image (a built-in pack's SVG file or an
 * imported pack's data: URL, always through <img>), named in the active language. A sticker
 * this client does not have (a pack not imported here, a newer id) or whose image fails to
 * load shows a placeholder with the same footprint that names what was sent (`pack/id`,
 * decision 0058); it never breaks the conversation.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n.ts';
import { findImportedSticker, useImportedPacks } from '../stickers/imported.ts';
import { findSticker } from '../stickers/manifest.ts';

export function StickerView(props: { pack: string; id: string; size?: number }): JSX.Element {
  const { lang, t } = useI18n();
  const [failed, setFailed] = useState(false);
  useImportedPacks();
  const size = props.size ?? 120;
  const sticker = findSticker(props.pack, props.id) ?? findImportedSticker(props.pack, props.id);
  if (!sticker || failed)
    return (
      <span
        class={`sticker sticker-missing sticker-${size}`}
        role="img"
        aria-label={t('sticker.unknownNamed', { name: `${props.pack}/${props.id}` })}
        title={t('sticker.unknownNamed', { name: `${props.pack}/${props.id}` })}
        data-pack={props.pack}
        data-id={props.id}
      >
        {size >= 120 ? (
          <span class="sticker-missing-name" aria-hidden="true">
            {props.id}
          </span>
        ) : (
          <span aria-hidden="true">?</span>
        )}
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
