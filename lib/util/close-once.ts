/**
 * A close that runs once, however many times and by whomever it is asked for, with signals
 * for those who wait on it: `whenClosing` (the close has begun) and `whenClosed` (it is over,
 * successfully or not).
 */
export class CloseOnce {
  private closing: Promise<void> | undefined;
  private begun!: () => void;
  private ended!: () => void;
  private readonly closingSignal = new Promise<void>((resolve) => (this.begun = resolve));
  private readonly closedSignal = new Promise<void>((resolve) => (this.ended = resolve));

  constructor(private readonly shutdown: () => Promise<void>) {}

  /** Whether the close has begun. */
  get started(): boolean {
    return this.closing !== undefined;
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.begun();
      this.closing = this.shutdown();
      this.closing.then(this.ended, this.ended);
    }
    return this.closing;
  }

  whenClosing(): Promise<void> {
    return this.closingSignal;
  }

  whenClosed(): Promise<void> {
    return this.closedSignal;
  }
}
