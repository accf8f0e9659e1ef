/**
 * Outbound replication links, one per peer, opened on demand. After a failed connect the
 * peer is not tried again until a backoff has passed (50 ms doubling to 2 s), so a dead
 * backup costs one refused connect, not one per request.
 */
import { PeerUnavailableError } from '../errors.js';
import { connect, type Connection, type LinkIdentity, type LinkStats, type Sendable } from './link.js';
import type { ReplicationMessage } from './protocol.js';

const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 2000;

export interface PeerAddress {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

interface PeerState {
  connection: Connection | undefined;
  connecting: Promise<Connection> | undefined;
  backoffMs: number;
  retryAt: number;
}

/**
 * A hand-off or re-homing (a graceful leave) waits on work at the receiver (its own copy to
 * a third node, a request running on the session): it gets ten times the patience of a copy
 * or a fetch, but still a bound.
 */
function timeoutFor(message: Sendable, timeoutMs: number | undefined): number | undefined {
  if (timeoutMs === undefined) return undefined;
  return message.t === 'handoff' || message.t === 'rehome' ? 10 * timeoutMs : timeoutMs;
}

/** What the session roles need of the peers: requests that may find the peer unavailable. */
export type Peers = Pick<PeerPool, 'tryRequest' | 'trySend' | 'reset' | 'close'>;

export class PeerPool {
  private readonly peers = new Map<string, PeerState>();
  private closed = false;

  /**
   * `requestTimeoutMs`: how long a request to that peer waits for its answer (read at each
   * request, so a reload applies, and a peer already silent for a while gets less): a peer
   * that takes longer is treated as unavailable.
   */
  constructor(
    private readonly identity: LinkIdentity,
    private readonly address: (name: string) => PeerAddress | undefined,
    readonly stats: LinkStats,
    private readonly requestTimeoutMs: (name: string) => number | undefined = () => undefined,
  ) {}

  /** The open connection to `name`, if there is one (no waiting: the hot path). */
  ready(name: string): Connection | undefined {
    const connection = this.peers.get(name)?.connection;
    return connection && !connection.closed ? connection : undefined;
  }

  /** An authenticated connection to `name`; throws PeerUnavailableError. */
  async get(name: string): Promise<Connection> {
    if (this.closed) throw new PeerUnavailableError(name, 'this node is closing');
    const state = this.state(name);
    if (state.connection && !state.connection.closed) return state.connection;
    if (state.connecting) return state.connecting;
    if (Date.now() < state.retryAt) throw new PeerUnavailableError(name, 'recently unreachable (backing off)');
    const address = this.address(name);
    if (!address) throw new PeerUnavailableError(name, 'not a known node');
    // The handshake is a request too: a stalled peer's kernel accepts the connection, and
    // nothing answers it.
    state.connecting = connect(address, this.identity, this.stats, this.requestTimeoutMs(name)).then(
      (connection) => {
        state.connection = connection;
        state.connecting = undefined;
        state.backoffMs = 0;
        return connection;
      },
      (error: unknown) => {
        state.connecting = undefined;
        state.backoffMs = Math.min(MAX_BACKOFF_MS, state.backoffMs === 0 ? FIRST_BACKOFF_MS : state.backoffMs * 2);
        state.retryAt = Date.now() + state.backoffMs;
        throw error;
      },
    );
    return state.connecting;
  }

  /**
   * A request to `name`: its reply, or undefined when the peer is unavailable (refused, gone,
   * backing off). The hot path takes an open, uncongested link without waiting for anything;
   * otherwise it connects, and waits for a congested link to drain.
   */
  async tryRequest(name: string, message: Sendable): Promise<ReplicationMessage | undefined> {
    try {
      let connection = this.ready(name);
      if (!connection || connection.congested) {
        connection = await this.get(name);
        await connection.drained();
      }
      return await connection.request(message, timeoutFor(message, this.requestTimeoutMs(name)));
    } catch (error) {
      if (error instanceof PeerUnavailableError) return undefined;
      throw error;
    }
  }

  /** A message that needs no answer; dropped if the peer is unavailable. */
  async trySend(name: string, message: ReplicationMessage): Promise<void> {
    try {
      (await this.get(name)).send(message);
    } catch (error) {
      if (!(error instanceof PeerUnavailableError)) throw error;
    }
  }

  /** Forgets a peer's connection and backoff (it died, or restarted with a new incarnation). */
  reset(name: string): void {
    this.peers.get(name)?.connection?.close();
    this.peers.delete(name);
  }

  /** Bytes queued on every link, for metrics. */
  get backlog(): number {
    let total = 0;
    for (const state of this.peers.values()) total += state.connection?.backlog ?? 0;
    return total;
  }

  close(): void {
    this.closed = true;
    for (const state of this.peers.values()) state.connection?.close();
    this.peers.clear();
  }

  private state(name: string): PeerState {
    let state = this.peers.get(name);
    if (!state) {
      state = { connection: undefined, connecting: undefined, backoffMs: 0, retryAt: 0 };
      this.peers.set(name, state);
    }
    return state;
  }
}
