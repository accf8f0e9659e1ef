/**
 * Duplicate and replay detection per (sender, incarnation): a sliding window over frame
 * sequence numbers, like IPsec's anti-replay window. A sequence number is accepted once;
 * anything older than the window is refused, since it cannot be told apart from a replay.
 */

export const REPLAY_WINDOW = 1024;

class SequenceWindow {
  private highest = 0;
  private readonly seen = new Float64Array(REPLAY_WINDOW);

  /** True the first time `seq` is offered within the window. */
  accept(seq: number): boolean {
    if (seq + REPLAY_WINDOW <= this.highest) return false;
    const slot = seq % REPLAY_WINDOW;
    if (this.seen[slot] === seq) return false;
    this.seen[slot] = seq;
    if (seq > this.highest) this.highest = seq;
    return true;
  }
}

export class ReplayFilter {
  private readonly windows = new Map<string, SequenceWindow>();

  accept(sender: string, incarnation: string, seq: number): boolean {
    const key = `${sender}\u0000${incarnation}`;
    let window = this.windows.get(key);
    if (!window) {
      window = new SequenceWindow();
      this.windows.set(key, window);
    }
    return window.accept(seq);
  }

  /** Forgets an incarnation that has been replaced; its frames are refused elsewhere. */
  forget(sender: string, incarnation: string): void {
    this.windows.delete(`${sender}\u0000${incarnation}`);
  }

  get size(): number {
    return this.windows.size;
  }
}
