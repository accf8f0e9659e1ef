import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ObjectCacheManager } from '../lib/cache/manager.js';
import { FrameCodec } from '../lib/wire/frame.js';
import { HEARTBEAT, makeCores, SECRET } from './helpers/cores.js';

const TYPES = [
  { type: 'product', capacity: 10_000, ttlSeconds: 0 },
  { type: 'price', capacity: 10_000, ttlSeconds: 0 },
];

/** Cores with caches, started and converged. */
async function cluster(names: string[], maxDatagramBytes?: number) {
  const c = makeCores(names, maxDatagramBytes ? { maxDatagramBytes } : {});
  const caches = new Map(names.map((n) => [n, new ObjectCacheManager(TYPES, c.get(n).core.bus)]));
  for (const { core } of c.cores.values()) core.start();
  await c.clock.advance(HEARTBEAT.intervalMs);
  return { ...c, caches: (name: string) => caches.get(name)! };
}

/** Decodes which invalidation datagrams went over the network. */
function invalidationsSent(sent: Uint8Array[]) {
  const codec = new FrameCodec({ cluster: 'unit', secret: SECRET, maxFrameBytes: 65_000 });
  return sent.map((d) => codec.decode(d)).filter((e) => e.kind === 'invalidate');
}

describe('publishing', () => {
  test('invalidations published together share one datagram and reach every node', async () => {
    const c = await cluster(['a', 'b', 'c']);
    for (const node of ['b', 'c']) for (let i = 0; i < 50; i++) c.caches(node).require('product').set(`sku-${i}`, i);
    c.network.sent = [];
    await Promise.all(Array.from({ length: 50 }, (_, i) => c.caches('a').require('product').invalidate(`sku-${i}`)));
    assert.equal(invalidationsSent(c.network.sent).length, 1);
    assert.equal(c.caches('b').require('product').size, 0);
    assert.equal(c.caches('c').require('product').size, 0);
    assert.equal(c.caches('b').require('product').stats().invalidationsReceived, 50);
  });

  test('a batch too big for one datagram is split, each within the limit', async () => {
    const c = await cluster(['a', 'b'], 1400);
    const keys = Array.from({ length: 1000 }, (_, i) => `product-key-with-some-length-${i}`);
    for (const key of keys) c.caches('b').require('product').set(key, 1);
    c.network.sent = [];
    await Promise.all(keys.map((k) => c.caches('a').require('product').invalidate(k)));
    const datagrams = c.network.sent;
    assert.ok(datagrams.length > 10, `${datagrams.length} datagrams`);
    for (const d of datagrams) assert.ok(d.length <= 1400, `datagram of ${d.length} bytes`);
    assert.equal(c.caches('b').require('product').size, 0);
    assert.equal(c.get('b').core.bus.stats.clearsByReason.gap, 0, 'no gap: every piece arrived');
  });

  test('clear() empties the type on every node', async () => {
    const c = await cluster(['a', 'b']);
    c.caches('b').require('price').set('p', 1);
    c.caches('b').require('product').set('p', 1);
    await c.caches('a').require('price').clear();
    assert.equal(c.caches('b').require('price').size, 0);
    assert.equal(c.caches('b').require('product').size, 1);
    assert.equal(c.caches('b').require('price').stats().clearsReceived, 1);
  });
});

describe('loss detection', () => {
  test('a lost datagram clears only the cache type it touched, when the next one for that type arrives', async () => {
    const c = await cluster(['a', 'b']);
    const b = c.caches('b');
    b.require('product').set('sku-1', 1);
    b.require('product').set('sku-2', 2);
    b.require('price').set('eur', 1);
    let lose = true;
    c.network.drop = (_d, from, to) => {
      if (lose && from === c.get('a').transport && to === c.get('b').transport) {
        lose = false;
        return true;
      }
      return false;
    };
    await c.caches('a').require('product').invalidate('sku-1'); // lost on its way to b
    assert.equal(b.require('product').has('sku-1'), true, 'b missed it');
    await c.caches('a').require('product').invalidate('sku-3'); // its entry names the lost one as prev
    assert.equal(b.require('product').size, 0, 'product cleared: sku-1 is not served stale');
    assert.equal(b.require('price').has('eur'), true, 'price is proven unaffected');
    assert.equal(b.require('product').stats().gapClears, 1);
    assert.equal(c.get('b').core.bus.stats.clearsByReason.gap, 1);
  });

  test('a lost last datagram is noticed at the next heartbeat', async () => {
    const c = await cluster(['a', 'b']);
    c.caches('b').require('price').set('eur', 1);
    c.caches('b').require('product').set('sku', 1);
    c.network.drop = (d, from, to) => from === c.get('a').transport && to === c.get('b').transport && d.length > 0 && c.network.sent.length > 0 && isInvalidation(d);
    await c.caches('a').require('price').invalidate('eur');
    assert.equal(c.caches('b').require('price').has('eur'), true);
    c.network.drop = () => false;
    await c.clock.advance(HEARTBEAT.intervalMs);
    assert.equal(c.caches('b').require('price').has('eur'), false, 'cleared within one heartbeat interval');
    assert.equal(c.caches('b').require('product').has('sku'), true);
    assert.equal(c.caches('b').require('price').stats().gapClears, 1);
  });

  test('a dead member may have lost its last datagrams: every type is cleared', async () => {
    const c = await cluster(['a', 'b', 'c']);
    c.caches('b').require('price').set('eur', 1);
    c.caches('b').require('product').set('sku', 1);
    c.kill('a');
    await c.clock.advance(HEARTBEAT.deadAfterMs + HEARTBEAT.intervalMs);
    assert.equal(c.get('b').core.membership.get('a')!.state, 'dead');
    assert.equal(c.caches('b').require('price').size + c.caches('b').require('product').size, 0);
    assert.equal(c.get('b').core.bus.stats.clearsByReason['member-lost'], 1);
  });

  test('a lease: when a sender\'s invalidation and its heartbeats are all lost, its silence clears the caches within two heartbeat intervals', async () => {
    const c = await cluster(['a', 'b']);
    c.caches('b').require('product').set('sku', 1);
    // Everything a sends is lost from here on: the invalidation, and the heartbeats that would reveal it.
    c.network.drop = (_d, from) => from === c.get('a').transport;
    await c.caches('a').require('product').invalidate('sku');
    assert.equal(c.caches('b').require('product').get('sku'), 1, 'still cached: nothing has arrived');
    await c.clock.advance(2 * HEARTBEAT.intervalMs + HEARTBEAT.intervalMs / 2);
    assert.equal(c.get('b').core.membership.get('a')!.state, 'suspect');
    assert.equal(c.caches('b').require('product').get('sku'), undefined, 'the lease ran out: the stale value is gone');
    assert.equal(c.get('b').core.bus.stats.clearsByReason['lease-expired'], 1);
  });

  test('a graceful goodbye that accounts for everything clears nothing', async () => {
    const c = await cluster(['a', 'b']);
    await c.caches('a').require('product').invalidate('x');
    c.caches('b').require('product').set('sku', 1);
    await c.get('a').core.stop();
    assert.equal(c.get('b').core.membership.get('a')!.state, 'left');
    assert.equal(c.caches('b').require('product').has('sku'), true);
    assert.deepEqual(c.get('b').core.bus.stats.clearsByReason, { gap: 0, 'first-contact': 0, 'member-lost': 0, 'sender-restarted': 0, 'lease-expired': 0 });
  });

  test('a restart seen before the death was detected clears every type', async () => {
    const c = await cluster(['a', 'b']);
    c.caches('b').require('product').set('sku', 1);
    c.kill('a');
    const restarted = c.add('a', 'a-2', 9000);
    new ObjectCacheManager(TYPES, restarted.core.bus);
    restarted.core.start();
    await c.clock.advance(HEARTBEAT.intervalMs);
    assert.equal(c.caches('b').require('product').size, 0);
    assert.equal(c.get('b').core.bus.stats.clearsByReason['sender-restarted'], 1);
  });

  test('first contact with a sender that published unseen invalidations clears those types if they hold anything', async () => {
    const c = makeCores(['a', 'b']);
    const a = new ObjectCacheManager(TYPES, c.get('a').core.bus);
    const b = new ObjectCacheManager(TYPES, c.get('b').core.bus);
    c.network.isolate(c.get('b').transport);
    c.get('a').core.start();
    c.get('b').core.start();
    b.require('product').set('sku', 1); // loaded while a's invalidation could not reach b
    await a.require('product').invalidate('sku');
    await a.require('price').invalidate('eur');
    c.network.reconnect(c.get('b').transport);
    await c.clock.advance(HEARTBEAT.intervalMs);
    assert.equal(b.require('product').has('sku'), false);
    assert.equal(b.require('product').stats().gapClears, 1);
    assert.equal(b.require('price').stats().gapClears, 0, 'an empty cache loses nothing and is not counted');
  });
});

function isInvalidation(datagram: Uint8Array): boolean {
  const codec = new FrameCodec({ cluster: 'unit', secret: SECRET, maxFrameBytes: 65_000 });
  return codec.decode(datagram).kind === 'invalidate';
}
