/**
 * StoreCoherence: sessions kept coherent through the shared store, with no backup node
 * (`<Discovery type="pubsub">`, the "local cache plus remote session server" design). Each
 * session lives on the node serving it and in the store, written through at every commit;
 * any node loads any session it does not hold from the store. What keeps two nodes from
 * serving two states of one session:
 *
 * - every write or delete the store takes is followed by an invalidation of the session's
 *   id on the bus, under the reserved type below: the other nodes mark their copy stale;
 * - a stale copy is read again from the store at its next request (finder.ts). When the
 *   store cannot answer, the copy held here is served, and counted: with the store down,
 *   each node serves what it holds;
 * - the bus's loss rules hold as for any cache type: an invalidation lost for good, or a
 *   member lost or restarted (its last invalidations may be lost with it), marks every
 *   session held here stale. So does a stall of this node's event loop: the invalidations
 *   that came meanwhile wait behind the requests that did;
 * - the route cookie carries the version after every change, so a request that reaches a
 *   node before its invalidation does still finds that node's copy too old.
 *
 * Two nodes serving one session at once (a balancer that ignores cookies, a cookie-less
 * store such as express-session's) write in turn: the last write wins, as with connect-redis.
 */
import type { ClearReason, InvalidationBus } from '../messaging/invalidation-bus.js';
import type { Logger } from '../util/logger.js';
import { StallWatch } from '../util/stall-watch.js';
import type { SessionStore } from './session-store.js';
import { tally, type Tally } from './stats.js';
import type { SessionVault } from './vault.js';

/** The bus type session invalidations travel under (cache types are `[A-Za-z0-9._-]`: no clash). */
export const SESSION_INVALIDATIONS = 'castmirror:sessions';

export interface StoreCoherenceOptions {
  readonly bus: InvalidationBus;
  readonly vault: SessionVault;
  readonly store: SessionStore;
  readonly logger: Logger;
  /** A stall of the event loop longer than this marks every session stale (absent: not watched). */
  readonly stallAfterMs?: number | undefined;
}

type CoherenceCounts = Tally<'sessionInvalidationsSent' | 'sessionInvalidationsReceived' | 'staleMarkAll' | 'staleRereads' | 'staleServedUnverified'>;

/** This role's counters, all zero: what a node without pubsub discovery reports. */
export function coherenceCounts(): CoherenceCounts {
  return tally('sessionInvalidationsSent', 'sessionInvalidationsReceived', 'staleMarkAll', 'staleRereads', 'staleServedUnverified');
}

export class StoreCoherence {
  private readonly counts = coherenceCounts();
  /** Ids of sessions held here that another node may have changed since. */
  private stale = new Set<string>();
  private readonly unsubscribe: () => void;
  private readonly stallWatch: StallWatch | undefined;

  constructor(private readonly options: StoreCoherenceOptions) {
    const { bus, vault, logger } = options;
    this.unsubscribe = bus.subscribe(SESSION_INVALIDATIONS, {
      invalidate: (ids) => this.invalidated(ids),
      clear: (reason) => this.markAllStale(reason),
    });
    vault.onStored((id) => {
      this.counts.sessionInvalidationsSent++;
      bus.publishInvalidate(SESSION_INVALIDATIONS, id).catch((error: unknown) => logger.warn({ err: error, session: id }, 'could not publish a session invalidation'));
    });
    if (options.stallAfterMs) this.stallWatch = new StallWatch(options.stallAfterMs / 2, (stalledMs) => this.markAllStale('stall', stalledMs));
  }

  get stats(): Readonly<CoherenceCounts> {
    return this.counts;
  }

  /** Whether the copy of `id` held here must be read again from the store before it is served. */
  isStale(id: string): boolean {
    this.stallWatch?.check();
    return this.stale.has(id);
  }

  /** The store was asked for `id` again: what this node holds of it now is current. */
  reread(id: string): void {
    this.counts.staleRereads++;
    this.stale.delete(id);
  }

  /** A stale copy was served because the store could not answer. */
  servedUnverified(): void {
    this.counts.staleServedUnverified++;
  }

  stop(): void {
    this.unsubscribe();
    this.stallWatch?.stop();
  }

  private invalidated(ids: readonly string[]): void {
    const { primaries } = this.options.store;
    for (const id of ids) {
      this.counts.sessionInvalidationsReceived++;
      if (primaries.has(id)) this.stale.add(id);
    }
  }

  private markAllStale(reason: ClearReason | 'stall', stalledMs?: number): void {
    this.counts.staleMarkAll++;
    this.stale = new Set(this.options.store.primaries.ids());
    if (this.stale.size > 0) this.options.logger.info({ reason, sessions: this.stale.size, ...(stalledMs ? { stalledMs: Math.round(stalledMs) } : {}) }, 'every session held here is read again from the store at its next request');
  }
}
