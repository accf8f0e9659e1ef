import type { Clock, Timer } from '../../lib/util/clock.js';

interface Scheduled {
  at: number;
  readonly fn: () => void;
  readonly every: number | undefined;
  cancelled: boolean;
}

/** A clock that moves only when told to; timers fire in time order during `advance`. */
export class FakeClock implements Clock {
  private time = 0;
  private timers: Scheduled[] = [];

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.schedule(fn, ms, undefined);
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.schedule(fn, ms, ms);
  }

  clearTimeout(timer: Timer): void {
    (timer as Scheduled).cancelled = true;
  }

  clearInterval(timer: Timer): void {
    (timer as Scheduled).cancelled = true;
  }

  /** Moves time forward by `ms`, firing due timers and letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      const next = this.timers.reduce<Scheduled | undefined>((a, t) => (t.at <= end && (!a || t.at < a.at) ? t : a), undefined);
      if (!next) break;
      this.time = next.at;
      if (next.every === undefined) next.cancelled = true;
      else next.at += next.every;
      next.fn();
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.time = end;
    await new Promise((resolve) => setImmediate(resolve));
  }

  private schedule(fn: () => void, ms: number, every: number | undefined): Scheduled {
    const timer = { at: this.time + ms, fn, every, cancelled: false };
    this.timers.push(timer);
    return timer;
  }
}
