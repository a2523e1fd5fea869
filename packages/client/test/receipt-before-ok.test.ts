// A relay answers a send once the message is durable or its recipient acked it
// (docs/decisions/0034), and it hands the message to an online recipient at once: the
// recipient's receipt can reach the sender before the relay's `ok`. The outbox stays settled.
// A real relay on loopback whose held messages wait a minute for their acks; the recipient's
// ack is held back until the sender has the receipt, so the order is forced, not hoped for.
import { describe, expect, it } from 'vitest';
import type { Account, RelayConnection } from '../src/index.ts';
import { befriend, relayWorld } from './support/group-harness.ts';

const world = relayWorld('receipt-first', { ackWaitMs: 60_000 });

interface Internals {
  relays: Map<string, RelayConnection>;
}

/** Holds back every `ack` `who` sends until release() is called. */
function holdAcks(who: Account): { release(): void } {
  const r = (who as unknown as Internals).relays.get(world.relay().address)!;
  const command = r.command.bind(r);
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  r.command = (async (frame: Parameters<RelayConnection['command']>[0], key?: Uint8Array) => {
    if (frame.t === 'ack') await released;
    return command(frame, key);
  }) as RelayConnection['command'];
  return { release };
}

describe('a receipt before the relay’s ok', () => {
  it('leaves the outbox settled, and the message delivered', async () => {
    const alice = await world.account('Alice');
    const bob = await world.account('Bob');
    await befriend(alice, bob, 'alice');
    const acks = holdAcks(bob);
    const statuses: string[] = [];
    const delivered = new Promise<void>((resolve) =>
      alice.events.on('receipt', (r) => {
        statuses.push(r.status);
        if (r.status === 'delivered') resolve();
      }),
    );
    const sent = await alice.sendText('Bob', 'hello');
    // Alice's send waits for its ok, which waits for Bob's ack; Bob's engine receives the
    // message and sends its receipt on its own, and the receipt goes first.
    const aliceSync = alice.sync();
    await delivered;
    expect(statuses).not.toContain('sent');
    acks.release();
    await aliceSync;
    await alice.sync();
    expect(await alice.outboxSize()).toEqual({ queued: 0, relayed: 0 });
    const shown = (await alice.history('Bob')).find((m) => m.id === sent.id);
    expect(shown?.status).toBe('delivered');
  });
});
