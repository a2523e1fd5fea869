/**
 * Group state resolution cost (packages/core/src/group-state.ts, the figure in its header):
 * a public room of 1,000 members, about 2,100 events, two replicas that fork and merge 100
 * times, resolved from scratch; best of 15 runs. Run: `node --import tsx bench/group-state-bench.ts`.
 */
import { performance } from 'node:perf_hooks';
import {
  createGroup,
  createGroupEvent,
  defaultGroupSettings,
  generateSignKeyPair,
  initCrypto,
  resolveGroupState,
  systemRandom,
  type GroupEvent,
  type GroupEventContents,
  type GroupEventType,
  type SignKeyPair,
} from '@parus/core';

await initCrypto();
const rng = systemRandom;
const creator = generateSignKeyPair(rng);
const create = createGroup({
  author: creator,
  name: 'bench',
  settings: defaultGroupSettings({ public: true }),
  ts: 0,
  rng,
});
const events: GroupEvent[] = [create];
const replicas: GroupEvent[][] = [[create], [create]];
const heads: GroupEvent[][] = [[create], [create]];
let merges = 0;
function add<T extends Exclude<GroupEventType, 'create'>>(
  r: number,
  author: SignKeyPair,
  type: T,
  content: GroupEventContents[T],
): void {
  const parents = heads[r]!;
  const e = createGroupEvent({
    author,
    group: create.group,
    parents: parents.map((p) => p.id),
    lamport: Math.max(...parents.map((p) => p.lamport)) + 1,
    ts: events.length,
    type,
    content,
  }) as GroupEvent;
  events.push(e);
  replicas[r]!.push(e);
  heads[r] = [e];
}
const members: SignKeyPair[] = [];
for (let i = 0; i < 1000; i++) {
  const r = i % 2;
  const k = generateSignKeyPair(rng);
  members.push(k);
  add(r, k, 'join', {});
  add(r, k, 'nick', { nick: `member ${i}` });
  if (i % 100 === 5) add(r, creator, 'role', { member: k.publicKey, role: 'moderator' });
  if (i % 10 === 9) {
    // The two replicas exchange what they have: each continues from both heads.
    const both = [...heads[0]!, ...heads[1]!];
    heads[0] = both;
    heads[1] = both;
    merges++;
  }
}
for (let i = 0; events.length < 2100; i++) add(i % 2, creator, 'topic', { topic: `topic ${i}` });

// Wall time, and this process's CPU time (less disturbed when other work shares the cores).
const wall: number[] = [];
const cpu: number[] = [];
let state;
for (let run = 0; run < 15; run++) {
  const start = performance.now();
  const used = process.cpuUsage();
  state = resolveGroupState(events);
  const spent = process.cpuUsage(used);
  wall.push(performance.now() - start);
  cpu.push((spent.user + spent.system) / 1000);
}
wall.sort((a, b) => a - b);
cpu.sort((a, b) => a - b);
console.log(
  `${events.length} events, ${state!.members.size} members, ${merges} merges, ` +
    `${state!.rejected.length} refused: best ${wall[0]!.toFixed(1)} ms (CPU ${cpu[0]!.toFixed(1)} ms), ` +
    `median ${wall[7]!.toFixed(1)} ms (CPU ${cpu[7]!.toFixed(1)} ms)`,
);
