/**
 * startNode: the in-process entry point. Reads server.xml (or takes a loaded config),
 * resolves this node's view, starts it, and attaches the admin API on the node's adminPort.
 * The edge floor: it may use every layer, and no layer uses it.
 */
import { AdminServer } from './admin/server.js';
import { DnsMemberWatch, isMemberAddress, withMember } from './config/dns-members.js';
import { loadConfig, type LoadedConfig } from './config/load.js';
import { resolveNodeConfig } from './config/resolve.js';
import { InvalidArgumentError } from './errors.js';
import { CacheNode, type CacheNodeOptions } from './node/cache-node.js';
import { adminCertificate } from './transport/secure-stream.js';
import { silentLogger } from './util/logger.js';

export interface StartNodeOptions extends Omit<CacheNodeOptions, 'config' | 'secret' | 'adminPort'> {
  /** Path of server.xml; or pass `config` already loaded. */
  readonly configPath?: string;
  readonly config?: LoadedConfig;
  /** A name listed in <ClusterNodes>; with `<Discovery type="dns">`, this node's IPv4 address. */
  readonly nodeName: string;
  /** Where `<Secret env=...>` is looked up; defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Serve the admin API on the node's adminPort (default true). */
  readonly admin?: boolean;
}

export async function startNode(options: StartNodeOptions): Promise<CacheNode> {
  const { configPath, config, nodeName, env, admin = true, ...nodeOptions } = options;
  let loaded = config;
  if (!loaded) {
    if (!configPath) throw new InvalidArgumentError('startNode needs configPath or config');
    loaded = await loadConfig(configPath, env ? { env } : {});
  }
  const logger = nodeOptions.logger ?? silentLogger;
  for (const warning of loaded.warnings) logger.warn({}, warning);
  const { discovery } = loaded.config;
  if (discovery.type === 'dns') {
    if (!isMemberAddress(nodeName)) throw new InvalidArgumentError(`with <Discovery type="dns"> a node is named by its IPv4 address, not "${nodeName}"`);
    // This node is a member whether or not the answer holds it yet (a pod not yet published).
    loaded = { ...loaded, config: withMember(loaded.config, nodeName) };
  }
  const resolved = resolveNodeConfig(loaded.config, nodeName);
  const node = await CacheNode.start({ ...nodeOptions, logger, config: resolved, secret: loaded.secret, adminPort: admin ? resolved.node.adminPort : 0 });
  if (discovery.type === 'dns') {
    const watch = new DnsMemberWatch(discovery, nodeName, loaded.config.nodes.map((n) => n.name), (addresses) => node.applyMembers(addresses), logger);
    watch.start();
    // A member heard before its record was seen: look again now rather than at the next refresh.
    node.membership?.on('unknown', () => void watch.refresh());
    node.attach({ close: async () => watch.stop() });
  }
  let address: { host: string; port: number } | undefined;
  if (admin) {
    try {
      const tls = adminCertificate(resolved.cluster.encryption, nodeName);
      const server = await AdminServer.listen({ node, host: resolved.admin.host, port: resolved.node.adminPort, secret: loaded.secret?.value, users: loaded.adminCredentials, tls, logger });
      node.attach(server);
      address = server.address;
    } catch (error) {
      await node.close();
      throw error;
    }
  }
  logger.info({ incarnation: node.incarnation.id, clustered: resolved.cluster.clustered, admin: address }, 'node started');
  return node;
}
