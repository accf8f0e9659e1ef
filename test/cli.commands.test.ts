import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import { runCli } from './helpers/cli.js';
import { CLI, makeCluster, ROOT, type TestCluster } from './helpers/cluster.js';

const VERBS = ['start', 'demo', 'proxy', 'cluster', 'validate', 'reload', 'status', 'top', 'app', 'drain', 'cache', 'sessions'];
const EXAMPLE = path.join(ROOT, 'server.xml.example');
const SECRET_ENV = { CASTMIRROR_SECRET: 'cli-test-secret-0123456789' };

describe('castmirror CLI', () => {
  const clusters: TestCluster[] = [];
  after(() => clusters.forEach((c) => c.cleanup()));

  test('--help on every verb, exit 0; no verb or an unknown one, exit 2', async () => {
    const top = await runCli(['--help']);
    assert.equal(top.code, 0);
    for (const verb of VERBS) assert.match(top.stdout, new RegExp(`^  ${verb} `, 'm'));
    for (const verb of VERBS) {
      const help = await runCli([verb, '--help']);
      assert.equal(help.code, 0, verb);
      assert.match(help.stdout, new RegExp(`^usage: castmirror ${verb}`), verb);
    }
    assert.equal((await runCli([])).code, 2);
    const unknown = await runCli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown verb "frobnicate"/);
  });

  test('validate: the example is valid; --node prints that node\'s resolved view', async () => {
    const ok = await runCli(['validate', '--config', EXAMPLE], { env: SECRET_ENV });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /valid \(cluster "shop", clustered, secret from env\)/);
    const nodeB = await runCli(['validate', '--config', EXAMPLE, '--node', 'node-b', '--json'], { env: SECRET_ENV });
    const parsed = JSON.parse(nodeB.stdout) as { valid: boolean; config: { caches: { capacity: number }[] } };
    assert.equal(parsed.valid, true);
    assert.equal(parsed.config.caches[0]!.capacity, 20000);
    assert.doesNotMatch(nodeB.stdout, new RegExp(SECRET_ENV.CASTMIRROR_SECRET), 'the secret is never printed');
  });

  test('validate: errors as F:line:col lines, exit 2 (text and --json)', async () => {
    const cluster = await makeCluster({ nodes: 1 });
    clusters.push(cluster);
    const bad = path.join(cluster.dir, 'bad.xml');
    writeFileSync(bad, readFileSync(cluster.configPath, 'utf8').replace('<Cluster>1</Cluster>', '<Cluster>1</Cluster>\n  <Heartbeet/>').replace(/<MulticastTTL>0/, '<MulticastTTL>999'));
    const text = await runCli(['validate', '--config', bad]);
    assert.equal(text.code, 2);
    const lines = text.stderr.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:3: unknown element <Heartbeet>`));
    assert.match(lines[1]!, /:8:3: <MulticastTTL> must be between 0 and 255, not 999$/);
    const json = await runCli(['validate', '--config', bad, '--json']);
    assert.equal(json.code, 2);
    const parsed = JSON.parse(json.stdout) as { valid: boolean; errors: { line: number; column: number }[] };
    assert.equal(parsed.valid, false);
    assert.deepEqual(parsed.errors.map((e) => [e.line, e.column]), [[4, 3], [8, 3]]);
    const missing = await runCli(['validate', '--config', path.join(cluster.dir, 'nope.xml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read config file/);
  });

  test('usage errors exit 2; an unreachable node exits 1', async () => {
    const cluster = await makeCluster({ nodes: 1 });
    clusters.push(cluster);
    assert.equal((await runCli(['start', '--config', cluster.configPath])).code, 2, 'start needs --node');
    assert.equal((await runCli(['demo', '--config', cluster.configPath])).code, 2, 'demo needs --node');
    assert.equal((await runCli(['demo', '--config', cluster.configPath, '--node', 'node-a', '--db-latency-ms', '-1'])).code, 2);
    assert.equal((await runCli(['proxy', '--config', cluster.configPath, '--mode', 'round-robin'])).code, 2);
    const noProxy = await runCli(['proxy', '--config', cluster.configPath]);
    assert.equal(noProxy.code, 2, 'no <Proxy> and no --port');
    assert.match(noProxy.stderr, /<Proxy/);
    assert.equal((await runCli(['cluster', '--config', cluster.configPath, '--app', 'blog'])).code, 2);
    assert.equal((await runCli(['status'])).code, 2, 'status needs --config');
    assert.equal((await runCli(['cache', 'put', 'product', 'k', '{bad json', '--config', cluster.configPath])).code, 2);
    assert.equal((await runCli(['cache', 'capacity', 'product', '-3', '--config', cluster.configPath])).code, 2);
    assert.equal((await runCli(['cache', 'ttl', 'product', 'soon', '--config', cluster.configPath])).code, 2);
    assert.equal((await runCli(['cache', 'reload', '--config', cluster.configPath])).code, 2, 'reload needs a type');
    assert.equal((await runCli(['cache', 'explode', '--config', cluster.configPath])).code, 2);
    assert.equal((await runCli(['status', '--config', cluster.configPath, '--node', 'node-z'])).code, 2);
    const down = await runCli(['status', '--config', cluster.configPath, '--node', 'node-a']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach the admin API/);
    const typo = await runCli(['status', '--confg', cluster.configPath]);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /^castmirror: unknown option --confg \(did you mean --config\?\)$/m);
  });

  test('unreachable: every node tried is named; top --once with no node answering exits 1', async () => {
    const cluster = await makeCluster({ nodes: 2 });
    clusters.push(cluster);
    const down = await runCli(['status', '--config', cluster.configPath]);
    assert.equal(down.code, 1);
    const [a, b] = cluster.nodes;
    assert.match(down.stderr, new RegExp(`cannot reach the admin API at any node: node-a \\(http://127.0.0.1:${a!.adminPort}: ECONNREFUSED\\), node-b \\(http://127.0.0.1:${b!.adminPort}: ECONNREFUSED\\)`));
    const top = await runCli(['top', '--once', '--interval-ms', '100', '--config', cluster.configPath]);
    assert.equal(top.code, 1, 'nothing answered');
    assert.match(top.stdout, /node-a\s+unreachable/);
  });

  test('validate --skip-secret checks a clustered config whose secret is not there', async () => {
    const cluster = await makeCluster({ nodes: 1 });
    clusters.push(cluster);
    writeFileSync(cluster.configPath, readFileSync(cluster.configPath, 'utf8').replace('<Secret file="secret"/>', '<Secret env="CM_TEST_UNSET_SECRET"/>'));
    const strict = await runCli(['validate', '--config', cluster.configPath]);
    assert.equal(strict.code, 2);
    assert.match(strict.stderr, /no cluster secret: environment variable CM_TEST_UNSET_SECRET is unset\n\(castmirror validate --skip-secret checks the rest without the secret\)/);
    const skipped = await runCli(['validate', '--config', cluster.configPath, '--skip-secret']);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.match(skipped.stdout, /: valid \(cluster "[^"]+", clustered, not looked up\)/);
    writeFileSync(cluster.configPath, readFileSync(cluster.configPath, 'utf8').replace('<Cluster>1</Cluster>', '<Cluster>1</Cluster><Heartbeet/>'));
    const broken = await runCli(['validate', '--config', cluster.configPath, '--skip-secret']);
    assert.equal(broken.code, 2, 'everything else is still checked');
    assert.match(broken.stderr, /unknown element <Heartbeet>/);
  });

  test('cluster: when a node cannot start, the cause from its log is printed, not only "see the logs"', { timeout: 60_000 }, async () => {
    const cluster = await makeCluster({ nodes: 2 });
    clusters.push(cluster);
    // Something else holds node-b's admin port, as an old node left running would.
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(cluster.nodes[1]!.adminPort, '127.0.0.1', resolve));
    try {
      const run = await runCli(['cluster', '--config', cluster.configPath, '--app', 'none'], { timeoutMs: 45_000 });
      assert.equal(run.code, 1);
      assert.match(run.stderr, new RegExp(`^  node-b: admin API cannot listen on 127\\.0\\.0\\.1:${cluster.nodes[1]!.adminPort}: listen EADDRINUSE`, 'm'));
    } finally {
      blocker.close();
    }
  });

  test('a reader that closes the pipe early (| head) ends the output quietly', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'validate', '--config', EXAMPLE, '--json'], { cwd: ROOT, env: { ...process.env, ...SECRET_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(stderr, '', 'no EPIPE stack trace');
    assert.equal(code, 0);
  });

  test('cluster: creates a missing secret file (mode 600), starts the shop nodes and the proxy, stops them all on SIGINT', { timeout: 60_000 }, async () => {
    const cluster = await makeCluster({ nodes: 2, proxy: true });
    clusters.push(cluster);
    const config = readFileSync(cluster.configPath, 'utf8').replace('<Secret file="secret"/>', '<Secret env="CM_TEST_UNSET_SECRET" file="generated/secret"/>');
    writeFileSync(cluster.configPath, config);
    const parent = spawn(process.execPath, ['--import', 'tsx', CLI, 'cluster', '--config', cluster.configPath, '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => parent.once('exit', (code) => resolve(code)));
    const nodePids: number[] = [];
    try {
      let stdout = '';
      parent.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const stderr: string[] = [];
      createInterface({ input: parent.stderr }).on('line', (l) => stderr.push(l));
      const deadline = Date.now() + 30_000;
      let report: { nodes: { node: string; pid: number; http: string }[]; proxy: { url: string; pid: number } } | undefined;
      while (!report && Date.now() < deadline) {
        try {
          report = JSON.parse(stdout) as typeof report;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      assert.ok(report, `cluster printed its report (stderr: ${stderr.join('\n')})`);
      const pids = [...report.nodes.map((n) => n.pid), report.proxy.pid];
      nodePids.push(...pids);
      assert.deepEqual(report.nodes.map((n) => n.node), ['node-a', 'node-b']);
      assert.equal(report.proxy.url, `http://127.0.0.1:${cluster.proxyPort}`);
      assert.equal(statSync(path.join(cluster.dir, 'generated', 'secret')).mode & 0o777, 0o600);
      for (const pid of pids) assert.doesNotThrow(() => process.kill(pid, 0), `pid ${pid} runs`);
      // The shop answers through the proxy, on one of the nodes.
      const whoami = (await (await fetch(`${report.proxy.url}/whoami`)).json()) as { node: string };
      assert.ok(['node-a', 'node-b'].includes(whoami.node));
      parent.kill('SIGINT');
      assert.equal(await exited, 0);
      for (const pid of pids) assert.throws(() => process.kill(pid, 0), `pid ${pid} is gone`);
    } finally {
      if (parent.exitCode === null) parent.kill('SIGKILL');
      for (const pid of nodePids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone, as it should be
        }
      }
    }
  });
});

test('npm run build makes the bin executable, as `npx castmirror` needs after npm ci', async () => {
  const { execFileSync } = await import('node:child_process');
  const { statSync } = await import('node:fs');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'ignore', timeout: 120_000 });
  const mode = statSync(path.join(ROOT, 'dist', 'bin', 'castmirror.js')).mode;
  assert.ok((mode & 0o111) !== 0, `dist/bin/castmirror.js mode ${(mode & 0o777).toString(8)}`);
  const out = execFileSync(path.join(ROOT, 'dist', 'bin', 'castmirror.js'), ['--version'], { encoding: 'utf8' });
  assert.match(out, /^\d+\.\d+\.\d+/);
});
