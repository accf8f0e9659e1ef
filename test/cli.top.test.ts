/**
 * castmirror top against a running three-node shop: --once --json reports every node with
 * its sessions, hit ratio and rates measured over the interval; a killed node shows as
 * unreachable; the text view names every node.
 */
import assert from 'node:assert/strict';
import { after, afterEach, test } from 'node:test';
import { killAll } from './helpers/cluster.js';
import { runCli } from './helpers/cli.js';
import { CookieClient } from './helpers/cookie-client.js';
import { startShopCluster, type ShopCluster } from './helpers/shop.js';
import type { TopView } from '../bin/commands/top.js';

const shops: ShopCluster[] = [];
afterEach(killAll);
after(() => shops.forEach((s) => s.cluster.cleanup()));

test('top --once --json: sessions, hit ratios and rates per node; a dead node is unreachable', { timeout: 60_000 }, async () => {
  const shop = await startShopCluster();
  shops.push(shop);
  const direct = new CookieClient(shop.nodeUrl('node-a'));
  await direct.get('/products/sku-0001'); // miss
  for (let i = 0; i < 3; i++) await direct.get('/products/sku-0001'); // hits
  const shopper = new CookieClient(shop.nodeUrl('node-b'));
  assert.equal((await shopper.post('/cart/items', { sku: 'sku-0001', qty: 1 })).status, 200);

  // Invalidations made while top samples: the rates must show them. They go on until top
  // answers (bounded), so some fall between its two samples however long the CLI takes to start.
  let sampled = false;
  const sampling = runCli(['top', '--config', shop.cluster.configPath, '--once', '--json', '--interval-ms', '1500']).finally(() => (sampled = true));
  const writer = new CookieClient(shop.nodeUrl('node-c'));
  for (let i = 0; !sampled && i < 300; i++) {
    await writer.put(`/products/sku-000${2 + (i % 3)}`, { price: 3 + (i % 5) });
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const result = await sampling;
  assert.equal(result.code, 0, result.stderr);
  const view = JSON.parse(result.stdout) as TopView;
  assert.deepEqual(view.nodes.map((n) => n.node), ['node-a', 'node-b', 'node-c']);
  const [a, b, c] = view.nodes;
  assert.equal(a!.hitRatio, 0.75);
  assert.deepEqual(b!.sessions, { primary: 1, backup: 0 });
  assert.equal(a!.sessions!.backup + c!.sessions!.backup, 1, 'one backup copy elsewhere');
  assert.ok(c!.perSecond!.invalidationsSent > 0, `node-c sent invalidations: ${JSON.stringify(c)}`);
  assert.ok(a!.perSecond!.invalidationsReceived > 0);
  assert.ok(view.nodes.every((n) => n.state === 'alive'));

  shop.nodes.get('node-c')!.kill('SIGKILL');
  await shop.nodes.get('node-c')!.exited;
  const text = await runCli(['top', '--config', shop.cluster.configPath, '--once', '--interval-ms', '200']);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /^node-a\s+alive/m);
  assert.match(text.stdout, /^node-c\s+\S*,? ?unreachable/m);
});
