/**
 * One node's view of the cluster config: the cluster-wide settings with that node's
 * `<NodeSetting>` applied. Only the parameters a NodeSetting names change.
 */
import { UnknownNodeError } from '../errors.js';
import type { CacheSettings, ClusterConfig, NodeConfig } from './types.js';

export function resolveNodeConfig(config: ClusterConfig, nodeName: string): NodeConfig {
  const node = config.nodes.find((n) => n.name === nodeName);
  if (!node) throw new UnknownNodeError(nodeName, config.nodes.map((n) => n.name));
  const overrides = config.overrides[nodeName] ?? {};
  const cacheOverrides = new Map((overrides.caches ?? []).map((c) => [c.type, c]));
  const caches: CacheSettings[] = config.caches.map((cache) => ({ ...cache, ...cacheOverrides.get(cache.type) }));
  return Object.freeze({
    cluster: config,
    node,
    multicast: Object.freeze({
      ...config.multicast,
      interface: overrides.multicastInterface ?? config.multicast.interface,
      ttl: overrides.multicastTTL ?? config.multicast.ttl,
    }),
    messaging: Object.freeze({ ...config.messaging, ...overrides.messaging }),
    heartbeat: Object.freeze({ ...config.heartbeat, ...overrides.heartbeat }),
    replication: Object.freeze({ ...config.replication, ...overrides.replication }),
    sessions: Object.freeze({ ...config.sessions, ...overrides.sessions }),
    admin: Object.freeze({ ...config.admin, ...overrides.admin }),
    caches: Object.freeze(caches.map((c) => Object.freeze(c))),
  });
}
