/**
 * Three session-app nodes, one per host namespace (test/helpers/netns.ts), converged, with
 * helpers to reach each one from the client namespace. Shared by the multi-host tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NodeStatus } from '../../lib/index.js';
import type { RouteHint } from '../../lib/replication/route-hint.js';
import type { SessionView } from '../../lib/session/view.js';
import { NodeProcess } from './cluster.js';
import { DnsServer, Hosts, writeHostsConfig } from './netns.js';
import { eventually } from './wait.js';

export const NAMES = ['node-a', 'node-b', 'node-c'];

export interface AppReply {
  readonly hint: RouteHint;
  readonly outcome: string;
  readonly list: number[];
  readonly mirrored?: boolean;
}

export interface HostsOptions {
  /** Inside <Server>; a function when it names the harness's addresses. */
  readonly extraXml?: string | ((hosts: Hosts) => string);
  readonly beforeStart?: (hosts: Hosts, dir: string) => void | Promise<void>;
  /** Wait until every started node sees every started node alive (default true). */
  readonly converge?: boolean;
  /** `<Discovery type="dns">` on the harness's DNS server: nodes are named by their addresses; `listed` are in its answer at first (default all). */
  readonly dns?: { readonly listed?: readonly number[] };
  /** The hosts whose node starts at once (default all); `start(i)` starts the others. */
  readonly started?: readonly number[];
}

/** Three session-app nodes, one per host namespace, converged; torn down after each test. */
export async function startHosts(cleanups: (() => void)[], heartbeat = { intervalMs: 100, deadAfterMs: 500 }, options: HostsOptions = {}) {
  const hosts = Hosts.create(NAMES.length);
  cleanups.push(() => hosts.cleanup());
  const dir = mkdtempSync(path.join(tmpdir(), 'castmirror-hosts-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const dns = options.dns ? await DnsServer.start(hosts) : undefined;
  if (dns) cleanups.push(() => dns.stop());
  const names = dns ? NAMES.map((_, i) => hosts.address(i)) : NAMES;
  await dns?.setAddresses((options.dns?.listed ?? [...NAMES.keys()]).map((i) => hosts.address(i)));
  const extraXml = typeof options.extraXml === 'function' ? options.extraXml(hosts) : (options.extraXml ?? '');
  const { configPath, secret } = writeHostsConfig(hosts, dir, { names, heartbeat, dns, extraXml: `  <Replication mode="sync"/>\n${extraXml}` });
  await options.beforeStart?.(hosts, dir);
  const auth = { authorization: `Bearer ${secret}` };
  const startedAt = performance.now();
  const spawnNode = (i: number) => new NodeProcess(names[i]!, configPath, {}, 'session-app', [], hosts.ns(i));
  const running = [...(options.started ?? NAMES.keys())];
  const processes: NodeProcess[] = [];
  for (const i of running) processes[i] = spawnNode(i);
  await Promise.all(running.map((i) => processes[i]!.started()));
  const cluster = {
    hosts,
    dns,
    names,
    processes,
    auth,
    dir,
    /** Starts node `i` (again: a new process, a new incarnation) on its host. */
    start: async (i: number) => {
      processes[i] = spawnNode(i);
      await processes[i].started();
    },
    status: (i: number) => hosts.json<NodeStatus>(`http://${hosts.address(i)}:9081/status`, { headers: auth }),
    roleOn: async (i: number, session: string) => {
      const reply = await hosts.request(`http://${hosts.address(i)}:9081/sessions/${session}`, { headers: auth });
      return reply.status === 200 ? (JSON.parse(reply.body) as SessionView).role : undefined;
    },
    admin: <T>(i: number, route: string, init: { method?: string; body?: unknown } = {}) => hosts.json<T>(`http://${hosts.address(i)}:9081${route}`, { ...init, headers: auth }),
    app: (i: number, route: string, body: Record<string, unknown>) => hosts.json<AppReply>(`http://${hosts.address(i)}:8081${route}`, { method: 'POST', body }),
    convergedAfterMs: 0,
  };
  if (options.converge !== false) {
    for (const i of running) await eventually(async () => (await cluster.status(i)).members.filter((m) => m.state === 'alive').length === running.length, { timeoutMs: 15_000, what: `${names[i]} to see ${running.length} members` });
  }
  cluster.convergedAfterMs = performance.now() - startedAt;
  return cluster;
}

export type HostsCluster = Awaited<ReturnType<typeof startHosts>>;

/** Every node holds `key` in its `product` cache; an invalidation on the first node removes it everywhere. */
export async function invalidationReachesEveryNode(c: HostsCluster, key: string): Promise<void> {
  for (const i of NAMES.keys()) await c.admin(i, `/caches/product/entries/${key}`, { method: 'PUT', body: { price: i } });
  await c.admin(0, '/caches/product/invalidate', { method: 'POST', body: { key } });
  for (const i of NAMES.keys()) {
    await eventually(async () => (await c.hosts.request(`http://${c.hosts.address(i)}:9081/caches/product/entries/${key}`, { headers: c.auth })).status === 404, { what: `${key} invalidated on ${NAMES[i]}` });
  }
}
