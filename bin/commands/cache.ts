import { entryPath } from '../../lib/admin/client.js';
import type { ObjectCacheStats } from '../../lib/cache/object-cache.js';
import { AdminRequestError } from '../../lib/errors.js';
import { CONFIG_OPTIONS, EXIT, parse, printJson, requireConfigPath, table, UsageError, withFirstReachable, type Verb } from '../cli/common.js';
import { loadConfig } from '../../lib/config/load.js';

const USAGE = `usage: castmirror cache <action> ... --config F [--node N] [--json]

  stats [TYPE]            per-type size, capacity, hits, misses, loads, evictions,
                          invalidations sent/received, gap clears        (node)
  get TYPE KEY            print the value held for KEY; exit 1 if none   (node)
  put TYPE KEY JSON       store a JSON value under KEY                   (node)
  invalidate TYPE KEY     drop KEY on every node                         (cluster)
  clear TYPE              empty TYPE on every node                       (cluster)
  reload TYPE             empty TYPE on every node; the node asked loads
                          its keys again at once, the others on next use (cluster)
  capacity TYPE [N]       show, or set to N, this node's capacity        (node)
  ttl TYPE [SECONDS]      show, or set, this node's time-to-live;
                          0 = no expiry by age                           (node)

Node-scoped actions act on --node N (default: the first node that answers); cluster-
scoped ones start there and reach every node.`;

const ARITY: Record<string, [min: number, max: number]> = {
  stats: [0, 1],
  get: [2, 2],
  put: [3, 3],
  invalidate: [2, 2],
  clear: [1, 1],
  reload: [1, 1],
  capacity: [1, 2],
  ttl: [1, 2],
};

export const cache: Verb = {
  name: 'cache',
  summary: 'cache administration: stats|get|put|invalidate|clear|reload|capacity|ttl',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parse(argv, CONFIG_OPTIONS);
    const [action, ...args] = positionals;
    if (values.help) {
      io.out(USAGE);
      return EXIT.ok;
    }
    if (!action) throw new UsageError('which cache action?');
    const arity = ARITY[action];
    if (!arity) throw new UsageError(`unknown cache action "${action}"`);
    if (args.length < arity[0] || args.length > arity[1]) throw new UsageError(`cache ${action} takes ${arity[0] === arity[1] ? arity[0] : `${arity[0]} to ${arity[1]}`} arguments`);
    const [type, key, value] = args as [string, string | undefined, string | undefined];
    let body: unknown;
    if (action === 'put') {
      try {
        body = JSON.parse(value!);
      } catch (error) {
        throw new UsageError(`the value must be JSON: ${(error as Error).message}`);
      }
    }
    let capacity: number | undefined;
    if (action === 'capacity' && key !== undefined) {
      capacity = Number(key);
      if (!Number.isSafeInteger(capacity) || capacity < 1) throw new UsageError(`capacity must be a positive integer, not "${key}"`);
    }
    let ttlSeconds: number | undefined;
    if (action === 'ttl' && key !== undefined) {
      ttlSeconds = Number(key);
      if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 0) throw new UsageError(`ttl must be a whole number of seconds (0: no expiry), not "${key}"`);
    }

    const loaded = await loadConfig(requireConfigPath(values.config));
    const { node, result } = await withFirstReachable(loaded, values.node, async (client) => {
      switch (action) {
        case 'stats':
          return type === undefined
            ? (await client.json<{ caches: ObjectCacheStats[] }>('GET', '/caches')).caches
            : [await client.json<ObjectCacheStats>('GET', `/caches/${encodeURIComponent(type)}`)];
        case 'get':
          return client.json('GET', entryPath(type, key!));
        case 'put':
          return client.json('PUT', entryPath(type, key!), body);
        case 'invalidate':
          return client.json('POST', `/caches/${encodeURIComponent(type)}/invalidate`, { key });
        case 'clear':
          return client.json('POST', `/caches/${encodeURIComponent(type)}/clear`);
        case 'reload':
          return client.json('POST', `/caches/${encodeURIComponent(type)}/reload`);
        case 'ttl':
          return ttlSeconds === undefined
            ? client.json('GET', `/caches/${encodeURIComponent(type)}/ttl`)
            : client.json('PUT', `/caches/${encodeURIComponent(type)}/ttl`, { ttlSeconds });
        default:
          return capacity === undefined
            ? client.json('GET', `/caches/${encodeURIComponent(type)}/capacity`)
            : client.json('PUT', `/caches/${encodeURIComponent(type)}/capacity`, { capacity });
      }
    }).catch((error: unknown) => {
      if (error instanceof AdminRequestError && error.remoteCode === 'CASTMIRROR_ADMIN_NO_ENTRY') return { node: values.node ?? '', result: null };
      throw error;
    });

    if (values.json) {
      printJson(io, action === 'stats' ? { node, caches: result } : { node, result });
      return action === 'get' && result === null ? EXIT.failure : EXIT.ok;
    }
    switch (action) {
      case 'stats': {
        const stats = result as ObjectCacheStats[];
        io.out(`caches on ${node}`);
        io.out(
          table(
            ['TYPE', 'SIZE', 'CAPACITY', 'HITS', 'MISSES', 'LOADS', 'EVICTIONS', 'INV SENT', 'INV RECEIVED', 'CLEARS', 'GAP CLEARS'],
            stats.map((s) => [s.type, s.size, s.capacity, s.hits, s.misses, s.loads, s.evictions, s.invalidationsSent, s.invalidationsReceived, s.clearsSent + s.clearsReceived, s.gapClears]),
          ),
        );
        return EXIT.ok;
      }
      case 'get':
        if (result === null) {
          io.err(`no entry "${key}" in cache "${type}" on ${values.node ?? 'the node asked'}`);
          return EXIT.failure;
        }
        io.out(JSON.stringify((result as { value: unknown }).value));
        return EXIT.ok;
      case 'put':
        io.out(`stored ${type}/${key} on ${node}`);
        return EXIT.ok;
      case 'invalidate':
        io.out(`invalidated ${type}/${key} on every node (from ${node})`);
        return EXIT.ok;
      case 'clear':
        io.out(`cleared ${type} on every node (from ${node})`);
        return EXIT.ok;
      case 'reload':
        io.out(`reloaded ${type}: cleared on every node; ${(result as { warmed: number }).warmed} keys loaded again on ${node}`);
        return EXIT.ok;
      case 'ttl': {
        const ttl = (result as { ttlSeconds: number }).ttlSeconds;
        io.out(`${type} time-to-live on ${node}: ${ttl === 0 ? 'none (entries expire only by capacity)' : `${ttl} s`}`);
        return EXIT.ok;
      }
      default:
        io.out(`${type} capacity on ${node}: ${(result as { capacity: number }).capacity}`);
        return EXIT.ok;
    }
  },
};
