/**
 * Test clusters: a server.xml on fresh ports and a fresh group (interface 127.0.0.1, TTL 0),
 * and nodes run as real `castmirror start` child processes that are always killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { AdminClient } from '../../lib/admin/client.js';
import { freeTcpPort, freeUdpPort, randomGroup } from './ports.js';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const CLI = path.join(ROOT, 'bin', 'castmirror.ts');
export const SESSION_APP = path.join(ROOT, 'test', 'fixtures', 'session-app.ts');

export interface TestCluster {
  readonly dir: string;
  readonly configPath: string;
  readonly secret: string;
  readonly nodes: readonly { name: string; adminPort: number; httpPort: number; replicationPort: number }[];
  readonly group: string;
  readonly port: number;
  /** With `proxy: true`: the port of <Proxy> (127.0.0.1). */
  readonly proxyPort: number | undefined;
  admin(node: string): AdminClient;
  cleanup(): void;
}

export interface ClusterOptions {
  readonly nodes?: number;
  readonly intervalMs?: number;
  readonly deadAfterMs?: number;
  readonly extraXml?: string;
  readonly caches?: string;
  /** Adds <Proxy host="127.0.0.1" port="..."> on a free port. */
  readonly proxy?: boolean;
}

export async function makeCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'castmirror-test-'));
  const secret = randomBytes(24).toString('base64url');
  writeFileSync(path.join(dir, 'secret'), secret, { mode: 0o600 });
  const count = options.nodes ?? 3;
  const nodes: { name: string; httpPort: number; replicationPort: number; adminPort: number }[] = [];
  for (let i = 0; i < count; i++) {
    nodes.push({ name: `node-${String.fromCharCode(97 + i)}`, httpPort: await freeTcpPort(), replicationPort: await freeTcpPort(), adminPort: await freeTcpPort() });
  }
  const proxyPort = options.proxy ? await freeTcpPort() : undefined;
  const group = randomGroup();
  const port = await freeUdpPort();
  const xml = `<?xml version="1.0"?>
<Server name="test-${path.basename(dir)}">
  <Cluster>1</Cluster>
  <MulticastAddress>${group}</MulticastAddress>
  <MulticastPort>${port}</MulticastPort>
  <MulticastInterface>127.0.0.1</MulticastInterface>
  <MulticastTTL>0</MulticastTTL>
  <Secret file="secret"/>
  <Heartbeat intervalMs="${options.intervalMs ?? 100}" deadAfterMs="${options.deadAfterMs ?? 500}"/>
  <ClusterNodes>
${nodes.map((n, i) => `    <Node name="${n.name}" host="127.0.0.1" machine="m${i + 1}" httpPort="${n.httpPort}" replicationPort="${n.replicationPort}" adminPort="${n.adminPort}"/>`).join('\n')}
  </ClusterNodes>
  <Caches>${options.caches ?? '<Cache type="product" capacity="1000"/><Cache type="price" capacity="1000"/>'}</Caches>
${proxyPort ? `  <Proxy host="127.0.0.1" port="${proxyPort}"/>` : ''}
${options.extraXml ?? ''}
</Server>
`;
  const configPath = path.join(dir, 'server.xml');
  writeFileSync(configPath, xml);
  return {
    dir,
    configPath,
    secret,
    nodes,
    group,
    port,
    proxyPort,
    admin(node) {
      const entry = nodes.find((n) => n.name === node);
      if (!entry) throw new Error(`no node ${node}`);
      return new AdminClient({ host: '127.0.0.1', port: entry.adminPort, secret: Buffer.from(secret), timeoutMs: 2000 });
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface LogLine {
  readonly msg?: string;
  readonly level?: number;
  readonly [key: string]: unknown;
}

const FIXTURES = path.join(ROOT, 'test', 'fixtures');

/** The child programs tests run, and the log line each prints when it is ready. */
const PROGRAMS = {
  cli: { args: (config: string, node: string) => [CLI, 'start', '--config', config, '--node', node], ready: 'node started' },
  demo: { args: (config: string, node: string) => [CLI, 'demo', '--config', config, '--node', node], ready: 'shop listening' },
  proxy: { args: (config: string) => [CLI, 'proxy', '--config', config], ready: 'proxy listening' },
  'session-app': { args: (config: string, node: string) => [SESSION_APP, config, node], ready: 'app listening' },
  'express-app': { args: (config: string, node: string) => [path.join(FIXTURES, 'express-app.ts'), config, node], ready: 'app listening' },
  'fastify-app': { args: (config: string, node: string) => [path.join(FIXTURES, 'fastify-app.ts'), config, node], ready: 'app listening' },
  'example-express': { args: (config: string, node: string) => [path.join(ROOT, 'examples', 'express-session', 'express.ts'), config, node], ready: 'listening' },
  'example-fastify': { args: (config: string, node: string) => [path.join(ROOT, 'examples', 'express-session', 'fastify.ts'), config, node], ready: 'listening' },
  'cache-load': { args: (config: string, node: string) => [path.join(FIXTURES, 'cache-load.ts'), config, node], ready: 'app listening' },
  'ws-app': { args: (config: string, node: string) => [path.join(FIXTURES, 'ws-app.ts'), config, node], ready: 'app listening' },
} as const;

export type Program = keyof typeof PROGRAMS;

/** A castmirror child process (a node, the proxy or a fixture app) with its JSON log lines. */
export class NodeProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: { predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];

  constructor(
    readonly name: string,
    configPath: string,
    env: NodeJS.ProcessEnv = {},
    /** What to run: the CLI's `start` or `demo` verb, the proxy (`name` is then only a label), or a fixture app. */
    readonly program: Program = 'cli',
    extraArgs: readonly string[] = [],
    /** A network namespace to run in (multi-host tests, test/helpers/netns.ts). */
    netns?: string,
  ) {
    const args = [...PROGRAMS[program].args(configPath, name), ...extraArgs];
    const command = [process.execPath, '--import', 'tsx', ...args];
    // `ip netns exec` execs the command: the child's pid is the node's own.
    const [file, ...argv] = netns ? ['ip', 'netns', 'exec', netns, ...command] : command;
    this.child = spawn(file!, argv, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(this);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => live.delete(this));
    createInterface({ input: this.child.stdout! }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text };
      }
      this.logs.push(line);
      this.waiters = this.waiters.filter((w) => {
        if (!w.predicate(line)) return true;
        w.resolve(line);
        return false;
      });
    });
    createInterface({ input: this.child.stderr! }).on('line', (text) => this.stderr.push(text));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves with the first log line (past or future) that matches. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    const seen = this.logs.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no matching log line within ${timeoutMs} ms; stderr: ${this.stderr.join('\n')}`)), timeoutMs);
      this.waiters.push({ predicate, resolve: (line) => (clearTimeout(timer), resolve(line)) });
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code ?? signal}) before the expected log line; stderr: ${this.stderr.join('\n')}`));
      });
    });
  }

  started(timeoutMs?: number): Promise<LogLine> {
    return this.waitForLog((l) => l.msg === PROGRAMS[this.program].ready, timeoutMs);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

const live = new Set<NodeProcess>();

/** Kills (by pid) every node process a test started and is still running. */
export async function killAll(): Promise<void> {
  const running = [...live];
  for (const node of running) node.kill('SIGKILL');
  await Promise.all(running.map((n) => n.exited));
}

/** Starts the named nodes and waits until each logged that it started. */
export async function startNodes(
  cluster: TestCluster,
  names: readonly string[],
  env: Record<string, NodeJS.ProcessEnv> = {},
  program: Program = 'cli',
): Promise<Map<string, NodeProcess>> {
  const started = new Map(names.map((name) => [name, new NodeProcess(name, cluster.configPath, env[name], program)]));
  await Promise.all([...started.values()].map((n) => n.started()));
  return started;
}
