import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { NodeStatus } from '../lib/index.js';
import type { SessionView } from '../lib/session/view.js';
import { killAll, makeCluster, startNodes, type TestCluster } from './helpers/cluster.js';
import { route } from './helpers/session-client.js';
import { eventually, sleep } from './helpers/wait.js';

describe('rehome="lazy": a lost backup is replaced at the session\'s next request', { timeout: 60_000 }, () => {
  let cluster: TestCluster;
  after(async () => {
    await killAll();
    cluster?.cleanup();
  });

  test('no copy moves until the session is used; then it gets a new backup and a full copy', async () => {
    cluster = await makeCluster({ nodes: 3, extraXml: '<Replication mode="sync" rehome="lazy"/>' });
    const nodes = await startNodes(cluster, ['node-a', 'node-b', 'node-c'], {}, 'session-app');
    for (const name of nodes.keys()) {
      await eventually(async () => (await cluster.admin(name).json<NodeStatus>('GET', '/status')).members.filter((m) => m.state === 'alive').length === 3, { what: 'three alive' });
    }
    let hint = (await route(cluster, undefined, '/append', { value: 1 }, 'node-a')).hint;
    const lostBackup = hint.backup!;
    nodes.get(lostBackup)!.kill('SIGKILL');
    await nodes.get(lostBackup)!.exited;
    await eventually(async () => (await cluster.admin('node-a').json<NodeStatus>('GET', '/status')).members.find((m) => m.name === lostBackup)?.state === 'dead', { what: 'backup dead' });
    await sleep(200);
    const before = await cluster.admin('node-a').json<SessionView>('GET', `/sessions/${hint.sessionId}`);
    assert.equal(before.backup, null, 'lazy: not re-homed yet');
    const reply = await route(cluster, hint, '/read', {});
    hint = reply.hint;
    const spare = ['node-b', 'node-c'].find((n) => n !== lostBackup)!;
    assert.equal(hint.backup, spare);
    const copy = await cluster.admin(spare).json<SessionView>('GET', `/sessions/${hint.sessionId}`);
    assert.deepEqual(copy.pools.global!.list, [1]);
  });
});
