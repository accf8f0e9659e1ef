/**
 * BackupSide: the server role of replication, answering what other nodes ask of this one:
 * store a full copy, apply deltas on top of exactly their base version (else ask for the
 * whole session), keep a copy alive, hand a session to a node that fetches it, drop a
 * copy, take a session over from a node that leaves, choose a new backup for a session
 * whose backup leaves. Two primaries of one session are settled by version, then
 * incarnation.
 */
import { publish } from '../diagnostics.js';
import { applyDelta, sessionFromSnapshot, snapshotOf, type SessionDelta, type SessionSnapshot } from '../session/codec.js';
import type { ReferenceRegistry } from '../session/reference.js';
import type { Backups } from './backups.js';
import type { SessionFinder } from './finder.js';
import type { Mirror } from './mirror.js';
import type { ReplicationMessage } from './protocol.js';
import type { SessionQueue } from './session-queue.js';
import type { SessionStore } from './session-store.js';
import { tally, type Tally } from './stats.js';

/** The node a request came from, as its replication link authenticated it. */
export interface Asker {
  readonly node: string;
  readonly incarnation: string;
}

export interface BackupSideOptions {
  readonly self: { readonly name: string; readonly incarnation: string };
  readonly store: SessionStore;
  readonly backups: Backups;
  readonly mirror: Mirror;
  readonly finder: SessionFinder;
  readonly queue: SessionQueue;
  readonly references: ReferenceRegistry<unknown>;
  /** Whether this node is leaving (handing its sessions over, each in its queue). */
  readonly leaving: () => boolean;
}

type BackupSideCounts = Tally<'conflicts'>;

export class BackupSide {
  private readonly counts: BackupSideCounts = tally('conflicts');

  constructor(private readonly options: BackupSideOptions) {}

  get stats(): Readonly<BackupSideCounts> {
    return this.counts;
  }

  /** Answers one replication request from another node (undefined: no reply is due). */
  answer(message: ReplicationMessage, from: Asker): ReplicationMessage | undefined | Promise<ReplicationMessage | undefined> {
    const { store } = this.options;
    switch (message.t) {
      case 'mirror': {
        const { snapshot } = message;
        if (!this.yieldPrimary(snapshot.meta, from)) return this.conflictReply(message.id, snapshot.meta.id);
        // A full copy older than the one held here comes from a primary that was replaced (a
        // lower epoch), or from a node that took over a staler copy than this one (it lost a
        // release), whatever the epoch it started: the newer state wins. (Whether the primary
        // of this copy is dead yet is not asked: two heirs may not agree on it at the same moment.)
        const held = store.copies.get(snapshot.meta.id);
        const betterHeir = held !== undefined && held.meta.primary !== from.node && held.version > snapshot.meta.version;
        if (held && (newer(held.meta, snapshot.meta) || betterHeir)) {
          this.counts.conflicts++;
          return { t: 'conflict', id: message.id, version: held.version, incarnation: this.options.self.incarnation };
        }
        store.copies.put(sessionFromSnapshot(snapshot, this.options.references));
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
        const copy = store.copies.get(message.session);
        if (copy && message.at > copy.meta.lastAccessAt) {
          copy.meta.lastAccessAt = message.at;
          copy.meta.expiresAt = message.expiresAt;
          store.copies.put(copy);
        }
        return undefined;
      }
      case 'fetch':
        // Leaving: the session may be on its way to its heir; answer once that is settled
        // (then it is no longer held here, and the asker finds it at the heir).
        if (this.options.leaving()) return this.options.queue.settled(message.session).then(() => this.answerFetch(message.id, message.session));
        return this.answerFetch(message.id, message.session);
      case 'release': {
        // Only the primary the copy came from may drop it: a release that crossed a newer
        // primary's full copy on the way leaves that copy alone.
        const copy = store.copies.get(message.session);
        if (copy && copy.meta.primary === from.node) store.copies.delete(message.session);
        return undefined;
      }
      case 'audit':
        return this.answerAudit(message, from);
      case 'handoff':
        return this.acceptHandoff(message.id, message.snapshot, from.node);
      case 'rehome':
        return this.rehome(message.id, message.session, from.node);
      default:
        return undefined;
    }
  }

  /** What the copies held here of the asker's sessions lack, and hold beyond its list. */
  private answerAudit(message: Extract<ReplicationMessage, { t: 'audit' }>, from: Asker): ReplicationMessage {
    const { store } = this.options;
    const listed = new Set<string>();
    const missing: string[] = [];
    for (const [id, epoch, version] of message.sessions) {
      listed.add(id);
      const copy = store.copies.get(id);
      if (!copy || copy.meta.epoch !== epoch || copy.version !== version) missing.push(id);
    }
    const extra: string[] = [];
    if (message.whole) for (const copy of store.copies.values()) if (copy.meta.primary === from.node && !listed.has(copy.id)) extra.push(copy.id);
    return { t: 'audit-ack', id: message.id, missing, extra };
  }

  private answerFetch(id: number, sessionId: string): ReplicationMessage {
    const { store, backups } = this.options;
    const primary = store.primaries.get(sessionId);
    const held = primary ?? store.copies.get(sessionId);
    if (!held || held.isExpired(Date.now())) return { t: 'fetched', id, snapshot: null, role: 'none' };
    const reply: ReplicationMessage = { t: 'fetched', id, snapshot: snapshotOf(held), role: primary ? 'primary' : 'backup' };
    // The asker becomes primary: this node steps down and keeps nothing.
    if (primary) backups.drop(primary);
    return reply;
  }

  /** Applies a delta to the copy held here: the version now held, -1 for "send it all", or a conflict. */
  private receiveDelta(delta: SessionDelta, from: Asker): number | -1 | 'conflict' {
    if (!this.yieldPrimary(delta, from)) return 'conflict';
    const { store } = this.options;
    const copy = store.copies.get(delta.id);
    if (!copy) return -1;
    // A copy from a newer primary is not overwritten by the one it replaced.
    if (copy.meta.epoch > delta.epoch) return 'conflict';
    if (applyDelta(copy, delta) === 'gap') return -1;
    store.copies.put(copy);
    return copy.version;
  }

  /**
   * Another node mirrors a session this node serves as primary: the higher epoch wins (the
   * primary that replaced the other), then the higher version, then the higher incarnation.
   * Returns false when this node keeps it (the sender lost).
   */
  private yieldPrimary(theirs: { readonly id: string; readonly epoch: number; readonly version: number }, from: Asker): boolean {
    const local = this.options.store.primaries.get(theirs.id);
    if (!local) return true;
    this.counts.conflicts++;
    publish('session', () => ({ node: this.options.self.name, session: theirs.id, event: 'conflict', version: local.version }));
    if (newer(local.meta, theirs) || (!newer(theirs, local.meta) && this.options.self.incarnation > from.incarnation)) return false;
    this.options.backups.drop(local);
    return true;
  }

  private conflictReply(id: number, sessionId: string): ReplicationMessage {
    return { t: 'conflict', id, version: this.options.store.primaries.get(sessionId)?.version ?? 0, incarnation: this.options.self.incarnation };
  }

  /** A leaving node hands a session over: this node becomes its primary (its backup is never the leaver). */
  private async acceptHandoff(id: number, snapshot: SessionSnapshot, leaving: string): Promise<ReplicationMessage> {
    const { store, queue, finder } = this.options;
    // Already primary here at this version or newer (fetched by a request while the sender
    // was leaving): what is held here is kept.
    const held = store.primaries.get(snapshot.meta.id);
    if (held && !newer(snapshot.meta, held.meta)) return { t: 'ack', id, version: held.version };
    const session = sessionFromSnapshot(snapshot, this.options.references);
    // In the session's queue: references are rebuilt here, the new primary, before any
    // request can see the session.
    await queue.run(session.id, () => finder.becomePrimary(session, new Set([this.options.self.name, leaving])));
    return { t: 'ack', id, version: session.version };
  }

  /** A backup is leaving: its primary here copies the session to another backup. */
  private async rehome(id: number, sessionId: string, leaving: string): Promise<ReplicationMessage> {
    const { store, backups, queue, mirror } = this.options;
    const session = store.primaries.get(sessionId);
    if (session && session.meta.backup === leaving) {
      backups.assign(session, backups.choose(new Set([this.options.self.name, leaving])));
      await queue.run(session.id, () => mirror.mirrorFull(session, new Set([leaving])));
    }
    return { t: 'ack', id, version: session?.version ?? 0 };
  }
}

/** Whether state `a` of a session is newer than `b`: a later epoch, or the same epoch and a higher version. */
function newer(a: { readonly epoch: number; readonly version: number }, b: { readonly epoch: number; readonly version: number }): boolean {
  return a.epoch > b.epoch || (a.epoch === b.epoch && a.version > b.version);
}
