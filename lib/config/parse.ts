/**
 * server.xml -> ClusterConfig. Reads every section (sections.ts), checks the rules that
 * span them (listener clashes, per-node overrides, backups that name a listed node), and
 * reports every problem at once with its position. The result is deeply frozen.
 */
import { availableParallelism } from 'node:os';
import type { ConfigDiagnostic } from '../errors.js';
import { Diagnostics, ElementReader, parseXml, type Position } from './xml-reader.js';
import { checkNoNodeList, checkPubSubStore, checkStaticTargets, readDiscovery, readEncryption, readStore } from './network.js';
import { resolveSecret } from './secret.js';
import { DEFAULTS, MAX_PROCESSES_PER_NODE, NAME_PATTERN, type AdminCredential, type AdminSettings, type CacheSettings, type ClusterConfig, type HeartbeatSettings, type NodeEntry, type NodeOverrides, type ProxySettings, type ResolvedSecret } from './types.js';
import {
  HOST,
  NAME,
  NAME_WHAT,
  PORT,
  checkHeartbeat,
  defined,
  optionalSection,
  readAdmin,
  readAdminUsers,
  readApplications,
  readCacheList,
  readHeartbeat,
  readInterface,
  readMessaging,
  readMulticastAddress,
  readNodeSessions,
  readProxy,
  readReplication,
  readSecret,
  readSessions,
} from './sections.js';

/** Settings that a <NodeSetting> may not change, because every node must agree on them. */
const CLUSTER_ONLY = ['Cluster', 'Discovery', 'Encryption', 'Store', 'MulticastAddress', 'MulticastPort', 'Secret', 'ClusterNodes', 'Proxy', 'Applications', 'NodeSetting'];

export interface ParseResult {
  /** Undefined when there is any diagnostic. */
  readonly config: ClusterConfig | undefined;
  /** The cluster secret, found through <Secret>; kept out of `config` so it is never printed. */
  readonly secret: ResolvedSecret | undefined;
  /** The admin users with their passwords found (none when the lookup is skipped). */
  readonly adminCredentials: readonly AdminCredential[];
  readonly diagnostics: readonly ConfigDiagnostic[];
  /** Worth a log line, not fatal (inline secret, secret file readable by others). */
  readonly warnings: readonly string[];
}

export interface ParseOptions {
  /** Where `<Secret env=...>` is looked up; defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Validate <Secret> but do not look the secret up (to prepare a secret file first). */
  readonly skipSecretLookup?: boolean;
  /** What `processes="auto"` means: this machine's cores unless given (tests give it). */
  readonly cores?: number;
}

export function parseClusterConfig(text: string, file: string, options: ParseOptions = {}): ParseResult {
  const diagnostics = new Diagnostics(file);
  const root = parseXml(text, diagnostics);
  const failed = { config: undefined, secret: undefined, adminCredentials: [], diagnostics: diagnostics.list, warnings: [] };
  if (!root) return failed;
  if (root.name !== 'Server') {
    root.error(`the root element must be <Server>, not <${root.name}>`);
    return failed;
  }
  const { config, adminUsers } = readServer(root, file, options.cores ?? availableParallelism());
  const secretElement = config.secret ? root.child('Secret') : undefined;
  let secret: ResolvedSecret | undefined;
  const warnings: string[] = [];
  const hasSource = config.secret && (config.secret.env ?? config.secret.file ?? config.secret.inline) !== undefined;
  if (config.secret && secretElement && hasSource && !options.skipSecretLookup) {
    const lookup = resolveSecret(config.secret, options.env ?? process.env);
    if (lookup.ok) {
      secret = lookup.secret;
      warnings.push(...lookup.warnings);
    } else {
      secretElement.error(lookup.problem);
    }
  }
  const adminCredentials = options.skipSecretLookup ? [] : findAdminPasswords(adminUsers, options.env ?? process.env, warnings);
  if (diagnostics.list.length > 0) {
    diagnostics.list.sort((a, b) => a.line - b.line || a.column - b.column);
    return failed;
  }
  return { config: deepFreeze(config), secret, adminCredentials, diagnostics: [], warnings };
}

/** Each `<Admin><User>`'s password, as the cluster secret is found; a missing one is reported at its element. */
function findAdminPasswords(users: readonly PositionedUser[], env: NodeJS.ProcessEnv, warnings: string[]): AdminCredential[] {
  const credentials: AdminCredential[] = [];
  for (const { user, element } of users) {
    if (user.password.env === undefined && user.password.file === undefined) continue; // reported already
    const lookup = resolveSecret(user.password, env, `password of admin user ${user.name}`);
    if (lookup.ok) {
      credentials.push({ name: user.name, role: user.role, password: lookup.secret.value });
      warnings.push(...lookup.warnings);
    } else {
      element.error(lookup.problem);
    }
  }
  return credentials;
}

type PositionedUser = ReturnType<typeof readAdminUsers>[number];

function readServer(server: ElementReader, file: string, cores: number): { config: ClusterConfig; adminUsers: PositionedUser[] } {
  const name = server.stringAttribute('name', { required: true, pattern: NAME, what: NAME_WHAT }) ?? '';
  const clusterElement = server.child('Cluster', { required: true });
  const clustered = clusterElement ? clusterElement.intText({ min: 0, max: 1 }) === 1 : false;

  const discoveryElement = server.child('Discovery');
  const discovery = readDiscovery(discoveryElement);
  const encryption = readEncryption(server.child('Encryption'), file);
  const multicastUsed = clustered && discovery.type === 'multicast';
  const address = readMulticastAddress(server.child('MulticastAddress', { required: multicastUsed }));
  const portElement = server.child('MulticastPort', { required: multicastUsed });
  const port = portElement?.intText(PORT);
  const multicastInterface = readInterface(server.child('MulticastInterface'));
  const ttl = server.child('MulticastTTL')?.intText({ min: 0, max: 255 });
  const secret = readSecret(server.child('Secret', { required: clustered }), file);

  const heartbeatElement = server.child('Heartbeat');
  const heartbeat = { ...DEFAULTS.heartbeat, ...readHeartbeat(heartbeatElement) };
  checkHeartbeat(heartbeat, heartbeatElement ?? server);

  // With dns discovery the node list is made from DNS answers (dns-members.ts), after parsing.
  const clusterNodes = server.child('ClusterNodes', { required: discovery.type !== 'dns' });
  checkNoNodeList(discovery, clusterNodes);
  const nodes = discovery.type === 'dns' ? [] : readNodes(clusterNodes, cores);
  const caches = readCaches(server.child('Caches'));
  const adminElement = server.child('Admin');
  const adminUsers = readAdminUsers(adminElement, file);
  const admin = { ...DEFAULTS.admin, ...readAdmin(adminElement) };
  const proxyElement = server.child('Proxy');
  const proxy = readProxy(proxyElement);
  const overrides = readNodeSettings(server, nodes, caches, heartbeat);
  checkListeners(nodes, admin, overrides, proxy, proxyElement ?? server);
  checkStaticTargets(discovery, nodes, proxy, proxyElement);
  const storeElement = server.child('Store');
  const store = readStore(storeElement);
  checkPubSubStore(discovery, store, discoveryElement, storeElement);

  const config: ClusterConfig = {
    file,
    name,
    clustered,
    discovery,
    encryption,
    multicast: {
      address: address ?? '',
      port: port ?? 0,
      interface: multicastInterface ?? DEFAULTS.multicastInterface,
      ttl: ttl ?? DEFAULTS.multicastTTL,
    },
    messaging: { ...DEFAULTS.messaging, ...readMessaging(server.child('Messaging')) },
    secret,
    heartbeat,
    replication: { ...DEFAULTS.replication, ...readReplication(server.child('Replication')) },
    sessions: { ...DEFAULTS.sessions, ...readSessions(server.child('Sessions')) },
    admin,
    adminUsers: adminUsers.map((u) => u.user),
    proxy,
    store,
    nodes: nodes.map((n) => n.entry),
    caches: caches.map((c) => c.settings),
    applications: readApplications(server.child('Applications')),
    overrides,
  };
  server.reportUnknown();
  return { config, adminUsers };
}

interface PositionedNode {
  readonly entry: NodeEntry;
  readonly element: ElementReader;
}

/**
 * `<Node>` entries -> one NodeEntry per process. `processes="N"` (or `auto`: one per core of
 * the machine reading the config) makes N entries named `name-0`..`name-(N-1)`, on the same
 * host and machine, with ports `httpPort + i`, `replicationPort + i`, `adminPort + i`.
 */
function readNodes(element: ElementReader | undefined, cores: number): PositionedNode[] {
  if (!element) return [];
  const nodes: PositionedNode[] = [];
  const byName = new Map<string, PositionedNode>();
  const groups = new Map<string, PositionedNode[]>();
  const children = element.children('Node');
  if (children.length === 0) element.error('<ClusterNodes> must list at least one <Node>');
  for (const child of children) {
    const name = child.stringAttribute('name', { required: true, pattern: NAME, what: NAME_WHAT });
    const host = child.stringAttribute('host', { required: true, pattern: HOST, what: 'a host name or IP address' });
    const machine = child.stringAttribute('machine', { pattern: NAME, what: NAME_WHAT });
    const httpPort = child.intAttribute('httpPort', PORT, { required: true });
    const replicationPort = child.intAttribute('replicationPort', PORT, { required: true });
    const adminPort = child.intAttribute('adminPort', PORT, { required: true });
    const backup = child.stringAttribute('backup', { pattern: NAME, what: NAME_WHAT });
    const processes = readProcesses(child, cores);
    child.reportUnknown();
    if (name === undefined || host === undefined || httpPort === undefined || replicationPort === undefined || adminPort === undefined || processes === null) continue;
    const count = processes ?? 1;
    const names = processes === undefined ? [name] : Array.from({ length: count }, (_, i) => `${name}-${i}`);
    const clash = [name, ...names].find((n) => byName.has(n) || groups.has(n));
    if (clash !== undefined) {
      const first = byName.get(clash) ?? groups.get(clash)![0]!;
      child.error(`node name "${clash}" is already used at line ${first.element.position.line}`);
      continue;
    }
    if (!NAME_PATTERN.test(names[names.length - 1]!)) {
      child.error(`name="${name}" with ${count} processes gives "${names[names.length - 1]}", longer than a name may be (64 characters)`);
      continue;
    }
    const highest = Math.max(httpPort, replicationPort, adminPort) + count - 1;
    if (highest > PORT.max) {
      child.error(`${count} processes from these ports need port ${highest}, above ${PORT.max}`);
      continue;
    }
    const group = names.map((processName, index) => ({
      entry: {
        name: processName,
        group: name,
        index,
        processes: count,
        host,
        machine: machine ?? host,
        httpPort: httpPort + index,
        replicationPort: replicationPort + index,
        adminPort: adminPort + index,
        backup,
      },
      element: child,
    }));
    groups.set(name, group);
    for (const node of group) {
      byName.set(node.entry.name, node);
      nodes.push(node);
    }
  }
  element.reportUnknown();
  return nodes.map((node) => ({ ...node, entry: { ...node.entry, backup: pinnedBackup(node, groups, byName) } }));
}

/** `processes="N|auto"`: undefined when absent (a single process), null when reported as wrong. */
function readProcesses(child: ElementReader, cores: number): number | undefined | null {
  const found = child.attribute('processes');
  if (!found) return child.hasAttribute('processes') ? null : undefined;
  if (found.value === 'auto') return Math.max(1, Math.min(cores, MAX_PROCESSES_PER_NODE));
  const count = /^\d+$/.test(found.value) ? Number(found.value) : NaN;
  if (count >= 1 && count <= MAX_PROCESSES_PER_NODE) return count;
  child.error(`processes="${found.value}" on <Node> must be a number from 1 to ${MAX_PROCESSES_PER_NODE}, or "auto" (one per core)`, found.position);
  return null;
}

/** `backup="x"` -> the process it names: a group's process i modulo its size, or a node itself. */
function pinnedBackup(node: PositionedNode, groups: ReadonlyMap<string, PositionedNode[]>, byName: ReadonlyMap<string, PositionedNode>): string | undefined {
  const { entry, element } = node;
  if (entry.backup === undefined) return undefined;
  const group = groups.get(entry.backup);
  const target = group && group[0]!.entry.name !== entry.backup ? group[entry.index % group.length]!.entry.name : byName.has(entry.backup) ? entry.backup : undefined;
  if (target === undefined) {
    if (entry.index === 0) element.error(`backup="${entry.backup}" on node ${entry.group} names a node that <ClusterNodes> does not list`);
    return undefined;
  }
  if (target === entry.name) {
    element.error(`node ${entry.name} cannot be its own backup`);
    return undefined;
  }
  return target;
}

interface PositionedCache {
  readonly settings: CacheSettings;
  readonly element: ElementReader;
}

function readCaches(element: ElementReader | undefined): PositionedCache[] {
  return readCacheList(element).map(({ cache, element: child }) => ({
    settings: { capacity: DEFAULTS.cacheCapacity, ttlSeconds: DEFAULTS.cacheTtlSeconds, ...cache },
    element: child,
  }));
}

function readNodeSettings(
  server: ElementReader,
  nodes: readonly PositionedNode[],
  caches: readonly PositionedCache[],
  heartbeat: HeartbeatSettings,
): Record<string, NodeOverrides> {
  const overrides: Record<string, NodeOverrides> = {};
  // A <NodeSetting> names one process, or a <Node> entry and so every process of it.
  const processesNamed = new Map<string, string[]>();
  for (const { entry } of nodes) {
    processesNamed.set(entry.name, [entry.name]);
    if (entry.group !== entry.name) processesNamed.set(entry.group, [...(processesNamed.get(entry.group) ?? []), entry.name]);
  }
  const cacheTypes = new Set(caches.map((c) => c.settings.type));
  for (const setting of server.children('NodeSetting')) {
    const node = setting.stringAttribute('node', { required: true });
    for (const forbidden of CLUSTER_ONLY) {
      for (const element of setting.children(forbidden)) {
        element.error(`<${forbidden}> cannot be set per node in <NodeSetting>: every node must agree on it`);
      }
    }
    const interfaceElement = setting.child('MulticastInterface');
    const ttlElement = setting.child('MulticastTTL');
    const heartbeatElement = setting.child('Heartbeat');
    const cacheList = readCacheList(setting.child('Caches'));
    for (const { cache, element } of cacheList) {
      if (!cacheTypes.has(cache.type)) element.error(`<NodeSetting> overrides cache type "${cache.type}", which <Caches> does not configure`);
    }
    const nodeOverrides: NodeOverrides = defined({
      multicastInterface: readInterface(interfaceElement),
      multicastTTL: ttlElement?.intText({ min: 0, max: 255 }),
      messaging: optionalSection(readMessaging(setting.child('Messaging'))),
      heartbeat: optionalSection(readHeartbeat(heartbeatElement)),
      replication: optionalSection(readReplication(setting.child('Replication'))),
      sessions: optionalSection(readNodeSessions(setting.child('Sessions'))),
      admin: optionalSection(readAdmin(setting.child('Admin'))),
      caches: cacheList.length > 0 ? cacheList.map((c) => c.cache) : undefined,
    });
    setting.reportUnknown();
    if (node === undefined) continue;
    const targets = processesNamed.get(node);
    if (!targets) {
      setting.error(`<NodeSetting> names node "${node}", which <ClusterNodes> does not list`);
      continue;
    }
    const taken = targets.find((name) => overrides[name]);
    if (taken !== undefined) {
      setting.error(`node "${taken}" has more than one <NodeSetting>`);
      continue;
    }
    if (heartbeatElement && nodeOverrides.heartbeat) checkHeartbeat({ ...heartbeat, ...nodeOverrides.heartbeat }, heartbeatElement, node);
    for (const name of targets) overrides[name] = nodeOverrides;
  }
  return overrides;
}

interface Listener {
  readonly what: string;
  readonly host: string;
  readonly port: number;
  readonly at: Position;
}

/** No two listeners may share a port on one host: a node would fail to start. */
function checkListeners(
  nodes: readonly PositionedNode[],
  admin: AdminSettings,
  overrides: Readonly<Record<string, NodeOverrides>>,
  proxy: ProxySettings | undefined,
  reporter: ElementReader,
): void {
  const listeners: Listener[] = [];
  for (const { entry, element } of nodes) {
    const adminHost = overrides[entry.name]?.admin?.host ?? admin.host;
    listeners.push(
      { what: `httpPort of node ${entry.name}`, host: entry.host, port: entry.httpPort, at: element.position },
      { what: `replicationPort of node ${entry.name}`, host: entry.host, port: entry.replicationPort, at: element.position },
      // The admin API binds adminHost, but it runs on the node's own host.
      { what: `adminPort of node ${entry.name} (on ${adminHost})`, host: entry.host, port: entry.adminPort, at: element.position },
    );
  }
  if (proxy) listeners.push({ what: 'the proxy port', host: proxy.host, port: proxy.port, at: reporter.position });
  const taken = new Map<string, Listener>();
  for (const listener of listeners) {
    const key = `${listener.host}:${listener.port}`;
    const first = taken.get(key);
    if (first) {
      reporter.error(`${listener.what} uses ${key}, which is already the ${first.what}`, listener.at);
    } else {
      taken.set(key, listener);
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
