/**
 * Three hosts: one node per network namespace, each with its own address and `machine`,
 * on a bridge (test/helpers/netns.ts). Membership converges over real multicast between
 * network stacks; kill -9 of a primary leaves every session on its backup on another host,
 * promoted there with a new backup, and readable. Needs root to create the namespaces
 * (CI runs as root); without it the test says so and is skipped, never silently.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { NodeStatus } from '../lib/index.js';
import type { RouteHint } from '../lib/replication/route-hint.js';
import { killAll, NodeProcess } from './helpers/cluster.js';
import { canCreateNamespaces, Hosts } from './helpers/netns.js';
import { eventually } from './helpers/wait.js';

const NAMES = ['node-a', 'node-b', 'node-c'];
const SESSIONS = 30;
const rooted = canCreateNamespaces();

describe('three hosts in network namespaces', { timeout: 90_000 }, () => {
  let hosts: Hosts | undefined;
  let dir: string | undefined;
  after(async () => {
    await killAll();
    hosts?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('membership converges across hosts; kill -9 of a primary: its sessions continue on their backups, on other hosts', { skip: rooted ? false : 'needs root to create network namespaces (CI runs as root)' }, async (t) => {
    hosts = Hosts.create(NAMES.length);
    const h = hosts;
    dir = mkdtempSync(path.join(tmpdir(), 'castmirror-hosts-'));
    const secret = randomBytes(24).toString('base64url');
    writeFileSync(path.join(dir, 'secret'), secret, { mode: 0o600 });
    const group = `239.213.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    const node = (i: number) => `    <Node name="${NAMES[i]}" host="${h.address(i)}" machine="host-${i}" httpPort="8081" replicationPort="7081" adminPort="9081"/>`;
    const setting = (i: number) => `  <NodeSetting node="${NAMES[i]}"><MulticastInterface>${h.address(i)}</MulticastInterface><Admin host="${h.address(i)}"/></NodeSetting>`;
    const configPath = path.join(dir, 'server.xml');
    writeFileSync(
      configPath,
      `<Server name="hosts">
  <Cluster>1</Cluster>
  <MulticastAddress>${group}</MulticastAddress>
  <MulticastPort>45564</MulticastPort>
  <MulticastTTL>1</MulticastTTL>
  <Secret file="secret"/>
  <Heartbeat intervalMs="100" deadAfterMs="500"/>
  <Replication mode="sync"/>
  <ClusterNodes>
${NAMES.map((_, i) => node(i)).join('\n')}
  </ClusterNodes>
${NAMES.map((_, i) => setting(i)).join('\n')}
</Server>
`,
    );
    const auth = { authorization: `Bearer ${secret}` };
    const status = (i: number) => h.json<NodeStatus>(`http://${h.address(i)}:9081/status`, { headers: auth });
    const app = (i: number, route: string, body: Record<string, unknown>) => h.json<{ hint: RouteHint; outcome: string; list: number[] }>(`http://${h.address(i)}:8081${route}`, { method: 'POST', body });

    const started = performance.now();
    const nodes = NAMES.map((name, i) => new NodeProcess(name, configPath, {}, 'session-app', [], h.ns(i)));
    await Promise.all(nodes.map((n) => n.started()));
    for (const i of NAMES.keys()) await eventually(async () => (await status(i)).members.filter((m) => m.state === 'alive').length === 3, { timeoutMs: 15_000, what: `${NAMES[i]} to see 3 members` });
    t.diagnostic(`membership converged across 3 namespaces ${Math.round(performance.now() - started)} ms after the first start`);
    const own = await status(1);
    assert.deepEqual(own.members.map((m) => [m.name, m.host, m.machine]), NAMES.map((name, i) => [name, h.address(i), `host-${i}`]));

    const hints: RouteHint[] = [];
    for (let value = 0; value < SESSIONS; value++) hints.push((await app(0, '/append', { value })).hint);
    assert.ok(hints.every((hint) => hint.backup && hint.backup !== 'node-a'), 'every session backed up on another host');

    const killedAt = performance.now();
    nodes[0]!.kill('SIGKILL');
    await nodes[0]!.exited;
    await eventually(async () => (await status(1)).members.find((m) => m.name === 'node-a')?.state === 'dead', { what: 'node-a declared dead on node-b' });
    const deadAt = performance.now();
    await eventually(async () => {
      const [b, c] = await Promise.all([status(1), status(2)]);
      return b.sessions.primaries + c.sessions.primaries === SESSIONS && b.sessions.backups + c.sessions.backups === SESSIONS;
    }, { timeoutMs: 15_000, intervalMs: 20, what: 'two copies of every session on the surviving hosts' });
    t.diagnostic(`node-a declared dead ${Math.round(deadAt - killedAt)} ms after kill -9; two copies again ${Math.round(performance.now() - deadAt)} ms later`);
    for (const [value, hint] of hints.entries()) {
      const reply = await app(NAMES.indexOf(hint.backup!), '/read', { hint });
      assert.deepEqual(reply.list, [value], `session ${value} on ${hint.backup} (${reply.outcome})`);
    }
  });
});
