/**
 * Peer text on screen (docs/decisions/0024). Every name, nick, group name, topic, file name and
 * message a peer wrote is shown in its own `<bdi>`, so its direction never reaches the text
 * around it (our own labels, the verify banner), and through core's textPieces, so a
 * bidirectional control, a control character or an invisible one is shown by a visible marker
 * (⟨U+202E⟩, ␛) instead of reordering or hiding text. A message of only zero-width characters
 * shows its markers, never an empty bubble.
 */
import { Fragment, type ComponentChildren, type JSX } from 'preact';
import { textPieces } from '@parus/core/display-text';

/** `text` with its invisible or acting characters shown by marked-up markers (no isolation). */
export function Marked(props: { text: string; multiline?: boolean }): JSX.Element {
  const pieces = textPieces(props.text, { multiline: props.multiline === true });
  return (
    <>
      {pieces.map((p, i) =>
        p.code === undefined ? (
          p.text
        ) : (
          <span key={i} class="char-mark" title={`U+${p.code.toString(16).toUpperCase().padStart(4, '0')}`}>
            {p.text}
          </span>
        ),
      )}
    </>
  );
}

/** `text` (peer-controlled) isolated in a `<bdi>`, its invisible or acting characters marked. */
export function PeerText(props: { text: string; multiline?: boolean; class?: string }): JSX.Element {
  return (
    <bdi class={props.class ? `peer-text ${props.class}` : 'peer-text'}>
      <Marked text={props.text} multiline={props.multiline === true} />
    </bdi>
  );
}

/** Children (built from peer text) in one isolating `<bdi>`: previews, quotes, mixed lines. */
export function Isolated(props: { class?: string; children: ComponentChildren }): JSX.Element {
  return <bdi class={props.class}>{props.children}</bdi>;
}

/** Stands for the peer text in a translated sentence until it is cut there (a private-use character). */
export const NAME_SLOT = '\ue000';

/**
 * A translated sentence of ours around a piece of peer text: `text` is the sentence translated
 * with NAME_SLOT for `{name}`; the sentence stays ours, the name sits in its own `<bdi>`, so
 * even an RTL name cannot reorder the sentence (the verify banner reads as written whatever the
 * contact is called).
 */
export function Sentence(props: { text: string; name: string }): JSX.Element {
  const [before = '', ...rest] = props.text.split(NAME_SLOT);
  return (
    <>
      {before}
      {rest.map((after, i) => (
        <Fragment key={i}>
          <PeerText text={props.name} />
          {after}
        </Fragment>
      ))}
    </>
  );
}
