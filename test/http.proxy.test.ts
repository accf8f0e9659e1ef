/**
 * The proxy's forwarding rules against real sockets: a closed port (refused before the
 * request was sent: any method goes to the next node, body intact), a node that reads the
 * request and resets the connection (POST: 502, GET: next node), streamed bodies both ways,
 * X-Forwarded-For, keep-alive reuse, routing by a valid cookie, a forged cookie counted.
 * The nodes here are plain HTTP servers on the config's httpPorts: the proxy's own code is
 * what is under test. No heartbeats are sent, so no node is known alive: a cookie's
 * primary is tried first, and new sessions take turns.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../lib/config/load.js';
import { InvalidArgumentError } from '../lib/errors.js';
import { RouteCookie } from '../lib/http/route-cookie.js';
import { StickyProxy } from '../lib/proxy/proxy.js';
import { newSessionId } from '../lib/session/id.js';
import { killAll, makeCluster, type TestCluster } from './helpers/cluster.js';
import { CookieClient } from './helpers/cookie-client.js';
import { cartSurvivesKillOfItsNode, startShopCluster } from './helpers/shop.js';

interface Echo {
  node: string;
  method: string;
  url: string;
  bytes: number;
  sha256: string;
  forwardedFor: string | null;
}

/** A plain HTTP "node" that answers with what it received; GET /big streams 8 MiB. */
function echoServer(name: string, connections: { count: number }): http.Server {
  const server = http.createServer((req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      Readable.from((function* () {
        for (let i = 0; i < 128; i++) yield Buffer.alloc(64 * 1024, i);
      })()).pipe(res);
      return;
    }
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      const body: Echo = { node: name, method: req.method!, url: req.url!, bytes, sha256: hash.digest('hex'), forwardedFor: (req.headers['x-forwarded-for'] as string | undefined) ?? null };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    });
  });
  server.on('connection', () => connections.count++);
  return server;
}

/** A "node" that reads the start of each request and then resets the connection. */
function crashingServer(received: { requests: number }): net.Server {
  return net.createServer((socket) => {
    socket.once('data', () => {
      received.requests++;
      socket.resetAndDestroy();
    });
  });
}

/**
 * A proxy of its own in front of two "nodes": `nodeA` on node-a's port, an echo server on
 * node-b's; `toA` is a valid route cookie naming node-a primary and node-b backup.
 */
async function withFront(nodeA: net.Server, run: (front: StickyProxy, toA: string) => Promise<void>): Promise<void> {
  const other = await makeCluster({ nodes: 2 });
  const loaded = await loadConfig(other.configPath);
  const echo = echoServer('node-b', { count: 0 });
  const portOf = (name: string) => other.nodes.find((n) => n.name === name)!.httpPort;
  await new Promise<void>((resolve) => nodeA.listen(portOf('node-a'), '127.0.0.1', resolve));
  await new Promise<void>((resolve) => echo.listen(portOf('node-b'), '127.0.0.1', resolve));
  const front = await StickyProxy.start({ config: loaded.config, secret: loaded.secret!.value, host: '127.0.0.1', port: 0 });
  const cookie = new RouteCookie({ secret: loaded.secret!.value, cluster: loaded.config.name });
  try {
    await run(front, `${cookie.name}=${cookie.encode({ sessionId: newSessionId(), primary: 'node-a', backup: 'node-b', version: 1 })}`);
  } finally {
    await front.close();
    await new Promise((resolve) => nodeA.close(resolve));
    await new Promise((resolve) => echo.close(resolve));
    other.cleanup();
  }
}

describe('sticky proxy forwarding', { timeout: 60_000 }, () => {
  let cluster: TestCluster;
  let proxy: StickyProxy;
  let cookie: RouteCookie;
  const servers: net.Server[] = [];
  const connectionsB = { count: 0 };
  const connectionsC = { count: 0 };
  const crashed = { requests: 0 };
  const port = (name: string) => cluster.nodes.find((n) => n.name === name)!.httpPort;
  const listenOn = async (server: net.Server, name: string) => {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(port(name), '127.0.0.1', resolve));
  };

  before(async () => {
    cluster = await makeCluster({ nodes: 3 });
    const loaded = await loadConfig(cluster.configPath);
    proxy = await StickyProxy.start({ config: loaded.config, secret: loaded.secret!.value, host: '127.0.0.1', port: 0 });
    cookie = new RouteCookie({ secret: loaded.secret!.value, cluster: loaded.config.name });
    // node-a: nothing listens (a dead node); node-b and node-c answer.
    await listenOn(echoServer('node-b', connectionsB), 'node-b');
    await listenOn(echoServer('node-c', connectionsC), 'node-c');
  });
  after(async () => {
    await proxy.close();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    cluster.cleanup();
  });

  test('refused before sending: a POST with a streamed 4 MiB body goes to the next node, intact', async () => {
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * 1024, i + 1));
    const expected = createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
    // The cookie names node-a (down) as primary: the proxy tries it first.
    const route = cookie.encode({ sessionId: newSessionId(), primary: 'node-a', backup: 'node-b', version: 1 });
    const response = await fetch(`${proxy.url}/upload`, { method: 'POST', headers: { cookie: `${cookie.name}=${route}` }, body: Readable.toWeb(Readable.from(chunks)) as ReadableStream, duplex: 'half' } as RequestInit);
    assert.equal(response.status, 200);
    const echo = (await response.json()) as Echo;
    assert.equal(echo.node, 'node-b');
    assert.equal(echo.bytes, 4 * 1024 * 1024);
    assert.equal(echo.sha256, expected);
    assert.ok(proxy.stats.retried >= 1);
  });

  test('X-Forwarded-For names the client, after any earlier proxies', async () => {
    const plain = (await (await fetch(`${proxy.url}/x`)).json()) as Echo;
    assert.equal(plain.forwardedFor, '127.0.0.1');
    const chained = (await (await fetch(`${proxy.url}/x`, { headers: { 'x-forwarded-for': '198.51.100.7' } })).json()) as Echo;
    assert.equal(chained.forwardedFor, '198.51.100.7, 127.0.0.1');
  });

  test('a streamed 8 MiB response arrives whole', async () => {
    const response = await fetch(`${proxy.url}/big`);
    assert.equal(response.status, 200);
    assert.equal((await response.arrayBuffer()).byteLength, 8 * 1024 * 1024);
  });

  test('connections to a node are kept alive and reused', async () => {
    const before = connectionsB.count + connectionsC.count;
    for (let i = 0; i < 30; i++) await (await fetch(`${proxy.url}/ka`)).json();
    assert.ok(connectionsB.count + connectionsC.count - before <= 2, `30 sequential requests opened ${connectionsB.count + connectionsC.count - before} connections`);
  });

  test('a valid route cookie routes to its primary; a refused primary falls back to its backup', async () => {
    const sessionId = newSessionId();
    const toC = await fetch(`${proxy.url}/s`, { headers: { cookie: `${cookie.name}=${cookie.encode({ sessionId, primary: 'node-c', backup: 'node-b', version: 1 })}` } });
    assert.equal(((await toC.json()) as Echo).node, 'node-c');
    const deadPrimary = await fetch(`${proxy.url}/s`, { method: 'POST', body: 'hello', headers: { cookie: `${cookie.name}=${cookie.encode({ sessionId, primary: 'node-a', backup: 'node-c', version: 1 })}` } });
    const echo = (await deadPrimary.json()) as Echo;
    assert.equal(echo.node, 'node-c', 'the backup named in the cookie');
    assert.equal(echo.bytes, 5);
  });

  test('a forged route cookie is ignored and counted; the request still works', async () => {
    const before = proxy.stats.forgedCookies;
    const forged = Buffer.from(JSON.stringify([newSessionId(), 'node-c', 'node-b', '', 1])).toString('base64url');
    const servedBy = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const response = await fetch(`${proxy.url}/s`, { headers: { cookie: `${cookie.name}=v1.${forged}.AAAAAAAAAAAAAAAAAAAAAA` } });
      assert.equal(response.status, 200);
      servedBy.add(((await response.json()) as Echo).node);
    }
    assert.deepEqual([...servedBy].sort(), ['node-b', 'node-c'], 'routed as new sessions (taking turns), not pinned where the cookie said');
    assert.equal(proxy.stats.forgedCookies, before + 6);
  });

  test('a node that fails after the request reached it: POST gets a clear 502, GET goes to the next node', async () => {
    // node-a accepts connections, reads, and resets.
    await withFront(crashingServer(crashed), async (front, toA) => {
      const post = await fetch(`${front.url}/cart/items`, { method: 'POST', body: '{"sku":"x"}', headers: { 'content-type': 'application/json', cookie: toA } });
      assert.equal(post.status, 502);
      const { error } = (await post.json()) as { error: { code: string; message: string; node: string } };
      assert.equal(error.code, 'CASTMIRROR_UPSTREAM_FAILED');
      assert.equal(error.node, 'node-a');
      assert.match(error.message, /may or may not have been applied/);
      assert.equal(crashed.requests, 1, 'the POST reached node-a once and was sent nowhere else');
      assert.equal(front.stats.failedAfterSend, 1);

      const get = await fetch(`${front.url}/cart`, { headers: { cookie: toA } });
      assert.equal(get.status, 200);
      assert.equal(((await get.json()) as Echo).node, 'node-b');
      assert.equal(crashed.requests, 2, 'the GET reached node-a first');
    });
  });

  test('a node that answers "not applied" (it is leaving): the POST, body and all, goes to the next node', async () => {
    const seenByLeaving: string[] = [];
    const leaving = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seenByLeaving.push(body);
        res.writeHead(503, { 'content-type': 'application/json', 'x-castmirror-not-applied': '1', connection: 'close' });
        res.end('{"error":{"code":"CASTMIRROR_CLOSED","message":"node is closed"}}');
      });
    });
    await withFront(leaving, async (front, toA) => {
      const response = await fetch(`${front.url}/cart/items`, { method: 'POST', body: '{"sku":"sku-1","qty":2}', headers: { 'content-type': 'application/json', cookie: toA } });
      assert.equal(response.status, 200);
      const got = (await response.json()) as Echo;
      assert.equal(got.node, 'node-b');
      assert.equal(got.bytes, 23, 'the same body, replayed');
      assert.deepEqual(seenByLeaving, ['{"sku":"sku-1","qty":2}']);
      assert.equal(front.stats.notApplied, 1);
    });
  });

  test('no node reachable: 503 with a clear error', async () => {
    const lonely = await makeCluster({ nodes: 2 });
    const loaded = await loadConfig(lonely.configPath);
    const alone = await StickyProxy.start({ config: loaded.config, secret: loaded.secret!.value, host: '127.0.0.1', port: 0 });
    try {
      const response = await fetch(`${alone.url}/`, { method: 'POST', body: 'x' });
      assert.equal(response.status, 503);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'CASTMIRROR_NO_NODE');
    } finally {
      await alone.close();
      lonely.cleanup();
    }
  });

  test('options are checked at the door, with a coded error', async () => {
    const loaded = await loadConfig(cluster.configPath);
    const base = { config: loaded.config, secret: loaded.secret!.value, host: '127.0.0.1', port: 0 };
    for (const bad of [{ timeoutMs: 0 }, { connectTimeoutMs: -5 }, { timeoutMs: 1.5 }, { mode: 'round-robin' as never }, { port: 70_000 }]) {
      await assert.rejects(StickyProxy.start({ ...base, ...bad }), (error: unknown) => error instanceof InvalidArgumentError, JSON.stringify(bad));
    }
  });
});

describe('the route cookie named in server.xml', { timeout: 60_000 }, () => {
  test('<Sessions cookie> renames it for the nodes and the proxy alike: sticky routing keeps working', async () => {
    const shop = await startShopCluster({ extraXml: '  <Sessions cookie="shop.route"/>' });
    try {
      const shopper = new CookieClient(shop.proxyUrl);
      assert.equal((await shopper.post('/cart/items', { sku: 'sku-0001', qty: 1 })).status, 200);
      assert.ok(shopper.cookies.has('shop.route'), `the node sets the configured name: ${[...shopper.cookies.keys()].join(', ')}`);
      assert.ok(!shopper.cookies.has('castmirror.route'), 'and not the default one');
      const before = (await shop.proxyStatus()).stats.byReason.primary ?? 0;
      for (let i = 0; i < 10; i++) assert.equal((await shopper.get('/cart')).status, 200);
      const after = (await shop.proxyStatus()).stats.byReason.primary ?? 0;
      assert.equal(after - before, 10, 'the proxy read the renamed cookie and sent every request to the primary');
    } finally {
      await killAll();
      shop.cluster.cleanup();
    }
  });
});

describe('a stalled primary behind the proxy (SIGSTOP)', { timeout: 60_000 }, () => {
  test('requests waiting on it are given up after deadAfterMs (GET: served by the backup; POST: a clear 502), later ones go to the backup first', async (t) => {
    const shop = await startShopCluster();
    const stalledNodes: string[] = [];
    try {
      const shopper = new CookieClient(shop.proxyUrl);
      assert.equal((await shopper.post('/cart/items', { sku: 'sku-0001', qty: 1 })).status, 200);
      const before = await shopper.get<{ items: unknown[] }>('/cart');
      const primary = before.node!;
      const stalled = shop.nodes.get(primary)!;
      stalled.kill('SIGSTOP');
      stalledNodes.push(primary);
      const started = performance.now();
      // Both reach the stalled node: the proxy still sees it alive.
      const [read, write] = await Promise.all([shopper.get<{ items: unknown[] }>('/cart'), shopper.post('/cart/items', { sku: 'sku-0002', qty: 1 })]);
      const waitedMs = Math.round(performance.now() - started);
      t.diagnostic(`after SIGSTOP of ${primary}: the waiting GET answered ${read.status} by ${read.node}, the POST ${write.status}, ${waitedMs} ms later (deadAfterMs 500, proxy timeout 30 s)`);
      assert.equal(read.status, 200);
      assert.notEqual(read.node, primary, 'served by another node');
      assert.deepEqual(read.body, before.body, 'the backup has the cart');
      assert.equal(write.status, 502, 'a POST that reached the node is not replayed: its fate is unknown');
      assert.equal(write.body.error.code, 'CASTMIRROR_UPSTREAM_FAILED');
      // A new request while the node is still stopped: straight to a node that answers.
      const again = await shopper.post<{ items: unknown[] }>('/cart/items', { sku: 'sku-0003', qty: 1 });
      assert.equal(again.status, 200);
      assert.notEqual(again.node, primary);
      const status = await shop.proxyStatus();
      assert.ok((status.stats as unknown as { abandoned: number }).abandoned >= 2, 'both waiting requests were given up');
      stalled.kill('SIGCONT');
      stalledNodes.length = 0;
      await shop.proxySees([...shop.nodes.keys()]);
      // The resumed node stepped down: every request sees one cart, with every acknowledged item.
      for (let i = 0; i < 5; i++) {
        const cart = await shopper.get<{ items: { sku: string }[] }>('/cart');
        assert.equal(cart.status, 200);
        const skus = cart.body.items.map((item) => item.sku);
        assert.ok(skus.includes('sku-0001') && skus.includes('sku-0003'), `acknowledged items kept: ${skus.join(', ')}`);
      }
    } finally {
      for (const name of stalledNodes) shop.nodes.get(name)!.kill('SIGCONT');
      await killAll();
      shop.cluster.cleanup();
    }
  });
});

describe('static discovery behind the proxy (unicast datagrams on one host)', { timeout: 60_000 }, () => {
  test('the proxy hears the nodes\' heartbeats at its own address; kill -9 of a shopper\'s node: the cart continues on its backup', async () => {
    const shop = await startShopCluster({ extraXml: '  <Discovery type="static"/>' }); // returns once the proxy sees every node alive
    try {
      await cartSurvivesKillOfItsNode(shop);
    } finally {
      await killAll();
      shop.cluster.cleanup();
    }
  });
});
