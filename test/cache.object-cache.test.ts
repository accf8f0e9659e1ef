import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ObjectCacheManager } from '../lib/cache/manager.js';
import { ObjectCache } from '../lib/cache/object-cache.js';
import { CacheExistsError, InvalidArgumentError, LoaderError, NoLoaderError, UnknownCacheTypeError } from '../lib/errors.js';

const cache = <V>(options: { capacity?: number; ttlSeconds?: number; loader?: (key: string) => V | undefined | Promise<V | undefined> } = {}) =>
  new ObjectCache<V>('t', { capacity: options.capacity ?? 100, ttlSeconds: options.ttlSeconds ?? 0, ...(options.loader ? { loader: options.loader } : {}) }, undefined);

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('ObjectCache', () => {
  test('get/set/has/delete with hit and miss counts', () => {
    const c = cache<number>();
    assert.equal(c.get('a'), undefined);
    c.set('a', 1);
    assert.equal(c.get('a'), 1);
    assert.equal(c.has('a'), true);
    assert.equal(c.delete('a'), true);
    assert.equal(c.has('a'), false);
    const s = c.stats();
    assert.equal(s.hits, 1);
    assert.equal(s.misses, 1);
  });

  test('evicts the least recently used beyond capacity, and counts it', () => {
    const c = cache<number>({ capacity: 2 });
    c.set('a', 1);
    c.set('b', 2);
    c.get('a');
    c.set('c', 3);
    assert.deepEqual(c.keys().sort(), ['a', 'c']);
    assert.equal(c.stats().evictions, 1);
  });

  test('shrinking capacity keeps the most recently used; growing keeps all', () => {
    const c = cache<number>({ capacity: 10 });
    for (const k of ['a', 'b', 'c', 'd']) c.set(k, 1);
    c.get('a');
    c.setCapacity(2);
    assert.deepEqual(c.keys().sort(), ['a', 'd']);
    assert.equal(c.capacity, 2);
    c.setCapacity(50);
    assert.deepEqual(c.keys().sort(), ['a', 'd']);
    assert.throws(() => c.setCapacity(0), InvalidArgumentError);
  });

  test('entries expire after ttlSeconds', async () => {
    const c = new ObjectCache<number>('t', { capacity: 10, ttlSeconds: 1 }, undefined);
    c.set('a', 1);
    assert.equal(c.get('a'), 1);
    await new Promise((r) => setTimeout(r, 1050));
    assert.equal(c.get('a'), undefined);
  });

  test('getOrLoad: concurrent misses call the loader once', async () => {
    let calls = 0;
    const gate = deferred<void>();
    const c = cache<string>({
      loader: async (key) => {
        calls++;
        await gate.promise;
        return `value of ${key}`;
      },
    });
    const all = Promise.all([c.getOrLoad('k'), c.getOrLoad('k'), c.getOrLoad('k')]);
    gate.resolve();
    assert.deepEqual(await all, ['value of k', 'value of k', 'value of k']);
    assert.equal(calls, 1);
    assert.equal(await c.getOrLoad('k'), 'value of k');
    assert.equal(calls, 1, 'then a hit');
    assert.equal(c.stats().loads, 1);
  });

  test('an invalidation during a load wins: the loaded value is returned but not stored', async () => {
    const gate = deferred<void>();
    const c = cache<string>({
      loader: async () => {
        await gate.promise;
        return 'read before the change';
      },
    });
    const loading = c.getOrLoad('k');
    await c.invalidate('k');
    gate.resolve();
    assert.equal(await loading, 'read before the change');
    assert.equal(c.has('k'), false, 'not served stale afterwards');
  });

  test('a loader that returns undefined caches nothing; one that throws gives LoaderError', async () => {
    const c = cache<string>({ loader: (key) => (key === 'boom' ? Promise.reject(new Error('db down')) : undefined) });
    assert.equal(await c.getOrLoad('missing'), undefined);
    assert.equal(c.has('missing'), false);
    await assert.rejects(c.getOrLoad('boom'), (error: unknown) => error instanceof LoaderError && (error.cause as Error).message === 'db down');
    assert.equal(c.stats().loadErrors, 1);
    await assert.rejects(cache().getOrLoad('x'), NoLoaderError);
  });

  test('reload clears and warms the keys it held through the loader', async () => {
    let version = 1;
    const c = cache<string>({ loader: (key) => `${key}@${version}` });
    await c.getOrLoad('a');
    await c.getOrLoad('b');
    version = 2;
    assert.deepEqual(await c.reload({ warm: true }), { warmed: 2 });
    assert.equal(c.get('a'), 'a@2');
  });

  test('keys are validated at the API', () => {
    const c = cache();
    assert.throws(() => c.set('', 1), InvalidArgumentError);
    assert.throws(() => c.get('x'.repeat(600)), InvalidArgumentError);
  });
});

describe('ObjectCacheManager', () => {
  test('configured types exist from the start; create() adopts one once, with a loader', async () => {
    const manager = new ObjectCacheManager([{ type: 'product', capacity: 5, ttlSeconds: 0 }], undefined);
    assert.deepEqual(manager.types(), ['product']);
    const product = manager.create('product', { loader: (k) => k.toUpperCase() });
    assert.equal(product.capacity, 5, 'server.xml capacity kept');
    assert.equal(await product.getOrLoad('x'), 'X');
    assert.throws(() => manager.create('product'), CacheExistsError);
    const other = manager.create('other', { capacity: 3 });
    assert.equal(other.capacity, 3);
    assert.throws(() => manager.require('nope'), UnknownCacheTypeError);
    assert.throws(() => manager.create('bad type'), InvalidArgumentError);
    assert.equal(manager.totalEntries, 1);
  });
});

describe('cache options are checked at every door', () => {
  test('create, configure, setCapacity and setTtl refuse what lru-cache would, with a coded error', () => {
    const manager = new ObjectCacheManager([{ type: 'product', capacity: 5, ttlSeconds: 0 }], undefined);
    const refused = (fn: () => unknown, option: RegExp) =>
      assert.throws(fn, (error: unknown) => error instanceof InvalidArgumentError && error.code === 'CASTMIRROR_INVALID_ARGUMENT' && option.test(error.message));
    refused(() => manager.create('x', { capacity: -1 }), /capacity/);
    refused(() => manager.create('x', { capacity: 0 }), /capacity/);
    refused(() => manager.create('x', { capacity: 1.5 }), /capacity/);
    refused(() => manager.create('x', { ttlSeconds: -3 }), /ttlSeconds/);
    refused(() => manager.create('x', { loader: 'no' as never }), /loader/);
    assert.equal(manager.get('x'), undefined, 'a refused create makes no cache');
    // A configured type that a refused create tried to adopt can still be adopted.
    refused(() => manager.create('product', { capacity: -1 }), /capacity/);
    const product = manager.create('product', { capacity: 7 });
    assert.equal(product.capacity, 7);
    refused(() => product.setCapacity(0), /capacity/);
    refused(() => product.setTtl(-1), /ttlSeconds/);
    refused(() => product.configure({ ttlSeconds: Number.NaN }), /ttlSeconds/);
    assert.deepEqual([product.capacity, product.ttlSeconds], [7, 0], 'nothing refused was applied');
  });
});

describe('single flight and invalidation', () => {
  test('a read that starts after an invalidation never receives a value loaded before it', async () => {
    let version = 1;
    const pending: (() => void)[] = [];
    let calls = 0;
    const cache = new ObjectCache<number>('price', { capacity: 10, ttlSeconds: 0, loader: () => {
      calls++;
      const value = version;
      return new Promise<number>((resolve) => pending.push(() => resolve(value)));
    } }, undefined);
    const before = cache.getOrLoad('sku-1'); // starts a load that reads version 1
    await new Promise((resolve) => setImmediate(resolve));
    version = 2; // the source changes, and the key is invalidated, while that load runs
    await cache.invalidate('sku-1');
    const after = cache.getOrLoad('sku-1');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls, 2, 'the later read loads again instead of joining the older load');
    for (const release of pending) release();
    assert.equal(await before, 1, 'the earlier caller gets what it waited for');
    assert.equal(await after, 2);
    assert.equal(cache.get('sku-1'), 2, 'only the newer value is cached');
  });
});

describe('the lease', () => {
  test('while the cluster is not coherent, held values are not served: reads go to the loader, the entries stay', async () => {
    let coherent = true;
    const published: string[] = [];
    const publisher = {
      publishInvalidate: async (_type: string, key: string) => void published.push(key),
      publishClear: async () => {},
      isCoherent: () => coherent,
    };
    let source = 1;
    const cache = new ObjectCache<number>('price', { capacity: 10, ttlSeconds: 0, loader: () => source }, publisher);
    assert.equal(await cache.getOrLoad('eur'), 1);
    source = 2; // changed at the source; its invalidation is lost somewhere
    coherent = false;
    assert.equal(cache.get('eur'), undefined, 'not served');
    assert.equal(cache.has('eur'), false);
    assert.equal(await cache.getOrLoad('eur'), 2, 'loaded from the source');
    assert.equal(cache.size, 1);
    coherent = true;
    assert.equal(cache.get('eur'), 2, 'served again, the fresh value');
    const stats = cache.stats();
    assert.equal(stats.leaseMisses, 2);
    assert.equal(stats.loads, 2);
  });
});
