/**
 * The typed shape of server.xml after validation. Everything here is frozen and trusted:
 * code below the config layer never re-checks these values.
 */

/** Node, cache type and application names: 1-64 letters, digits, ".", "_" or "-", not starting with a punctuation mark. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const REPLICATION_MODES = ['sync', 'async', 'batched'] as const;
export type ReplicationMode = (typeof REPLICATION_MODES)[number];

export interface MulticastSettings {
  readonly address: string;
  readonly port: number;
  /** IPv4 address of the interface to join and send on; `127.0.0.1` keeps traffic on this host. */
  readonly interface: string;
  readonly ttl: number;
}

/**
 * How the nodes find each other and how datagrams (heartbeats, invalidations, session
 * queries) reach them: `multicast` to the group; `static` by unicast UDP to each
 * `<ClusterNodes>` entry, at its host and replicationPort (UDP beside the TCP port of the
 * same number), for networks where multicast does not reach (cloud VPCs, most container
 * networks); `dns`: like static, to the addresses a DNS name holds (a Kubernetes headless
 * Service), looked up again every `refreshMs`, so members come and go without a config edit;
 * `pubsub`: published on a channel of the shared store (`<Store>`), for networks where the
 * nodes cannot reach each other at all; sessions then live on the node serving them and in
 * the store, with no backup node (lib/replication/store-coherence.ts).
 */
export const DISCOVERY_TYPES = ['multicast', 'static', 'dns', 'pubsub'] as const;
export type DiscoveryType = (typeof DISCOVERY_TYPES)[number];

/** `<Discovery type="dns">`: the name, where to ask, and the ports every member uses. */
export interface DnsDiscovery {
  readonly type: 'dns';
  /** Its A records are the members' addresses; each member is named by its address. */
  readonly name: string;
  readonly refreshMs: number;
  /** A DNS server to ask (`host` or `host:port`) instead of the system's. */
  readonly resolver: string | undefined;
  readonly httpPort: number;
  readonly replicationPort: number;
  readonly adminPort: number;
}

export type DiscoverySettings = { readonly type: 'multicast' | 'static' | 'pubsub' } | DnsDiscovery;

/**
 * Replication links: plain TCP behind the secret's challenge-response (`off`), TLS 1.3 keyed
 * from the cluster secret (`secret`: a pre-shared key, no certificates), or TLS with
 * certificates from files, checked both ways (`certificates`).
 */
export const LINK_SECURITY = ['off', 'secret', 'certificates'] as const;
export type LinkSecurity = (typeof LINK_SECURITY)[number];

/** Datagrams: signed (HMAC, readable on the wire) or encrypted and authenticated (AES-256-GCM). */
export const DATAGRAM_PROTECTION = ['signed', 'encrypted'] as const;
export type DatagramProtection = (typeof DATAGRAM_PROTECTION)[number];

/** PEM files for `links="certificates"` (absolute); `{node}` in a path stands for the node's name. */
export interface CertificateFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** The admin API: plain HTTP, or HTTPS with the node's certificate (browsers need certificates: no pre-shared key here). */
export const ADMIN_TRANSPORTS = ['http', 'https'] as const;
export type AdminTransport = (typeof ADMIN_TRANSPORTS)[number];

/** `<Encryption>`: what cluster traffic is protected with; every node must agree. */
export interface EncryptionSettings {
  readonly links: LinkSecurity;
  readonly datagrams: DatagramProtection;
  readonly admin: AdminTransport;
  /** Read when links="certificates" or admin="https". */
  readonly certificates: CertificateFiles | undefined;
}

/**
 * `<Store>`: a shared store every node can reach (Redis or Valkey), a second line of defence
 * behind the backup node. `write-through`: a commit is acknowledged once the store has it
 * too; `write-behind`: the store is updated in batches every `flushMs`.
 */
export const STORE_MODES = ['write-through', 'write-behind'] as const;
export type StoreMode = (typeof STORE_MODES)[number];

export interface StoreSettings {
  readonly type: 'redis';
  /** `redis://` or `rediss://` (TLS); `redis+cluster://h1:p1,h2:p2`; `redis+sentinel://h1:p1,h2:p2/master`. */
  readonly url: string;
  readonly mode: StoreMode;
  /** write-behind: how often changed sessions are written. */
  readonly flushMs: number;
  /** Changes waiting for the store while it is down (one per session); beyond it the oldest are dropped, counted. */
  readonly backlogLimit: number;
  /** Prefix of every key (`PREFIX:CLUSTER:...`), so clusters and applications can share a Redis. */
  readonly keyPrefix: string;
}

/** `<Messaging>`: datagram and coalescing limits of the multicast channel. */
export interface MessagingSettings {
  readonly maxDatagramBytes: number;
  /** How long an invalidation may wait for others to share its datagram. */
  readonly coalesceMs: number;
  readonly recvBufferBytes: number;
  /** Datagrams waiting to be processed; beyond this they are dropped and counted. */
  readonly receiveQueueLimit: number;
  /** A lost invalidation datagram is asked for again (NAK) before its cache types are cleared. */
  readonly retransmit: boolean;
}

export interface HeartbeatSettings {
  readonly intervalMs: number;
  readonly deadAfterMs: number;
}

export const REHOME_POLICIES = ['eager', 'lazy'] as const;
export type RehomePolicy = (typeof REHOME_POLICIES)[number];

/** What a sync commit that no backup could take does: acknowledged and reported, or refused. */
export const NO_BACKUP_POLICIES = ['accept', 'refuse'] as const;
export type NoBackupPolicy = (typeof NO_BACKUP_POLICIES)[number];

export interface ReplicationSettings {
  readonly mode: ReplicationMode;
  /**
   * sync mode, when no live backup can take a change (no other node, all unreachable):
   * `accept` answers it, marked as held on this node only (`X-Castmirror-Mirrored: 0`,
   * counted); `refuse` fails the request with CASTMIRROR_NOT_MIRRORED.
   */
  readonly noBackup: NoBackupPolicy;
  readonly batchSize: number;
  readonly batchIntervalMs: number;
  /** When a backup is lost: copy its sessions to a new backup at once, or at their next request. */
  readonly rehome: RehomePolicy;
}

export interface SessionSettings {
  readonly timeoutSeconds: number;
  /** The route cookie's name, read by every node and the proxy alike (cluster-wide). */
  readonly cookie: string;
}

/** The route cookie's name when `<Sessions cookie>` does not give one. */
export const DEFAULT_ROUTE_COOKIE = 'castmirror.route';

/** A cookie name (RFC 6265 token). */
export const COOKIE_NAME_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;

export interface AdminSettings {
  readonly host: string;
}

/** Who may use the admin API and page: `read` may look, `operator` may also act. */
export const ADMIN_ROLES = ['read', 'operator'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

/** `<Admin><User name role env file/></Admin>`: an admin login of its own, not the cluster secret. */
export interface AdminUserSettings {
  readonly name: string;
  readonly role: AdminRole;
  /** Where the password is: an environment variable first, then a file (absolute). */
  readonly password: SecretSettings;
}

/** A user with the password found; kept out of ClusterConfig so that it is never printed. */
export interface AdminCredential {
  readonly name: string;
  readonly role: AdminRole;
  readonly password: Buffer;
}

export interface ProxySettings {
  readonly host: string;
  readonly port: number;
}

export interface NodeEntry {
  /** `web1`, or `web1-0`..`web1-3` for the processes of `<Node name="web1" processes="4">`. */
  readonly name: string;
  /** The `<Node>` entry this process belongs to: its name, or the name itself for a single process. */
  readonly group: string;
  /** This process's number within its group (0 for a single process); its ports are the entry's plus this. */
  readonly index: number;
  /** How many processes the group has (1 for a single process). */
  readonly processes: number;
  readonly host: string;
  readonly machine: string;
  readonly httpPort: number;
  readonly replicationPort: number;
  readonly adminPort: number;
  /**
   * `backup="node-x"`: keep this node's session backups there while it is alive. A backup
   * naming a group pins process i to that group's process i modulo its size.
   */
  readonly backup: string | undefined;
}

/** The most processes one `<Node>` may ask for; `processes="auto"` is capped here too. */
export const MAX_PROCESSES_PER_NODE = 64;

/**
 * Why a node named `web1-5` may be missing from a config listing `web1-0..web1-3`: the
 * machines reading it count different cores for `processes="auto"`. Undefined otherwise.
 */
export function unlistedProcessHint(listed: readonly string[], name: string): string | undefined {
  const match = /^(.+)-(\d+)$/.exec(name);
  if (!match || !listed.some((n) => n.startsWith(`${match[1]}-`) && /^\d+$/.test(n.slice(match[1]!.length + 1)))) return undefined;
  return `${name} looks like a process of <Node name="${match[1]}" processes=...>, which lists fewer here: processes="auto" counts the cores of each machine that reads server.xml, so machines with different cores disagree; write the number instead`;
}

export interface CacheSettings {
  readonly type: string;
  readonly capacity: number;
  /** 0 means entries never expire by age. */
  readonly ttlSeconds: number;
}

export interface ApplicationEntry {
  readonly name: string;
  readonly enabled: boolean;
}

export type SecretSource = 'env' | 'file' | 'inline';

export interface SecretSettings {
  readonly env: string | undefined;
  /** Absolute path (relative paths in server.xml are taken from the config file's folder). */
  readonly file: string | undefined;
  /** The secret written as the element's text: discouraged, and never printed. */
  readonly inline: string | undefined;
}

export interface ResolvedSecret {
  readonly source: SecretSource;
  readonly value: Buffer;
}

/** The settings a `<NodeSetting>` may override, as the node that receives them sees them. */
export interface NodeScopedSettings {
  readonly messaging: MessagingSettings;
  readonly heartbeat: HeartbeatSettings;
  readonly replication: ReplicationSettings;
  readonly sessions: SessionSettings;
  readonly admin: AdminSettings;
  readonly caches: readonly CacheSettings[];
}

/** Only what one `<NodeSetting>` names; everything else comes from the cluster-wide value. */
export interface NodeOverrides {
  readonly multicastInterface?: string;
  readonly multicastTTL?: number;
  readonly messaging?: Partial<MessagingSettings>;
  readonly heartbeat?: Partial<HeartbeatSettings>;
  readonly replication?: Partial<ReplicationSettings>;
  readonly sessions?: Partial<Omit<SessionSettings, 'cookie'>>;
  readonly admin?: Partial<AdminSettings>;
  readonly caches?: readonly (Partial<CacheSettings> & { readonly type: string })[];
}

export interface ClusterConfig {
  /** The file this was read from, as given. */
  readonly file: string;
  readonly name: string;
  /** `<Cluster>1</Cluster>`; when false the node runs alone, with no multicast. */
  readonly clustered: boolean;
  readonly discovery: DiscoverySettings;
  readonly encryption: EncryptionSettings;
  /** Used when `discovery.type` is `multicast` (address and port empty otherwise). */
  readonly multicast: MulticastSettings;
  readonly messaging: MessagingSettings;
  readonly secret: SecretSettings | undefined;
  readonly heartbeat: HeartbeatSettings;
  readonly replication: ReplicationSettings;
  readonly sessions: SessionSettings;
  readonly admin: AdminSettings;
  /** Admin logins (cluster-wide: a login on one node's page is valid on every node's). */
  readonly adminUsers: readonly AdminUserSettings[];
  readonly proxy: ProxySettings | undefined;
  /** `<Store>`: undefined when sessions live in the nodes' memory only. */
  readonly store: StoreSettings | undefined;
  readonly nodes: readonly NodeEntry[];
  readonly caches: readonly CacheSettings[];
  readonly applications: readonly ApplicationEntry[];
  readonly overrides: Readonly<Record<string, NodeOverrides>>;
}

/** One node's view: cluster-wide settings with its `<NodeSetting>` applied. */
export interface NodeConfig extends NodeScopedSettings {
  readonly cluster: ClusterConfig;
  readonly node: NodeEntry;
  /** Multicast group settings with this node's interface and TTL. */
  readonly multicast: MulticastSettings;
}

export const DEFAULTS = Object.freeze({
  multicastInterface: '0.0.0.0',
  multicastTTL: 1,
  discovery: Object.freeze({ type: 'multicast' }) as DiscoverySettings,
  dnsRefreshMs: 5_000,
  encryption: Object.freeze({ links: 'off' as LinkSecurity, datagrams: 'signed' as DatagramProtection, admin: 'http' as AdminTransport, certificates: undefined }),
  messaging: Object.freeze({
    maxDatagramBytes: 1400,
    coalesceMs: 1,
    recvBufferBytes: 4 * 1024 * 1024,
    receiveQueueLimit: 10_000,
    retransmit: true,
  }),
  heartbeat: Object.freeze({ intervalMs: 200, deadAfterMs: 1000 }),
  replication: Object.freeze({ mode: 'sync' as ReplicationMode, batchSize: 100, batchIntervalMs: 1000, rehome: 'eager' as RehomePolicy, noBackup: 'accept' as NoBackupPolicy }),
  sessions: Object.freeze({ timeoutSeconds: 1800, cookie: DEFAULT_ROUTE_COOKIE }),
  admin: Object.freeze({ host: '127.0.0.1' }),
  proxyHost: '127.0.0.1',
  cacheCapacity: 10_000,
  cacheTtlSeconds: 0,
});
