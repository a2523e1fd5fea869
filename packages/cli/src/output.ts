/** Output for people (plain lines) and for scripts (`--json`: one JSON document per command). */
import { ParusError, markerFor } from '@parus/core';
import { localMessage, t } from './i18n.ts';

// eslint-disable-next-line no-control-regex
const ACTING = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\p{Bidi_Control}\u2028\u2029]/gu;

/**
 * The last guard before the terminal (decision 0024): whatever a line holds, no character of
 * it can act (a control other than tab and line feed, a bidirectional control); each is shown
 * by its marker. Peer text is already shown safely by format.ts; this keeps a slip harmless.
 */
export function terminalSafe(text: string): string {
  return text.replace(ACTING, (c) => markerFor(c.codePointAt(0)!));
}

const JSON_ACTING = /[\u007f-\u009f\p{Bidi_Control}\u2028\u2029]/gu;

/**
 * JSON for scripts that a terminal may also show: JSON.stringify escapes C0 controls, this
 * escapes DEL, C1 and bidirectional controls too. The escapes parse back to the same text.
 */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value, bytesAsBase64).replace(
    JSON_ACTING,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export interface Output {
  json: boolean;
  /** A line for people; ignored in JSON mode. */
  line(text: string): void;
  /** The command's result: printed as JSON in JSON mode, else through `human`. */
  result(value: unknown, human?: () => void): void;
  warn(text: string): void;
}

export function makeOutput(json: boolean, write = (s: string) => process.stdout.write(s)): Output {
  return {
    json,
    line(text) {
      if (!json) write(`${terminalSafe(text)}\n`);
    },
    result(value, human) {
      if (json) write(`${jsonLine(value)}\n`);
      else human?.();
    },
    warn(text) {
      process.stderr.write(`${terminalSafe(text)}\n`);
    },
  };
}

export function reportError(error: unknown, json: boolean): number {
  const e =
    error instanceof ParusError
      ? { name: error.name, code: error.code, message: error.message }
      : {
          name: 'InternalError',
          code: 'INTERNAL',
          message: error instanceof Error ? error.message : String(error),
        };
  if (json) process.stdout.write(`${jsonLine({ error: e })}\n`);
  else {
    const message = error instanceof Error ? localMessage(error) : e.message;
    process.stderr.write(`${terminalSafe(t('error.line', { message, name: e.name }))}\n`);
  }
  return e.code === 'USAGE' ? 2 : 1;
}

/** JSON has no bytes: thumbnails and the like go out as base64. */
function bytesAsBase64(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value;
}
