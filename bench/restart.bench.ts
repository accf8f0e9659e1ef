/**
 * Restart of a three-node cluster holding SESSIONS sessions (default 100,000; BENCH_SESSIONS)
 * with a write-through shared store on a local redis-server: every node stops, three new
 * ones start, and every session is asked for once (64 at a time, spread over the nodes, as a
 * balancer would): the time until every session has been served again, and how each was
 * found (`restored`). Baseline in the same run: bare GETs of the same keys from the same
 * redis-server, 64 in flight (ioredis): what loading alone costs. The three nodes share this
 * one process (one event loop), as they share nothing in a real cluster: the rates are what
 * one core does for three nodes.
 *
 *   npm run bench -- restart
 */
import { Redis } from 'ioredis';
import type { CacheNode } from '../lib/node/cache-node.js';
import type { RouteHint } from '../lib/replication/route-hint.js';
import { startNode } from '../lib/start.js';
import { benchCluster, startRedisServer } from './cluster-fixture.js';
import { print, round, until } from './common.js';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 100_000);
const IN_FLIGHT = 64;
const NAMES = ['node-a', 'node-b', 'node-c'];

/** Runs `task(i)` for i in [0, count), `limit` at a time. */
async function pooled(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < count) await task(next++);
  }));
}

const redis = await startRedisServer();
if (!redis) {
  print({ benchmark: 'restart', skipped: 'redis-server is not installed (Debian: apt-get install redis-server)' });
} else {
  const cluster = await benchCluster(NAMES);
  const configPath = cluster.write('restart.xml', `<Replication mode="sync"/><Store type="redis" url="redis://127.0.0.1:${redis.port}" mode="write-through"/>`);
  const startAll = async (): Promise<CacheNode[]> => {
    const nodes = await Promise.all(NAMES.map((nodeName) => startNode({ configPath, nodeName, admin: false })));
    await until(() => nodes.every((n) => n.membership!.alive().length === NAMES.length && n.status().store?.state === 'up'), 'every node to see the others and the store');
    return nodes;
  };
  try {
    let nodes = await startAll();
    const hints: RouteHint[] = new Array(SESSIONS);
    const createdAt = performance.now();
    await pooled(SESSIONS, 256, async (i) => {
      const run = await nodes[i % 3]!.sessions.run(undefined, (session) => {
        session.global.set('count', i).set('items', Array.from({ length: 20 }, (_, k) => `sku-${(i + k) % 5000}`));
      });
      hints[i] = run.hint;
    });
    const createSeconds = (performance.now() - createdAt) / 1000;
    // Every change in the store before anything is read from it (a write-through store down at first keeps a backlog).
    await until(() => nodes.every((n) => { const store = n.status().store!; return store.state === 'up' && store.backlog === 0; }), 'every store backlog written');

    // Baseline: the same keys straight from the same redis-server.
    const raw = new Redis(`redis://127.0.0.1:${redis.port}`);
    const key = (hint: RouteHint) => `castmirror:${nodes[0]!.config.cluster.name}:session:${hint.sessionId}`;
    let rawBytes = 0;
    const rawAt = performance.now();
    await pooled(SESSIONS, IN_FLIGHT, async (i) => {
      const bytes = await raw.getBuffer(key(hints[i]!));
      rawBytes += bytes?.length ?? 0; // after the await: `+=` reads its left side first
    });
    const rawSeconds = (performance.now() - rawAt) / 1000;
    raw.disconnect();

    await Promise.all(nodes.map((n) => n.close()));
    const restartAt = performance.now();
    nodes = await startAll();
    const upMs = performance.now() - restartAt;
    const outcomes: Record<string, number> = {};
    await pooled(SESSIONS, IN_FLIGHT, async (i) => {
      const run = await nodes[i % 3]!.sessions.run(hints[i], (session) => session.global.getNumber('count'));
      if (run.result !== i) throw new Error(`session ${i} came back as ${String(run.result)}`);
      outcomes[run.outcome] = (outcomes[run.outcome] ?? 0) + 1;
    });
    const allServedSeconds = (performance.now() - restartAt) / 1000;
    await Promise.all(nodes.map((n) => n.close()));
    print({
      benchmark: 'restart',
      node: process.version,
      baseline: `bare GET of each session's key from the same redis-server, ${IN_FLIGHT} in flight`,
      sessions: SESSIONS,
      storedBytesPerSession: Math.round(rawBytes / SESSIONS),
      createdPerSecond: Math.round(SESSIONS / createSeconds),
      raw: { seconds: round(rawSeconds, 2), getsPerSecond: Math.round(SESSIONS / rawSeconds) },
      restart: { nodesUpMs: Math.round(upMs), everySessionServedAfterSeconds: round(allServedSeconds, 2), restoredPerSecond: Math.round(SESSIONS / (allServedSeconds - upMs / 1000)), outcomes },
      ratioToRawGets: round(SESSIONS / (allServedSeconds - upMs / 1000) / (SESSIONS / rawSeconds), 3),
    });
  } finally {
    redis.stop();
    cluster.cleanup();
  }
}
