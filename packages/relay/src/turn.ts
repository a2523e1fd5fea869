/**
 * TURN for calls (decision 0046): the relay hands its own users short-lived credentials for a
 * TURN server its operator runs (Debian's coturn, `turnserver --use-auth-secret`), in coturn's
 * REST scheme ("A REST API for access to TURN services", draft-uberti-behave-turn-rest-00):
 *
 *     username = "<expiry, seconds since the epoch>:<id>"
 *     password = base64(HMAC-SHA1(shared secret, username))
 *
 * coturn checks the HMAC with the same secret (`static-auth-secret`) and refuses an expired
 * username. HMAC-SHA1 is that scheme's, computed with node:crypto (libsodium has no SHA-1); it
 * protects nothing of Parus, only the TURN server's bandwidth. `id` is random per grant, so
 * credentials say nothing about who asked.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { UsageError } from '@parus/core';

export interface TurnConfig {
  /** turn:host:port (and turns:) URLs clients use. */
  urls: string[];
  /** The secret shared with coturn's static-auth-secret. */
  secret: string;
  /** How long credentials stay valid; default a day. */
  ttlSeconds?: number;
}

export const DEFAULT_TURN_TTL_SECONDS = 24 * 3600;

export function checkTurnConfig(c: TurnConfig): TurnConfig {
  if (!Array.isArray(c.urls) || c.urls.length === 0 || c.urls.length > 4)
    throw new UsageError('give 1 to 4 TURN URLs');
  for (const u of c.urls)
    if (typeof u !== 'string' || u.length > 256 || !/^turns?:[^\s]+$/.test(u))
      throw new UsageError(`not a turn: or turns: URL: ${u}`);
  if (typeof c.secret !== 'string' || c.secret.length < 16)
    throw new UsageError('the TURN secret must be at least 16 characters');
  return c;
}

/** The secret from a file (its first line), as `parus relay --turn-secret FILE` reads it. */
export function readTurnSecret(file: string): string {
  const secret = readFileSync(file, 'utf8').split(/\r?\n/)[0]!.trim();
  if (secret.length < 16) throw new UsageError('the TURN secret file must hold at least 16 characters');
  return secret;
}

export function turnCredentials(
  c: TurnConfig,
  nowMs: number,
): { urls: string[]; user: string; pass: string; ttl: number } {
  const ttl = c.ttlSeconds ?? DEFAULT_TURN_TTL_SECONDS;
  const user = `${Math.floor(nowMs / 1000) + ttl}:${randomBytes(8).toString('hex')}`;
  const pass = createHmac('sha1', c.secret).update(user).digest('base64');
  return { urls: [...c.urls], user, pass, ttl };
}
