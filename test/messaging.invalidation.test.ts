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
async function cluster(names: string[], options: { maxDatagramBytes?: number; retransmit?: boolean } = {}) {
  const c = makeCores(names, options);
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
    const c = await cluster(['a', 'b'], { maxDatagramBytes: 1400 });
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

describe('loss detection and repair', () => {
  /** Loses the next `count` datagrams from a to b that `match` selects (all kinds by default). */
  function loseFromAToB(c: Awaited<ReturnType<typeof cluster>>, count: number, match: (d: Uint8Array) => boolean = () => true) {
    let left = count;
    c.network.drop = (d, from, to) => {
      if (left > 0 && from === c.get('a').transport && to === c.get('b').transport && match(d)) {
        left--;
        return true;
      }
      return false;
    };
  }

  test('a lost datagram is asked for again (NAK) and applied: nothing is cleared', async () => {
    const c = await cluster(['a', 'b', 'c']);
    const b = c.caches('b');
    b.require('product').set('sku-1', 1);
    b.require('product').set('sku-2', 2);
    b.require('price').set('eur', 1);
    c.caches('c').require('product').set('sku-1', 1);
    loseFromAToB(c, 1, isInvalidation);
    await c.caches('a').require('product').invalidate('sku-1'); // lost on its way to b
    assert.equal(b.require('product').has('sku-1'), true, 'b missed it');
    await c.caches('a').require('product').invalidate('sku-3'); // b sees the gap, asks, gets sku-1 again
    await c.clock.advance(0);
    assert.equal(b.require('product').has('sku-1'), false, 'the retransmitted invalidation was applied');
    assert.equal(b.require('product').has('sku-2'), true, 'and nothing else was dropped');
    assert.equal(b.require('price').has('eur'), true);
    const stats = c.get('b').core.bus.stats;
    assert.equal(stats.clearsByReason.gap, 0);
    assert.equal(stats.datagramsRecovered, 1);
    assert.equal(stats.repairs, 1);
    assert.equal(c.get('a').core.bus.stats.retransmitsSent, 1);
    assert.equal(c.get('c').core.bus.stats.duplicates, 1, 'c already had it: the copy is counted, not applied twice');
    assert.equal(c.caches('c').require('product').stats().invalidationsReceived, 2);
    assert.equal(c.get('b').core.bus.isCoherent(), true);
  });

  test('without retransmission, a lost datagram clears only the cache type it touched when the next one for that type arrives', async () => {
    const c = await cluster(['a', 'b'], { retransmit: false });
    const b = c.caches('b');
    b.require('product').set('sku-1', 1);
    b.require('product').set('sku-2', 2);
    b.require('price').set('eur', 1);
    loseFromAToB(c, 1);
    await c.caches('a').require('product').invalidate('sku-1');
    await c.caches('a').require('product').invalidate('sku-3'); // its entry names the lost one as prev
    assert.equal(b.require('product').size, 0, 'product cleared: sku-1 is not served stale');
    assert.equal(b.require('price').has('eur'), true, 'price is proven unaffected');
    assert.equal(b.require('product').stats().gapClears, 1);
    assert.equal(c.get('b').core.bus.stats.clearsByReason.gap, 1);
    assert.equal(c.get('b').core.bus.stats.naksSent, 0);
  });

  test('a lost last datagram is noticed at the next heartbeat, asked for and applied', async () => {
    const c = await cluster(['a', 'b']);
    c.caches('b').require('price').set('eur', 1);
    c.caches('b').require('product').set('sku', 1);
    loseFromAToB(c, 1, isInvalidation);
    await c.caches('a').require('price').invalidate('eur');
    assert.equal(c.caches('b').require('price').has('eur'), true);
    await c.clock.advance(HEARTBEAT.intervalMs);
    assert.equal(c.caches('b').require('price').has('eur'), false, 'applied within one heartbeat interval');
    assert.equal(c.caches('b').require('product').has('sku'), true);
    assert.equal(c.caches('b').require('price').stats().gapClears, 0);
    assert.equal(c.get('b').core.bus.stats.repairs, 1);
  });

  test('when the retransmission does not come, the types the loss touched are cleared at the repair deadline', async () => {
    const c = await cluster(['a', 'b']);
    c.caches('b').require('price').set('eur', 1);
    c.caches('b').require('product').set('sku', 1);
    // The invalidation and every retransmission of it are lost; heartbeats get through.
    loseFromAToB(c, Infinity, isInvalidation);
    await c.caches('a').require('price').invalidate('eur');
    await c.clock.advance(HEARTBEAT.intervalMs);
    assert.ok(c.get('b').core.bus.stats.naksSent >= 1, 'it was asked for');
    await c.clock.advance(HEARTBEAT.intervalMs / 2);
    assert.equal(c.caches('b').require('price').has('eur'), false, 'price cleared');
    assert.equal(c.caches('b').require('price').stats().gapClears, 1);
    assert.equal(c.caches('b').require('product').has('sku'), true, 'product is proven unaffected');
  });

  test('a sender whose buffer no longer holds the datagram: the sender counts it unavailable, the asker clears at the deadline', async () => {
    const c = await cluster(['a', 'b']);
    c.caches('b').require('price').set('eur', 1);
    c.caches('b').require('product').set('sku', 1);
    loseFromAToB(c, 1, isInvalidation); // seq 1 (price) is lost
    // b's NAKs are lost while a publishes enough to push seq 1 out of its buffer.
    const isNak = (d: Uint8Array) => new FrameCodec({ cluster: 'unit', secret: SECRET, maxFrameBytes: 65_000 }).decode(d).kind === 'nak';
    const lossToB = c.network.drop;
    c.network.drop = (d, from, to) => (from === c.get('b').transport && isNak(d)) || lossToB(d, from, to);
    await c.caches('a').require('price').invalidate('eur');
    for (let i = 0; i < 1100; i++) await c.caches('a').require('product').invalidate(`k${i}`);
    c.network.drop = () => false;
    await c.clock.advance(2 * HEARTBEAT.intervalMs);
    assert.ok(c.get('a').core.bus.stats.retransmitsUnavailable >= 1);
    assert.equal(c.caches('b').require('price').has('eur'), false, 'price cleared at the deadline');
    assert.equal(c.caches('b').require('price').stats().gapClears, 1);
    assert.equal(c.caches('b').require('product').has('sku'), true, 'product is proven unaffected');
  });

  test('more lost than a sender keeps: the types it touched are cleared at its next heartbeat', async () => {
    const c = await cluster(['a', 'b']);
    c.caches('b').require('price').set('eur', 1);
    c.network.drop = (_d, from, to) => from === c.get('a').transport && to === c.get('b').transport;
    await c.caches('a').require('price').invalidate('eur'); // seq 1, lost
    for (let i = 0; i < 1100; i++) await c.caches('a').require('product').invalidate(`k${i}`); // push seq 1 out of a's buffer
    c.network.drop = () => false;
    await c.clock.advance(2 * HEARTBEAT.intervalMs);
    assert.equal(c.caches('b').require('price').has('eur'), false);
    assert.ok(c.get('b').core.bus.stats.clearsByReason.gap >= 1);
  });

  test('the lease: while a sender\'s invalidation and its heartbeats are all lost, its values are not served after leaseMs, and are again once it is heard', async () => {
    const c = await cluster(['a', 'b']);
    const product = c.caches('b').require('product');
    const price = c.caches('b').require('price');
    product.set('sku', 1);
    price.set('eur', 1);
    // Everything a sends is lost from here on: the invalidation, the heartbeats that would reveal it, the answers to probes.
    c.network.drop = (_d, from) => from === c.get('a').transport;
    await c.caches('a').require('product').invalidate('sku');
    assert.equal(product.get('sku'), 1, 'still served: within the lease');
    await c.clock.advance(HEARTBEAT.intervalMs * 1.25 + HEARTBEAT.intervalMs / 8);
    assert.equal(c.get('b').core.bus.isCoherent(), false);
    assert.equal(product.get('sku'), undefined, 'the lease ran out: the possibly stale value is not served');
    assert.equal(price.get('eur'), undefined, 'nor is any other: any invalidation of a may be lost');
    assert.equal(product.size, 1, 'the entries stay');
    assert.ok(product.stats().leaseMisses >= 1);
    assert.ok(c.get('b').core.bus.stats.probesSent >= 1, 'the late heartbeat was asked for');
    assert.ok(c.get('b').core.bus.stats.leaseLapses >= 1);
    c.network.drop = () => false;
    await c.clock.advance(HEARTBEAT.intervalMs);
    assert.equal(c.get('b').core.bus.isCoherent(), true, 'a heartbeat got through: confirmed again');
    assert.equal(product.get('sku'), undefined, 'the lost invalidation was asked for and applied');
    assert.equal(price.get('eur'), 1, 'the rest is served again, never cleared');
    assert.equal(c.get('b').core.bus.stats.clearsByReason.gap, 0);
  });

  test('one lost heartbeat does not lapse the lease: the late heartbeat is asked for', async () => {
    const c = await cluster(['a', 'b']);
    c.caches('b').require('price').set('eur', 1);
    loseFromAToB(c, 1, (d) => !isInvalidation(d));
    let incoherent = 0;
    for (let t = 0; t < 3 * HEARTBEAT.intervalMs; t += 5) {
      await c.clock.advance(5);
      if (!c.get('b').core.bus.isCoherent()) incoherent++;
    }
    assert.equal(incoherent, 0);
    assert.equal(c.get('b').core.bus.stats.leaseLapses, 0);
    assert.ok(c.get('b').core.bus.stats.probesSent >= 1);
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
