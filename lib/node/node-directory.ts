/**
 * Where the other nodes are: the node list a node runs with, from server.xml (and reloads)
 * or from DNS answers. One owner for it; the replication server, the peer pool and the
 * membership read it from here.
 */
import type { NodeEntry } from '../config/types.js';

export class NodeDirectory {
  /** The names the replication server accepts: kept as one live set, updated in place. */
  readonly names = new Set<string>();
  private readonly byName = new Map<string, NodeEntry>();

  constructor(nodes: readonly NodeEntry[]) {
    this.set(nodes);
  }

  /** Replaces the list. */
  set(nodes: readonly NodeEntry[]): void {
    this.byName.clear();
    this.names.clear();
    for (const node of nodes) {
      this.byName.set(node.name, node);
      this.names.add(node.name);
    }
  }

  get(name: string): NodeEntry | undefined {
    return this.byName.get(name);
  }
}
