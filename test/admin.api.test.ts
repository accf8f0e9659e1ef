import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdminClient } from '../lib/admin/client.js';
import { AdminRequestError, startNode, type CacheNode } from '../lib/index.js';
import { makeCluster, type TestCluster } from './helpers/cluster.js';

describe('admin API (one in-process node, real HTTP)', () => {
  let cluster: TestCluster;
  let node: CacheNode;
  let admin: AdminClient;

  before(async () => {
    cluster = await makeCluster({ nodes: 1 });
    node = await startNode({ configPath: cluster.configPath, nodeName: 'node-a' });
    admin = cluster.admin('node-a');
  });
  after(async () => {
    await node?.close();
    cluster?.cleanup();
  });

  test('refuses requests without the bearer secret', async () => {
    const anonymous = new AdminClient({ host: '127.0.0.1', port: cluster.nodes[0]!.adminPort, secret: undefined });
    const response = await anonymous.request('GET', '/status');
    assert.equal(response.status, 401);
    assert.equal(JSON.parse(response.text).error.code, 'CASTMIRROR_ADMIN_UNAUTHORIZED');
    const wrong = new AdminClient({ host: '127.0.0.1', port: cluster.nodes[0]!.adminPort, secret: Buffer.from('not-the-secret-at-all') });
    assert.equal((await wrong.request('GET', '/caches')).status, 401);
  });

  test('GET /status lists this node with its incarnation', async () => {
    const status = await admin.json<{ node: string; incarnation: string; members: { name: string; state: string; self: boolean }[] }>('GET', '/status');
    assert.equal(status.node, 'node-a');
    assert.equal(status.incarnation, node.incarnation.id);
    assert.deepEqual(status.members.map((m) => [m.name, m.state, m.self]), [['node-a', 'alive', true]]);
  });

  test('entries: PUT, GET, DELETE; keys may contain slashes', async () => {
    const key = 'sku/1 ü';
    const path = `/caches/product/entries/${encodeURIComponent(key)}`;
    assert.deepEqual(await admin.json('PUT', path, { price: 10 }), { type: 'product', key, stored: true });
    assert.deepEqual(await admin.json('GET', path), { type: 'product', key, value: { price: 10 } });
    assert.deepEqual(await admin.json('DELETE', path), { type: 'product', key, deleted: true });
    await assert.rejects(admin.json('GET', path), (e: unknown) => e instanceof AdminRequestError && e.status === 404 && e.remoteCode === 'CASTMIRROR_ADMIN_NO_ENTRY');
  });

  test('invalidate, clear and capacity', async () => {
    await admin.json('PUT', '/caches/product/entries/a', 1);
    await admin.json('PUT', '/caches/product/entries/b', 2);
    assert.deepEqual(await admin.json('POST', '/caches/product/invalidate', { key: 'a' }), { type: 'product', key: 'a', invalidated: true, scope: 'cluster' });
    assert.equal(node.caches.require('product').has('a'), false);
    await admin.json('POST', '/caches/product/clear');
    assert.equal(node.caches.require('product').size, 0);
    assert.deepEqual(await admin.json('PUT', '/caches/product/capacity', { capacity: 7 }), { type: 'product', capacity: 7, scope: 'node' });
    const { caches } = await admin.json<{ caches: { type: string; capacity: number; invalidationsSent: number; clearsSent: number }[] }>('GET', '/caches');
    const product = caches.find((c) => c.type === 'product')!;
    assert.equal(product.capacity, 7);
    assert.equal(product.invalidationsSent, 1);
    assert.equal(product.clearsSent, 1);
  });

  test('reload (cluster: clear, then this node loads its keys again) and ttl (node)', async () => {
    const products = node.caches.require('product');
    products.configure({ loader: async (key) => `fresh ${key}` });
    products.set('x', 'stale x');
    products.set('y', 'stale y');
    assert.deepEqual(await admin.json('POST', '/caches/product/reload'), { type: 'product', reloaded: true, warmed: 2, scope: 'cluster' });
    assert.equal(products.get('x'), 'fresh x');
    assert.equal(products.stats().clearsSent, 2, 'a reload is a cluster-wide clear');
    assert.deepEqual(await admin.json('GET', '/caches/product/ttl'), { type: 'product', ttlSeconds: 0, scope: 'node' });
    assert.deepEqual(await admin.json('PUT', '/caches/product/ttl', { ttlSeconds: 30 }), { type: 'product', ttlSeconds: 30, scope: 'node' });
    assert.equal(products.stats().ttlSeconds, 30);
    assert.equal(products.get('y'), 'fresh y', 'entries survive a TTL change');
    await assert.rejects(admin.json('PUT', '/caches/product/ttl', { ttlSeconds: -5 }), (e: unknown) => e instanceof AdminRequestError && e.status === 400);
  });

  test('bad requests get clear 4xx errors with codes', async () => {
    const cases: [string, string, unknown, number, string][] = [
      ['GET', '/nope', undefined, 404, 'CASTMIRROR_ADMIN_NOT_FOUND'],
      ['GET', '/caches/unknown/entries/x', undefined, 404, 'CASTMIRROR_UNKNOWN_CACHE_TYPE'],
      ['DELETE', '/status', undefined, 405, 'CASTMIRROR_ADMIN_METHOD_NOT_ALLOWED'],
      ['POST', '/caches/product/invalidate', { nokey: 1 }, 400, 'CASTMIRROR_INVALID_ARGUMENT'],
      ['PUT', '/caches/product/capacity', { capacity: -1 }, 400, 'CASTMIRROR_INVALID_ARGUMENT'],
      ['PUT', '/caches/product/entries/x', undefined, 400, 'CASTMIRROR_INVALID_ARGUMENT'],
    ];
    for (const [method, path, body, status, code] of cases) {
      await assert.rejects(admin.json(method, path, body), (e: unknown) => e instanceof AdminRequestError && e.status === status && e.remoteCode === code, `${method} ${path}`);
    }
    const raw = await fetch(`http://127.0.0.1:${cluster.nodes[0]!.adminPort}/caches/product/invalidate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cluster.secret}`, 'content-type': 'application/json' },
      body: '{"key":',
    });
    assert.equal(raw.status, 400);
    assert.equal(((await raw.json()) as { error: { code: string } }).error.code, 'CASTMIRROR_INVALID_JSON');
    const huge = await fetch(`http://127.0.0.1:${cluster.nodes[0]!.adminPort}/caches/product/entries/big`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${cluster.secret}` },
      body: JSON.stringify('x'.repeat(2 * 1024 * 1024)),
    });
    assert.equal(huge.status, 413);
  });

  test('GET /metrics is Prometheus text', async () => {
    const response = await admin.request('GET', '/metrics');
    assert.equal(response.status, 200);
    assert.match(response.contentType, /^text\/plain; version=0\.0\.4/);
    assert.match(response.text, /^# TYPE castmirror_cache_entries gauge$/m);
    assert.match(response.text, /^castmirror_invalidations_sent_total\{node="node-a",type="product"\} \d+$/m);
    assert.match(response.text, /^castmirror_frames_dropped_total\{node="node-a",reason="bad-tag"\} 0$/m);
  });
});

describe('lifecycle', () => {
  test('close() is idempotent and frees the admin port; operations after close fail with CASTMIRROR_CLOSED', async () => {
    const cluster = await makeCluster({ nodes: 1 });
    try {
      const node = await startNode({ configPath: cluster.configPath, nodeName: 'node-a' });
      const product = node.caches.require('product');
      await Promise.all([node.close(), node.close()]);
      assert.equal(node.closed, true);
      assert.throws(() => product.set('k', 1), { code: 'CASTMIRROR_CLOSED' });
      const again = await startNode({ configPath: cluster.configPath, nodeName: 'node-a' });
      await again[Symbol.asyncDispose]();
    } finally {
      cluster.cleanup();
    }
  });

  test('a standalone node (Cluster 0) needs no network and no secret', async () => {
    const { parseConfigText } = await import('../lib/index.js');
    const config = parseConfigText(
      '<Server name="solo"><Cluster>0</Cluster><ClusterNodes><Node name="a" host="127.0.0.1" httpPort="1" replicationPort="2" adminPort="3"/></ClusterNodes><Caches><Cache type="product"/></Caches></Server>',
      'solo.xml',
      { env: {} },
    );
    const node = await startNode({ config, nodeName: 'a', admin: false });
    try {
      const product = node.caches.create('product', { loader: (k) => `loaded ${k}` });
      assert.equal(await product.getOrLoad('x'), 'loaded x');
      await product.invalidate('x');
      assert.equal(product.has('x'), false);
      assert.equal(node.status().members.length, 1);
      assert.equal(node.membership, undefined);
    } finally {
      await node.close();
    }
  });
});
