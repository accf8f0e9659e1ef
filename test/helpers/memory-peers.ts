/**
 * Replication links in memory, for unit tests of the session roles: a request to a node
 * goes through the real replication codec (encoded and decoded, as on a TCP link) to that
 * node's SessionManager.answer(), and its reply comes back the same way. A node marked down
 * is unavailable, as a refused connection would be.
 */
import type { Peers } from '../../lib/replication/peers.js';
import { decodeMessage, encodeMessage, type ReplicationMessage } from '../../lib/replication/protocol.js';
import type { Sendable } from '../../lib/replication/link.js';
import type { SessionManager } from '../../lib/replication/session-manager.js';

const overTheWire = (message: ReplicationMessage): ReplicationMessage => decodeMessage(encodeMessage(message));

export class PeerHub {
  readonly managers = new Map<string, SessionManager>();
  /** Nodes whose replication port refuses. */
  readonly down = new Set<string>();
  /** Nodes whose next request fails (a link reset), then answer again. */
  readonly failOnce = new Set<string>();
  /** Every request sent, as `from->to:kind`. */
  readonly log: string[] = [];
  private nextId = 1;

  peersFor(self: { readonly name: string; readonly incarnation: string }): Peers {
    const asker = { node: self.name, incarnation: self.incarnation };
    const reachable = (node: string): SessionManager | undefined => (this.down.has(node) || this.down.has(self.name) ? undefined : this.managers.get(node));
    return {
      tryRequest: async (node: string, message: Sendable) => {
        const target = reachable(node);
        if (!target || this.failOnce.delete(node)) return undefined;
        this.log.push(`${self.name}->${node}:${message.t}`);
        const reply = await target.answer(overTheWire({ ...message, id: this.nextId++ } as ReplicationMessage), asker);
        return reply && !this.down.has(node) ? overTheWire(reply) : undefined;
      },
      trySend: async (node: string, message: ReplicationMessage) => {
        const target = reachable(node);
        if (!target) return;
        this.log.push(`${self.name}->${node}:${message.t}`);
        await target.answer(overTheWire(message), asker);
      },
      reset: () => {},
      close: () => {},
    };
  }
}
