/** A two-node server.xml on loopback for benchmarks (interface 127.0.0.1, TTL 0), and a local redis-server for the baselines. */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The first of `count` consecutive free ports (for the processes of `<Node processes>`). */
export async function freePortRun(count: number): Promise<number> {
  for (;;) {
    const first = await freePort();
    const rest = await Promise.all(Array.from({ length: count - 1 }, (_, i) => portIsFree(first + 1 + i)));
    if (rest.every(Boolean)) return first;
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * The cluster settings a run measures, from the environment: BENCH_DISCOVERY=multicast|static
 * and BENCH_ENCRYPTION=off|on (TLS links keyed from the secret, encrypted datagrams). Every
 * benchmark on benchCluster takes them; each prints them beside its figures.
 */
export const benchNetwork = {
  discovery: (process.env.BENCH_DISCOVERY ?? 'multicast') as 'multicast' | 'static',
  encryption: (process.env.BENCH_ENCRYPTION ?? 'off') as 'off' | 'on',
};
if (!['multicast', 'static'].includes(benchNetwork.discovery) || !['off', 'on'].includes(benchNetwork.encryption)) {
  throw new Error('BENCH_DISCOVERY must be multicast or static, BENCH_ENCRYPTION off or on');
}
const NETWORK_XML =
  (benchNetwork.discovery === 'static' ? '<Discovery type="static"/>' : '') + (benchNetwork.encryption === 'on' ? '<Encryption links="secret" datagrams="encrypted"/>' : '');

export interface BenchCluster {
  readonly dir: string;
  readonly secret: string;
  readonly group: string;
  readonly port: number;
  write(name: string, xmlInside: string): string;
  /** The httpPort server.xml gives node `name`. */
  httpPortOf(name: string): number;
  cleanup(): void;
}

/**
 * Nodes `names` on fresh ports; `write()` adds settings (a <Replication>, say) and returns
 * the path. `heartbeat` is the <Heartbeat> element (a blast may want a longer deadAfterMs).
 */
export async function benchCluster(names: readonly string[], heartbeat = '<Heartbeat intervalMs="100" deadAfterMs="500"/>'): Promise<BenchCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'castmirror-bench-'));
  const secret = randomBytes(24).toString('base64url');
  writeFileSync(path.join(dir, 'secret'), secret, { mode: 0o600 });
  const group = `239.79.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  const port = await freePort();
  const nodes: string[] = [];
  const httpPorts = new Map<string, number>();
  for (const name of names) {
    httpPorts.set(name, await freePort());
    nodes.push(`<Node name="${name}" host="127.0.0.1" machine="${name}" httpPort="${httpPorts.get(name)}" replicationPort="${await freePort()}" adminPort="${await freePort()}"/>`);
  }
  return {
    dir,
    secret,
    group,
    port,
    write(file, xmlInside) {
      const configPath = path.join(dir, file);
      writeFileSync(
        configPath,
        `<Server name="bench"><Cluster>1</Cluster><MulticastAddress>${group}</MulticastAddress><MulticastPort>${port}</MulticastPort>
<MulticastInterface>127.0.0.1</MulticastInterface><MulticastTTL>0</MulticastTTL><Secret file="secret"/>
${heartbeat}${NETWORK_XML}${xmlInside}<ClusterNodes>${nodes.join('')}</ClusterNodes></Server>`,
      );
      return configPath;
    },
    httpPortOf: (name) => httpPorts.get(name)!,
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once something accepts connections on the port (redis-server takes a moment). */
async function listening(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => (socket.destroy(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A local redis-server on a free port of 127.0.0.1 (no persistence), for the Redis baselines;
 * undefined when redis-server is not installed (the bench then says the row is skipped).
 */
export async function startRedisServer(): Promise<{ readonly port: number; stop(): void } | undefined> {
  if (spawnSync('redis-server', ['--version']).status !== 0) return undefined;
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await listening(port);
  return { port, stop: () => void server.kill() };
}

