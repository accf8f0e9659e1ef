/**
 * How the nodes reach, protect and back each other: `<Discovery>`, `<Encryption>` and `<Store>`. Read here,
 * like every section, with every problem reported at its position.
 */
import path from 'node:path';
import type { ElementReader } from './xml-reader.js';
import { ADMIN_TRANSPORTS, DATAGRAM_PROTECTION, DEFAULTS, DISCOVERY_TYPES, LINK_SECURITY, STORE_MODES, type StoreSettings, type CertificateFiles, type DiscoverySettings, type EncryptionSettings, type NodeEntry, type ProxySettings } from './types.js';

const PORT = { min: 1, max: 65535 };
const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/;
const RESOLVER = /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/;

/**
 * `<Discovery type="multicast|static|pubsub"/>`, or `<Discovery type="dns" name refreshMs resolver
 * httpPort replicationPort adminPort/>`; multicast when absent.
 */
export function readDiscovery(element: ElementReader | undefined): DiscoverySettings {
  if (!element) return DEFAULTS.discovery;
  const type = element.enumAttribute('type', DISCOVERY_TYPES, { required: true }) ?? 'multicast';
  if (type !== 'dns') {
    element.reportUnknown();
    return { type };
  }
  const required = { required: true };
  const name = element.stringAttribute('name', { required: true, pattern: DNS_NAME, what: 'a DNS name' });
  const refreshMs = element.intAttribute('refreshMs', { min: 100, max: 600_000 }) ?? DEFAULTS.dnsRefreshMs;
  const resolver = element.stringAttribute('resolver', { pattern: RESOLVER, what: 'a DNS server as host or host:port' });
  const httpPort = element.intAttribute('httpPort', PORT, required);
  const replicationPort = element.intAttribute('replicationPort', PORT, required);
  const adminPort = element.intAttribute('adminPort', PORT, required);
  element.reportUnknown();
  const ports = [httpPort, replicationPort, adminPort];
  if (new Set(ports).size < 3 && ports.every((p) => p !== undefined)) element.error('httpPort, replicationPort and adminPort must differ: every member listens on all three');
  return { type, name: name ?? '', refreshMs, resolver, httpPort: httpPort ?? 0, replicationPort: replicationPort ?? 0, adminPort: adminPort ?? 0 };
}

/** `<Encryption links="off|secret|certificates" datagrams="signed|encrypted" admin="http|https" cert key ca/>`. */
export function readEncryption(element: ElementReader | undefined, file: string): EncryptionSettings {
  if (!element) return DEFAULTS.encryption;
  const links = element.enumAttribute('links', LINK_SECURITY) ?? DEFAULTS.encryption.links;
  const datagrams = element.enumAttribute('datagrams', DATAGRAM_PROTECTION) ?? DEFAULTS.encryption.datagrams;
  const admin = element.enumAttribute('admin', ADMIN_TRANSPORTS) ?? DEFAULTS.encryption.admin;
  const folder = path.dirname(path.resolve(file));
  const files = (['cert', 'key', 'ca'] as const).map((name) => {
    const value = element.stringAttribute(name);
    return value === undefined ? undefined : path.resolve(folder, value);
  });
  element.reportUnknown();
  const [cert, key, ca] = files;
  let certificates: CertificateFiles | undefined;
  const needs = [links === 'certificates' ? 'links="certificates"' : undefined, admin === 'https' ? 'admin="https"' : undefined].filter((n) => n !== undefined);
  if (needs.length > 0) {
    if (cert === undefined || key === undefined || ca === undefined) {
      element.error(`${needs.join(' and ')} needs cert, key and ca attributes (PEM files; {node} in a path stands for the node's name)`);
    } else {
      certificates = { cert, key, ca };
    }
  } else if (files.some((f) => f !== undefined)) {
    element.error(`cert, key and ca are read only with links="certificates" or admin="https", not links="${links}"`);
  }
  return { links, datagrams, admin, certificates };
}

const STORE_URL = /^(rediss?|redis\+cluster|redis\+sentinel):\/\/\S+$/;

/** `<Store type="redis" url mode flushMs backlogLimit keyPrefix/>`; undefined when absent. */
export function readStore(element: ElementReader | undefined): StoreSettings | undefined {
  if (!element) return undefined;
  element.enumAttribute('type', ['redis'] as const, { required: true });
  const url = element.stringAttribute('url', { required: true, pattern: STORE_URL, what: 'a redis://, rediss://, redis+cluster:// or redis+sentinel:// URL' });
  const mode = element.enumAttribute('mode', STORE_MODES) ?? 'write-through';
  const flushMs = element.intAttribute('flushMs', { min: 1, max: 60_000 }) ?? 100;
  const backlogLimit = element.intAttribute('backlogLimit', { min: 1, max: 10_000_000 }) ?? 100_000;
  const keyPrefix = element.stringAttribute('keyPrefix', { pattern: /^[A-Za-z0-9._-]{1,64}$/, what: '1-64 letters, digits, ".", "_" or "-"' }) ?? 'castmirror';
  element.reportUnknown();
  return url === undefined ? undefined : { type: 'redis', url, mode, flushMs, backlogLimit, keyPrefix };
}

/** The certificate files of one node: `{node}` in each path replaced by its name. */
export function certificateFilesFor(files: CertificateFiles, node: string): CertificateFiles {
  const forNode = (file: string): string => file.replaceAll('{node}', node);
  return { cert: forNode(files.cert), key: forNode(files.key), ca: forNode(files.ca) };
}

const UNREACHABLE_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

/**
 * Static discovery sends datagrams to each node's host and to the proxy's: each must be an
 * address or name the others can reach, not a wildcard. Reported at the element concerned.
 */
export function checkStaticTargets(discovery: DiscoverySettings, nodes: readonly { entry: NodeEntry; element: ElementReader }[], proxy: ProxySettings | undefined, proxyElement: ElementReader | undefined): void {
  if (discovery.type === 'multicast' || discovery.type === 'pubsub') return;
  for (const { entry, element } of nodes) {
    if (entry.index === 0 && UNREACHABLE_HOSTS.has(entry.host)) element.error(`with <Discovery type="${discovery.type}">, host of node ${entry.group} must be an address or name the other nodes can reach (datagrams are sent there), not ${entry.host}`);
  }
  if (proxy && proxyElement && UNREACHABLE_HOSTS.has(proxy.host)) proxyElement.error(`with <Discovery type="${discovery.type}">, <Proxy host> must be an address or name the nodes can reach (they send it their heartbeats), not ${proxy.host}`);
}

/** With dns discovery the members come from DNS: a `<ClusterNodes>` would be a second list that is not read. */
export function checkNoNodeList(discovery: DiscoverySettings, clusterNodes: ElementReader | undefined): void {
  if (discovery.type === 'dns' && clusterNodes) clusterNodes.error('with <Discovery type="dns"> the members are the addresses of the DNS name: remove <ClusterNodes>, which would not be read');
}

/**
 * pubsub discovery carries datagrams through the store, and keeps each session there as its
 * only second copy: it needs a `<Store>` that every commit waits for (write-behind would let
 * another node load an older state than the one a client was told of).
 */
export function checkPubSubStore(discovery: DiscoverySettings, store: StoreSettings | undefined, discoveryElement: ElementReader | undefined, storeElement: ElementReader | undefined): void {
  if (discovery.type !== 'pubsub' || !discoveryElement) return;
  if (!storeElement) discoveryElement.error('<Discovery type="pubsub"> publishes heartbeats and invalidations through the shared store: add <Store type="redis" url="..."/>');
  else if (store?.mode === 'write-behind') storeElement.error('with <Discovery type="pubsub"> the store holds the only other copy of each session: use mode="write-through" (every commit waits for the store)');
}
