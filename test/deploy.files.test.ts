/**
 * The deployment files of deploy/ run as shipped, on the multi-host harness (network
 * namespaces on a bridge that carries no multicast): the compose cluster's server.xml
 * (static discovery by service name, each name given to the namespaces by an /etc/hosts of
 * their own) and the Kubernetes one (dns discovery of the headless Service, answered by the
 * harness's DNS server through the namespaces' resolv.conf; nodes named by their address
 * as $(POD_IP) does). Through the proxy with its own flags: a cart survives kill -9 of its
 * node; in Kubernetes, the preStop drain hands a node's sessions over. And the files agree
 * with each other: the ports the manifests open are the ports the configs use.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { parseConfigText } from '../lib/config/load.js';
import type { DnsDiscovery } from '../lib/config/types.js';
import { runCli } from './helpers/cli.js';
import { killAll, NodeProcess, ROOT } from './helpers/cluster.js';
import { rememberCookies } from './helpers/cookie-client.js';
import { canCreateNamespaces, DnsServer, Hosts, type AgentReply } from './helpers/netns.js';
import { eventually } from './helpers/wait.js';

const DEPLOY = path.join(ROOT, 'deploy');
const read = (file: string) => readFileSync(path.join(DEPLOY, file), 'utf8');
const ENV = { CASTMIRROR_SECRET: 'deploy-test-secret-0123456789abcdef' };
const skip = canCreateNamespaces() ? false : 'needs root to create network namespaces (CI runs as root)';

/** A shopper through the proxy in the client namespace, keeping its cookies. */
class Shopper {
  private readonly cookies = new Map<string, string>();
  constructor(
    private readonly hosts: Hosts,
    private readonly base: string,
  ) {}

  async send(method: string, route: string, body?: unknown): Promise<AgentReply> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const reply = await this.hosts.request(`${this.base}${route}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    rememberCookies(this.cookies, reply.setCookies ?? []);
    return reply;
  }

  async cart(): Promise<{ node: string; items: [string, number][] }> {
    const reply = await this.send('GET', '/cart');
    assert.equal(reply.status, 200, reply.body);
    return { node: reply.node!, items: (JSON.parse(reply.body) as { items: { sku: string; qty: number }[] }).items.map((i) => [i.sku, i.qty]) };
  }
}

/** A copy of a deploy config in a temporary folder (nodes write their state beside it), with a catalog file there. */
function stage(cleanups: (() => void)[], file: string): { config: string; catalog: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'castmirror-deploy-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'server.xml');
  copyFileSync(path.join(DEPLOY, file), config);
  return { config, catalog: path.join(dir, 'catalog.json') };
}

describe('deploy/: the shipped files', () => {
  test('the configs validate; the manifests open the ports the configs use', () => {
    const compose = parseConfigText(read('compose/server.xml'), 'compose/server.xml', { env: ENV }).config;
    assert.equal(compose.discovery.type, 'static');
    assert.deepEqual(compose.encryption, { links: 'secret', datagrams: 'encrypted', admin: 'http', certificates: undefined });
    const composeYaml = read('compose/compose.yaml');
    for (const node of compose.nodes) {
      assert.match(composeYaml, new RegExp(`\\n  ${node.name}:\\n(.*\\n)*?    command: \\["demo", "--config", "/etc/castmirror/server.xml", "--node", "${node.name}"`), `a service runs ${node.name}`);
      assert.equal(node.host, node.name, 'a node is reached by its service name');
    }
    assert.match(composeYaml, new RegExp(`"${compose.proxy!.port}:${compose.proxy!.port}"`), 'the proxy publishes its port');
    assert.match(composeYaml, /\n  proxy:\n/, `the proxy's service is named as <Proxy host="${compose.proxy!.host}">`);
    assert.equal(compose.proxy!.host, 'proxy');

    const kube = parseConfigText(read('kubernetes/server.xml'), 'kubernetes/server.xml', { env: ENV }).config;
    const discovery = kube.discovery as DnsDiscovery;
    assert.equal(discovery.type, 'dns');
    const manifest = read('kubernetes/castmirror.yaml');
    assert.match(manifest, new RegExp(`kind: Service\\nmetadata:\\n  name: ${discovery.name}\\n(.*\\n)*?  clusterIP: None\\n  publishNotReadyAddresses: true`), 'the headless Service is the name dns discovery reads, ready or not');
    for (const [port, protocol] of [[discovery.httpPort, 'TCP'], [discovery.replicationPort, 'TCP'], [discovery.replicationPort, 'UDP'], [discovery.adminPort, 'TCP']] as const) {
      assert.match(manifest, new RegExp(`containerPort: ${port}, protocol: ${protocol}`), `the pods open ${port}/${protocol}`);
    }
    assert.match(manifest, new RegExp(`kind: Service\\nmetadata:\\n  name: ${kube.proxy!.host}\\n(.*\\n)*?.*port: ${kube.proxy!.port}, targetPort: heartbeats, protocol: UDP`), 'the proxy\'s Service takes the heartbeats');
    assert.match(manifest, /preStop:\n(.*\n)*?.*"drain", "--config", "\/etc\/castmirror\/server.xml", "--node", "\$\(POD_IP\)"/);
    assert.match(manifest, /readinessProbe:\n\s+httpGet: \{ path: \/readyz, port: admin \}/);

    const dockerfile = read('Dockerfile');
    for (const [, source] of dockerfile.matchAll(/^COPY (?!--from)(\S+)/gm)) assert.ok(existsSync(path.join(ROOT, source!)), `COPY ${source} exists`);
    for (const port of ['8080/tcp', '7080/tcp', '7080/udp', '9080/tcp', '8000/tcp', '8000/udp']) assert.ok(dockerfile.includes(port), `EXPOSE ${port}`);
  });
});

describe('deploy/ configs on the multi-host harness', { timeout: 120_000 }, () => {
  const cleanups: (() => void)[] = [];
  afterEach(async () => {
    await killAll();
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  test('compose: static discovery by service name; through the proxy a cart survives kill -9 of its node', { skip }, async () => {
    const hosts = Hosts.create(3);
    cleanups.push(() => hosts.cleanup());
    hosts.blockMulticast();
    const names = ['node-a', 'node-b', 'node-c'];
    const etcHosts = `127.0.0.1 localhost\n${names.map((n, i) => `${hosts.address(i)} ${n}`).join('\n')}\n${hosts.address('client')} proxy\n`;
    for (const ns of [0, 1, 2, 'client'] as const) hosts.etc(ns, 'hosts', etcHosts);
    const { config, catalog } = stage(cleanups, 'compose/server.xml');
    const nodes = names.map((name, i) => new NodeProcess(name, config, ENV, 'demo', ['--catalog', catalog], hosts.ns(i)));
    await Promise.all(nodes.map((n) => n.started()));
    const proxy = new NodeProcess('proxy', config, ENV, 'proxy', ['--host', '0.0.0.0'], hosts.ns('client'));
    await proxy.started();
    await cartSurvivesKill(hosts, names, nodes);
  });

  test('kubernetes: dns discovery of the headless Service, nodes named by $(POD_IP); kill -9 and the preStop drain both keep the cart', { skip }, async () => {
    const hosts = Hosts.create(3);
    cleanups.push(() => hosts.cleanup());
    hosts.blockMulticast();
    const kube = parseConfigText(read('kubernetes/server.xml'), 'server.xml', { env: ENV }).config;
    const discovery = kube.discovery as DnsDiscovery;
    const dns = await DnsServer.start(hosts, { port: 53, name: discovery.name });
    cleanups.push(() => dns.stop());
    const addresses = [0, 1, 2].map((i) => hosts.address(i));
    await dns.setAddresses(addresses);
    // The cluster DNS, and the proxy's Service name, as a pod sees them.
    for (const ns of [0, 1, 2, 'client'] as const) {
      hosts.etc(ns, 'resolv.conf', `nameserver ${dns.address}\n`);
      hosts.etc(ns, 'hosts', `127.0.0.1 localhost\n${hosts.address('client')} ${kube.proxy!.host}\n`);
    }
    const { config, catalog } = stage(cleanups, 'kubernetes/server.xml');
    const nodes = addresses.map((address, i) => new NodeProcess(address, config, ENV, 'demo', ['--catalog', catalog], hosts.ns(i)));
    await Promise.all(nodes.map((n) => n.started()));
    const proxy = new NodeProcess('proxy', config, ENV, 'proxy', ['--host', '0.0.0.0'], hosts.ns('client'));
    await proxy.started();
    const shopper = await cartSurvivesKill(hosts, addresses, nodes);

    // preStop: `castmirror drain --node $(POD_IP)` on the node now serving the cart.
    const serving = (await shopper.cart()).node;
    const i = addresses.indexOf(serving);
    const drained = await runCli(['drain', '--config', config, '--node', serving, '--timeout-ms', '20000', '--json'], { env: ENV, netns: hosts.ns(i), timeoutMs: 30_000 });
    assert.equal(drained.code, 0, drained.stdout + drained.stderr);
    await nodes[i]!.exited;
    const after = await shopper.cart();
    assert.notEqual(after.node, serving);
    assert.deepEqual(after.items, [['sku-0001', 2]], 'the drained node handed the cart over');
  });
});

/** Adds to a cart through the proxy, kills its node with SIGKILL, and checks the cart on the next node. */
async function cartSurvivesKill(hosts: Hosts, names: readonly string[], nodes: readonly NodeProcess[]): Promise<Shopper> {
  const shopper = new Shopper(hosts, `http://${hosts.address('client')}:8000`);
  await eventually(async () => (await shopper.send('GET', '/_castmirror/proxy')).body.split('"alive":true').length - 1 === names.length, { timeoutMs: 15_000, what: 'the proxy to hear every node' });
  await eventually(async () => (await shopper.send('POST', '/cart/items', { sku: 'sku-0001', qty: 2 })).status === 200, { what: 'a first cart item' });
  const before = await shopper.cart();
  assert.deepEqual(before.items, [['sku-0001', 2]]);
  nodes[names.indexOf(before.node)]!.kill('SIGKILL');
  const after = await shopper.cart();
  assert.notEqual(after.node, before.node);
  assert.deepEqual(after.items, [['sku-0001', 2]], 'the cart continues on its backup');
  return shopper;
}
