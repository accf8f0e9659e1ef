/**
 * A real redis-server for the shared store's tests (provisioned by scripts/test-tools.mjs),
 * on a free port of 127.0.0.1, its append-only file (fsync on every write) in a temporary
 * folder: killed and started again on the same port, it comes back with what it held, as a
 * production Redis with persistence does.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freeTcpPort } from './ports.js';
import { eventually } from './wait.js';

export const hasRedisServer = (): boolean => !spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).error;

export const REDIS_SKIP = hasRedisServer() ? false : 'needs redis-server (npm test installs it with apt-get as root)';

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });

export class RedisServer {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'castmirror-redis-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freeTcpPort());
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts it (again, after `stop`, with what it held). */
  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir], { stdio: 'ignore' });
    await eventually(() => accepts(this.port), { what: `redis-server on ${this.port}`, timeoutMs: 10_000 });
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
