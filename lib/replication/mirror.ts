/**
 * The outgoing side of replication: what a primary sends its backups. Commits become
 * deltas in batch frames (a group commit in sync mode, one frame per event-loop turn in
 * async mode, every batchSize changes or batchIntervalMs in batched mode); a backup that
 * cannot apply a delta, or is gone, gets the whole session; touches keep copies alive.
 */
import type { Membership } from '../membership/membership.js';
import type { ReplicationSettings } from '../config/types.js';
import { PeerUnavailableError, SessionStateError } from '../errors.js';
import { deltaOf, snapshotOf, type SessionDelta } from '../session/codec.js';
import type { SessionObject } from '../session/session.js';
import type { Logger } from '../util/logger.js';
import type { Histogram } from '../metrics/histogram.js';
import { chooseBackup } from './backup-selector.js';
import type { Connection } from './link.js';
import type { PeerPool } from './peers.js';
import type { ReplicationMessage } from './protocol.js';
import type { SessionStore } from './session-store.js';
import type { SessionCounters } from './session-manager.js';

const ignore = (): void => {};

/** Deltas per replication frame: a burst of commits is split, never one oversize frame. */
const MAX_DELTAS_PER_FRAME = 1024;

/** A committed delta waiting for its frame; `resolve(true)` once the backup has it. */
interface Pending {
  readonly session: SessionObject;
  readonly delta: SessionDelta;
  readonly resolve: (mirrored: boolean) => void;
  readonly reject: (error: unknown) => void;
}

export interface MirrorOptions {
  readonly self: { readonly name: string; readonly machine: string; readonly pinnedBackup: string | undefined };
  readonly replication: ReplicationSettings;
  readonly timeoutMs: number;
  readonly store: SessionStore;
  readonly stats: SessionCounters;
  readonly latency: MirrorLatency;
  readonly logger: Logger;
  readonly membership?: Membership;
  readonly peers?: PeerPool;
}

/** Latency histograms, in seconds. */
export interface MirrorLatency {
  /** From sending a mirror request to its answer. */
  readonly ack: Histogram;
  /** sync mode: from a commit to its acknowledgement (what a request waits for). */
  readonly syncCommit: Histogram;
}

export class Mirror {
  /** Primary sessions whose latest change is on no backup. */
  readonly unmirrored = new Set<string>();
  /** Backups this node has given each peer, for spreading them. */
  private readonly assigned = new Map<string, number>();
  private readonly lastTouchSent = new Map<string, number>();
  private batch: Pending[] = [];
  private batchTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private readonly store: SessionStore;
  private readonly stats: SessionCounters;
  private readonly logger: Logger;
  /** The mode and batch limits, replaced when the config is reloaded. */
  replication: ReplicationSettings;

  constructor(private readonly options: MirrorOptions) {
    this.replication = options.replication;
    this.store = options.store;
    this.stats = options.stats;
    this.logger = options.logger;
  }

  private get self(): string {
    return this.options.self.name;
  }

  /** Sends what changed to the backup, as the replication mode says. Returns false if no backup has it. */
  commit(session: SessionObject, forceFull = false): boolean | Promise<boolean> {
    session.meta.lastAccessAt = Date.now();
    this.store.primaries.put(session);
    const delta = deltaOf(session);
    if (!this.options.peers) {
      // Standalone: there is no backup to copy to; only the version moves.
      if (delta) session.meta.version = delta.version;
      session.markMirrored();
      return false;
    }
    // A new session, or one whose backup was lost (lazy re-homing), needs a full copy.
    const needsFull = forceFull || this.unmirrored.has(session.id);
    if (!delta && !needsFull) {
      this.touch(session);
      return true;
    }
    if (delta) session.meta.version = delta.version;
    session.markMirrored();
    const mode = this.replication.mode;
    if (needsFull) return mode === 'sync' ? this.mirrorFull(session) : this.background(this.mirrorFull(session));
    // sync: a group commit: every commit of this turn shares one frame, each awaits its ack.
    // async: the same, unawaited (and so returned at once, without a promise).
    // batched: every batchSize changes or batchIntervalMs, whichever comes first.
    let acknowledged: Promise<boolean> | true = true;
    if (mode === 'sync') {
      const started = performance.now();
      const histogram = this.options.latency.syncCommit;
      acknowledged = new Promise<boolean>((resolve, reject) =>
        this.batch.push({
          session,
          delta: delta!,
          resolve: (mirrored) => {
            histogram.observe((performance.now() - started) / 1000);
            resolve(mirrored);
          },
          reject,
        }),
      );
    }
    else this.batch.push({ session, delta: delta!, resolve: ignore, reject: this.logFailure });
    if (mode !== 'batched') this.batchTimer ??= setImmediate(() => this.flush());
    else if (this.batch.length >= this.replication.batchSize) this.flush();
    else this.batchTimer ??= setTimeout(() => this.flush(), this.replication.batchIntervalMs);
    return acknowledged;
  }

  private readonly logFailure = (error: unknown): void => this.logger.warn({ err: error }, 'mirroring failed');

  /** Lets an unawaited mirror finish on its own; its failure is logged, never thrown. */
  background(mirroring: Promise<boolean>): true {
    mirroring.catch((error: unknown) => this.logger.warn({ err: error }, 'mirroring failed'));
    return true;
  }

  flush(): void {
    if (this.batchTimer) {
      clearTimeout(this.batchTimer as NodeJS.Timeout);
      clearImmediate(this.batchTimer as NodeJS.Immediate);
    }
    this.batchTimer = undefined;
    const byBackup = new Map<string, Pending[]>();
    for (const item of this.batch) {
      const backup = item.session.meta.backup;
      if (!backup) {
        item.resolve(this.markUnmirrored(item.session));
        continue;
      }
      const list = byBackup.get(backup) ?? [];
      list.push(item);
      byBackup.set(backup, list);
    }
    this.batch = [];
    for (const [backup, items] of byBackup) {
      for (let at = 0; at < items.length; at += MAX_DELTAS_PER_FRAME) void this.sendBatch(backup, items.slice(at, at + MAX_DELTAS_PER_FRAME));
    }
  }

  /** One frame of deltas to one backup; each delta's committer learns its own outcome. */
  private async sendBatch(backup: string, items: Pending[]): Promise<void> {
    let reply: ReplicationMessage | undefined;
    try {
      reply = await this.request(backup, { t: 'batch', deltas: items.map((i) => i.delta) });
    } catch (error) {
      for (const item of items) item.reject(error);
      return;
    }
    const unavailable = !reply || reply.t !== 'batch-ack' || reply.versions.length !== items.length;
    items.forEach((item, i) => {
      const version = unavailable ? undefined : (reply as Extract<ReplicationMessage, { t: 'batch-ack' }>).versions[i]!;
      if (version !== undefined && version >= 0) {
        this.stats.acks++;
        this.unmirrored.delete(item.session.id);
        item.resolve(true);
        return;
      }
      // The backup could not apply it (a gap, a conflict) or is gone: the full session follows.
      if (version === -1) this.stats.resyncs++;
      this.mirrorFull(item.session, unavailable ? new Set([backup]) : new Set()).then(item.resolve, item.reject);
    });
  }

  /**
   * Copies the whole session to its backup, choosing another backup while one fails.
   * `exclude`: nodes that must not be the backup (they failed, or are leaving).
   */
  async mirrorFull(session: SessionObject, exclude: ReadonlySet<string> = new Set()): Promise<boolean> {
    const failed = new Set(exclude);
    for (;;) {
      const backup = session.meta.backup && !failed.has(session.meta.backup) ? session.meta.backup : this.pickBackup(new Set([this.self, ...failed]));
      this.setBackup(session, backup);
      if (!backup) return this.markUnmirrored(session);
      this.stats.fullCopies++;
      const reply = await this.request(backup, { t: 'mirror', snapshot: snapshotOf(session) });
      if (reply) return this.settle(session, reply);
      failed.add(backup);
    }
  }

  private settle(session: SessionObject, reply: ReplicationMessage): boolean {
    if (reply.t === 'ack') {
      this.stats.acks++;
      this.unmirrored.delete(session.id);
      return true;
    }
    if (reply.t === 'conflict') {
      // Another node is primary at a version that wins: this copy must not be served again.
      this.stats.conflicts++;
      this.store.primaries.delete(session.id);
      this.forget(session);
      this.logger.warn({ session: session.id, theirs: reply.version, ours: session.version }, 'session conflict: another primary wins');
      throw new SessionStateError(`session ${session.id} is now served by another node`);
    }
    return this.markUnmirrored(session);
  }

  markUnmirrored(session: SessionObject): false {
    this.unmirrored.add(session.id);
    return false;
  }

  /** A request to a peer; undefined if the peer is unavailable. */
  private async request(
    node: string,
    message: Omit<Extract<ReplicationMessage, { t: 'mirror' }>, 'id'> | Omit<Extract<ReplicationMessage, { t: 'batch' }>, 'id'>,
  ): Promise<ReplicationMessage | undefined> {
    const started = performance.now();
    this.stats.mirrorsSent++;
    this.stats.inFlight++;
    try {
      // The hot path takes an open, uncongested link without waiting for anything.
      let connection = this.options.peers?.ready(node);
      if (!connection || connection.congested) {
        connection = await this.peer(node);
        await connection.drained();
      }
      const reply = await connection.request(message);
      const elapsed = performance.now() - started;
      this.stats.lastAckLagMs = Math.round(elapsed * 1000) / 1000;
      this.options.latency.ack.observe(elapsed / 1000);
      return reply;
    } catch (error) {
      if (error instanceof PeerUnavailableError) return undefined;
      throw error;
    } finally {
      this.stats.inFlight--;
    }
  }

  /** Keeps the backup copy from expiring; sent at most every 1/20 of the timeout. */
  touch(session: SessionObject): void {
    const backup = session.meta.backup;
    const now = Date.now();
    if (!backup || now - (this.lastTouchSent.get(session.id) ?? 0) < this.options.timeoutMs / 20) return;
    this.lastTouchSent.set(session.id, now);
    this.stats.touches++;
    void this.send(backup, { t: 'touch', session: session.id, at: session.meta.lastAccessAt });
  }

  async send(node: string, message: ReplicationMessage): Promise<void> {
    try {
      (await this.peer(node)).send(message);
    } catch (error) {
      if (!(error instanceof PeerUnavailableError)) throw error;
    }
  }

  peer(node: string): Promise<Connection> {
    if (!this.options.peers) return Promise.reject(new PeerUnavailableError(node, 'this node is standalone'));
    return this.options.peers.get(node);
  }

  pickBackup(exclude: ReadonlySet<string>): string | undefined {
    const membership = this.options.membership;
    if (!membership) return undefined;
    const alive = membership.alive().map((m) => ({ name: m.name, machine: m.machine, sessions: m.load.sessions }));
    return chooseBackup({ self: this.options.self, alive, exclude, assigned: this.assigned });
  }

  setBackup(session: SessionObject, backup: string | undefined): void {
    const previous = session.meta.backup;
    if (previous === backup) return;
    if (previous) this.assigned.set(previous, Math.max(0, (this.assigned.get(previous) ?? 1) - 1));
    if (backup) this.assigned.set(backup, (this.assigned.get(backup) ?? 0) + 1);
    session.meta.backup = backup;
  }

  /** Drops bookkeeping for a session this node no longer serves. */
  forget(session: SessionObject): void {
    this.setBackup(session, undefined);
    this.unmirrored.delete(session.id);
    this.lastTouchSent.delete(session.id);
  }
}
