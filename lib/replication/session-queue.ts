/**
 * Concurrent operations on one session run one at a time, in arrival order: requests,
 * hand-offs, re-homing copies. An idle session (the common case) starts its task at once.
 */
export class SessionQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Whether anything is running or waiting on session `id`. */
  busy(id: string): boolean {
    return this.tails.has(id);
  }

  /** Runs `task` after every earlier task on the same session. */
  run<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(id);
    const next = previous ? previous.then(task, task) : task();
    this.tails.set(id, next);
    const cleanup = (): void => {
      if (this.tails.get(id) === next) this.tails.delete(id);
    };
    next.then(cleanup, cleanup);
    return next;
  }

  /** Resolves once what is queued on `id` now has finished (failures included). */
  async settled(id: string): Promise<void> {
    await (this.tails.get(id) ?? Promise.resolve()).catch(() => {});
  }
}
