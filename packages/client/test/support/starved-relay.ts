/**
 * A relay in a process of its own whose event loop the test can block, to play a relay
 * starved of CPU: argv is the data folder and the relay limits as JSON; it sends
 * `{ address }` once listening, and answers `{ block: ms }` (a busy loop of that long) with
 * `{ blocked: ms }` once the loop is free again. `{ stop: true }` closes it.
 */
import { startRelay } from '@parus/relay';
import type { RelayLimits } from '@parus/relay';

const [dataDir, limits] = process.argv.slice(2);
if (!dataDir || !process.send)
  throw new Error('usage: starved-relay.ts DATA_DIR [LIMITS_JSON] (with an IPC channel)');
const relay = await startRelay({
  port: 0,
  dataDir,
  limits: JSON.parse(limits ?? '{}') as Partial<RelayLimits>,
});
process.send({ address: relay.address });
process.on('message', (message: { block?: number; stop?: boolean }) => {
  if (message.block) {
    const end = performance.now() + message.block;
    while (performance.now() < end) {
      // Starved: nothing else runs, the sockets fill up.
    }
    process.send?.({ blocked: message.block });
  }
  if (message.stop) void relay.close().then(() => process.exit(0));
});
