/**
 * The prom-client adapter against the real prom-client: every castmirror family appears in
 * the application's registry, with the node label, counters and histograms alike, read
 * fresh at each scrape.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { registerCastmirrorMetrics } from '../lib/admin/prom-client.js';
import { parseConfigText, startNode } from '../lib/index.js';

test('registerCastmirrorMetrics puts every family in a prom-client registry', async () => {
  const config = parseConfigText('<Server name="solo"><Cluster>0</Cluster><ClusterNodes><Node name="a" host="127.0.0.1" httpPort="1" replicationPort="2" adminPort="3"/></ClusterNodes><Caches><Cache type="product"/></Caches></Server>', 'inline.xml');
  const node = await startNode({ config, nodeName: 'a', admin: false, stateFile: false });
  try {
    const registry = new Registry();
    registerCastmirrorMetrics(registry, node);
    const products = node.caches.require('product');
    products.set('k', 1);
    products.get('k');
    products.get('missing');
    const text = await registry.metrics();
    assert.match(text, /^# TYPE castmirror_cache_hits_total counter$/m);
    assert.match(text, /^castmirror_cache_hits_total\{node="a",type="product"\} 1$/m);
    assert.match(text, /^castmirror_cache_misses_total\{node="a",type="product"\} 1$/m);
    assert.match(text, /^# TYPE castmirror_sync_commit_seconds histogram$/m);
    assert.match(text, /^castmirror_sync_commit_seconds_bucket\{node="a",le="\+Inf"\} 0$/m);
    // Our own renderer and prom-client's list the same families.
    const ours = new Set([...node.metrics().matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
    const theirs = new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
    assert.deepEqual([...theirs].sort(), [...ours].sort());
    products.get('k');
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.match(await registry.metrics(), /^castmirror_cache_hits_total\{node="a",type="product"\} 2$/m, 'read fresh at the next scrape');
  } finally {
    await node.close();
  }
});
