/**
 * The server under test, in a process of its own so that it gets a core of its own:
 * `node --import tsx bench/server-process.ts relay|raw|broadcast`, forked by run.ts and fanout-bench.ts.
 *
 * The orchestrator measures its CPU time from outside (/proc), as its own event loop may be
 * too busy to answer on time; it reports its event-loop delay between the window marks
 * and, when stopped, its peak RSS and counters.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startRelay, tuneRelayProcess } from '@parus/relay';
import type { RelayLimits } from '@parus/relay';
import { describeError, sendThenExit } from './ipc.ts';
import type { ServerCommand, ServerMessage, ServerStats, Target } from './ipc.ts';
import { startRawBroadcaster } from './raw-broadcaster.ts';
import { startRawForwarder } from './raw-forwarder.ts';
import { BENCH_RELAY_LIMITS } from './relay-limits.ts';

const LOG_LINES_KEPT = 20;

function post(message: ServerMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const target = process.argv[2] as Target;
  if (!process.send) throw new Error('server-process.ts is forked by bench/run.ts');
  const log: string[] = [];
  let logLines = 0;
  let stop: () => Promise<Omit<ServerStats, 'peakRssBytes' | 'log' | 'logLines'>>;

  if (target === 'relay') {
    // The relay's process as `parus relay` runs it (relay/src/process-tuning.ts).
    tuneRelayProcess();
    const dataDir = await mkdtemp(join(tmpdir(), 'parus-bench-'));
    const relay = await startRelay({
      host: '127.0.0.1',
      port: 0,
      dataDir,
      // A run may raise more limits (fanout-bench.ts: recipients that do not ack).
      limits: { ...BENCH_RELAY_LIMITS, ...(JSON.parse(process.argv[3] ?? '{}') as Partial<RelayLimits>) },
      // A shared store and bus (cluster-bench.ts): { store, keySecret, bus }.
      ...(JSON.parse(process.argv[4] ?? '{}') as { store?: string; keySecret?: string; bus?: string }),
      log: (line) => {
        logLines += 1;
        if (log.length < LOG_LINES_KEPT) log.push(line);
      },
    });
    post({ type: 'listening', address: relay.address });
    stop = async () => {
      const s = relay.stats();
      await relay.close();
      await rm(dataDir, { recursive: true, force: true });
      return {
        relay: {
          messagesStored: s.messagesStored,
          messagesDelivered: s.messagesDelivered,
          errorsSent: s.errorsSent,
          messages: s.messages,
          ackedUnwritten: s.messagesAckedUnwritten,
          writtenLate: s.messagesWrittenLate,
        },
      };
    };
  } else if (target === 'raw') {
    const forwarder = await startRawForwarder({ host: '127.0.0.1', port: 0 });
    post({ type: 'listening', address: forwarder.url });
    stop = async () => {
      const forwarded = forwarder.forwarded();
      await forwarder.close();
      return { forwarded };
    };
  } else if (target === 'broadcast') {
    const broadcaster = await startRawBroadcaster({ host: '127.0.0.1', port: 0 });
    post({ type: 'listening', address: broadcaster.url });
    stop = async () => {
      const forwarded = broadcaster.forwarded();
      await broadcaster.close();
      return { forwarded };
    };
  } else {
    throw new Error(`unknown target ${String(target)}`);
  }

  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  process.on('message', (message: ServerCommand) => {
    switch (message.type) {
      case 'mark-start':
        loopDelay.reset();
        loopDelay.enable();
        return;
      case 'mark-end':
        loopDelay.disable();
        post({ type: 'loop-delay', p99Ms: loopDelay.percentile(99) / 1e6, maxMs: loopDelay.max / 1e6 });
        return;
      case 'stop':
        void stop().then(
          (stats) => {
            const peakRssBytes = process.resourceUsage().maxRSS * 1024;
            sendThenExit({ type: 'stopped', stats: { ...stats, peakRssBytes, log, logLines } }, 0);
          },
          (error: unknown) => sendThenExit({ type: 'failed', error: describeError(error) }, 1),
        );
        return;
    }
  });
}

main().catch((error: unknown) => sendThenExit({ type: 'failed', error: describeError(error) }, 1));
