/**
 * Failover: a primary with SESSIONS sessions (in its own process) is killed with SIGKILL.
 * Reported: how long the survivors take to declare it dead (detection); from that moment,
 * how long until a session is served again by its backup, for the first session and for
 * all; and the re-replication window: until every session is primary on a survivor with a
 * copy on another (its backups promote them without a request, TAKEOVER_CONCURRENCY at a
 * time). `BENCH_TAKEOVER_SESSIONS=10000 npm run bench -- takeover` for a larger node.
 */
import { fork } from 'node:child_process';
import { startNode } from '../lib/start.js';
import type { RouteHint } from '../lib/replication/route-hint.js';
import { benchCluster } from './cluster-fixture.js';
import { percentile, print, round, sibling, until } from './common.js';

const SESSIONS = Number(process.env.BENCH_TAKEOVER_SESSIONS ?? 200);
const cluster = await benchCluster(['primary', 'backup', 'spare']);
const configPath = cluster.write('takeover.xml', '<Replication mode="sync"/>');
const peer = fork(sibling('mirror-peer'), { execArgv: sibling.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const ask = <T>(message: object): Promise<T> =>
  new Promise((resolve) => {
    peer.once('message', (reply) => resolve(reply as T));
    peer.send(message);
  });

const survivors = await Promise.all(['backup', 'spare'].map((nodeName) => startNode({ configPath, nodeName, admin: false })));
const byName = new Map(survivors.map((n) => [n.name, n]));
try {
  await ask({ cmd: 'node', configPath, name: 'primary' });
  for (const node of survivors) await until(() => node.membership!.alive().length === 3, `${node.name} to see three members`);
  const { hints } = await ask<{ hints: RouteHint[] }>({ cmd: 'create', count: SESSIONS, members: 3 });
  await until(() => survivors.reduce((n, s) => n + s.sessions.snapshotStats().backups, 0) === SESSIONS, 'every session to have its backup copy');

  const dead = new Promise<number>((resolve) => survivors[0]!.membership!.once('dead', () => resolve(performance.now())));
  const killedAt = performance.now();
  peer.kill('SIGKILL');
  const deadAt = await dead;
  // Two copies again: every session primary on one survivor, copied to the other.
  const twoCopies = until(() => {
    const stats = survivors.map((s) => s.sessions.snapshotStats());
    return stats.reduce((n, s) => n + s.primaries, 0) === SESSIONS && stats.reduce((n, s) => n + s.backups, 0) === SESSIONS && stats.every((s) => s.unmirrored === 0);
  }, 'every session to have two copies again', 60_000, 2).then(() => performance.now());
  const times: number[] = [];
  let firstServed = 0;
  for (const hint of hints) {
    const started = performance.now();
    const result = await byName.get(hint.backup!)!.sessions.run(hint, (s) => s.global.get('cart'));
    if (result.outcome !== 'took-over' && result.outcome !== 'served') throw new Error(`expected the session from its backup, got ${result.outcome}`);
    times.push((performance.now() - started) * 1000);
    if (firstServed === 0) firstServed = performance.now();
  }
  const allServed = performance.now();
  const reReplicatedAt = await twoCopies;
  times.sort((a, b) => a - b);
  print({
    benchmark: 'takeover',
    node: process.version,
    sessions: SESSIONS,
    heartbeat: { intervalMs: 100, deadAfterMs: 500 },
    detectionMs: round(deadAt - killedAt, 1),
    firstServedAfterDetectionMs: round(firstServed - deadAt, 3),
    perSessionTakeoverMicros: { p50: round(percentile(times, 50), 0), p99: round(percentile(times, 99), 0), max: round(times.at(-1)!, 0) },
    allServedAfterDetectionMs: round(allServed - deadAt, 1),
    twoCopiesAfterDetectionMs: round(reReplicatedAt - deadAt, 1),
    promotedWithoutRequest: survivors.reduce((n, s) => n + s.sessions.snapshotStats().orphansPromoted, 0),
  });
} finally {
  peer.kill('SIGKILL');
  await Promise.all(survivors.map((n) => n.close()));
  cluster.cleanup();
}
