/**
 * CacheNode: one castmirror node. Composes the layers (transport, membership, messaging,
 * caches, sessions, applications) and owns their lifecycle. `close()` is graceful and
 * idempotent: sessions are handed over, pending invalidations go out, a goodbye tells the
 * others, then what was attached (the admin API) and the sockets close.
 *
 * Edges (the admin API, the HTTP middleware, the proxy) sit above and are attached from
 * there (lib/start.ts); nothing here imports them.
 */
import { randomBytes } from 'node:crypto';
import { defaultStateFile, ApplicationRegistry } from '../apps/registry.js';
import { SharedApplicationStates } from '../apps/shared-states.js';
import { ApplicationSync, type ChangeReport } from '../apps/sync.js';
import { effectiveState, sessionsUsing } from '../apps/admission.js';
import { ObjectCacheManager } from '../cache/manager.js';
import { diffConfig, mergeRunning } from '../config/diff.js';
import { loadConfig } from '../config/load.js';
import { resolveNodeConfig } from '../config/resolve.js';
import { withMember, withMembers } from '../config/dns-members.js';
import type { NodeConfig, ResolvedSecret } from '../config/types.js';
import { publish } from '../diagnostics.js';
import { InvalidArgumentError } from '../errors.js';
import type { Membership } from '../membership/membership.js';
import type { Probe } from '../membership/probe.js';
import { renderPrometheus } from '../metrics/prometheus.js';
import { linkIdentity, newLinkStats, ReplicationServer, type LinkIdentity } from '../replication/link.js';
import { PeerPool } from '../replication/peers.js';
import { RouteToken } from '../replication/route-token.js';
import { SessionManager } from '../replication/session-manager.js';
import { SessionVault } from '../replication/vault.js';
import { ReferenceRegistry } from '../session/reference.js';
import type { DatagramChannel } from '../transport/datagram-channel.js';
import { openNodeDatagrams, retargetDatagrams } from '../transport/discovery.js';
import { CloseOnce } from '../util/close-once.js';
import { silentLogger, type Logger } from '../util/logger.js';
import type { AppState } from '../wire/messages.js';
import { ClusterCore } from './cluster-core.js';
import { newIncarnation, type Incarnation } from './incarnation.js';
import { logApplications, logMembership } from './event-log.js';
import { NodeDirectory } from './node-directory.js';
import { collectMetrics, type MetricSources } from './metrics.js';
import { memberStatus, standaloneMember, type ApplicationStatus, type NodeStatus, type ReloadReport } from './status.js';
import { LoadGauge } from './load-gauge.js';
import { ReadinessChecks, type Readiness, type ReadinessCheck } from './readiness.js';
import { RequestsInProgress } from './requests-in-progress.js';

export type { ApplicationStatus, MemberStatus, NodeStatus, ReloadReport } from './status.js';

export interface CacheNodeOptions {
  readonly config: NodeConfig;
  /** Required when the config is clustered. */
  readonly secret: ResolvedSecret | undefined;
  /** A pino-compatible logger; silent by default. */
  readonly logger?: Logger | undefined;
  /** The port this node's admin API serves on, advertised in heartbeats (absent or 0: none). */
  readonly adminPort?: number | undefined;
  /** Fault injection for tests and drills: drop every Nth received datagram. */
  readonly faults?: { readonly dropEveryNthDatagram?: number } | undefined;
  /** Replaces the TCP liveness probe (tests). */
  readonly probe?: Probe | undefined;
  /** Logical reference kinds for session values; every node must define the same ones. */
  readonly references?: ReferenceRegistry<any> | undefined;
  /** Passed to each reference's `fromRef` (a database handle, say). */
  readonly referenceContext?: unknown;
  /**
   * Where application states are persisted. Default: `.castmirror/apps.<node>.json` beside
   * server.xml when the config was read from a file; `false`: memory only.
   */
  readonly stateFile?: string | false | undefined;
}

/** Something that closes with the node: after its sessions are handed over, before its sockets. */
export interface Closeable {
  close(): Promise<void>;
}

export class CacheNode {
  readonly name: string;
  readonly incarnation: Incarnation;
  readonly caches: ObjectCacheManager;
  /** Sessions this node serves and backs up. */
  readonly sessions: SessionManager;
  /** Signs and verifies the route token that tells the proxy and the nodes where a session lives. */
  readonly routeToken: RouteToken;
  /** Application states (enabled, draining, disabled), agreed across the cluster. */
  readonly apps: ApplicationRegistry;
  private readonly readinessChecks = new ReadinessChecks();
  /** HTTP requests admitted here and not yet ended: a close waits for them before the hand-over. */
  readonly requestsInProgress = new RequestsInProgress();
  private readonly core: ClusterCore | undefined;
  private readonly transport: DatagramChannel | undefined;
  private readonly vault: SessionVault | undefined; // the shared store (`<Store>`): opened and closed here
  private readonly appSync: ApplicationSync | undefined;
  private readonly peers: PeerPool | undefined;
  private readonly linkIdentity: LinkIdentity | undefined;
  private replicationServer: ReplicationServer | undefined;
  private readonly attached: Closeable[] = [];
  /** Where this node's admin API listens (0: none), as heartbeats and status say. */
  private readonly adminPort: number;
  private readonly logger: Logger;
  private readonly lifecycle = new CloseOnce(() => this.shutdown());
  private currentConfig: NodeConfig;
  private readonly secret: ResolvedSecret | undefined;
  /** Where the other nodes are; changes on reload and, with dns discovery, with the name's answers. */
  private readonly directory: NodeDirectory;
  private readonly startedAtMonotonic = performance.now();
  private readonly load = new LoadGauge(() => ({ items: this.caches.totalEntries, sessions: this.sessions.count }));

  private constructor(options: CacheNodeOptions, incarnation: Incarnation, { transport, vault }: { readonly transport: DatagramChannel | undefined; readonly vault: SessionVault | undefined }) {
    const { config } = options;
    this.currentConfig = config;
    this.directory = new NodeDirectory(config.cluster.nodes);
    this.secret = options.secret;
    this.name = config.node.name;
    this.incarnation = incarnation;
    this.logger = options.logger ?? silentLogger;
    this.transport = transport;
    this.vault = vault;
    this.adminPort = options.adminPort ?? 0;
    // Standalone nodes may run without a secret: their route tokens then hold for this process only.
    this.routeToken = new RouteToken(options.secret?.value ?? randomBytes(32), config.cluster.name);
    const stateFile = options.stateFile === false ? undefined : (options.stateFile ?? defaultStateFile(config.cluster.file, this.name));
    this.apps = new ApplicationRegistry({ self: this.name, initial: config.cluster.applications, stateFile, logger: options.logger });
    logApplications(this.apps, this.name, this.logger);
    if (vault) SharedApplicationStates.attach(vault.client, config.cluster.store!, config.cluster.name, this.apps, this.logger);
    // pubsub discovery: no node reaches another; sessions have no backup node, only the store.
    const throughStore = config.cluster.discovery.type === 'pubsub';
    if (transport) {
      this.core = new ClusterCore({
        transport,
        identity: { cluster: config.cluster.name, name: this.name, incarnation: incarnation.id, startedAt: incarnation.startedAt },
        secret: options.secret!.value,
        encryptDatagrams: config.cluster.encryption.datagrams === 'encrypted',
        maxDatagramBytes: config.messaging.maxDatagramBytes,
        coalesceMs: config.messaging.coalesceMs,
        retransmit: config.messaging.retransmit,
        // No replication port to probe through the store: a silent member is dead after deadAfterMs.
        self: { machine: config.node.machine, host: config.node.host, adminPort: this.adminPort, replicationPort: throughStore ? 0 : config.node.replicationPort },
        heartbeat: config.heartbeat,
        knownNodes: config.cluster.nodes.map((n) => n.name),
        discovery: config.cluster.discovery.type,
        addressOf: throughStore ? undefined : (name) => this.directory.get(name),
        // Called only once heartbeats start, when every field below is set.
        load: () => this.load.sample(),
        logger: this.logger,
        probe: options.probe,
      });
      logMembership(this.core.membership, this.name, this.logger);
      this.appSync = new ApplicationSync(this.apps, this.core.channel, this.core.membership);
    }
    if (this.core && !throughStore) {
      this.linkIdentity = linkIdentity({ cluster: config.cluster.name, node: this.name, incarnation: incarnation.id }, options.secret!.value, config.cluster.encryption);
      this.peers = new PeerPool(this.linkIdentity, (name) => {
        const node = this.directory.get(name);
        return node ? { name, host: node.host, port: node.replicationPort } : undefined;
        // A peer that has not answered in deadAfterMs is treated as it would be once declared
        // dead: the request path never waits on a stalled node longer than on a dead one. One
        // already silent for a while gets what is left of that (at least one heartbeat interval).
      }, newLinkStats(), (name) => {
        const { deadAfterMs, intervalMs } = this.currentConfig.heartbeat;
        return Math.max(intervalMs, deadAfterMs - (this.core?.membership.silentFor(name) ?? 0));
      });
    }
    this.caches = new ObjectCacheManager(config.caches, this.core?.bus);
    this.sessions = new SessionManager({
      self: { name: this.name, incarnation: incarnation.id, machine: config.node.machine, pinnedBackup: config.node.backup },
      replication: config.replication,
      timeoutMs: config.sessions.timeoutSeconds * 1000,
      stallAfterMs: config.cluster.clustered ? config.heartbeat.deadAfterMs : undefined,
      references: options.references ?? new ReferenceRegistry(),
      referenceContext: options.referenceContext,
      logger: this.logger,
      membership: throughStore ? undefined : this.core?.membership,
      peers: this.peers,
      channel: throughStore ? undefined : this.core?.channel,
      vault: this.vault,
      bus: throughStore ? this.core?.bus : undefined,
    });
  }

  /** Joins the cluster (if clustered): opens the multicast group and the replication port, starts the heartbeats. */
  static async start(options: CacheNodeOptions): Promise<CacheNode> {
    const { config } = options;
    const incarnation = newIncarnation();
    let transport: DatagramChannel | undefined;
    if (config.cluster.clustered) {
      if (!options.secret) throw new InvalidArgumentError('a clustered node needs the cluster secret');
      transport = await openNodeDatagrams(config, { dropEveryNth: options.faults?.dropEveryNthDatagram ?? 0 }, options.logger);
    }
    // The shared store connects in the background: one that is down only waits for it.
    const vault = config.cluster.store ? await SessionVault.open(config.cluster.store, config.cluster.name, options.logger) : undefined;
    let node: CacheNode;
    try {
      node = new CacheNode(options, incarnation, { transport, vault });
    } catch (error) {
      await Promise.all([transport?.close(), vault?.close()]); // a certificate file that cannot be read
      throw error;
    }
    try {
      if (node.peers && node.linkIdentity) {
        node.replicationServer = await ReplicationServer.listen({
          host: config.node.host,
          port: config.node.replicationPort,
          identity: node.linkIdentity,
          knownNodes: node.directory.names,
          stats: node.peers.stats,
          handle: (message, from) => node.sessions.answer(message, from),
        });
      }
    } catch (error) {
      await node.close();
      throw error;
    }
    node.core?.start();
    publish('node', () => ({ node: node.name, incarnation: incarnation.id, event: 'started' }));
    return node;
  }

  /**
   * Closes `closeable` with this node, after the sessions are handed over (so an attached
   * admin API stays up to show a drain's progress) and before the sockets; in reverse order
   * of attachment.
   */
  attach(closeable: Closeable): void {
    this.attached.unshift(closeable);
  }

  /**
   * @internal For tests and benchmarks only: the clustered core (channel, membership, bus)
   * and the multicast transport. These fields are private for a reason: nothing else may
   * depend on them.
   */
  static unsafeExposeInternals(node: CacheNode): { readonly core: ClusterCore | undefined; readonly transport: DatagramChannel | undefined } {
    return { core: node.core, transport: node.transport };
  }

  /** The config this node runs: the one it started with, plus what reloads applied. */
  get config(): NodeConfig {
    return this.currentConfig;
  }

  get membership(): Membership | undefined {
    return this.core?.membership;
  }

  get closed(): boolean {
    return this.lifecycle.started;
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
    // With dns discovery this node is a member whether or not the answer holds it yet.
    const cluster = loaded.config.discovery.type === 'dns' ? withMember(loaded.config, this.name) : loaded.config;
    if (!cluster.nodes.some((n) => n.name === this.name)) {
      return { node: this.name, applied: [], needsRestart: [`${this.name} is no longer listed in <ClusterNodes>: drain it (castmirror drain --node ${this.name}) to take it out`] };
    }
    const next = resolveNodeConfig(cluster, this.name);
    const diff = diffConfig(this.currentConfig, next, { current: this.secret, next: loaded.secret });
    await this.applyNodeList(next);
    this.sessions.reconfigure(next.replication);
    this.caches.reconfigure(next.caches);
    this.apps.declare(next.cluster.applications);
    this.currentConfig = mergeRunning(this.currentConfig, next);
    this.logger.info({ applied: diff.live, needsRestart: diff.restart }, 'config reloaded');
    publish('node', () => ({ node: this.name, incarnation: this.incarnation.id, event: 'reloaded', applied: diff.live, needsRestart: diff.restart }));
    return { node: this.name, applied: [...diff.live], needsRestart: [...diff.restart] };
  }

  /** Takes the members a DNS answer holds (dns discovery): they are the node list from now on. */
  async applyMembers(addresses: readonly string[]): Promise<void> {
    const next = resolveNodeConfig(withMembers(this.currentConfig.cluster, addresses), this.name);
    await this.applyNodeList(next);
    this.currentConfig = mergeRunning(this.currentConfig, next);
    this.logger.info({ members: addresses }, 'members from DNS changed');
  }

  private async applyNodeList(next: NodeConfig): Promise<void> {
    this.directory.set(next.cluster.nodes);
    this.membership?.reconfigure({ knownNodes: next.cluster.nodes.map((n) => n.name), heartbeat: next.heartbeat });
    if (this.transport) await retargetDatagrams(this.transport, next.cluster);
  }

  status(): NodeStatus {
    const now = performance.now();
    // A standalone node is a cluster of one.
    const members = this.membership ? this.membership.list() : [standaloneMember(this.config.node, this.incarnation, this.adminPort, this.load.sample())];
    return {
      node: this.name,
      cluster: this.config.cluster.name,
      clustered: this.config.cluster.clustered,
      incarnation: this.incarnation.id,
      startedAt: new Date(this.incarnation.startedAt).toISOString(),
      uptimeMs: Math.round(now - this.startedAtMonotonic),
      multicastVerified: this.membership?.multicastVerified ?? false,
      members: members.map((m) => memberStatus(m, now)),
      dropped: this.core ? { ...this.core.channel.drops } : null,
      sessions: { ...this.sessions.snapshotStats(), mode: this.config.replication.mode, backlogBytes: this.peers?.backlog ?? 0 },
      replication: this.peers ? { ...this.peers.stats } : null,
      store: this.vault ? { mode: this.vault.mode, ...this.vault.stats } : null,
      routeCookies: this.routeToken.stats,
      applications: this.applications(),
      leaving: this.lifecycle.started,
    };
  }

  /** A check `GET /readyz` runs (lib/node/readiness.ts); returns a function that removes it. */
  addReadinessCheck(name: string, check: ReadinessCheck): () => void {
    return this.readinessChecks.add(name, check);
  }

  /** Whether this node should get traffic now, and if not, why (lib/node/readiness.ts). */
  readiness(): Promise<Readiness> {
    return this.readinessChecks.evaluate({
      leaving: this.lifecycle.started,
      notJoined: this.config.cluster.clustered && !(this.membership?.multicastVerified ?? false),
      // Only "is one enabled" is asked: the states themselves, without counting sessions per application.
      applicationStates: this.apps.list().map((record) => record.state),
    });
  }

  /** Every application's state, cluster-wide and on this node. */
  applications(): ApplicationStatus[] {
    return this.apps.list().map((record) => {
      const sessions = sessionsUsing(this.sessions.primaries(), record.name);
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
    return renderPrometheus(collectMetrics(this.metricSources()), { node: this.name });
  }

  /** What this node's metric families are read from, now (for `collectMetrics`). */
  metricSources(): MetricSources {
    return {
      status: this.status(),
      caches: this.caches.stats(),
      latency: this.sessions.latency,
      membership: this.membership,
      bus: this.core?.bus,
      channel: this.core?.channel,
      transport: this.transport,
    };
  }

  /**
   * Graceful: hands every primary session to another node and has every backup copy held
   * here re-homed, flushes invalidations, says goodbye, closes sockets. Idempotent. What is
   * attached (the admin API) stays up until the sessions are handed over, so progress can
   * be watched.
   */
  close(): Promise<void> {
    return this.lifecycle.close();
  }

  /** Resolves when the node starts to close (before the hand-over), whoever closes it. */
  whenClosing(): Promise<void> {
    return this.lifecycle.whenClosing();
  }

  /** Resolves once the node has closed, whoever closed it (a signal, a drain request). */
  whenClosed(): Promise<void> {
    return this.lifecycle.whenClosed();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async shutdown(): Promise<void> {
    publish('node', () => ({ node: this.name, incarnation: this.incarnation.id, event: 'closing' }));
    await this.requestsInProgress.drained();
    try {
      await this.sessions.close();
    } catch (error) {
      this.logger.warn({ err: error }, 'could not hand every session over');
    }
    // The goodbye goes before the replication port closes: a peer that probes this node
    // meanwhile finds it alive, never "dead".
    try {
      await this.core?.stop();
    } catch (error) {
      this.logger.warn({ err: error }, 'could not send the last invalidations');
    }
    await this.replicationServer?.close();
    await this.vault?.close();
    for (const closeable of this.attached) {
      try {
        await closeable.close();
      } catch (error) {
        this.logger.warn({ err: error }, 'an attached server did not close cleanly');
      }
    }
    await this.transport?.close();
    this.caches.close();
    this.logger.info({ incarnation: this.incarnation.id }, 'node closed');
    publish('node', () => ({ node: this.name, incarnation: this.incarnation.id, event: 'closed' }));
  }
}
