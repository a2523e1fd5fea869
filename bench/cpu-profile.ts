/**
 * Reads a V8 `.cpuprofile` (written by `node --cpu-prof`) and says where the time of a
 * window went, in two views:
 *
 * - by activity: each sample goes to the innermost frame on its stack that matches one of
 *   the rules below (so CBOR encoding inside a signature check counts as CBOR, and the
 *   libsodium call inside `verify` as signature verification);
 * - by function: self time of the busiest functions (the leaf frame of each sample).
 */
import { readFile } from 'node:fs/promises';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileShare {
  name: string;
  ms: number;
  /** Share of the busy (non-idle) time in the window, %. */
  percent: number;
}

export interface ProfileSummary {
  windowMs: number;
  busyMs: number;
  activities: ProfileShare[];
  functions: ProfileShare[];
}

interface Rule {
  activity: string;
  fn?: RegExp;
  url?: RegExp;
}

const CORE = /packages\/core\/src\//;
const CRYPTO = /packages\/core\/src\/crypto\.ts/;

/**
 * Specific activities: the innermost frame on the stack that matches one decides. Helpers
 * inside them (the CBOR writer's methods, better-sqlite3's native calls, libsodium's
 * WebAssembly) match nothing and so count towards the entry point that called them.
 */
const SPECIFIC: Rule[] = [
  { activity: 'Ed25519 verify (libsodium)', fn: /^verify$/, url: CRYPTO },
  { activity: 'Ed25519 sign (libsodium)', fn: /^sign$/, url: CRYPTO },
  { activity: 'random bytes (libsodium randombytes_buf)', fn: /^bytes$/, url: CRYPTO },
  { activity: 'XChaCha20-Poly1305 seal', fn: /^seal$/, url: CRYPTO },
  // The relay's seal of each delivery, on libsodium's native build (decision 0020).
  { activity: 'XChaCha20-Poly1305 seal', fn: /^sealDeliveryNative$/, url: /relay\/src\/delivery-seal\.ts/ },
  {
    activity: 'command authenticators (HMAC-SHA-256)',
    fn: /^(authenticateCommand|checkCommandAuth)$/,
    url: CORE,
  },
  {
    activity: 'X25519 and HKDF (queue creation, command keys)',
    fn: /^(dh|hkdf|dhKeyPairFromSecret)$/,
    url: CRYPTO,
  },
  { activity: 'CBOR encode', fn: /^encodeCbor$/, url: /core\/src\/cbor\.ts/ },
  { activity: 'CBOR decode', fn: /^decodeCbor$/, url: /core\/src\/cbor\.ts/ },
  { activity: 'frame checks (relay-protocol decoders)', fn: /^decodeClientFrame$/, url: CORE },
  { activity: 'SQLite writes (group commit)', fn: /^commitPending$/, url: /sqlite-queue-store\.ts/ },
  { activity: 'SQLite reads', fn: /^read$/, url: /sqlite-queue-store\.ts/ },
  { activity: 'hex keys of the subscription maps', fn: /^toHex$/, url: CORE },
  { activity: 'garbage collection', fn: /^\(garbage collector\)$/ },
  { activity: 'idle', fn: /^\(idle\)$/ },
];

/** Used only when no specific rule matches anywhere on the stack; again the innermost decides. */
const GENERIC: Rule[] = [
  { activity: 'relay logic (connection, commands, subscriptions)', url: /packages\/relay\/src\// },
  { activity: 'other core code', url: CORE },
  { activity: 'WebSocket framing (ws)', url: /node_modules\/ws\// },
  { activity: 'Node sockets, streams, timers', url: /^node:/ },
];

const UNATTRIBUTED = 'other (V8, native, unattributed)';

function match(rules: Rule[], frame: CallFrame): string | undefined {
  for (const rule of rules) {
    if (rule.fn && !rule.fn.test(frame.functionName)) continue;
    if (rule.url && !rule.url.test(frame.url)) continue;
    return rule.activity;
  }
  return undefined;
}

/** Function and file; no line number, as tsx-compiled sources report meaningless ones. */
function shortName(frame: CallFrame): string {
  const file = frame.url.replace(/^.*\/(packages|node_modules)\//, '$1/').replace(/^file:\/\//, '');
  const fn = frame.functionName || '(anonymous)';
  return file ? `${fn} (${file})` : fn;
}

/**
 * Summarises the samples between `startUs` and `endUs` (the profiler's clock, which is
 * the monotonic clock of process.hrtime).
 */
export async function summariseProfile(
  path: string,
  startUs: number,
  endUs: number,
  top = 12,
): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(path, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const memo = new Map<number, string>();
  const resolve = (leaf: number): string => {
    const known = memo.get(leaf);
    if (known !== undefined) return known;
    let generic: string | undefined;
    let found: string | undefined;
    for (
      let cur: number | undefined = leaf;
      cur !== undefined && found === undefined;
      cur = parent.get(cur)
    ) {
      const frame = byId.get(cur)!.callFrame;
      found = match(SPECIFIC, frame);
      generic ??= match(GENERIC, frame);
    }
    const result = found ?? generic ?? UNATTRIBUTED;
    memo.set(leaf, result);
    return result;
  };

  const perActivity = new Map<string, number>();
  const perFunction = new Map<string, number>();
  let t = profile.startTime;
  let busyUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < startUs || t > endUs) continue;
    // A sample stands for the interval up to the next one.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    const name = resolve(id);
    perActivity.set(name, (perActivity.get(name) ?? 0) + dt);
    if (name === 'idle') continue;
    busyUs += dt;
    const fn = shortName(byId.get(id)!.callFrame);
    perFunction.set(fn, (perFunction.get(fn) ?? 0) + dt);
  }
  perActivity.delete('idle');
  const shares = (m: Map<string, number>): ProfileShare[] =>
    [...m.entries()]
      .map(([name, us]) => ({ name, ms: us / 1000, percent: busyUs > 0 ? (us / busyUs) * 100 : 0 }))
      .sort((a, b) => b.ms - a.ms);
  return {
    windowMs: (endUs - startUs) / 1000,
    busyMs: busyUs / 1000,
    activities: shares(perActivity),
    functions: shares(perFunction).slice(0, top),
  };
}
