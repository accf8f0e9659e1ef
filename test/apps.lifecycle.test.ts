/**
 * Applications enabled and disabled at run time across a real three-node shop cluster
 * (child processes), through `castmirror app`: a graceful disable spares the sessions that
 * use the application on every node and refuses new ones until the last one ends; an
 * immediate disable refuses at once; a node that (re)starts later learns the state from
 * its peers; the state survives a restart of every node.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { killAll, NodeProcess } from './helpers/cluster.js';
import { runCli } from './helpers/cli.js';
import { CookieClient } from './helpers/cookie-client.js';
import { startShopCluster, type ShopCluster } from './helpers/shop.js';
import { eventually } from './helpers/wait.js';

interface AppStatus {
  applications: { name: string; state: string; effective: string; nodes: { node: string; effective: string; sessions: number }[] }[];
}

const APPS = '<Applications><Application name="shop" enabled="1"/></Applications>';

describe('applications at run time', { timeout: 120_000 }, () => {
  const shops: ShopCluster[] = [];
  afterEach(killAll);
  after(() => shops.forEach((s) => s.cluster.cleanup()));

  const cli = async (shop: ShopCluster, ...args: string[]) => runCli(['app', ...args, '--config', shop.cluster.configPath, '--json']);
  const appStatus = async (shop: ShopCluster) => JSON.parse((await cli(shop, 'status')).stdout) as AppStatus;

  test('graceful disable: existing sessions go on everywhere, new ones are refused everywhere, then it is disabled', async () => {
    const shop = await startShopCluster({ extraXml: APPS });
    shops.push(shop);
    const names = [...shop.nodes.keys()];
    const shopper = new CookieClient(shop.proxyUrl);
    assert.equal((await shopper.post('/cart/items', { sku: 'sku-0001', qty: 2 })).status, 200);

    const disabled = await cli(shop, 'disable', 'shop', '--graceful');
    assert.equal(disabled.code, 0, disabled.stderr);
    const report = JSON.parse(disabled.stdout) as { app: { state: string }; applied: string[]; missing: string[] };
    assert.equal(report.app.state, 'draining');
    assert.deepEqual(report.applied, names);
    assert.deepEqual(report.missing, []);

    for (const name of names) {
      shopper.retarget(shop.nodeUrl(name));
      const cart = await shopper.get<{ items: { sku: string; qty: number }[] }>('/cart');
      assert.equal(cart.status, 200, `the existing session is served on ${name}`);
      assert.deepEqual(cart.body.items.map((i) => [i.sku, i.qty]), [['sku-0001', 2]]);
      const stranger = await new CookieClient(shop.nodeUrl(name)).post<{ error: { code: string; app: string; state: string } }>('/cart/items', { sku: 'sku-0002', qty: 1 });
      assert.equal(stranger.status, 503, `a new session is refused on ${name}`);
      assert.deepEqual([stranger.body.error.code, stranger.body.error.app, stranger.body.error.state], ['CASTMIRROR_APP_DISABLED', 'shop', 'draining']);
    }
    const page = await fetch(`${shop.proxyUrl}/`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 503);
    assert.match(await page.text(), /shop is unavailable/);
    assert.equal((await appStatus(shop)).applications[0]!.effective, 'draining');

    assert.equal((await shopper.post('/logout', {})).status, 200);
    const drained = await appStatus(shop);
    assert.equal(drained.applications[0]!.effective, 'disabled', JSON.stringify(drained));
    assert.ok(drained.applications[0]!.nodes.every((n) => n.effective === 'disabled' && n.sessions === 0));
    assert.equal((await shopper.get('/cart')).status, 503, 'the ended session is not let back in');
  });

  test('immediate disable refuses at once; a restarted node learns it from its peers; all nodes restarted keep it', async () => {
    const shop = await startShopCluster({ extraXml: APPS });
    shops.push(shop);
    const shopper = new CookieClient(shop.proxyUrl);
    assert.equal((await shopper.post('/cart/items', { sku: 'sku-0003', qty: 1 })).status, 200);
    assert.equal((await cli(shop, 'disable', 'shop')).code, 0);
    for (const name of shop.nodes.keys()) {
      shopper.retarget(shop.nodeUrl(name));
      const refused = await shopper.get<{ error: { state: string } }>('/cart');
      assert.equal(refused.status, 503, `refused on ${name}, existing session or not`);
      assert.equal(refused.body.error.state, 'disabled');
    }

    // node-c restarts without its state file: it learns the state from the others.
    const c = shop.nodes.get('node-c')!;
    c.kill('SIGKILL');
    await c.exited;
    rmSync(path.join(shop.cluster.dir, '.castmirror', 'apps.node-c.json'), { force: true });
    const restarted = new NodeProcess('node-c', shop.cluster.configPath, {}, 'demo');
    await restarted.started();
    await eventually(async () => (await new CookieClient(shop.nodeUrl('node-c')).get('/cart')).status === 503, { timeoutMs: 5000, what: 'node-c to refuse' });

    // Every node restarts: the state comes back from the files.
    await killAll();
    const again = await Promise.all(['node-a', 'node-b', 'node-c'].map(async (name) => {
      const node = new NodeProcess(name, shop.cluster.configPath, {}, 'demo');
      await node.started();
      return node;
    }));
    assert.equal(again.length, 3);
    for (const name of ['node-a', 'node-b', 'node-c']) assert.equal((await new CookieClient(shop.nodeUrl(name)).get('/cart')).status, 503, `${name} after a full restart`);

    await eventually(async () => (await cli(shop, 'enable', 'shop')).code === 0, { timeoutMs: 10_000, what: 'enable to reach every node' });
    for (const name of ['node-a', 'node-b', 'node-c']) assert.equal((await new CookieClient(shop.nodeUrl(name)).post('/cart/items', { sku: 'sku-0001', qty: 1 })).status, 200, `${name} serves again`);
  });

  test('app verb: usage errors exit 2, an unknown application is named', async () => {
    const shop = await startShopCluster({ extraXml: APPS });
    shops.push(shop);
    assert.equal((await cli(shop, 'disable')).code, 2);
    assert.equal((await cli(shop, 'enable', 'shop', '--graceful')).code, 2);
    const unknown = await cli(shop, 'disable', 'blog');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no application "blog"/);
  });
});
