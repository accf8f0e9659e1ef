/**
 * server.xml -> ClusterConfig. Reads every section, validates it, and reports every
 * problem at once with its position. The result is deeply frozen.
 */
import path from 'node:path';
import { isIPv4 } from 'node:net';
import type { ConfigDiagnostic } from '../errors.js';
import { Diagnostics, ElementReader, parseXml, type Position } from './xml-reader.js';
import { resolveSecret } from './secret.js';
import {
  COOKIE_NAME_PATTERN,
  DEFAULTS,
  NAME_PATTERN,
  REHOME_POLICIES,
  REPLICATION_MODES,
  type AdminSettings,
  type ApplicationEntry,
  type CacheSettings,
  type ClusterConfig,
  type HeartbeatSettings,
  type MessagingSettings,
  type NodeEntry,
  type NodeOverrides,
  type ProxySettings,
  type ReplicationSettings,
  type ResolvedSecret,
  type SecretSettings,
  type SessionSettings,
} from './types.js';

const PORT = { min: 1, max: 65535 };
const NAME = NAME_PATTERN;
const NAME_WHAT = 'a name of 1-64 letters, digits, ".", "_" or "-"';
const HOST = /^[A-Za-z0-9.:-]{1,253}$/;

/** Settings that a <NodeSetting> may not change, because every node must agree on them. */
const CLUSTER_ONLY = ['Cluster', 'MulticastAddress', 'MulticastPort', 'Secret', 'ClusterNodes', 'Proxy', 'Applications', 'NodeSetting'];

export interface ParseResult {
  /** Undefined when there is any diagnostic. */
  readonly config: ClusterConfig | undefined;
  /** The cluster secret, found through <Secret>; kept out of `config` so it is never printed. */
  readonly secret: ResolvedSecret | undefined;
  readonly diagnostics: readonly ConfigDiagnostic[];
  /** Worth a log line, not fatal (inline secret, secret file readable by others). */
  readonly warnings: readonly string[];
}

export interface ParseOptions {
  /** Where `<Secret env=...>` is looked up; defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Validate <Secret> but do not look the secret up (to prepare a secret file first). */
  readonly skipSecretLookup?: boolean;
}

export function parseClusterConfig(text: string, file: string, options: ParseOptions = {}): ParseResult {
  const diagnostics = new Diagnostics(file);
  const root = parseXml(text, diagnostics);
  const failed = { config: undefined, secret: undefined, diagnostics: diagnostics.list, warnings: [] };
  if (!root) return failed;
  if (root.name !== 'Server') {
    root.error(`the root element must be <Server>, not <${root.name}>`);
    return failed;
  }
  const config = readServer(root, file);
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
  if (diagnostics.list.length > 0) {
    diagnostics.list.sort((a, b) => a.line - b.line || a.column - b.column);
    return failed;
  }
  return { config: deepFreeze(config), secret, diagnostics: [], warnings };
}

function readServer(server: ElementReader, file: string): ClusterConfig {
  const name = server.stringAttribute('name', { required: true, pattern: NAME, what: NAME_WHAT }) ?? '';
  const clusterElement = server.child('Cluster', { required: true });
  const clustered = clusterElement ? clusterElement.intText({ min: 0, max: 1 }) === 1 : false;

  const address = readMulticastAddress(server.child('MulticastAddress', { required: clustered }));
  const portElement = server.child('MulticastPort', { required: clustered });
  const port = portElement?.intText(PORT);
  const multicastInterface = readInterface(server.child('MulticastInterface'));
  const ttl = server.child('MulticastTTL')?.intText({ min: 0, max: 255 });
  const secret = readSecret(server.child('Secret', { required: clustered }), file);

  const heartbeatElement = server.child('Heartbeat');
  const heartbeat = { ...DEFAULTS.heartbeat, ...readHeartbeat(heartbeatElement) };
  checkHeartbeat(heartbeat, heartbeatElement ?? server);

  const nodes = readNodes(server.child('ClusterNodes', { required: true }));
  const caches = readCaches(server.child('Caches'));
  const admin = { ...DEFAULTS.admin, ...readAdmin(server.child('Admin')) };
  const proxyElement = server.child('Proxy');
  const proxy = readProxy(proxyElement);
  const overrides = readNodeSettings(server, nodes, caches, heartbeat);
  checkListeners(nodes, admin, overrides, proxy, proxyElement ?? server);

  const config: ClusterConfig = {
    file,
    name,
    clustered,
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
    proxy,
    nodes: nodes.map((n) => n.entry),
    caches: caches.map((c) => c.settings),
    applications: readApplications(server.child('Applications')),
    overrides,
  };
  server.reportUnknown();
  return config;
}

function readMulticastAddress(element: ElementReader | undefined): string | undefined {
  const text = element?.text({ required: true });
  if (!element || text === undefined) return undefined;
  const octets = text.split('.').map(Number);
  const isDottedQuad = isIPv4(text) && octets.length === 4;
  // Class D is 224.0.0.0/4; 224.0.0.0 itself is reserved.
  if (!isDottedQuad || octets[0]! < 224 || octets[0]! > 239 || text === '224.0.0.0') {
    element.error(`<MulticastAddress> must be a class D IPv4 address (224.0.0.1-239.255.255.255), not "${text}"`);
    return undefined;
  }
  return text;
}

function readInterface(element: ElementReader | undefined): string | undefined {
  const text = element?.text({ required: true });
  if (!element || text === undefined) return undefined;
  if (!isIPv4(text)) {
    element.error(`<MulticastInterface> must be the IPv4 address of a local interface, not "${text}"`);
    return undefined;
  }
  return text;
}

function readSecret(element: ElementReader | undefined, file: string): SecretSettings | undefined {
  if (!element) return undefined;
  const env = element.stringAttribute('env', { pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, what: 'an environment variable name' });
  const secretFile = element.stringAttribute('file');
  const inline = element.text();
  element.reportUnknown();
  if (env === undefined && secretFile === undefined && inline === undefined) {
    element.error('<Secret> needs an env="VAR" or file="path" attribute (or, discouraged, the secret as its text)');
  }
  return {
    env,
    file: secretFile === undefined ? undefined : path.resolve(path.dirname(path.resolve(file)), secretFile),
    inline,
  };
}

function readHeartbeat(element: ElementReader | undefined): Partial<HeartbeatSettings> {
  if (!element) return {};
  const result = defined({
    intervalMs: element.intAttribute('intervalMs', { min: 10, max: 60_000 }),
    deadAfterMs: element.intAttribute('deadAfterMs', { min: 30, max: 600_000 }),
  });
  element.reportUnknown();
  return result;
}

function checkHeartbeat(heartbeat: HeartbeatSettings, at: ElementReader, node?: string): void {
  // A member is suspected after two missed heartbeats; it must have the chance before it is dead.
  if (heartbeat.deadAfterMs < 3 * heartbeat.intervalMs) {
    const scope = node ? ` for node ${node}` : '';
    at.error(`deadAfterMs (${heartbeat.deadAfterMs}) must be at least 3 x intervalMs (${heartbeat.intervalMs})${scope}`);
  }
}

function readMessaging(element: ElementReader | undefined): Partial<MessagingSettings> {
  if (!element) return {};
  const result = defined({
    maxDatagramBytes: element.intAttribute('maxDatagramBytes', { min: 1024, max: 65_000 }),
    coalesceMs: element.intAttribute('coalesceMs', { min: 0, max: 100 }),
    recvBufferBytes: element.intAttribute('recvBufferBytes', { min: 65_536, max: 256 * 1024 * 1024 }),
    receiveQueueLimit: element.intAttribute('receiveQueueLimit', { min: 100, max: 1_000_000 }),
  });
  element.reportUnknown();
  return result;
}

function readReplication(element: ElementReader | undefined): Partial<ReplicationSettings> {
  if (!element) return {};
  const result = defined({
    mode: element.enumAttribute('mode', REPLICATION_MODES),
    batchSize: element.intAttribute('batchSize', { min: 1, max: 100_000 }),
    batchIntervalMs: element.intAttribute('batchIntervalMs', { min: 1, max: 60_000 }),
    rehome: element.enumAttribute('rehome', REHOME_POLICIES),
  });
  element.reportUnknown();
  return result;
}

function readSessions(element: ElementReader | undefined): Partial<SessionSettings> {
  if (!element) return {};
  const result = defined({
    timeoutSeconds: element.intAttribute('timeoutSeconds', { min: 1, max: 30 * 24 * 3600 }),
    cookie: element.stringAttribute('cookie', { pattern: COOKIE_NAME_PATTERN, what: 'a cookie name (1-64 characters, an RFC 6265 token)' }),
  });
  element.reportUnknown();
  return result;
}

/** `<Sessions>` inside `<NodeSetting>`: the cookie name is cluster-wide (the proxy reads one). */
function readNodeSessions(element: ElementReader | undefined): Partial<SessionSettings> {
  if (element?.hasAttribute('cookie')) element.error('cookie on <Sessions> cannot be set per node in <NodeSetting>: the proxy and every node read one route cookie');
  const { cookie: _cluster, ...perNode } = readSessions(element);
  return perNode;
}

function readAdmin(element: ElementReader | undefined): Partial<AdminSettings> {
  if (!element) return {};
  const result = defined({ host: element.stringAttribute('host', { pattern: HOST, what: 'a host name or IP address' }) });
  element.reportUnknown();
  return result;
}

function readProxy(element: ElementReader | undefined): ProxySettings | undefined {
  if (!element) return undefined;
  const host = element.stringAttribute('host', { pattern: HOST, what: 'a host name or IP address' }) ?? DEFAULTS.proxyHost;
  const port = element.intAttribute('port', PORT, { required: true });
  element.reportUnknown();
  return port === undefined ? undefined : { host, port };
}

interface PositionedNode {
  readonly entry: NodeEntry;
  readonly element: ElementReader;
}

function readNodes(element: ElementReader | undefined): PositionedNode[] {
  if (!element) return [];
  const nodes: PositionedNode[] = [];
  const byName = new Map<string, PositionedNode>();
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
    child.reportUnknown();
    if (name === undefined || host === undefined || httpPort === undefined || replicationPort === undefined || adminPort === undefined) continue;
    const first = byName.get(name);
    if (first) {
      child.error(`node name "${name}" is already used at line ${first.element.position.line}`);
      continue;
    }
    const node = { entry: { name, host, machine: machine ?? host, httpPort, replicationPort, adminPort, backup }, element: child };
    byName.set(name, node);
    nodes.push(node);
  }
  element.reportUnknown();
  for (const { entry, element: at } of nodes) {
    if (entry.backup === undefined) continue;
    if (entry.backup === entry.name) at.error(`node ${entry.name} cannot be its own backup`);
    else if (!byName.has(entry.backup)) at.error(`backup="${entry.backup}" on node ${entry.name} names a node that <ClusterNodes> does not list`);
  }
  return nodes;
}

interface PositionedCache {
  readonly settings: CacheSettings;
  readonly element: ElementReader;
}

function readCacheElement(child: ElementReader): (Partial<CacheSettings> & { type: string }) | undefined {
  const type = child.stringAttribute('type', { required: true, pattern: NAME, what: NAME_WHAT });
  const result = defined({
    capacity: child.intAttribute('capacity', { min: 1, max: 100_000_000 }),
    ttlSeconds: child.intAttribute('ttlSeconds', { min: 0, max: 365 * 24 * 3600 }),
  });
  child.reportUnknown();
  return type === undefined ? undefined : { type, ...result };
}

function readCacheList(element: ElementReader | undefined): { cache: Partial<CacheSettings> & { type: string }; element: ElementReader }[] {
  if (!element) return [];
  const seen = new Map<string, ElementReader>();
  const result = [];
  for (const child of element.children('Cache')) {
    const cache = readCacheElement(child);
    if (!cache) continue;
    const first = seen.get(cache.type);
    if (first) {
      child.error(`cache type "${cache.type}" is already configured at line ${first.position.line}`);
      continue;
    }
    seen.set(cache.type, child);
    result.push({ cache, element: child });
  }
  element.reportUnknown();
  return result;
}

function readCaches(element: ElementReader | undefined): PositionedCache[] {
  return readCacheList(element).map(({ cache, element: child }) => ({
    settings: { capacity: DEFAULTS.cacheCapacity, ttlSeconds: DEFAULTS.cacheTtlSeconds, ...cache },
    element: child,
  }));
}

function readApplications(element: ElementReader | undefined): ApplicationEntry[] {
  if (!element) return [];
  const seen = new Set<string>();
  const applications: ApplicationEntry[] = [];
  for (const child of element.children('Application')) {
    const name = child.stringAttribute('name', { required: true, pattern: NAME, what: NAME_WHAT });
    const enabled = child.intAttribute('enabled', { min: 0, max: 1 });
    child.reportUnknown();
    if (name === undefined) continue;
    if (seen.has(name)) {
      child.error(`application "${name}" is listed twice`);
      continue;
    }
    seen.add(name);
    applications.push({ name, enabled: enabled !== 0 });
  }
  element.reportUnknown();
  return applications;
}

function readNodeSettings(
  server: ElementReader,
  nodes: readonly PositionedNode[],
  caches: readonly PositionedCache[],
  heartbeat: HeartbeatSettings,
): Record<string, NodeOverrides> {
  const overrides: Record<string, NodeOverrides> = {};
  const nodeNames = new Set(nodes.map((n) => n.entry.name));
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
    if (!nodeNames.has(node)) {
      setting.error(`<NodeSetting> names node "${node}", which <ClusterNodes> does not list`);
      continue;
    }
    if (overrides[node]) {
      setting.error(`node "${node}" has more than one <NodeSetting>`);
      continue;
    }
    if (heartbeatElement && nodeOverrides.heartbeat) checkHeartbeat({ ...heartbeat, ...nodeOverrides.heartbeat }, heartbeatElement, node);
    overrides[node] = nodeOverrides;
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

function optionalSection<T extends object>(section: T): T | undefined {
  return Object.keys(section).length > 0 ? section : undefined;
}

/** Drops undefined properties, so that spreading a partial never erases a default. */
function defined<T extends object>(object: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
