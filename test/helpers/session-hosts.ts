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
import { Hosts, writeHostsConfig } from './netns.js';
import { eventually } from './wait.js';

export const NAMES = ['node-a', 'node-b', 'node-c'];

export interface AppReply {
  readonly hint: RouteHint;
  readonly outcome: string;
  readonly list: number[];
  readonly mirrored?: boolean;
}

/** Three session-app nodes, one per host namespace, converged; torn down after each test. */
export async function startHosts(cleanups: (() => void)[], heartbeat = { intervalMs: 100, deadAfterMs: 500 }, options: { extraXml?: string; beforeStart?: (hosts: Hosts, dir: string) => void; converge?: boolean } = {}) {
  const hosts = Hosts.create(NAMES.length);
  cleanups.push(() => hosts.cleanup());
  const dir = mkdtempSync(path.join(tmpdir(), 'castmirror-hosts-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const { configPath, secret } = writeHostsConfig(hosts, dir, { names: NAMES, heartbeat, extraXml: `  <Replication mode="sync"/>\n${options.extraXml ?? ''}` });
  options.beforeStart?.(hosts, dir);
  const auth = { authorization: `Bearer ${secret}` };
  const started = performance.now();
  const processes = NAMES.map((name, i) => new NodeProcess(name, configPath, {}, 'session-app', [], hosts.ns(i)));
  await Promise.all(processes.map((n) => n.started()));
  const cluster = {
    hosts,
    processes,
    auth,
    /** Starts node `i` again (a new process, a new incarnation) on its host. */
    restart: async (i: number) => {
      const process = new NodeProcess(NAMES[i]!, configPath, {}, 'session-app', [], hosts.ns(i));
      processes[i] = process;
      await process.started();
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
  if (options.converge !== false) for (const i of NAMES.keys()) await eventually(async () => (await cluster.status(i)).members.filter((m) => m.state === 'alive').length === 3, { timeoutMs: 15_000, what: `${NAMES[i]} to see 3 members` });
  cluster.convergedAfterMs = performance.now() - started;
  return { ...cluster, dir };
}
