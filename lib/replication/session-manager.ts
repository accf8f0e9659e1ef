/**
 * SessionManager: the sessions of one node, as primary and as backup; the facade the edges
 * use. It runs requests and composes the roles that do the rest:
 *
 * - the request API: `run(hint, fn)` finds the session (here, or through the SessionFinder:
 *   takeover, fetch or locate), applies `fn` to it with every other operation on that
 *   session queued behind (SessionQueue), then commits through the Mirror (sync: before
 *   `run` resolves; async: at once, unawaited; batched: in groups);
 * - `answer()`: what other nodes ask of this one, through the BackupSide;
 * - reactions to membership (a lost backup is replaced), expiry sweeps, and the graceful
 *   leave (every primary handed over, every copy re-homed).
 *
 * Who backs up which session is the Backups' alone.
 */
import type { Membership } from '../membership/membership.js';
import type { InvalidationBus } from '../messaging/invalidation-bus.js';
import type { ClusterChannel } from '../transport/cluster-channel.js';
import type { ReplicationSettings } from '../config/types.js';
import { ClosedError, InvalidArgumentError, NotMirroredError } from '../errors.js';
import { isSessionId, newSessionId } from '../session/id.js';
import type { ReferenceRegistry } from '../session/reference.js';
import { SessionObject } from '../session/session.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { AntiEntropy } from './anti-entropy.js';
import { Recovery } from './recovery.js';
import { BackupSide, type Asker } from './backup-side.js';
import { handEverythingOver } from './departure.js';
import { Backups } from './backups.js';
import { SessionFinder } from './finder.js';
import { Locator } from './locator.js';
import { Mirror } from './mirror.js';
import type { Peers } from './peers.js';
import type { ReplicationMessage } from './protocol.js';
import { sameRoute, type Outcome, type RouteHint } from './route-hint.js';
import { SessionQueue } from './session-queue.js';
import { SessionStore } from './session-store.js';
import { coherenceCounts, StoreCoherence } from './store-coherence.js';
import { tally, type MirrorLatency, type SessionStats, type Tally } from './stats.js';
import type { SessionVault } from './vault.js';

/** What a request does with its session; `outcome` says how the session was found. */
export type SessionTask<T> = (session: SessionObject, outcome: Outcome) => T | Promise<T>;

export interface RunResult<T> {
  readonly result: T;
  readonly outcome: Outcome;
  readonly session: SessionObject;
  /** The hint for the next request. */
  readonly hint: RouteHint;
  /** False when the change could not be copied to any backup (no other live node). */
  readonly mirrored: boolean;
  /** False when a new session was left empty and, as `discardEmpty` asked, not kept. */
  readonly kept: boolean;
}

export interface RunOptions {
  /**
   * A session created for this call that `fn` leaves empty is not kept: nothing is stored
   * or mirrored, and the client gets no cookie (anonymous requests, crawlers, health checks).
   */
  readonly discardEmpty?: boolean;
}

export interface SessionManagerOptions {
  readonly self: { readonly name: string; readonly incarnation: string; readonly machine: string; readonly pinnedBackup: string | undefined };
  readonly replication: ReplicationSettings;
  readonly timeoutMs: number;
  /**
   * The replication request timeout (the heartbeat's `deadAfterMs`): a stall of this node's
   * event loop of half of it or more (SIGSTOP, a long GC) may have let its peers take its
   * sessions over, so it checks with its backups before serving again. Absent: not watched.
   */
  readonly stallAfterMs?: number | undefined;
  readonly references: ReferenceRegistry<unknown>;
  /** Passed to every `fromRef` (a database handle, say). */
  readonly referenceContext?: unknown;
  /** Absent on a standalone node: sessions then live here only. */
  readonly membership?: Membership | undefined;
  readonly peers?: Peers | undefined;
  /** Where "who holds session S?" is asked and answered (multicast). */
  readonly channel?: ClusterChannel | undefined;
  /** The shared store (`<Store>`): written at every commit, read when no node holds a session. */
  readonly vault?: SessionVault | undefined;
  /**
   * pubsub discovery: there are no backup nodes (no peers, no membership here); sessions are
   * kept coherent through the store and invalidations on this bus (store-coherence.ts).
   */
  readonly bus?: InvalidationBus | undefined;
  readonly logger?: Logger | undefined;
}

type IfMissing = 'new-id' | 'new-id-if-used' | 'same-id' | 'same-id-here' | 'none';
type ManagerCounts = Tally<'created' | 'discarded' | 'served' | 'expired' | 'unmirroredCommits'>;

export class SessionManager {
  private readonly store = new SessionStore();
  private readonly queue = new SessionQueue();
  private readonly backups: Backups;
  private readonly mirror: Mirror;
  private readonly finder: SessionFinder;
  private readonly backupSide: BackupSide;
  private readonly antiEntropy: AntiEntropy | undefined;
  private readonly recovery: Recovery | undefined;
  private readonly coherence: StoreCoherence | undefined;
  private readonly counts: ManagerCounts = tally('created', 'discarded', 'served', 'expired', 'unmirroredCommits');
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly logger: Logger;
  private closing = false;

  constructor(private readonly options: SessionManagerOptions) {
    const logger = (this.logger = options.logger ?? silentLogger);
    const { store, queue } = this;
    const { self, membership, peers, references, referenceContext, channel, vault, bus } = options;
    const locator = channel && membership ? new Locator(channel, membership, store) : undefined;
    const coherence = (this.coherence = bus && vault ? new StoreCoherence({ bus, vault, store, logger, stallAfterMs: options.stallAfterMs }) : undefined);
    this.backups = new Backups({ self, store, membership });
    this.mirror = new Mirror({ self: self.name, replication: options.replication, timeoutMs: options.timeoutMs, store, backups: this.backups, logger, peers, vault });
    this.finder = new SessionFinder({ self: self.name, store, backups: this.backups, mirror: this.mirror, references, referenceContext, logger, membership, peers, locator, vault, coherence });
    this.backupSide = new BackupSide({ self, store, backups: this.backups, mirror: this.mirror, finder: this.finder, queue, references, leaving: () => this.closing });
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, Math.floor(options.timeoutMs / 4))));
    this.sweepTimer.unref();
    if (peers) {
      const members = (): string[] => (membership ? membership.alive().filter((m) => !m.isSelf).map((m) => m.name) : []);
      this.antiEntropy = new AntiEntropy({ store, mirror: this.mirror, queue, peers, logger, members, stallAfterMs: options.stallAfterMs });
    }
    if (membership) this.recovery = new Recovery({ membership, store, backups: this.backups, mirror: this.mirror, finder: this.finder, queue, peers, logger, closing: () => this.closing });
  }

  get self(): string {
    return this.options.self.name;
  }

  /** Mirror ack and sync-commit latency, for metrics. */
  get latency(): MirrorLatency {
    return this.mirror.latency;
  }

  /** Takes reloaded `<Replication>` settings: the next commit uses them. */
  reconfigure(replication: ReplicationSettings): void {
    this.mirror.reconfigure(replication);
  }

  /**
   * Sessions served here as primary: the heartbeat's load figure, what requests come for.
   * (Backup copies cost memory, not requests: counted in, a node on its own machine, which
   * holds the copies of every session of the others, would look busiest and get no new ones.)
   */
  get count(): number {
    return this.store.primaries.size;
  }

  /** The sessions this node serves as primary (expired ones included until the next sweep). */
  primaries(): IterableIterator<SessionObject> {
    return this.store.primaries.values();
  }

  /**
   * Runs `fn` on the session the hint names (or on a new session when there is no hint, or
   * the named one expired or was lost), one call at a time per session, then commits.
   */
  run<T>(hint: RouteHint | undefined, fn: SessionTask<T>, options: RunOptions = {}): Promise<RunResult<T>> {
    return this.runOn(hint, fn, options.discardEmpty ? 'new-id-if-used' : 'new-id') as Promise<RunResult<T>>;
  }

  /** Like `run`, but a session that cannot be found is not replaced: resolves undefined. */
  runExisting<T>(hint: RouteHint, fn: SessionTask<T>): Promise<RunResult<T> | undefined> {
    return this.runOn(hint, fn, 'none');
  }

  /**
   * Like `run`, but a session that cannot be found is created under the hint's id (a store
   * whose ids are chosen elsewhere, such as express-session's). With `searchCluster: false`
   * only this node is looked at: an id held neither as primary nor as backup here is taken
   * as new, with no multicast locate (express-session saves a session it did not load only
   * when the session is new: one it loaded from elsewhere was fetched here by that load).
   */
  runOrCreate<T>(hint: RouteHint, fn: SessionTask<T>, options: { readonly searchCluster?: boolean } = {}): Promise<RunResult<T>> {
    if (!isSessionId(hint.sessionId)) return Promise.reject(new InvalidArgumentError(`"${String(hint.sessionId).slice(0, 80)}" is not a usable session id (22-64 characters of A-Z a-z 0-9 _ -)`));
    return this.runOn(hint, fn, options.searchCluster === false ? 'same-id-here' : 'same-id') as Promise<RunResult<T>>;
  }

  private async runOn<T>(hint: RouteHint | undefined, fn: SessionTask<T>, ifMissing: IfMissing): Promise<RunResult<T> | undefined> {
    if (this.closing) throw new ClosedError('session manager');
    // After a stall, nothing is served until this node knows which sessions are still its own.
    const fence = this.antiEntropy?.fence;
    if (fence) await fence;
    const discardEmpty = ifMissing === 'new-id-if-used';
    if (!hint || !isSessionId(hint.sessionId)) return ifMissing === 'new-id' || discardEmpty ? this.runNew(fn, 'created', discardEmpty) : undefined;
    const served = this.serveIdle(hint);
    if (served) {
      // Nothing else is running on this session and nothing awaits before fn: it runs now.
      this.counts.served++;
      const result = fn(served, 'served');
      if (!(result instanceof Promise) && !served.maybeChanged && !this.backups.isUnmirrored(served.id)) {
        // A read: no version, no mirror; at most a touch for the backup.
        served.meta.lastAccessAt = Date.now();
        this.store.primaries.put(served);
        this.mirror.touch(served);
        return { result, outcome: 'served', session: served, hint: this.hintFor(served), mirrored: true, kept: true };
      }
      if (!(result instanceof Promise)) {
        // A synchronous change: committed at once; only a sync-mode ack is waited for.
        const mirrored = this.mirror.commit(served);
        if (!(mirrored instanceof Promise)) return { result, outcome: 'served', session: served, hint: this.hintFor(served), mirrored: this.acknowledge(served, mirrored), kept: true };
        return this.queue.run(served.id, async () => {
          // The hint after the ack: the commit may have moved the session to another backup.
          const acknowledged = this.acknowledge(served, await mirrored);
          return { result, outcome: 'served' as const, session: served, hint: this.hintFor(served), mirrored: acknowledged, kept: true };
        });
      }
      return this.queue.run(served.id, async () => {
        const value = await result;
        const mirrored = this.acknowledge(served, await this.mirror.commit(served));
        return { result: value, outcome: 'served' as const, session: served, hint: this.hintFor(served), mirrored, kept: true };
      });
    }
    return this.queue.run(hint.sessionId, async () => {
      const id = hint.sessionId;
      const unknownHere = ifMissing === 'same-id-here' && !this.store.primaries.has(id) && !this.store.copies.has(id);
      const found = unknownHere ? { outcome: 'created' as const } : await this.finder.open(hint);
      if (found.session) return this.apply(found.session, found.outcome, fn, false);
      if (ifMissing === 'new-id' || discardEmpty) return this.runNew(fn, found.outcome, discardEmpty);
      // Already in this id's queue: create and apply here rather than queue behind ourselves.
      if (ifMissing === 'same-id' || ifMissing === 'same-id-here') return this.apply(this.create(id), 'created', fn, true);
      return undefined;
    });
  }

  /** Ends a session everywhere it is held. */
  async destroy(hint: RouteHint): Promise<boolean> {
    return this.queue.run(hint.sessionId, async () => {
      const session = this.store.primaries.get(hint.sessionId);
      if (!session) return false;
      const backup = session.meta.backup;
      this.backups.drop(session);
      this.options.vault?.delete(session.id);
      if (backup) await this.options.peers?.trySend(backup, { t: 'release', session: session.id });
      return true;
    });
  }

  /** A primary session or a backup copy, for administration; references are not rebuilt. */
  inspect(id: string): { role: 'primary' | 'backup'; session: SessionObject } | undefined {
    const primary = this.store.primaries.get(id);
    if (primary) return { role: 'primary', session: primary };
    const copy = this.store.copies.get(id);
    return copy ? { role: 'backup', session: copy } : undefined;
  }

  /** The hint for a session this node is about to create (its backup is not chosen yet). */
  hintForNew(sessionId: string): RouteHint {
    return { sessionId, primary: this.self, backup: undefined, primaryIncarnation: this.options.self.incarnation, version: 0 };
  }

  /**
   * Whether a client whose cookie says `known` must be sent `next`, the session's hint now.
   * The route (primary, backup, incarnation) always travels; the version only after a change
   * that no backup took, where it is what keeps another node from serving its older copy.
   * Otherwise the cookie stays as it is, and nothing is signed for a change: in sync mode the
   * backup the cookie names holds every version the client was told of; in async and batched
   * modes a backup asked for the session first fetches it from the primary while that lives
   * (finder.ts), and what a dead primary had not yet copied is the mode's stated loss window.
   */
  clientNeeds(known: RouteHint | undefined, next: RouteHint): boolean {
    if (!sameRoute(known, next)) return true;
    const seen = known!.version ?? 0;
    const now = next.version ?? 0;
    // The client claims a version this node does not hold (it took over an older copy): set it right.
    if (seen > now) return true;
    // Without backups (pubsub discovery) the version is what sends another node's copy back to the store.
    return seen !== now && (this.backups.isUnmirrored(next.sessionId) || this.coherence !== undefined);
  }

  hintFor(session: SessionObject): RouteHint {
    return { sessionId: session.id, primary: session.meta.primary, backup: session.meta.backup, primaryIncarnation: this.options.self.incarnation, version: session.version };
  }

  /**
   * One anti-entropy round now (it also runs every 10 s): each backup says which of this
   * node's sessions it does not hold at their current state, and which copies it holds that
   * are no longer its; the first are copied whole, the others released.
   */
  audit(): Promise<void> {
    return this.closing || !this.antiEntropy ? Promise.resolve() : this.antiEntropy.round();
  }

  /** What the node does after its event loop stood still too long (see AntiEntropy.afterStall). */
  afterStall(stalledMs: number): Promise<void> {
    return this.closing || !this.antiEntropy ? Promise.resolve() : this.antiEntropy.afterStall(stalledMs);
  }

  /** Answers one replication request from another node. */
  answer(message: ReplicationMessage, from: Asker): ReplicationMessage | undefined | Promise<ReplicationMessage | undefined> {
    return this.backupSide.answer(message, from);
  }

  /** The session, when this node serves it, nothing is queued on it, and it is fresh enough. */
  private serveIdle(hint: RouteHint): SessionObject | undefined {
    if (this.queue.busy(hint.sessionId)) return undefined;
    const local = this.store.primaries.get(hint.sessionId);
    if (!local || local.version < (hint.version ?? 0) || local.isExpired(Date.now()) || this.coherence?.isStale(local.id)) return undefined;
    return local;
  }

  private runNew<T>(fn: SessionTask<T>, outcome: Outcome, discardEmpty = false): Promise<RunResult<T>> {
    const session = this.create(newSessionId());
    return this.queue.run(session.id, async () => {
      if (!discardEmpty) return this.apply(session, outcome, fn, true);
      const result = await fn(session, outcome);
      if (session.pools().some((pool) => pool.size > 0)) {
        const mirrored = this.acknowledge(session, await this.mirror.commit(session, true));
        return { result, outcome, session, hint: this.hintFor(session), mirrored, kept: true };
      }
      this.backups.drop(session);
      this.counts.created--;
      this.counts.discarded++;
      return { result, outcome, session, hint: this.hintFor(session), mirrored: false, kept: false };
    });
  }

  /** A new primary session, with a backup chosen (not yet copied there). */
  private create(id: string): SessionObject {
    const now = Date.now();
    const session = new SessionObject(
      { id, version: 0, epoch: 0, primary: this.self, backup: undefined, origin: this.self, createdAt: now, lastAccessAt: now, timeoutMs: this.options.timeoutMs, expiresAt: null },
      this.options.references,
    );
    this.backups.assign(session, this.backups.choose(new Set([this.self])));
    this.counts.created++;
    this.store.primaries.put(session);
    return session;
  }

  /** Runs `fn`, then commits (a new session is copied whole). */
  private async apply<T>(session: SessionObject, outcome: Outcome, fn: SessionTask<T>, isNew: boolean): Promise<RunResult<T>> {
    const result = await fn(session, outcome);
    const mirrored = this.acknowledge(session, await this.mirror.commit(session, isNew));
    return { result, outcome, session, hint: this.hintFor(session), mirrored, kept: true };
  }

  /**
   * A sync commit is acknowledged only as what it is: a change no backup holds (no other
   * node could take it) is counted and reported (`mirrored: false`), or refused with
   * NotMirroredError, as `<Replication noBackup>` says. Without backup nodes the same holds
   * of a write-through store's copy (pubsub discovery); async and batched modes, and
   * standalone nodes without a store, state their loss window instead.
   */
  private acknowledge(session: SessionObject, mirrored: boolean): boolean {
    if (mirrored || !this.mirror.acknowledgesCopies) return mirrored;
    this.counts.unmirroredCommits++;
    if (this.mirror.noBackup === 'refuse') throw new NotMirroredError(session.id);
    return false;
  }

  // ---- expiry, leaving --------------------------------------------------------------------

  private sweep(): void {
    const { primaries, copies } = this.store.sweep(Date.now());
    this.counts.expired += primaries.length + copies.length;
    for (const session of primaries) this.backups.forget(session);
  }

  /**
   * Graceful: each primary session goes to its backup (which becomes primary), each backup
   * copy's primary is asked to choose another backup; then this node can leave.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.sweepTimer);
    this.antiEntropy?.stop();
    this.coherence?.stop();
    this.mirror.flush();
    const { peers } = this.options;
    if (!peers) return;
    await handEverythingOver({ self: this.self, store: this.store, queue: this.queue, backups: this.backups, peers, logger: this.logger });
    peers.close();
  }

  /** Current figures, for status and metrics: every role's counters, added up. */
  snapshotStats(): SessionStats {
    const [manager, finder, mirror] = [this.counts, this.finder.stats, this.mirror.stats];
    return {
      ...mirror,
      ...finder,
      ...(this.coherence?.stats ?? coherenceCounts()),
      created: manager.created,
      discarded: manager.discarded,
      orphansPromoted: this.recovery?.stats.orphansPromoted ?? 0,
      unmirroredCommits: manager.unmirroredCommits,
      audits: this.antiEntropy?.stats.audits ?? 0,
      auditRepairs: this.antiEntropy?.stats.auditRepairs ?? 0,
      auditReleased: this.antiEntropy?.stats.auditReleased ?? 0,
      served: manager.served + finder.served,
      expired: manager.expired + finder.expired,
      conflicts: mirror.conflicts + this.backupSide.stats.conflicts,
      primaries: this.store.primaries.size,
      backups: this.store.copies.size,
      unmirrored: this.backups.unmirroredCount,
    };
  }
}
