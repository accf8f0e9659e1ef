import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdminRequestError, type NodeStatus } from '../lib/index.js';
import { FrameCodec } from '../lib/wire/frame.js';
import { runCli } from './helpers/cli.js';
import { killAll, makeCluster, NodeProcess, startNodes, type TestCluster } from './helpers/cluster.js';
import { sendToGroup } from './helpers/datagrams.js';
import { eventually } from './helpers/wait.js';

const INTERVAL = 100;
const DEAD_AFTER = 500;

describe('a three-node cluster of castmirror processes', { timeout: 90_000 }, () => {
  let cluster: TestCluster;
  let nodes: Map<string, NodeProcess>;
  const status = (node: string) => cluster.admin(node).json<NodeStatus>('GET', '/status');
  const stateOf = async (viewer: string, member: string) => (await status(viewer)).members.find((m) => m.name === member);
  const hasEntry = async (node: string, key: string) => {
    try {
      await cluster.admin(node).json('GET', `/caches/product/entries/${encodeURIComponent(key)}`);
      return true;
    } catch (error) {
      if (error instanceof AdminRequestError && error.status === 404) return false;
      throw error;
    }
  };

  before(async () => {
    cluster = await makeCluster({ nodes: 3, intervalMs: INTERVAL, deadAfterMs: DEAD_AFTER });
    nodes = await startNodes(cluster, ['node-a', 'node-b', 'node-c']);
  });
  after(async () => {
    await killAll();
    cluster?.cleanup();
  });

  test('membership converges: every node sees all three alive, with their incarnations', async () => {
    const incarnations = Object.fromEntries(
      await Promise.all([...nodes].map(async ([name, p]) => [name, (await p.started()).incarnation as string])),
    );
    for (const viewer of nodes.keys()) {
      await eventually(async () => (await status(viewer)).members.every((m) => m.state === 'alive') && (await status(viewer)).members.length === 3, {
        what: `${viewer} to see three alive members`,
      });
      const seen = await status(viewer);
      assert.equal(seen.multicastVerified, true);
      assert.deepEqual(Object.fromEntries(seen.members.map((m) => [m.name, m.incarnation])), incarnations);
    }
  });

  test('castmirror status lists the members (CLI, --json and text)', async () => {
    const json = await runCli(['status', '--config', cluster.configPath, '--node', 'node-a', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as NodeStatus;
    assert.deepEqual(parsed.members.map((m) => `${m.name}:${m.state}`), ['node-a:alive', 'node-b:alive', 'node-c:alive']);
    const text = await runCli(['status', '--config', cluster.configPath]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /node-b\s+alive/);
  });

  test('an invalidation on one node removes the entry on both others (CLI put, CLI invalidate)', async () => {
    for (const node of ['node-b', 'node-c']) {
      const put = await runCli(['cache', 'put', 'product', 'sku-1', '{"price":10}', '--config', cluster.configPath, '--node', node]);
      assert.equal(put.code, 0, put.stderr);
    }
    const get = await runCli(['cache', 'get', 'product', 'sku-1', '--config', cluster.configPath, '--node', 'node-c']);
    assert.deepEqual(JSON.parse(get.stdout), { price: 10 });
    const invalidate = await runCli(['cache', 'invalidate', 'product', 'sku-1', '--config', cluster.configPath, '--node', 'node-a']);
    assert.equal(invalidate.code, 0, invalidate.stderr);
    await eventually(async () => !(await hasEntry('node-b', 'sku-1')) && !(await hasEntry('node-c', 'sku-1')), { what: 'sku-1 gone on b and c', timeoutMs: 2000 });
    const missing = await runCli(['cache', 'get', 'product', 'sku-1', '--config', cluster.configPath, '--node', 'node-b']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no entry "sku-1"/);
    const unknownType = await runCli(['cache', 'stats', 'no-such-type', '--config', cluster.configPath, '--node', 'node-b']);
    assert.equal(unknownType.code, 1);
    assert.match(unknownType.stderr, /\[CASTMIRROR_UNKNOWN_CACHE_TYPE\]$/m, "a node's error shows under the node's own code");
  });

  test('clear empties the type on every node; capacity changes only one node', async () => {
    for (const node of nodes.keys()) await cluster.admin(node).json('PUT', '/caches/product/entries/k', 1);
    await cluster.admin('node-b').json('POST', '/caches/product/clear');
    for (const node of nodes.keys()) await eventually(async () => !(await hasEntry(node, 'k')), { what: `k cleared on ${node}`, timeoutMs: 2000 });
    const capacity = await runCli(['cache', 'capacity', 'product', '500', '--config', cluster.configPath, '--node', 'node-b']);
    assert.equal(capacity.code, 0, capacity.stderr);
    const stats = await runCli(['cache', 'stats', '--json', '--config', cluster.configPath, '--node', 'node-b']);
    const capacityOf = (out: string) => (JSON.parse(out) as { caches: { type: string; capacity: number }[] }).caches.find((c) => c.type === 'product')!.capacity;
    assert.equal(capacityOf(stats.stdout), 500);
    const statsA = await runCli(['cache', 'stats', '--json', '--config', cluster.configPath, '--node', 'node-a']);
    assert.equal(capacityOf(statsA.stdout), 1000);
  });

  test('datagrams forged with another secret, and garbage, are dropped and counted; no node crashes', async () => {
    const forger = new FrameCodec({ cluster: `test-${cluster.dir.split('/').pop()}`, secret: Buffer.from('not-the-cluster-secret-0123'), maxFrameBytes: 1400 });
    const forged = forger.encode({
      cluster: forger.cluster,
      sender: 'node-a',
      incarnation: 'forged',
      startedAt: Date.now(),
      seq: 1,
      kind: 'invalidate',
      payload: { seq: 1, entries: [{ type: 'product', prev: 0, clear: true, keys: [] }] },
    });
    await cluster.admin('node-c').json('PUT', '/caches/product/entries/kept', 1);
    await sendToGroup(cluster.group, cluster.port, [forged, forged, Buffer.from('garbage'), Buffer.alloc(2000, 7)]);
    for (const node of nodes.keys()) {
      const seen = await eventually(async () => {
        const dropped = (await status(node)).dropped!;
        return dropped['bad-tag'] >= 2 && dropped['bad-magic'] >= 1 && dropped.oversize >= 1 ? dropped : undefined;
      }, { what: `${node} to count the forged frames` });
      assert.ok(seen['bad-tag'] >= 2);
    }
    assert.equal(await hasEntry('node-c', 'kept'), true, 'the forged clear was not applied');
    const metrics = await cluster.admin('node-a').text('/metrics');
    assert.match(metrics, /castmirror_frames_dropped_total\{node="node-a",reason="bad-tag"\} [1-9]/);
  });

  test('kill -9 of node-c: the others mark it dead (bound proven with a fake clock in membership tests)', async (t) => {
    const victim = nodes.get('node-c')!;
    const killedAt = Date.now();
    victim.kill('SIGKILL');
    await victim.exited;
    const detected = await Promise.all(
      ['node-a', 'node-b'].map(async (viewer) => {
        await eventually(async () => (await stateOf(viewer, 'node-c'))?.state === 'dead', { what: `${viewer} to see node-c dead`, timeoutMs: 5000, intervalMs: 10 });
        return Date.now() - killedAt;
      }),
    );
    t.diagnostic(`detected after ${detected.join(' and ')} ms (deadAfterMs ${DEAD_AFTER}, interval ${INTERVAL})`);
  });

  test('a restarted node-c is seen as a new incarnation', async () => {
    const before = (await stateOf('node-a', 'node-c'))!.incarnation;
    const restarted = new NodeProcess('node-c', cluster.configPath);
    nodes.set('node-c', restarted);
    const incarnation = (await restarted.started()).incarnation as string;
    assert.notEqual(incarnation, before);
    for (const viewer of ['node-a', 'node-b']) {
      await eventually(async () => {
        const member = await stateOf(viewer, 'node-c');
        return member?.state === 'alive' && member.incarnation === incarnation;
      }, { what: `${viewer} to see the new node-c` });
    }
  });

  test('SIGTERM stops a node gracefully: exit 0, and the others see it leave at once', async () => {
    const b = nodes.get('node-b')!;
    b.kill('SIGTERM');
    assert.deepEqual(await b.exited, { code: 0, signal: null });
    await eventually(async () => (await stateOf('node-a', 'node-b'))?.state === 'left', { what: 'node-b left', timeoutMs: 2000 });
  });
});
