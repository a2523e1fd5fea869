/**
 * When the composer says "I am typing": on the first change to the draft, then at most once
 * per interval while changes go on (the receiving side shows 「對方正在輸入…」 for a few
 * seconds after each signal, so one signal per interval keeps it lit without a message per
 * keystroke). The clock is a parameter so that tests script it.
 *
 * IME decision: a change of the composition string (Zhuyin ㄋㄧˇ, Cangjie codes) counts as
 * typing. For people who write with an IME most typing happens inside the composition, so
 * ignoring it would show them idle while they write; keys that change nothing (arrows,
 * Shift, the Enter that confirms a candidate) never count.
 */
export const TYPING_INTERVAL_MS = 3_000;

export function typingThrottle(
  emit: () => void,
  opts: { now: () => number; interval?: number },
): { changed(): void; reset(): void } {
  const interval = opts.interval ?? TYPING_INTERVAL_MS;
  let last: number | undefined;
  return {
    changed() {
      const t = opts.now();
      if (last !== undefined && t - last < interval) return;
      last = t;
      emit();
    },
    /** After a send: the next change signals at once. */
    reset() {
      last = undefined;
    },
  };
}

/** How long 「對方正在輸入…」 stays after one typing signal, unless another comes or a message. */
export const TYPING_SHOWN_MS = 6_000;

/**
 * The indicator's `typingUntil` after a typing event from the friend (`typing: false` when
 * they stopped, cleared the draft, or a message from them arrived), by our own clock: the
 * sender's clock is not trusted for this.
 */
export function typingUntilAfter(event: { typing: boolean }, now: number): number | undefined {
  return event.typing ? now + TYPING_SHOWN_MS : undefined;
}
