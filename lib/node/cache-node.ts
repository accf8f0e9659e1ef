/**
 * CacheNode: one castmirror node. Composes the layers (transport, membership, messaging,
 * caches, admin API) and owns their lifecycle. `close()` is graceful and idempotent:
 * pending invalidations go out, a goodbye tells the others, then sockets close.
 */
import { InvalidArgumentError } from '../errors.js';
import type { NodeConfig, NodeEntry, ResolvedSecret } from '../config/types.js';
import { loadConfig } from '../config/load.js';
import { resolveNodeConfig } from '../config/resolve.js';
import { diffConfig } from '../config/diff.js';
import { ObjectCacheManager } from '../cache/manager.js';
import type { Membership, Member } from '../membership/membership.js';
import type { Probe } from '../membership/probe.js';
import { MulticastChannel } from '../transport/multicast.js';
import type { DropReason } from '../transport/cluster-channel.js';
import { ClusterCore } from './cluster-core.js';
import { AdminServer } from '../admin/server.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { newIncarnation, type Incarnation } from './incarnation.js';
import { collectMetrics } from './metrics.js';
import { ReferenceRegistry } from '../session/reference.js';
import { SessionManager, type SessionStats } from '../replication/session-manager.js';
import { PeerPool } from '../replication/peers.js';
import { Locator } from '../replication/locator.js';
import { newLinkStats, ReplicationServer, type LinkStats } from '../replication/link.js';
import { deriveKey } from '../wire/frame.js';
import type { MemberLoad } from '../wire/messages.js';
import { renderPrometheus } from '../metrics/prometheus.js';
import { RouteCookie, type RouteCookieOptions, type RouteCookieStats } from '../http/route-cookie.js';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ApplicationRegistry } from '../apps/registry.js';
import { ApplicationSync, type ChangeReport } from '../apps/sync.js';
import { effectiveState, sessionsUsing } from '../apps/admission.js';
import { publish } from '../diagnostics.js';
import type { AppState } from '../wire/messages.js';

export interface CacheNodeOptions {
  readonly config: NodeConfig;
  /** Required when the config is clustered. */
  readonly secret: ResolvedSecret | undefined;
  readonly logger?: Logger;
  /** Serve the admin API on the node's adminPort (default true). */
  readonly admin?: boolean;
  /** Fault injection for tests and drills. */
  readonly faults?: { readonly dropEveryNthDatagram?: number };
  readonly probe?: Probe;
  /** Logical reference kinds for session values; every node must define the same ones. */
  readonly references?: ReferenceRegistry<unknown>;
  /** Passed to each reference's `fromRef` (a database handle, say). */
  readonly referenceContext?: unknown;
  /** Name and attributes of the route cookie (the HTTP middleware sets it; the proxy reads it). */
  readonly routeCookie?: RouteCookieAttributes;
  /**
   * Where application states are persisted. Default: `.castmirror/apps.<node>.json` beside
   * server.xml when the config was read from a file; `false`: memory only.
   */
  readonly stateFile?: string | false;
}

/** What a config reload did on one node. */
export interface ReloadReport {
  readonly node: string;
  readonly applied: string[];
  readonly needsRestart: string[];
}

/** One application as this node sees it. */
export interface ApplicationStatus {
  readonly name: string;
  /** The state the cluster agreed on. */
  readonly state: AppState;
  /** On this node: a draining application with no session left here is disabled. */
  readonly effective: AppState;
  /** Live primary sessions on this node that use it. */
  readonly sessions: number;
  readonly version: number;
  readonly origin: string;
}

export type RouteCookieAttributes = Omit<RouteCookieOptions, 'secret' | 'cluster'>;

export interface MemberStatus {
  readonly name: string;
  readonly self: boolean;
  readonly state: Member['state'];
  readonly incarnation: string;
  readonly startedAt: string;
  readonly machine: string;
  readonly host: string;
  readonly adminPort: number;
  /** ISO time of the last heartbeat heard (for this node: sent), if any. */
  readonly lastHeartbeat: string | null;
  readonly msSinceHeard: number;
  readonly stateSince: string;
  readonly load: MemberLoad;
}

export interface NodeStatus {
  readonly node: string;
  readonly cluster: string;
  readonly clustered: boolean;
  readonly incarnation: string;
  readonly startedAt: string;
  readonly uptimeMs: number;
  /** False until this node hears its own heartbeat: multicast is not proven to work. */
  readonly multicastVerified: boolean;
  readonly members: readonly MemberStatus[];
  readonly dropped: Readonly<Record<DropReason, number>> | null;
  readonly sessions: SessionStats & { readonly mode: string; readonly backlogBytes: number };
  readonly replication: LinkStats | null;
  /** Route cookies read by the HTTP middleware: valid, and forged or malformed (ignored). */
  readonly routeCookies: RouteCookieStats;
  readonly applications: readonly ApplicationStatus[];
  /** True while the node hands its sessions over before leaving (drain, or a graceful close). */
  readonly leaving: boolean;
}

/** `.castmirror/apps.<node>.json` beside server.xml, when the config came from a file. */
function defaultStateFile(config: NodeConfig): string | undefined {
  const file = path.resolve(config.cluster.file);
  return existsSync(file) ? path.join(path.dirname(file), '.castmirror', `apps.${config.node.name}.json`) : undefined;
}

export class CacheNode {
  readonly name: string;
  readonly incarnation: Incarnation;
  readonly caches: ObjectCacheManager;
  /** @internal the clustered core (absent when standalone), for metrics and tests */
  readonly core: ClusterCore | undefined;
  /** @internal */
  readonly transport: MulticastChannel | undefined;
  /** Sessions this node serves and backs up. */
  readonly sessions: SessionManager;
  /** Signs and verifies the route cookie that tells the proxy and the nodes where a session lives. */
  readonly routeCookie: RouteCookie;
  /** Application states (enabled, draining, disabled), agreed across the cluster. */
  readonly apps: ApplicationRegistry;
  private readonly appSync: ApplicationSync | undefined;
  private readonly peers: PeerPool | undefined;
  private replicationServer: ReplicationServer | undefined;
  private admin: AdminServer | undefined;
  private readonly logger: Logger;
  private closing: Promise<void> | undefined;
  private currentConfig: NodeConfig;
  private readonly secret: ResolvedSecret | undefined;
  /** Node names accepted by the replication server; entries change on reload. */
  private readonly replicationPeers = new Set<string>();
  /** Where the peer pool finds each node; entries change on reload. */
  private readonly nodesByName = new Map<string, NodeEntry>();
  private resolveClosed!: (closing: Promise<void>) => void;
  private readonly closedSignal = new Promise<void>((resolve) => {
    this.resolveClosed = (closing) => void closing.then(resolve, resolve);
  });
  private readonly startedAtMonotonic = performance.now();
  private eluBaseline = performance.eventLoopUtilization();

  private constructor(options: CacheNodeOptions, incarnation: Incarnation, transport: MulticastChannel | undefined) {
    this.currentConfig = options.config;
    this.secret = options.secret;
    this.name = options.config.node.name;
    this.incarnation = incarnation;
    this.logger = options.logger ?? silentLogger;
    this.transport = transport;
    // Standalone nodes may run without a secret: their cookies then hold for this process only.
    this.routeCookie = new RouteCookie({ ...options.routeCookie, secret: options.secret?.value ?? randomBytes(32), cluster: options.config.cluster.name });
    const stateFile = options.stateFile ?? defaultStateFile(options.config);
    this.apps = new ApplicationRegistry({ self: this.name, initial: options.config.cluster.applications, ...(stateFile ? { stateFile } : {}), ...(options.logger ? { logger: options.logger } : {}) });
    this.apps.on('changed', (record) => {
      this.logger.info({ app: record.name, state: record.state, version: record.version, origin: record.origin }, 'application state');
      publish('app', () => ({ node: this.name, app: record.name, state: record.state, version: record.version, origin: record.origin }));
    });
    if (transport) {
      const { config } = options;
      this.core = new ClusterCore({
        transport,
        identity: { cluster: config.cluster.name, name: this.name, incarnation: incarnation.id, startedAt: incarnation.startedAt },
        secret: options.secret!.value,
        maxDatagramBytes: config.messaging.maxDatagramBytes,
        coalesceMs: config.messaging.coalesceMs,
        self: { machine: config.node.machine, host: config.node.host, adminPort: options.admin === false ? 0 : config.node.adminPort, replicationPort: config.node.replicationPort },
        heartbeat: config.heartbeat,
        knownNodes: config.cluster.nodes.map((n) => n.name),
        load: () => this.load(),
        logger: this.logger,
        ...(options.probe ? { probe: options.probe } : {}),
      });
      this.logMembership(this.core.membership);
    }
    this.caches = new ObjectCacheManager(options.config.caches, this.core?.bus);
    const { config } = options;
    const references = options.references ?? new ReferenceRegistry();
    const manager = {
      self: { name: this.name, incarnation: incarnation.id, machine: config.node.machine, pinnedBackup: config.node.backup },
      nodes: config.cluster.nodes,
      replication: config.replication,
      timeoutMs: config.sessions.timeoutSeconds * 1000,
      references,
      referenceContext: options.referenceContext,
      logger: this.logger,
    };
    if (this.core) {
      const identity = { cluster: config.cluster.name, node: this.name, incarnation: incarnation.id, key: deriveKey(options.secret!.value, config.cluster.name, 'replication') };
      for (const n of config.cluster.nodes) this.nodesByName.set(n.name, n);
      this.peers = new PeerPool(identity, (name) => {
        const node = this.nodesByName.get(name);
        return node ? { name, host: node.host, port: node.replicationPort } : undefined;
      }, newLinkStats());
      const locator = new Locator(this.core.channel, this.core.membership, { roleOf: (id) => this.sessions.store.roleOf(id), versionOf: (id) => this.sessions.store.versionOf(id) });
      this.core.route('locate', (envelope) => locator.onLocate(envelope));
      this.core.route('located', (envelope) => locator.onLocated(envelope));
      const appSync = new ApplicationSync(this.apps, this.core.channel, this.core.membership);
      this.core.route('apps', (envelope) => appSync.onApps(envelope));
      this.core.route('apps-ack', (envelope) => appSync.onAck(envelope));
      this.appSync = appSync;
      this.sessions = new SessionManager({ ...manager, membership: this.core.membership, peers: this.peers, locator });
    } else {
      this.sessions = new SessionManager(manager);
    }
  }

  /** Joins the cluster (if clustered), starts the admin API and the heartbeats. */
  static async start(options: CacheNodeOptions): Promise<CacheNode> {
    const { config } = options;
    const incarnation = newIncarnation();
    let transport: MulticastChannel | undefined;
    if (config.cluster.clustered) {
      if (!options.secret) throw new InvalidArgumentError('a clustered node needs the cluster secret');
      transport = await MulticastChannel.openGroup(config.multicast, config.messaging, { dropEveryNth: options.faults?.dropEveryNthDatagram ?? 0 });
    }
    const node = new CacheNode(options, incarnation, transport);
    try {
      if (node.peers) {
        node.replicationServer = await ReplicationServer.listen({
          host: config.node.host,
          port: config.node.replicationPort,
          identity: { cluster: config.cluster.name, node: node.name, incarnation: incarnation.id, key: deriveKey(options.secret!.value, config.cluster.name, 'replication') },
          knownNodes: node.setReplicationPeers(config),
          stats: node.peers.stats,
          handle: (message, from) => node.sessions.handle(message, from),
        });
      }
      if (options.admin !== false) {
        node.admin = await AdminServer.listen({ node, host: config.admin.host, port: config.node.adminPort, secret: options.secret?.value, logger: node.logger });
      }
    } catch (error) {
      await node.close();
      throw error;
    }
    if (transport && transport.stats.recvBufferBytes < config.messaging.recvBufferBytes) {
      node.logger.warn(
        { requested: config.messaging.recvBufferBytes, granted: transport.stats.recvBufferBytes },
        'the kernel granted a smaller multicast receive buffer than requested; raise net.core.rmem_max to avoid drops in bursts',
      );
    }
    node.core?.start();
    node.logger.info({ incarnation: incarnation.id, clustered: config.cluster.clustered, admin: node.adminAddress }, 'node started');
    publish('node', () => ({ node: node.name, incarnation: incarnation.id, event: 'started' }));
    return node;
  }

  /** The config this node runs: the one it started with, plus what reloads applied. */
  get config(): NodeConfig {
    return this.currentConfig;
  }

  private setReplicationPeers(config: NodeConfig): Set<string> {
    this.replicationPeers.clear();
    for (const n of config.cluster.nodes) this.replicationPeers.add(n.name);
    return this.replicationPeers;
  }

  /**
   * Re-reads server.xml (the file this node started from) and applies what a running node
   * can take: the node list, cache capacities, TTLs and new types, new applications,
   * heartbeat and replication settings. Everything else is listed as needing a restart.
   * Throws ConfigError (every problem, positioned) when the file does not validate: then
   * nothing is applied.
   */
  async reload(env?: NodeJS.ProcessEnv): Promise<ReloadReport> {
    const loaded = await loadConfig(this.currentConfig.cluster.file, env ? { env } : {});
    if (!loaded.config.nodes.some((n) => n.name === this.name)) {
      return { node: this.name, applied: [], needsRestart: [`${this.name} is no longer listed in <ClusterNodes>: drain it (castmirror drain --node ${this.name}) to take it out`] };
    }
    const next = resolveNodeConfig(loaded.config, this.name);
    const current = this.currentConfig;
    const diff = diffConfig(current, next, { current: this.secret, next: loaded.secret });
    const nodes = next.cluster.nodes;
    this.nodesByName.clear();
    for (const n of nodes) this.nodesByName.set(n.name, n);
    this.setReplicationPeers(next);
    this.membership?.reconfigure({ knownNodes: nodes.map((n) => n.name), heartbeat: next.heartbeat });
    this.sessions.reconfigure(next.replication);
    this.caches.reconfigure(next.caches);
    this.apps.declare(next.cluster.applications);
    // What needs a restart keeps its running value; the rest is the new file's.
    const caches = [...current.caches.filter((c) => !next.caches.some((x) => x.type === c.type)), ...next.caches];
    const applications = [...current.cluster.applications.filter((a) => !next.cluster.applications.some((x) => x.name === a.name)), ...next.cluster.applications];
    this.currentConfig = Object.freeze({
      ...current,
      cluster: Object.freeze({ ...current.cluster, nodes, caches, applications, heartbeat: next.cluster.heartbeat, replication: next.cluster.replication }),
      heartbeat: next.heartbeat,
      replication: next.replication,
      caches,
    });
    this.logger.info({ applied: diff.live, needsRestart: diff.restart }, 'config reloaded');
    publish('node', () => ({ node: this.name, incarnation: this.incarnation.id, event: 'reloaded', applied: diff.live, needsRestart: diff.restart }));
    return { node: this.name, applied: [...diff.live], needsRestart: [...diff.restart] };
  }

  get membership(): Membership | undefined {
    return this.core?.membership;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Where the admin API listens, if it does. */
  get adminAddress(): { host: string; port: number } | undefined {
    return this.admin?.address;
  }

  status(): NodeStatus {
    const now = performance.now();
    // A standalone node is a cluster of one.
    const members = this.membership ? this.membership.list() : [this.standaloneSelf()];
    return {
      node: this.name,
      cluster: this.config.cluster.name,
      clustered: this.config.cluster.clustered,
      incarnation: this.incarnation.id,
      startedAt: new Date(this.incarnation.startedAt).toISOString(),
      uptimeMs: Math.round(now - this.startedAtMonotonic),
      multicastVerified: this.membership?.multicastVerified ?? false,
      members: members.map((m) => ({
        name: m.name,
        self: m.isSelf,
        state: m.state,
        incarnation: m.incarnation,
        startedAt: new Date(m.startedAt).toISOString(),
        machine: m.machine,
        host: m.host,
        adminPort: m.adminPort,
        lastHeartbeat: m.lastHeartbeatWallTime === undefined ? null : new Date(m.lastHeartbeatWallTime).toISOString(),
        msSinceHeard: m.isSelf ? 0 : Math.round(now - m.lastHeardAt),
        stateSince: new Date(m.stateSince).toISOString(),
        load: m.load,
      })),
      dropped: this.core ? { ...this.core.channel.drops } : null,
      sessions: { ...this.sessions.snapshotStats(), mode: this.config.replication.mode, backlogBytes: this.peers?.backlog ?? 0 },
      replication: this.peers ? { ...this.peers.stats } : null,
      routeCookies: { ...this.routeCookie.stats },
      applications: this.applications(),
      leaving: this.closing !== undefined,
    };
  }

  /** Every application's state, cluster-wide and on this node. */
  applications(): ApplicationStatus[] {
    return this.apps.list().map((record) => {
      const sessions = sessionsUsing(this.sessions, record.name);
      return { name: record.name, state: record.state, effective: effectiveState(record, sessions), sessions, version: record.version, origin: record.origin };
    });
  }

  /**
   * Enables, disables (immediately) or drains (a graceful disable) an application on every
   * live node: the report says which nodes applied it and which did not answer.
   */
  async setApplicationState(name: string, state: AppState): Promise<ChangeReport> {
    if (this.appSync) return this.appSync.change(name, state);
    return { app: this.apps.change(name, state), applied: [this.name], missing: [], elapsedMs: 0 };
  }

  /** Prometheus text exposition of this node's counters and gauges. */
  metrics(): string {
    return renderPrometheus(collectMetrics(this), { node: this.name });
  }

  /**
   * Graceful: hands every primary session to another node and has every backup copy held
   * here re-homed, flushes invalidations, says goodbye, closes sockets. Idempotent. The
   * admin API stays up until the sessions are handed over, so progress can be watched.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    this.resolveClosed(this.closing);
    return this.closing;
  }

  /** Resolves once the node has closed, whoever closed it (a signal, a drain request). */
  whenClosed(): Promise<void> {
    return this.closedSignal;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async shutdown(): Promise<void> {
    publish('node', () => ({ node: this.name, incarnation: this.incarnation.id, event: 'closing' }));
    try {
      await this.sessions.close();
    } catch (error) {
      this.logger.warn({ err: error }, 'could not hand every session over');
    }
    await this.replicationServer?.close();
    try {
      await this.core?.stop();
    } catch (error) {
      this.logger.warn({ err: error }, 'could not send the last invalidations');
    }
    await this.admin?.close();
    await this.transport?.close();
    this.caches.close();
    this.logger.info({ incarnation: this.incarnation.id }, 'node closed');
    publish('node', () => ({ node: this.name, incarnation: this.incarnation.id, event: 'closed' }));
  }

  private standaloneSelf(): Member {
    const { node } = this.config;
    return {
      name: this.name,
      isSelf: true,
      incarnation: this.incarnation.id,
      startedAt: this.incarnation.startedAt,
      state: 'alive',
      machine: node.machine,
      host: node.host,
      adminPort: this.admin ? node.adminPort : 0,
      replicationPort: node.replicationPort,
      load: this.load(),
      published: { seq: 0, types: [] },
      lastHeardAt: performance.now(),
      lastHeartbeatWallTime: undefined,
      stateSince: this.incarnation.startedAt,
    };
  }

  private load(): MemberLoad {
    const elu = performance.eventLoopUtilization(this.eluBaseline);
    this.eluBaseline = performance.eventLoopUtilization();
    return {
      elu: Math.min(1, Math.max(0, Math.round(elu.utilization * 1000) / 1000)),
      // Fields are still being set while the membership is wired up.
      items: this.caches?.totalEntries ?? 0,
      sessions: this.sessions?.count ?? 0,
    };
  }

  private logMembership(membership: Membership): void {
    for (const event of ['joined', 'suspect', 'alive', 'dead', 'left', 'restarted'] as const) {
      membership.on(event, (m: Member) => publish('member', () => ({ node: this.name, member: m.name, incarnation: m.incarnation, event })));
    }
    membership.on('joined', (m) => this.logger.info({ member: m.name, incarnation: m.incarnation }, 'member joined'));
    membership.on('suspect', (m) => this.logger.warn({ member: m.name }, 'member suspected'));
    membership.on('alive', (m) => this.logger.info({ member: m.name }, 'member alive again'));
    membership.on('left', (m) => this.logger.info({ member: m.name }, 'member left'));
    membership.on('restarted', (m, previous) =>
      this.logger.warn({ member: m.name, incarnation: m.incarnation, previous: previous.incarnation }, 'member restarted'),
    );
  }
}
