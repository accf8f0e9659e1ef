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
import type { SessionView } from '../lib/session/view.js';
import { portOf, post, route } from './helpers/session-client.js';
import { eventually, sleep } from './helpers/wait.js';

const NAMES = ['node-a', 'node-b', 'node-c'];

describe('a stalled node (SIGSTOP)', { timeout: 90_000 }, () => {
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

  test('a stalled primary: its backup serves the session after deadAfterMs; when it resumes it steps down, and nothing acknowledged is lost', async (t) => {
    await killAll();
    cluster?.cleanup();
    cluster = await makeCluster({ nodes: 3, extraXml: '<Replication mode="sync"/>' });
    const nodes = await startNodes(cluster, NAMES, {}, 'session-app');
    const status = (name: string) => cluster.admin(name).json<NodeStatus>('GET', '/status');
    for (const name of NAMES) await eventually(async () => (await status(name)).members.filter((m) => m.state === 'alive').length === 3, { what: `${name} to see 3 members` });

    let hint: RouteHint = (await route(cluster, undefined, '/append', { value: 0 }, 'node-a')).hint;
    for (let value = 1; value < 5; value++) hint = (await route(cluster, hint, '/append', { value })).hint;
    const oldHint = hint;
    const heir = hint.backup!;
    nodes.get('node-a')!.kill('SIGSTOP');
    let resumedWrite: string;
    try {
      // The client (or the proxy, which no longer hears node-a) goes to the backup.
      const started = performance.now();
      const first = await post(portOf(cluster, heir), '/append', { value: 5, hint });
      t.diagnostic(`with node-a stopped, ${heir} served the session ${Math.round(performance.now() - started)} ms after the request arrived (${first.outcome}; deadAfterMs 500)`);
      assert.equal(first.outcome, 'took-over');
      hint = first.hint;
      for (let value = 6; value < 10; value++) hint = (await post(portOf(cluster, heir), '/append', { value, hint })).hint;
      await sleep(500); // a stall of well over deadAfterMs in all, whatever the machine's speed
    } finally {
      nodes.get('node-a')!.kill('SIGCONT');
    }
    await eventually(async () => (await status(heir)).members.find((m) => m.name === 'node-a')?.state === 'alive', { what: 'node-a alive again' });
    // A client that still holds the old cookie reads on node-a, which still holds its old copy:
    // having stalled longer than deadAfterMs, node-a checks with its backup before serving.
    const staleRead = await post(portOf(cluster, 'node-a'), '/read', { hint: oldHint });
    t.diagnostic(`a read with the old cookie on the resumed node-a: ${staleRead.outcome}, ${JSON.stringify(staleRead.list)}`);
    assert.deepEqual(staleRead.list, Array.from({ length: 10 }, (_, i) => i), 'never the state from before the stall');
    hint = staleRead.hint;
    // And a write with the old cookie.
    try {
      hint = (await post(portOf(cluster, 'node-a'), '/append', { value: 99, hint: oldHint })).hint;
      resumedWrite = 'acknowledged';
    } catch (error) {
      resumedWrite = `refused (${(error as Error).message.slice(0, 60)})`;
    }
    t.diagnostic(`a write with the old cookie on the resumed node-a: ${resumedWrite}`);
    const roles = await Promise.all(NAMES.map(async (name) => (await cluster.admin(name).json<SessionView>('GET', `/sessions/${hint.sessionId}`).catch(() => undefined))?.role));
    assert.equal(roles.filter((r) => r === 'primary').length, 1, `one primary: ${JSON.stringify(roles)}`);
    const read = await route(cluster, hint, '/read', {});
    const list = read.list as number[];
    const acknowledged = Array.from({ length: 10 }, (_, i) => i);
    assert.deepEqual(list.filter((v) => v !== 99), acknowledged, 'every acknowledged write, in order');
    if (resumedWrite === 'acknowledged') assert.ok(list.includes(99), 'an acknowledged write on node-a is kept too');
  });
});
