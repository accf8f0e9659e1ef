/**
 * A pool: one hash table of named session values, with change tracking since the last
 * mirrored version. A value is kept as a logical reference when a registered definition
 * matches it (the live object is kept beside it), or as raw plain data otherwise.
 */
import { Encoder } from 'cbor-x';
import { SessionValueError, SessionStateError } from '../errors.js';
import { plainDataProblem } from './plain-data.js';
import { LogicalRef, type ReferenceRegistry } from './reference.js';

/** What a pool stores for a key: raw plain data, or a LogicalRef. */
export type StoredValue = unknown;

const MAX_KEY_LENGTH = 256;
const encoder = new Encoder({ useRecords: false, mapsAsObjects: true });

export class Pool {
  private readonly stored = new Map<string, StoredValue>();
  /** Live objects of reference entries, present on a primary once materialized. */
  private readonly live = new Map<string, unknown>();
  private readonly changed = new Set<string>();
  private readonly deleted = new Set<string>();

  constructor(
    /** Where this pool sits in its session: "global", "composite.0.simple", ... */
    readonly path: string,
    private readonly references: ReferenceRegistry<unknown>,
  ) {}

  get size(): number {
    return this.stored.size;
  }

  has(key: string): boolean {
    return this.stored.has(key);
  }

  keys(): string[] {
    return [...this.stored.keys()];
  }

  /** The value: raw data as stored, or the live object of a reference. */
  get<T = unknown>(key: string): T | undefined {
    const value = this.stored.get(key);
    if (!(value instanceof LogicalRef)) return value as T | undefined;
    if (!this.live.has(key)) {
      throw new SessionStateError(`"${key}" in pool ${this.path} is a ${value.kind} reference that has not been rebuilt on this node`);
    }
    return this.live.get(key) as T;
  }

  getString(key: string): string | undefined {
    return this.typed(key, 'string');
  }

  getNumber(key: string): number | undefined {
    return this.typed(key, 'number');
  }

  getBoolean(key: string): boolean | undefined {
    return this.typed(key, 'boolean');
  }

  /** The logical reference stored for `key`, if it is one. */
  getRef(key: string): LogicalRef | undefined {
    const value = this.stored.get(key);
    return value instanceof LogicalRef ? value : undefined;
  }

  /**
   * Stores a value. Throws SessionValueError (naming pool and key) for anything that could
   * not be mirrored: it fails here, never later.
   */
  set(key: string, value: unknown): this {
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw new SessionValueError(this.path, String(key), `keys are strings of 1-${MAX_KEY_LENGTH} characters`);
    }
    const ref = this.references.toRef(value);
    if (ref) {
      const problem = plainDataProblem(ref.ref);
      if (problem) throw new SessionValueError(this.path, key, `its ${ref.kind} reference is not plain data: ${problem}`);
      this.stored.set(key, ref);
      this.live.set(key, value);
    } else {
      const problem = plainDataProblem(value);
      if (problem) throw new SessionValueError(this.path, key, problem);
      this.stored.set(key, value);
      this.live.delete(key);
    }
    this.changed.add(key);
    this.deleted.delete(key);
    return this;
  }

  delete(key: string): boolean {
    const existed = this.stored.delete(key);
    this.live.delete(key);
    this.changed.delete(key);
    if (existed) this.deleted.add(key);
    return existed;
  }

  clear(): void {
    for (const key of this.keys()) this.delete(key);
  }

  /**
   * What changed since the last call to `markMirrored`. A live object behind a reference
   * may have changed in place (a page iterator moved on): its reference is computed again
   * and counts as a change when it differs.
   */
  changes(): { set: [string, StoredValue][]; deleted: string[] } {
    for (const [key, object] of this.live) {
      const before = this.stored.get(key) as LogicalRef;
      const after = this.references.toRef(object);
      if (!after) continue;
      if (after.kind !== before.kind || !sameData(after.ref, before.ref)) {
        this.stored.set(key, after);
        this.changed.add(key);
      }
    }
    return { set: [...this.changed].map((key) => [key, this.stored.get(key)]), deleted: [...this.deleted] };
  }

  get dirty(): boolean {
    return this.changed.size > 0 || this.deleted.size > 0 || this.live.size > 0;
  }

  markMirrored(): void {
    // Set#clear allocates a fresh table even when empty: on the hot path, only when needed.
    if (this.changed.size > 0) this.changed.clear();
    if (this.deleted.size > 0) this.deleted.clear();
  }

  entries(): [string, StoredValue][] {
    return [...this.stored];
  }

  /** Applies a mirrored change (backup side): stored form only, nothing is rebuilt. */
  applySet(key: string, value: StoredValue): void {
    this.stored.set(key, value);
    this.live.delete(key);
  }

  applyDelete(key: string): void {
    this.stored.delete(key);
    this.live.delete(key);
  }

  /** Rebuilds the live objects of every reference that has none (after a takeover or fetch). */
  async materialize(context: unknown): Promise<void> {
    const pending = [...this.stored].filter(([key, value]) => value instanceof LogicalRef && !this.live.has(key));
    await Promise.all(
      pending.map(async ([key, value]) => {
        this.live.set(key, await this.references.fromRef(value as LogicalRef, context));
      }),
    );
  }

  private typed<T>(key: string, type: 'string' | 'number' | 'boolean'): T | undefined {
    const value = this.get(key);
    if (value === undefined) return undefined;
    if (typeof value !== type) throw new SessionValueError(this.path, key, `holds a ${typeof value}, not a ${type}`);
    return value as T;
  }
}

function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  return encoder.encode(a).equals(encoder.encode(b));
}
