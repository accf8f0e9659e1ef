/**
 * What the session roles count, and the figures status and metrics read. Each role owns
 * its own counters (the manager, the finder, the mirror, the backup side);
 * `SessionManager.snapshotStats()` adds them up into one `SessionStats`.
 */
import type { Histogram } from '../metrics/histogram.js';

/** Counters and live figures, as they happen. */
export interface SessionCounters {
  readonly created: number;
  /** New sessions left empty and not kept (`discardEmpty`). */
  readonly discarded: number;
  readonly served: number;
  readonly takeovers: number;
  readonly fetches: number;
  /** Sessions no node held, loaded from the shared store (`<Store>`). */
  readonly restores: number;
  readonly locates: number;
  readonly expired: number;
  readonly lost: number;
  readonly conflicts: number;
  readonly mirrorsSent: number;
  readonly acks: number;
  readonly resyncs: number;
  readonly fullCopies: number;
  readonly touches: number;
  /** Superseded backup copies released (the session got another backup). */
  readonly releases: number;
  /** Copies promoted here because their primary died or restarted, without a request. */
  readonly orphansPromoted: number;
  /** Anti-entropy rounds run; copies sent whole again because a backup's had drifted; superseded copies released. */
  readonly audits: number;
  readonly auditRepairs: number;
  readonly auditReleased: number;
  /** sync commits that no backup holds (accepted and reported, or refused: `<Replication noBackup>`). */
  readonly unmirroredCommits: number;
  /**
   * pubsub discovery (store-coherence.ts): invalidations of a session published after the
   * store took its write, and received from others; times every session held was marked
   * stale (a loss, a member lost, a stall); stale copies read again from the store; stale
   * copies served because the store could not answer.
   */
  readonly sessionInvalidationsSent: number;
  readonly sessionInvalidationsReceived: number;
  readonly staleMarkAll: number;
  readonly staleRereads: number;
  readonly staleServedUnverified: number;
  /** Mirrors sent and not yet acknowledged. */
  readonly inFlight: number;
  readonly lastAckLagMs: number;
}

/** The counters plus what is derived from the sessions held, for status and metrics. */
export interface SessionStats extends SessionCounters {
  readonly primaries: number;
  readonly backups: number;
  /** Primaries whose latest change is on no backup. */
  readonly unmirrored: number;
}

/** Latency histograms, in seconds. */
export interface MirrorLatency {
  /** From sending a mirror request to its answer. */
  readonly ack: Histogram;
  /** sync mode: from a commit to its acknowledgement (what a request waits for). */
  readonly syncCommit: Histogram;
}

/** A role's own counters: named numbers only it increments. */
export type Tally<K extends keyof SessionCounters> = { -readonly [P in K]: number };

export function tally<K extends keyof SessionCounters>(...names: K[]): Tally<K> {
  return Object.fromEntries(names.map((name) => [name, 0])) as Tally<K>;
}
