/** Command-line parsing on node:util's parseArgs, with the options every command shares. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '@parus/core';
import { fault } from './i18n.ts';

export interface CommonOptions {
  home: string;
  json: boolean;
}

export const COMMON_OPTIONS = {
  home: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: O,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({
      args: argv,
      options: { ...COMMON_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (cause) {
    throw fault(UsageError, 'error.options', { detail: (cause as Error).message });
  }
}

export function str(values: Record<string, string | boolean | undefined>, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function num(values: Record<string, string | boolean | undefined>, name: string): number | undefined {
  const v = str(values, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw fault(UsageError, 'error.wholeNumber', { name });
  return n;
}
