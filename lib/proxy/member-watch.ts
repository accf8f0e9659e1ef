/**
 * MemberWatch: the proxy's view of which nodes are alive and how loaded, learnt by
 * listening to the nodes' heartbeats (on the multicast group, or at its own address when
 * the nodes send by unicast). It only listens: it never
 * sends, so the nodes do not see it as a member. Frames are authenticated with the
 * cluster secret exactly as the nodes do; anything else is counted and dropped.
 *
 * A node is alive while its heartbeats keep coming, suspect once two are missing (it may be
 * stalled: requests for its sessions go to their backups first), down after `deadAfterMs`
 * of silence or a goodbye, and down after the proxy itself failed to connect to it, until a
 * heartbeat arrives after that failure (or, when no heartbeats reach the proxy, for a few
 * heartbeat timeouts).
 */
import { AdminClient, adminEndpoint } from '../admin/client.js';
import { READY_PATH } from '../admin/server.js';
import type { ClusterConfig, NodeEntry } from '../config/types.js';

const READINESS_TIMEOUT_MS = 1_000;
import { ClusterChannel } from '../transport/cluster-channel.js';
import type { DatagramChannel } from '../transport/datagram-channel.js';
import { openProxyDatagrams } from '../transport/discovery.js';
import { FrameCodec } from '../wire/frame.js';
import type { Envelope, MemberLoad } from '../wire/messages.js';

export interface WatchedMember {
  node: NodeEntry;
  incarnation: string | undefined;
  /** performance.now() of the last heartbeat, or -Infinity. */
  lastHeard: number;
  load: MemberLoad | undefined;
  /** New sessions sent there since its last heartbeat (its load figure does not count them yet). */
  assignedSinceHeartbeat: number;
  left: boolean;
  /** performance.now() of the last connection the proxy could not open, or -Infinity. */
  refusedAt: number;
  /** What the node's `GET /readyz` said last: false while it should get no traffic; undefined until asked. */
  ready: boolean | undefined;
}

/**
 * not-ready: heard and answering, but its `/readyz` says it should get no traffic (leaving,
 * not joined, no application enabled, or an application check failing): treated as suspect.
 */
export type MemberView = 'alive' | 'not-ready' | 'suspect' | 'unknown' | 'down';

export class MemberWatch {
  readonly members = new Map<string, WatchedMember>();
  private deadAfterMs: number;
  private intervalMs: number;

  /** Called (at most once a second) when an authenticated heartbeat names a node the config does not list. */
  onUnknownNode: (name: string) => void = () => {};
  private lastUnknownReport = -Infinity;
  private readinessTimer: NodeJS.Timeout | undefined;
  /** One client per node and admin address (HTTPS clients keep their CA). */
  private readonly readinessClients = new Map<string, AdminClient>();
  private config!: ClusterConfig;

  private constructor(
    config: ClusterConfig,
    private readonly transport: DatagramChannel | undefined,
    secret: Buffer | undefined,
  ) {
    this.deadAfterMs = config.heartbeat.deadAfterMs;
    this.intervalMs = config.heartbeat.intervalMs;
    this.reconfigure(config);
    if (transport && secret) {
      const codec = new FrameCodec({ cluster: config.name, secret, maxFrameBytes: config.messaging.maxDatagramBytes, encrypt: config.encryption.datagrams === 'encrypted' });
      const channel = new ClusterChannel(transport, codec, { cluster: config.name, name: 'castmirror-proxy', incarnation: 'listener', startedAt: Date.now() });
      channel.onEnvelope((envelope) => this.observe(envelope));
    }
  }

  /** Listens where the nodes send heartbeats (`<Discovery>`); a standalone config has none to hear. */
  static async open(config: ClusterConfig, secret: Buffer | undefined): Promise<MemberWatch> {
    const transport = config.clustered && secret ? await openProxyDatagrams(config) : undefined;
    return new MemberWatch(config, transport, transport && secret);
  }

  /** Takes a (re)loaded config: nodes added are watched, nodes removed are forgotten. */
  reconfigure(config: ClusterConfig): void {
    this.config = config;
    this.deadAfterMs = config.heartbeat.deadAfterMs;
    this.intervalMs = config.heartbeat.intervalMs;
    for (const node of config.nodes) {
      const known = this.members.get(node.name);
      if (known) known.node = node;
      else this.members.set(node.name, { node, incarnation: undefined, lastHeard: -Infinity, load: undefined, assignedSinceHeartbeat: 0, left: false, refusedAt: -Infinity, ready: undefined });
    }
    for (const name of this.members.keys()) if (!config.nodes.some((n) => n.name === name)) this.members.delete(name);
    // Made again as asked: members that left (dns discovery churns) keep no client.
    this.readinessClients.clear();
  }

  /** Whether heartbeats are being listened to (false: every listed node is taken as alive). */
  get listening(): boolean {
    return this.transport !== undefined;
  }

  /**
   * alive: heard within two heartbeat intervals and not refused since. suspect: silent for
   * longer, but less than deadAfterMs. unknown: never heard and never refused (the proxy just
   * started, or heartbeats do not reach it). down: silent too long, said goodbye, or refused
   * a connection since it was last heard.
   */
  stateOf(name: string, now = performance.now()): MemberView {
    const member = this.members.get(name);
    if (!member) return 'down';
    const refused = member.refusedAt > member.lastHeard && now - member.refusedAt <= this.deadAfterMs * 4;
    if (refused) return 'down';
    if (member.lastHeard === -Infinity) return 'unknown';
    if (member.left) return 'down';
    const silentFor = now - member.lastHeard;
    if (silentFor > 2 * this.intervalMs) return silentFor <= this.deadAfterMs ? 'suspect' : 'down';
    return member.ready === false ? 'not-ready' : 'alive';
  }

  /** Heard within deadAfterMs (alive or suspect), not refused, not gone. */
  isAlive(name: string, now = performance.now()): boolean {
    const state = this.stateOf(name, now);
    return state === 'alive' || state === 'not-ready' || state === 'suspect';
  }

  /**
   * Asks every node's `GET /readyz` (admin port, no credentials) every `intervalMs`: a 503
   * makes it not-ready, a 200 ready again. A node that does not answer keeps its last
   * answer: heartbeats and refused connections say whether it is there at all.
   */
  pollReadiness(intervalMs: number): void {
    clearInterval(this.readinessTimer);
    let polling = false;
    const poll = async (): Promise<void> => {
      if (polling) return;
      polling = true;
      try {
        await Promise.all([...this.members.values()].map((member) => this.askReady(member)));
      } finally {
        polling = false;
      }
    };
    this.readinessTimer = setInterval(() => void poll(), intervalMs).unref();
    void poll();
  }

  private async askReady(member: WatchedMember): Promise<void> {
    const endpoint = adminEndpoint(this.config, member.node);
    const key = `${member.node.name}@${endpoint.host}:${endpoint.port}`;
    let client = this.readinessClients.get(key);
    if (!client) this.readinessClients.set(key, (client = new AdminClient({ ...endpoint, secret: undefined, timeoutMs: READINESS_TIMEOUT_MS })));
    try {
      const { status } = await client.request('GET', READY_PATH);
      if (status === 200 || status === 503) member.ready = status === 200;
    } catch {
      // unreachable or slow: heartbeats decide
    }
  }

  /**
   * Was heard, has not said goodbye, and has been silent for deadAfterMs: a node that
   * stopped answering (killed, stalled, cut off). Requests waiting on it are not waited for
   * longer than a dead node would be.
   */
  stoppedAnswering(name: string, now = performance.now()): boolean {
    const member = this.members.get(name);
    return member !== undefined && member.lastHeard !== -Infinity && !member.left && now - member.lastHeard > this.deadAfterMs;
  }

  /** How often the proxy looks for nodes that stopped answering. */
  get checkIntervalMs(): number {
    return Math.max(5, this.intervalMs / 2);
  }

  incarnationOf(name: string): string | undefined {
    return this.members.get(name)?.incarnation;
  }

  /** The proxy could not connect: skip this node until it is heard from again. */
  markRefused(name: string): void {
    const member = this.members.get(name);
    if (member) member.refusedAt = performance.now();
  }

  /** Counts a new session sent to `name`, so a burst of new sessions spreads out. */
  assigned(name: string): void {
    const member = this.members.get(name);
    if (member) member.assignedSinceHeartbeat++;
  }

  /** Sessions the node holds as far as the proxy knows. */
  loadOf(member: WatchedMember): number {
    return (member.load?.sessions ?? 0) + member.assignedSinceHeartbeat;
  }

  close(): Promise<void> {
    clearInterval(this.readinessTimer);
    return this.transport?.close() ?? Promise.resolve();
  }

  private observe(envelope: Envelope): void {
    const member = this.members.get(envelope.sender);
    if (!member) {
      // Signed with the cluster secret: a node that a newer server.xml lists, most likely.
      const now = performance.now();
      if (envelope.kind === 'heartbeat' && now - this.lastUnknownReport > 1000) {
        this.lastUnknownReport = now;
        this.onUnknownNode(envelope.sender);
      }
      return;
    }
    if (envelope.kind === 'heartbeat') {
      member.incarnation = envelope.incarnation;
      member.lastHeard = performance.now();
      member.load = envelope.payload.load;
      member.assignedSinceHeartbeat = 0;
      member.left = false;
    } else if (envelope.kind === 'goodbye' && envelope.incarnation === member.incarnation) {
      member.left = true;
    }
  }
}
