/**
 * sessionMiddleware in both of its hosts, over real HTTP on one standalone node: express
 * (`app.use`) and plain node:http (`next` returning a promise). What it promises: the
 * session is on the request, changes persist across requests through the route cookie,
 * streamed responses work and carry the cookie, a throwing handler gets a 500 after its
 * changes are kept, a closed node answers 503 with a code.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import { parseConfigText, sessionMiddleware, startNode, type CacheNode, type SessionRequest } from '../lib/index.js';
import { makeCluster } from './helpers/cluster.js';
import { CookieClient } from './helpers/cookie-client.js';

const CONFIG = '<Server name="solo"><Cluster>0</Cluster><ClusterNodes><Node name="a" host="127.0.0.1" httpPort="1" replicationPort="2" adminPort="3"/></ClusterNodes></Server>';

async function serve(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('sessionMiddleware', () => {
  let node: CacheNode;
  const servers: http.Server[] = [];
  before(async () => {
    node = await startNode({ config: parseConfigText(CONFIG, 'inline.xml'), nodeName: 'a', admin: false });
  });
  after(async () => {
    for (const server of servers) server.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    await node.close();
  });

  test('express: app.use(sessions), a counter that persists, a streamed response with the cookie', async () => {
    const app = express();
    app.use(sessionMiddleware({ node }));
    app.post('/count', (req, res) => {
      const { session } = (req as SessionRequest).castmirror!;
      const count = (session.global.getNumber('count') ?? 0) + 1;
      session.global.set('count', count);
      res.json({ count });
    });
    app.get('/stream', (req, res) => {
      const { session } = (req as SessionRequest).castmirror!;
      session.global.set('streamed', true);
      res.write('part one, ');
      setTimeout(() => res.end('part two'), 20);
    });
    const server = http.createServer(app);
    servers.push(server);
    const url = await serve(server);
    const client = new CookieClient(url);
    for (let i = 1; i <= 3; i++) {
      const reply = await client.post<{ count: number }>('/count', {});
      assert.equal(reply.body.count, i);
      assert.equal(reply.headers.get('x-castmirror-node'), 'a');
    }
    const before = client.cookies.get('castmirror.route');
    assert.ok(before);
    const streamed = await client.get<string>('/stream');
    assert.equal(streamed.body, 'part one, part two');
    assert.equal((await client.post<{ count: number }>('/count', {})).body.count, 4, 'same session after the streamed response');
    const other = new CookieClient(url);
    assert.equal((await other.post<{ count: number }>('/count', {})).body.count, 1, 'another client, another session');
  });

  test('node:http: a rejected handler gets a 500 after its changes are kept; a closed node answers 503', async () => {
    const sessions = sessionMiddleware({ node });
    const server = http.createServer((req, res) =>
      sessions(req, res, async () => {
        const { session } = (req as SessionRequest).castmirror!;
        session.global.set('visits', (session.global.getNumber('visits') ?? 0) + 1);
        if (req.url === '/boom') {
          res.setHeader('Content-Length', '999');
          throw new Error('handler bug');
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ visits: session.global.getNumber('visits') }));
      }),
    );
    servers.push(server);
    const client = new CookieClient(await serve(server));
    assert.equal((await client.get<{ visits: number }>('/')).body.visits, 1);
    const boom = await client.get<{ error: { code: string } }>('/boom');
    assert.equal(boom.status, 500);
    assert.equal(boom.body.error.code, 'CASTMIRROR_HANDLER_FAILED');
    assert.equal((await client.get<{ visits: number }>('/')).body.visits, 3, "the failed request's change was kept");

    const closing = await startNode({ config: parseConfigText(CONFIG, 'inline.xml'), nodeName: 'a', admin: false });
    const closed = http.createServer((req, res) => sessionMiddleware({ node: closing })(req, res, () => res.end('never')));
    servers.push(closed);
    const url = await serve(closed);
    await closing.close();
    const refused = await new CookieClient(url).get<{ error: { code: string } }>('/');
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'CASTMIRROR_CLOSED');
  });
});

describe('a change that no backup holds', () => {
  test('is answered, and says so with X-Castmirror-Mirrored: 0 (sync, noBackup="accept"); a standalone node never does', async () => {
    const cluster = await makeCluster({ nodes: 1, extraXml: '<Replication mode="sync"/>' });
    const alone = await startNode({ configPath: cluster.configPath, nodeName: 'node-a', admin: false });
    const standalone = await startNode({ config: parseConfigText(CONFIG, 'inline.xml'), nodeName: 'a', admin: false });
    const servers = [alone, standalone].map((node) =>
      http.createServer((req, res) =>
        sessionMiddleware({ node })(req, res, () => {
          const { session } = (req as SessionRequest).castmirror!;
          session.global.set('count', (session.global.getNumber('count') ?? 0) + 1);
          res.end('ok');
        }),
      ),
    );
    try {
      const [clustered, solo] = await Promise.all(servers.map(serve));
      const changed = await new CookieClient(clustered!).post('/count', {});
      assert.equal(changed.status, 200);
      assert.equal(changed.headers.get('x-castmirror-mirrored'), '0', 'a cluster of one: no backup holds it');
      assert.equal(alone.status().sessions.unmirroredCommits, 1);
      assert.match(alone.metrics(), /^castmirror_sync_commits_unmirrored_total\{node="node-a"\} 1$/m);
      const local = await new CookieClient(solo!).post('/count', {});
      assert.equal(local.headers.get('x-castmirror-mirrored'), null, 'standalone: there is no backup to speak of');
    } finally {
      for (const server of servers) server.closeAllConnections();
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
      await alone.close();
      await standalone.close();
      cluster.cleanup();
    }
  });
});

describe('the route cookie changes with the route, and with the version only after a change no backup took', { timeout: 60_000 }, () => {
  for (const mode of ['sync', 'async'] as const) {
    test(`${mode} mode, two nodes: updates send no new cookie until the route changes; a failover is served with the latest state`, async () => {
      const cluster = await makeCluster({ nodes: 2, extraXml: `<Replication mode="${mode}"/>` });
      const nodes = await Promise.all(['node-a', 'node-b'].map((nodeName) => startNode({ configPath: cluster.configPath, nodeName, admin: false })));
      const servers = nodes.map((node) =>
        http.createServer((req, res) =>
          sessionMiddleware({ node })(req, res, () => {
            const { session } = (req as SessionRequest).castmirror!;
            if (req.method === 'POST') session.global.set('count', (session.global.getNumber('count') ?? 0) + 1);
            res.end(String(session.global.getNumber('count') ?? 0));
          }),
        ),
      );
      try {
        const [urlA, urlB] = await Promise.all(servers.map(serve));
        while (nodes.some((n) => n.membership!.alive().length < 2)) await new Promise((r) => setTimeout(r, 10));
        const client = new CookieClient(urlA!);
        const first = await client.post('/count', {});
        assert.ok(first.headers.getSetCookie().some((c) => c.startsWith('castmirror.route=')), 'a new session gets its cookie');
        let cookies = 0;
        for (let i = 0; i < 10; i++) if ((await client.post('/count', {})).headers.getSetCookie().some((c) => c.startsWith('castmirror.route='))) cookies++;
        assert.equal(cookies, 0, 'the route did not change: no Set-Cookie, nothing signed');
        // The primary goes away; the backup serves the session with every acknowledged change, and the new route.
        servers[0]!.closeAllConnections();
        await new Promise((resolve) => servers[0]!.close(resolve));
        await nodes[0]!.close();
        client.retarget(urlB!);
        if (mode === 'async') await new Promise((r) => setTimeout(r, 50)); // the async copies reach the backup
        const after = await client.get('/count');
        assert.equal(after.body, 11, 'the latest state');
        assert.ok(after.headers.getSetCookie().some((c) => c.startsWith('castmirror.route=')), 'the route changed: a new cookie');
      } finally {
        for (const server of servers) server.closeAllConnections();
        await Promise.all(servers.map((s) => new Promise((resolve) => (s.listening ? s.close(resolve) : resolve(undefined)))));
        await Promise.all(nodes.map((n) => n.close()));
        cluster.cleanup();
      }
    });
  }
});
