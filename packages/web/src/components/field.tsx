import type { ComponentChildren, JSX } from 'preact';

/**
 * A labelled form field. The label holds only the name (the control's accessible name);
 * the hint is its description: give the control `aria-describedby={`${id}-hint`}`.
 */
export function Field(props: {
  id: string;
  label: string;
  hint?: string;
  children: ComponentChildren;
}): JSX.Element {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && <small id={`${props.id}-hint`}>{props.hint}</small>}
    </div>
  );
}
