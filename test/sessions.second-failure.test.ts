/**
 * Two copies, always, with real processes: kill -9 the primary of untouched sessions, wait
 * for the window in which each is promoted on its backup and copied to a new one (no request
 * comes), then kill -9 the node that held their backups. Nothing is lost.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { NodeStatus } from '../lib/index.js';
import type { RouteHint } from '../lib/replication/route-hint.js';
import { killAll, makeCluster, startNodes, type TestCluster } from './helpers/cluster.js';
import { portOf, post, route } from './helpers/session-client.js';
import { eventually } from './helpers/wait.js';

const SESSIONS = 200;
const NAMES = ['node-a', 'node-b', 'node-c', 'node-d'];

describe('a second failure after the re-replication window loses nothing', { timeout: 90_000 }, () => {
  let cluster: TestCluster;
  after(async () => {
    await killAll();
    cluster?.cleanup();
  });

  test(`kill -9 the primary of ${SESSIONS} untouched sessions, then the node holding their backups`, async (t) => {
    cluster = await makeCluster({ nodes: 4, extraXml: '<Replication mode="sync"/>' });
    const nodes = await startNodes(cluster, NAMES, {}, 'session-app');
    const status = (name: string) => cluster.admin(name).json<NodeStatus>('GET', '/status');
    for (const name of NAMES) await eventually(async () => (await status(name)).members.filter((m) => m.state === 'alive').length === 4, { what: `${name} to see 4 members` });

    const hints: RouteHint[] = [];
    for (let i = 0; i < SESSIONS; i++) hints.push((await route(cluster, undefined, '/append', { value: i }, 'node-a')).hint);
    const survivors = NAMES.slice(1);
    const totals = async () => {
      const all = await Promise.all(survivors.map(status));
      return { primaries: all.reduce((n, s) => n + s.sessions.primaries, 0), backups: all.reduce((n, s) => n + s.sessions.backups, 0), unmirrored: all.reduce((n, s) => n + s.sessions.unmirrored, 0) };
    };

    const killedAt = performance.now();
    nodes.get('node-a')!.kill('SIGKILL');
    await nodes.get('node-a')!.exited;
    await eventually(async () => (await status('node-b')).members.find((m) => m.name === 'node-a')?.state === 'dead', { what: 'node-a declared dead' });
    const deadAt = performance.now();
    await eventually(async () => {
      const { primaries, backups, unmirrored } = await totals();
      return primaries === SESSIONS && backups === SESSIONS && unmirrored === 0;
    }, { timeoutMs: 20_000, intervalMs: 20, what: 'every session to be primary on a survivor, with a backup on another' });
    const windowMs = performance.now() - deadAt;
    const promoted = (await Promise.all(survivors.map(status))).reduce((n, s) => n + s.sessions.orphansPromoted, 0);
    t.diagnostic(`detection ${Math.round(deadAt - killedAt)} ms; two copies of all ${SESSIONS} sessions ${Math.round(windowMs)} ms after it (polled every 20 ms); ${promoted} promoted without a request`);
    assert.equal(promoted, SESSIONS, 'no request was needed');

    // The second failure: the node that held the most of the first victim's backup copies.
    const counts = new Map<string, number>();
    for (const hint of hints) counts.set(hint.backup!, (counts.get(hint.backup!) ?? 0) + 1);
    const second = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
    nodes.get(second)!.kill('SIGKILL');
    await nodes.get(second)!.exited;
    const reader = survivors.find((n) => n !== second)!;
    await eventually(async () => (await status(reader)).members.find((m) => m.name === second)?.state === 'dead', { what: `${second} declared dead` });

    const outcomes = new Map<string, number>();
    for (const [i, hint] of hints.entries()) {
      const reply = await post(portOf(cluster, reader), '/read', { hint });
      outcomes.set(reply.outcome, (outcomes.get(reply.outcome) ?? 0) + 1);
      assert.deepEqual(reply.list, [i], `session ${i} (${reply.outcome})`);
    }
    t.diagnostic(`after killing ${second} too: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    assert.equal((outcomes.get('lost') ?? 0) + (outcomes.get('expired') ?? 0) + (outcomes.get('created') ?? 0), 0);
  });
});
