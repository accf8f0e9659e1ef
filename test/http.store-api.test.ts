/**
 * CastmirrorStore's contract with express-session, @fastify/session and connect-redis users,
 * called directly: on one standalone node, then on two in-process nodes with real sockets in
 * sync mode. The cookie is part of the session (a cookie-only change is kept, without a
 * commit), its expiry is the session's (on the backup too), any string id works, a refusal
 * changes nothing, callbacks run once and outside promise reactions, promises without them,
 * `connect`/`disconnect` follow the node, and an unknown id is looked for in the cluster once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SessionData } from 'express-session';
import { CastmirrorStore } from '../lib/express-session/store.js';
import { keyOf } from '../lib/express-session/stored-form.js';
import type { CacheNode } from '../lib/index.js';
import { nodePair, standaloneNode, type NodePair } from './helpers/nodes.js';
import { newSessionId } from '../lib/session/id.js';
import { eventually, sleep } from './helpers/wait.js';

const call = <T = any>(fn: (cb: (error?: unknown, value?: T) => void) => void): Promise<T | undefined> =>
  new Promise((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))));

const cookieFor = (maxAgeMs: number) => ({ originalMaxAge: maxAgeMs, expires: new Date(Date.now() + maxAgeMs), httpOnly: true, path: '/' });
const data = (extra: Record<string, unknown>, cookie: object = cookieFor(60_000)) => ({ cookie, ...extra }) as unknown as SessionData;

describe('CastmirrorStore on a standalone node', () => {
  let node: CacheNode;
  let store: CastmirrorStore;
  before(async () => {
    node = await standaloneNode();
    store = new CastmirrorStore({ node });
  });
  after(() => node.close());

  test('set then get; a miss is null; get returns a copy, the cookie as express-session stored it', async () => {
    const sid = newSessionId();
    assert.equal(await call((cb) => store.get(sid, cb)), null);
    const cookie = cookieFor(60_000);
    await call((cb) => store.set(sid, data({ user: 'ada', cart: { 'sku-1': 2 } }, cookie), cb));
    const got = (await call<any>((cb) => store.get(sid, cb))) as Record<string, any>;
    assert.deepEqual(got, { user: 'ada', cart: { 'sku-1': 2 }, cookie: { ...cookie, expires: cookie.expires.toISOString() } });
    got.cart['sku-1'] = 99;
    const again = (await call<any>((cb) => store.get(sid, cb))) as Record<string, any>;
    assert.equal(again.cart['sku-1'], 2, 'editing what get() returned changes nothing until set()');
  });

  test('a cookie-only change (a rolling expiry) is kept without a commit; a changed attribute (remember me) is committed', async () => {
    const sid = newSessionId();
    await call((cb) => store.set(sid, data({ cart: 1 }, cookieFor(60_000)), cb));
    const version = node.sessions.inspect(sid)!.session.version;
    const unchangedBefore = store.stats.unchangedSets;
    const rolled = cookieFor(120_000);
    await call((cb) => store.set(sid, data({ cart: 1 }, { ...rolled, originalMaxAge: 60_000 }), cb));
    assert.equal(store.stats.unchangedSets, unchangedBefore + 1);
    assert.equal(node.sessions.inspect(sid)!.session.version, version, 'no new version');
    assert.equal((await call<any>((cb) => store.get(sid, cb))).cookie.expires, rolled.expires.toISOString(), 'the new expiry is what get() returns');
    // "Remember me": maxAge of 30 days, nothing else changed.
    const month = cookieFor(30 * 86_400_000);
    await call((cb) => store.set(sid, data({ cart: 1 }, month), cb));
    assert.equal(node.sessions.inspect(sid)!.session.version, version + 1, 'committed: the attributes changed');
    assert.equal(node.sessions.inspect(sid)!.session.meta.expiresAt, month.expires.getTime(), 'the session lives as long as its cookie, beyond the idle timeout');
  });

  test('touch() keeps the expiry it is given', async () => {
    const sid = newSessionId();
    await call((cb) => store.set(sid, data({ n: 1 }, cookieFor(1_000)), cb));
    const later = cookieFor(90_000);
    await call((cb) => store.touch(sid, data({ n: 1 }, later), cb));
    assert.equal(node.sessions.inspect(sid)!.session.meta.expiresAt, later.expires.getTime());
  });

  test('an expired cookie ends the session: get() is null, it is not counted; a set() already expired destroys it', async () => {
    const sid = newSessionId();
    await call((cb) => store.set(sid, data({ n: 1 }, cookieFor(30)), cb));
    assert.notEqual(await call((cb) => store.get(sid, cb)), null);
    await sleep(60);
    assert.equal(await call((cb) => store.get(sid, cb)), null, 'a replayed cookie does not outlive the expiry the application gave it');
    assert.ok(!(await store.ids()).includes(sid));
    const other = newSessionId();
    await store.set(other, data({ n: 1 }));
    await store.set(other, data({ n: 1 }, { originalMaxAge: null, expires: new Date(Date.now() - 1000) }));
    assert.equal(await store.get(other), null);
  });

  test('any string express-session can produce is an id; all() and ids() give it back', async () => {
    const ids = ['tenant:42:' + crypto.randomUUID(), 'a'.repeat(96), Buffer.from('x'.repeat(40)).toString('base64'), '123', 'ünïcødé id'];
    for (const [n, sid] of ids.entries()) await store.set(sid, data({ n }));
    for (const [n, sid] of ids.entries()) assert.equal(((await store.get(sid)) as Record<string, unknown>).n, n, sid);
    const listed = await store.ids();
    for (const sid of ids) assert.ok(listed.includes(sid), `${sid} listed`);
    const all = await store.all();
    assert.equal(all.find((s) => s.id === ids[0])?.n, 0);
    assert.equal(keyOf('123'), keyOf('123'), 'the same key on every node');
    await assert.rejects(store.set('', data({})) , { code: 'CASTMIRROR_INVALID_ARGUMENT' });
  });

  test('a refused set() changes nothing; a session without a cookie is kept as given', async () => {
    const sid = newSessionId();
    await store.set(sid, data({ n: 1 }));
    const circular: Record<string, unknown> = { n: 2 };
    circular.self = circular;
    await assert.rejects(store.set(sid, data(circular)) , { code: 'CASTMIRROR_INVALID_ARGUMENT' });
    await assert.rejects(store.set(sid, data({ n: 3 }, { expires: 'not a date' })) , { code: 'CASTMIRROR_INVALID_ARGUMENT' });
    assert.equal(((await store.get(sid)) as Record<string, unknown>).n, 1, 'the stored session is untouched');
    await store.set(sid, { foo: 'bar' } as unknown as SessionData);
    assert.deepEqual(await store.get(sid), { foo: 'bar' }, 'as MemoryStore does: express-session refuses it at its next load');
  });

  test('callbacks run once, on a later tick, outside promise reactions: one that throws is an uncaught exception', async () => {
    const sid = newSessionId();
    let calls = 0;
    const uncaught = new Promise<Error>((resolve) => {
      const listeners = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      process.once('uncaughtException', (error) => {
        for (const l of listeners) process.on('uncaughtException', l);
        resolve(error);
      });
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const returned = store.set(sid, data({ n: 1 }), () => {
        calls++;
        throw new Error('thrown by the callback');
      });
      assert.equal(returned, undefined, 'with a callback, no promise');
      assert.equal((await uncaught).message, 'thrown by the callback');
      await sleep(20);
      assert.equal(calls, 1);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('every method has a promise form; destroy, length and clear', async () => {
    const [one, two] = [newSessionId(), newSessionId()];
    await store.clear();
    await store.set(one, data({ n: 1 }));
    await store.set(two, data({ n: 2 }));
    assert.equal(await store.length(), 2);
    await store.destroy(one);
    assert.equal(await store.get(one), null);
    assert.equal(await store.length(), 1);
    await store.clear();
    assert.equal(await store.length(), 0);
    assert.deepEqual(await store.all(), []);
  });

  test('`disconnect` when the node closes (express-session then stops using the store)', async () => {
    const own = await standaloneNode();
    const mine = new CastmirrorStore({ node: own });
    const events: string[] = [];
    mine.on('connect', () => events.push('connect')); // a closed node does not come back
    mine.on('disconnect', () => events.push('disconnect'));
    await sleep(5);
    await own.close();
    await sleep(5);
    assert.deepEqual(events, ['disconnect']);
    await assert.rejects(mine.set(newSessionId(), data({})) , { code: 'CASTMIRROR_CLOSED' });
  });

  test('SessionManager.runExisting never creates; runOrCreate creates under the given id', async () => {
    const sid = newSessionId();
    assert.equal(await node.sessions.runExisting({ sessionId: sid }, () => 1), undefined);
    assert.equal(node.sessions.inspect(sid), undefined);
    const created = await node.sessions.runOrCreate({ sessionId: sid }, (s) => s.global.set('k', 1));
    assert.equal(created.outcome, 'created');
    const found = await node.sessions.runExisting({ sessionId: sid }, (s) => s.global.get('k'));
    assert.equal(found?.result, 1);
    assert.equal(found?.outcome, 'served');
  });
});

describe('CastmirrorStore on two nodes, sync mode (real sockets)', { timeout: 60_000 }, () => {
  let pair: NodePair;
  let a: CacheNode;
  let b: CacheNode;
  let onA: CastmirrorStore;
  let onB: CastmirrorStore;
  before(async () => {
    pair = await nodePair();
    [a, b] = pair.nodes;
    onA = new CastmirrorStore({ node: a });
    onB = new CastmirrorStore({ node: b });
  });
  after(() => pair?.close());

  test('the cookie expiry reaches the backup: a session found there after its primary is gone ends when its cookie does', async () => {
    const sid = 'tenant:7:' + crypto.randomUUID();
    const cookie = cookieFor(45 * 60_000);
    await onA.set(sid, data({ n: 1 }, cookie));
    const copy = b.sessions.inspect(keyOf(sid));
    assert.equal(copy?.role, 'backup');
    assert.equal(copy.session.meta.expiresAt, cookie.expires.getTime());
    assert.equal(((await onB.get(sid)) as Record<string, unknown>).n, 1, 'the other node finds it under the same id');
  });

  test('a session over the frame limit is refused at set() with a coded error, and nothing is kept', async () => {
    const sid = newSessionId();
    await onA.set(sid, data({ n: 1 }));
    const big = 'x'.repeat(9 * 1024 * 1024);
    await assert.rejects(onA.set(sid, data({ big })) , { code: 'CASTMIRROR_SESSION_TOO_LARGE' });
    assert.equal(((await onA.get(sid)) as Record<string, unknown>).n, 1, 'the primary kept the last acknowledged state');
    await assert.rejects(onA.set(newSessionId(), data({ big })) , { code: 'CASTMIRROR_SESSION_TOO_LARGE' });
  });

  test('an unknown id is looked for in the cluster once; a session created under it later is found', async () => {
    const sid = newSessionId();
    const locatesBefore = a.sessions.snapshotStats().locates;
    for (let i = 0; i < 20; i++) assert.equal(await onA.get(sid), null);
    assert.equal(a.sessions.snapshotStats().locates - locatesBefore, 1, 'one locate for 20 lookups of a stale cookie');
    assert.ok(onA.stats.knownMisses >= 19);
    await onB.set(sid, data({ n: 5 }));
    await eventually(async () => ((await onA.get(sid)) as Record<string, unknown> | null)?.n === 5, { what: 'node-a finds the session node-b created', timeoutMs: 5_000 });
  });
});
