/**
 * The README's express and fastify examples (examples/express-session/), each run as two node
 * processes of a sync cluster: a session survives kill -9 of the node that served it, and a
 * "remember me" cookie makes the session live as long as the cookie.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { killAll, makeCluster, startNodes, type TestCluster } from './helpers/cluster.js';
import { CookieClient } from './helpers/cookie-client.js';
import { portOf } from './helpers/session-client.js';

describe('examples/express-session', { timeout: 60_000 }, () => {
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
  }
});
