import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { NodeStatus } from '../lib/index.js';
import type { RouteHint } from '../lib/replication/route-hint.js';
import { encodeMessage } from '../lib/replication/protocol.js';
import type { SessionView } from '../lib/session/view.js';
import { framed } from '../lib/transport/frame-stream.js';
import { killAll, makeCluster, NodeProcess, startNodes, type TestCluster } from './helpers/cluster.js';
import { portOf, post, route } from './helpers/session-client.js';
import { eventually } from './helpers/wait.js';
import { runCli } from './helpers/cli.js';

const NAMES = ['node-a', 'node-b', 'node-c'];

describe('sessions across three app processes (sync mode)', { timeout: 180_000 }, () => {
  let cluster: TestCluster;
  let nodes: Map<string, NodeProcess>;
  const status = (node: string) => cluster.admin(node).json<NodeStatus>('GET', '/status');
  const aliveEverywhere = async (names: string[]) => {
    for (const name of names) {
      await eventually(async () => {
        const members = (await status(name)).members;
        return names.every((n) => members.some((m) => m.name === n && m.state === 'alive'));
      }, { what: `${name} to see ${names.join(', ')} alive`, timeoutMs: 10_000 });
    }
  };
  const restart = async (name: string) => {
    const process = new NodeProcess(name, cluster.configPath, {}, 'session-app');
    nodes.set(name, process);
    await process.started();
  };
  const newSession = async (on: string, values: number[]) => {
    let hint: RouteHint | undefined;
    for (const value of values) hint = (await route(cluster, hint, '/append', { value }, on)).hint;
    return hint!;
  };
  const list = async (hint: RouteHint, on?: string) => (on ? await post(portOf(cluster, on), '/read', { hint }) : await route(cluster, hint, '/read', {}));

  before(async () => {
    cluster = await makeCluster({ nodes: 3, intervalMs: 100, deadAfterMs: 500, extraXml: '<Replication mode="sync"/>' });
    nodes = await startNodes(cluster, NAMES, {}, 'session-app');
    await aliveEverywhere(NAMES);
  });
  after(async () => {
    await killAll();
    cluster?.cleanup();
  });

  test('a third node fetches the session from the backup the hint names, and becomes primary', async () => {
    const hint = await newSession('node-a', [1, 2, 3]);
    const third = NAMES.find((n) => n !== hint.primary && n !== hint.backup)!;
    const reply = await post(portOf(cluster, third), '/append', { hint, value: 4 });
    assert.equal(reply.outcome, 'fetched');
    assert.equal(reply.hint.primary, third);
    assert.deepEqual((await list(reply.hint)).list, [1, 2, 3, 4]);
    await assert.rejects(cluster.admin(hint.primary!).json('GET', `/sessions/${hint.sessionId}`), /holds no session/, 'the old primary stepped down');
  });

  test('with no hint but the id, a node that holds nothing locates the session by multicast', async () => {
    const hint = await newSession('node-b', [7, 8]);
    const third = NAMES.find((n) => n !== hint.primary && n !== hint.backup)!;
    const reply = await post(portOf(cluster, third), '/read', { hint: { sessionId: hint.sessionId } });
    assert.equal(reply.outcome, 'fetched');
    assert.deepEqual(reply.list, [7, 8]);
  });

  test('two racing updates on one session are both applied', async () => {
    const hint = await newSession('node-c', [0]);
    const port = portOf(cluster, hint.primary!);
    await Promise.all(Array.from({ length: 10 }, (_, i) => post(port, '/append', { hint, value: i + 1 })));
    const values = (await list(hint)).list as number[];
    assert.deepEqual([...values].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  test('a page iterator travels as a logical reference and is rebuilt on the node that fetches the session', async () => {
    let hint = (await post(portOf(cluster, 'node-a'), '/search', { query: 'number 1' })).hint;
    hint = (await post(portOf(cluster, 'node-a'), '/search', { hint, query: 'number 1' })).hint;
    const view = await cluster.admin(hint.backup!).json<SessionView>('GET', `/sessions/${hint.sessionId}`);
    assert.deepEqual(view.pools.interactive!.search, { $ref: 'page-iterator', value: { q: 'number 1', size: 10, page: 1 } });
    const third = NAMES.find((n) => n !== hint.primary && n !== hint.backup)!;
    const moved = await post(portOf(cluster, third), '/read', { hint });
    assert.equal(moved.outcome, 'fetched');
    // "number 1" matches 1 and 10-18 on page 0, so page 1 starts at 19.
    assert.deepEqual(moved.search, { page: 1, first: { sku: 'sku-19', name: 'Product number 19', price: 29, description: 'A fine product, number 19, with a description' } });
  });

  test('castmirror sessions get shows the pools as a node holds them, references as references', async () => {
    const hint = (await post(portOf(cluster, 'node-b'), '/search', { query: 'number 2' })).hint;
    const json = await runCli(['sessions', 'get', hint.sessionId, '--config', cluster.configPath, '--node', hint.backup!, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const view = JSON.parse(json.stdout) as SessionView;
    assert.equal(view.role, 'backup');
    assert.equal(view.primary, 'node-b');
    assert.deepEqual(view.pools.interactive!.search, { $ref: 'page-iterator', value: { q: 'number 2', size: 10, page: 0 } });
    const text = await runCli(['sessions', 'get', hint.sessionId, '--config', cluster.configPath, '--node', 'node-b']);
    assert.match(text.stdout, /primary copy, version 1; primary node-b/);
    assert.match(text.stdout, /search = \{"\$ref":"page-iterator"/);
    const missing = await runCli(['sessions', 'get', 'AAAAAAAAAAAAAAAAAAAAAAAA', '--config', cluster.configPath, '--node', 'node-b']);
    // An id may start with "-": it is still the id.
    const dashed = await runCli(['sessions', 'get', '-AAAAAAAAAAAAAAAAAAAAAAA', '--config', cluster.configPath, '--node', 'node-b']);
    assert.equal(dashed.code, missing.code, 'the same answer as for any unknown id');
    assert.doesNotMatch(dashed.stderr, /unknown option/i);
    assert.equal(missing.code, 1);
  });

  test('an unauthenticated replication connection is refused and counted', async () => {
    const target = nodes.get('node-a')!;
    const port = cluster.nodes.find((n) => n.name === 'node-a')!.replicationPort;
    const before = (await status('node-a')).replication!.handshakeFailures;
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.resume();
    await new Promise((r) => socket.once('connect', r));
    socket.write(framed(encodeMessage({ t: 'hello', cluster: 'whatever', node: 'node-b', incarnation: 'x', nonce: Buffer.alloc(32) })));
    await new Promise((r) => socket.once('close', r));
    await eventually(async () => (await status('node-a')).replication!.handshakeFailures > before, { what: 'the refusal counted' });
    assert.equal(target.child.exitCode, null, 'node-a still runs');
  });

  test('when the backup dies, the primary gives its sessions a new backup with a full copy', async () => {
    const hint = await newSession('node-a', [10, 20, 30]);
    const victim = hint.backup!;
    nodes.get(victim)!.kill('SIGKILL');
    await nodes.get(victim)!.exited;
    const view = await eventually(async () => {
      const v = await cluster.admin(hint.primary!).json<SessionView>('GET', `/sessions/${hint.sessionId}`);
      return v.backup && v.backup !== victim ? v : undefined;
    }, { what: 'a new backup', timeoutMs: 5000 });
    // The primary names the new backup when it chooses it; the full copy lands there just after.
    const copy = await eventually(async () => {
      const reply = await cluster.admin(view.backup!).request('GET', `/sessions/${hint.sessionId}`);
      return reply.status === 200 ? (JSON.parse(reply.text) as SessionView) : undefined;
    }, { what: 'the full copy on the new backup', timeoutMs: 5000 });
    assert.equal(copy.role, 'backup');
    assert.deepEqual(copy.pools.global!.list, [10, 20, 30]);
    await restart(victim);
    await aliveEverywhere(NAMES);
  });

  test('a restarted node never serves its pre-crash copy: it fetches the session that moved on', async () => {
    let hint = await newSession('node-b', [1]);
    const first = hint.primary!;
    nodes.get(first)!.kill('SIGKILL');
    await nodes.get(first)!.exited;
    hint = (await route(cluster, hint, '/append', { value: 2 })).hint; // taken over by the backup
    assert.notEqual(hint.primary, first);
    await restart(first);
    await aliveEverywhere(NAMES);
    const stale = { ...hint, primary: first }; // a client still pointing at the restarted node
    const reply = await post(portOf(cluster, first), '/read', { hint: stale });
    assert.equal(reply.outcome, 'fetched');
    assert.deepEqual(reply.list, [1, 2]);
  });

  test('SIGTERM hands each session to its backup; a rolling restart of every node loses nothing', async () => {
    const sessions: { hint: RouteHint; values: number[] }[] = [];
    for (let i = 0; i < 30; i++) sessions.push({ hint: await newSession(NAMES[i % 3]!, [i, i + 100]), values: [i, i + 100] });
    for (const name of NAMES) {
      const leaving = nodes.get(name)!;
      leaving.kill('SIGTERM');
      assert.deepEqual(await leaving.exited, { code: 0, signal: null }, `${name} stopped gracefully`);
      await restart(name);
      await aliveEverywhere(NAMES);
      // Each session still has every value; follow its hint, as a client would.
      for (const s of sessions) {
        const reply = await route(cluster, s.hint, '/read', {});
        assert.deepEqual(reply.list, s.values, `session ${s.hint.sessionId} after restarting ${name}`);
        assert.notEqual(reply.outcome, 'lost');
        s.hint = reply.hint;
      }
    }
  });
});
