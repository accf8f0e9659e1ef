/**
 * A real redis-server for the shared store's tests (provisioned by scripts/test-tools.mjs),
 * on a free port of 127.0.0.1, its append-only file (fsync on every write) in a temporary
 * folder: killed and started again on the same port, it comes back with what it held, as a
 * production Redis with persistence does.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before } from 'node:test';
import { Redis } from 'ioredis';
import { killAll, type TestCluster } from './cluster.js';
import { freeTcpPort } from './ports.js';
import { eventually } from './wait.js';

const runs = (command: string): boolean => !spawnSync(command, ['--version'], { stdio: 'ignore' }).error;

export const REDIS_SKIP = runs('redis-server') && runs('redis-cli') ? false : 'needs redis-server and redis-cli (npm test installs them with apt-get as root)';

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });

/** Where a server runs: this machine's 127.0.0.1, or an address inside a test's network namespace. */
export interface RedisPlace {
  readonly netns?: string;
  readonly host?: string;
  /** Off 127.0.0.1 Redis refuses clients without a password (protected mode), as it should: one is chosen if not given. */
  readonly password?: string;
  /** More arguments (a cluster member's, a replica's); a `{dir}` in one is the server's own folder. */
  readonly args?: readonly string[];
  /** A file written into its folder before it starts, and the arguments taking it (a sentinel's config). */
  readonly configFile?: { readonly name: string; readonly content: (port: number) => string };
}

/** Inside a namespace, where this process cannot connect: redis-cli there. */
const answersPing = (netns: string, host: string, port: number, password: string | undefined): Promise<boolean> =>
  new Promise((resolve) => execFile('ip', ['netns', 'exec', netns, 'redis-cli', '-h', host, '-p', String(port), ...(password ? ['-a', password, '--no-auth-warning'] : []), 'ping'], (error, stdout) => resolve(!error && stdout.trim() === 'PONG')));

export class RedisServer {
  private child: ChildProcess | undefined;
  readonly dir = mkdtempSync(path.join(tmpdir(), 'castmirror-redis-'));

  private readonly password: string | undefined;

  private constructor(
    readonly port: number,
    private readonly place: Required<Pick<RedisPlace, 'host'>> & RedisPlace,
  ) {
    this.password = place.password ?? (place.netns ? randomBytes(12).toString('hex') : undefined);
  }

  /** On a free port of 127.0.0.1 (or `port`), or on port 6379 of `host` inside `netns`. */
  static async start(place: RedisPlace & { readonly port?: number } = {}): Promise<RedisServer> {
    const server = new RedisServer(place.port ?? (place.netns ? 6379 : await freeTcpPort()), { ...place, host: place.host ?? '127.0.0.1' });
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://${this.password ? `:${this.password}@` : ''}${this.place.host}:${this.port}`;
  }

  /** Starts it (again, after `stop`, with what it held). */
  async start(): Promise<void> {
    const { configFile } = this.place;
    if (configFile && !existsSync(path.join(this.dir, configFile.name))) writeFileSync(path.join(this.dir, configFile.name), configFile.content(this.port));
    const args = [
      ...(configFile ? [path.join(this.dir, configFile.name)] : []),
      ...['--port', String(this.port), '--bind', this.place.host, '--dir', this.dir],
      ...(configFile ? [] : ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always']),
      ...(this.password ? ['--requirepass', this.password] : []),
      ...(this.place.args ?? []).map((arg) => arg.replaceAll('{dir}', this.dir)),
    ];
    const { netns } = this.place;
    this.child = netns ? spawn('ip', ['netns', 'exec', netns, 'redis-server', ...args], { stdio: 'ignore' }) : spawn('redis-server', args, { stdio: 'ignore' });
    const up = netns ? () => answersPing(netns, this.place.host, this.port, this.password) : () => accepts(this.port);
    await eventually(up, { what: `redis-server on ${this.place.host}:${this.port}`, timeoutMs: 10_000 });
  }

  /** Whether it runs now (started and not stopped). */
  async running(): Promise<boolean> {
    return this.child !== undefined && this.child.exitCode === null;
  }

  /** Stops it with SIGKILL (what it held is in its append-only file). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Stops it and deletes its files. */
  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A Redis Cluster of `masters` servers on 127.0.0.1 (no replicas), its slots spread over
 * them by `redis-cli --cluster create`; `url` is castmirror's `redis+cluster://` form.
 */
export async function startRedisCluster(masters = 3): Promise<{ readonly servers: RedisServer[]; readonly url: string; remove(): Promise<void> }> {
  const args = ['--cluster-enabled', 'yes', '--cluster-config-file', '{dir}/nodes.conf', '--cluster-node-timeout', '2000'];
  const servers = await Promise.all(Array.from({ length: masters }, () => RedisServer.start({ args })));
  const addresses = servers.map((s) => `127.0.0.1:${s.port}`);
  await new Promise<void>((resolve, reject) => execFile('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], (error) => (error ? reject(error) : resolve())));
  const ready = (port: number) => new Promise<boolean>((resolve) => execFile('redis-cli', ['-p', String(port), 'cluster', 'info'], (error, stdout) => resolve(!error && /cluster_state:ok/.test(stdout))));
  for (const server of servers) await eventually(() => ready(server.port), { what: `redis cluster member ${server.port} to be ok`, timeoutMs: 15_000 });
  return { servers, url: `redis+cluster://${addresses.join(',')}`, remove: async () => void (await Promise.all(servers.map((s) => s.remove()))) };
}

/**
 * A master, its replica and one Sentinel watching them (quorum 1, a master silent for 500 ms
 * is down), on 127.0.0.1; `url` is castmirror's `redis+sentinel://` form for master `mymaster`.
 */
export async function startRedisSentinel(): Promise<{ readonly master: RedisServer; readonly replica: RedisServer; readonly sentinel: RedisServer; readonly url: string; remove(): Promise<void> }> {
  const master = await RedisServer.start();
  const replica = await RedisServer.start({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  const sentinel = await RedisServer.start({
    args: ['--sentinel'],
    configFile: {
      name: 'sentinel.conf',
      content: () => `sentinel monitor mymaster 127.0.0.1 ${master.port} 1\nsentinel down-after-milliseconds mymaster 500\nsentinel failover-timeout mymaster 5000\n`,
    },
  });
  return { master, replica, sentinel, url: `redis+sentinel://127.0.0.1:${sentinel.port}/mymaster`, remove: async () => void (await Promise.all([sentinel, replica, master].map((s) => s.remove()))) };
}

/**
 * For one describe block of cluster tests with a store: a redis-server started before them,
 * a client reading it directly, and after each test every node killed, the test's cluster
 * (`track`ed) removed and the server running again if the test stopped it.
 */
export function redisForClusterTests(): { readonly redis: RedisServer; readonly reader: Redis; track<C extends TestCluster>(cluster: C): C } {
  let redis: RedisServer | undefined;
  let reader: Redis | undefined;
  let cluster: TestCluster | undefined;
  before(async () => {
    redis = await RedisServer.start();
    reader = new Redis(redis.url, { maxRetriesPerRequest: null });
    reader.on('error', () => {}); // the store is killed on purpose in some tests
  });
  afterEach(async () => {
    await killAll();
    cluster?.cleanup();
    cluster = undefined;
    if (redis && !(await redis.running())) await redis.start();
  });
  after(async () => {
    reader?.disconnect();
    await redis?.remove();
  });
  return {
    get redis() {
      return redis!;
    },
    get reader() {
      return reader!;
    },
    track: (c) => (cluster = c),
  };
}
