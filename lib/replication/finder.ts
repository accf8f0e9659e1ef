/**
 * SessionFinder: the client role of failover. A request names a session this node does not
 * serve (or serves at an older version than the client has seen): find the newest copy,
 * here as backup, on the primary, on the backup, or wherever a multicast locate finds one,
 * and become its primary. Never serves a copy older than what the client has seen, unless
 * no newer one exists anywhere (then the loss is logged: the async loss window).
 *
 * `becomePrimary` is the one sequence by which a session becomes primary here, shared with
 * the hand-off that the backup side accepts.
 */
import { publish } from '../diagnostics.js';
import { TransportError } from '../errors.js';
import type { Membership } from '../membership/membership.js';
import { sessionFromSnapshot, type SessionSnapshot } from '../session/codec.js';
import type { ReferenceRegistry } from '../session/reference.js';
import type { SessionObject } from '../session/session.js';
import type { Logger } from '../util/logger.js';
import type { Backups } from './backups.js';
import type { Locator } from './locator.js';
import type { Mirror } from './mirror.js';
import type { Peers } from './peers.js';
import type { Outcome, RouteHint } from './route-hint.js';
import type { SessionStore } from './session-store.js';
import type { StoreCoherence } from './store-coherence.js';
import { tally, type Tally } from './stats.js';
import type { SessionVault } from './vault.js';

/** What looking for a session found: the session (now primary here), or why there is none. */
export interface Found {
  readonly session?: SessionObject;
  readonly outcome: Outcome;
}

/** A session fetched from another node; `backupAt` names the node if it holds it as backup. */
interface Fetched {
  readonly session: SessionObject;
  readonly backupAt?: string;
}

export interface SessionFinderOptions {
  readonly self: string;
  readonly store: SessionStore;
  readonly backups: Backups;
  readonly mirror: Mirror;
  readonly references: ReferenceRegistry<unknown>;
  readonly referenceContext?: unknown;
  readonly logger: Logger;
  /** All three absent on a standalone node: only what is held here can be found. */
  readonly membership?: Membership | undefined;
  readonly peers?: Peers | undefined;
  readonly locator?: Locator | undefined;
  /** The shared store (`<Store>`): asked only when no node holds the session. */
  readonly vault?: SessionVault | undefined;
  /** With pubsub discovery: which copies held here another node may have changed since. */
  readonly coherence?: StoreCoherence | undefined;
}

type FinderCounts = Tally<'served' | 'takeovers' | 'fetches' | 'locates' | 'restores' | 'expired' | 'lost'>;

export class SessionFinder {
  private readonly counts: FinderCounts = tally('served', 'takeovers', 'fetches', 'locates', 'restores', 'expired', 'lost');

  constructor(private readonly options: SessionFinderOptions) {}

  get stats(): Readonly<FinderCounts> {
    return this.counts;
  }

  /** Finds the session a hint names; the caller holds the session's queue. */
  async open(hint: RouteHint): Promise<Found> {
    const { store, backups, self } = this.options;
    const id = hint.sessionId;
    const seen = hint.version ?? 0;
    const now = Date.now();
    const local = store.primaries.get(id);
    if (local && this.options.coherence?.isStale(id)) return this.reread(local, seen, now);
    if (local && !local.isExpired(now) && local.version >= seen) return this.served(local);
    if (local) {
      // Expired here, or older than what the client has seen: this copy must not be served.
      backups.drop(local);
      if (local.isExpired(now)) return this.expire(local);
    }
    const copy = store.copies.get(id);
    if (copy?.isExpired(now)) {
      store.copies.delete(id);
      return this.expire(copy);
    }
    // Without a hint, our copy knows who was primary when it was last mirrored; a copy at
    // least as new as what the client saw may know of a newer primary than the hint does.
    const primary = hint.primary ?? copy?.meta.primary;
    const candidates = new Set([primary, copy && copy.version >= seen ? copy.meta.primary : undefined]);
    // A live primary may hold newer changes than any copy (async modes): take it from there.
    for (const candidate of candidates) {
      if (candidate === undefined || candidate === self || !this.options.backups.isAlive(candidate)) continue;
      const fetched = await this.fetchFrom(candidate, id);
      if (fetched) return this.promote(fetched.session, 'fetched', candidate, fetched.backupAt);
    }
    // Our copy is the newest the client can have seen when its primary is gone. While that
    // primary lives (it did not give the session: it handed it over, or let it move on), the
    // copy may be a superseded one: look for a newer one first. A client that names no version
    // (express-session's) would otherwise get an old state back.
    const copyPrimaryGone = copy !== undefined && (copy.meta.primary === self || !this.options.backups.isAlive(copy.meta.primary));
    if (copy && copy.version >= seen && copyPrimaryGone) return this.promote(copy, 'took-over', copy.meta.primary);
    // No copy here, an older one than the client saw, or one whose primary lives: look for a newer one elsewhere.
    if (hint.backup && hint.backup !== self && this.options.backups.isAlive(hint.backup)) {
      const fetched = await this.fetchFrom(hint.backup, id);
      if (fetched && fetched.session.version >= Math.max(seen, copy ? copy.version + 1 : 0)) return this.promote(fetched.session, 'fetched', primary, fetched.backupAt);
    }
    const located = await this.locate(id, copy?.version ?? -1);
    if (located.fetched) return this.promote(located.fetched.session, 'fetched', primary, located.fetched.backupAt);
    // No node holds a newer copy than ours (or any): the shared store may.
    const stored = located.expired || store.wasExpired(id) ? undefined : await this.restore(id, now);
    if (stored && stored.version > (copy?.version ?? -1)) return this.promote(stored, 'restored', primary);
    if (copy) {
      // The newest copy left. Beyond what the client saw, what it lacks was in the async loss window.
      if (copy.version < seen) this.options.logger.warn({ session: id, seen, have: copy.version }, 'taking over an older copy than the client saw');
      return this.promote(copy, 'took-over', copy.meta.primary);
    }
    if (located.expired || store.wasExpired(id) || hint.primary === undefined) {
      this.counts.expired++;
      return { outcome: 'expired' };
    }
    this.counts.lost++;
    this.options.logger.warn({ session: id, primary: hint.primary, backup: hint.backup }, 'session lost: no copy anywhere');
    publish('session', () => ({ node: self, session: id, event: 'lost', version: seen }));
    return { outcome: 'lost' };
  }

  /**
   * This node becomes the session's primary: a backup is chosen (`keepBackup` if it is
   * alive, else none of `exclude`), references are rebuilt, the session is stored as primary
   * and copied whole to its backup. The caller holds the session's queue, so no request
   * sees it before its references are rebuilt.
   */
  async becomePrimary(session: SessionObject, exclude: ReadonlySet<string>, keepBackup?: string): Promise<boolean> {
    const { store, backups } = this.options;
    session.meta.primary = this.options.self;
    // A new primary, a new epoch: whatever the node it replaced still holds now loses to it.
    session.meta.epoch++;
    backups.assign(session, keepBackup && backups.isAlive(keepBackup) ? keepBackup : backups.choose(exclude));
    await session.materialize(this.options.referenceContext);
    store.primaries.put(session);
    store.copies.delete(session.id);
    return this.options.mirror.mirrorFull(session, exclude);
  }

  /**
   * A copy held here whose primary is gone (dead, or restarted without its memory): this
   * node becomes its primary now, without waiting for a request, so the session has two
   * copies again. The caller holds the session's queue.
   */
  takeOver(copy: SessionObject): Promise<Found> {
    return this.open({ sessionId: copy.id, primary: copy.meta.primary, backup: this.options.self, version: copy.version });
  }

  private async promote(session: SessionObject, outcome: 'took-over' | 'fetched' | 'restored', previousPrimary: string | undefined, keepBackup?: string): Promise<Found> {
    this.counts[outcome === 'took-over' ? 'takeovers' : outcome === 'fetched' ? 'fetches' : 'restores']++;
    const exclude = new Set([this.options.self, ...(previousPrimary ? [previousPrimary] : [])]);
    await this.becomePrimary(session, exclude, keepBackup);
    this.options.logger.info({ session: session.id, outcome, version: session.version, backup: session.meta.backup }, 'session moved here');
    publish('session', () => ({ node: this.options.self, session: session.id, event: outcome, version: session.version }));
    return { session, outcome };
  }

  /** The shared store's copy of `id`, unless there is none, it has ended, or the store cannot answer. */
  private async restore(id: string, now: number): Promise<SessionObject | undefined> {
    const snapshot = await this.loadStored(id);
    if (!snapshot || snapshot === 'unavailable') return undefined;
    const session = sessionFromSnapshot(snapshot, this.options.references);
    return session.isExpired(now) ? undefined : session;
  }

  /**
   * A copy held here that another node may have changed since (pubsub discovery): the
   * store's copy is served instead, unless it is this one. When the store cannot answer,
   * this copy is served: the best this node knows.
   */
  private async reread(local: SessionObject, seen: number, now: number): Promise<Found> {
    const { backups, coherence, self } = this.options;
    const snapshot = await this.loadStored(local.id);
    if (snapshot === 'unavailable') {
      coherence!.servedUnverified();
      if (local.isExpired(now)) return this.expire(local, true);
      if (local.version < seen) this.options.logger.warn({ session: local.id, seen, have: local.version }, 'the store is down: serving an older copy than the client saw');
      return this.served(local);
    }
    coherence!.reread(local.id);
    const stored = snapshot && sessionFromSnapshot(snapshot, this.options.references);
    // Gone from the store: another node ended it, or it expired there.
    if (!stored || stored.isExpired(now)) return this.expire(local, true);
    // Still the state this node wrote last: nobody else changed it.
    if (stored.version === local.version && stored.meta.primary === self && local.version >= seen) return this.served(local);
    backups.drop(local);
    return this.promote(stored, 'restored', undefined);
  }

  private async loadStored(id: string): Promise<SessionSnapshot | undefined | 'unavailable'> {
    try {
      return await this.options.vault?.load(id);
    } catch (error) {
      if (!(error instanceof TransportError)) throw error;
      this.options.logger.warn({ err: error, session: id }, 'could not load a session from the store');
      return 'unavailable';
    }
  }

  /** Asks the cluster who holds `id` and fetches the newest copy above version `newerThan`. */
  private async locate(id: string, newerThan: number): Promise<{ fetched?: Fetched; expired: boolean }> {
    const { locator, self } = this.options;
    if (!locator) return { expired: false };
    this.counts.locates++;
    const answers = await locator.locate(id);
    const holders = answers.filter((a) => (a.role === 'primary' || a.role === 'backup') && a.node !== self && a.version > newerThan);
    holders.sort((a, b) => b.version - a.version || (a.role === 'primary' ? -1 : 1));
    for (const holder of holders) {
      const fetched = await this.fetchFrom(holder.node, id);
      if (fetched) return { fetched, expired: false };
    }
    return { expired: answers.some((a) => a.role === 'expired') };
  }

  /** The session from `node`, which steps down if it was primary (and stays backup if it was backup). */
  private async fetchFrom(node: string, id: string): Promise<Fetched | undefined> {
    const reply = await this.options.peers?.tryRequest(node, { t: 'fetch', session: id });
    if (reply?.t !== 'fetched' || !reply.snapshot || reply.snapshot.meta.id !== id) return undefined;
    return { session: sessionFromSnapshot(reply.snapshot, this.options.references), ...(reply.role === 'backup' ? { backupAt: node } : {}) };
  }

  /** The primary copy held here, served as it is. */
  private served(local: SessionObject): Found {
    this.counts.served++;
    return { session: local, outcome: 'served' };
  }

  /** `primary`: the session was served here, and stops being. */
  private expire(session: SessionObject, primary = false): Found {
    if (primary) this.options.backups.drop(session);
    this.options.store.bury(session.id);
    this.counts.expired++;
    return { outcome: 'expired' };
  }
}
