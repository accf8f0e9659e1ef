import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HEARTBEAT, makeCores } from './helpers/cores.js';

const states = (cluster: ReturnType<typeof makeCores>, viewer: string) =>
  Object.fromEntries(cluster.get(viewer).core.membership.list().map((m) => [m.name, m.state]));

describe('membership (fake clock, in-memory network)', () => {
  test('members join on their first heartbeat and hear themselves', async () => {
    const cluster = makeCores(['a', 'b', 'c']);
    for (const { core } of cluster.cores.values()) core.start();
    await cluster.clock.advance(HEARTBEAT.intervalMs);
    assert.deepEqual(states(cluster, 'a'), { a: 'alive', b: 'alive', c: 'alive' });
    const b = cluster.get('a').core.membership.get('b')!;
    assert.equal(b.machine, 'm-b');
    assert.equal(b.incarnation, 'b-1');
    assert.equal(cluster.get('a').core.membership.multicastVerified, true);
  });

  test('heartbeats that never arrive are counted from the gap before the next one', async () => {
    const cluster = makeCores(['a', 'b']);
    for (const { core } of cluster.cores.values()) core.start();
    await cluster.clock.advance(2 * HEARTBEAT.intervalMs);
    const membership = cluster.get('a').core.membership;
    assert.equal(membership.heartbeatsMissed, 0);
    const { transport: fromB } = cluster.get('b');
    cluster.network.drop = (_datagram, from) => from === fromB;
    await cluster.clock.advance(3 * HEARTBEAT.intervalMs); // three of b's heartbeats lost
    cluster.network.drop = () => false;
    await cluster.clock.advance(HEARTBEAT.intervalMs);
    assert.equal(membership.heartbeatsMissed, 3);
  });

  test('a killed member goes suspect, then dead once the probe is refused, within deadAfterMs + one interval', async () => {
    const cluster = makeCores(['a', 'b']);
    for (const { core } of cluster.cores.values()) core.start();
    await cluster.clock.advance(HEARTBEAT.intervalMs);
    const events: string[] = [];
    const membership = cluster.get('a').core.membership;
    membership.on('suspect', (m) => events.push(`suspect ${m.name} @${cluster.clock.now() - killedAt}`));
    membership.on('dead', (m, reason) => events.push(`dead ${m.name} ${reason} @${cluster.clock.now() - killedAt}`));
    const lastHeard = membership.get('b')!.lastHeardAt;
    cluster.kill('b');
    const killedAt = lastHeard;
    await cluster.clock.advance(HEARTBEAT.deadAfterMs + HEARTBEAT.intervalMs);
    assert.equal(events.length, 2, events.join(', '));
    assert.match(events[0]!, /^suspect b @2\d\d$/);
    const deadAt = Number(/@(\d+)$/.exec(events[1]!)![1]);
    assert.match(events[1]!, /^dead b refused/);
    assert.ok(deadAt >= HEARTBEAT.deadAfterMs && deadAt <= HEARTBEAT.deadAfterMs + HEARTBEAT.intervalMs, `dead after ${deadAt} ms`);
  });

  test('a silent member whose port still answers is not declared dead (a stalled event loop)', async () => {
    const cluster = makeCores(['a', 'b']);
    for (const { core } of cluster.cores.values()) core.start();
    await cluster.clock.advance(HEARTBEAT.intervalMs);
    const b = cluster.get('b');
    cluster.network.isolate(b.transport); // silent, but its port still answers the probe
    await cluster.clock.advance(3 * HEARTBEAT.deadAfterMs);
    assert.equal(states(cluster, 'a').b, 'suspect');
    const events: string[] = [];
    cluster.get('a').core.membership.on('alive', (m) => events.push(m.name));
    cluster.network.reconnect(b.transport);
    await cluster.clock.advance(HEARTBEAT.intervalMs);
    assert.equal(states(cluster, 'a').b, 'alive');
    assert.deepEqual(events, ['b']);
  });

  test('the probe goes to the replication port, so a node without the admin API keeps its stalled-but-alive protection', async () => {
    const cluster = makeCores(['a', 'b'], { adminPort: 0 });
    for (const { core } of cluster.cores.values()) core.start();
    await cluster.clock.advance(HEARTBEAT.intervalMs);
    cluster.network.isolate(cluster.get('b').transport); // silent, but its replication port answers
    await cluster.clock.advance(3 * HEARTBEAT.deadAfterMs);
    assert.equal(states(cluster, 'a').b, 'suspect', 'not declared dead for want of an admin port');
    assert.ok(cluster.probes.length > 0);
    assert.ok(cluster.probes.every((p) => p === 'b:7000' || p === 'a:7000'), `probed: ${[...new Set(cluster.probes)].join(', ')}`);
  });

  test('a member first heard through a frame that is not a heartbeat is probed too: never declared dead unconfirmed', async () => {
    const cluster = makeCores(['a', 'b']);
    cluster.get('a').core.start();
    // b speaks (a locate) before its first heartbeat, then goes silent; its port still answers.
    await cluster.get('b').core.channel.send('locate', { request: 1, session: 'x'.repeat(22) });
    assert.equal(states(cluster, 'a').b, 'alive');
    cluster.network.isolate(cluster.get('b').transport);
    await cluster.clock.advance(3 * HEARTBEAT.deadAfterMs);
    assert.equal(states(cluster, 'a').b, 'suspect', 'the probe found it alive');
    assert.ok(cluster.probes.includes('b:7000'));
  });

  test('a silent member is declared dead after 10 x deadAfterMs even if its port answers', async () => {
    const cluster = makeCores(['a', 'b']);
    for (const { core } of cluster.cores.values()) core.start();
    await cluster.clock.advance(HEARTBEAT.intervalMs);
    const reasons: string[] = [];
    cluster.get('a').core.membership.on('dead', (_m, reason) => reasons.push(reason));
    cluster.network.isolate(cluster.get('b').transport);
    await cluster.clock.advance(10 * HEARTBEAT.deadAfterMs + HEARTBEAT.intervalMs);
    assert.deepEqual(reasons, ['silent']);
  });

  test('a restart is a new incarnation: restarted event, old incarnation refused afterwards', async () => {
    const cluster = makeCores(['a', 'b']);
    cluster.get('a').core.start();
    cluster.get('b').core.start();
    await cluster.clock.advance(HEARTBEAT.intervalMs);
    const oldB = cluster.get('b');
    cluster.kill('b');
    const restarted: string[] = [];
    const membership = cluster.get('a').core.membership;
    membership.on('restarted', (m, previous) => restarted.push(`${previous.incarnation}->${m.incarnation} (${previous.state})`));
    const newB = cluster.add('b', 'b-2', 2000);
    newB.core.start();
    await cluster.clock.advance(HEARTBEAT.intervalMs);
    assert.deepEqual(restarted, ['b-1->b-2 (alive)']);
    assert.equal(membership.get('b')!.incarnation, 'b-2');
    // A frame of the retired incarnation (replayed, or a zombie process) is refused.
    cluster.network.reconnect(oldB.transport);
    await oldB.core.bus.publishInvalidate('product', 'k');
    assert.equal(cluster.get('a').core.channel.drops['stale-incarnation'], 1);
  });

  test('a goodbye marks the member left at once', async () => {
    const cluster = makeCores(['a', 'b']);
    for (const { core } of cluster.cores.values()) core.start();
    await cluster.clock.advance(HEARTBEAT.intervalMs);
    await cluster.get('b').core.stop();
    assert.equal(states(cluster, 'a').b, 'left');
  });

  test('frames from nodes not in ClusterNodes are dropped and counted', async () => {
    const cluster = makeCores(['a', 'b', 'x'], { knownNodes: ['a', 'b'] });
    for (const { core } of cluster.cores.values()) core.start();
    await cluster.clock.advance(HEARTBEAT.intervalMs);
    assert.deepEqual(Object.keys(states(cluster, 'a')), ['a', 'b']);
    assert.equal(cluster.get('a').core.channel.drops['unknown-member'], 2);
  });

  test('two processes with one name: each sees a name clash, the others keep the newer one', async () => {
    const cluster = makeCores(['a', 'b']);
    cluster.get('a').core.start();
    cluster.get('b').core.start();
    await cluster.clock.advance(HEARTBEAT.intervalMs);
    const original = cluster.get('a');
    const twin = cluster.add('a', 'a-twin', 5000);
    twin.core.start();
    await cluster.clock.advance(3 * HEARTBEAT.intervalMs);
    assert.ok(cluster.get('b').core.channel.drops['stale-incarnation'] > 0, 'the older incarnation is refused while the newer lives');
    assert.equal(cluster.get('b').core.membership.get('a')!.incarnation, 'a-twin');
    assert.ok(twin.core.channel.drops['name-clash'] > 0);
    assert.ok(original.core.channel.drops['name-clash'] > 0);
  });

  test('without hearing its own heartbeat, a node reports that multicast does not work', async () => {
    const cluster = makeCores(['a']);
    cluster.network.drop = () => true;
    let silent = 0;
    cluster.get('a').core.membership.on('multicast-silent', () => silent++);
    cluster.get('a').core.start();
    await cluster.clock.advance(1000);
    assert.equal(silent, 1);
    assert.equal(cluster.get('a').core.membership.multicastVerified, false);
  });
});
