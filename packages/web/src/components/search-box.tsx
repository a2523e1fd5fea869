/**
 * The search box above the chat list (issue 15 item 3). The box is on the first screen; the
 * results (search-results.tsx) come in a chunk of their own, loaded the first time something is
 * typed. A result opens its chat, or its conversation at the message (onJump).
 */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Session } from '../engine-loader.ts';
import { useI18n } from '../i18n.ts';
import type { JumpTarget } from './search-results.tsx';

export type { JumpTarget };

type Results = typeof import('./search-results.tsx');
let loading: Promise<Results> | undefined;

export function SearchBox(props: { session: Session; onJump: (to: JumpTarget) => void }): JSX.Element {
  const { t } = useI18n();
  const [query, setQuery] = useState('');
  const [ui, setUi] = useState<Results | undefined>();
  useEffect(() => {
    if (!query || ui) return;
    let live = true;
    loading ??= import('./search-results.tsx');
    loading.then(
      (m) => live && setUi(m),
      (e: unknown) => {
        loading = undefined;
        console.warn('parus: search failed to load', e);
      },
    );
    return () => {
      live = false;
    };
  }, [query, ui]);
  return (
    <div class="search" role="search">
      <input
        type="search"
        class="search-input"
        aria-label={t('search.label')}
        placeholder={t('search.placeholder')}
        value={query}
        maxLength={256}
        onInput={(e) => setQuery(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') setQuery('');
        }}
      />
      {query && ui && (
        <ui.SearchResults
          session={props.session}
          query={query}
          onJump={(to) => {
            setQuery('');
            props.onJump(to);
          }}
        />
      )}
    </div>
  );
}
