/**
 * The request path on the workload of Tomcat's cluster benchmark: `GET /cart/cart?op=add&item=X`
 * updates the session (a counter and the last 20 items), 1,000 pre-created sessions in rotation,
 * `wrk -t2 -c32 -d10s` straight to node 1 (no proxy), in one run:
 *   bare node:http, the session in a Map keyed by a cookie   (baseline)
 *   castmirror standalone                                   (<Cluster>0</Cluster>)
 *   castmirror sync, 2 nodes / castmirror async, 2 nodes
 *   with a shared store (a local redis-server, when installed): castmirror sync, 2 nodes, with no
 *   store, a write-behind and a write-through one, castmirror with pubsub discovery (no backup
 *   node: the store is the other copy), beside express-session + connect-redis on the same
 *   redis-server
 * For each: requests/s, p50 and p99 as wrk reports them, and the CPU of every node process per
 * 1,000 requests (from /proc). Needs wrk (Debian: apt-get install wrk); without it, says so.
 *
 *   npm run bench -- cart       (BENCH_CART_SECONDS, default 10; BENCH_CART_SECTIONS=modes,processes,store)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { benchCluster, freePortRun, startRedisServer, type BenchCluster } from './cluster-fixture.js';
import { cpuMs, print, round, sibling } from './common.js';

const SECONDS = Number(process.env.BENCH_CART_SECONDS ?? 10);
const SECTIONS = new Set((process.env.BENCH_CART_SECTIONS ?? 'modes,processes,store').split(','));
const SESSIONS = 1_000;

function appProcess(kind: string, configPath: string, node: string, redisPort?: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...sibling.execArgv, sibling('cart-app'), kind, configPath, node, ...(redisPort ? [String(redisPort)] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => line.includes('app listening') && resolve(child));
    child.once('exit', (code) => reject(new Error(`cart-app ${kind} ${node} exited with ${code}`)));
  });
}

/** One request without cookies: the Cookie header that names the session it created. */
function newSession(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/cart/cart?op=add&item=first' }, (res) => {
        res.resume();
        const cookies = (res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!);
        if (cookies.length === 0) reject(new Error('no session cookie'));
        else resolve(cookies.join('; '));
      })
      .on('error', reject);
  });
}

interface WrkFigures {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly non2xx: number;
}

function toMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!match) return NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}

/**
 * wrk with 2 threads; with several targets, thread i connects to target i (wrk's setup()
 * sets each thread's address), as a balancer with affinity would, and sends the cookies of
 * the sessions that target created.
 */
function wrk(targets: readonly { port: number; cookies: readonly string[] }[], scratch: string): WrkFigures {
  const script = path.join(scratch, 'cart.lua');
  const table = (cookies: readonly string[]) => `{ ${cookies.map((c) => JSON.stringify(c)).join(', ')} }`;
  writeFileSync(
    script,
    `local ports = { ${targets.map((t) => t.port).join(', ')} }
local cookiesByTarget = { ${targets.map((t) => table(t.cookies)).join(',\n')} }
local threads = 0
function setup(thread)
  local target = (threads % #ports) + 1
  threads = threads + 1
  thread.addr = wrk.lookup("127.0.0.1", tostring(ports[target]))[1]
  thread:set("target", target)
end
local n = 0
request = function()
  n = n + 1
  local cookies = cookiesByTarget[target]
  return wrk.format("GET", "/cart/cart?op=add&item=" .. (n % 50), { ["Cookie"] = cookies[(n % #cookies) + 1] })
end
`,
  );
  const port = targets[0]!.port;
  const run = spawnSync('wrk', ['-t2', '-c32', `-d${SECONDS}s`, '--latency', '-s', script, `http://127.0.0.1:${port}`], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`wrk failed: ${run.stderr}`);
  const out = run.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return { requestsPerSecond: Math.round(rps), p50Ms: toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? ''), p99Ms: toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''), requests, non2xx };
}

interface Variant {
  readonly name: string;
  readonly kind: 'bare' | 'castmirror' | 'express-redis';
  /** The redis-server of the store variants and of connect-redis. */
  readonly redisPort?: number;
  /** The config file's path. */
  readonly config: string;
  /** The node processes to run. */
  readonly nodes: readonly string[];
  /** The nodes wrk's threads send to (the sessions are made there). */
  readonly targets: readonly string[];
}

async function measure(variant: Variant, portOf: (node: string) => number, scratch: string) {
  const children = await Promise.all(variant.nodes.map((node) => appProcess(variant.kind, variant.config, node, variant.redisPort)));
  try {
    // The nodes of a cluster must see each other before sessions are made, or they start without a backup.
    if (variant.nodes.length > 1) await new Promise((r) => setTimeout(r, 1500));
    const targets = [];
    for (const node of variant.targets) {
      const port = portOf(node);
      const cookies: string[] = [];
      for (let i = 0; i < SESSIONS / variant.targets.length; i++) cookies.push(await newSession(port));
      targets.push({ port, cookies });
    }
    const cpuBefore = children.reduce((sum, c) => sum + cpuMs(c.pid!), 0);
    const figures = wrk(targets, scratch);
    const cpu = children.reduce((sum, c) => sum + cpuMs(c.pid!), 0) - cpuBefore;
    return { name: variant.name, processes: variant.targets.length, ...figures, cpuMsPer1000: round((cpu / Math.max(1, figures.requests)) * 1000, 1) };
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(undefined) : c.once('exit', r)))));
  }
}

/** A config whose one `<Node name="web" processes="N">` runs on one machine: web-0..web-(N-1). */
async function processesConfig(scratch: string, file: string, processes: number, inside: string, cluster: BenchCluster): Promise<{ path: string; portOf: (node: string) => number }> {
  const [http, replication, admin] = [await freePortRun(processes), await freePortRun(processes), await freePortRun(processes)];
  const configPath = path.join(scratch, file);
  writeFileSync(
    configPath,
    `<Server name="bench-processes"><Cluster>${inside.includes('<Replication') ? 1 : 0}</Cluster><MulticastAddress>${cluster.group}</MulticastAddress><MulticastPort>${cluster.port}</MulticastPort>
<MulticastInterface>127.0.0.1</MulticastInterface><MulticastTTL>0</MulticastTTL><Secret file="${path.join(cluster.dir, 'secret')}"/>
<Heartbeat intervalMs="100" deadAfterMs="500"/>${inside}<ClusterNodes><Node name="web" processes="${processes}" host="127.0.0.1" machine="m1" httpPort="${http}" replicationPort="${replication}" adminPort="${admin}"/></ClusterNodes></Server>`,
  );
  return { path: configPath, portOf: (node) => http + Number(node.slice('web-'.length)) };
}

/**
 * castmirror sync with no store, a write-behind and a write-through one, castmirror with pubsub
 * discovery (the store as the only other copy), and express-session + connect-redis, all on one
 * local redis-server started here; undefined rows say why they are missing.
 */
async function storeSection(cluster: BenchCluster, standalone: (name: string) => string, portOf: (node: string) => number, scratch: string) {
  const redis = await startRedisServer();
  if (!redis) return { skipped: 'redis-server is not installed (Debian: apt-get install redis-server)' };
  try {
    // BENCH_STORE_FLUSH_MS: the write-behind interval (<Store flushMs>; its default otherwise).
    const flush = process.env.BENCH_STORE_FLUSH_MS ? ` flushMs="${Number(process.env.BENCH_STORE_FLUSH_MS)}"` : '';
    const withStore = (mode: string) => `<Replication mode="sync"/><Store type="redis" url="redis://127.0.0.1:${redis.port}" mode="${mode}"${flush}/>`;
    const pair = { kind: 'castmirror' as const, nodes: ['node-1', 'node-2'], targets: ['node-1'] };
    const none = await measure({ name: 'castmirror sync, 2 nodes, no store', config: cluster.write('store-none.xml', '<Replication mode="sync"/>'), ...pair }, portOf, scratch);
    const behind = await measure({ name: 'castmirror sync, 2 nodes, write-behind store', config: cluster.write('store-behind.xml', withStore('write-behind')), ...pair }, portOf, scratch);
    const through = await measure({ name: 'castmirror sync, 2 nodes, write-through store', config: cluster.write('store-through.xml', withStore('write-through')), ...pair }, portOf, scratch);
    // Everything through the store: no backup node, heartbeats and invalidations on its pub/sub.
    const pubsubXml = `<Discovery type="pubsub"/><Store type="redis" url="redis://127.0.0.1:${redis.port}" mode="write-through"/>`;
    const pubsub = await measure({ name: 'castmirror, 2 nodes, pubsub discovery (no backup node), write-through store', config: cluster.write('store-pubsub.xml', pubsubXml), ...pair }, portOf, scratch);
    const connectRedis = await measure({ name: 'express-session + connect-redis, the same redis-server', kind: 'express-redis', config: standalone('connect-redis.xml'), nodes: ['node-1'], targets: ['node-1'], redisPort: redis.port }, portOf, scratch);
    return {
      baseline: connectRedis.name,
      flushMs: process.env.BENCH_STORE_FLUSH_MS ? Number(process.env.BENCH_STORE_FLUSH_MS) : 'default (100)',
      tasks: [none, behind, through, pubsub, connectRedis].map((r) => ({ ...r, ratioToConnectRedis: round(r.requestsPerSecond / connectRedis.requestsPerSecond, 3) })),
      writeBehindCostOfRequestsPerSecond: round(1 - behind.requestsPerSecond / none.requestsPerSecond, 3),
      targets: { writeBehindCostAtMost10Percent: behind.requestsPerSecond >= 0.9 * none.requestsPerSecond, writeThroughAtLeast1point2xConnectRedis: through.requestsPerSecond >= 1.2 * connectRedis.requestsPerSecond },
    };
  } finally {
    redis.stop();
  }
}

if (spawnSync('wrk', ['--version']).error) {
  print({ benchmark: 'cart', skipped: 'wrk is not installed (Debian: apt-get install wrk)' });
} else {
  const cluster = await benchCluster(['node-1', 'node-2']);
  const scratch = mkdtempSync(path.join(tmpdir(), 'castmirror-cart-'));
  try {
    const standalone = (name: string) => {
      const configPath = cluster.write(name, '');
      writeFileSync(configPath, readFileSync(configPath, 'utf8').replace('<Cluster>1</Cluster>', '<Cluster>0</Cluster>'));
      return configPath;
    };
    const portOfNode = (node: string) => cluster.httpPortOf(node);
    const results = [await measure({ name: 'bare node:http, counter in a Map keyed by a cookie (baseline)', kind: 'bare', config: standalone('bare.xml'), nodes: ['node-1'], targets: ['node-1'] }, portOfNode, scratch)];
    if (SECTIONS.has('modes')) {
      results.push(
        await measure({ name: 'castmirror standalone', kind: 'castmirror', config: standalone('standalone.xml'), nodes: ['node-1'], targets: ['node-1'] }, portOfNode, scratch),
        await measure({ name: 'castmirror sync, 2 nodes', kind: 'castmirror', config: cluster.write('sync.xml', '<Replication mode="sync"/>'), nodes: ['node-1', 'node-2'], targets: ['node-1'] }, portOfNode, scratch),
        await measure({ name: 'castmirror async, 2 nodes', kind: 'castmirror', config: cluster.write('async.xml', '<Replication mode="async"/>'), nodes: ['node-1', 'node-2'], targets: ['node-1'] }, portOfNode, scratch),
      );
    }
    const store = SECTIONS.has('store') ? await storeSection(cluster, standalone, portOfNode, scratch) : undefined;
    // The processes curve: 1 and 2 processes of one machine, each wrk thread on its own process.
    const curve = [];
    for (const [label, kind, inside] of !SECTIONS.has('processes') ? [] : [
      ['bare node:http', 'bare', ''],
      ['castmirror standalone', 'castmirror', ''],
      ['castmirror sync (the processes back each other up)', 'castmirror', '<Replication mode="sync"/>'],
    ] as const) {
      for (const processes of [1, 2]) {
        if (processes === 1 && inside !== '') continue; // one process alone has no one to mirror to
        const config = await processesConfig(scratch, `curve-${kind}-${processes}-${inside ? 'sync' : 'solo'}.xml`, processes, inside, cluster);
        const nodes = Array.from({ length: processes }, (_, i) => `web-${i}`);
        curve.push(await measure({ name: `${label}, processes="${processes}"`, kind, config: config.path, nodes, targets: nodes }, config.portOf, scratch));
      }
    }
    const bare = results[0]!;
    const bareCurve = curve[0];
    print({
      benchmark: 'cart',
      baseline: bare.name,
      wrk: `-t2 -c32 -d${SECONDS}s, ${SESSIONS} sessions in rotation, straight to node-1`,
      tasks: results.map((r) => ({ ...r, ratioToBaseline: round(r.requestsPerSecond / bare.requestsPerSecond, 3), p99VsBaseline: round(r.p99Ms / bare.p99Ms, 2) })),
      processesCurve: bareCurve && {
        baseline: bareCurve.name,
        wrk: `-t2 -c32 -d${SECONDS}s; with 2 processes each wrk thread keeps to one process and its ${SESSIONS / 2} sessions`,
        cores: availableParallelism(),
        tasks: curve.map((r) => ({ ...r, ratioToBaseline: round(r.requestsPerSecond / bareCurve.requestsPerSecond, 3) })),
      },
      store,
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    cluster.cleanup();
  }
}
