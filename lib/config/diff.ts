/**
 * What changed between the config a node runs and a new version of server.xml, split into
 * what a running node can take (the node list, cache capacities and TTLs, new cache types
 * and applications, heartbeat and replication settings) and what needs a restart (each
 * named, with the setting's XML spelling).
 */
import { isDeepStrictEqual } from 'node:util';
import type { NodeConfig, ResolvedSecret } from './types.js';

export interface ConfigDiff {
  /** Changes a running node applies, described for the operator. */
  readonly live: readonly string[];
  /** Changes that take effect only after a restart of this node, described. */
  readonly restart: readonly string[];
}

export function diffConfig(current: NodeConfig, next: NodeConfig, secrets: { current: ResolvedSecret | undefined; next: ResolvedSecret | undefined }): ConfigDiff {
  const live: string[] = [];
  const restart: string[] = [];
  const needsRestart = (what: string, a: unknown, b: unknown): void => {
    if (!isDeepStrictEqual(a, b)) restart.push(`${what} changed: needs a restart of ${current.node.name}`);
  };
  const c = current.cluster;
  const n = next.cluster;
  needsRestart('<Server name>', c.name, n.name);
  needsRestart('<Cluster>', c.clustered, n.clustered);
  needsRestart('<Discovery>', c.discovery, n.discovery);
  needsRestart('<Encryption>', c.encryption, n.encryption);
  needsRestart('<Store>', c.store, n.store);
  needsRestart('<MulticastAddress>/<MulticastPort>', [c.multicast.address, c.multicast.port], [n.multicast.address, n.multicast.port]);
  needsRestart('<MulticastInterface>/<MulticastTTL>', [current.multicast.interface, current.multicast.ttl], [next.multicast.interface, next.multicast.ttl]);
  needsRestart('<Messaging>', current.messaging, next.messaging);
  needsRestart('<Secret>', secrets.current?.value.toString('base64'), secrets.next?.value.toString('base64'));
  needsRestart('<Admin host>', current.admin, next.admin);
  needsRestart('<Sessions timeoutSeconds>', current.sessions.timeoutSeconds, next.sessions.timeoutSeconds);
  needsRestart('<Sessions cookie>', current.sessions.cookie, next.sessions.cookie);
  needsRestart(`this node's <Node> entry (host, machine, ports, backup)`, current.node, next.node);

  const names = (list: readonly { name: string }[]) => list.map((x) => x.name);
  const added = n.nodes.filter((x) => !names(c.nodes).includes(x.name));
  const removed = c.nodes.filter((x) => !names(n.nodes).includes(x.name));
  const changed = n.nodes.filter((x) => x.name !== current.node.name && c.nodes.some((y) => y.name === x.name && !isDeepStrictEqual(x, y)));
  if (added.length > 0) live.push(`nodes added: ${names(added).join(', ')}`);
  if (removed.length > 0) live.push(`nodes removed: ${names(removed).join(', ')}`);
  if (changed.length > 0) live.push(`nodes changed: ${names(changed).join(', ')}`);

  if (!isDeepStrictEqual(current.heartbeat, next.heartbeat)) live.push(`<Heartbeat>: intervalMs ${next.heartbeat.intervalMs}, deadAfterMs ${next.heartbeat.deadAfterMs}`);
  if (!isDeepStrictEqual(current.replication, next.replication)) {
    const r = next.replication;
    live.push(`<Replication>: mode ${r.mode}, batchSize ${r.batchSize}, batchIntervalMs ${r.batchIntervalMs}, rehome ${r.rehome}, noBackup ${r.noBackup}`);
  }
  for (const cache of next.caches) {
    const before = current.caches.find((x) => x.type === cache.type);
    if (!before) live.push(`cache ${cache.type} added (capacity ${cache.capacity}, ttlSeconds ${cache.ttlSeconds})`);
    else if (before.capacity !== cache.capacity || before.ttlSeconds !== cache.ttlSeconds) live.push(`cache ${cache.type}: capacity ${cache.capacity}, ttlSeconds ${cache.ttlSeconds}`);
  }
  for (const cache of current.caches) {
    if (!next.caches.some((x) => x.type === cache.type)) restart.push(`cache ${cache.type} removed: it stays until ${current.node.name} restarts`);
  }
  const apps = names(c.applications);
  const newApps = n.applications.filter((a) => !apps.includes(a.name));
  if (newApps.length > 0) live.push(`applications added: ${names(newApps).join(', ')}`);
  for (const app of c.applications) {
    if (!n.applications.some((a) => a.name === app.name)) restart.push(`application ${app.name} removed: it stays until ${current.node.name} restarts`);
  }
  return { live, restart };
}

/**
 * The config a node runs after a reload: what needs a restart keeps its running value (and
 * removed cache types and applications stay until then); the rest is the new file's.
 */
export function mergeRunning(current: NodeConfig, next: NodeConfig): NodeConfig {
  const caches = [...current.caches.filter((c) => !next.caches.some((x) => x.type === c.type)), ...next.caches];
  const applications = [...current.cluster.applications.filter((a) => !next.cluster.applications.some((x) => x.name === a.name)), ...next.cluster.applications];
  return Object.freeze({
    ...current,
    cluster: Object.freeze({ ...current.cluster, nodes: next.cluster.nodes, caches, applications, heartbeat: next.cluster.heartbeat, replication: next.cluster.replication }),
    heartbeat: next.heartbeat,
    replication: next.replication,
    caches,
  });
}
