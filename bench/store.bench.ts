/**
 * express-session store calls in one process, one call in flight, a session of about 1 KB
 * as express-session hands it over (a Cookie instance and data): `get` and a `set` that
 * changes the data, and a `set` with unchanged data and a rolled cookie (what a rolling
 * cookie or `resave` does on every request). Stores: express-session's MemoryStore (the
 * baseline), CastmirrorStore standalone and on a two-node sync cluster (the backup in a
 * process of its own, as redis-server is), and connect-redis against a local redis-server
 * (skipped, and said so, without one).
 */
import { fork } from 'node:child_process';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import { CastmirrorStore } from '../lib/express-session/store.js';
import { parseConfigText } from '../lib/config/load.js';
import { startNode } from '../lib/start.js';
import { benchCluster, startRedisServer } from './cluster-fixture.js';
import { print, round, runMicro, sibling, until } from './common.js';

type AnyStore = session.Store;

/** A session as express-session passes it to set(): its Cookie instance and about 1 KB of data. */
function sessionOf(n: number): session.SessionData {
  const cookie = new (session.Cookie as unknown as new (options: object) => session.Cookie)({ maxAge: 1_800_000, httpOnly: true, path: '/' });
  const cart = Array.from({ length: 12 }, (_, i) => ({ sku: `sku-${1000 + i}`, qty: 1 + (i % 3), price: 9.99 + i, title: `Teapot model ${i}` }));
  return { cookie, user: { id: 'u-1234', name: 'Ada Lovelace', roles: ['buyer'] }, cart, visits: n } as unknown as session.SessionData;
}

const call = (fn: (cb: (error?: unknown) => void) => void): Promise<void> => new Promise((resolve, reject) => fn((error) => (error ? reject(error) : resolve())));
const get = (store: AnyStore, sid: string) => call((cb) => store.get(sid, cb));

const standalone = await startNode({
  config: parseConfigText('<Server name="solo"><Cluster>0</Cluster><ClusterNodes><Node name="a" host="127.0.0.1" httpPort="1" replicationPort="2" adminPort="3"/></ClusterNodes></Server>', 'inline.xml'),
  nodeName: 'a',
  admin: false,
});
const cluster = await benchCluster(['primary', 'backup']);
const configPath = cluster.write('store.xml', '<Replication mode="sync"/>');
const backup = fork(sibling('mirror-peer'), { execArgv: sibling.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
await new Promise((resolve) => {
  backup.once('message', resolve);
  backup.send({ cmd: 'node', configPath, name: 'backup' });
});
const primary = await startNode({ configPath, nodeName: 'primary', admin: false });
await until(() => primary.membership!.get('backup')?.state === 'alive', 'the backup to be alive');

let redisServer: Awaited<ReturnType<typeof startRedisServer>>;
let redisClient: ReturnType<typeof createClient> | undefined;
const stores: Record<string, AnyStore> = {
  MemoryStore: new session.MemoryStore(),
  'CastmirrorStore standalone': new CastmirrorStore({ node: standalone }),
  'CastmirrorStore sync, 2 nodes': new CastmirrorStore({ node: primary }),
};
try {
  redisServer = await startRedisServer();
  if (redisServer) {
    redisClient = createClient({ url: `redis://127.0.0.1:${redisServer.port}` });
    await redisClient.connect();
    stores['connect-redis (local redis-server)'] = new RedisStore({ client: redisClient });
  }
  const figures: Record<string, Record<string, number>> = {};
  for (const [operation, make] of [
    ['get', (store: AnyStore, sid: string) => () => get(store, sid)],
    ['set (data changed)', (store: AnyStore, sid: string) => {
      let n = 0;
      return () => call((cb) => store.set(sid, sessionOf(++n), cb));
    }],
    ['set (unchanged, cookie rolled)', (store: AnyStore, sid: string) => () => call((cb) => store.set(sid, sessionOf(0), cb))],
  ] as const) {
    const tasks: Record<string, () => unknown> = {};
    for (const [name, store] of Object.entries(stores)) {
      const sid = `bench${'x'.repeat(24)}${operation.length}`;
      await call((cb) => store.set(sid, sessionOf(0), cb));
      tasks[name] = make(store, sid);
    }
    const result = await runMicro(`store ${operation}`, 'MemoryStore', tasks);
    print(result);
    figures[operation] = Object.fromEntries(result.tasks.map((t) => [t.name, t.opsPerSecond]));
  }
  const ratio = (operation: string, name: string, over: string) => round(figures[operation]![name]! / figures[operation]![over]!, 2);
  print({
    benchmark: 'store summary',
    vsMemoryStore: {
      get: ratio('get', 'CastmirrorStore standalone', 'MemoryStore'),
      set: ratio('set (data changed)', 'CastmirrorStore standalone', 'MemoryStore'),
      setUnchanged: ratio('set (unchanged, cookie rolled)', 'CastmirrorStore standalone', 'MemoryStore'),
    },
    ...(redisClient
      ? {
          syncVsConnectRedis: {
            get: ratio('get', 'CastmirrorStore sync, 2 nodes', 'connect-redis (local redis-server)'),
            set: ratio('set (data changed)', 'CastmirrorStore sync, 2 nodes', 'connect-redis (local redis-server)'),
          },
        }
      : { skipped: 'connect-redis: redis-server is not installed (Debian: apt-get install redis-server)' }),
    targets: { getAtLeast09xMemoryStore: figures.get!['CastmirrorStore standalone']! >= 0.9 * figures.get!.MemoryStore!, setAtLeast07xMemoryStore: figures['set (data changed)']!['CastmirrorStore standalone']! >= 0.7 * figures['set (data changed)']!.MemoryStore! },
  });
} finally {
  await redisClient?.quit();
  redisServer?.stop();
  await Promise.all([standalone.close(), primary.close()]);
  backup.send({ cmd: 'exit' });
  cluster.cleanup();
}
