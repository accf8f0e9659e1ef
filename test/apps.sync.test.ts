/**
 * ApplicationSync over an in-memory network with a fake clock: a change reaches and is
 * acknowledged by every member; a member that missed it (its datagrams were lost) is
 * brought up to date when it next announces its table, even though nobody joined.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApplicationRegistry } from '../lib/apps/registry.js';
import { ApplicationSync } from '../lib/apps/sync.js';
import { HEARTBEAT, makeCores } from './helpers/cores.js';

function withSync(cluster: ReturnType<typeof makeCores>, name: string) {
  const { core } = cluster.get(name);
  const registry = new ApplicationRegistry({ self: name, initial: [{ name: 'shop', enabled: true }] });
  const sync = new ApplicationSync(registry, core.channel, core.membership, 50);
  return { registry, sync };
}

describe('ApplicationSync', () => {
  test('a change is applied and acknowledged by every member', async () => {
    const cluster = makeCores(['a', 'b', 'c']);
    const nodes = Object.fromEntries(['a', 'b', 'c'].map((n) => [n, withSync(cluster, n)]));
    for (const { core } of cluster.cores.values()) core.start();
    await cluster.clock.advance(HEARTBEAT.intervalMs);
    const report = await nodes.b!.sync.change('shop', 'draining');
    assert.deepEqual(report.applied, ['a', 'b', 'c']);
    assert.deepEqual(report.missing, []);
    for (const n of ['a', 'b', 'c']) assert.equal(nodes[n]!.registry.get('shop')!.state, 'draining', n);
  });

  test('a member that missed a change is corrected when it announces its older table', async () => {
    const cluster = makeCores(['a', 'b']);
    const a = withSync(cluster, 'a');
    const b = withSync(cluster, 'b');
    for (const { core } of cluster.cores.values()) core.start();
    await cluster.clock.advance(HEARTBEAT.intervalMs);
    const { transport: fromA } = cluster.get('a');
    const { transport: toB } = cluster.get('b');

    // Everything a sends to b is lost: the change, and a's heartbeats.
    cluster.network.drop = (_datagram, from, to) => from === fromA && to === toB;
    const report = await a.sync.change('shop', 'disabled');
    assert.deepEqual(report.missing, ['b']);
    assert.equal(b.registry.get('shop')!.state, 'enabled', 'b missed it');

    // b gives a up; a still hears b and never sees it join again, so a sends nothing of its own accord.
    cluster.get('a').probeResult = 'refused';
    await cluster.clock.advance(3 * HEARTBEAT.deadAfterMs);
    assert.equal(cluster.get('b').core.membership.get('a')!.state, 'dead');
    cluster.network.drop = () => false;
    // a's next heartbeat makes b see a join: b announces its (older) table, a answers with the newer.
    await cluster.clock.advance(2 * HEARTBEAT.intervalMs);
    assert.equal(b.registry.get('shop')!.state, 'disabled');
    assert.equal(b.registry.get('shop')!.version, 1);
  });
});
