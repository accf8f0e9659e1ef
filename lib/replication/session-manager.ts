/**
 * SessionManager: sessions on this node, as primary and as backup, and everything that
 * moves them between nodes.
 *
 * Request path: `run(hint, fn)` finds the session (here, or by takeover, fetch or locate),
 * applies `fn` to it with every other operation on that session queued behind, then
 * commits: the changed entries go to the backup as a versioned delta (sync: before `run`
 * resolves; async: at once, unawaited; batched: in groups).
 *
 * Backup side: `handle()` answers replication requests: apply a copy or a delta on top of
 * exactly its base version (else ask for the full session), answer fetches, accept
 * hand-offs. Conflicting primaries are settled by version, then incarnation.
 */
import type { Member, Membership } from '../membership/membership.js';
import type { NodeEntry, ReplicationSettings } from '../config/types.js';
import { ClosedError, InvalidArgumentError, PeerUnavailableError } from '../errors.js';
import { applyDelta, sessionFromSnapshot, snapshotOf, type SessionDelta } from '../session/codec.js';
import { isSessionId, newSessionId } from '../session/id.js';
import type { ReferenceRegistry } from '../session/reference.js';
import { SessionObject } from '../session/session.js';
import { silentLogger, type Logger } from '../util/logger.js';
import type { Locator } from './locator.js';
import type { PeerPool } from './peers.js';
import type { ReplicationMessage } from './protocol.js';
import { SessionStore } from './session-store.js';
import { Mirror, type MirrorLatency } from './mirror.js';
import { publish } from '../diagnostics.js';
import { eachLimited } from '../util/limit.js';

/** Sessions handed over (or copies re-homed) at a time when a node leaves. */
const HANDOFF_CONCURRENCY = 32;
import { Histogram, LATENCY_BUCKETS_SECONDS } from '../metrics/histogram.js';

/** How a request found its session. */
export type Outcome = 'created' | 'served' | 'took-over' | 'fetched' | 'expired' | 'lost';

/** What the edge keeps for the client (the HTTP issue puts it in a signed cookie). */
export interface RouteHint {
  readonly sessionId: string;
  readonly primary?: string | undefined;
  readonly backup?: string | undefined;
  readonly primaryIncarnation?: string | undefined;
  readonly version?: number | undefined;
}

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

/** A session fetched from another node; `backupAt` names the node if it holds it as backup. */
interface Fetched {
  readonly session: SessionObject;
  readonly backupAt?: string;
}

export interface SessionManagerOptions {
  readonly self: { readonly name: string; readonly incarnation: string; readonly machine: string; readonly pinnedBackup: string | undefined };
  readonly nodes: readonly NodeEntry[];
  readonly replication: ReplicationSettings;
  readonly timeoutMs: number;
  readonly references: ReferenceRegistry<unknown>;
  /** Passed to every `fromRef` (a database handle, say). */
  readonly referenceContext?: unknown;
  /** Absent on a standalone node: sessions then live here only. */
  readonly membership?: Membership;
  readonly peers?: PeerPool;
  readonly locator?: Locator;
  readonly logger?: Logger;
}

/** Counters and live figures kept as they happen. */
export interface SessionCounters {
  created: number;
  /** New sessions left empty and not kept (`discardEmpty`). */
  discarded: number;
  served: number;
  takeovers: number;
  fetches: number;
  locates: number;
  expired: number;
  lost: number;
  conflicts: number;
  mirrorsSent: number;
  acks: number;
  resyncs: number;
  fullCopies: number;
  touches: number;
  /** Mirrors sent and not yet acknowledged. */
  inFlight: number;
  lastAckLagMs: number;
}

/** The counters plus what is derived from the sessions held, for status and metrics. */
export interface SessionStats extends SessionCounters {
  readonly primaries: number;
  readonly backups: number;
  /** Primaries whose latest change is on no backup. */
  readonly unmirrored: number;
}

export class SessionManager {
  readonly store = new SessionStore();
  readonly stats: SessionCounters = {
    created: 0,
    discarded: 0,
    served: 0,
    takeovers: 0,
    fetches: 0,
    locates: 0,
    expired: 0,
    lost: 0,
    conflicts: 0,
    mirrorsSent: 0,
    acks: 0,
    resyncs: 0,
    fullCopies: 0,
    touches: 0,
    inFlight: 0,
    lastAckLagMs: 0,
  };
  /** Mirror ack and sync-commit latency, for metrics. */
  readonly latency: MirrorLatency = { ack: new Histogram(LATENCY_BUCKETS_SECONDS), syncCommit: new Histogram(LATENCY_BUCKETS_SECONDS) };
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly mirror: Mirror;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly logger: Logger;
  private closing = false;

  constructor(private readonly options: SessionManagerOptions) {
    this.logger = options.logger ?? silentLogger;
    this.mirror = new Mirror({ ...options, store: this.store, stats: this.stats, latency: this.latency, logger: this.logger });
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, Math.floor(options.timeoutMs / 4))));
    this.sweepTimer.unref();
    options.membership?.on('dead', (member) => this.memberGone(member));
    options.membership?.on('left', (member) => this.memberGone(member));
    options.membership?.on('restarted', (member) => this.memberGone(member));
    // A session that has no backup yet (this node was alone) gets one as soon as a node joins.
    options.membership?.on('joined', () => this.rehomeUnmirrored());
    options.membership?.on('alive', () => this.rehomeUnmirrored());
  }

  get self(): string {
    return this.options.self.name;
  }

  /** Takes reloaded `<Replication>` settings: the next commit uses them. */
  reconfigure(replication: ReplicationSettings): void {
    this.mirror.flush();
    this.mirror.replication = replication;
  }

  /** Sessions held, as primary and as backup (the heartbeat's load figure). */
  get count(): number {
    return this.store.primaries.size + this.store.copies.size;
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

  private async runOn<T>(hint: RouteHint | undefined, fn: SessionTask<T>, ifMissing: 'new-id' | 'new-id-if-used' | 'same-id' | 'same-id-here' | 'none'): Promise<RunResult<T> | undefined> {
    if (this.closing) throw new ClosedError('session manager');
    const discardEmpty = ifMissing === 'new-id-if-used';
    if (!hint || !isSessionId(hint.sessionId)) return ifMissing === 'new-id' || discardEmpty ? this.runNew(fn, 'created', discardEmpty) : undefined;
    const served = this.serveIdle(hint);
    if (served) {
      // Nothing else is running on this session and nothing awaits before fn: it runs now.
      this.stats.served++;
      const result = fn(served, 'served');
      if (!(result instanceof Promise) && !served.maybeChanged && !this.mirror.unmirrored.has(served.id)) {
        // A read: no version, no mirror; at most a touch for the backup.
        served.meta.lastAccessAt = Date.now();
        this.store.primaries.put(served);
        this.mirror.touch(served);
        return { result, outcome: 'served', session: served, hint: this.hintFor(served), mirrored: true, kept: true };
      }
      if (!(result instanceof Promise)) {
        // A synchronous change: committed at once; only a sync-mode ack is waited for.
        const mirrored = this.mirror.commit(served);
        if (!(mirrored instanceof Promise)) return { result, outcome: 'served', session: served, hint: this.hintFor(served), mirrored, kept: true };
        return this.queued(served.id, async () => ({ result, outcome: 'served' as const, session: served, hint: this.hintFor(served), mirrored: await mirrored, kept: true }));
      }
      return this.queued(served.id, async () => {
        const value = await result;
        const mirrored = await this.mirror.commit(served);
        return { result: value, outcome: 'served' as const, session: served, hint: this.hintFor(served), mirrored, kept: true };
      });
    }
    return this.queued(hint.sessionId, async () => {
      const id = hint.sessionId;
      const unknownHere = ifMissing === 'same-id-here' && !this.store.primaries.has(id) && !this.store.copies.has(id);
      const found = unknownHere ? { outcome: 'created' as const } : await this.open(hint);
      if (found.session) return this.apply(found.session, found.outcome, fn, false);
      if (ifMissing === 'new-id' || discardEmpty) return this.runNew(fn, found.outcome, discardEmpty);
      // Already in this id's queue: create and apply here rather than queue behind ourselves.
      if (ifMissing === 'same-id' || ifMissing === 'same-id-here') return this.apply(this.create(id), 'created', fn, true);
      return undefined;
    });
  }

  /** Ends a session everywhere it is held. */
  async destroy(hint: RouteHint): Promise<boolean> {
    return this.queued(hint.sessionId, async () => {
      const session = this.store.primaries.get(hint.sessionId);
      if (!session) return false;
      const backup = session.meta.backup;
      this.store.primaries.delete(session.id);
      this.mirror.forget(session);
      if (backup) await this.mirror.send(backup, { t: 'release', session: session.id });
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

  hintFor(session: SessionObject): RouteHint {
    return { sessionId: session.id, primary: session.meta.primary, backup: session.meta.backup, primaryIncarnation: this.options.self.incarnation, version: session.version };
  }

  // ---- finding a session -------------------------------------------------------------

  /** The session, when this node serves it, nothing is queued on it, and it is fresh enough. */
  private serveIdle(hint: RouteHint): SessionObject | undefined {
    if (this.queues.has(hint.sessionId)) return undefined;
    const local = this.store.primaries.get(hint.sessionId);
    if (!local || local.version < (hint.version ?? 0) || local.isExpired(Date.now())) return undefined;
    return local;
  }

  private async open(hint: RouteHint): Promise<{ session?: SessionObject; outcome: Outcome }> {
    const id = hint.sessionId;
    const seen = hint.version ?? 0;
    const local = this.store.primaries.get(id);
    if (local && !local.isExpired(Date.now()) && local.version >= seen) {
      this.stats.served++;
      return { session: local, outcome: 'served' };
    }
    if (local) {
      // Expired here, or older than what the client has seen: this copy must not be served.
      this.store.primaries.delete(id);
      this.mirror.forget(local);
      if (local.isExpired(Date.now())) return this.expire(local);
    }
    const copy = this.store.copies.get(id);
    if (copy?.isExpired(Date.now())) {
      this.store.copies.delete(id);
      return this.expire(copy);
    }
    // Without a hint, our copy knows who was primary when it was last mirrored.
    const primary = hint.primary ?? copy?.meta.primary;
    // A live primary may hold newer changes than any copy (async modes): take it from there.
    if (primary !== undefined && primary !== this.self && this.isAlive(primary)) {
      const fetched = await this.fetchFrom(primary, id);
      if (fetched) return this.promote(fetched.session, 'fetched', primary, fetched.backupAt);
    }
    if (copy && copy.version >= seen) return this.promote(copy, 'took-over', copy.meta.primary);
    // No copy here, or an older one than the client saw: look for a newer one elsewhere.
    if (hint.backup && hint.backup !== this.self && this.isAlive(hint.backup)) {
      const fetched = await this.fetchFrom(hint.backup, id);
      if (fetched && fetched.session.version >= Math.max(seen, copy ? copy.version + 1 : 0)) return this.promote(fetched.session, 'fetched', primary, fetched.backupAt);
    }
    const located = await this.locate(id, copy?.version ?? -1);
    if (located.fetched) return this.promote(located.fetched.session, 'fetched', primary, located.fetched.backupAt);
    if (copy) {
      // The newest copy left: what the client saw beyond it was in the async loss window.
      this.logger.warn({ session: id, seen, have: copy.version }, 'taking over an older copy than the client saw');
      return this.promote(copy, 'took-over', copy.meta.primary);
    }
    if (located.expired || this.store.wasExpired(id) || hint.primary === undefined) {
      this.stats.expired++;
      return { outcome: 'expired' };
    }
    this.stats.lost++;
    this.logger.warn({ session: id, primary: hint.primary, backup: hint.backup }, 'session lost: no copy anywhere');
    publish('session', () => ({ node: this.self, session: id, event: 'lost', version: seen }));
    return { outcome: 'lost' };
  }

  /** Asks the cluster who holds `id` and fetches the newest copy above version `newerThan`. */
  private async locate(id: string, newerThan: number): Promise<{ fetched?: Fetched; expired: boolean }> {
    if (!this.options.locator) return { expired: false };
    this.stats.locates++;
    const answers = await this.options.locator.locate(id);
    const holders = answers.filter((a) => (a.role === 'primary' || a.role === 'backup') && a.node !== this.self && a.version > newerThan);
    holders.sort((a, b) => b.version - a.version || (a.role === 'primary' ? -1 : 1));
    for (const holder of holders) {
      const fetched = await this.fetchFrom(holder.node, id);
      if (fetched) return { fetched, expired: false };
    }
    return { expired: answers.some((a) => a.role === 'expired') };
  }

  /** The session from `node`, which steps down if it was primary (and stays backup if it was backup). */
  private async fetchFrom(node: string, id: string): Promise<Fetched | undefined> {
    try {
      const connection = await this.mirror.peer(node);
      const reply = await connection.request({ t: 'fetch', session: id });
      if (reply.t !== 'fetched' || !reply.snapshot || reply.snapshot.meta.id !== id) return undefined;
      return { session: sessionFromSnapshot(reply.snapshot, this.options.references), ...(reply.role === 'backup' ? { backupAt: node } : {}) };
    } catch (error) {
      if (error instanceof PeerUnavailableError) return undefined;
      throw error;
    }
  }

  /** This node becomes primary: rebuild references, choose a backup, copy the session there. */
  private async promote(session: SessionObject, outcome: 'took-over' | 'fetched', previousPrimary: string | undefined, keepBackup?: string): Promise<{ session: SessionObject; outcome: Outcome }> {
    if (outcome === 'took-over') this.stats.takeovers++;
    else this.stats.fetches++;
    session.meta.primary = this.self;
    const exclude = new Set([this.self, ...(previousPrimary ? [previousPrimary] : [])]);
    this.mirror.setBackup(session, keepBackup && this.isAlive(keepBackup) ? keepBackup : this.mirror.pickBackup(exclude));
    await session.materialize(this.options.referenceContext);
    this.store.primaries.put(session);
    this.store.copies.delete(session.id);
    await this.mirror.mirrorFull(session, exclude);
    this.logger.info({ session: session.id, outcome, version: session.version, backup: session.meta.backup }, 'session moved here');
    publish('session', () => ({ node: this.self, session: session.id, event: outcome, version: session.version }));
    return { session, outcome };
  }

  private expire(session: SessionObject): { outcome: Outcome } {
    this.store.buried(session.id);
    this.stats.expired++;
    return { outcome: 'expired' };
  }

  private runNew<T>(fn: SessionTask<T>, outcome: Outcome, discardEmpty = false): Promise<RunResult<T>> {
    const session = this.create(newSessionId());
    return this.queued(session.id, async () => {
      if (!discardEmpty) return this.apply(session, outcome, fn, true);
      const result = await fn(session, outcome);
      if (session.pools().some((pool) => pool.size > 0)) {
        const mirrored = await this.mirror.commit(session, true);
        return { result, outcome, session, hint: this.hintFor(session), mirrored, kept: true };
      }
      this.store.primaries.delete(session.id);
      this.mirror.forget(session);
      this.stats.created--;
      this.stats.discarded++;
      return { result, outcome, session, hint: this.hintFor(session), mirrored: false, kept: false };
    });
  }

  /** A new primary session, with a backup chosen (not yet copied there). */
  private create(id: string): SessionObject {
    const now = Date.now();
    const session = new SessionObject(
      { id, version: 0, primary: this.self, backup: undefined, origin: this.self, createdAt: now, lastAccessAt: now, timeoutMs: this.options.timeoutMs },
      this.options.references,
    );
    this.mirror.setBackup(session, this.mirror.pickBackup(new Set([this.self])));
    this.stats.created++;
    this.store.primaries.put(session);
    return session;
  }

  /** Runs `fn`, then commits (a new session is copied whole). */
  private async apply<T>(session: SessionObject, outcome: Outcome, fn: SessionTask<T>, isNew: boolean): Promise<RunResult<T>> {
    const result = await fn(session, outcome);
    const mirrored = await this.mirror.commit(session, isNew);
    return { result, outcome, session, hint: this.hintFor(session), mirrored, kept: true };
  }

  // ---- the backup side ----------------------------------------------------------------

  /** Answers one replication request from another node. */
  handle(message: ReplicationMessage, from: { node: string; incarnation: string }): ReplicationMessage | undefined | Promise<ReplicationMessage | undefined> {
    switch (message.t) {
      case 'mirror': {
        const { snapshot } = message;
        if (!this.yieldPrimary(snapshot.meta.id, snapshot.meta.version, from)) return this.conflictReply(message.id, snapshot.meta.id);
        this.store.copies.put(sessionFromSnapshot(snapshot, this.options.references));
        return { t: 'ack', id: message.id, version: snapshot.meta.version };
      }
      case 'batch': {
        // A conflict inside a batch asks for the full session, where it is settled.
        const versions = message.deltas.map((delta) => {
          const version = this.receiveDelta(delta, from);
          return version === 'conflict' ? -1 : version;
        });
        return { t: 'batch-ack', id: message.id, versions };
      }
      case 'touch': {
        const copy = this.store.copies.get(message.session);
        if (copy && message.at > copy.meta.lastAccessAt) {
          copy.meta.lastAccessAt = message.at;
          this.store.copies.put(copy);
        }
        return undefined;
      }
      case 'fetch': {
        const primary = this.store.primaries.get(message.session);
        const held = primary ?? this.store.copies.get(message.session);
        if (!held || held.isExpired(Date.now())) return { t: 'fetched', id: message.id, snapshot: null, role: 'none' };
        const reply: ReplicationMessage = { t: 'fetched', id: message.id, snapshot: snapshotOf(held), role: primary ? 'primary' : 'backup' };
        if (primary) {
          // The asker becomes primary: this node steps down and keeps nothing.
          this.store.primaries.delete(primary.id);
          this.mirror.forget(primary);
        }
        return reply;
      }
      case 'release':
        this.store.copies.delete(message.session);
        return undefined;
      case 'handoff':
        return this.acceptHandoff(message.id, message.snapshot, from.node);
      case 'rehome':
        return this.rehome(message.id, message.session, from.node);
      default:
        return undefined;
    }
  }

  /** Applies a delta to the copy held here: the version now held, -1 for "send it all", or a conflict. */
  private receiveDelta(delta: SessionDelta, from: { node: string; incarnation: string }): number | -1 | 'conflict' {
    if (!this.yieldPrimary(delta.id, delta.version, from)) return 'conflict';
    const copy = this.store.copies.get(delta.id);
    if (!copy) return -1;
    const result = applyDelta(copy, delta);
    if (result === 'gap') return -1;
    this.store.copies.put(copy);
    return copy.version;
  }

  /**
   * Another node mirrors a session this node serves as primary: the higher version wins,
   * then the higher incarnation. Returns false when this node keeps it (the sender lost).
   */
  private yieldPrimary(id: string, version: number, from: { incarnation: string }): boolean {
    const local = this.store.primaries.get(id);
    if (!local) return true;
    this.stats.conflicts++;
    publish('session', () => ({ node: this.self, session: id, event: 'conflict', version: local.version }));
    if (local.version > version || (local.version === version && this.options.self.incarnation > from.incarnation)) return false;
    this.store.primaries.delete(id);
    this.mirror.forget(local);
    return true;
  }

  private conflictReply(id: number, sessionId: string): ReplicationMessage {
    return { t: 'conflict', id, version: this.store.primaries.get(sessionId)?.version ?? 0, incarnation: this.options.self.incarnation };
  }

  private async acceptHandoff(id: number, snapshot: Parameters<typeof sessionFromSnapshot>[0], from: string): Promise<ReplicationMessage> {
    // Already primary here at this version or newer (fetched by a request while the sender
    // was leaving): what is held here is kept.
    const held = this.store.primaries.get(snapshot.meta.id);
    if (held && held.version >= snapshot.meta.version) return { t: 'ack', id, version: held.version };
    const session = sessionFromSnapshot(snapshot, this.options.references);
    session.meta.primary = this.self;
    this.mirror.setBackup(session, this.mirror.pickBackup(new Set([this.self, from])));
    this.store.copies.delete(session.id);
    this.store.primaries.put(session);
    // References are rebuilt here, the new primary, before any request can see the session;
    // the copy goes to the new backup now, never to the node that is leaving.
    await this.queued(session.id, async () => {
      await session.materialize(this.options.referenceContext);
      return this.mirror.mirrorFull(session, new Set([from]));
    });
    return { t: 'ack', id, version: session.version };
  }

  private async rehome(id: number, sessionId: string, leaving: string): Promise<ReplicationMessage> {
    const session = this.store.primaries.get(sessionId);
    if (session && session.meta.backup === leaving) {
      this.mirror.setBackup(session, this.mirror.pickBackup(new Set([this.self, leaving])));
      await this.queued(session.id, () => this.mirror.mirrorFull(session, new Set([leaving])));
    }
    return { t: 'ack', id, version: session?.version ?? 0 };
  }

  // ---- membership, expiry, shutdown ---------------------------------------------------

  private memberGone(member: Member): void {
    this.options.peers?.reset(member.name);
    if (this.closing) return;
    for (const session of this.store.primaries.values()) {
      if (session.meta.backup !== member.name) continue;
      this.mirror.setBackup(session, undefined);
      this.mirror.unmirrored.add(session.id);
      // Eager: a full copy to a new backup now. Lazy: at the session's next commit.
      if (this.mirror.replication.rehome === 'eager') this.mirror.background(this.queued(session.id, () => this.mirror.mirrorFull(session, new Set([member.name]))));
    }
  }

  private rehomeUnmirrored(): void {
    if (this.closing || this.mirror.replication.rehome !== 'eager') return;
    for (const id of this.mirror.unmirrored) {
      const session = this.store.primaries.get(id);
      if (session) this.mirror.background(this.queued(id, () => (this.mirror.unmirrored.has(id) ? this.mirror.mirrorFull(session) : Promise.resolve(true))));
    }
  }

  private sweep(): void {
    const { primaries, copies } = this.store.sweep(Date.now());
    this.stats.expired += primaries.length + copies.length;
    for (const session of primaries) this.mirror.forget(session);
  }

  /**
   * Graceful: each primary session goes to its backup (which becomes primary), each backup
   * copy's primary is asked to choose another backup; then this node can leave.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.sweepTimer);
    this.mirror.flush();
    // Bounded, so that a node with many sessions hands them over steadily (and visibly: the
    // counts in its status go down as it goes) instead of opening every request at once.
    const handoff = async (session: SessionObject): Promise<void> => {
      await (this.queues.get(session.id) ?? Promise.resolve()).catch(() => {});
      // Fetched away meanwhile (a request for it went to another node): nothing to hand over.
      if (this.store.primaries.get(session.id) !== session) return;
      const exclude = new Set([this.self]);
      for (let target = session.meta.backup ?? this.mirror.pickBackup(exclude); target; target = this.mirror.pickBackup(exclude)) {
        exclude.add(target);
        try {
          const reply = await (await this.mirror.peer(target)).request({ t: 'handoff', snapshot: snapshotOf(session) });
          if (reply.t === 'ack') {
            this.store.primaries.delete(session.id);
            return;
          }
        } catch (error) {
          if (!(error instanceof PeerUnavailableError)) throw error;
        }
      }
      this.logger.warn({ session: session.id }, 'no node could take this session over');
    };
    const rehome = async (copy: SessionObject): Promise<void> => {
      try {
        await (await this.mirror.peer(copy.meta.primary)).request({ t: 'rehome', session: copy.id });
        // Its primary has copied it to another backup: this copy is no longer needed.
        this.store.copies.delete(copy.id);
      } catch (error) {
        if (!(error instanceof PeerUnavailableError)) throw error;
      }
    };
    await Promise.all([eachLimited([...this.store.primaries.values()], HANDOFF_CONCURRENCY, handoff), eachLimited([...this.store.copies.values()], HANDOFF_CONCURRENCY, rehome)]);
    this.options.peers?.close();
  }

  // ---- helpers --------------------------------------------------------------------------

  /** Runs `task` after every earlier task on the same session. */
  private queued<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(id);
    // An idle session (the common case) starts at once; a busy one waits its turn.
    const next = previous ? previous.then(task, task) : task();
    this.queues.set(id, next);
    const cleanup = (): void => {
      if (this.queues.get(id) === next) this.queues.delete(id);
    };
    next.then(cleanup, cleanup);
    return next;
  }

  private isAlive(node: string): boolean {
    const state = this.options.membership?.get(node)?.state;
    return state === 'alive' || state === 'suspect';
  }

  /** Current figures, for status and metrics. */
  snapshotStats(): SessionStats {
    return { ...this.stats, primaries: this.store.primaries.size, backups: this.store.copies.size, unmirrored: this.mirror.unmirrored.size };
  }
}
