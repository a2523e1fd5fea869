/** Output for people (plain lines) and for scripts (`--json`: one JSON document per command). */
import { ParusError } from '@parus/core';

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
      if (!json) write(`${text}\n`);
    },
    result(value, human) {
      if (json) write(`${JSON.stringify(value, bytesAsBase64)}\n`);
      else human?.();
    },
    warn(text) {
      process.stderr.write(`${text}\n`);
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
  if (json) process.stdout.write(`${JSON.stringify({ error: e })}\n`);
  else process.stderr.write(`parus: ${e.message} (${e.name})\n`);
  return e.code === 'USAGE' ? 2 : 1;
}

/** JSON has no bytes: thumbnails and the like go out as base64. */
function bytesAsBase64(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value;
}
