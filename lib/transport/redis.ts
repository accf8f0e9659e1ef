/**
 * A connection to the shared store (`<Store type="redis">`), Redis or Valkey, through
 * ioredis (an optional peer dependency: loaded only when a config names a store). The URL
 * says which kind: `redis://` or `rediss://` (TLS) for one server, `redis+cluster://h1:p1,
 * h2:p2` for Redis Cluster, `redis+sentinel://h1:p1,h2:p2/MASTER` for Sentinel (a password
 * as in `redis+sentinel://:PASSWORD@h1:p1/MASTER`).
 *
 * Commands fail fast while it is not connected (no offline queue): the layer above keeps its
 * own bounded backlog and writes it when the connection is back, so a store that is down
 * never holds a request up.
 */
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { TransportError } from '../errors.js';

export type RedisClient = Redis | Cluster;

const COMMAND_TIMEOUT_MS = 1_000;

const COMMON: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: COMMAND_TIMEOUT_MS,
  connectTimeout: 2_000,
  enableAutoPipelining: true,
  // Reconnect for ever, at most every 1 s: the store coming back is the normal case.
  retryStrategy: (attempt: number) => Math.min(100 * attempt, 1_000),
};

function hostsOf(list: string): { host: string; port: number }[] {
  return list.split(',').map((entry) => {
    const at = entry.lastIndexOf(':');
    return at > 0 ? { host: entry.slice(0, at), port: Number(entry.slice(at + 1)) } : { host: entry, port: 6379 };
  });
}

/**
 * Opens the client for `url` (it connects in the background and reconnects by itself).
 * `queueWhileDown`: commands wait for the connection instead of failing (a subscription,
 * which must reach the server whenever it comes up).
 */
export async function openRedis(url: string, { queueWhileDown = false }: { readonly queueWhileDown?: boolean } = {}): Promise<RedisClient> {
  let ioredis: { Redis: typeof Redis; Cluster: typeof Cluster };
  try {
    ioredis = await import('ioredis');
  } catch (error) {
    throw new TransportError('<Store type="redis"> needs the ioredis package: npm install ioredis', { cause: error });
  }
  const parsed = /^(redis\+cluster|redis\+sentinel):\/\/(?:([^@]*)@)?([^/]+)(?:\/(.+))?$/.exec(url);
  const password = parsed?.[2] ? decodeURIComponent(parsed[2].replace(/^[^:]*:/, '')) : undefined;
  const common: RedisOptions = queueWhileDown ? { ...COMMON, enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined } : COMMON;
  let client: RedisClient;
  if (parsed?.[1] === 'redis+cluster') {
    client = new ioredis.Cluster(hostsOf(parsed[3]!), { enableOfflineQueue: queueWhileDown, enableAutoPipelining: true, redisOptions: { ...common, password } });
  } else if (parsed?.[1] === 'redis+sentinel') {
    client = new ioredis.Redis({ ...common, sentinels: hostsOf(parsed[3]!), name: parsed[4] ?? 'mymaster', password, sentinelPassword: password });
  } else {
    client = new ioredis.Redis(url, common);
  }
  return client;
}
