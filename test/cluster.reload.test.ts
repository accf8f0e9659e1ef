/**
 * Live changes to a running shop cluster (child processes): a fourth node added to
 * server.xml and applied with `castmirror reload` joins without restarting the others,
 * the proxy picks it up by itself, and it receives new sessions and backup copies. The
 * same reload changes a cache capacity live and names what needs a restart; a broken file
 * is refused before anything is sent.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, afterEach, test } from 'node:test';
import { killAll, NodeProcess } from './helpers/cluster.js';
import { runCli } from './helpers/cli.js';
import { CookieClient } from './helpers/cookie-client.js';
import { freeTcpPort } from './helpers/ports.js';
import { startShopCluster, type ShopCluster } from './helpers/shop.js';
import { eventually } from './helpers/wait.js';

interface ReloadResult {
  nodes: ({ node: string; report: { applied: string[]; needsRestart: string[] } } | { node: string; notRunning: true })[];
}

const shops: ShopCluster[] = [];
afterEach(killAll);
after(() => shops.forEach((s) => s.cluster.cleanup()));

test('a node added to server.xml joins a running cluster after reload and gets sessions and backups', { timeout: 90_000 }, async () => {
  const shop = await startShopCluster();
  shops.push(shop);
  const { configPath } = shop.cluster;
  const original = readFileSync(configPath, 'utf8');

  // A broken edit is refused here, with its position, and no node is asked.
  writeFileSync(configPath, original.replace('</ClusterNodes>', '<Node name="node-d" host="127.0.0.1"/></ClusterNodes>'));
  const broken = await runCli(['reload', '--config', configPath]);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /server\.xml:\d+:\d+: .*httpPort/);

  const ports = { http: await freeTcpPort(), replication: await freeTcpPort(), admin: await freeTcpPort() };
  const nodeD = `<Node name="node-d" host="127.0.0.1" machine="m4" httpPort="${ports.http}" replicationPort="${ports.replication}" adminPort="${ports.admin}"/>`;
  writeFileSync(
    configPath,
    original
      .replace('</ClusterNodes>', `${nodeD}\n  </ClusterNodes>`)
      .replace('<Cache type="product" capacity="1000"/>', '<Cache type="product" capacity="500"/>')
      .replace('<ClusterNodes>', '<Messaging coalesceMs="2"/>\n  <ClusterNodes>'),
  );
  const reloaded = await runCli(['reload', '--config', configPath, '--json']);
  assert.equal(reloaded.code, 0, reloaded.stderr);
  const result = JSON.parse(reloaded.stdout) as ReloadResult;
  for (const entry of result.nodes) {
    if (entry.node === 'node-d') {
      assert.ok('notRunning' in entry, 'node-d is not running yet');
      continue;
    }
    assert.ok('report' in entry, entry.node);
    assert.ok(entry.report.applied.includes('nodes added: node-d'), JSON.stringify(entry.report));
    assert.ok(entry.report.applied.some((line) => line.startsWith('cache product: capacity 500')));
    assert.ok(entry.report.needsRestart.some((line) => line.startsWith('<Messaging> changed: needs a restart')));
  }
  assert.equal((await shop.cluster.admin('node-a').json<{ capacity: number }>('GET', '/caches/product')).capacity, 500, 'capacity changed live');

  const d = new NodeProcess('node-d', configPath, {}, 'demo');
  await d.started();
  await eventually(
    async () => (await shop.cluster.admin('node-a').json<{ members: { name: string; state: string }[] }>('GET', '/status')).members.some((m) => m.name === 'node-d' && m.state === 'alive'),
    { timeoutMs: 10_000, what: 'node-a to see node-d alive' },
  );
  // The proxy was not told: it re-reads server.xml when node-d's heartbeats arrive.
  await shop.proxySees(['node-a', 'node-b', 'node-c', 'node-d']);

  // New sessions: node-d holds none, so it is the least loaded and gets the first ones.
  const served = new Map<string, number>();
  for (let i = 0; i < 9; i++) {
    const reply = await new CookieClient(shop.proxyUrl).post('/cart/items', { sku: 'sku-0001', qty: 1 });
    assert.equal(reply.status, 200);
    served.set(reply.node!, (served.get(reply.node!) ?? 0) + 1);
  }
  assert.ok((served.get('node-d') ?? 0) >= 1, `node-d got new sessions: ${JSON.stringify([...served])}`);
  const dSessions = async () =>
    ((await new CookieClient(`http://127.0.0.1:${ports.admin}`).request('GET', '/status', undefined, { authorization: `Bearer ${shop.cluster.secret}` })).body as { sessions: { primaries: number; backups: number; unmirrored: number } }).sessions;
  // Which node a backup goes to depends on the load the others last heard from node-d (its
  // new primaries count): more new sessions, bounded, until one of the others chose it.
  for (let i = 0; i < 30 && (await dSessions()).backups === 0; i++) assert.equal((await new CookieClient(shop.proxyUrl).post('/cart/items', { sku: 'sku-0001', qty: 1 })).status, 200);
  const sessions = await dSessions();
  assert.ok(sessions.primaries >= 1);
  assert.equal(sessions.unmirrored, 0, "node-d's sessions have backups on the others");
  assert.ok(sessions.backups >= 1, `node-d holds backup copies of the others' sessions: ${JSON.stringify(sessions)}`);
});
