/**
 * Liveness and readiness for load balancers: `GET /healthz` and `GET /readyz` on the admin
 * port, without credentials, revealing only state. Readiness is joined, not leaving, an
 * application enabled, and the application's own checks passing; the proxy asks it too. End
 * to end: a demo shop node that cannot read its catalog ("database") says it is not ready,
 * and the proxy sends its shoppers to their backups and new shoppers elsewhere, with no
 * failed request; when the catalog is back, the node gets new shoppers again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { startNode, type CacheNode } from '../lib/index.js';
import { killAll, makeCluster, type TestCluster } from './helpers/cluster.js';
import { CookieClient } from './helpers/cookie-client.js';
import { startShopCluster, type ShopCluster } from './helpers/shop.js';
import { eventually } from './helpers/wait.js';

async function probe(port: number, path: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: await response.json() };
}

describe('GET /healthz and /readyz (an in-process node, real HTTP)', () => {
  let cluster: TestCluster;
  let node: CacheNode;
  after(async () => {
    await node?.close();
    cluster?.cleanup();
  });

  test('no credentials needed; not-ready names why: an application check, no application enabled, leaving', async () => {
    cluster = await makeCluster({ nodes: 1, extraXml: '<Applications><Application name="shop" enabled="1"/></Applications>' });
    node = await startNode({ configPath: cluster.configPath, nodeName: 'node-a' });
    const port = cluster.nodes[0]!.adminPort;
    assert.deepEqual(await probe(port, '/healthz'), { status: 200, body: { status: 'alive' } });
    await eventually(async () => (await probe(port, '/readyz')).status === 200, { what: 'ready once it hears its own heartbeat', timeoutMs: 5000 });
    assert.deepEqual(await probe(port, '/readyz'), { status: 200, body: { status: 'ready' } });
    assert.equal((await fetch(`http://127.0.0.1:${port}/status`)).status, 401, 'everything else still needs credentials');

    let databaseUp = false;
    const remove = node.addReadinessCheck('db', () => databaseUp);
    node.addReadinessCheck('cache-warm', () => new Promise<boolean>(() => {})); // never answers: fails after 1 s
    node.addReadinessCheck('search', () => {
      throw new Error('index missing');
    });
    assert.deepEqual(await probe(port, '/readyz'), { status: 503, body: { status: 'not-ready', reasons: ['check:db', 'check:cache-warm', 'check:search'] } });
    databaseUp = true;
    node.addReadinessCheck('cache-warm', () => true);
    node.addReadinessCheck('search', async () => true);
    assert.deepEqual(await probe(port, '/readyz'), { status: 200, body: { status: 'ready' } });
    remove();

    await node.setApplicationState('shop', 'disabled');
    assert.deepEqual(await probe(port, '/readyz'), { status: 503, body: { status: 'not-ready', reasons: ['no-application-enabled'] } });
    await node.setApplicationState('shop', 'enabled');
    assert.equal((await probe(port, '/readyz')).status, 200);

    const closing = node.close();
    assert.deepEqual(await node.readiness(), { ready: false, reasons: ['leaving'] });
    await closing;
  });
});

describe('the proxy follows readiness (demo shop processes)', { timeout: 120_000 }, () => {
  const shops: ShopCluster[] = [];
  afterEach(killAll);
  after(() => shops.forEach((s) => s.cluster.cleanup()));

  test("a node that cannot read its catalog gets no shoppers; its shoppers continue on their backups; back when it can", async () => {
    // node-c reads a catalog of its own, so that only its "database" can fail.
    const catalogDir = mkdtempSync(path.join(tmpdir(), 'castmirror-catalog-'));
    const catalogC = path.join(catalogDir, 'catalog.json');
    const shop = await startShopCluster({ nodeArgs: { 'node-c': ['--catalog', catalogC] } });
    shops.push(shop);
    after(() => rmSync(catalogDir, { recursive: true, force: true }));
    const adminC = shop.cluster.nodes.find((n) => n.name === 'node-c')!.adminPort;
    assert.deepEqual(await probe(adminC, '/readyz'), { status: 200, body: { status: 'ready' } });

    // Shoppers through the proxy until some are on node-c.
    const shoppers: { client: CookieClient; node: string }[] = [];
    while (shoppers.filter((s) => s.node === 'node-c').length < 2 && shoppers.length < 60) {
      const client = new CookieClient(shop.proxyUrl);
      const added = await client.post('/cart/items', { sku: 'sku-0001', qty: 1 });
      assert.equal(added.status, 200);
      shoppers.push({ client, node: added.node! });
    }
    const onC = shoppers.filter((s) => s.node === 'node-c');
    assert.equal(onC.length, 2, 'the proxy sent some shoppers to node-c');

    renameSync(catalogC, `${catalogC}.away`);
    assert.deepEqual(await probe(adminC, '/readyz'), { status: 503, body: { status: 'not-ready', reasons: ['check:catalog'] } });
    assert.deepEqual(await probe(adminC, '/healthz'), { status: 200, body: { status: 'alive' } }, 'alive all the same');
    await eventually(async () => (await shop.proxyStatus()).members.some((m) => m.name === 'node-c' && (m as { state?: string }).state === 'not-ready'), { what: 'the proxy to see node-c not ready', timeoutMs: 5000 });

    for (const { client } of onC) {
      const cart = await client.get<{ items: { sku: string }[] }>('/cart');
      assert.equal(cart.status, 200);
      assert.notEqual(cart.node, 'node-c', 'served by its backup');
      assert.equal(cart.body.items.length, 1, 'the same cart');
    }
    for (let i = 0; i < 10; i++) {
      const added = await new CookieClient(shop.proxyUrl).post('/cart/items', { sku: 'sku-0002', qty: 1 });
      assert.equal(added.status, 200);
      assert.notEqual(added.node, 'node-c', 'no new shopper on a node that is not ready');
    }

    renameSync(`${catalogC}.away`, catalogC);
    await eventually(async () => (await shop.proxyStatus()).members.some((m) => m.name === 'node-c' && (m as { state?: string }).state === 'alive'), { what: 'node-c ready again for the proxy', timeoutMs: 5000 });
    let landed = false;
    for (let i = 0; i < 30 && !landed; i++) landed = (await new CookieClient(shop.proxyUrl).post('/cart/items', { sku: 'sku-0003', qty: 1 })).node === 'node-c';
    assert.ok(landed, 'node-c gets new shoppers again');
    const stats = (await shop.proxyStatus()).stats;
    assert.equal(stats.failedAfterSend, 0);
  });
});
