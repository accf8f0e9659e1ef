/**
 * WebSockets through the sticky proxy (lib/proxy/upgrade.ts), real processes: a socket is
 * routed by the route cookie to the session's primary; after kill -9 of that node the
 * socket closes, and the client, reconnecting with the same cookies, reaches the session's
 * backup, which takes the session over: the count goes on from the last acknowledged
 * message. An upgrade the application refuses reaches the client as the application
 * answered it.
 */
import assert from 'node:assert/strict';
import { after, afterEach, test } from 'node:test';
import WebSocket from 'ws';
import { killAll, makeCluster, NodeProcess, startNodes, type TestCluster } from './helpers/cluster.js';
import { CookieClient } from './helpers/cookie-client.js';
import { eventually } from './helpers/wait.js';

const clusters: TestCluster[] = [];
afterEach(killAll);
after(() => clusters.forEach((c) => c.cleanup()));

interface Counted {
  readonly n: number;
  readonly node: string;
  readonly outcome: string;
}

/** A WebSocket to `url` with these cookies, and a way to send "inc" and await its answer. */
async function connect(url: string, cookie: string) {
  const ws = new WebSocket(url, { headers: { cookie } });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return {
    ws,
    closed,
    inc: () =>
      new Promise<Counted>((resolve, reject) => {
        ws.once('message', (data) => resolve(JSON.parse(String(data)) as Counted));
        ws.once('close', (code) => reject(new Error(`closed (${code}) before the answer`)));
        ws.send('inc');
      }),
  };
}

test('a WebSocket follows its session: kill -9 of its node, reconnect, the backup takes over and the count goes on', { timeout: 90_000 }, async () => {
  const cluster = await makeCluster({ nodes: 3, proxy: true, extraXml: '<Replication mode="sync"/>' });
  clusters.push(cluster);
  const nodes = await startNodes(cluster, ['node-a', 'node-b', 'node-c'], {}, 'ws-app');
  const proxy = new NodeProcess('proxy', cluster.configPath, {}, 'proxy');
  await proxy.started();
  const proxyUrl = `http://127.0.0.1:${cluster.proxyPort}`;
  await eventually(async () => ((await (await fetch(`${proxyUrl}/_castmirror/proxy`)).json()) as { members: { alive: boolean }[] }).members.every((m) => m.alive), { what: 'the proxy sees every node', timeoutMs: 10_000 });

  const user = new CookieClient(proxyUrl);
  const login = await user.post<{ node: string }>('/login', {});
  assert.equal(login.status, 200);
  const primary = login.body.node;
  const wsUrl = `ws://127.0.0.1:${cluster.proxyPort}/counter`;

  const first = await connect(wsUrl, user.cookieHeader);
  for (let i = 1; i <= 5; i++) assert.deepEqual(await first.inc(), { n: i, node: primary, outcome: 'served' }, 'routed to the primary');

  nodes.get(primary)!.kill('SIGKILL');
  await nodes.get(primary)!.exited;
  await first.closed;

  // The client reconnects with the same cookies, as a browser's WebSocket client would.
  const second = await eventually(async () => connect(wsUrl, user.cookieHeader).catch(() => undefined), { what: 'a new socket through the proxy', timeoutMs: 10_000 });
  const next = await second.inc();
  assert.equal(next.n, 6, 'every acknowledged increment is kept');
  assert.notEqual(next.node, primary);
  assert.equal(next.outcome, 'took-over', 'the backup took the session over');
  assert.equal((await second.inc()).n, 7);
  second.ws.close();

  // An upgrade without a session: the application's refusal, passed on.
  const refused = await connect(wsUrl, '').then(
    () => 'opened',
    (error: Error) => error.message,
  );
  assert.equal(refused, 'refused: 401');
  const stats = ((await (await fetch(`${proxyUrl}/_castmirror/proxy`)).json()) as { stats: { upgrades: number } }).stats;
  assert.ok(stats.upgrades >= 3, `upgrades counted: ${stats.upgrades}`);
});
