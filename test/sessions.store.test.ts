/**
 * Sessions with a shared store (`<Store type="redis" mode="write-through">`), real processes
 * and a real redis-server:
 * - kill -9 of a primary and of the node holding its backups, at once and 1 s apart: every
 *   session continues, from the store where no node kept a copy, with its last acknowledged
 *   write;
 * - every node killed, then started again: every session continues from the store;
 * - application states kept in the store: nodes without their state files learn them;
 * - the store killed for 10 s under load, then started again: no request fails because of it,
 *   and afterwards the store holds every session's latest version.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { NodeStatus } from '../lib/index.js';
import { decodeSnapshot } from '../lib/replication/protocol.js';
import type { RouteHint } from '../lib/replication/route-hint.js';
import { makeCluster, startNodes, type TestCluster } from './helpers/cluster.js';
import { REDIS_SKIP, redisForClusterTests } from './helpers/redis.js';
import { portOf, post, route } from './helpers/session-client.js';
import { eventually, sleep } from './helpers/wait.js';

const NAMES = ['node-a', 'node-b', 'node-c'];

describe('sessions with a shared store (write-through)', { skip: REDIS_SKIP, timeout: 120_000 }, () => {
  const store = redisForClusterTests();

  async function start(): Promise<{ cluster: TestCluster; status: (name: string) => Promise<NodeStatus>; nodes: Awaited<ReturnType<typeof startNodes>> }> {
    const storeXml = `<Store type="redis" url="${store.redis.url}" mode="write-through"/>`;
    const c = store.track(await makeCluster({ nodes: 3, extraXml: `<Replication mode="sync"/>${storeXml}<Applications><Application name="shop" enabled="1"/></Applications>` }));
    const nodes = await startNodes(c, NAMES, {}, 'session-app');
    const status = (name: string) => c.admin(name).json<NodeStatus>('GET', '/status');
    for (const name of NAMES) await eventually(async () => (await status(name)).members.filter((m) => m.state === 'alive').length === 3 && (await status(name)).store?.state === 'up', { what: `${name} to see 3 members and the store` });
    return { cluster: c, status, nodes };
  }

  /** Each session's list, read through its cookie's route, and how each was found. */
  async function readAll(c: TestCluster, sessions: { hint: RouteHint; list: number[] }[], via: string): Promise<Map<string, number>> {
    const outcomes = new Map<string, number>();
    for (const s of sessions) {
      const reply = await post(portOf(c, via), '/read', { hint: s.hint });
      assert.deepEqual(reply.list, s.list, `session ${s.hint.sessionId} (${reply.outcome} on ${reply.node})`);
      outcomes.set(reply.outcome, (outcomes.get(reply.outcome) ?? 0) + 1);
    }
    return outcomes;
  }

  for (const delayMs of [0, 1_000]) {
    const when = delayMs === 0 ? 'at the same time' : `${delayMs / 1000} s later`;
    test(`kill -9 of a primary and, ${when}, of the node holding its backups: every session continues with its last acknowledged write`, async (t) => {
      const { cluster: c, status, nodes } = await start();
      const sessions: { hint: RouteHint; list: number[] }[] = [];
      for (let i = 0; i < 40; i++) {
        let reply = await route(c, undefined, '/append', { value: i }, i % 2 === 0 ? 'node-a' : 'node-b');
        reply = await route(c, reply.hint, '/append', { value: i + 1000 });
        sessions.push({ hint: reply.hint, list: [i, i + 1000] });
      }
      const onlyOnVictims = sessions.filter((s) => [s.hint.primary, s.hint.backup].every((n) => n === 'node-a' || n === 'node-b')).length;
      nodes.get('node-a')!.kill('SIGKILL');
      if (delayMs > 0) await sleep(delayMs);
      nodes.get('node-b')!.kill('SIGKILL');
      await Promise.all([nodes.get('node-a')!.exited, nodes.get('node-b')!.exited]);
      await eventually(async () => (await status('node-c')).members.filter((m) => m.state === 'dead').length === 2, { what: 'node-c to declare both dead' });
      const outcomes = await readAll(c, sessions, 'node-c');
      t.diagnostic(`${onlyOnVictims} of 40 sessions had both copies on the two killed nodes; read on node-c: ${JSON.stringify(Object.fromEntries(outcomes))}`);
      // At once, no node kept a copy of those: the store did. A second later, node-c had copies of them already.
      if (delayMs === 0) assert.equal(outcomes.get('restored'), onlyOnVictims, 'the sessions no node kept came back from the store');
    });
  }

  test('every node killed (kill -9), then started again: every session continues, from the store', async (t) => {
    const first = await start();
    const sessions: { hint: RouteHint; list: number[] }[] = [];
    for (let i = 0; i < 30; i++) {
      const reply = await route(first.cluster, undefined, '/append', { value: i }, NAMES[i % 3]);
      sessions.push({ hint: reply.hint, list: [i] });
    }
    for (const node of first.nodes.values()) node.kill('SIGKILL');
    await Promise.all([...first.nodes.values()].map((n) => n.exited));
    const nodes = await startNodes(first.cluster, NAMES, {}, 'session-app');
    void nodes;
    for (const name of NAMES) await eventually(async () => (await first.status(name)).members.filter((m) => m.state === 'alive').length === 3, { what: `${name} to see 3 members again` });
    const outcomes = await readAll(first.cluster, sessions, 'node-a');
    t.diagnostic(`after a restart of the whole cluster: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    assert.equal(outcomes.get('restored'), 30, 'every session came back from the store');
  });

  test('application states are kept in the store: nodes that start with no state file learn them', async () => {
    const { cluster: c, status, nodes } = await start();
    await c.admin('node-a').json('POST', '/apps/shop/disable');
    for (const name of NAMES) await eventually(async () => (await status(name)).applications.find((a) => a.name === 'shop')?.state === 'disabled', { what: `${name} to hold shop disabled` });
    for (const node of nodes.values()) node.kill('SIGKILL');
    await Promise.all([...nodes.values()].map((n) => n.exited));
    rmSync(path.join(c.dir, '.castmirror'), { recursive: true, force: true }); // every state file gone: new machines
    await startNodes(c, NAMES, {}, 'session-app');
    for (const name of NAMES) {
      await eventually(async () => (await status(name)).applications.find((a) => a.name === 'shop')?.state === 'disabled', { what: `${name} to learn shop is disabled from the store` });
    }
  });

  test('the store killed for 10 s under load, then started again: no request fails; afterwards it holds every session\'s latest version', async (t) => {
    const { cluster: c, status } = await start();
    const writers = await Promise.all(NAMES.map(async (name, i) => ({ hint: (await route(c, undefined, '/append', { value: 0 }, name)).hint, version: 0, failures: 0, writes: 0, index: i })));
    let writing = true;
    const loops = writers.map(async (w) => {
      for (let value = 1; writing; value++) {
        try {
          const reply = await route(c, w.hint, '/append', { value });
          w.hint = reply.hint;
          w.version = reply.version as number;
          w.writes++;
        } catch {
          w.failures++;
        }
        await sleep(20);
      }
    });
    await sleep(1_000);
    await store.redis.stop();
    await eventually(async () => (await Promise.all(NAMES.map(status))).every((s) => s.store?.state === 'down'), { what: 'every node to see the store down' });
    await sleep(10_000);
    const backlogs = (await Promise.all(NAMES.map(status))).map((s) => s.store!.backlog);
    await store.redis.start();
    await sleep(2_000);
    writing = false;
    await Promise.all(loops);
    const writes = writers.reduce((n, w) => n + w.writes, 0);
    t.diagnostic(`${writes} writes; backlogs while the store was down: ${backlogs.join(', ')}`);
    assert.deepEqual(writers.map((w) => w.failures), [0, 0, 0], 'no request failed');
    await eventually(async () => (await Promise.all(NAMES.map(status))).every((s) => s.store?.backlog === 0), { what: 'every backlog written', timeoutMs: 15_000 });
    for (const w of writers) {
      const bytes = await store.reader.getBuffer(`castmirror:${(await status('node-a')).cluster}:session:${w.hint.sessionId}`);
      assert.equal(bytes ? decodeSnapshot(bytes).meta.version : undefined, w.version, `the store holds session ${w.index}'s latest version`);
    }
  });
});
