/**
 * The emoji panel: a search box (English and Chinese words, emoji-keywords.ts), category tabs
 * (a tablist, arrow keys move between them) over a grid of emoji buttons; picking one calls
 * onPick(emoji). The composer inserts it at the caret. The search is IME-safe: while an input
 * method is composing (注音, 倉頡, pinyin) the list keeps the last committed query, and Enter
 * that ends a composition picks nothing; Enter after it picks the first match.
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { EMOJI } from '../compose/emoji.ts';
import { queryWords, searchEmoji } from '../compose/emoji-keywords.ts';
import { useI18n } from '../i18n.ts';

const ALL = EMOJI.flatMap((c) => c.emoji);

export function EmojiPicker(props: { onPick: (emoji: string) => void }): JSX.Element {
  const { t } = useI18n();
  const [index, setIndex] = useState(0);
  const [query, setQuery] = useState('');
  const composing = useRef(false);
  const searchBox = useRef<HTMLInputElement>(null);
  // Composition events by hand: Preact keeps the case of `onCompositionStart` for events the
  // element has no `on…` property for, so that listener would wait for "CompositionStart".
  useEffect(() => {
    const el = searchBox.current;
    if (!el) return;
    const start = (): void => {
      composing.current = true;
    };
    const end = (): void => {
      composing.current = false;
      setQuery(el.value);
    };
    el.addEventListener('compositionstart', start);
    el.addEventListener('compositionend', end);
    return () => {
      el.removeEventListener('compositionstart', start);
      el.removeEventListener('compositionend', end);
    };
  }, []);
  const found = queryWords(query).length > 0 ? searchEmoji(ALL, query) : undefined;
  const tabs = useRef<Array<HTMLButtonElement | null>>([]);
  const category = EMOJI[index] ?? EMOJI[0]!;
  const select = (i: number): void => {
    const n = (i + EMOJI.length) % EMOJI.length;
    setIndex(n);
    tabs.current[n]?.focus();
  };
  return (
    <div class="picker emoji-picker" role="group" aria-label={t('emoji.picker')}>
      <div class="emoji-search">
        <input
          type="search"
          class="emoji-search-input"
          aria-label={t('emoji.search')}
          placeholder={t('emoji.searchHint')}
          maxLength={40}
          autoComplete="off"
          ref={searchBox}
          onInput={(e) => {
            if (!composing.current && !(e as unknown as InputEvent).isComposing)
              setQuery(e.currentTarget.value);
          }}
          onKeyDown={(e) => {
            if (e.key !== 'Enter' || e.isComposing || e.keyCode === 229 || composing.current) return;
            e.preventDefault();
            if (found?.[0]) props.onPick(found[0]);
          }}
        />
      </div>
      {found ? (
        <div
          class="emoji-grid emoji-results"
          role="group"
          aria-label={t('emoji.results', { n: found.length })}
        >
          {found.length === 0 && <p class="muted emoji-none">{t('emoji.noMatch')}</p>}
          {found.map((e) => (
            <button type="button" key={e} class="emoji-choice" onClick={() => props.onPick(e)}>
              {e}
            </button>
          ))}
        </div>
      ) : (
        <>
          <div class="emoji-tabs" role="tablist" aria-label={t('emoji.categories')}>
            {EMOJI.map((c, i) => (
              <button
                type="button"
                key={c.id}
                ref={(el) => {
                  tabs.current[i] = el;
                }}
                role="tab"
                id={`emoji-tab-${c.id}`}
                aria-selected={i === index}
                aria-controls="emoji-panel"
                aria-label={t(c.label)}
                title={t(c.label)}
                tabIndex={i === index ? 0 : -1}
                onClick={() => setIndex(i)}
                onKeyDown={(e) => {
                  if (e.key === 'ArrowRight') select(i + 1);
                  else if (e.key === 'ArrowLeft') select(i - 1);
                  else return;
                  e.preventDefault();
                }}
              >
                <span aria-hidden="true">{c.icon}</span>
              </button>
            ))}
          </div>
          <div
            id="emoji-panel"
            class="emoji-grid"
            role="tabpanel"
            aria-labelledby={`emoji-tab-${category.id}`}
          >
            {category.emoji.map((e) => (
              <button type="button" key={e} class="emoji-choice" onClick={() => props.onPick(e)}>
                {e}
              </button>
            ))}
          </div>
        </>
      )}
    </div>
  );
}
