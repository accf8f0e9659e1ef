/**
 * Watches this process's event loop for stalls (SIGSTOP, a long GC pause, a blocking call):
 * a gap of more than `thresholdMs` between two looks is reported, with its length. It looks
 * on a timer, and whenever `check()` is called: a request path calls it before it serves,
 * since after a stall the requests that waited run before any timer does.
 */
export class StallWatch {
  private last = performance.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly thresholdMs: number,
    private readonly onStall: (stalledMs: number) => void,
  ) {
    this.timer = setInterval(() => this.check(), Math.max(20, Math.floor(thresholdMs / 4))).unref();
  }

  /** Reports a stall now if the loop stood still since the last look. */
  check(): void {
    const now = performance.now();
    const gapMs = now - this.last;
    this.last = now;
    if (gapMs > this.thresholdMs) this.onStall(gapMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
