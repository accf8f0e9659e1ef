/**
 * What the admin page shows, gathered by the node that serves it: its own status and
 * caches, and each other node's status from that node's admin API (the node holds the
 * secret, so the browser talks to one node only). A node that does not answer in time is
 * shown as unreachable, never waited for.
 */
import type { ObjectCacheStats } from '../cache/object-cache.js';
import type { ApplicationStatus, CacheNode, NodeStatus } from '../node/cache-node.js';
import { AdminClient, adminEndpoint } from './client.js';

export interface NodeView {
  readonly name: string;
  readonly reachable: boolean;
  readonly sessions: { readonly primary: number; readonly backup: number } | null;
  readonly lastAckLagMs: number | null;
  readonly inFlight: number | null;
  readonly applications: readonly ApplicationStatus[] | null;
  /** The shared store as this node sees it (`<Store>`): its state and the changes waiting for it. */
  readonly store: { readonly state: string; readonly backlog: number } | null;
}

export interface ClusterView {
  readonly node: string;
  readonly cluster: string;
  readonly at: string;
  readonly members: NodeStatus['members'];
  readonly nodes: readonly NodeView[];
  readonly caches: readonly ObjectCacheStats[];
  readonly applications: readonly ApplicationStatus[];
}

const PEER_TIMEOUT_MS = 800;

export class ClusterViewSource {
  private readonly clients = new Map<string, AdminClient>();

  constructor(
    private readonly node: Pick<CacheNode, 'name' | 'config' | 'status' | 'caches'>,
    private readonly secret: Buffer | undefined,
  ) {}

  /** The other nodes of the config as it is now (a reload may have added some). */
  private get peers(): { name: string; client: AdminClient }[] {
    const { cluster } = this.node.config;
    return cluster.nodes
      .filter((n) => n.name !== this.node.name)
      .map((n) => {
        const endpoint = adminEndpoint(cluster, n);
        const key = `${n.name}@${endpoint.host}:${endpoint.port}`;
        let client = this.clients.get(key);
        if (!client) this.clients.set(key, (client = new AdminClient({ ...endpoint, secret: this.secret, timeoutMs: PEER_TIMEOUT_MS })));
        return { name: n.name, client };
      });
  }

  async view(): Promise<ClusterView> {
    const own = this.node.status();
    const others = await Promise.all(
      this.peers.map(async ({ name, client }) => {
        try {
          return nodeView(name, await client.json<NodeStatus>('GET', '/status'));
        } catch {
          return { name, reachable: false, sessions: null, lastAckLagMs: null, inFlight: null, applications: null, store: null };
        }
      }),
    );
    const nodes = [nodeView(this.node.name, own), ...others].sort((a, b) => a.name.localeCompare(b.name));
    return { node: own.node, cluster: own.cluster, at: new Date().toISOString(), members: own.members, nodes, caches: this.node.caches.stats(), applications: own.applications };
  }
}

function nodeView(name: string, status: NodeStatus): NodeView {
  const { sessions } = status;
  const store = status.store ? { state: status.store.state, backlog: status.store.backlog } : null;
  return { name, reachable: true, sessions: { primary: sessions.primaries, backup: sessions.backups }, lastAckLagMs: sessions.lastAckLagMs, inFlight: sessions.inFlight, applications: status.applications, store };
}
