/**
 * Several processes per machine: `<Node name="web" processes="2">` is web-0 and web-1 on
 * consecutive ports, run and supervised by `castmirror cluster` and `castmirror start`. The
 * proxy balances over every process; a session of web-0 or web-1 is backed up on the other
 * machine's node, never on the sibling; a process killed with -9 is started again and its
 * sessions continue meanwhile; stopping or killing the supervisor ends every process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import { AdminClient } from '../lib/admin/client.js';
import { CLI, ROOT } from './helpers/cluster.js';
import { CookieClient } from './helpers/cookie-client.js';
import { freeTcpPort, freeTcpPortRun, freeUdpPort, randomGroup } from './helpers/ports.js';

interface Layout {
  readonly dir: string;
  readonly config: string;
  readonly secret: string;
  readonly proxyPort: number;
  /** Each process's ports, by name. */
  readonly ports: Map<string, { http: number; admin: number }>;
}

async function writeLayout(): Promise<Layout> {
  const dir = mkdtempSync(path.join(tmpdir(), 'castmirror-processes-'));
  const secret = randomBytes(24).toString('base64url');
  writeFileSync(path.join(dir, 'secret'), secret, { mode: 0o600 });
  const [http, replication, admin] = [await freeTcpPortRun(2), await freeTcpPortRun(2), await freeTcpPortRun(2)];
  const solo = { http: await freeTcpPort(), replication: await freeTcpPort(), admin: await freeTcpPort() };
  const proxyPort = await freeTcpPort();
  const config = path.join(dir, 'server.xml');
  writeFileSync(
    config,
    `<?xml version="1.0"?>
<Server name="processes-${path.basename(dir)}">
  <Cluster>1</Cluster>
  <MulticastAddress>${randomGroup()}</MulticastAddress>
  <MulticastPort>${await freeUdpPort()}</MulticastPort>
  <MulticastInterface>127.0.0.1</MulticastInterface>
  <MulticastTTL>0</MulticastTTL>
  <Secret file="secret"/>
  <Heartbeat intervalMs="100" deadAfterMs="500"/>
  <Proxy host="127.0.0.1" port="${proxyPort}"/>
  <ClusterNodes>
    <Node name="web" processes="2" host="127.0.0.1" machine="m1" httpPort="${http}" replicationPort="${replication}" adminPort="${admin}"/>
    <Node name="solo" host="127.0.0.1" machine="m2" httpPort="${solo.http}" replicationPort="${solo.replication}" adminPort="${solo.admin}"/>
  </ClusterNodes>
  <Caches><Cache type="product" capacity="1000"/></Caches>
</Server>
`,
  );
  const ports = new Map([
    ['web-0', { http, admin }],
    ['web-1', { http: http + 1, admin: admin + 1 }],
    ['solo', { http: solo.http, admin: solo.admin }],
  ]);
  return { dir, config, secret, proxyPort, ports };
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs the CLI with its output collected; killed (by pid) when the test ends. */
function runCli(args: string[]) {
  // Its own process group, as a command run from a terminal is: Ctrl-C signals the group.
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => stdout.push(l));
  createInterface({ input: child.stderr }).on('line', (l) => stderr.push(l));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout, stderr, exited };
}

describe('several processes per machine', { timeout: 120_000 }, () => {
  const cleanups: (() => void)[] = [];
  after(() => cleanups.forEach((c) => c()));

  test('cluster: every process runs, the proxy balances over all, backups avoid siblings, a killed process comes back, Ctrl-C ends all', async () => {
    const layout = await writeLayout();
    const run = runCli(['cluster', '--config', layout.config, '--json']);
    const pids = new Set<number>();
    cleanups.push(() => {
      for (const pid of [run.child.pid!, ...pids]) if (running(pid)) process.kill(pid, 'SIGKILL');
      rmSync(layout.dir, { recursive: true, force: true });
    });
    type Report = { nodes: { node: string; pid: number; http: string; admin: string }[]; proxy: { url: string; pid: number } };
    const report = await until('the cluster report', () => {
      try {
        return JSON.parse(run.stdout.join('\n')) as Report;
      } catch {
        return undefined;
      }
    }, 40_000);
    for (const row of [...report.nodes, report.proxy]) pids.add(row.pid);
    assert.deepEqual(report.nodes.map((n) => n.node), ['web-0', 'web-1', 'solo']);
    for (const row of report.nodes) {
      const ports = layout.ports.get(row.node)!;
      assert.equal(row.http, `http://127.0.0.1:${ports.http}`, `${row.node}: httpPort + its index`);
      assert.equal(row.admin, `http://127.0.0.1:${ports.admin}`);
    }

    // New shoppers through the proxy land on every process.
    const shoppers: { client: CookieClient; node: string; backup: string }[] = [];
    for (let i = 0; i < 24; i++) {
      const client = new CookieClient(report.proxy.url);
      assert.equal((await client.post('/cart/items', { sku: 'sku-0001', qty: i + 1 })).status, 200);
      const whoami = await client.get<{ node: string; backup: string; session: string }>('/whoami');
      shoppers.push({ client, node: whoami.body.node, backup: whoami.body.backup });
    }
    const served = new Set(shoppers.map((s) => s.node));
    assert.deepEqual([...served].sort(), ['solo', 'web-0', 'web-1'], 'the proxy sends new sessions to every process');
    for (const shopper of shoppers.filter((s) => s.node.startsWith('web-'))) {
      assert.equal(shopper.backup, 'solo', `${shopper.node}'s sessions are backed up on the other machine, not on the sibling`);
    }

    // kill -9 of web-0: its shoppers continue (on solo, their backup) with their carts, and
    // the supervisor starts web-0 again.
    const victim = report.nodes.find((n) => n.node === 'web-0')!;
    process.kill(victim.pid, 'SIGKILL');
    for (const shopper of shoppers.filter((s) => s.node === 'web-0')) {
      const cart = await shopper.client.get<{ items: { qty: number }[] }>('/cart');
      assert.equal(cart.status, 200);
      assert.equal(cart.body.items.length, 1, 'the cart survived');
      assert.notEqual(cart.node, 'web-0');
    }
    const restarted = await until('web-0 started again', () => {
      const line = run.stderr.find((l) => l.startsWith('web-0 started again'));
      return line ? Number(/pid (\d+)/.exec(line)![1]) : undefined;
    });
    pids.add(restarted);
    assert.notEqual(restarted, victim.pid);
    assert.match(run.stderr.join('\n'), new RegExp(`web-0 \\(pid ${victim.pid}\\) exited on SIGKILL; .*starting it again`));
    const admin = new AdminClient({ host: '127.0.0.1', port: layout.ports.get('solo')!.admin, secret: Buffer.from(layout.secret), timeoutMs: 2000 });
    await until('solo sees the new web-0 alive', async () => {
      const status = await admin.json<{ members: { name: string; state: string }[] }>('GET', '/status');
      return status.members.some((m) => m.name === 'web-0' && m.state === 'alive') ? true : undefined;
    });

    // Ctrl-C in a terminal signals the whole foreground process group.
    process.kill(-run.child.pid!, 'SIGINT');
    assert.deepEqual(await run.exited, { code: 0, signal: null });
    for (const pid of pids) assert.equal(running(pid), false, `pid ${pid} is gone`);
    assert.doesNotMatch(run.stderr.join('\n'), /second signal/);
    for (const node of ['web-1', 'solo']) {
      const lines = readFileSync(path.join(layout.dir, '.castmirror', 'logs', `${node}.log`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; signal?: string });
      assert.deepEqual(lines.filter((l) => l.msg === 'stopping').map((l) => l.signal), ['SIGTERM'], `${node}: one graceful stop, asked by the supervisor`);
      assert.equal(lines.filter((l) => /second signal/.test(l.msg)).length, 0, `${node}: no "second signal"`);
    }
  });

  test('start --node GROUP runs each process; they close themselves when the supervisor is killed', async () => {
    const layout = await writeLayout();
    const run = runCli(['start', '--config', layout.config, '--node', 'web']);
    cleanups.push(() => rmSync(layout.dir, { recursive: true, force: true }));
    // Each process's JSON lines come to the supervisor's stdout.
    const started = await until('both processes started', () => {
      const lines = run.stdout.flatMap((l) => {
        try {
          return [JSON.parse(l) as { msg: string; node: string; pid: number }];
        } catch {
          return [];
        }
      });
      const up = lines.filter((l) => l.msg === 'node started');
      return up.length === 2 ? up : undefined;
    }, 30_000);
    assert.deepEqual(started.map((l) => l.node).sort(), ['web-0', 'web-1']);
    const children = started.map((l) => l.pid);
    cleanups.push(() => children.forEach((pid) => running(pid) && process.kill(pid, 'SIGKILL')));
    const sibling = new AdminClient({ host: '127.0.0.1', port: layout.ports.get('web-1')!.admin, secret: Buffer.from(layout.secret), timeoutMs: 2000 });
    await until('web-1 sees web-0', async () => {
      const status = await sibling.json<{ members: { name: string; state: string }[] }>('GET', '/status');
      return status.members.some((m) => m.name === 'web-0' && m.state === 'alive') ? true : undefined;
    });

    run.child.kill('SIGKILL');
    await run.exited;
    await until('both processes closed themselves', () => (children.every((pid) => !running(pid)) ? true : undefined), 10_000);
  });
});
