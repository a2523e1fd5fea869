/**
 * The sticker panel: one tab per pack (the built-in ones, then those imported from files;
 * arrow keys move between tabs), the chosen pack's stickers as buttons (picking one calls
 * onPick(pack, id)), and a last tab to import a pack file or remove an imported pack. A file
 * that is refused says why and changes nothing (pack-file.ts, decision 0058).
 */
import type { JSX } from 'preact';
import { useRef, useState } from 'preact/hooks';
import { errorText } from '../errors.ts';
import { useI18n, type MessageKey } from '../i18n.ts';
import { removeImportedPack, useImportedPacks } from '../stickers/imported.ts';
import { PACKS } from '../stickers/manifest.ts';
import type { PackRefusal } from '../stickers/pack-file.ts';

const MANAGE = '+';
/** The tab last shown, so the panel opens where it was left. */
let lastTab = PACKS[0]!.pack;

const REFUSAL_TEXT: Record<PackRefusal, MessageKey> = {
  'too-large': 'sticker.import.tooLarge',
  'not-json': 'sticker.import.notPack',
  format: 'sticker.import.notPack',
  'pack-name': 'sticker.import.badNames',
  names: 'sticker.import.badNames',
  duplicate: 'sticker.import.badNames',
  'built-in': 'sticker.import.builtIn',
  count: 'sticker.import.count',
  'image-type': 'sticker.import.notImage',
  'not-image': 'sticker.import.notImage',
  'image-too-large': 'sticker.import.imageTooLarge',
  'unsafe-svg': 'sticker.import.unsafe',
  'too-many-packs': 'sticker.import.tooManyPacks',
};

/** The checks (and the core error classes they use) load only when a file is imported. */
async function readPack(file: File): Promise<void> {
  const { importPackFile } = await import('../stickers/pack-file.ts');
  await importPackFile(file);
}

/** A refusal from pack-file.ts, told by its name and reason (no import of the classes here). */
function refusal(e: unknown): PackRefusal | undefined {
  if (!(e instanceof Error) || (e.name !== 'DecodeError' && e.name !== 'QuotaError')) return undefined;
  const reason = (e as { reason?: unknown }).reason;
  return typeof reason === 'string' && reason in REFUSAL_TEXT ? (reason as PackRefusal) : undefined;
}

export function StickerPicker(props: { onPick: (pack: string, id: string) => void }): JSX.Element {
  const { lang, t } = useI18n();
  const imported = useImportedPacks();
  const all = [...PACKS, ...imported];
  const [tab, setTab] = useState(all.some((p) => p.pack === lastTab) ? lastTab : PACKS[0]!.pack);
  const [status, setStatus] = useState<{ error: boolean; text: string } | undefined>();
  const tabs = useRef<Array<HTMLButtonElement | null>>([]);
  const file = useRef<HTMLInputElement>(null);
  const ids = [...all.map((p) => p.pack), MANAGE];
  const current = all.find((p) => p.pack === tab);
  const choose = (id: string): void => {
    lastTab = id;
    setTab(id);
  };
  const move = (i: number): void => {
    const n = (i + ids.length) % ids.length;
    choose(ids[n]!);
    tabs.current[n]?.focus();
  };

  const onFile = async (f: File): Promise<void> => {
    setStatus(undefined);
    try {
      await readPack(f);
      setStatus({ error: false, text: t('sticker.import.done') });
    } catch (e) {
      const reason = refusal(e);
      setStatus({ error: true, text: reason ? t(REFUSAL_TEXT[reason]) : errorText(e, t) });
    }
  };

  return (
    <div class="picker sticker-picker" role="group" aria-label={t('sticker.picker')}>
      <div class="sticker-tabs" role="tablist" aria-label={t('sticker.packs')}>
        {ids.map((id, i) => {
          const p = all.find((x) => x.pack === id);
          const label = p ? p.name[lang] : t('sticker.manage');
          return (
            <button
              type="button"
              key={id}
              ref={(el) => {
                tabs.current[i] = el;
              }}
              role="tab"
              id={`sticker-tab-${id === MANAGE ? 'manage' : id}`}
              aria-selected={id === tab}
              aria-controls="sticker-panel"
              tabIndex={id === tab ? 0 : -1}
              class={id === MANAGE ? 'sticker-tab-manage' : undefined}
              onClick={() => choose(id)}
              onKeyDown={(e) => {
                if (e.key === 'ArrowRight') move(i + 1);
                else if (e.key === 'ArrowLeft') move(i - 1);
                else return;
                e.preventDefault();
              }}
            >
              {id === MANAGE ? <span aria-label={label}>＋</span> : label}
            </button>
          );
        })}
      </div>
      <div
        id="sticker-panel"
        role="tabpanel"
        aria-labelledby={`sticker-tab-${current ? current.pack : 'manage'}`}
      >
        {current ? (
          <div class="sticker-grid">
            {current.stickers.map((s) => (
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
        ) : (
          <div class="sticker-manage">
            <p class="muted">{t('sticker.import.help')}</p>
            <button type="button" class="primary" onClick={() => file.current?.click()}>
              {t('sticker.import')}
            </button>
            <input
              ref={file}
              type="file"
              hidden
              accept=".json,.parus-stickers,application/json"
              aria-label={t('sticker.import')}
              onChange={(e) => {
                const f = e.currentTarget.files?.[0];
                e.currentTarget.value = '';
                if (f) void onFile(f);
              }}
            />
            {status && (
              <p class={status.error ? 'form-error' : 'muted'} role={status.error ? 'alert' : 'status'}>
                {status.text}
              </p>
            )}
            {imported.length > 0 && (
              <ul class="sticker-imported" aria-label={t('sticker.imported')}>
                {imported.map((p) => (
                  <li key={p.pack}>
                    <span>
                      {p.name[lang]} <span class="muted">({p.stickers.length})</span>
                    </span>
                    <button
                      type="button"
                      aria-label={t('sticker.remove', { name: p.name[lang] })}
                      onClick={() => {
                        setStatus(undefined);
                        void removeImportedPack(p.pack).catch((e: unknown) =>
                          setStatus({ error: true, text: errorText(e, t) }),
                        );
                      }}
                    >
                      {t('sticker.removeShort')}
                    </button>
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
      </div>
    </div>
  );
}
