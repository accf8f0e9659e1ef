/**
 * "Flush at the next turn, or after N ms": one pending flush at a time, for anything that
 * gathers work to send together (the invalidation bus, the mirror's batches). A caller that
 * is full flushes at once and cancels what is pending.
 */
export class Coalescer {
  private timeout: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;

  constructor(private readonly flush: () => void) {}

  /** Whether a flush is scheduled. */
  get pending(): boolean {
    return this.timeout !== undefined || this.immediate !== undefined;
  }

  /**
   * Schedules a flush in `delayMs`, unless one is pending. A timer cannot wait less than
   * 1 ms, so a shorter delay goes at the next turn (everything of this turn shares it).
   */
  schedule(delayMs = 0): void {
    if (this.pending) return;
    if (delayMs >= 1) this.timeout = setTimeout(this.run, delayMs);
    else this.immediate = setImmediate(this.run);
  }

  /** Drops the pending flush: the caller flushes now. */
  cancel(): void {
    if (this.timeout) clearTimeout(this.timeout);
    if (this.immediate) clearImmediate(this.immediate);
    this.timeout = this.immediate = undefined;
  }

  private readonly run = (): void => {
    this.timeout = this.immediate = undefined;
    this.flush();
  };
}
