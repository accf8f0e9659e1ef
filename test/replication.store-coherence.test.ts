/**
 * Sessions kept coherent through the store (pubsub discovery, lib/replication/store-coherence.ts)
 * under the bus's loss rules: real SessionManagers and a real redis-server, their cluster
 * cores on the in-memory network with a fake clock, so that one invalidation datagram can be
 * lost on purpose. Node b holds a session node a then changes:
 * - the invalidation arrives: b reads the session again at its next request;
 * - it is lost, and asked for again (NAK): b's copy alone is marked stale;
 * - it is lost, with retransmission off: the gap marks every copy b holds stale.
 * Either way b serves a's change, and never its own older copy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SessionManager } from '../lib/replication/session-manager.js';
import type { RouteHint } from '../lib/replication/route-hint.js';
import { SessionVault } from '../lib/replication/vault.js';
import { ReferenceRegistry } from '../lib/session/reference.js';
import { FrameCodec } from '../lib/wire/frame.js';
import { HEARTBEAT, makeCores, SECRET } from './helpers/cores.js';
import { REDIS_SKIP, RedisServer } from './helpers/redis.js';
import { eventually } from './helpers/wait.js';

const withoutVersion = ({ version: _version, ...hint }: RouteHint): RouteHint => hint;

describe('sessions coherent through the store, under the bus\'s loss rules', { skip: REDIS_SKIP, timeout: 60_000 }, () => {
  let redis: RedisServer;
  const closing: (() => Promise<void>)[] = [];
  before(async () => {
    redis = await RedisServer.start();
  });
  after(async () => {
    for (const close of closing.reverse()) await close();
    await redis.remove();
  });

  let prefixes = 0;
  /** Nodes a and b, each with its own connection to one store, converged. */
  async function twoNodes(retransmit: boolean) {
    const cores = makeCores(['a', 'b'], { retransmit });
    const keyPrefix = `coherence${prefixes++}`;
    const managers = new Map<string, SessionManager>();
    for (const name of ['a', 'b']) {
      const vault = await SessionVault.open({ type: 'redis', url: redis.url, mode: 'write-through', flushMs: 20, backlogLimit: 1000, keyPrefix }, 'unit');
      await eventually(() => vault.stats.state === 'up', { what: 'the vault to connect' });
      const manager = new SessionManager({
        self: { name, incarnation: `${name}-1`, machine: `m-${name}`, pinnedBackup: undefined },
        replication: { mode: 'sync', batchSize: 10, batchIntervalMs: 10, rehome: 'eager', noBackup: 'accept' },
        timeoutMs: 60_000,
        references: new ReferenceRegistry(),
        vault,
        bus: cores.get(name).core.bus,
      });
      managers.set(name, manager);
      closing.push(async () => {
        await manager.close();
        await vault.close(100);
      });
    }
    for (const { core } of cores.cores.values()) core.start();
    await cores.clock.advance(HEARTBEAT.intervalMs);
    const codec = new FrameCodec({ cluster: 'unit', secret: SECRET, maxFrameBytes: 65_000 });
    /** Loses the next invalidation datagram from a to b. */
    const loseNextInvalidation = () => {
      let lost = false;
      cores.network.drop = (datagram, from, to) => {
        if (lost || from !== cores.get('a').transport || to !== cores.get('b').transport || codec.decode(datagram).kind !== 'invalidate') return false;
        return (lost = true);
      };
    };
    return { cores, a: managers.get('a')!, b: managers.get('b')!, loseNextInvalidation };
  }

  /** a makes a session, b loads it from the store: both hold it at value 1. */
  async function heldByBoth(nodes: Awaited<ReturnType<typeof twoNodes>>): Promise<RouteHint> {
    const made = await nodes.a.run(undefined, (session) => session.global.set('n', 1));
    assert.equal(made.mirrored, true, 'the store took it');
    const loaded = await nodes.b.run(withoutVersion(made.hint), (session) => session.global.get('n'));
    assert.deepEqual([loaded.outcome, loaded.result], ['restored', 1]);
    return made.hint;
  }

  const readOnB = async (nodes: Awaited<ReturnType<typeof twoNodes>>, hint: RouteHint) => {
    const read = await nodes.b.run(withoutVersion({ ...hint, primary: 'b' }), (session) => session.global.get('n'));
    return [read.outcome, read.result];
  };

  test('the invalidation arrives: b reads the session again and serves a\'s change', async () => {
    const nodes = await twoNodes(true);
    const hint = await heldByBoth(nodes);
    const heard = nodes.b.snapshotStats().sessionInvalidationsReceived; // a's first write was invalidated too
    await nodes.a.run(hint, (session) => session.global.set('n', 2));
    await eventually(() => nodes.b.snapshotStats().sessionInvalidationsReceived > heard, { what: 'b to hear the invalidation' });
    assert.deepEqual(await readOnB(nodes, hint), ['restored', 2]);
    assert.deepEqual([nodes.b.snapshotStats().staleRereads, nodes.b.snapshotStats().staleMarkAll], [1, 0]);
  });

  test('the invalidation is lost and asked for again (NAK): only that session is read again', async () => {
    const nodes = await twoNodes(true);
    const hint = await heldByBoth(nodes);
    const other = await nodes.b.run(undefined, (session) => session.global.set('n', 'b\'s own'));
    const heard = nodes.b.snapshotStats().sessionInvalidationsReceived;
    nodes.loseNextInvalidation();
    await nodes.a.run(hint, (session) => session.global.set('n', 2));
    // a's next heartbeat says what it published: b finds the gap, asks, and gets it.
    for (let i = 0; i < 5 && nodes.b.snapshotStats().sessionInvalidationsReceived === heard; i++) await nodes.cores.clock.advance(HEARTBEAT.intervalMs);
    assert.ok(nodes.cores.get('a').core.bus.stats.retransmitsSent >= 1, 'sent again');
    assert.deepEqual(await readOnB(nodes, hint), ['restored', 2]);
    assert.equal(nodes.b.snapshotStats().staleMarkAll, 0, 'nothing else marked stale');
    const untouched = await nodes.b.run(other.hint, (session) => session.global.get('n'));
    assert.deepEqual([untouched.outcome, untouched.result], ['served', 'b\'s own']);
  });

  test('the invalidation is lost with retransmission off: the gap marks every copy stale, and b still serves a\'s change', async () => {
    const nodes = await twoNodes(false);
    const hint = await heldByBoth(nodes);
    const heard = nodes.b.snapshotStats().sessionInvalidationsReceived;
    nodes.loseNextInvalidation();
    await nodes.a.run(hint, (session) => session.global.set('n', 2));
    for (let i = 0; i < 5 && nodes.b.snapshotStats().staleMarkAll === 0; i++) await nodes.cores.clock.advance(HEARTBEAT.intervalMs);
    assert.equal(nodes.b.snapshotStats().staleMarkAll, 1, 'the gap marked every copy');
    assert.equal(nodes.b.snapshotStats().sessionInvalidationsReceived, heard, 'the invalidation itself never came');
    assert.deepEqual(await readOnB(nodes, hint), ['restored', 2]);
  });
});
