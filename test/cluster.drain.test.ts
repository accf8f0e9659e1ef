/**
 * castmirror drain under load: eight shoppers keep adding to their carts through the
 * proxy (sync mirroring) while node-b is drained. Every acknowledged add is in the cart at
 * the end, no session is lost, node-b's process exits 0, and the command reports it gone.
 */
import assert from 'node:assert/strict';
import { after, afterEach, test } from 'node:test';
import { killAll } from './helpers/cluster.js';
import { runCli } from './helpers/cli.js';
import { CookieClient } from './helpers/cookie-client.js';
import { startShopCluster, type ShopCluster } from './helpers/shop.js';

const shops: ShopCluster[] = [];
afterEach(killAll);
after(() => shops.forEach((s) => s.cluster.cleanup()));

test('drain of a node under load loses no session and no acknowledged update', { timeout: 90_000 }, async () => {
  const shop = await startShopCluster({ extraXml: '<Replication mode="sync"/>' });
  shops.push(shop);
  const shoppers = Array.from({ length: 8 }, () => ({ client: new CookieClient(shop.proxyUrl), acknowledged: 0, failed: [] as string[] }));
  // Every shopper has a session before the drain, some of them on node-b.
  for (const s of shoppers) {
    assert.equal((await s.client.post('/cart/items', { sku: 'sku-0007', qty: 1 })).status, 200);
    s.acknowledged++;
  }
  const onB = (await Promise.all(shoppers.map((s) => s.client.get<{ node: string }>('/whoami')))).filter((r) => r.body.node === 'node-b').length;
  assert.ok(onB > 0, 'node-b serves some sessions');

  let loading = true;
  const load = Promise.all(
    shoppers.map(async (s) => {
      for (let i = 0; loading && i < 2000; i++) {
        try {
          const reply = await s.client.post('/cart/items', { sku: 'sku-0007', qty: 1 });
          if (reply.status === 200) s.acknowledged++;
          else s.failed.push(`${reply.status} ${JSON.stringify(reply.body)}`);
        } catch (error) {
          s.failed.push(String(error));
        }
      }
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 500));
  const drained = await runCli(['drain', '--node', 'node-b', '--config', shop.cluster.configPath, '--json'], { timeoutMs: 60_000 });
  await new Promise((resolve) => setTimeout(resolve, 500));
  loading = false;
  await load;

  assert.equal(drained.code, 0, drained.stderr);
  const report = JSON.parse(drained.stdout) as { node: string; handedOver: number; gone: boolean };
  assert.equal(report.gone, true);
  assert.ok(report.handedOver >= onB, `handed over ${report.handedOver}`);
  const exit = await shop.nodes.get('node-b')!.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, 'node-b exited on its own, cleanly');

  for (const [i, s] of shoppers.entries()) {
    const cart = await s.client.get<{ items: { sku: string; qty: number }[] }>('/cart');
    assert.equal(cart.status, 200, `shopper ${i}`);
    assert.notEqual(cart.node, 'node-b');
    assert.equal(cart.body.items[0]?.qty, s.acknowledged, `shopper ${i}: every acknowledged add is there (failed: ${s.failed.join('; ')})`);
  }
  const failures = shoppers.flatMap((s) => s.failed);
  console.log(`drain under load: ${shoppers.reduce((n, s) => n + s.acknowledged, 0)} adds acknowledged, ${failures.length} failed, ${report.handedOver} sessions and copies handed over`);
  assert.deepEqual(failures, [], 'requests reaching the leaving node went to another one');
});
