/** The passphrase comes from PARUS_PASSPHRASE or, on a terminal, from a prompt that does not echo. */
import { UsageError } from '@parus/core';
import { fault, t } from './i18n.ts';

export async function readPassphrase(opts: { confirm?: boolean } = {}): Promise<string> {
  const env = process.env.PARUS_PASSPHRASE;
  if (env !== undefined && env.length > 0) return env;
  if (!process.stdin.isTTY) throw fault(UsageError, 'passphrase.none');
  const first = await prompt(t('passphrase.prompt'));
  if (first.length < 8) throw fault(UsageError, 'passphrase.short');
  if (opts.confirm) {
    const again = await prompt(t('passphrase.again'));
    if (again !== first) throw fault(UsageError, 'passphrase.differ');
  }
  return first;
}

/**
 * A new passphrase (`parus passphrase`): PARUS_NEW_PASSPHRASE, or typed twice on a terminal;
 * at least 8 characters.
 */
export async function readNewPassphrase(): Promise<string> {
  const env = process.env.PARUS_NEW_PASSPHRASE;
  let next: string;
  if (env !== undefined && env.length > 0) next = env;
  else {
    if (!process.stdin.isTTY) throw new UsageError(t('passphrase.noNew'));
    next = await prompt(t('passphrase.newPrompt'));
    if ([...next].length >= 8 && (await prompt(t('passphrase.again'))) !== next)
      throw new UsageError(t('passphrase.differ'));
  }
  if ([...next].length < 8) throw new UsageError(t('passphrase.short'));
  return next;
}

function prompt(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          cleanup();
          process.stderr.write('\n');
          return resolve(value);
        }
        if (ch === '\u0003') {
          cleanup();
          process.stderr.write('\n');
          return reject(fault(UsageError, 'passphrase.cancelled'));
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const cleanup = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
    };
    stdin.on('data', onData);
  });
}
