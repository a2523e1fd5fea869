import { createInterface, type Interface } from 'node:readline';
import { jsonLine, terminalSafe, type Output } from './output.ts';

/** The terminal side of `parus chat`, shared by 1:1 and group chats. */
export interface ChatTerminal {
  readonly rl: Interface;
  /** Every line typed or piped in, from the moment the terminal was opened. */
  readonly lines: AsyncIterable<string>;
  readonly interactive: boolean;
  /** Prints a line above the prompt (or plainly when not on a terminal). */
  show(text: string): void;
  /** A JSON event with --json, else its human form. */
  emit(event: object, human: string): void;
}

export function openChatTerminal(out: Output): ChatTerminal {
  const interactive = process.stdin.isTTY === true;
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: interactive });
  // Take the iterator at once: readline drops lines nobody listens to yet, and piped input
  // may end while the account is still connecting.
  const iterator = rl[Symbol.asyncIterator]();
  const show = (text: string): void => {
    if (interactive) {
      process.stdout.write('\r\x1b[2K');
      process.stdout.write(`${terminalSafe(text)}\n`);
      rl.prompt(true);
    } else out.line(text);
  };
  return {
    rl,
    lines: { [Symbol.asyncIterator]: () => iterator },
    interactive,
    show,
    emit(event, human) {
      if (out.json) process.stdout.write(`${jsonLine(event)}\n`);
      else show(human);
    },
  };
}
