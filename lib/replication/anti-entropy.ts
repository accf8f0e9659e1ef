/**
 * Anti-entropy between a primary and its backups: now and then (and on demand) the primary
 * lists, for each backup, the sessions it holds there with their (epoch, version); the
 * backup answers with what it does not hold at exactly that state, which the primary then
 * copies whole, and drops the copies of the primary's sessions that the list leaves out
 * (superseded by another backup while the release was lost). Copies that drifted (a lost
 * touch or release, a copy refused under load) are repaired instead of waiting for a
 * failure to find them. Cheap: one small frame per backup per round, and copies only for
 * what differs.
 */
import type { SessionObject } from '../session/session.js';
import type { Logger } from '../util/logger.js';
import { StallWatch } from '../util/stall-watch.js';
import type { Mirror } from './mirror.js';
import type { Peers } from './peers.js';
import { MAX_AUDIT_SESSIONS } from './protocol.js';
import type { SessionQueue } from './session-queue.js';
import type { SessionStore } from './session-store.js';
import { tally, type Tally } from './stats.js';

export interface AntiEntropyOptions {
  readonly store: SessionStore;
  readonly mirror: Mirror;
  readonly queue: SessionQueue;
  readonly peers: Peers;
  readonly logger: Logger;
  /** The other live members: each is audited, also one that backs up nothing of ours (it may hold a superseded copy). */
  readonly members: () => readonly string[];
  /** The request timeout (the heartbeat's deadAfterMs): a stall of half of it fences the node; absent: not watched. */
  readonly stallAfterMs?: number | undefined;
}

/** How often each primary audits the copies its peers hold. */
const AUDIT_EVERY_MS = 10_000;

type AuditCounts = Tally<'audits' | 'auditRepairs' | 'auditReleased'>;

export class AntiEntropy {
  private readonly counts: AuditCounts = tally('audits', 'auditRepairs', 'auditReleased');
  private running: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly stallWatch: StallWatch | undefined;
  #fence: Promise<void> | undefined;

  constructor(private readonly options: AntiEntropyOptions) {
    this.timer = setInterval(() => void this.round(), AUDIT_EVERY_MS).unref();
    // Another node takes a session over once a request to this one has gone unanswered for
    // `stallAfterMs` (the request timeout): a stall of half that already counts, so that a
    // takeover can never fall between two looks.
    if (options.stallAfterMs) this.stallWatch = new StallWatch(options.stallAfterMs / 2, (gapMs) => void this.afterStall(gapMs));
  }

  /** Set while the node checks, after a stall, which of its sessions are still its own: requests wait for it. */
  get fence(): Promise<void> | undefined {
    return this.#fence;
  }

  stop(): void {
    clearInterval(this.timer);
    this.stallWatch?.stop();
  }

  /**
   * After the node stood still for half of `deadAfterMs` or more (SIGSTOP, a long GC), its peers may
   * have declared it dead, or a request may have taken one of its sessions over on the
   * backup (a newer epoch). Before it serves any session again, a round runs: a backup that
   * no longer holds a session's copy (it took the session over) makes this node copy it
   * whole, which the newer primary refuses, and this node gives the session up. Requests
   * wait for that, bounded by the replication request timeout, never for more.
   */
  afterStall(stalledMs: number): Promise<void> {
    if (!this.#fence) {
      this.options.logger.warn({ stalledMs: Math.round(stalledMs) }, 'this node stalled: checking with its backups which sessions it still serves');
      this.#fence = this.round().finally(() => (this.#fence = undefined));
    }
    return this.#fence;
  }

  /** Rounds run, copies repaired (sent whole again) and superseded copies dropped at backups. */
  get stats(): Readonly<AuditCounts> {
    return this.counts;
  }

  /** One round over every backup; a round already running is joined, not doubled. */
  round(): Promise<void> {
    this.running ??= this.audit()
      .catch((error: unknown) => this.options.logger.warn({ err: error }, 'anti-entropy round failed'))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async audit(): Promise<void> {
    const byBackup = new Map<string, SessionObject[]>(this.options.members().map((name) => [name, []]));
    const now = Date.now();
    for (const session of this.options.store.primaries.values()) {
      const backup = session.meta.backup;
      if (!backup || session.isExpired(now)) continue;
      const list = byBackup.get(backup) ?? [];
      list.push(session);
      byBackup.set(backup, list);
    }
    this.counts.audits++;
    await Promise.all([...byBackup].map(([backup, sessions]) => this.auditBackup(backup, sessions)));
  }

  private async auditBackup(backup: string, sessions: SessionObject[]): Promise<void> {
    const { peers, mirror, queue, store, logger } = this.options;
    // A list too long for one frame is audited in parts; a part cannot say what is left out,
    // so only a whole list finds superseded copies.
    // An empty list is sent too: the peer may hold copies that are no longer its.
    for (let start = 0; start === 0 || start < sessions.length; start += MAX_AUDIT_SESSIONS) {
      const part = sessions.slice(start, start + MAX_AUDIT_SESSIONS);
      const whole = sessions.length <= MAX_AUDIT_SESSIONS;
      const reply = await peers.tryRequest(backup, { t: 'audit', whole, sessions: part.map((s) => [s.id, s.meta.epoch, s.version]) });
      if (reply?.t !== 'audit-ack') return;
      for (const id of reply.extra) {
        // Backed up elsewhere now, or no longer here at all: that copy only waits to expire.
        if (store.primaries.get(id)?.meta.backup === backup) continue;
        this.counts.auditReleased++;
        mirror.release(backup, id);
      }
      const byId = new Map(part.map((s) => [s.id, s]));
      for (const id of reply.missing) {
        const session = byId.get(id);
        if (!session) continue;
        // In the session's queue: a commit under way finishes first, and may already have fixed it.
        await queue
          .run(id, async () => {
            if (store.primaries.get(id) !== session || session.meta.backup !== backup) return;
            this.counts.auditRepairs++;
            await mirror.mirrorFull(session);
          })
          .catch((error: unknown) => logger.warn({ err: error, session: id }, 'anti-entropy repair failed'));
      }
    }
  }
}
