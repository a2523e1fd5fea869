/**
 * Search results (loaded with the first search): friends, groups and messages on this device,
 * asked of the engine a moment after typing stops. Texts are peer text, shown as such.
 */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { SearchHit, Session } from '../engine-loader.ts';
import { errorName } from '../errors.ts';
import { useI18n } from '../i18n.ts';
import { PeerText } from './peer-text.tsx';

/** Where a result leads: a chat (alias) or a group, and the message when the result is one. */
export interface JumpTarget {
  alias?: string;
  group?: string;
  /** The message to show, when the result is one. */
  id?: string;
}

const SETTLE_MS = 150;

export function SearchResults(props: {
  session: Session;
  query: string;
  onJump: (to: JumpTarget) => void;
}): JSX.Element {
  const { t } = useI18n();
  const [hits, setHits] = useState<SearchHit[] | undefined>();
  const [error, setError] = useState('');
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      props.session.search(props.query).then(
        (h) => {
          if (!live) return;
          setHits(h);
          setError('');
        },
        (e: unknown) => {
          if (!live) return;
          setHits([]);
          setError(errorName(e) === 'UsageError' ? '' : t('search.failed'));
        },
      );
    }, SETTLE_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [props.query]);
  if (!hits) return <p class="muted search-status">{t('search.searching')}</p>;
  return (
    <div class="search-results">
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {hits.length === 0 ? (
        <p class="muted search-status" role="status">
          {t('search.none')}
        </p>
      ) : (
        <ul aria-label={t('search.results')}>
          {hits.map((h) => (
            <li key={h.kind === 'message' ? h.id : h.kind === 'group' ? h.group : h.alias}>
              <button
                type="button"
                class="search-hit"
                onClick={() =>
                  props.onJump(
                    h.kind === 'contact'
                      ? { alias: h.alias }
                      : h.kind === 'group'
                        ? { group: h.group }
                        : h.group !== undefined
                          ? { group: h.group, id: h.id }
                          : { alias: h.alias, id: h.id },
                  )
                }
              >
                <span class="search-where">
                  <PeerText text={h.kind === 'group' ? h.name : h.alias} />
                  <span class="muted">
                    {' · '}
                    {h.kind === 'contact'
                      ? t('search.kindFriend')
                      : h.kind === 'group'
                        ? t('search.kindGroup')
                        : t('search.kindMessage')}
                  </span>
                </span>
                {h.kind === 'message' && (
                  <span class="search-text">
                    <PeerText text={h.text} />
                  </span>
                )}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
