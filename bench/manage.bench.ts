/**
 * Cluster management, three nodes in this process (real sockets, sync mirroring):
 *   app change: an application state set on one node and acknowledged by the other two over
 *     multicast; baseline: the naive way, one admin API request to each of the three nodes.
 *   drain: node-b holds SESSIONS sessions (and backup copies of others'); it hands every one
 *     over, has every copy re-homed, and leaves; baseline: creating the same number of sessions (each a full copy to
 *     its backup) in the same run.
 */
import { AdminClient } from '../lib/admin/client.js';
import { loadConfig } from '../lib/config/load.js';
import { startNode } from '../lib/start.js';
import type { CacheNode } from '../lib/node/cache-node.js';
import { benchCluster } from './cluster-fixture.js';
import { percentile, print, round, until } from './common.js';

const SESSIONS = Number(process.env.BENCH_DRAIN_SESSIONS ?? 2000);
const CHANGES = 50;
const cluster = await benchCluster(['node-a', 'node-b', 'node-c']);
const configPath = cluster.write('manage.xml', '<Replication mode="sync"/><Applications><Application name="shop" enabled="1"/></Applications>');
const loaded = await loadConfig(configPath);
const nodes: CacheNode[] = [];
try {
  for (const nodeName of ['node-a', 'node-b', 'node-c']) nodes.push(await startNode({ config: loaded, nodeName, stateFile: false }));
  const [a, b] = nodes as [CacheNode, CacheNode, CacheNode];
  for (const node of nodes) await until(() => node.membership!.alive().length === 3, `${node.name} to see three members`);

  // App changes, acknowledged by every node; then the same number of admin API round trips to each node.
  const changeMs: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const report = await a.setApplicationState('shop', i % 2 === 0 ? 'draining' : 'enabled');
    if (report.missing.length > 0) throw new Error(`no answer from ${report.missing.join(', ')}`);
    changeMs.push(report.elapsedMs);
  }
  const clients = nodes.map((n) => new AdminClient({ host: '127.0.0.1', port: n.config.node.adminPort, secret: loaded.secret!.value }));
  const adminMs: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const started = performance.now();
    for (const client of clients) await client.json('GET', '/apps');
    adminMs.push(performance.now() - started);
  }
  changeMs.sort((x, y) => x - y);
  adminMs.sort((x, y) => x - y);

  // SESSIONS sessions created on node-b (each mirrored whole to a backup), 32 at a time.
  const createStarted = performance.now();
  for (let done = 0; done < SESSIONS; done += 32) {
    await Promise.all(Array.from({ length: Math.min(32, SESSIONS - done) }, (_, i) => b.sessions.run(undefined, (s) => s.application.set('cart', { sku: `sku-${done + i}`, qty: 1 }))));
  }
  const createMs = performance.now() - createStarted;
  // Sessions on the others too, so that node-b also holds backup copies to re-home.
  for (const other of [nodes[0]!, nodes[2]!]) {
    for (let done = 0; done < SESSIONS / 4; done += 32) {
      await Promise.all(Array.from({ length: 32 }, () => other.sessions.run(undefined, (s) => s.application.set('cart', { sku: 'sku-1', qty: 1 }))));
    }
  }
  const copiesOnB = b.sessions.snapshotStats().backups;
  const primariesOnB = b.sessions.snapshotStats().primaries;

  const drainStarted = performance.now();
  await b.close();
  const drainMs = performance.now() - drainStarted;
  const survivors = nodes.filter((n) => n !== b);
  const primariesAfter = survivors.reduce((sum, n) => sum + n.sessions.snapshotStats().primaries, 0);
  const expected = SESSIONS + 2 * Math.ceil(SESSIONS / 4 / 32) * 32;
  if (primariesAfter !== expected) throw new Error(`${expected - primariesAfter} sessions were not handed over`);
  const unmirrored = survivors.reduce((sum, n) => sum + n.sessions.snapshotStats().unmirrored, 0);

  print({
    benchmark: 'manage',
    baseline: 'admin API request to each of 3 nodes / creating the sessions',
    node: process.version,
    appChange: {
      nodes: 3,
      changes: CHANGES,
      p50Ms: round(percentile(changeMs, 50), 3),
      maxMs: round(changeMs.at(-1)!, 3),
      adminRoundTripsToEachNodeP50Ms: round(percentile(adminMs, 50), 3),
      ratioToBaseline: round(percentile(adminMs, 50) / percentile(changeMs, 50), 2),
    },
    drain: {
      sessions: primariesOnB,
      backupCopies: copiesOnB,
      unmirroredAfter: unmirrored,
      drainMs: round(drainMs, 1),
      handedOverPerSecond: Math.round((primariesOnB / drainMs) * 1000),
      createMs: round(createMs, 1),
      createdPerSecond: Math.round((SESSIONS / createMs) * 1000),
      ratioToBaseline: round(createMs / drainMs, 2),
    },
  });
} finally {
  await Promise.allSettled(nodes.map((n) => n.close()));
  cluster.cleanup();
}
