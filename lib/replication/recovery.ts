/**
 * Two copies, always: what a node does when the membership changes, whether or not a
 * request comes. A member that died, left or restarted (its memory gone) held copies of
 * sessions whose primary is here: each gets a new backup (eager: now; lazy: at its next
 * commit). A member that died or restarted was the primary of sessions copied here: they
 * are promoted here now, a few at a time between requests. A node that joins, or comes
 * back, takes the copies of sessions that had none.
 */
import type { Member, Membership } from '../membership/membership.js';
import { eachLimited } from '../util/limit.js';
import type { Logger } from '../util/logger.js';
import type { Backups } from './backups.js';
import type { SessionFinder } from './finder.js';
import type { Mirror } from './mirror.js';
import type { Peers } from './peers.js';
import type { SessionQueue } from './session-queue.js';
import type { SessionStore } from './session-store.js';
import { tally, type Tally } from './stats.js';

/**
 * Orphaned copies promoted at a time when their primary dies: each waits on the network
 * (a full copy to its new backup), so requests keep running between them.
 */
const TAKEOVER_CONCURRENCY = 16;

export interface RecoveryOptions {
  readonly membership: Membership;
  readonly store: SessionStore;
  readonly backups: Backups;
  readonly mirror: Mirror;
  readonly finder: SessionFinder;
  readonly queue: SessionQueue;
  readonly peers?: Peers | undefined;
  readonly logger: Logger;
  /** True once the node is leaving: it hands its sessions over instead. */
  readonly closing: () => boolean;
}

type RecoveryCounts = Tally<'orphansPromoted'>;

export class Recovery {
  private readonly counts: RecoveryCounts = tally('orphansPromoted');

  constructor(private readonly options: RecoveryOptions) {
    const { membership } = options;
    membership.on('dead', (member) => this.memberGone(member, 'dead'));
    membership.on('left', (member) => this.memberGone(member, 'left'));
    membership.on('restarted', (member) => this.memberGone(member, 'restarted'));
    // A session that has no backup yet (this node was alone) gets one as soon as a node joins.
    membership.on('joined', () => this.rehomeUnmirrored());
    membership.on('alive', () => this.rehomeUnmirrored());
  }

  get stats(): Readonly<RecoveryCounts> {
    return this.counts;
  }

  /** A member died, left or restarted: its sessions' copies here are promoted, its copies of ours replaced. */
  private memberGone(member: Member, how: 'dead' | 'left' | 'restarted'): void {
    const { peers, store, backups, mirror, queue, closing } = this.options;
    peers?.reset(member.name);
    if (closing()) return;
    // A restarted member is alive and empty: it may hold copies again at once.
    const exclude = how === 'restarted' ? new Set<string>() : new Set([member.name]);
    for (const session of store.primaries.values()) {
      if (session.meta.backup !== member.name) continue;
      backups.lost(session);
      if (mirror.rehome === 'eager') mirror.background(queue.run(session.id, () => mirror.mirrorFull(session, exclude)));
    }
    // One that left handed its own sessions over before its goodbye.
    if (how !== 'left') void this.promoteOrphans(member.name);
  }

  /** Promotes every copy whose primary was `primary`, a few at a time; logs the window. */
  private async promoteOrphans(primary: string): Promise<void> {
    const { store, queue, finder, logger, closing } = this.options;
    const orphans = [...store.copies.values()].filter((copy) => copy.meta.primary === primary);
    if (orphans.length === 0) return;
    const started = performance.now();
    const results = await eachLimited(orphans, TAKEOVER_CONCURRENCY, (copy) =>
      queue.run(copy.id, async () => {
        // A request took it over first, or another node fetched it meanwhile.
        if (closing() || store.copies.get(copy.id) !== copy) return;
        const found = await finder.takeOver(copy);
        if (found.session) this.counts.orphansPromoted++;
      }),
    );
    const failed = results.filter((r) => r.status === 'rejected').length;
    logger.info({ primary, sessions: orphans.length, failed, elapsedMs: Math.round(performance.now() - started) }, 'sessions of a lost primary promoted here');
  }

  /** Sessions with no backup (this node was alone, or their backup died) get one when a node is there. */
  private rehomeUnmirrored(): void {
    const { store, backups, mirror, queue, closing } = this.options;
    if (closing() || mirror.rehome !== 'eager') return;
    for (const id of backups.unmirroredIds()) {
      const session = store.primaries.get(id);
      if (session) mirror.background(queue.run(id, () => (backups.isUnmirrored(id) ? mirror.mirrorFull(session) : Promise.resolve(true))));
    }
  }
}
