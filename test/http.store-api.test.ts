/**
 * CastmirrorStore's contract with express-session, on one standalone node in this process:
 * callbacks, misses, copies (a caller's edits are not the store's until set()), unchanged
 * sets counted and not committed, destroy, all/length/clear; and the SessionManager calls it
 * rests on (runExisting, runOrCreate).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SessionData } from 'express-session';
import { CastmirrorStore } from '../lib/express-session/store.js';
import { parseConfigText, startNode, type CacheNode } from '../lib/index.js';
import { newSessionId } from '../lib/session/id.js';

const call = <T = any>(fn: (cb: (error?: unknown, value?: T) => void) => void): Promise<T | undefined> =>
  new Promise((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))));

const cookie = { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000), httpOnly: true, path: '/' };
const data = (extra: Record<string, unknown>) => ({ cookie, ...extra }) as unknown as SessionData;

describe('CastmirrorStore on a standalone node', () => {
  let node: CacheNode;
  let store: CastmirrorStore;
  before(async () => {
    const config = parseConfigText('<Server name="solo"><Cluster>0</Cluster><ClusterNodes><Node name="a" host="127.0.0.1" httpPort="1" replicationPort="2" adminPort="3"/></ClusterNodes></Server>', 'inline.xml');
    node = await startNode({ config, nodeName: 'a', admin: false });
    store = new CastmirrorStore({ node });
  });
  after(() => node.close());

  test('set then get; a miss is null; get returns a copy', async () => {
    const sid = newSessionId();
    assert.equal(await call((cb) => store.get(sid, cb)), null);
    await call((cb) => store.set(sid, data({ user: 'ada', cart: { 'sku-1': 2 } }), cb));
    const got = (await call<any>((cb) => store.get(sid, cb))) as Record<string, any>;
    assert.equal(got.user, 'ada');
    assert.deepEqual(got.cart, { 'sku-1': 2 });
    assert.equal(got.cookie.expires, cookie.expires.toISOString(), 'the cookie comes back as express-session stored it (JSON)');
    got.cart['sku-1'] = 99;
    const again = (await call<any>((cb) => store.get(sid, cb))) as Record<string, any>;
    assert.equal(again.cart['sku-1'], 2, 'editing what get() returned changes nothing until set()');
  });

  test('an unchanged set() commits nothing and is counted; a nested change is committed', async () => {
    const sid = newSessionId();
    await call((cb) => store.set(sid, data({ cart: { 'sku-1': 1 } }), cb));
    const version = node.sessions.inspect(sid)!.session.version;
    const unchangedBefore = store.stats.unchangedSets;
    // Another cookie expiry, same data: express-session's rolling cookie does this.
    await call((cb) => store.set(sid, { ...data({ cart: { 'sku-1': 1 } }), cookie: { ...cookie, expires: new Date(Date.now() + 120_000) } } as unknown as SessionData, cb));
    assert.equal(store.stats.unchangedSets, unchangedBefore + 1);
    assert.equal(node.sessions.inspect(sid)!.session.version, version, 'no new version');
    await call((cb) => store.set(sid, data({ cart: { 'sku-1': 2 } }), cb));
    assert.equal(node.sessions.inspect(sid)!.session.version, version + 1);
  });

  test('touch keeps a session; destroy ends it; all, length and clear cover this node', async () => {
    const [one, two] = [newSessionId(), newSessionId()];
    await call((cb) => store.set(one, data({ n: 1 }), cb));
    await call((cb) => store.set(two, data({ n: 2 }), cb));
    await call((cb) => store.touch(one, data({ n: 1 }), cb));
    const all = (await call<Record<string, { n: number }> | null>((cb) => store.all(cb as never)))!;
    assert.equal(all[one]!.n, 1);
    assert.equal(all[two]!.n, 2);
    const length = (await call<number>((cb) => store.length(cb as never)))!;
    assert.ok(length >= 2);
    await call((cb) => store.destroy(one, cb));
    assert.equal(await call((cb) => store.get(one, cb)), null);
    await call((cb) => store.clear(cb));
    assert.equal(await call<number>((cb) => store.length(cb as never)), 0);
    assert.equal(await call((cb) => store.get(two, cb)), null);
  });

  test('an id the store cannot use is an error in the callback, not a throw', async () => {
    await assert.rejects(call((cb) => store.set('short', data({}), cb)), { code: 'CASTMIRROR_INVALID_ARGUMENT' });
  });

  test('SessionManager.runExisting never creates; runOrCreate creates under the given id', async () => {
    const sid = newSessionId();
    assert.equal(await node.sessions.runExisting({ sessionId: sid }, () => 1), undefined);
    assert.equal(node.sessions.inspect(sid), undefined);
    const created = await node.sessions.runOrCreate({ sessionId: sid }, (s) => s.global.set('k', 1));
    assert.equal(created.outcome, 'created');
    assert.equal(created.session.id, sid);
    const found = await node.sessions.runExisting({ sessionId: sid }, (s) => s.global.get('k'));
    assert.equal(found?.result, 1);
    assert.equal(found?.outcome, 'served');
  });
});
