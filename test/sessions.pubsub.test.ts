/**
 * pubsub discovery (`<Discovery type="pubsub">`): heartbeats and invalidations through the
 * store's pub/sub, sessions on the node serving them and in the store, no backup node. Real
 * processes on 127.0.0.1 and a real redis-server:
 * - a change made on one node is what another node that held the session serves next, with
 *   or without the version in the client's hint (the invalidation); garbage published on the
 *   channel is counted and dropped; kill -9 of a node: its sessions continue from the store;
 *   no node opens a replication port;
 * - the store down: every node keeps serving what it holds, commits say they are not
 *   stored; back, the backlog is written and the members find each other again;
 * - behind the proxy, which hears heartbeats through the store, a cart survives kill -9 of its node;
 * - a node stopped (SIGSTOP) while its sessions moved on elsewhere serves the newer state
 *   when it resumes.
 * The same cluster across hosts with no node-to-node traffic at all: cluster.pubsub-hosts.test.ts.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import type { NodeStatus } from '../lib/index.js';
import { decodeSnapshot } from '../lib/replication/protocol.js';
import type { RouteHint } from '../lib/replication/route-hint.js';
import { makeCluster, startNodes } from './helpers/cluster.js';
import { REDIS_SKIP, redisForClusterTests } from './helpers/redis.js';
import { portOf, post } from './helpers/session-client.js';
import { cartSurvivesKillOfItsNode, startShopCluster } from './helpers/shop.js';
import { eventually } from './helpers/wait.js';

const NAMES = ['node-a', 'node-b', 'node-c'];

/** A hint as a cookie-less store would give it: the id and route, no version. */
const withoutVersion = ({ version: _version, ...hint }: RouteHint): RouteHint => hint;

describe('pubsub discovery: sessions kept coherent through the store', { skip: REDIS_SKIP, timeout: 120_000 }, () => {
  const store = redisForClusterTests();

  async function start() {
    const xml = `<Discovery type="pubsub"/><Store type="redis" url="${store.redis.url}" mode="write-through"/>`;
    const c = store.track(await makeCluster({ nodes: 3, extraXml: xml }));
    const nodes = await startNodes(c, NAMES, {}, 'session-app');
    const status = (name: string) => c.admin(name).json<NodeStatus>('GET', '/status');
    for (const name of NAMES) await eventually(async () => (await status(name)).members.filter((m) => m.state === 'alive').length === 3, { what: `${name} to see 3 members through the store` });
    const on = (name: string, path: string, body: Record<string, unknown>) => post(portOf(c, name), path, body);
    return { c, nodes, status, on };
  }

  test('a change on one node is served by another that held the session, with or without the version; kill -9: its sessions continue from the store; no replication port is opened', async (t) => {
    const { c, nodes, status, on } = await start();
    const sessions: { hint: RouteHint; list: number[] }[] = [];
    for (let i = 0; i < 10; i++) {
      const reply = await on('node-a', '/append', { value: i });
      assert.equal(reply.mirrored, true, 'the store took the commit');
      sessions.push({ hint: reply.hint, list: [i] });
    }
    for (const s of sessions) {
      const read = await on('node-b', '/read', { hint: withoutVersion(s.hint) });
      assert.equal(read.outcome, 'restored', 'node-b held nothing: loaded from the store');
      assert.deepEqual(read.list, s.list);
      const value = s.list[0]! + 100;
      const changed = await on('node-b', '/append', { value, hint: read.hint });
      s.hint = changed.hint;
      s.list.push(value);
    }
    await eventually(async () => (await status('node-a')).sessions.sessionInvalidationsReceived >= 10, { what: "node-a to hear node-b's invalidations" });
    for (const [i, s] of sessions.entries()) {
      // Half carry the version node-b gave, half none (express-session's cookie): the invalidation alone must do.
      const hint = i % 2 === 0 ? s.hint : withoutVersion({ ...s.hint, primary: 'node-a' });
      const read = await on('node-a', '/read', { hint });
      assert.deepEqual(read.list, s.list, `session ${i} on node-a after node-b changed it (${read.outcome})`);
      assert.equal(read.outcome, 'restored');
      s.hint = read.hint;
    }
    const a = await status('node-a');
    t.diagnostic(`node-a: ${a.sessions.staleRereads} stale copies read again, ${a.sessions.sessionInvalidationsReceived} invalidations received`);
    const metrics = await c.admin('node-a').text('/metrics');
    assert.match(metrics, new RegExp(`castmirror_session_stale_total\\{node="node-a",result="reread"\\} ${a.sessions.staleRereads}\\b`));
    assert.equal(a.replication, null, 'no replication links');
    for (const node of c.nodes) {
      const refused = await new Promise<boolean>((resolve) => net.connect(node.replicationPort, '127.0.0.1').once('connect', () => resolve(false)).once('error', () => resolve(true)));
      assert.ok(refused, `${node.name} listens on no replication port`);
    }

    // Anyone who can reach the store can publish on the channel: what is not a frame of this cluster is counted and dropped.
    const channel = `castmirror:${a.cluster}:datagrams`;
    for (const garbage of ['not a frame', Buffer.alloc(2000, 0xff), Buffer.from('CMF\u0001garbage')]) await store.reader.publish(channel, garbage);
    await eventually(async () => Object.values((await status('node-c')).dropped ?? {}).reduce((sum, n) => sum + n, 0) >= 3, { what: 'node-c to count the garbage' });
    assert.equal((await status('node-c')).members.filter((m) => m.state === 'alive').length, 3, 'and keeps going');

    nodes.get('node-a')!.kill('SIGKILL');
    await nodes.get('node-a')!.exited;
    for (const s of sessions) {
      const read = await on('node-c', '/read', { hint: s.hint });
      assert.deepEqual(read.list, s.list, 'every acknowledged write, after the kill');
      assert.equal(read.outcome, 'restored');
    }
    await eventually(async () => (await status('node-c')).members.find((m) => m.name === 'node-a')?.state === 'dead', { what: 'node-a declared dead' });
  });

  test('the store down: every node serves what it holds and says commits are not stored; back, the backlog is written and the members meet again', async (t) => {
    const { status, on } = await start();
    const sessions: { hint: RouteHint; list: number[] }[] = [];
    for (let i = 0; i < 10; i++) sessions.push({ hint: (await on('node-a', '/append', { value: i })).hint, list: [i] });
    await store.redis.stop();
    // No heartbeat crosses a store that is down: the others fall silent, and every copy here may be stale.
    await eventually(async () => (await status('node-a')).members.filter((m) => !m.self).every((m) => m.state === 'dead'), { what: 'node-a to find the others silent' });
    for (const s of sessions) {
      const read = await on('node-a', '/read', { hint: s.hint });
      assert.deepEqual([read.outcome, read.list], ['served', s.list], 'the copy held here, with no store to ask');
    }
    assert.ok((await status('node-a')).sessions.staleServedUnverified >= sessions.length, 'served unverified, and counted');
    const stored: boolean[] = [];
    for (let round = 0; round < 5; round++) {
      for (const s of sessions) {
        const reply = await on('node-a', '/append', { value: 1000 + round, hint: s.hint });
        assert.equal(reply.outcome, 'served');
        stored.push(reply.mirrored === true);
        s.hint = reply.hint;
        s.list.push(1000 + round);
      }
    }
    assert.ok(stored.every((yes) => !yes), 'no commit claimed to be stored while the store was down');
    const down = await status('node-a');
    t.diagnostic(`while down: ${down.sessions.staleServedUnverified} copies served unverified; ${stored.length} commits served and kept in a backlog of ${down.store?.backlog}`);

    await store.redis.start();
    // The clients reconnect by themselves, at most a second apart.
    for (const name of NAMES) await eventually(async () => (await status(name)).members.filter((m) => m.state === 'alive').length === 3, { what: `${name} to see 3 members again`, timeoutMs: 15_000 });
    await eventually(async () => (await status('node-a')).store?.backlog === 0, { what: 'the backlog written', timeoutMs: 15_000 });
    for (const s of sessions) {
      const stored = await store.reader.getBuffer(`castmirror:${(await status('node-a')).cluster}:session:${s.hint.sessionId}`);
      assert.equal(stored && decodeSnapshot(stored).meta.version, s.hint.version, 'the store holds the latest version');
      const read = await on('node-b', '/read', { hint: s.hint });
      assert.deepEqual(read.list, s.list, 'another node serves every change made while the store was down');
    }
  });

  test('behind the proxy, which hears the heartbeats through the store: kill -9 of a shopper\'s node, and the cart continues from the store', async () => {
    const shop = await startShopCluster({ extraXml: `  <Discovery type="pubsub"/>\n  <Store type="redis" url="${store.redis.url}" mode="write-through"/>` }); // returns once the proxy sees every node alive
    store.track(shop.cluster);
    await cartSurvivesKillOfItsNode(shop);
  });

  test('a node stopped (SIGSTOP) while its sessions moved on elsewhere serves the newer state when it resumes', async () => {
    const { nodes, status, on } = await start();
    const sessions: { hint: RouteHint; list: number[] }[] = [];
    for (let i = 0; i < 5; i++) sessions.push({ hint: (await on('node-a', '/append', { value: i })).hint, list: [i] });
    const a = nodes.get('node-a')!;
    a.kill('SIGSTOP');
    try {
      await eventually(async () => (await status('node-b')).members.find((m) => m.name === 'node-a')?.state === 'dead', { what: 'node-a declared dead while stopped' });
      for (const s of sessions) {
        const reply = await on('node-b', '/append', { value: s.list[0]! + 50, hint: s.hint });
        assert.equal(reply.outcome, 'restored');
        s.list.push(s.list[0]! + 50);
      }
    } finally {
      a.kill('SIGCONT');
    }
    for (const s of sessions) {
      const read = await on('node-a', '/read', { hint: withoutVersion(s.hint) });
      assert.deepEqual(read.list, s.list, `node-a after it resumed (${read.outcome})`);
    }
  });
});
