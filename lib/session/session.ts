/**
 * SessionObject: one user's session, as a tree of named pools. A global pool
 * holds a stack of composite steps (each with its own pool and a simple-step pool), an
 * interactive-step pool and an application-step pool. Each pool is a hash table of named
 * values. The session also records its version, its primary and backup, and the node it
 * was created on (its origin), which tells a failed-over session from a timed-out one.
 */
import { SessionStateError } from '../errors.js';
import { Pool } from './pool.js';
import type { ReferenceRegistry } from './reference.js';

export interface CompositeStep {
  /** Unique within the session, so a pop followed by a push is a new step, not the old one. */
  readonly id: number;
  readonly pool: Pool;
  readonly simple: Pool;
}

export interface SessionMeta {
  readonly id: string;
  version: number;
  /**
   * Counts the changes of primary: every takeover, fetch or hand-off starts a new epoch.
   * Two primaries of one session are settled by (epoch, version), then incarnation, so a
   * primary that stalled and resumes always loses to the one that replaced it.
   */
  epoch: number;
  primary: string;
  backup: string | undefined;
  readonly origin: string;
  readonly createdAt: number;
  lastAccessAt: number;
  /** Idle timeout: the session ends this long after its last access, unless `expiresAt` is set. */
  readonly timeoutMs: number;
  /**
   * An absolute end chosen by the application (a session cookie's `Expires`), in epoch ms;
   * when set it replaces the idle timeout. null: the idle timeout applies.
   */
  expiresAt: number | null;
}

export class SessionObject {
  readonly meta: SessionMeta;
  readonly global: Pool;
  readonly interactive: Pool;
  readonly application: Pool;
  private steps: CompositeStep[] = [];
  private nextStepId = 1;
  /** Bumped by every change to the stack; compared with its value at the last mirror. */
  private stackEdits = 0;
  private mirroredStackEdits = 0;

  constructor(
    meta: SessionMeta,
    private readonly references: ReferenceRegistry<unknown>,
  ) {
    this.meta = meta;
    this.global = new Pool('global', references);
    this.interactive = new Pool('interactive', references);
    this.application = new Pool('application', references);
  }

  get id(): string {
    return this.meta.id;
  }

  get version(): number {
    return this.meta.version;
  }

  /** The composite-step stack, bottom first. */
  get composite(): readonly CompositeStep[] {
    return this.steps;
  }

  pushComposite(): CompositeStep {
    const step = this.newStep(this.steps.length, this.nextStepId++);
    this.steps.push(step);
    this.stackEdits++;
    return step;
  }

  popComposite(): CompositeStep {
    const step = this.steps.pop();
    if (!step) throw new SessionStateError(`session ${this.id} has no composite step to pop`);
    this.stackEdits++;
    return step;
  }

  get topComposite(): CompositeStep | undefined {
    return this.steps.at(-1);
  }

  /** Every pool, global first. */
  pools(): Pool[] {
    return [this.global, this.interactive, this.application, ...this.steps.flatMap((s) => [s.pool, s.simple])];
  }

  /** The ids of the composite steps, bottom first. */
  get stack(): number[] {
    return this.steps.map((s) => s.id);
  }

  /** Makes the stack match mirrored step ids: unchanged steps stay, others start empty. */
  setStack(ids: readonly number[]): void {
    this.steps = ids.map((id, depth) => (this.steps[depth]?.id === id ? this.steps[depth]! : this.newStep(depth, id)));
    this.stackEdits++;
    this.nextStepId = Math.max(this.nextStepId, ...ids.map((id) => id + 1));
  }

  /** The pool at `path`, if the stack has it. */
  poolAt(path: string): Pool | undefined {
    switch (path) {
      case 'global':
        return this.global;
      case 'interactive':
        return this.interactive;
      case 'application':
        return this.application;
    }
    const match = /^composite\.(\d{1,4})(\.simple)?$/.exec(path);
    if (!match) return undefined;
    const step = this.steps[Number(match[1])];
    return match[2] ? step?.simple : step?.pool;
  }

  get stackChanged(): boolean {
    return this.stackEdits !== this.mirroredStackEdits;
  }

  /** Cheap: could anything have changed since the last mirror? (The request path asks every time.) */
  get maybeChanged(): boolean {
    if (this.stackChanged || this.global.dirty || this.interactive.dirty || this.application.dirty) return true;
    for (const step of this.steps) if (step.pool.dirty || step.simple.dirty) return true;
    return false;
  }

  markMirrored(): void {
    for (const pool of this.pools()) pool.markMirrored();
    this.mirroredStackEdits = this.stackEdits;
  }

  /** Rebuilds every reference's live object (after a takeover or a fetch). */
  async materialize(context: unknown): Promise<void> {
    await Promise.all(this.pools().map((pool) => pool.materialize(context)));
  }

  private newStep(depth: number, id: number): CompositeStep {
    return { id, pool: new Pool(`composite.${depth}`, this.references), simple: new Pool(`composite.${depth}.simple`, this.references) };
  }

  isExpired(now: number): boolean {
    const { expiresAt } = this.meta;
    return expiresAt !== null ? now >= expiresAt : now - this.meta.lastAccessAt > this.meta.timeoutMs;
  }

  /** How long the session lives from its last access, as things stand (for the pace of touches). */
  get lifetimeMs(): number {
    const { expiresAt } = this.meta;
    return expiresAt !== null ? Math.max(0, expiresAt - this.meta.lastAccessAt) : this.meta.timeoutMs;
  }
}
