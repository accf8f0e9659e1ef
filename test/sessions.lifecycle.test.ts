import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { SessionStateError, startNode, type CacheNode } from '../lib/index.js';
import { snapshotOf } from '../lib/session/codec.js';
import { makeCluster, type TestCluster } from './helpers/cluster.js';
import { eventually, sleep } from './helpers/wait.js';

async function twoNodes(extraXml: string): Promise<{ cluster: TestCluster; a: CacheNode; b: CacheNode }> {
  const cluster = await makeCluster({ nodes: 2, extraXml });
  const [a, b] = await Promise.all(['node-a', 'node-b'].map((nodeName) => startNode({ configPath: cluster.configPath, nodeName })));
  await eventually(() => a!.membership!.get('node-b')?.state === 'alive' && b!.membership!.get('node-a')?.state === 'alive', { what: 'two members' });
  return { cluster, a: a!, b: b! };
}

describe('session lifecycle (two in-process nodes, real sockets)', () => {
  const open: { cluster: TestCluster; a: CacheNode; b: CacheNode }[] = [];
  after(async () => {
    for (const { cluster, a, b } of open) {
      await Promise.all([a.close(), b.close()]);
      cluster.cleanup();
    }
  });

  test('an idle session expires on primary and backup; its next request is told "expired"', async () => {
    const pair = await twoNodes('<Sessions timeoutSeconds="1"/>');
    open.push(pair);
    const { a, b } = pair;
    const created = await a.sessions.run(undefined, (s) => s.global.set('x', 1));
    assert.equal(b.sessions.inspect(created.hint.sessionId)?.role, 'backup');
    await eventually(() => !a.sessions.inspect(created.hint.sessionId) && !b.sessions.inspect(created.hint.sessionId), { what: 'both copies expired', timeoutMs: 4000 });
    const next = await a.sessions.run(created.hint, (s) => s.global.get('x'));
    assert.equal(next.outcome, 'expired');
    assert.equal(next.result, undefined, 'a new, empty session');
    assert.notEqual(next.hint.sessionId, created.hint.sessionId);
  });

  test('requests that change nothing still keep the backup copy alive (touches)', async () => {
    const pair = await twoNodes('<Sessions timeoutSeconds="1"/>');
    open.push(pair);
    const { a, b } = pair;
    let { hint } = await a.sessions.run(undefined, (s) => s.global.set('x', 1));
    const until = Date.now() + 2500;
    while (Date.now() < until) {
      hint = (await a.sessions.run(hint, (s) => s.global.get('x'))).hint;
      await sleep(200);
    }
    assert.equal(b.sessions.inspect(hint.sessionId)?.role, 'backup', 'still held after 2.5 x the timeout');
    assert.ok(a.sessions.snapshotStats().touches > 0);
    assert.equal(b.sessions.inspect(hint.sessionId)?.session.version, 1, 'touches sent no new version');
  });

  test('a session created while its node was alone gets a backup as soon as another node joins', async () => {
    const cluster = await makeCluster({ nodes: 2 });
    const a = await startNode({ configPath: cluster.configPath, nodeName: 'node-a' });
    const created = await a.sessions.run(undefined, (s) => s.global.set('x', 1));
    assert.equal(created.mirrored, false, 'no other node yet');
    const b = await startNode({ configPath: cluster.configPath, nodeName: 'node-b' });
    open.push({ cluster, a, b });
    await eventually(() => b.sessions.inspect(created.hint.sessionId)?.role === 'backup', { what: 'the copy on node-b' });
    assert.equal(a.sessions.snapshotStats().unmirrored, 0);
  });

  test('two primaries of one session: the one that took over wins (a later epoch), whatever the versions; the loser steps down', async () => {
    const pair = await twoNodes('');
    open.push(pair);
    const { a, b } = pair;
    const { hint, session } = await a.sessions.run(undefined, (s) => s.global.set('n', 1));
    // As after a stall or a partition: node-b also came to serve the session (a new epoch).
    await b.sessions.answer({ t: 'handoff', id: 1, snapshot: snapshotOf(session) }, { node: 'node-a', incarnation: a.incarnation.id });
    assert.equal(b.sessions.inspect(hint.sessionId)?.role, 'primary');
    assert.equal(b.sessions.inspect(hint.sessionId)?.session.meta.epoch, 1);
    // node-a, still at epoch 0, moves ahead to version 2: its commit is refused, never acknowledged.
    await assert.rejects(a.sessions.run(hint, (s) => s.global.set('n', 2)), SessionStateError);
    assert.equal(a.sessions.inspect(hint.sessionId), undefined, 'node-a stepped down');
    assert.equal(b.sessions.inspect(hint.sessionId)?.role, 'primary');
    assert.equal(b.sessions.inspect(hint.sessionId)?.session.global.get('n'), 1);
    assert.equal(a.sessions.snapshotStats().conflicts, 1);
    assert.equal(b.sessions.snapshotStats().conflicts, 2, 'the delta, then the full copy');
    // Within one epoch the higher version wins: a copy older than node-b's is refused.
    const older = { ...snapshotOf(session), meta: { ...session.meta, epoch: 1, version: 0 } };
    assert.equal((await b.sessions.answer({ t: 'mirror', id: 2, snapshot: older }, { node: 'node-a', incarnation: a.incarnation.id }))?.t, 'conflict');
    assert.match(a.metrics(), /^castmirror_session_conflicts_total\{node="node-a"\} 1$/m);
    assert.match(b.metrics(), /^castmirror_sessions\{node="node-b",role="primary"\} 1$/m);
  });
});
