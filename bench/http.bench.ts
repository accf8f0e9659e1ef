/**
 * HTTP load through the sticky proxy, for a session-modifying request (add to cart), all
 * on loopback in one run, each app on three nodes behind `castmirror proxy`:
 *   bare                 node:http, no session: the ceiling of proxy + HTTP on this machine (baseline)
 *   shop standalone      the demo shop, nodes not clustered: sessions in memory, mirroring off
 *   shop sync            the demo shop, three-node cluster, sync mirroring
 *   express + redis      express-session + connect-redis against a local redis-server
 *   express + castmirror express-session + CastmirrorStore (sync) + store.routing()
 * Then failover under load: the shop with sync mirroring, kill -9 of one node mid-run:
 * failed requests, and the time until throughput is back to 80% of its level before.
 *
 *   npm run bench:http      (needs redis-server on PATH for the redis case; skipped if absent)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { benchCluster, freePort, type BenchCluster } from './cluster-fixture.js';
import { cpuMs, print, round, sibling } from './common.js';
import { BUCKET_MS, load, type LoadResult } from './http-load.js';

const USERS = Number(process.env.BENCH_HTTP_USERS ?? 16);
const DURATION_MS = Number(process.env.BENCH_HTTP_MS ?? 4000);
const FAILOVER_MS = Number(process.env.BENCH_HTTP_FAILOVER_MS ?? 6000);
const KILL_AT_MS = 2000;
const NODES = ['node-a', 'node-b', 'node-c'];
const compiled = !import.meta.url.endsWith('.ts');
// Compiled: the package's own build (dist/), the CLI a user runs; `npm run bench` builds it first.
const CLI = fileURLToPath(new URL(compiled ? '../../dist/bin/castmirror.js' : '../bin/castmirror.ts', import.meta.url));

/** A child process that prints JSON log lines; `ready` waits for one with the given msg. */
class Child {
  readonly process: ChildProcess;
  private readonly lines: string[] = [];
  private readonly waiters: (() => void)[] = [];

  constructor(args: string[], execArgv = sibling.execArgv) {
    this.process = spawn(process.execPath, [...execArgv, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    live.add(this);
    this.process.once('exit', () => live.delete(this));
    createInterface({ input: this.process.stdout! }).on('line', (line) => {
      this.lines.push(line);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  async ready(msg: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.lines.some((l) => l.includes(`"msg":"${msg}"`))) {
      if (Date.now() > deadline || this.process.exitCode !== null) throw new Error(`no "${msg}" from ${this.process.spawnargs.join(' ')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.process.kill(signal);
    return exited;
  }
}

const live = new Set<Child>();
process.on('exit', () => {
  for (const child of live) child.process.kill('SIGKILL');
});

interface Setup {
  readonly url: string;
  readonly nodes: Map<string, Child>;
  /** Every process serving the load (nodes, proxy, redis): their CPU is what a request costs. */
  readonly pids: number[];
  stop(): Promise<void>;
}

/** Three app processes plus the proxy, from one config. */
async function setup(cluster: BenchCluster, file: string, xml: string, app: (node: string, config: string) => Child, ready: string, standalone = false): Promise<Setup> {
  const proxyPort = await freePort();
  let configPath = cluster.write(file, `<Proxy host="127.0.0.1" port="${proxyPort}"/>${xml}`);
  if (standalone) {
    writeFileSync(configPath, readFileSync(configPath, 'utf8').replace('<Cluster>1</Cluster>', '<Cluster>0</Cluster>'));
  }
  const nodes = new Map(NODES.map((name) => [name, app(name, configPath)]));
  await Promise.all([...nodes.values()].map((n) => n.ready(ready)));
  const proxy = new Child([CLI, 'proxy', '--config', configPath], compiled ? [] : ['--import', 'tsx']);
  await proxy.ready('proxy listening');
  // Let heartbeats reach the proxy (and the nodes find each other) before the load starts.
  await new Promise((r) => setTimeout(r, 1000));
  return {
    url: `http://127.0.0.1:${proxyPort}`,
    nodes,
    pids: [proxy, ...nodes.values()].map((c) => c.process.pid!),
    async stop() {
      await Promise.all([proxy, ...nodes.values()].map((c) => c.kill()));
    },
  };
}

const shopNode = (name: string, config: string) => new Child([CLI, 'demo', '--config', config, '--node', name], compiled ? [] : ['--import', 'tsx']);
const appNode = (kind: string, extra: string[] = []) => (name: string, config: string) => new Child([sibling('http-app'), kind, config, name, ...extra]);
const cartAdd = (user: number, n: number) => ({ sku: `sku-${String((user * 7 + n) % 20).padStart(4, '0')}`, qty: 1 });

async function measure(name: string, s: Setup, extraPids: number[] = []): Promise<LoadResult & { name: string; cpuMsPer1000: number }> {
  try {
    await load({ url: s.url, path: '/cart/items', body: cartAdd, users: USERS, durationMs: 500 }); // warm-up
    const pids = [...s.pids, ...extraPids];
    const cpuBefore = pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
    const result = await load({ url: s.url, path: '/cart/items', body: cartAdd, users: USERS, durationMs: DURATION_MS });
    const cpu = pids.reduce((sum, pid) => sum + cpuMs(pid), 0) - cpuBefore;
    // CPU of the serving side (not the load generator) per 1,000 requests: unlike requests/s on
    // a 2-core machine shared with the load generator, this does not depend on contention.
    return { name, ...result, cpuMsPer1000: round((cpu * 1000) / Math.max(1, result.ok), 1) };
  } finally {
    await s.stop();
  }
}

function hasRedis(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function main(): Promise<void> {
  const cluster = await benchCluster(NODES);
  const shopXml = '<Replication mode="sync"/><Caches><Cache type="product" capacity="2000"/></Caches>';
  const results: (LoadResult & { name: string; cpuMsPer1000: number })[] = [];
  let redis: ChildProcess | undefined;
  try {
    results.push(await measure('bare node:http (baseline)', await setup(cluster, 'bare.xml', '', appNode('bare'), 'app listening')));
    results.push(await measure('shop, standalone (mirroring off)', await setup(cluster, 'standalone.xml', shopXml, shopNode, 'shop listening', true)));
    results.push(await measure('shop, sync mirroring', await setup(cluster, 'sync.xml', shopXml, shopNode, 'shop listening')));
    if (hasRedis()) {
      const redisPort = await freePort();
      redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 300));
      results.push(await measure('express-session + connect-redis', await setup(cluster, 'redis.xml', '', appNode('express-redis', [String(redisPort)]), 'app listening'), [redis.pid!]));
    }
    results.push(await measure('express-session + CastmirrorStore (sync)', await setup(cluster, 'express.xml', '<Replication mode="sync"/>', appNode('express-castmirror'), 'app listening')));

    // Failover under load.
    const s = await setup(cluster, 'failover.xml', shopXml, shopNode, 'shop listening');
    await load({ url: s.url, path: '/cart/items', body: cartAdd, users: USERS, durationMs: 1000 }); // warm-up
    let killedAt = 0;
    const run = await load({
      url: s.url,
      path: '/cart/items',
      body: cartAdd,
      users: USERS,
      durationMs: FAILOVER_MS,
      at: {
        ms: KILL_AT_MS,
        action: () => {
          killedAt = KILL_AT_MS;
          void s.nodes.get('node-b')!.kill();
        },
      },
    });
    await s.stop();
    const killBucket = Math.floor(killedAt / BUCKET_MS);
    const before = run.timeline.slice(5, killBucket).map(([ok]) => ok);
    const level = before.reduce((a, b) => a + b, 0) / Math.max(1, before.length);
    const recoveredBucket = run.timeline.findIndex(([ok], i) => i > killBucket && ok >= 0.8 * level);
    const base = results[0]!;
    print({
      benchmark: 'http',
      baseline: base.name,
      node: process.version,
      users: USERS,
      durationMs: DURATION_MS,
      tasks: results.map(({ timeline: _timeline, ...r }) => ({ ...r, ratioToBaseline: round(r.requestsPerSecond / base.requestsPerSecond, 3) })),
      failover: {
        killed: 'node-b',
        killAtMs: KILL_AT_MS,
        requests: run.requests,
        failed: run.failed,
        statuses: run.statuses,
        okPerSecondBefore: Math.round((level * 1000) / BUCKET_MS),
        recoveredAfterMs: recoveredBucket < 0 ? null : (recoveredBucket - killBucket) * BUCKET_MS,
        timelineOkPer100ms: run.timeline.map(([ok]) => ok),
      },
    });
  } finally {
    redis?.kill('SIGKILL');
    cluster.cleanup();
  }
}

await main();
