/**
 * pubsub discovery across hosts (network namespaces on a bridge, test/helpers/netns.ts)
 * where the nodes cannot reach each other at all, as on many PaaS: the switch carries no
 * multicast, and nftables on every host drops everything to and from the other nodes'
 * hosts, counting it. Only the store (a real redis-server, on the client's host) and the
 * client reach them. Three nodes converge through the store, an invalidation reaches every
 * node, and after kill -9 of a node its sessions continue on the others from the store,
 * each with its last acknowledged write; the drop counters show no node even tried to
 * reach another. Needs root for the namespaces (CI runs as root); without it the test says so.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, test } from 'node:test';
import type { RouteHint } from '../lib/replication/route-hint.js';
import { killAll } from './helpers/cluster.js';
import { canCreateNamespaces } from './helpers/netns.js';
import { REDIS_SKIP, RedisServer } from './helpers/redis.js';
import { invalidationReachesEveryNode, NAMES, startHosts } from './helpers/session-hosts.js';
import { eventually } from './helpers/wait.js';

const skip = canCreateNamespaces() ? REDIS_SKIP : 'needs root to create network namespaces (CI runs as root)';

const CACHE = '  <Caches><Cache type="product" capacity="100"/></Caches>';

describe('pubsub discovery across hosts that cannot reach each other', { timeout: 120_000 }, () => {
  const cleanups: (() => void)[] = [];
  afterEach(async () => {
    await killAll();
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  test('three nodes with no path between them: they converge through the store, invalidations reach every node, and sessions fail over through the store', { skip }, async (t) => {
    const password = randomBytes(12).toString('hex');
    const c = await startHosts(cleanups, undefined, {
      extraXml: (hosts) => `  <Discovery type="pubsub"/>\n  <Store type="redis" url="redis://:${password}@${hosts.address('client')}:6379" mode="write-through"/>\n${CACHE}`,
      beforeStart: async (hosts) => {
        hosts.blockMulticast();
        for (const i of NAMES.keys()) hosts.partition(i, [...NAMES.keys()].filter((other) => other !== i));
        const redis = await RedisServer.start({ netns: hosts.ns('client'), host: hosts.address('client'), password });
        cleanups.push(() => void redis.remove());
      },
    });
    t.diagnostic(`converged through the store ${Math.round(c.convergedAfterMs)} ms after the first start`);
    await invalidationReachesEveryNode(c, 'sku-pubsub');

    const sessions: { hint: RouteHint; list: number[] }[] = [];
    for (let value = 0; value < 20; value++) {
      const created = await c.app(0, '/append', { value });
      const changed = await c.app(0, '/append', { value: value + 100, hint: created.hint });
      assert.equal(changed.mirrored, true, 'the store took the commit');
      assert.equal(changed.hint.backup, undefined, 'no backup node');
      sessions.push({ hint: changed.hint, list: [value, value + 100] });
    }
    c.processes[0]!.kill('SIGKILL');
    await c.processes[0]!.exited;
    for (const [value, s] of sessions.entries()) {
      const heir = 1 + (value % 2);
      const reply = await c.app(heir, '/read', { hint: s.hint });
      assert.deepEqual([reply.outcome, reply.list], ['restored', s.list], `session ${value} on ${NAMES[heir]}`);
    }
    await eventually(async () => (await c.status(1)).members.find((m) => m.name === NAMES[0])?.state === 'dead', { what: `${NAMES[0]} declared dead` });

    const drops = NAMES.map((_, i) => c.hosts.partitionDrops(i));
    t.diagnostic(`packets the hosts' rules dropped between nodes: ${JSON.stringify(drops)}`);
    for (const [i, counted] of drops.entries()) assert.deepEqual(counted, { fromPeers: 0, multicastIn: 0, toPeers: 0, multicastOut: 0 }, `${NAMES[i]} never tried to reach another node`);
    // The counters do count: a connection attempt from one node's host to another's is dropped, and seen.
    const attempt = `require('node:net').connect(9081, '${c.hosts.address(2)}').on('error', () => {}); setTimeout(() => process.exit(0), 300);`;
    execFileSync('ip', ['netns', 'exec', c.hosts.ns(1), process.execPath, '-e', attempt]);
    assert.ok(c.hosts.partitionDrops(1).toPeers > 0, 'an attempt is counted');
  });
});
