/**
 * Reading a session on the request path: castmirror serves it from memory on its primary;
 * the baseline is what express-session + connect-redis do on every request: a Redis GET of
 * the serialized session and JSON.parse, against a local redis-server, with ioredis.
 *
 * Needs redis-server on the PATH (Debian: apt-get install redis-server). Without it, the
 * Redis row is skipped and the output says so.
 */
import { Redis } from 'ioredis';
import { startNode } from '../lib/start.js';
import { benchCluster, startRedisServer } from './cluster-fixture.js';
import { print, round, runMicro, until } from './common.js';

const cluster = await benchCluster(['primary', 'backup']);
const configPath = cluster.write('read.xml', '<Replication mode="sync"/>');
const [primary, backup] = await Promise.all(['primary', 'backup'].map((nodeName) => startNode({ configPath, nodeName, admin: false })));
await until(() => primary!.membership!.get('backup')?.state === 'alive', 'the backup to be alive');

const cart = Array.from({ length: 10 }, (_, i) => ({ sku: `sku-${i}`, qty: 1 + (i % 3) }));
const { hint } = await primary!.sessions.run(undefined, (s) => {
  s.global.set('user', { id: 'u-1234', name: 'Ada' });
  s.application.set('cart', cart);
  s.interactive.set('step', 'address');
});
const serialized = JSON.stringify({ cookie: { originalMaxAge: 1_800_000, httpOnly: true, path: '/' }, user: { id: 'u-1234', name: 'Ada' }, cart, step: 'address' });

let redis: Redis | undefined;
const redisServer = await startRedisServer();
try {
  if (redisServer) {
    redis = new Redis({ host: '127.0.0.1', port: redisServer.port, lazyConnect: true });
    await redis.connect();
    await redis.set('sess:bench', serialized);
  }
  const tasks: Record<string, () => unknown> = {
    'castmirror session read (served from memory)': () => primary!.sessions.run(hint, (s) => s.application.get('cart')),
  };
  if (redis) tasks['ioredis GET + JSON.parse (connect-redis)'] = async () => JSON.parse((await redis!.get('sess:bench'))!);
  const baseline = redis ? 'ioredis GET + JSON.parse (connect-redis)' : 'castmirror session read (served from memory)';
  const result = await runMicro('session-read', baseline, tasks);
  const ours = result.tasks.find((t) => t.name.startsWith('castmirror'))!;
  const theirs = result.tasks.find((t) => t.name.startsWith('ioredis'));
  print({
    ...result,
    nsPerOp: Object.fromEntries(result.tasks.map((t) => [t.name, round(1e9 / t.opsPerSecond, 0)])),
    ...(theirs
      ? { speedupOverRedis: round(ours.opsPerSecond / theirs.opsPerSecond, 1), targets: { atLeast100x: ours.opsPerSecond >= 100 * theirs.opsPerSecond } }
      : { skipped: 'ioredis GET: redis-server is not installed (Debian: apt-get install redis-server)' }),
  });
} finally {
  redis?.disconnect();
  redisServer?.stop();
  await Promise.all([primary!.close(), backup!.close()]);
  cluster.cleanup();
}
