/** The sticker panel: every built-in sticker as a button; picking one calls onPick(pack, id). */
import type { JSX } from 'preact';
import { useI18n } from '../i18n.ts';
import { PACKS } from '../stickers/manifest.ts';

export function StickerPicker(props: { onPick: (pack: string, id: string) => void }): JSX.Element {
  const { lang, t } = useI18n();
  return (
    <div class="picker sticker-picker" role="group" aria-label={t('sticker.picker')}>
      {PACKS.map(({ pack, stickers }) => (
        <div key={pack} class="sticker-grid">
          {stickers.map((s) => (
            <button
              type="button"
              key={s.id}
              class="sticker-choice"
              aria-label={s.name[lang]}
              title={s.name[lang]}
              onClick={() => props.onPick(s.pack, s.id)}
            >
              <img
                src={s.url}
                alt=""
                width={72}
                height={72}
                loading="lazy"
                decoding="async"
                draggable={false}
              />
            </button>
          ))}
        </div>
      ))}
    </div>
  );
}
