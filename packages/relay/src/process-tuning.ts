/**
 * Settings of the relay's own process (`parus relay`, cli/src/relay-main.ts; the benchmark's
 * relay process), never of a process that only embeds a relay (tests, tools): they change V8
 * for the whole process.
 *
 * V8's young generation starts with two semi-spaces of 1 MiB and doubles them under the first
 * bursts of work (set-ups of many connections) up to 16 MiB each, which it then keeps while the
 * process lives: about 7 MB of a relay's resident set at 1,000 idle connections and 3 MB at rest.
 * The maximum can only be set when the process starts (`--max-semi-space-size`); the growth
 * factor is read when the young generation grows, so setting it to 1 at run time keeps the
 * semi-spaces at their first size. docs/decisions/0042 (what it costs per message).
 */
import { setFlagsFromString } from 'node:v8';

export function tuneRelayProcess(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
