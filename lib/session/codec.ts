/**
 * Session state on the wire: full snapshots and versioned deltas. A delta carries only the
 * entries that changed since the last mirrored version; the receiver applies it only on top
 * of exactly the version it names as its base.
 */
import type { StoredValue } from './pool.js';
import type { ReferenceRegistry } from './reference.js';
import { SessionObject, type SessionMeta } from './session.js';

export interface SessionSnapshot {
  readonly meta: SessionMeta;
  /** Composite step ids, bottom first. */
  readonly stack: readonly number[];
  /** [poolPath, key, stored value] for every entry. */
  readonly entries: readonly (readonly [string, string, StoredValue])[];
}

export interface SessionDelta {
  readonly id: string;
  readonly base: number;
  readonly version: number;
  /** The primary's epoch: a copy of another epoch takes only a full copy. */
  readonly epoch: number;
  readonly stack: readonly number[];
  readonly set: readonly (readonly [string, string, StoredValue])[];
  readonly delete: readonly (readonly [string, string])[];
  readonly meta: { readonly primary: string; readonly backup: string | undefined; readonly lastAccessAt: number; readonly expiresAt: number | null };
}

export function snapshotOf(session: SessionObject): SessionSnapshot {
  const entries: [string, string, StoredValue][] = [];
  for (const pool of session.pools()) for (const [key, value] of pool.entries()) entries.push([pool.path, key, value]);
  return { meta: { ...session.meta }, stack: session.stack, entries };
}

/** A session rebuilt from a snapshot: stored forms only, references not yet rebuilt. */
export function sessionFromSnapshot(snapshot: SessionSnapshot, references: ReferenceRegistry<unknown>): SessionObject {
  const session = new SessionObject({ ...snapshot.meta }, references);
  session.setStack(snapshot.stack);
  for (const [path, key, value] of snapshot.entries) session.poolAt(path)?.applySet(key, value);
  session.markMirrored();
  return session;
}

/**
 * The changes since the last mirrored version, as a delta to version + 1; undefined when
 * nothing changed. Does not mark anything mirrored: call `session.markMirrored()` once the
 * delta is on its way.
 */
export function deltaOf(session: SessionObject): SessionDelta | undefined {
  if (!session.maybeChanged) return undefined;
  const set: [string, string, StoredValue][] = [];
  const deleted: [string, string][] = [];
  let any = session.stackChanged;
  for (const pool of session.pools()) {
    if (!pool.dirty) continue;
    const changes = pool.changes();
    for (const [key, value] of changes.set) set.push([pool.path, key, value]);
    for (const key of changes.deleted) deleted.push([pool.path, key]);
    any ||= changes.set.length > 0 || changes.deleted.length > 0;
  }
  if (!any) return undefined;
  const { meta } = session;
  return { id: meta.id, base: meta.version, version: meta.version + 1, epoch: meta.epoch, stack: session.stack, set, delete: deleted, meta: { primary: meta.primary, backup: meta.backup, lastAccessAt: meta.lastAccessAt, expiresAt: meta.expiresAt } };
}

export type ApplyResult = 'applied' | 'gap' | 'stale';

/** Applies a delta to a copy; only on top of exactly its base version. */
export function applyDelta(copy: SessionObject, delta: SessionDelta): ApplyResult {
  if (delta.epoch !== copy.meta.epoch) return 'gap';
  if (delta.version <= copy.meta.version) return 'stale';
  if (delta.base !== copy.meta.version) return 'gap';
  // The stack first: popped steps go, pushed ones start empty, before their entries land.
  copy.setStack(delta.stack);
  for (const [path, key, value] of delta.set) copy.poolAt(path)?.applySet(key, value);
  for (const [path, key] of delta.delete) copy.poolAt(path)?.applyDelete(key);
  copy.meta.version = delta.version;
  copy.meta.primary = delta.meta.primary;
  copy.meta.backup = delta.meta.backup;
  copy.meta.lastAccessAt = delta.meta.lastAccessAt;
  copy.meta.expiresAt = delta.meta.expiresAt;
  copy.markMirrored();
  return 'applied';
}
