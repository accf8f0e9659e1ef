/**
 * The README's express and fastify examples (examples/express-session/), each run as two node
 * processes of a sync cluster: a session survives kill -9 of the node that served it, and a
 * "remember me" cookie makes the session live as long as the cookie.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { runCli } from './helpers/cli.js';
import { killAll, makeCluster, NodeProcess, startNodes, type TestCluster } from './helpers/cluster.js';
import { CookieClient } from './helpers/cookie-client.js';
import { portOf } from './helpers/session-client.js';
import { eventually } from './helpers/wait.js';

describe('examples/express-session', { timeout: 90_000 }, () => {
  const clusters: TestCluster[] = [];
  after(async () => {
    await killAll();
    for (const cluster of clusters) cluster.cleanup();
  });

  for (const program of ['example-express', 'example-fastify'] as const) {
    test(`${program}: two nodes; the session continues on the other after kill -9`, async () => {
      const cluster = await makeCluster({ nodes: 2, extraXml: '<Replication mode="sync"/>' });
      clusters.push(cluster);
      const nodes = await startNodes(cluster, ['node-a', 'node-b'], {}, program);
      const user = new CookieClient(`http://127.0.0.1:${portOf(cluster, 'node-a')}`);
      assert.equal((await user.post<{ visits: number }>('/visit', {})).body.visits, 1);
      assert.equal((await user.post<{ visits: number }>('/visit', {})).body.visits, 2);
      if (program === 'example-express') {
        const remembered = await user.post<{ expires: string }>('/remember-me', {});
        const days = (Date.parse(remembered.body.expires) - Date.now()) / 86_400_000;
        assert.ok(days > 29.9 && days <= 30, `the cookie lasts 30 days (${days.toFixed(2)})`);
      }
      nodes.get('node-a')!.kill('SIGKILL');
      await nodes.get('node-a')!.exited;
      user.retarget(`http://127.0.0.1:${portOf(cluster, 'node-b')}`);
      const after = await user.get<{ visits: number; node: string }>('/visit');
      assert.deepEqual(after.body, { visits: 2, node: 'node-b' }, 'the session, on the other node');
    });

    for (const stop of ['drain', 'SIGTERM'] as const) {
      test(`${program} behind the proxy: ${stop} of a node under load fails no request and loses no visit`, async () => {
        const cluster = await makeCluster({ nodes: 3, proxy: true, extraXml: '<Replication mode="sync"/>' });
        clusters.push(cluster);
        const nodes = await startNodes(cluster, ['node-a', 'node-b', 'node-c'], {}, program);
        const proxy = new NodeProcess('proxy', cluster.configPath, {}, 'proxy');
        await proxy.started();
        const proxyUrl = `http://127.0.0.1:${cluster.proxyPort}`;
        await eventually(async () => ((await (await fetch(`${proxyUrl}/_castmirror/proxy`)).json()) as { members: { alive: boolean }[] }).members.every((m) => m.alive), { what: 'the proxy sees every node', timeoutMs: 10_000 });
        const visitors = Array.from({ length: 9 }, () => ({ client: new CookieClient(proxyUrl), acknowledged: 0, failed: [] as string[] }));
        for (const v of visitors) {
          assert.equal((await v.client.post('/visit', {})).status, 200);
          v.acknowledged++;
        }
        let loading = true;
        const load = Promise.all(
          visitors.map(async (v) => {
            for (let i = 0; loading && i < 2000; i++) {
              const reply = await v.client.post<{ visits: number }>('/visit', {}).catch((error: unknown) => ({ status: 0, body: String(error) }));
              if (reply.status === 200) v.acknowledged++;
              else v.failed.push(`${reply.status} ${JSON.stringify(reply.body)}`);
            }
          }),
        );
        await new Promise((resolve) => setTimeout(resolve, 500));
        if (stop === 'drain') {
          const drained = await runCli(['drain', '--node', 'node-b', '--config', cluster.configPath], { timeoutMs: 30_000 });
          assert.equal(drained.code, 0, drained.stderr);
        } else {
          nodes.get('node-b')!.kill('SIGTERM');
        }
        assert.deepEqual(await nodes.get('node-b')!.exited, { code: 0, signal: null }, 'the process exits by itself once its node has closed');
        await new Promise((resolve) => setTimeout(resolve, 500));
        loading = false;
        await load;
        assert.deepEqual(visitors.flatMap((v) => v.failed), [], 'no request failed');
        for (const v of visitors) {
          const seen = await v.client.get<{ visits: number; node: string }>('/visit');
          assert.notEqual(seen.body.node, 'node-b');
          // On a miss, what the nodes warned about says where the visit went.
          const warnings = () => [...nodes.values()].flatMap((n) => n.logs.filter((l) => (l.level ?? 0) >= 40).map((l) => `${n.name}: ${JSON.stringify(l)}`)).join('\n');
          assert.equal(seen.body.visits, v.acknowledged, `every acknowledged visit is there (cookies ${JSON.stringify([...v.client.cookies])}); warnings:\n${seen.body.visits === v.acknowledged ? '' : warnings()}`);
        }
      });
    }
  }
});
