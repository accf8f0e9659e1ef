/**
 * connect-redis's store lifecycle test (index_test.ts, `lifecycleTest` and `load`), vendored
 * with its Redis specifics replaced (see ../README.md): where it read a key's TTL from Redis,
 * it reads how long the store will keep the session (`ttl`, seconds); `expect` is a small shim
 * of vitest's over node:assert.
 */
import assert from 'node:assert/strict';
import { Cookie } from 'express-session';
import type { CastmirrorStore } from '../../../lib/express-session/store.js';

/** Seconds the store keeps `sid` from now (castmirror: in place of Redis's TTL command). */
export type TtlOf = (sid: string) => number;

function expect(actual: unknown) {
  return {
    toBe: (expected: unknown) => assert.equal(actual, expected),
    toEqual: (expected: unknown) => assert.deepEqual(actual, expected),
    toBeGreaterThanOrEqual: (n: number) => assert.ok((actual as number) >= n, `${String(actual)} >= ${n}`),
    toBeLessThanOrEqual: (n: number) => assert.ok((actual as number) <= n, `${String(actual)} <= ${n}`),
    toBeGreaterThan: (n: number) => assert.ok((actual as number) > n, `${String(actual)} > ${n}`),
  };
}

export async function lifecycleTest(store: CastmirrorStore, ttlOf: TtlOf, idleTimeoutSeconds: number): Promise<void> {
  let res: any = await store.clear();

  let sess = { foo: 'bar', cookie: { originalMaxAge: null } };
  await store.set('123', sess as any);

  res = await store.get('123');
  expect(res).toEqual(sess);

  // castmirror: without an expiry the session lives by the idle timeout (connect-redis: its one-day TTL).
  let ttl = ttlOf('123');
  expect(ttl).toBeGreaterThanOrEqual(idleTimeoutSeconds - 1);

  ttl = 60;
  let expires = new Date(Date.now() + ttl * 1000);
  await store.set('456', { cookie: { originalMaxAge: null, expires } } as any);
  ttl = ttlOf('456');
  expect(ttl).toBeLessThanOrEqual(60);

  ttl = 90;
  let expires2 = new Date(Date.now() + ttl * 1000);
  await store.touch('456', { cookie: { originalMaxAge: null, expires: expires2 } } as any);
  ttl = ttlOf('456');
  expect(ttl).toBeGreaterThan(60);

  res = await store.length();
  expect(res).toBe(2); // stored two keys length

  res = await store.ids();
  res.sort();
  expect(res).toEqual(['123', '456']);

  res = await store.all();
  res.sort((a: any, b: any) => (a.id > b.id ? 1 : -1));
  // castmirror: touch() keeps the cookie it is given, as express-session's MemoryStore does
  // (connect-redis only moves the key's TTL and still returns the first expiry).
  expect(res).toEqual([
    { id: '123', foo: 'bar', cookie: { originalMaxAge: null } },
    { id: '456', cookie: { originalMaxAge: null, expires: expires2.toISOString() } },
  ]);

  await store.destroy('456');
  res = await store.length();
  expect(res).toBe(1); // one key remains

  res = await store.clear();

  res = await store.length();
  expect(res).toBe(0); // no keys remain

  let count = 1000;
  await load(store, count);

  res = await store.length();
  expect(res).toBe(count);

  await store.clear();
  res = await store.length();
  expect(res).toBe(0);

  expires = new Date(Date.now() + ttl * 1000); // expires in the future
  res = await store.set('789', { cookie: { originalMaxAge: null, expires } } as any);

  res = await store.length();
  expect(res).toBe(1);

  expires = new Date(Date.now() - ttl * 1000); // expires in the past
  await store.set('789', { cookie: { originalMaxAge: null, expires } } as any);

  res = await store.length();
  expect(res).toBe(0); // no key remains and that includes session 789
}

async function load(store: CastmirrorStore, count: number): Promise<void> {
  let cookie = new Cookie();
  for (let sid = 0; sid < count; sid++) {
    // castmirror: 60 s, not 1 s: 1,000 sync-mirrored sets on a busy machine can take longer than
    // a second, and the first sessions would expire before length() counts them.
    cookie.expires = new Date(Date.now() + 60_000);
    await store.set('s' + sid, { cookie } as any);
  }
}
