/**
 * The connection a command arrived on, as every command handler sees it (commands.ts, fanout.ts,
 * blob-commands.ts): its own module so that the handlers depend on it, not on each other.
 */
import type { RelayFrame } from '@parus/core';
import type { CommandAuth } from './command-auth.ts';
import type { Subscriber } from './subscriptions.ts';

export interface CommandContext {
  /** This connection's authenticator check (its session and X25519 key, and the cached K). */
  auth: CommandAuth;
  /** The command's frame as received: its authenticator is checked over these bytes. */
  received: Uint8Array;
  subscriber: Subscriber;
  isOpen(): boolean;
  reply(frame: RelayFrame): void;
}
