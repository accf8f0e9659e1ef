/**
 * The sessions one node holds, as primary and as backup copy, each kept in last-access
 * order: touching a session moves it to the end, so an expiry sweep reads from the front
 * and stops at the first session still alive (O(expired), not O(all)). Expired ids are
 * remembered for a while, so a later request can be told "expired" rather than "lost".
 */
import { LRUCache } from 'lru-cache';
import type { SessionObject } from '../session/session.js';

const TOMBSTONES = 100_000;

/** Sessions checked per sweep beyond the expired front (see AccessOrdered.sweep). */
const SWEEP_BUDGET = 10_000;

class AccessOrdered {
  private readonly map = new Map<string, SessionObject>();
  /** Where the last sweep stopped going round (a Map iterator sees later insertions and skips deletions). */
  private cursor: IterableIterator<SessionObject> | undefined;

  get size(): number {
    return this.map.size;
  }

  get(id: string): SessionObject | undefined {
    return this.map.get(id);
  }

  has(id: string): boolean {
    return this.map.has(id);
  }

  ids(): IterableIterator<string> {
    return this.map.keys();
  }

  /** Stores or refreshes `session` as the most recently accessed. */
  put(session: SessionObject): void {
    this.map.delete(session.id);
    this.map.set(session.id, session);
  }

  delete(id: string): boolean {
    return this.map.delete(id);
  }

  values(): IterableIterator<SessionObject> {
    return this.map.values();
  }

  /**
   * Removes and returns expired sessions. Idle timeouts expire in access order, so the front
   * is read until the first live session. Sessions with an absolute expiry (a cookie's) may
   * end in any order: a cursor goes round the whole map across sweeps, SWEEP_BUDGET sessions
   * at a time, so each sweep costs a bounded amount whatever the number of sessions.
   */
  sweep(now: number): SessionObject[] {
    const expired: SessionObject[] = [];
    for (const session of this.map.values()) {
      if (!session.isExpired(now)) break;
      expired.push(session);
    }
    for (const session of expired) this.map.delete(session.id);
    for (let checked = 0; checked < SWEEP_BUDGET; checked++) {
      this.cursor ??= this.map.values();
      const next = this.cursor.next();
      if (next.done) {
        this.cursor = undefined;
        break;
      }
      if (next.value.isExpired(now)) {
        expired.push(next.value);
        this.map.delete(next.value.id);
      }
    }
    return expired;
  }
}

export class SessionStore {
  readonly primaries = new AccessOrdered();
  readonly copies = new AccessOrdered();
  private readonly tombstones = new LRUCache<string, number>({ max: TOMBSTONES });

  /** What this node holds of `id`. */
  roleOf(id: string): 'primary' | 'backup' | 'expired' | 'none' {
    if (this.primaries.has(id)) return 'primary';
    if (this.copies.has(id)) return 'backup';
    return this.tombstones.has(id) ? 'expired' : 'none';
  }

  versionOf(id: string): number {
    return (this.primaries.get(id) ?? this.copies.get(id))?.version ?? 0;
  }

  bury(id: string): void {
    this.tombstones.set(id, Date.now());
  }

  wasExpired(id: string): boolean {
    return this.tombstones.has(id);
  }

  /** Sweeps both kinds; returns how many expired. */
  sweep(now: number): { primaries: SessionObject[]; copies: SessionObject[] } {
    const primaries = this.primaries.sweep(now);
    const copies = this.copies.sweep(now);
    for (const session of [...primaries, ...copies]) this.bury(session.id);
    return { primaries, copies };
  }
}
