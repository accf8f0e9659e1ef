/**
 * Who backs up which of this node's primary sessions: the one owner of that bookkeeping.
 *
 * Choice: the node pinned in server.xml (`<Node backup="...">`) if it is alive; else a live
 * node on another machine; else any live node. Never a node on this machine while another
 * machine has one. Among equals, the one this node has given the fewest backups, then the
 * least loaded, then by name.
 *
 * Beside the choice it keeps what goes with it: how many backups each peer was given, which
 * primaries have their latest change on no backup ("unmirrored"), and when each backup was
 * last touched. `drop()` is the one way a session stops being a primary here.
 */
import type { Membership } from '../membership/membership.js';
import type { SessionObject } from '../session/session.js';
import type { SessionStore } from './session-store.js';

export interface Candidate {
  readonly name: string;
  readonly machine: string;
  /** Sessions it reported in its last heartbeat. */
  readonly sessions: number;
}

export interface SelectionInput {
  readonly self: { readonly name: string; readonly machine: string; readonly pinnedBackup: string | undefined };
  readonly alive: readonly Candidate[];
  readonly exclude: ReadonlySet<string>;
  /** Backups this node has assigned to each peer (its own, current knowledge). */
  readonly assigned: ReadonlyMap<string, number>;
}

export function chooseBackup(input: SelectionInput): string | undefined {
  const { self, exclude, assigned } = input;
  const usable = input.alive.filter((c) => c.name !== self.name && !exclude.has(c.name));
  if (self.pinnedBackup && usable.some((c) => c.name === self.pinnedBackup)) return self.pinnedBackup;
  const elsewhere = usable.filter((c) => c.machine !== self.machine);
  const pool = elsewhere.length > 0 ? elsewhere : usable;
  let best: Candidate | undefined;
  for (const candidate of pool) {
    if (!best || compare(candidate, best, assigned) < 0) best = candidate;
  }
  return best?.name;
}

function compare(a: Candidate, b: Candidate, assigned: ReadonlyMap<string, number>): number {
  return (assigned.get(a.name) ?? 0) - (assigned.get(b.name) ?? 0) || a.sessions - b.sessions || a.name.localeCompare(b.name);
}

export interface BackupsOptions {
  readonly self: SelectionInput['self'];
  readonly store: SessionStore;
  /** Absent on a standalone node: no backup is ever chosen. */
  readonly membership?: Membership | undefined;
}

export class Backups {
  private readonly assigned = new Map<string, number>();
  private readonly unmirrored = new Set<string>();
  private readonly lastTouchSent = new Map<string, number>();

  constructor(private readonly options: BackupsOptions) {}

  /** A backup for a session of this node, none of `exclude` (this node never is one). */
  choose(exclude: ReadonlySet<string>): string | undefined {
    const { membership, self } = this.options;
    if (!membership) return undefined;
    const alive = membership.alive().map((m) => ({ name: m.name, machine: m.machine, sessions: m.load.sessions }));
    return chooseBackup({ self, alive, exclude, assigned: this.assigned });
  }

  /** Whether `node` is alive or only suspected (worth copying to, or asking). */
  isAlive(node: string): boolean {
    const state = this.options.membership?.get(node)?.state;
    return state === 'alive' || state === 'suspect';
  }

  /** Makes `backup` the session's backup (or none), keeping the per-peer counts. */
  assign(session: SessionObject, backup: string | undefined): void {
    const previous = session.meta.backup;
    if (previous === backup) return;
    if (previous) this.assigned.set(previous, Math.max(0, (this.assigned.get(previous) ?? 1) - 1));
    if (backup) this.assigned.set(backup, (this.assigned.get(backup) ?? 0) + 1);
    session.meta.backup = backup;
  }

  /** The session's backup died or left: none now, and its next copy must be whole. */
  lost(session: SessionObject): void {
    this.assign(session, undefined);
    this.unmirrored.add(session.id);
  }

  isUnmirrored(id: string): boolean {
    return this.unmirrored.has(id);
  }

  /** The session's latest change is on no backup. Returns false, for "not mirrored". */
  markUnmirrored(session: SessionObject): false {
    this.unmirrored.add(session.id);
    return false;
  }

  /** A backup acknowledged the session's latest change. */
  markMirrored(id: string): void {
    this.unmirrored.delete(id);
  }

  /** Ids of the primaries whose latest change is on no backup. */
  unmirroredIds(): string[] {
    return [...this.unmirrored];
  }

  get unmirroredCount(): number {
    return this.unmirrored.size;
  }

  /** Whether the backup should be touched now (at most once per `everyMs`); records it if so. */
  touchDue(session: SessionObject, now: number, everyMs: number): boolean {
    if (!session.meta.backup || now - (this.lastTouchSent.get(session.id) ?? 0) < everyMs) return false;
    this.lastTouchSent.set(session.id, now);
    return true;
  }

  /** This node no longer serves the session as primary: it leaves the store and the bookkeeping. */
  drop(session: SessionObject): void {
    this.options.store.primaries.delete(session.id);
    this.forget(session);
  }

  /** Drops the bookkeeping of a session already out of the store (expired, handed over). */
  forget(session: SessionObject): void {
    this.assign(session, undefined);
    this.unmirrored.delete(session.id);
    this.lastTouchSent.delete(session.id);
  }
}
