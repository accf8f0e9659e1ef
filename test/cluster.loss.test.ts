import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdminRequestError, type NodeStatus, type ObjectCacheStats } from '../lib/index.js';
import { killAll, makeCluster, startNodes, type TestCluster } from './helpers/cluster.js';
import { eventually } from './helpers/wait.js';

const INTERVAL = 100;
const DROP_EVERY = 3;

describe('a receiver that drops every 3rd datagram never serves a stale entry', { timeout: 90_000 }, () => {
  let cluster: TestCluster;

  before(async () => {
    cluster = await makeCluster({ nodes: 2, intervalMs: INTERVAL, deadAfterMs: 1000 });
    await startNodes(cluster, ['node-a', 'node-b'], { 'node-b': { CASTMIRROR_FAULT_DROP_EVERY: String(DROP_EVERY) } });
    await eventually(async () => (await cluster.admin('node-b').json<NodeStatus>('GET', '/status')).members.filter((m) => m.state === 'alive').length === 2, {
      what: 'both nodes alive',
    });
  });
  after(async () => {
    await killAll();
    cluster?.cleanup();
  });

  test('every invalidated key disappears from node-b, by invalidation or by a gap clear', async (t) => {
    const a = cluster.admin('node-a');
    const b = cluster.admin('node-b');
    const held = async (key: string) => {
      try {
        await b.json('GET', `/caches/product/entries/${key}`);
        return true;
      } catch (error) {
        if (error instanceof AdminRequestError && error.status === 404) return false;
        throw error;
      }
    };
    const rounds = 30;
    for (let i = 0; i < rounds; i++) {
      await b.json('PUT', `/caches/product/entries/k${i}`, { version: 1 });
      await b.json('PUT', `/caches/price/entries/k${i}`, { version: 1 });
      await a.json('POST', '/caches/product/invalidate', { key: `k${i}` });
      // Lost or not, the entry must be gone within one heartbeat interval (plus scheduling slack).
      await eventually(async () => !(await held(`k${i}`)), { what: `k${i} dropped on node-b`, timeoutMs: 10 * INTERVAL, intervalMs: 5 });
    }
    const { caches } = await b.json<{ caches: ObjectCacheStats[] }>('GET', '/caches');
    const product = caches.find((c) => c.type === 'product')!;
    const price = caches.find((c) => c.type === 'price')!;
    const metrics = await b.text('/metrics');
    const counter = (name: string) => Number(new RegExp(`^${name}\\{node="node-b"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? NaN);
    const missed = counter('castmirror_invalidation_datagrams_missed_total');
    const repairs = counter('castmirror_invalidation_repairs_total');
    t.diagnostic(`node-b: ${product.invalidationsReceived} invalidations received, ${missed} datagrams missed, ${repairs} repaired by retransmission, ${product.gapClears} gap clears of product, ${price.gapClears} of price`);
    assert.ok(missed > 0, 'losses were detected');
    assert.ok(repairs + product.gapClears > 0, 'and each was repaired or cleared');
    assert.equal(price.gapClears, 0, 'price was never invalidated, so no loss could affect it');
    assert.equal(price.size, rounds, 'and it kept every entry');
    assert.match(metrics, /castmirror_datagrams_dropped_total\{node="node-b",reason="injected"\} [1-9]/);
  });
});
