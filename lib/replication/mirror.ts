/**
 * The outgoing side of replication: what a primary sends its backups. Commits become
 * deltas in batch frames (a group commit in sync mode, one frame per event-loop turn in
 * async mode, every batchSize changes or batchIntervalMs in batched mode); a backup that
 * cannot apply a delta, or is gone, gets the whole session; touches keep copies alive.
 * Who the backup is, is the Backups' to say.
 */
import type { ReplicationSettings } from '../config/types.js';
import { EncodeError, SessionStateError, SessionTooLargeError } from '../errors.js';
import { Histogram, LATENCY_BUCKETS_SECONDS } from '../metrics/histogram.js';
import { deltaOf, snapshotOf, type SessionDelta } from '../session/codec.js';
import type { SessionObject } from '../session/session.js';
import { Coalescer } from '../util/coalescer.js';
import type { Logger } from '../util/logger.js';
import type { Backups } from './backups.js';
import type { Sendable } from './link.js';
import type { Peers } from './peers.js';
import type { ReplicationMessage } from './protocol.js';
import type { SessionStore } from './session-store.js';
import { tally, type MirrorLatency, type Tally } from './stats.js';
import type { SessionVault } from './vault.js';

type MirrorCounts = Tally<'mirrorsSent' | 'acks' | 'resyncs' | 'fullCopies' | 'touches' | 'inFlight' | 'lastAckLagMs' | 'conflicts' | 'releases'>;

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
  readonly self: string;
  readonly replication: ReplicationSettings;
  readonly timeoutMs: number;
  readonly store: SessionStore;
  readonly backups: Backups;
  readonly logger: Logger;
  /** Absent on a standalone node: commits then only move the version. */
  readonly peers?: Peers | undefined;
  /** The shared store's copy (`<Store>`), written at every commit beside the backup's. */
  readonly vault?: SessionVault | undefined;
}

export class Mirror {
  /** Mirror ack and sync-commit latency, for metrics. */
  readonly latency: MirrorLatency = { ack: new Histogram(LATENCY_BUCKETS_SECONDS), syncCommit: new Histogram(LATENCY_BUCKETS_SECONDS) };
  private readonly counts: MirrorCounts = tally('mirrorsSent', 'acks', 'resyncs', 'fullCopies', 'touches', 'inFlight', 'lastAckLagMs', 'conflicts', 'releases');
  private batch: Pending[] = [];
  /**
   * async and batched modes: backups with a frame of deltas on its way, and what waits for it.
   * One frame in flight per backup, the rest gathered behind it: under load the deltas of many
   * commits share a frame (as sync commits do while they wait for their acks), idle it costs nothing.
   */
  private readonly sending = new Map<string, Pending[]>();
  private readonly batchTimer = new Coalescer(() => this.flush());
  private readonly store: SessionStore;
  private readonly backups: Backups;
  private readonly logger: Logger;
  private replication: ReplicationSettings;

  constructor(private readonly options: MirrorOptions) {
    this.replication = options.replication;
    this.store = options.store;
    this.backups = options.backups;
    this.logger = options.logger;
  }

  /** What this side counted: copies sent and acknowledged, resyncs, touches, conflicts lost. */
  get stats(): Readonly<MirrorCounts> {
    return this.counts;
  }

  get mode(): ReplicationSettings['mode'] {
    return this.replication.mode;
  }

  get noBackup(): ReplicationSettings['noBackup'] {
    return this.replication.noBackup;
  }

  get rehome(): ReplicationSettings['rehome'] {
    return this.replication.rehome;
  }

  /** Takes reloaded `<Replication>` settings: what is batched goes now, the next commit uses them. */
  reconfigure(replication: ReplicationSettings): void {
    this.flush();
    this.replication = replication;
  }

  /**
   * Sends what changed to the backup, as the replication mode says, and to the shared store
   * when there is one (a write-through store is waited for too). Returns false if no backup
   * has it.
   */
  commit(session: SessionObject, forceFull = false): boolean | Promise<boolean> {
    const before = session.version;
    const mirrored = this.copy(session, forceFull);
    const { vault, peers } = this.options;
    if (!vault) return mirrored;
    // Nothing changed (copy() touched it): as mirrored as it was; without backups, the store has it.
    if (session.version === before && !forceFull) return peers ? mirrored : true;
    const stored = vault.write(session);
    // Without backup nodes (pubsub discovery) the store's copy is the other copy.
    if (!peers) return stored ?? false;
    if (!stored) return mirrored;
    return mirrored instanceof Promise ? Promise.all([mirrored, stored]).then(([acknowledged]) => acknowledged) : stored.then(() => mirrored);
  }

  /**
   * Whether a commit's answer says that a second copy holds it: a backup's ack in sync mode,
   * or, without backup nodes, a write-through store's. Otherwise the mode states its loss window.
   */
  get acknowledgesCopies(): boolean {
    const { peers, vault } = this.options;
    return peers ? this.replication.mode === 'sync' : vault?.mode === 'write-through';
  }

  private copy(session: SessionObject, forceFull: boolean): boolean | Promise<boolean> {
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
    const needsFull = forceFull || this.backups.isUnmirrored(session.id);
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
      const histogram = this.latency.syncCommit;
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
    } else this.batch.push({ session, delta: delta!, resolve: ignore, reject: this.logFailure });
    if (mode !== 'batched') this.batchTimer.schedule();
    else if (this.batch.length >= this.replication.batchSize) this.flush();
    else this.batchTimer.schedule(this.replication.batchIntervalMs);
    return acknowledged;
  }

  private readonly logFailure = (error: unknown): void => this.logger.warn({ err: error }, 'mirroring failed');

  /** Lets an unawaited mirror finish on its own; its failure is logged, never thrown. */
  background(mirroring: Promise<boolean>): true {
    mirroring.catch(this.logFailure);
    return true;
  }

  /** Sends every batched delta now. */
  flush(): void {
    this.batchTimer.cancel();
    const byBackup = new Map<string, Pending[]>();
    for (const item of this.batch) {
      const backup = item.session.meta.backup;
      if (!backup) {
        item.resolve(this.backups.markUnmirrored(item.session));
        continue;
      }
      const list = byBackup.get(backup) ?? [];
      list.push(item);
      byBackup.set(backup, list);
    }
    this.batch = [];
    for (const [backup, items] of byBackup) {
      const waiting = this.sending.get(backup);
      if (waiting) waiting.push(...items);
      else if (this.replication.mode === 'sync') this.sendFrames(backup, items);
      else this.sendInTurn(backup, items);
    }
  }

  private sendFrames(backup: string, items: Pending[]): Promise<unknown> {
    const frames: Promise<void>[] = [];
    for (let at = 0; at < items.length; at += MAX_DELTAS_PER_FRAME) frames.push(this.sendBatch(backup, items.slice(at, at + MAX_DELTAS_PER_FRAME)));
    return Promise.all(frames);
  }

  /** Sends `items` to `backup`; what is committed for it meanwhile goes in the next frame, once this one is answered. */
  private sendInTurn(backup: string, items: Pending[]): void {
    const waiting: Pending[] = [];
    this.sending.set(backup, waiting);
    void this.sendFrames(backup, items).finally(() => {
      this.sending.delete(backup);
      if (waiting.length > 0) this.sendInTurn(backup, waiting);
    });
  }

  /** One frame of deltas to one backup; each delta's committer learns its own outcome. */
  private async sendBatch(backup: string, items: Pending[]): Promise<void> {
    let reply: ReplicationMessage | undefined;
    try {
      reply = await this.request(backup, { t: 'batch', deltas: items.map((i) => i.delta) });
    } catch (error) {
      if (error instanceof EncodeError) return this.oversizeBatch(backup, items, error);
      for (const item of items) item.reject(error);
      return;
    }
    const versions = reply?.t === 'batch-ack' && reply.versions.length === items.length ? reply.versions : undefined;
    items.forEach((item, i) => {
      const version = versions?.[i];
      if (version !== undefined && version >= 0) {
        this.counts.acks++;
        this.backups.markMirrored(item.session.id);
        item.resolve(true);
        return;
      }
      // The backup could not apply it (a gap, a conflict) or is gone: the full session follows.
      if (version === -1) this.counts.resyncs++;
      this.mirrorFull(item.session, versions ? new Set() : new Set([backup])).then(item.resolve, item.reject);
    });
  }

  /** A batch over the frame limit goes in halves; a single delta over it is refused. */
  private async oversizeBatch(backup: string, items: Pending[], error: EncodeError): Promise<void> {
    if (items.length === 1) {
      const item = items[0]!;
      this.backups.markUnmirrored(item.session);
      item.reject(new SessionTooLargeError(item.session.id, { cause: error }));
      return;
    }
    const half = Math.ceil(items.length / 2);
    await Promise.all([this.sendBatch(backup, items.slice(0, half)), this.sendBatch(backup, items.slice(half))]);
  }

  /**
   * Copies the whole session to its backup, choosing another backup while one fails.
   * `exclude`: nodes that must not be the backup (they failed, or are leaving).
   */
  async mirrorFull(session: SessionObject, exclude: ReadonlySet<string> = new Set()): Promise<boolean> {
    if (!this.options.peers) return false; // no backup nodes: nothing to copy to, nothing to record
    const failed = new Set(exclude);
    const previous = session.meta.backup;
    for (;;) {
      const backup = session.meta.backup && !failed.has(session.meta.backup) ? session.meta.backup : this.backups.choose(new Set([this.options.self, ...failed]));
      this.backups.assign(session, backup);
      if (!backup) return this.backups.markUnmirrored(session);
      this.counts.fullCopies++;
      let reply: ReplicationMessage | undefined;
      try {
        reply = await this.request(backup, { t: 'mirror', snapshot: snapshotOf(session) });
      } catch (error) {
        if (!(error instanceof EncodeError)) throw error;
        // Too large for any backup: the change is refused, and the session stays unmirrored.
        this.backups.markUnmirrored(session);
        throw new SessionTooLargeError(session.id, { cause: error });
      }
      if (!reply) {
        failed.add(backup);
        continue;
      }
      const mirrored = this.settle(session, reply);
      // The copy the old backup still holds is superseded: it would only expire there, or
      // be taken over as an orphan if this node died.
      if (mirrored && previous && previous !== backup && this.backups.isAlive(previous)) this.release(previous, session.id);
      return mirrored;
    }
  }

  /** Tells `node` it no longer needs its copy of the session. */
  release(node: string, sessionId: string): void {
    this.counts.releases++;
    void this.options.peers?.trySend(node, { t: 'release', session: sessionId });
  }

  private settle(session: SessionObject, reply: ReplicationMessage): boolean {
    if (reply.t === 'ack') {
      this.counts.acks++;
      this.backups.markMirrored(session.id);
      return true;
    }
    if (reply.t === 'conflict') {
      // Another node is primary at a version that wins: this copy must not be served again.
      this.counts.conflicts++;
      this.backups.drop(session);
      this.logger.warn({ session: session.id, theirs: reply.version, ours: session.version }, 'session conflict: another primary wins');
      throw new SessionStateError(`session ${session.id} is now served by another node`);
    }
    return this.backups.markUnmirrored(session);
  }

  /** A copy to a peer, timed; undefined if the peer is unavailable. */
  private async request(node: string, message: Extract<Sendable, { t: 'mirror' | 'batch' }>): Promise<ReplicationMessage | undefined> {
    const started = performance.now();
    this.counts.mirrorsSent++;
    this.counts.inFlight++;
    try {
      const reply = await this.options.peers!.tryRequest(node, message);
      if (reply) {
        const elapsed = performance.now() - started;
        this.counts.lastAckLagMs = Math.round(elapsed * 1000) / 1000;
        this.latency.ack.observe(elapsed / 1000);
      }
      return reply;
    } finally {
      this.counts.inFlight--;
    }
  }

  /**
   * Keeps the backup copy from expiring, and tells it the session's expiry: sent at most
   * every 1/20 of the session's lifetime, so the copy's end is never more than that early.
   */
  touch(session: SessionObject): void {
    this.options.vault?.touch(session);
    if (!this.options.peers || !this.backups.touchDue(session, Date.now(), session.lifetimeMs / 20)) return;
    this.counts.touches++;
    const { lastAccessAt: at, expiresAt } = session.meta;
    void this.options.peers.trySend(session.meta.backup!, { t: 'touch', session: session.id, at, expiresAt });
  }
}
