/**
 * The Store compliance cases (STYLE.md: shared compliance suites). Every Store backend runs
 * these: in Node through store-compliance.test.ts, in Chromium through the web package's
 * browser test. They depend on no test runner (a failed check throws), so the same module
 * is bundled into a test page as it is.
 */
import { UsageError, utf8 } from '@parus/core';
import type { Store } from '../src/index.ts';

export interface StoreCase {
  name: string;
  run(make: () => Promise<Store>): Promise<void>;
}

class CheckFailed extends Error {
  override readonly name = 'CheckFailed';
}

function show(v: unknown): string {
  if (v instanceof Uint8Array) return `bytes[${[...v].join(',')}]`;
  return JSON.stringify(v) ?? String(v);
}

function same(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array)
    return a.length === b.length && a.every((x, i) => x === b[i]);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  return a === b;
}

function equal(actual: unknown, expected: unknown, what: string): void {
  if (!same(actual, expected)) throw new CheckFailed(`${what}: got ${show(actual)}, want ${show(expected)}`);
}

async function rejects(
  p: Promise<unknown>,
  what: string,
  type?: abstract new (...args: never[]) => Error,
): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (type && !(e instanceof type))
      throw new CheckFailed(`${what}: threw ${(e as Error).name}, want ${type.name}`);
    return;
  }
  throw new CheckFailed(`${what}: did not throw`);
}

export const storeComplianceCases: StoreCase[] = [
  {
    name: 'puts, gets, lists sorted and deletes',
    async run(make) {
      const s = await make();
      equal(await s.get('c', 'missing'), undefined, 'missing key');
      await s.batch([
        { type: 'put', collection: 'c', key: 'b', value: utf8('two') },
        { type: 'put', collection: 'c', key: 'a', value: utf8('one') },
        { type: 'put', collection: 'other', key: 'a', value: utf8('x') },
      ]);
      equal(await s.get('c', 'a'), utf8('one'), 'c/a');
      equal(
        (await s.list('c')).map((e) => e.key),
        ['a', 'b'],
        'keys of c',
      );
      await s.batch([{ type: 'del', collection: 'c', key: 'a' }]);
      equal(await s.get('c', 'a'), undefined, 'deleted c/a');
      equal(
        (await s.list('c')).map((e) => e.key),
        ['b'],
        'keys of c after delete',
      );
      equal(await s.list('empty'), [], 'empty collection');
      await s.close();
    },
  },
  {
    name: 'lists only its own collection, in byte order of the keys',
    async run(make) {
      const s = await make();
      const keys = ['b', 'a.1', 'A', 'a', '0', 'a:2', 'z-9', '_', 'Z'];
      await s.batch([
        ...keys.map((key) => ({ type: 'put' as const, collection: 'c', key, value: utf8(key) })),
        { type: 'put', collection: 'c.d', key: 'a', value: utf8('nested') },
        { type: 'put', collection: 'b', key: 'zz', value: utf8('before') },
        { type: 'put', collection: 'd', key: '0', value: utf8('after') },
      ]);
      const listed = await s.list('c');
      equal(
        listed.map((e) => e.key),
        [...keys].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)),
        'sorted keys',
      );
      for (const e of listed) equal(e.value, utf8(e.key), `value of ${e.key}`);
      equal(
        (await s.list('c.d')).map((e) => e.key),
        ['a'],
        'keys of c.d',
      );
      await s.close();
    },
  },
  {
    name: 'overwrites a key and returns copies, not shared buffers',
    async run(make) {
      const s = await make();
      const v = utf8('first');
      await s.batch([{ type: 'put', collection: 'c', key: 'k', value: v }]);
      v[0] = 0;
      await s.batch([{ type: 'put', collection: 'c', key: 'k', value: utf8('second') }]);
      const got = (await s.get('c', 'k'))!;
      equal(got, utf8('second'), 'overwritten value');
      got[0] = 0;
      equal(await s.get('c', 'k'), utf8('second'), 'value after changing a read copy');
      const [entry] = await s.list('c');
      entry!.value[0] = 0;
      equal(await s.get('c', 'k'), utf8('second'), 'value after changing a listed copy');
      await s.close();
    },
  },
  {
    name: 'stores exactly the bytes of a view into a larger buffer',
    async run(make) {
      const s = await make();
      const big = utf8('xxxxHELLOyyyy');
      await s.batch([{ type: 'put', collection: 'c', key: 'k', value: big.subarray(4, 9) }]);
      const got = (await s.get('c', 'k'))!;
      equal(got, utf8('HELLO'), 'stored view');
      equal(got.byteLength, 5, 'length');
      await s.close();
    },
  },
  {
    name: 'a put and a delete of the same key in one batch apply in order',
    async run(make) {
      const s = await make();
      await s.batch([
        { type: 'put', collection: 'c', key: 'k', value: utf8('1') },
        { type: 'del', collection: 'c', key: 'k' },
        { type: 'put', collection: 'c', key: 'j', value: utf8('2') },
        { type: 'put', collection: 'c', key: 'j', value: utf8('3') },
      ]);
      equal(await s.get('c', 'k'), undefined, 'put then deleted');
      equal(await s.get('c', 'j'), utf8('3'), 'last put wins');
      await s.batch([]);
      equal(await s.get('c', 'j'), utf8('3'), 'after an empty batch');
      await s.close();
    },
  },
  {
    name: 'rejects invalid names before writing anything (the batch is all or nothing)',
    async run(make) {
      const s = await make();
      await rejects(
        s.batch([
          { type: 'put', collection: 'c', key: 'ok', value: utf8('1') },
          { type: 'put', collection: 'c', key: 'bad key/with slash', value: utf8('2') },
        ]),
        'batch with a bad key',
        UsageError,
      );
      equal(await s.get('c', 'ok'), undefined, 'nothing written');
      await rejects(s.get('bad collection', 'k'), 'get with a bad collection', UsageError);
      await rejects(s.get('c', ''), 'get with an empty key', UsageError);
      await rejects(s.list('x'.repeat(129)), 'list with a long collection name', UsageError);
      await s.close();
    },
  },
  {
    name: 'refuses use after close',
    async run(make) {
      const s = await make();
      await s.close();
      await rejects(s.get('c', 'k'), 'get after close');
      await rejects(s.list('c'), 'list after close');
      await rejects(
        s.batch([{ type: 'put', collection: 'c', key: 'k', value: utf8('1') }]),
        'batch after close',
      );
    },
  },
];
