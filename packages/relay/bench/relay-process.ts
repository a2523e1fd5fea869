/** Runs a relay in a child process for the throughput bench, so it has a CPU of its own. */
import { startRelay } from '../src/index.ts';

const dataDir = process.argv[2]!;
const started = process.cpuUsage();
const relay = await startRelay({
  port: 0,
  dataDir,
  limits: { framesPerSecond: 1e9, frameBurst: 1e9, deliveryWindow: 1_024 },
});
process.send!({ address: relay.address });
process.once('message', () => {
  const cpu = process.cpuUsage(started);
  void relay.close().then(() => process.send!({ cpu }, undefined, {}, () => process.exit(0)));
});
