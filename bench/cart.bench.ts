/**
 * The request path on the workload of Tomcat's cluster benchmark: `GET /cart/cart?op=add&item=X`
 * updates the session (a counter and the last 20 items), 1,000 pre-created sessions in rotation,
 * `wrk -t2 -c32 -d10s` straight to node 1 (no proxy), in one run:
 *   bare node:http, the session in a Map keyed by a cookie   (baseline)
 *   castmirror standalone                                   (<Cluster>0</Cluster>)
 *   castmirror sync, 2 nodes / castmirror async, 2 nodes
 * For each: requests/s, p50 and p99 as wrk reports them, and the CPU of every node process per
 * 1,000 requests (from /proc). Needs wrk (Debian: apt-get install wrk); without it, says so.
 *
 *   npm run bench -- cart       (BENCH_CART_SECONDS, default 10)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { benchCluster, type BenchCluster } from './cluster-fixture.js';
import { cpuMs, print, round, sibling } from './common.js';

const SECONDS = Number(process.env.BENCH_CART_SECONDS ?? 10);
const SESSIONS = 1_000;

function appProcess(kind: string, configPath: string, node: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...sibling.execArgv, sibling('cart-app'), kind, configPath, node], { stdio: ['ignore', 'pipe', 'inherit'] });
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

function wrk(port: number, cookies: readonly string[], scratch: string): WrkFigures {
  const script = path.join(scratch, 'cart.lua');
  writeFileSync(
    script,
    `local cookies = { ${cookies.map((c) => JSON.stringify(c)).join(', ')} }
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/cart/cart?op=add&item=" .. (n % 50), { ["Cookie"] = cookies[(n % #cookies) + 1] })
end
`,
  );
  const run = spawnSync('wrk', ['-t2', '-c32', `-d${SECONDS}s`, '--latency', '-s', script, `http://127.0.0.1:${port}`], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`wrk failed: ${run.stderr}`);
  const out = run.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return { requestsPerSecond: Math.round(rps), p50Ms: toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? ''), p99Ms: toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''), requests, non2xx };
}

async function variant(name: string, kind: 'bare' | 'castmirror', cluster: BenchCluster, xml: string, nodes: readonly string[], scratch: string) {
  const configPath = cluster.write(`${name.replace(/\W+/g, '-')}.xml`, xml);
  if (xml.includes('<Cluster>0</Cluster>') || nodes.length === 1) writeFileSync(configPath, readFileSync(configPath, 'utf8').replace('<Cluster>1</Cluster>', '<Cluster>0</Cluster>'));
  const children = await Promise.all(nodes.map((node) => appProcess(kind, configPath, node)));
  try {
    const port = cluster.httpPortOf(nodes[0]!);
    // The nodes of a cluster must see each other before sessions are made, or they start without a backup.
    if (nodes.length > 1) await new Promise((r) => setTimeout(r, 1500));
    const cookies: string[] = [];
    for (let i = 0; i < SESSIONS; i++) cookies.push(await newSession(port));
    const cpuBefore = children.reduce((sum, c) => sum + cpuMs(c.pid!), 0);
    const figures = wrk(port, cookies, scratch);
    const cpu = children.reduce((sum, c) => sum + cpuMs(c.pid!), 0) - cpuBefore;
    return { name, ...figures, cpuMsPer1000: round((cpu / Math.max(1, figures.requests)) * 1000, 1) };
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(undefined) : c.once('exit', r)))));
  }
}

if (spawnSync('wrk', ['--version']).error) {
  print({ benchmark: 'cart', skipped: 'wrk is not installed (Debian: apt-get install wrk)' });
} else {
  const cluster = await benchCluster(['node-1', 'node-2']);
  const scratch = mkdtempSync(path.join(tmpdir(), 'castmirror-cart-'));
  try {
    const results = [
      await variant('bare node:http, counter in a Map keyed by a cookie (baseline)', 'bare', cluster, '', ['node-1'], scratch),
      await variant('castmirror standalone', 'castmirror', cluster, '', ['node-1'], scratch),
      await variant('castmirror sync, 2 nodes', 'castmirror', cluster, '<Replication mode="sync"/>', ['node-1', 'node-2'], scratch),
      await variant('castmirror async, 2 nodes', 'castmirror', cluster, '<Replication mode="async"/>', ['node-1', 'node-2'], scratch),
    ];
    const bare = results[0]!;
    print({
      benchmark: 'cart',
      baseline: bare.name,
      wrk: `-t2 -c32 -d${SECONDS}s, ${SESSIONS} sessions in rotation, straight to node-1`,
      tasks: results.map((r) => ({ ...r, ratioToBaseline: round(r.requestsPerSecond / bare.requestsPerSecond, 3), p99VsBaseline: round(r.p99Ms / bare.p99Ms, 2) })),
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    cluster.cleanup();
  }
}
