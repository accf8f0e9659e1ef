/**
 * The shared store on the Redis topologies its URLs name, each real, on 127.0.0.1:
 * - Redis Cluster (`redis+cluster://`, three masters): a batch of sessions spreads over the
 *   masters and every one is written and loaded (an explicit pipeline cannot span masters:
 *   this fails with one); heartbeat frames cross the cluster's pub/sub;
 * - Sentinel (`redis+sentinel://`, a master, its replica, one sentinel): kill -9 of the
 *   master; the sentinel promotes the replica, the vault follows it, and every session
 *   written before (replicated) and after loads.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { StoreSettings } from '../lib/config/types.js';
import { SessionVault } from '../lib/replication/vault.js';
import { newSessionId } from '../lib/session/id.js';
import { ReferenceRegistry } from '../lib/session/reference.js';
import { SessionObject } from '../lib/session/session.js';
import { PubSubChannel } from '../lib/transport/pubsub.js';
import { REDIS_SKIP, startRedisCluster, startRedisSentinel } from './helpers/redis.js';
import { eventually } from './helpers/wait.js';

function session(): SessionObject {
  const now = Date.now();
  const s = new SessionObject({ id: newSessionId(), version: 1, epoch: 0, primary: 'node-a', backup: undefined, origin: 'node-a', createdAt: now, lastAccessAt: now, timeoutMs: 60_000, expiresAt: null }, new ReferenceRegistry());
  s.global.set('cart', [s.id.slice(0, 6)]);
  return s;
}

const settings = (url: string, mode: StoreSettings['mode']): StoreSettings => ({ type: 'redis', url, mode, flushMs: 20, backlogLimit: 10_000, keyPrefix: 'topo' });

async function openVault(url: string, mode: StoreSettings['mode']): Promise<SessionVault> {
  const vault = await SessionVault.open(settings(url, mode), 'unit');
  await eventually(() => vault.stats.state === 'up', { what: 'the vault to connect', timeoutMs: 10_000 });
  return vault;
}

describe('the shared store on Redis Cluster and Sentinel', { skip: REDIS_SKIP, timeout: 90_000 }, () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test('Redis Cluster: a write-behind batch spreads over the masters and every session loads; frames cross its pub/sub', async (t) => {
    const cluster = await startRedisCluster(3);
    cleanups.push(() => cluster.remove());
    const vault = await openVault(cluster.url, 'write-behind');
    cleanups.push(() => vault.close(100));
    const sessions = Array.from({ length: 200 }, session);
    for (const s of sessions) vault.write(s);
    await eventually(() => vault.stats.writes === sessions.length, { what: `${sessions.length} writes (${vault.stats.failures} failed so far)` });
    assert.equal(vault.stats.failures, 0);
    const perMaster = await Promise.all(
      cluster.servers.map(async (server) => {
        const client = new Redis(server.port, '127.0.0.1');
        try {
          return await client.dbsize();
        } finally {
          client.disconnect();
        }
      }),
    );
    t.diagnostic(`sessions per master: ${perMaster.join(', ')}`);
    assert.ok(perMaster.every((count) => count > 0), 'every master holds some');
    for (const s of sessions) assert.deepEqual((await vault.load(s.id))?.meta.id, s.id);

    const limits = { receiveQueueLimit: 100, recvBufferBytes: 0 };
    const listener = await PubSubChannel.open({ url: cluster.url, channel: 'topo:unit:datagrams', publishes: false, ...limits });
    const sender = await PubSubChannel.open({ url: cluster.url, channel: 'topo:unit:datagrams', publishes: true, ...limits });
    cleanups.push(() => Promise.all([listener.close(), sender.close()]).then(() => undefined));
    const heard: string[] = [];
    listener.onDatagram((datagram) => heard.push(datagram.toString()));
    await eventually(async () => {
      await sender.send(Buffer.from('frame')).catch(() => {});
      return heard.includes('frame');
    }, { what: 'a frame across the cluster\'s pub/sub' });
  });

  test('Sentinel: kill -9 of the master; the replica is promoted and every session written before and after loads', async (t) => {
    const topology = await startRedisSentinel();
    cleanups.push(() => topology.remove());
    const vault = await openVault(topology.url, 'write-through');
    cleanups.push(() => vault.close(100));
    const before = Array.from({ length: 20 }, session);
    for (const s of before) assert.equal(await vault.write(s), true);
    const replica = new Redis(topology.replica.port, '127.0.0.1');
    cleanups.push(async () => replica.disconnect());
    await eventually(async () => (await replica.dbsize()) === before.length, { what: 'the replica to hold every session' });

    const killedAt = performance.now();
    await topology.master.stop();
    const afterwards: SessionObject[] = [];
    // Writes go on meanwhile: none waits or fails; each either reaches the new master or waits in the backlog.
    await eventually(async () => {
      const s = session();
      afterwards.push(s);
      return (await vault.write(s)) === true;
    }, { what: 'a write to the promoted replica', timeoutMs: 30_000, intervalMs: 200 });
    t.diagnostic(`writes reached the promoted replica ${Math.round(performance.now() - killedAt)} ms after the master was killed`);
    await eventually(() => vault.stats.backlog === 0, { what: 'the backlog written to the new master' });
    for (const s of [...before, ...afterwards]) assert.equal((await vault.load(s.id))?.meta.id, s.id, 'every session loads');
  });
});
