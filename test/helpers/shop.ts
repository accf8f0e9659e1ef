/**
 * The demo shop as tests run it: three `castmirror demo` nodes and a `castmirror proxy`,
 * each a child process, on fresh ports and a fresh multicast group.
 */
import assert from 'node:assert/strict';
import { makeCluster, NodeProcess, type ClusterOptions, type TestCluster } from './cluster.js';
import { CookieClient } from './cookie-client.js';
import { eventually } from './wait.js';

export interface ShopCluster {
  readonly cluster: TestCluster;
  readonly nodes: Map<string, NodeProcess>;
  readonly proxy: NodeProcess;
  readonly proxyUrl: string;
  nodeUrl(name: string): string;
  /** Waits until the proxy sees exactly these nodes alive. */
  proxySees(names: readonly string[]): Promise<void>;
  proxyStatus(): Promise<ProxyView>;
}

export interface ProxyView {
  readonly members: { name: string; alive: boolean; sessions: number | null }[];
  readonly stats: { requests: number; retried: number; failedAfterSend: number; forgedCookies: number; byNode: Record<string, number>; byReason: Record<string, number> };
}

export interface ShopOptions extends ClusterOptions {
  readonly mode?: 'sticky' | 'dumb';
  /** Extra `castmirror demo` arguments for some nodes (`--catalog FILE`, say). */
  readonly nodeArgs?: Readonly<Record<string, readonly string[]>>;
}

export async function startShopCluster(options: ShopOptions = {}): Promise<ShopCluster> {
  const cluster = await makeCluster({ nodes: 3, ...options, proxy: true });
  const names = cluster.nodes.map((n) => n.name);
  const nodes = new Map(names.map((name) => [name, new NodeProcess(name, cluster.configPath, {}, 'demo', options.nodeArgs?.[name] ?? [])]));
  await Promise.all([...nodes.values()].map((n) => n.started()));
  const proxy = new NodeProcess('proxy', cluster.configPath, {}, 'proxy', ['--mode', options.mode ?? 'sticky']);
  await proxy.started();
  const proxyUrl = `http://127.0.0.1:${cluster.proxyPort}`;
  const shop: ShopCluster = {
    cluster,
    nodes,
    proxy,
    proxyUrl,
    nodeUrl: (name) => `http://127.0.0.1:${cluster.nodes.find((n) => n.name === name)!.httpPort}`,
    async proxyStatus() {
      return (await (await fetch(`${proxyUrl}/_castmirror/proxy`)).json()) as ProxyView;
    },
    async proxySees(expected) {
      await eventually(
        async () => {
          const alive = (await shop.proxyStatus()).members.filter((m) => m.alive).map((m) => m.name);
          return alive.length === expected.length && expected.every((n) => alive.includes(n));
        },
        { timeoutMs: 10_000, what: `the proxy to see ${expected.join(', ')} alive` },
      );
    },
  };
  // The nodes must see each other too, or new sessions would have no backup.
  await eventually(async () => (await Promise.all(names.map(async (n) => (await cluster.admin(n).json<{ members: { state: string }[] }>('GET', '/status')).members.every((m) => m.state === 'alive')))).every(Boolean), {
    timeoutMs: 10_000,
    what: 'the nodes to see each other',
  });
  await shop.proxySees(names);
  return shop;
}

/** A shopper's cart through the proxy; kill -9 of the node serving it: the next request, still through the proxy, finds it on another node. */
export async function cartSurvivesKillOfItsNode(shop: ShopCluster): Promise<void> {
  const shopper = new CookieClient(shop.proxyUrl);
  assert.equal((await shopper.post('/cart/items', { sku: 'sku-0001', qty: 2 })).status, 200);
  const primary = (await shopper.get('/cart')).node!;
  assert.ok(shop.nodes.has(primary), `the answer names its node: ${primary}`);
  shop.nodes.get(primary)!.kill('SIGKILL');
  const cart = await shopper.get<{ items: { sku: string; qty: number }[] }>('/cart');
  assert.equal(cart.status, 200);
  assert.notEqual(cart.node, primary);
  assert.deepEqual(cart.body.items.map((i) => [i.sku, i.qty]), [['sku-0001', 2]]);
  await shop.proxySees([...shop.nodes.keys()].filter((n) => n !== primary));
}
