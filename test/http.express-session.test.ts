/**
 * CastmirrorStore under real frameworks, in real processes: express + express-session and
 * fastify + @fastify/session. Sessions survive kill -9 of the node that served them; an
 * unchanged session is not mirrored again (only touched), and that is counted.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { killAll, makeCluster, ROOT, startNodes, type Program, type TestCluster } from './helpers/cluster.js';
import { CookieClient } from './helpers/cookie-client.js';
import { eventually } from './helpers/wait.js';

interface Stats {
  store: { gets: number; sets: number; unchangedSets: number; touches: number; destroys: number; misses: number };
  sessions: { mirrorsSent: number; touches: number; takeovers: number; fetches: number; primaries: number; locates: number };
}

describe('CastmirrorStore', { timeout: 90_000 }, () => {
  const clusters: TestCluster[] = [];
  afterEach(killAll);
  after(() => clusters.forEach((c) => c.cleanup()));

  for (const program of ['express-app', 'fastify-app'] as const satisfies readonly Program[]) {
    test(`${program}: a session survives kill -9 of its node; unchanged requests are not re-mirrored`, async () => {
      const cluster = await makeCluster({ nodes: 3 });
      clusters.push(cluster);
      const nodes = await startNodes(cluster, ['node-a', 'node-b', 'node-c'], {}, program);
      await eventually(async () => (await cluster.admin('node-a').json<{ members: { state: string }[] }>('GET', '/status')).members.filter((m) => m.state === 'alive').length === 3, {
        timeoutMs: 10_000,
        what: 'three alive members',
      });
      const url = (name: string) => `http://127.0.0.1:${cluster.nodes.find((n) => n.name === name)!.httpPort}`;
      const client = new CookieClient(url('node-a'));
      const stats = async (name: string) => (await new CookieClient(url(name)).get<Stats>('/stats')).body;

      for (let i = 1; i <= 3; i++) assert.equal((await client.post<{ count: number }>('/count', {})).body.count, i);
      assert.ok(client.cookies.has('sid'), 'the framework set its session cookie');
      if (program === 'express-app') {
        // store.routing() adds castmirror's route cookie, naming this node as primary.
        const route = client.cookies.get('castmirror.route');
        assert.ok(route, 'the route cookie is set');
        assert.match(Buffer.from(route.split('.')[1]!, 'base64url').toString(), /"node-a","node-[bc]"/);
      }

      assert.equal((await stats('node-a')).sessions.locates, 0, 'a new session is created without asking the cluster');

      // Five reads that change nothing: no mirror leaves node-a (the backup is only touched, at most every 1/20 of the timeout).
      const before = await stats('node-a');
      for (let i = 0; i < 5; i++) assert.equal((await client.get<{ count: number }>('/count')).body.count, 3);
      const unchanged = await stats('node-a');
      assert.equal(unchanged.sessions.mirrorsSent, before.sessions.mirrorsSent, 'no mirror for an unchanged session');
      const skipped = unchanged.store.unchangedSets - before.store.unchangedSets + (unchanged.store.touches - before.store.touches);
      assert.equal(skipped, 5, `five unchanged saves counted (${JSON.stringify(unchanged.store)})`);

      // A change to a nested value is a change.
      assert.deepEqual((await client.post<{ history: number[] }>('/count', {})).body.history, [1, 2, 3, 4]);

      nodes.get('node-a')!.kill('SIGKILL');
      await nodes.get('node-a')!.exited;
      // The next request lands on another node (as a balancer would send it), with the same cookie.
      for (const survivor of ['node-b', 'node-c']) {
        client.retarget(url(survivor));
        const read = await client.get<{ count: number; history: number[]; node: string }>('/count');
        assert.equal(read.status, 200);
        assert.equal(read.body.count, 4, `${survivor} serves the session`);
        assert.deepEqual(read.body.history, [1, 2, 3, 4]);
      }
      assert.equal((await client.post<{ count: number }>('/count', {})).body.count, 5);
      const moved = [await stats('node-b'), await stats('node-c')];
      assert.ok(moved.some((s) => s.sessions.takeovers + s.sessions.fetches > 0), 'taken over or fetched');

      // Logout ends the session everywhere: a later request starts a fresh one.
      assert.equal((await client.post('/logout', {})).status, 200);
      client.retarget(url('node-b'));
      assert.equal((await client.get<{ count: number | null }>('/count')).body.count, null);
    });
  }

  test('the core never imports express or express-session', () => {
    // Only the sub-path export may: users without express must be able to install castmirror.
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; peerDependenciesMeta: Record<string, { optional: boolean }> };
    assert.equal(pkg.dependencies['express-session'], undefined);
    assert.equal(pkg.peerDependenciesMeta['express-session']?.optional, true);
    const files = execFileSync('git', ['ls-files', 'lib'], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n');
    const importers = files.filter((f) => !f.startsWith('lib/express-session/') && /from ['"](express|express-session|fastify)['"]/.test(readFileSync(path.join(ROOT, f), 'utf8')));
    assert.deepEqual(importers, []);
  });
});
