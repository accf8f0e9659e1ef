/**
 * A stalled node (SIGSTOP: alive, its kernel still accepting connections, but answering
 * nothing) does not stall the sessions of others: a sync commit whose backup has stopped
 * answering moves to another backup after deadAfterMs, while the stopped node is only
 * suspect, and nothing acknowledged is lost when it resumes.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { NodeStatus } from '../lib/index.js';
import type { RouteHint } from '../lib/replication/route-hint.js';
import { killAll, makeCluster, startNodes, type TestCluster } from './helpers/cluster.js';
import { route } from './helpers/session-client.js';
import { eventually } from './helpers/wait.js';

const NAMES = ['node-a', 'node-b', 'node-c'];

describe('a stalled backup (SIGSTOP)', { timeout: 60_000 }, () => {
  let cluster: TestCluster;
  after(async () => {
    await killAll();
    cluster?.cleanup();
  });

  test('sync commits move to another backup while the stalled one is only suspect; nothing is lost', async (t) => {
    cluster = await makeCluster({ nodes: 3, extraXml: '<Replication mode="sync"/>' });
    const nodes = await startNodes(cluster, NAMES, {}, 'session-app');
    const status = (name: string) => cluster.admin(name).json<NodeStatus>('GET', '/status');
    for (const name of NAMES) await eventually(async () => (await status(name)).members.filter((m) => m.state === 'alive').length === 3, { what: `${name} to see 3 members` });

    let hint: RouteHint = (await route(cluster, undefined, '/append', { value: 0 }, 'node-a')).hint;
    const stalled = hint.backup!;
    nodes.get(stalled)!.kill('SIGSTOP');
    try {
      const started = performance.now();
      const reply = await route(cluster, hint, '/append', { value: 1 });
      const waitedMs = performance.now() - started;
      hint = reply.hint;
      const seen = (await status('node-a')).members.find((m) => m.name === stalled)!.state;
      t.diagnostic(`the first commit after SIGSTOP of its backup was acknowledged after ${Math.round(waitedMs)} ms (deadAfterMs 500), with ${stalled} ${seen}; new backup ${hint.backup}`);
      assert.notEqual(hint.backup, stalled, 'the change is on a node that answers');
      assert.notEqual(seen, 'dead', 'it did not wait for the stalled node to be declared dead');
      for (let value = 2; value < 20; value++) hint = (await route(cluster, hint, '/append', { value })).hint;
    } finally {
      nodes.get(stalled)!.kill('SIGCONT');
    }
    await eventually(async () => (await status('node-a')).members.find((m) => m.name === stalled)?.state === 'alive', { what: `${stalled} alive again` });
    const read = await route(cluster, hint, '/read', {});
    assert.deepEqual(read.list, Array.from({ length: 20 }, (_, i) => i));
  });
});
