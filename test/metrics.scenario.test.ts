/**
 * /metrics after a scripted scenario on a real three-node shop cluster: invalidations,
 * garbage datagrams, a forged route cookie, a kill -9 and a takeover. Each counter must
 * say what happened, no more and no less. And the diagnostics_channel events of one
 * in-process pair of nodes.
 */
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { after, afterEach, describe, test } from 'node:test';
import { loadConfig, startNode, type CacheNode } from '../lib/index.js';
import { killAll, makeCluster, type TestCluster } from './helpers/cluster.js';
import { CookieClient } from './helpers/cookie-client.js';
import { sendToGroup } from './helpers/datagrams.js';
import { startShopCluster, type ShopCluster } from './helpers/shop.js';
import { eventually } from './helpers/wait.js';

/** One sample's value from Prometheus text, by name and exact labels (node label left out). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries((match[2] ?? '').split(',').filter(Boolean).map((pair) => pair.split('=').map((s) => s.replace(/^"|"$/g, '')) as [string, string]));
    delete found.node;
    if (Object.keys(labels).length === Object.keys(found).length && Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  throw new Error(`no sample ${name} ${JSON.stringify(labels)}`);
}

describe('metrics', { timeout: 90_000 }, () => {
  const shops: ShopCluster[] = [];
  const clusters: TestCluster[] = [];
  afterEach(killAll);
  after(() => {
    shops.forEach((s) => s.cluster.cleanup());
    clusters.forEach((c) => c.cleanup());
  });

  test('after invalidations, garbage, a forged cookie, a kill and a takeover, the counters say so', async () => {
    const shop = await startShopCluster();
    shops.push(shop);
    const metrics = async (node: string) => shop.cluster.admin(node).text('/metrics');
    const direct = (node: string) => new CookieClient(shop.nodeUrl(node));

    // Three price changes on node-a: three keys invalidated there, received by the others.
    for (const sku of ['sku-0001', 'sku-0002', 'sku-0003']) assert.equal((await direct('node-a').put(`/products/${sku}`, { price: 9.5 })).status, 200);
    await eventually(async () => sample(await metrics('node-c'), 'castmirror_invalidations_received_total', { type: 'product' }) === 3, { what: 'node-c to receive 3' });
    assert.equal(sample(await metrics('node-a'), 'castmirror_invalidations_sent_total', { type: 'product' }), 3);
    assert.equal(sample(await metrics('node-b'), 'castmirror_invalidations_received_total', { type: 'product' }), 3);

    // Two garbage datagrams on the group: every node drops both, as not ours.
    await sendToGroup(shop.cluster.group, shop.cluster.port, [Buffer.from('not a frame at all'), Buffer.alloc(40, 7)]);
    await eventually(async () => sample(await metrics('node-b'), 'castmirror_frames_dropped_total', { reason: 'bad-magic' }) === 2, { what: 'two bad-magic drops' });

    // A forged cookie on node-b.
    const forger = direct('node-b');
    forger.cookies.set('castmirror.route', 'v1.e30.AAAAAAAAAAAAAAAAAAAAAA');
    assert.equal((await forger.get('/whoami')).status, 200);
    assert.equal(sample(await metrics('node-b'), 'castmirror_route_cookies_total', { result: 'forged' }), 1);

    // A shopper makes five changes (sync), then its primary dies and its backup takes over.
    const shopper = new CookieClient(shop.proxyUrl);
    let primary = '';
    for (let i = 0; i < 5; i++) primary = (await shopper.post('/cart/items', { sku: 'sku-0010', qty: 1 })).node!;
    const primaryMetrics = await metrics(primary);
    assert.equal(sample(primaryMetrics, 'castmirror_sessions', { role: 'primary' }), 1);
    assert.equal(sample(primaryMetrics, 'castmirror_session_outcomes_total', { outcome: 'created' }), 1);
    assert.equal(sample(primaryMetrics, 'castmirror_sync_commit_seconds_count'), 4, 'four sync commits waited for (the first was a full copy)');
    assert.equal(sample(primaryMetrics, 'castmirror_mirror_ack_seconds_count'), 5);
    assert.ok(sample(primaryMetrics, 'castmirror_bytes_sent_total', { channel: 'replication' }) > 0);
    assert.ok(sample(primaryMetrics, 'castmirror_bytes_sent_total', { channel: 'multicast' }) > 0);
    const backup = (await shopper.get<{ backup: string }>('/whoami')).body.backup;
    assert.equal(sample(await metrics(backup), 'castmirror_sessions', { role: 'backup' }), 1);

    shop.nodes.get(primary)!.kill('SIGKILL');
    await shop.nodes.get(primary)!.exited;
    const after = await shopper.get<{ items: { qty: number }[] }>('/cart');
    assert.equal(after.status, 200);
    assert.equal(after.node, backup, 'the proxy sent it to the backup');
    assert.equal(after.body.items[0]!.qty, 5);
    const backupMetrics = await metrics(backup);
    assert.equal(sample(backupMetrics, 'castmirror_session_outcomes_total', { outcome: 'took-over' }), 1);
    assert.equal(sample(backupMetrics, 'castmirror_session_outcomes_total', { outcome: 'fetched' }), 0);
    assert.equal(sample(backupMetrics, 'castmirror_sessions', { role: 'primary' }), 1);
    await eventually(async () => sample(await metrics(backup), 'castmirror_members', { state: 'dead' }) === 1, { timeoutMs: 5000, what: 'the dead member counted' });
  });

  test('diagnostics_channel: node, member and application events', async () => {
    const cluster = await makeCluster({ nodes: 2, extraXml: '<Applications><Application name="blog" enabled="1"/></Applications>' });
    clusters.push(cluster);
    const events: Record<string, object[]> = { node: [], member: [], app: [] };
    const listeners = Object.keys(events).map((name) => {
      const listener = (message: unknown) => events[name]!.push(message as object);
      diagnostics.subscribe(`castmirror:${name}`, listener);
      return () => diagnostics.unsubscribe(`castmirror:${name}`, listener);
    });
    const nodes: CacheNode[] = [];
    try {
      const loaded = await loadConfig(cluster.configPath);
      for (const name of ['node-a', 'node-b']) nodes.push(await startNode({ config: loaded, nodeName: name, admin: false, stateFile: false }));
      await eventually(() => events.member!.filter((e) => (e as { event: string }).event === 'joined').length >= 2, { what: 'both joined' });
      const report = await nodes[0]!.setApplicationState('blog', 'draining');
      assert.deepEqual(report.applied, ['node-a', 'node-b']);
      await eventually(() => events.app!.length >= 2, { what: 'app events on both nodes' });
      assert.deepEqual(
        events.app!.map((e) => (e as { node: string }).node).sort(),
        ['node-a', 'node-b'],
      );
      assert.deepEqual(events.app![0], { node: 'node-a', app: 'blog', state: 'draining', version: 1, origin: 'node-a' });
      await nodes.pop()!.close();
      await eventually(() => events.member!.some((e) => (e as { event: string; member: string }).event === 'left' && (e as { member: string }).member === 'node-b'), { what: 'node-b left' });
      assert.deepEqual(
        events.node!.map((e) => [(e as { node: string }).node, (e as { event: string }).event]),
        [['node-a', 'started'], ['node-b', 'started'], ['node-b', 'closing'], ['node-b', 'closed']],
      );
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
      for (const unsubscribe of listeners) unsubscribe();
    }
  });
});
